"""Is the CA store what thaisign wrote? The tables re-derived from the audit chain, and the chain
held against the CA's signed checkpoints.

:func:`check_store` reads the store in one consistent snapshot and reports every break in the
chain, every certificate, revocation, CRL or CA record that was added, deleted or changed
outside thaisign (:class:`~thaisign.ca.audit.RowDifference`), and whether the chain still holds
the newest checkpoint the CA signed (a log that lost its tail, or was rewritten, does not).

>>> report = check_store(store, ca_certificate=ca_cert, checkpoints=[open("ca.checkpoint.p7m", "rb").read()])
>>> report.ok, report.problems()
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.engine import Connection

from thaisign.ca._records import REVOCATION_REASONS
from thaisign.ca.audit import (
    RowDifference,
    StoredEntry,
    check_chain,
    compare_rows,
    encode_row,
    row_digest,
    row_text_digest,
)
from thaisign.ca.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from thaisign.ca.crl import revoked_entry
from thaisign.ca.store import CertificateStore

__all__ = ["CheckpointCheck", "IntegrityReport", "check_store", "newest_checkpoint"]

# what a layout-1 issue entry logged of its certificate
_LEGACY_ISSUE_FIELDS = ("employee_id", "name_th", "not_after", "sha256", "source")


@dataclass(frozen=True)
class CheckpointCheck:
    """The newest valid checkpoint and whether the chain still holds its entry with its hash."""

    checkpoint: Checkpoint
    source: str
    held: bool
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.checkpoint.to_json(),
            "source": self.source,
            "held": self.held,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class IntegrityReport:
    """What :func:`check_store` found. ``ok`` when there is nothing to report."""

    entries: int
    head: str
    rows: dict[str, int]
    chain_breaks: tuple[str, ...] = ()
    differences: tuple[RowDifference, ...] = ()
    checkpoint: CheckpointCheck | None = None
    other_problems: tuple[str, ...] = ()
    checked_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def ok(self) -> bool:
        held = self.checkpoint is None or self.checkpoint.held
        return held and not (self.chain_breaks or self.differences or self.other_problems)

    def problems(self) -> list[str]:
        """One line per problem, most fundamental first."""
        out = list(self.chain_breaks)
        if self.checkpoint is not None and not self.checkpoint.held and self.checkpoint.problem:
            out.append(self.checkpoint.problem)
        out += list(self.other_problems)
        out += [d.describe() for d in self.differences]
        return out

    def summary(self) -> str:
        rows = ", ".join(f"{n} {t}" for t, n in self.rows.items())
        text = f"{self.entries} audit entries, head {self.head[:16]}…; {rows}"
        if self.checkpoint is not None and self.checkpoint.held:
            text += f"; holds the {self.checkpoint.checkpoint.describe()}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head,
            "rows": self.rows,
            "checked_at": self.checked_at.isoformat(),
            "chain_breaks": list(self.chain_breaks),
            "differences": [
                {"table": d.table, "key": d.key, "kind": d.kind, "fields": list(d.fields), "seq": d.seq}
                for d in self.differences
            ],
            "checkpoint": self.checkpoint.to_json() if self.checkpoint else None,
            "problems": self.problems(),
        }


def newest_checkpoint(
    candidates: Iterable[tuple[str, bytes]], ca_certificate: x509.Certificate
) -> tuple[Checkpoint | None, str | None, list[str]]:
    """The valid checkpoint with the highest entry number among (source, DER) candidates, its
    source, and a line for each candidate that is not a valid checkpoint of this CA."""
    best: Checkpoint | None = None
    best_source: str | None = None
    invalid: list[str] = []
    for source, der in candidates:
        try:
            cp = load_checkpoint(der, ca_certificate, source)
        except CheckpointError as exc:
            invalid.append(exc.message)
            continue
        if best is None or cp.seq > best.seq:
            best, best_source = cp, source
    return best, best_source, invalid


# --- deriving the tables from the chain ---------------------------------------------------------


class _Derived:
    """The rows the chain made, built entry by entry."""

    def __init__(self, ca_key: str = "1") -> None:
        self.ca_key = ca_key  # the key of the CA record in its table
        # serial -> (seq, digest of the full row) or (seq, partial row of a layout-1 issue entry)
        self.certificates: dict[str, tuple[int, str | dict[str, Any]]] = {}
        self.revocations: dict[str, tuple[int | None, dict[str, Any]]] = {}
        self.crls: dict[str, tuple[int | None, dict[str, Any]]] = {}
        self.ca: dict[str, tuple[int | None, dict[str, Any]]] = {}
        self.problems: list[str] = []

    def add(self, e: StoredEntry) -> None:
        action = e.action
        if action not in ("issue", "adopt", "revoke", "crl", "init", "install-cert"):
            return  # upgrade, and actions of later versions that make no row
        if action == "issue" and e.serial is not None:
            digest = row_text_digest(e.details)  # the hot path: no JSON parsing
            if digest is not None:
                self.certificates[e.serial] = (e.seq, digest)
                return
        try:
            details = json.loads(e.details)
        except ValueError:
            return  # the chain check reports the entry
        if not isinstance(details, dict):
            return
        row = details.get("row")
        if action == "issue" and e.serial is not None:
            if isinstance(row, dict):
                self.certificates[e.serial] = (e.seq, row_digest(row))
            else:  # layout 1: a few fields only
                partial = {k: details.get(k) for k in _LEGACY_ISSUE_FIELDS}
                self.certificates[e.serial] = (e.seq, partial)
        elif action == "adopt" and isinstance(row, dict):
            if details.get("table") == "ca":
                self._ca(e, details, row)
            elif details.get("table") == "certificates" and e.serial is not None:
                self._adopt_certificate(e, row)
        elif action == "revoke" and e.serial is not None:
            self.revocations[e.serial] = (
                e.seq,
                row if isinstance(row, dict) else _legacy_revocation(e, details),
            )
        elif action == "crl":
            crl = row if isinstance(row, dict) else _legacy_crl(e, details)
            self.crls[str(crl.get("number"))] = (e.seq, crl)
        elif action in ("init", "install-cert"):
            self._ca(e, details, row)

    def _ca(self, e: StoredEntry, details: dict[str, Any], row: Any) -> None:
        if isinstance(row, dict):
            # the CA record's id is where the store keeps it (1 in a folder; a CA imported into a
            # shared store keeps the entries that recorded it as 1): the row is what counts
            self.ca[self.ca_key] = (e.seq, {k: v for k, v in row.items() if k != "id"})
        else:  # layout 1
            partial = {"name": details.get("name"), "certificate_sha256": details.get("certificate_sha256")}
            self.ca[self.ca_key] = (e.seq, partial)

    def _adopt_certificate(self, e: StoredEntry, row: dict[str, Any]) -> None:
        serial = str(e.serial)
        before = self.certificates.get(serial)
        if before is None:
            self.problems.append(
                f"certificates: row {serial} was in the store at the upgrade (audit entry {e.seq}) "
                "but no audit entry issued it: added outside thaisign"
            )
        elif isinstance(before[1], dict):
            changed = sorted(k for k, v in before[1].items() if row.get(k) != v)
            if changed:
                self.problems.append(
                    f"certificates: row {serial} was changed outside thaisign before the upgrade "
                    f"(audit entry {before[0]} logged other {', '.join(changed)})"
                )
        self.certificates[serial] = (e.seq, row_digest(row))


def _legacy_revocation(e: StoredEntry, details: dict[str, Any]) -> dict[str, Any]:
    reason = str(details.get("reason"))
    revoked_at = dt.datetime.fromisoformat(str(details.get("revoked_at")))
    entry = revoked_entry(int(str(e.serial), 16), revoked_at, REVOCATION_REASONS.get(reason, 0))
    return encode_row({"serial": e.serial, "revoked_at": revoked_at, "reason": reason, "crl_entry": entry})


def _legacy_crl(e: StoredEntry, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": details.get("number"),
        "this_update": dt.datetime.fromisoformat(e.time)
        .astimezone(dt.UTC)
        .replace(microsecond=0)
        .isoformat(),
        "next_update": details.get("next_update"),
        "entries": details.get("entries"),
        "sha256": details.get("sha256"),
    }


# --- comparing with the tables -------------------------------------------------------------------


def _certificate_differences(
    conn: Connection, store: CertificateStore, derived: _Derived
) -> tuple[list[RowDifference], int]:
    expected = derived.certificates
    seen: set[str] = set()
    out: list[RowDifference] = []
    count = 0
    table = store.t.certificates
    q = select(*store.row_columns(table)).where(store.own(table))
    for r in conn.execution_options(yield_per=2000).execute(q).mappings():
        count += 1
        row = encode_row(dict(r))
        serial = str(row["serial"])
        seen.add(serial)
        own_hash = hashlib.sha256(bytes(r["der"])).hexdigest()
        want = expected.get(serial)
        if want is None:
            out.append(RowDifference("certificates", serial, "added"))
            continue
        seq, target = want
        if isinstance(target, dict):  # layout 1: compare what the entry logged
            row_fields = {**row, "sha256": own_hash}
            changed = tuple(sorted(k for k, v in target.items() if row_fields.get(k) != v))
        elif row_digest(row) == target and own_hash == row["sha256"]:
            continue
        else:
            changed = _changed_fields(conn, store, seq, row)
            if own_hash != row["sha256"] and "der" not in changed:
                changed = (*changed, "der")
        if changed:
            out.append(RowDifference("certificates", serial, "changed", changed, seq))
    out += [
        RowDifference("certificates", s, "deleted", seq=seq)
        for s, (seq, _) in expected.items()
        if s not in seen
    ]
    return out, count


def _changed_fields(
    conn: Connection, store: CertificateStore, seq: int, row: dict[str, Any]
) -> tuple[str, ...]:
    """Which fields of ``row`` differ from the row audit entry ``seq`` carries."""
    text = store.entry_details(conn, seq)
    want = json.loads(text).get("row", {}) if text else {}
    return tuple(sorted(k for k in set(want) | set(row) if want.get(k) != row.get(k)))


def _small_table(
    conn: Connection, store: CertificateStore, table: Any, key: str, extra: Any = None
) -> dict[str, dict[str, Any]]:
    out = {}
    for r in conn.execute(select(*store.row_columns(table)).where(store.own(table))).mappings():
        row = encode_row(dict(r))
        if extra is not None:
            row.update(extra(r))
        out[str(row[key])] = row
    return out


def _crl_extra(r: Any) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(bytes(r["der"])).hexdigest()}


def _ca_extra(r: Any) -> dict[str, Any]:
    cert = r["certificate"]
    return {"certificate_sha256": hashlib.sha256(bytes(cert)).hexdigest() if cert is not None else None}


def _normalise_crl_rows(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    for row in rows.values():
        row.pop("der", None)
    return rows


def check_store(
    store: CertificateStore,
    *,
    ca_certificate: x509.Certificate | None = None,
    checkpoints: Sequence[tuple[str, bytes]] = (),
    known_head: tuple[int, str] | None = None,
) -> IntegrityReport:
    """Check the chain, re-derive the tables from it and compare, in one snapshot.

    ``checkpoints`` are (source, DER) candidates besides those kept in the store (e.g. the CA
    folder's ``checkpoint.p7m`` and operators' copies); the newest valid one must be held by the
    chain. ``known_head`` (seq, hash) is a head seen before (a running service's memory): the chain
    must still hold it too.
    """
    derived = _Derived(str(store.ca_id))
    want_hashes: dict[int, str] = {}
    with store.snapshot() as conn:
        stored = [("the store", der) for der in _stored_checkpoints(conn, store)]
        cp, cp_source, invalid = (
            newest_checkpoint([*checkpoints, *stored], ca_certificate) if ca_certificate else (None, None, [])
        )
        probes = {s for s in ((cp.seq if cp else None), (known_head[0] if known_head else None)) if s}

        def entries() -> Iterable[StoredEntry]:
            for e in store.stored_entries(conn):
                if e.seq in probes:
                    want_hashes[e.seq] = e.hash
                derived.add(e)
                yield e

        chain = check_chain(entries())
        cert_diffs, n_certs = _certificate_differences(conn, store, derived)
        t = store.t
        revocations = _small_table(conn, store, t.revocations, "serial")
        crls = _normalise_crl_rows(_small_table(conn, store, t.crls, "number", _crl_extra))
        ca_rows = {
            key: {k: v for k, v in row.items() if k != "id"}
            for key, row in _small_table(conn, store, t.ca, "id", _ca_extra).items()
        }
    differences = [
        *cert_diffs,
        *compare_rows("revocations", derived.revocations, revocations),
        *compare_rows("crls", derived.crls, crls),
        *compare_rows("ca", derived.ca, ca_rows),
    ]
    other = list(derived.problems)
    other += [f"ignored: {line}" for line in invalid]
    check = None
    if cp is not None:
        check = _hold(cp, str(cp_source), chain.entries, want_hashes.get(cp.seq))
    if known_head is not None:
        seq, h = known_head
        if chain.entries < seq:
            other.append(
                f"the audit log holds {chain.entries} entries but this service saw {seq}: "
                "the database was replaced by an older copy or cut short"
            )
        elif want_hashes.get(seq) != h:
            other.append(f"audit entry {seq} is not the one this service saw: the log was rewritten")
    return IntegrityReport(
        entries=chain.entries,
        head=chain.head,
        rows={
            "certificates": n_certs,
            "revocations": len(revocations),
            "crls": len(crls),
        },
        chain_breaks=chain.breaks,
        differences=tuple(sorted(differences, key=lambda d: (d.table, d.kind, d.key))),
        checkpoint=check,
        other_problems=tuple(other),
    )


def _hold(cp: Checkpoint, source: str, entries: int, stored_hash: str | None) -> CheckpointCheck:
    if entries < cp.seq:
        return CheckpointCheck(
            cp,
            source,
            False,
            f"the audit log was cut short: the {cp.describe()} ({source}) vouches for {cp.seq} entries, "
            f"the log holds {entries}",
        )
    if stored_hash != cp.head:
        return CheckpointCheck(
            cp,
            source,
            False,
            f"audit entry {cp.seq} differs from the {cp.describe()} ({source}): the log was rewritten",
        )
    return CheckpointCheck(cp, source, True)


def _stored_checkpoints(conn: Connection, store: CertificateStore) -> list[bytes]:
    from sqlalchemy import inspect

    table = store.t.checkpoints
    if not store.t.scoped and not inspect(conn).has_table(table.name):
        return []
    q = select(table.c.der).where(store.own(table)).order_by(table.c.seq.desc()).limit(1)
    row = conn.execute(q).first()
    return [bytes(row[0])] if row else []
