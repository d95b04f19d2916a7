"""The platform database: many CA stores keyed by CA, and the platform's own rows and audit chain.

>>> db = PlatformDb.connect("postgresql+psycopg://pki@db.korat.go.th/pki")
>>> db.ca_store(17)               # the CertificateStore of CA 17 (an agency key generation)
>>> db.agency("dla"), db.ca_keys_of(agency_id)

Every change to a platform row (an agency, a CA key, an operator, a token) is one transaction
that also appends an entry carrying the row to the platform chain (scope 0 of the audit table),
under the platform's own write lock: :meth:`PlatformDb.check` re-derives those tables from it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from thaisign.ca.audit import RowDifference, StoredEntry, check_chain, compare_rows, encode_row
from thaisign.ca.store import CertificateStore, WriteGuard, _aware, _naive, utcnow
from thaisign.errors import CAError, StoreError
from thaisign.platform import _tables as T
from thaisign.platform.profile import Agency, AgencyProfile, CaKey

__all__ = ["PlatformCheck", "PlatformDb"]


class PlatformDb:
    """The platform's database on a SQLAlchemy URL (PostgreSQL; SQLite for a trial)."""

    def __init__(self, base: CertificateStore) -> None:
        self.base = base  # scope 0: the platform chain; scoped(ca_id) for each CA
        self.url = base.url
        self.is_sqlite = base.is_sqlite
        #: platform chain writes this object committed (what it read before may be stale)
        self.writes = 0

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 4) -> PlatformDb:
        return cls(CertificateStore.connect(url, tables=T.CA, scope=T.PLATFORM_SCOPE, pool_size=pool_size))

    @property
    def engine(self) -> Any:
        return self.base._engine

    def close(self) -> None:
        self.base.close()

    def __enter__(self) -> PlatformDb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema ----------------------------------------------------------------------------

    def create_schema(self) -> None:
        with self.base._errors():
            T.metadata.create_all(self.engine)

    def is_initialised(self) -> bool:
        from sqlalchemy import inspect

        with self.read() as conn:
            if not inspect(conn).has_table(T.meta.name):
                return False
            return conn.execute(select(T.meta.c.value).where(T.meta.c.name == "layout")).first() is not None

    def meta(self, name: str) -> str | None:
        with self.read() as conn:
            return conn.execute(select(T.meta.c.value).where(T.meta.c.name == name)).scalar_one_or_none()

    # --- transactions ------------------------------------------------------------------------

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.base._read() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self, actor: PlatformActor | None = None) -> Iterator[PlatformWrite]:
        """One transaction holding the platform's write lock; rows changed through the yielded
        :class:`PlatformWrite` are bound into the platform chain when it commits."""
        chain = self._chain(actor)
        try:
            with chain.write() as conn:
                w = PlatformWrite(self, conn, chain, actor)
                yield w
                w.flush()
        finally:
            self.writes += 1  # committed or not: forget what was read before either way

    def _chain(self, actor: PlatformActor | None) -> CertificateStore:
        return self.base.acting_as(actor.name, actor.details) if actor is not None else self.base

    def ca_store(self, ca_id: int, actor: PlatformActor | None = None) -> CertificateStore:
        """The store of one CA of the platform (its rows, its chain, its lock)."""
        store = self.base.scoped(ca_id)
        return store.acting_as(actor.name, actor.details) if actor is not None else store

    def head_guard(self, head: tuple[int, str] | None) -> WriteGuard:
        """A write guard that holds while the platform chain's head is still ``head``: every
        change to an agency, a CA key or certificate, or the platform's settings moves it."""
        return WriteGuard(self.base._sql_last_audit, {"ca_id": T.PLATFORM_SCOPE}, head)

    # --- reading platform rows -----------------------------------------------------------------

    def next_id(self, conn: Connection, table: Table, column: str = "id") -> int:
        return int(conn.execute(select(func.coalesce(func.max(table.c[column]), 0))).scalar_one()) + 1

    def agency(self, slug: str, conn: Connection | None = None) -> Agency | None:
        q = select(T.agencies).where(T.agencies.c.slug == slug)
        row = self._one(q, conn)
        return _agency(row) if row is not None else None

    @cached_property
    def _issuing_query(self) -> Any:
        """The statement of :meth:`issuing_rows` (built once: building it cost as much as running it)."""
        a, k, ca, audit = T.agencies, T.ca_keys, T.CA.ca, T.CA.audit
        newest = audit.c.ca_id == T.PLATFORM_SCOPE

        def head(column: Any) -> Any:
            return select(column).where(newest).order_by(audit.c.seq.desc()).limit(1).scalar_subquery()

        return (
            select(
                a,
                *(c.label(f"key_{c.name}") for c in k.columns),
                ca.c.certificate,
                head(audit.c.seq).label("head_seq"),
                head(audit.c.hash).label("head_hash"),
            )
            .select_from(
                a.outerjoin(k, (k.c.agency_id == a.c.id) & (k.c.state == "active")).outerjoin(
                    ca, ca.c.id == k.c.ca_id
                )
            )
            .where(a.c.slug == bindparam("slug"))
            .order_by(k.c.generation.desc())
            .limit(1)
        )

    def issuing_rows(
        self, slug: str
    ) -> tuple[tuple[int, str] | None, Agency, CaKey | None, bytes | None] | None:
        """In one statement (one snapshot): the platform chain's head, agency ``slug``, its active
        CA key (the newest generation) and that CA's certificate; None when there is no such agency."""
        with self.read() as conn:
            r = conn.execute(self._issuing_query, {"slug": slug}).mappings().first()
        if r is None:
            return None
        top = (int(r["head_seq"]), str(r["head_hash"])) if r["head_seq"] is not None else None
        names = [c.name for c in T.ca_keys.columns]
        key = _ca_key({n: r[f"key_{n}"] for n in names}) if r["key_ca_id"] is not None else None
        der = bytes(r["certificate"]) if r["certificate"] is not None else None
        return top, _agency(r), key, der

    def agency_by_id(self, agency_id: int, conn: Connection | None = None) -> Agency | None:
        row = self._one(select(T.agencies).where(T.agencies.c.id == agency_id), conn)
        return _agency(row) if row is not None else None

    def agencies(self, ids: Sequence[int] | None = None) -> list[Agency]:
        q = select(T.agencies).order_by(T.agencies.c.slug)
        if ids is not None:
            q = q.where(T.agencies.c.id.in_(list(ids)))
        with self.read() as conn:
            return [_agency(r) for r in conn.execute(q).mappings()]

    def ca_key(self, ca_id: int, conn: Connection | None = None) -> CaKey | None:
        row = self._one(select(T.ca_keys).where(T.ca_keys.c.ca_id == ca_id), conn)
        return _ca_key(row) if row is not None else None

    def ca_keys_of(self, agency_id: int | None, conn: Connection | None = None) -> list[CaKey]:
        """The CA keys of an agency (None: the issuing CA's), oldest generation first."""
        c = T.ca_keys.c
        cond = c.agency_id.is_(None) if agency_id is None else c.agency_id == agency_id
        q = select(T.ca_keys).where(cond).order_by(c.generation)
        if conn is not None:
            return [_ca_key(r) for r in conn.execute(q).mappings()]
        with self.read() as own:
            return [_ca_key(r) for r in own.execute(q).mappings()]

    def all_ca_keys(self) -> list[CaKey]:
        with self.read() as conn:
            return [
                _ca_key(r) for r in conn.execute(select(T.ca_keys).order_by(T.ca_keys.c.ca_id)).mappings()
            ]

    def ca_certificate(self, ca_id: int, conn: Connection | None = None) -> bytes | None:
        q = select(T.CA.ca.c.certificate).where(T.CA.ca.c.id == ca_id)
        if conn is not None:
            value = conn.execute(q).scalar_one_or_none()
        else:
            with self.read() as own:
                value = own.execute(q).scalar_one_or_none()
        return bytes(value) if value is not None else None

    def ca_certificates(self, ca_id: int | None = None) -> list[tuple[int, bytes]]:
        """(ca_id, DER) of every certificate each CA key has had (renewals included)."""
        q = select(T.ca_certificates.c.ca_id, T.ca_certificates.c.der).order_by(
            T.ca_certificates.c.ca_id, T.ca_certificates.c.installed_at
        )
        if ca_id is not None:
            q = q.where(T.ca_certificates.c.ca_id == ca_id)
        with self.read() as conn:
            return [(int(r[0]), bytes(r[1])) for r in conn.execute(q)]

    def responder(self, ca_id: int) -> bytes | None:
        return self._scalar(select(T.responders.c.der).where(T.responders.c.ca_id == ca_id))

    def secret(self, name: str) -> bytes | None:
        return self._scalar(select(T.secrets.c.value).where(T.secrets.c.name == name))

    def _scalar(self, q: Any) -> bytes | None:
        with self.read() as conn:
            value = conn.execute(q).scalar_one_or_none()
        return bytes(value) if value is not None else None

    def _one(self, q: Any, conn: Connection | None) -> Any:
        if conn is not None:
            return conn.execute(q).mappings().first()
        with self.read() as own:
            return own.execute(q).mappings().first()

    # --- checking the platform chain ------------------------------------------------------------

    def check(self) -> PlatformCheck:
        """The platform chain checked link by link, and the platform tables compared with the rows
        its entries carry (an agency, CA key, operator or token changed outside thaisign shows)."""
        expected: dict[str, dict[str, tuple[int | None, dict[str, Any]]]] = {n: {} for n in T.BOUND_TABLES}
        with self.base.snapshot() as conn:

            def entries() -> Iterator[StoredEntry]:
                for e in self.base.stored_entries(conn):
                    with contextlib.suppress(ValueError):
                        details = json.loads(e.details)
                        for bound in details.get("rows", []):
                            table, row = bound.get("table"), bound.get("row")
                            if table in expected and isinstance(row, dict):
                                key = str(row.get(T.BOUND_TABLES[table][1]))
                                expected[table][key] = (e.seq, row)
                    yield e

            chain = check_chain(entries())
            differences: list[RowDifference] = []
            for name, (table, key) in T.BOUND_TABLES.items():
                actual = {str(r[key]): encode_row(dict(r)) for r in conn.execute(select(table)).mappings()}
                differences += compare_rows(name, expected[name], actual)
        return PlatformCheck(chain.entries, chain.head, chain.breaks, tuple(differences))


@dataclass(frozen=True)
class PlatformActor:
    """Who changes the platform, as its audit entries name them."""

    name: str
    details: Mapping[str, Any]


@dataclass(frozen=True)
class PlatformCheck:
    """What :meth:`PlatformDb.check` found."""

    entries: int
    head: str
    chain_breaks: tuple[str, ...]
    differences: tuple[RowDifference, ...]

    @property
    def ok(self) -> bool:
        return not (self.chain_breaks or self.differences)

    def problems(self) -> list[str]:
        return [*self.chain_breaks, *(d.describe() for d in self.differences)]

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head": self.head, "problems": self.problems()}


class PlatformWrite:
    """Changes to platform rows inside one transaction, bound into the platform chain."""

    def __init__(
        self, db: PlatformDb, conn: Connection, chain: CertificateStore, actor: PlatformActor | None
    ) -> None:
        self.db = db
        self.conn = conn
        self.chain = chain
        self.actor = actor
        self._events: list[tuple[str, str | None, dict[str, Any]]] = []
        self.at: dt.datetime | None = None

    def ca(self, ca_id: int) -> CertificateStore:
        """CA ``ca_id``'s store inside this transaction, its write lock taken (after the
        platform's: always in that order, so writers never wait for each other in a circle)."""
        store = self.db.ca_store(ca_id, self.actor)
        store.lock(self.conn)
        return store

    def insert(self, action: str, name: str, values: Mapping[str, Any], **details: Any) -> None:
        table, key = T.BOUND_TABLES[name]
        self.conn.execute(insert(table).values(**values))
        self._bind(action, name, values[key], details)

    def update(
        self, action: str, name: str, key_value: Any, values: Mapping[str, Any], **details: Any
    ) -> None:
        table, key = T.BOUND_TABLES[name]
        done = self.conn.execute(update(table).where(table.c[key] == key_value).values(**values))
        if done.rowcount != 1:
            raise StoreError(f"no {name} row {key_value!r} to change")
        self._bind(action, name, key_value, details)

    def event(self, action: str, key: str | None = None, **details: Any) -> None:
        """An entry that changes no platform row (e.g. an agency's CA was told to publish)."""
        self._events.append((action, key, details))

    def put_secret(self, name: str, value: bytes) -> None:
        """A service key or certificate for the status replicas (only its hash is logged)."""
        import hashlib

        exists = self.conn.execute(select(T.secrets.c.name).where(T.secrets.c.name == name)).first()
        if exists:
            self.conn.execute(update(T.secrets).where(T.secrets.c.name == name).values(value=value))
        else:
            self.conn.execute(insert(T.secrets).values(name=name, value=value))
        self.event("secret", name[:48], sha256=hashlib.sha256(value).hexdigest())

    def put_meta(self, name: str, value: str) -> None:
        exists = self.conn.execute(select(T.meta.c.name).where(T.meta.c.name == name)).first()
        if exists:
            self.conn.execute(update(T.meta).where(T.meta.c.name == name).values(value=value))
        else:
            self.conn.execute(insert(T.meta).values(name=name, value=value))
        self.event("setting", name[:48], value=value)

    def _bind(self, action: str, name: str, key_value: Any, details: dict[str, Any]) -> None:
        table, key = T.BOUND_TABLES[name]
        row = self.conn.execute(select(table).where(table.c[key] == key_value)).mappings().one()
        key_text = f"{_SHORT.get(name, name)}:{key_value}"[:48]  # the entry's key column holds 48
        rows = [{"table": name, "row": encode_row(dict(row))}]
        self._events.append((action, key_text, {**details, "rows": rows}))

    def flush(self) -> None:
        if self._events:
            self.chain.append_audit(self.conn, self._events, self.at or utcnow())
            self._events = []


_SHORT = {"agencies": "agency", "ca_keys": "ca", "ca_certificates": "ca-cert", "operators": "operator"}


# --- rows into value objects ------------------------------------------------------------------------


def _agency(r: Any) -> Agency:
    return Agency(
        id=int(r["id"]),
        slug=str(r["slug"]),
        name_th=str(r["name_th"]),
        name_en=r["name_en"],
        org_id=r["org_id"],
        profile=AgencyProfile.loads(r["profile"]),
        status=str(r["status"]),
        origin=str(r["origin"]),
        legacy_base_url=r["legacy_base_url"],
        created_at=_aware(r["created_at"]) or utcnow(),
    )


def _ca_key(r: Any) -> CaKey:
    return CaKey(
        ca_id=int(r["ca_id"]),
        agency_id=r["agency_id"],
        generation=int(r["generation"]),
        state=str(r["state"]),
        key_ref=str(r["key_ref"]),
        pkcs11_module=r["pkcs11_module"],
        base_url=str(r["base_url"]),
        crl_path=str(r["crl_path"]),
        cert_path=str(r["cert_path"]),
        chain=str(r["chain"]),
        created_at=_aware(r["created_at"]) or utcnow(),
        retired_at=_aware(r["retired_at"]),
    )


def naive(t: dt.datetime) -> dt.datetime:
    return _naive(t)


def require(value: Any, what: str) -> Any:
    if value is None:
        raise CAError(f"{what} not found")
    return value
