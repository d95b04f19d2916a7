"""What a CRL depends on, checked before each one is made — in time that grows with the CA's
revocations, not with all it ever issued.

A CRL must not lose a revocation: the revocations table must be exactly what the CA's audit chain
revoked, and that part of the chain must be the one the CA vouched for. Checked here:

1. no entry is missing (the entries number 1..N without a gap);
2. the chain still holds the newest checkpoint the CA signed, and every entry after it continues
   the chain (sequence, previous hash, own hash);
3. every ``revoke`` entry is intact (its content matches its hash) and still linked: the next
   entry carries its hash — so changing one means rewriting every entry after it, which the signed
   checkpoint no longer matches;
4. the revocations table holds exactly the rows those entries carry.

The full check (:func:`thaisign.ca.integrity.check_store`: every certificate row too) stays the
auditor's (``thaisign platform audit --verify``); the status replicas follow every link anyway.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography import x509
from sqlalchemy import func, select

from thaisign.ca.audit import GENESIS_HASH, StoredEntry, compare_rows, encode_row, stored_hash
from thaisign.ca.store import CertificateStore


def problems_before_crl(store: CertificateStore, ca_certificate: x509.Certificate | None) -> list[str]:
    """Every reason not to make a CRL from ``store`` now (empty: go ahead)."""
    from thaisign.ca.checkpoint import CheckpointError, load_checkpoint
    from thaisign.ca.integrity import _legacy_revocation

    a, cp, rv = store.t.audit, store.t.checkpoints, store.t.revocations
    out: list[str] = []
    cols = [a.c.seq, a.c.time, a.c.action, a.c.serial, a.c.details, a.c.prev_hash, a.c.hash]
    with store.snapshot() as conn:
        count, top = conn.execute(select(func.count(), func.max(a.c.seq)).where(store.own(a))).one()
        if int(count) != int(top or 0):
            out.append(f"audit entries are missing: {count} entries numbered up to {top}")
        start, prev = 0, GENESIS_HASH
        newest = conn.execute(
            select(cp.c.seq, cp.c.der).where(store.own(cp)).order_by(cp.c.seq.desc()).limit(1)
        ).first()
        if newest is not None and ca_certificate is not None:
            stored = conn.execute(select(a.c.hash).where(store.own(a), a.c.seq == int(newest[0]))).scalar()
            try:
                checkpoint = load_checkpoint(
                    bytes(newest[1]), ca_certificate, "the store's newest checkpoint"
                )
            except CheckpointError as exc:
                out.append(exc.message)
            else:
                if stored != checkpoint.head:
                    out.append(
                        f"the audit log no longer holds the {checkpoint.describe()}: it was rewritten or cut"
                    )
                else:
                    start, prev = checkpoint.seq, checkpoint.head
        expected = start + 1
        for e in store.stored_entries(conn, after=start):
            if e.seq != expected or e.prev_hash != prev or stored_hash(e) != e.hash:
                out.append(f"audit entry {e.seq} ({e.action}) does not continue the chain")
                break
            prev, expected = e.hash, e.seq + 1
        revokes = [
            StoredEntry(*r) for r in conn.execute(select(*cols).where(store.own(a), a.c.action == "revoke"))
        ]
        links: dict[int, str] = {}
        seqs = [e.seq + 1 for e in revokes]
        for i in range(0, len(seqs), 1000):
            q = select(a.c.seq, a.c.prev_hash).where(store.own(a), a.c.seq.in_(seqs[i : i + 1000]))
            links.update({int(s): str(p) for s, p in conn.execute(q)})
        derived: dict[str, tuple[int | None, dict[str, Any]]] = {}
        for e in revokes:
            if stored_hash(e) != e.hash or (e.seq != top and links.get(e.seq + 1) != e.hash):
                out.append(f"audit entry {e.seq} (revoke {e.serial}) was changed or unlinked")
                continue
            try:
                details = json.loads(e.details)
            except ValueError:
                continue
            row = details.get("row") if isinstance(details, dict) else None
            derived[str(e.serial)] = (e.seq, row if isinstance(row, dict) else _legacy_revocation(e, details))
        table = {
            str(r["serial"]): encode_row(dict(r))
            for r in conn.execute(select(*store.row_columns(rv)).where(store.own(rv))).mappings()
        }
    out += [d.describe() for d in compare_rows("revocations", derived, table)]
    return out
