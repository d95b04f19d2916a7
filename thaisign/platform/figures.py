"""The figures a province or GDCC reports, per agency and in total.

For each agency: officers holding a valid certificate, valid (active) / revoked / expired officer
certificates, valid certificates that end within 30 and 90 days, and signatures made through the
signing services (``thaisign service``) with those certificates — all at one moment ``at``.

>>> figures = compute_figures(platform, at=now)       # or Session.figures()
>>> figures.total.active, [a.slug for a in figures.agencies]

Signatures are counted from each signing service's own audit chain: every ``sign-hash`` and
``sign-doc`` entry, by the certificate of the credential that signed, read once and added to a
tally per CA and day (the chain is followed link by link from where the count last stopped, so a
rewritten service log is noticed rather than counted).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, create_engine, distinct, func, insert, literal, select, update
from sqlalchemy.engine import Engine

from thaisign.ca.audit import GENESIS_HASH, StoredEntry, stored_hash
from thaisign.errors import StoreError
from thaisign.platform import _tables as T

if TYPE_CHECKING:
    from thaisign.platform.config import SigningServiceSource
    from thaisign.platform.core import Platform

SERVICE_SOURCES = ("ocsp-service", "tsa-service")


@dataclass(frozen=True)
class AgencyFigures:
    """One agency's figures (or, with ``slug`` None, the total)."""

    slug: str | None
    name_th: str | None
    name_en: str | None
    officers: int = 0
    active: int = 0
    revoked: int = 0
    expired: int = 0
    expiring_30: int = 0
    expiring_90: int = 0
    signatures: int = 0
    signatures_30_days: int = 0

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_COUNTS = (
    "officers",
    "active",
    "revoked",
    "expired",
    "expiring_30",
    "expiring_90",
    "signatures",
    "signatures_30_days",
)


@dataclass(frozen=True)
class Figures:
    at: dt.datetime
    agencies: tuple[AgencyFigures, ...]
    total: AgencyFigures
    signature_sources: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        total = self.total.to_json()
        for k in ("slug", "name_th", "name_en"):
            total.pop(k)
        return {
            "at": self.at.isoformat(),
            "agencies": [a.to_json() for a in self.agencies],
            "total": {"agencies": len(self.agencies), **total},
            "signature_sources": list(self.signature_sources),
            "problems": list(self.problems),
        }


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None)


def compute_figures(
    platform: Platform, *, agency_ids: Sequence[int] | None = None, at: dt.datetime
) -> Figures:
    """The figures at ``at`` for the given agencies (None: every agency)."""
    problems = ingest_signatures(platform)
    now = _naive(at)
    c, r, k = T.CA.certificates, T.CA.revocations, T.ca_keys
    valid = and_(r.c.serial.is_(None), c.c.not_before <= now, c.c.not_after >= now)

    def n(cond: Any) -> Any:
        return func.sum(case((cond, 1), else_=0))

    q = (
        select(
            k.c.agency_id,
            func.count(distinct(case((valid, func.coalesce(c.c.employee_id, c.c.subject)), else_=None))),
            n(valid),
            n(r.c.serial.is_not(None)),
            n(and_(r.c.serial.is_(None), c.c.not_after < now)),
            n(and_(valid, c.c.not_after < now + dt.timedelta(days=30))),
            n(and_(valid, c.c.not_after < now + dt.timedelta(days=90))),
        )
        .select_from(
            c.join(k, k.c.ca_id == c.c.ca_id).outerjoin(
                r, and_(r.c.ca_id == c.c.ca_id, r.c.serial == c.c.serial)
            )
        )
        .where(k.c.agency_id.is_not(None), c.c.source.not_in(SERVICE_SOURCES))
        .group_by(k.c.agency_id)
    )
    t = T.signature_tallies
    since = (at.astimezone(dt.UTC) - dt.timedelta(days=30)).date().isoformat()
    sq = (
        select(
            k.c.agency_id,
            func.sum(t.c.signatures),
            func.sum(case((t.c.day >= literal(since), t.c.signatures), else_=0)),
        )
        .select_from(t.join(k, k.c.ca_id == t.c.ca_id))
        .where(k.c.agency_id.is_not(None))
        .group_by(k.c.agency_id)
    )
    if agency_ids is not None:
        q = q.where(k.c.agency_id.in_(list(agency_ids)))
        sq = sq.where(k.c.agency_id.in_(list(agency_ids)))
    counts: dict[int, list[int]] = {}
    with platform.db.read() as conn:
        for row in conn.execute(q):
            counts[int(row[0])] = [int(v or 0) for v in row[1:]] + [0, 0]
        for row in conn.execute(sq):
            entry = counts.setdefault(int(row[0]), [0] * 8)
            entry[6], entry[7] = int(row[1] or 0), int(row[2] or 0)
    agencies = platform.db.agencies(agency_ids)
    out = tuple(AgencyFigures(a.slug, a.name_th, a.name_en, *counts.get(a.id, [0] * 8)) for a in agencies)
    total = AgencyFigures(None, None, None, *(sum(getattr(a, name) for a in out) for name in _COUNTS))
    names = tuple(s.name for s in platform.config.signing_services)
    return Figures(at, out, total, names, tuple(problems))


# --- signatures from the signing services' audit chains ------------------------------------------------


def ingest_signatures(platform: Platform) -> list[str]:
    """Add the signatures each configured signing service made since the last count; one line
    per service that could not be read (the figures then say so)."""
    problems = []
    for source in platform.config.signing_services:
        try:
            _ingest(platform, source)
        except StoreError as exc:
            problems.append(f"signing service {source.name}: {exc.message}")
    return problems


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        from thaisign._sqlite import sqlite_engine

        return sqlite_engine(url, busy_timeout_s=30)
    return create_engine(url, pool_size=1, max_overflow=0)


def _ingest(platform: Platform, source: SigningServiceSource) -> None:
    from thaisign.service import store as svc

    cursor_t = T.signature_sources
    with platform.db.read() as conn:
        row = conn.execute(
            select(cursor_t.c.seq, cursor_t.c.hash).where(cursor_t.c.source == source.name)
        ).first()
    last_seq, last_hash = (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)
    engine = _engine(source.db)
    a = svc.audit_events
    try:
        with engine.connect() as sconn:
            q = (
                select(a.c.seq, a.c.time, a.c.action, a.c.serial, a.c.details, a.c.prev_hash, a.c.hash)
                .where(a.c.seq > last_seq)
                .order_by(a.c.seq)
            )
            entries = [StoredEntry(*r) for r in sconn.execute(q)]
            serials = {e.serial for e in entries if e.action in ("sign-hash", "sign-doc") and e.serial}
            certs: dict[str, bytes] = {}
            if serials:
                cq = select(svc.credentials.c.serial, svc.credentials.c.certificate).where(
                    svc.credentials.c.serial.in_(sorted(serials))
                )
                certs = {str(s): bytes(d) for s, d in sconn.execute(cq)}
    except Exception as exc:  # the service's database is down or not a service's
        raise StoreError(f"cannot read its database: {str(exc).strip().splitlines()[0][:200]}") from None
    finally:
        engine.dispose()
    if not entries:
        return
    prev, seq = last_hash, last_seq
    tallies: dict[tuple[str, str], int] = defaultdict(int)
    for e in entries:
        if e.seq != seq + 1 or e.prev_hash != prev or stored_hash(e) != e.hash:
            raise StoreError(
                f"its audit log does not continue from entry {seq}: it was changed; counting stopped",
                hint="check the service with 'thaisign service' audit tools",
            )
        prev, seq = e.hash, e.seq
        if e.action not in ("sign-hash", "sign-doc") or not e.serial or e.serial not in certs:
            continue
        try:
            details = json.loads(e.details)
        except ValueError:
            continue
        n = len(details.get("hashes", [])) if e.action == "sign-hash" else len(details.get("documents", []))
        fingerprint = hashlib.sha256(certs[e.serial]).hexdigest()
        tallies[(fingerprint, e.time[:10])] += n
    c = T.CA.certificates
    with platform.db.base._write() as conn:
        current = conn.execute(select(cursor_t.c.seq).where(cursor_t.c.source == source.name)).first()
        if (int(current[0]) if current else 0) != last_seq:
            return  # another process counted them meanwhile
        fingerprints = sorted({f for f, _ in tallies})
        owners = {}
        if fingerprints:
            owners = {
                str(f): int(ca)
                for f, ca in conn.execute(select(c.c.sha256, c.c.ca_id).where(c.c.sha256.in_(fingerprints)))
            }
        per_ca: dict[tuple[int, str], int] = defaultdict(int)
        for (fingerprint, day), count in tallies.items():
            if fingerprint in owners:
                per_ca[(owners[fingerprint], day)] += count
        t = T.signature_tallies
        for (ca_id, day), count in per_ca.items():
            key = and_(t.c.source == source.name, t.c.ca_id == ca_id, t.c.day == day)
            done = conn.execute(update(t).where(key).values(signatures=t.c.signatures + count))
            if done.rowcount == 0:
                conn.execute(insert(t).values(source=source.name, ca_id=ca_id, day=day, signatures=count))
        if current is None:
            conn.execute(insert(cursor_t).values(source=source.name, seq=seq, hash=prev))
        else:
            conn.execute(update(cursor_t).where(cursor_t.c.source == source.name).values(seq=seq, hash=prev))
