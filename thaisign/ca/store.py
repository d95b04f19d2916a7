"""The CA's database: certificates, revocations, CRLs and the hash-chained audit log.

SQLAlchemy 2 models, identical code on SQLite (the default ``DIR/ca.db``, WAL mode) and
PostgreSQL (``postgresql+psycopg://...``). Every state change is one transaction that also
appends its audit event; writers are serialised (``BEGIN IMMEDIATE`` on SQLite, a transaction
advisory lock on PostgreSQL) so the audit chain stays linear with many processes at once.

Read-only users (the OCSP responder, CRL publication) open the store without the CA key::

    store = CertificateStore.open("/srv/ca")
    store.status_of(0x1F2E...)   # CertificateStatus(status="good", ...)
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import getpass
import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, exc, func, insert, select, true, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from thaisign._sqlite import sqlite_engine
from thaisign.ca._records import (
    FOLDER_TABLES,
    REVOCATION_REASONS,
    SCHEMA_VERSION,
    AuditRow,
    Base,
    CaRow,
    CertificateRow,
    CertificateStatus,
    CertStatus,
    CrlRow,
    DuplicateSerialError,
    GuardFailed,
    IssuedCertificate,
    MetaRow,
    NewCertificate,
    RevocationRow,
    StoreTables,
    WriteGuard,
    _aware,
    _naive,
    normalize_reason,
    parse_serial,
    scoped_tables,
    serial_hex,
    utcnow,
)
from thaisign.ca.audit import (
    AuditEntry,
    AuditVerification,
    StoredEntry,
    encode_row,
    next_entries,
    verify_chain,
)
from thaisign.ca.profiles import PROFILE_FILE, CaProfile
from thaisign.errors import AlreadyRevokedError, CANotFoundError, SerialNotFoundError, StoreError

DB_FILE = "ca.db"
_PG_LOCK_KEY = 0x7468616973  # "thais": one advisory lock serialises the CA's writers
_PG_SCOPE_LOCK = 0x74736361  # "tsca": with the ca_id, the lock of one CA among many

__all__ = [
    "DB_FILE",
    "REVOCATION_REASONS",
    "AuditRow",
    "Base",
    "CaRow",
    "CertStatus",
    "CertificateRow",
    "CertificateStatus",
    "CertificateStore",
    "CrlRow",
    "DuplicateSerialError",
    "GuardFailed",
    "IssuedCertificate",
    "NewCertificate",
    "RevocationRow",
    "StoreTables",
    "WriteGuard",
    "normalize_reason",
    "parse_serial",
    "scoped_tables",
    "serial_hex",
    "utcnow",
]

# --- the store -------------------------------------------------------------------------------


def _sqlite_engine(url: str) -> Engine:
    return sqlite_engine(
        url,
        busy_timeout_s=120,
        foreign_keys=True,
        page_size=8192,  # an issue entry (about 2 kB: the certificate, in base64) fits a page
        # writes (marked by _write) take the lock up front; reads stay shared
        immediate=lambda conn: bool(conn.get_execution_options().get("thaisign_write", False)),
        pool_size=2,
        max_overflow=4,
    )


def operator_name() -> str:
    """Who acts, for the audit log: ``THAISIGN_OPERATOR``, else the login name."""
    name = os.environ.get("THAISIGN_OPERATOR")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:
        return f"uid {os.getuid()}"


def _describe(url: str) -> str:
    """A URL for messages, without any password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the database"


def _issue_details(row: dict[str, Any], pkcs12_sha256: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {"row": encode_row(row)}
    if pkcs12_sha256:
        details["pkcs12_sha256"] = pkcs12_sha256
    return details


class CertificateStore:
    """The CA's database. Open with :meth:`open` (a CA folder) or :meth:`connect` (a URL).

    ``tables``/``scope``: a store of one CA among many in a shared database (:meth:`scoped`);
    every read is limited to that CA's rows and every write is keyed by it.
    """

    def __init__(
        self,
        engine: Engine,
        url: str,
        *,
        tables: StoreTables = FOLDER_TABLES,
        scope: int | None = None,
    ) -> None:
        if tables.scoped != (scope is not None):
            raise ValueError("a scoped table set needs a scope (the CA's id), a folder's none")
        self._engine = engine
        self.url = url
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.t = tables
        self.scope = scope
        #: who acts, for the audit log (None: ``THAISIGN_OPERATOR`` or the login name)
        self.operator: str | None = None
        #: more about who acts (e.g. an authenticated platform operator), logged with every entry
        self.actor: Mapping[str, Any] | None = None

    # --- opening ---------------------------------------------------------------------------

    @staticmethod
    def url_for(ca_dir: str | Path, db: str | None) -> str:
        return db or f"sqlite:///{Path(ca_dir).resolve() / DB_FILE}"

    @classmethod
    def open(cls, ca_dir: str | Path, profile: CaProfile | None = None) -> CertificateStore:
        """The store of a CA folder (SQLite ``ca.db`` or the URL recorded in ``profile.toml``)."""
        d = Path(ca_dir)
        if profile is None:
            if not (d / PROFILE_FILE).exists():
                raise CANotFoundError(f"{d} is not a thaisign CA folder (no {PROFILE_FILE})")
            profile = CaProfile.load(d / PROFILE_FILE)
        if profile.db is None and not (d / DB_FILE).exists():
            raise StoreError(f"the CA database {d / DB_FILE} is missing", hint="restore it from your backup")
        store = cls.connect(cls.url_for(d, profile.db))
        try:
            store._check_schema()
            from thaisign.ca._upgrade import upgrade

            upgrade(store)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def connect(
        cls, url: str, *, tables: StoreTables = FOLDER_TABLES, scope: int | None = None, pool_size: int = 2
    ) -> CertificateStore:
        """A store on a SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``)."""
        try:
            if url.startswith("sqlite"):
                engine = _sqlite_engine(url)
            else:
                engine = create_engine(
                    url,
                    pool_pre_ping=True,
                    pool_size=pool_size,
                    max_overflow=2,
                    connect_args={"connect_timeout": 5},
                )
        except (exc.ArgumentError, exc.NoSuchModuleError) as e:
            raise StoreError(
                f"not a usable database URL: {e}", hint="e.g. postgresql+psycopg://host/db"
            ) from None
        return cls(engine, url, tables=tables, scope=scope)

    def scoped(self, scope: int) -> CertificateStore:
        """The same database seen as the store of CA ``scope`` (sharing this store's connections;
        close only the store that made them)."""
        if not self.t.scoped:
            raise ValueError("a CA folder's store holds one CA")
        view = copy.copy(self)
        view.scope = scope
        return view

    def acting_as(self, operator: str, actor: Mapping[str, Any] | None = None) -> CertificateStore:
        """A view of this store whose audit entries name ``operator`` (and ``actor``) as who acted."""
        view = copy.copy(self)
        view.operator = operator
        view.actor = dict(actor) if actor is not None else None
        return view

    def create_schema(self) -> None:
        """Create the tables (in a new database), at the current layout version."""
        with self._errors():
            self.t.metadata.create_all(self._engine)
        if self.t.scoped:
            return  # the owner of a shared database records its own layout
        with self._write() as conn:
            if conn.execute(select(MetaRow.value).where(MetaRow.name == "schema")).first() is None:
                conn.execute(insert(MetaRow).values(name="schema", value=str(SCHEMA_VERSION)))

    def is_empty(self) -> bool:
        """True while the store holds no CA record (of this scope)."""
        with self._errors(), self._engine.connect() as conn:
            from sqlalchemy import inspect

            if not inspect(conn).has_table(self.t.ca.name):
                return True
            q = select(func.count()).select_from(self.t.ca).where(self.own(self.t.ca))
            return conn.execute(q).scalar_one() == 0

    def _check_schema(self) -> None:
        with self._errors(), self._engine.connect() as conn:
            from sqlalchemy import inspect

            if not inspect(conn).has_table(self.t.certificates.name):
                raise StoreError(
                    f"{_describe(self.url)} holds no thaisign CA tables", hint="check --db / profile.toml"
                )

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> CertificateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except exc.IntegrityError:
            raise
        except exc.OperationalError as e:
            first = str(e.orig).strip().splitlines()[0] if e.orig else str(e).splitlines()[0]
            raise StoreError(
                f"cannot use the CA database {_describe(self.url)}: {first}",
                hint="check that the database server is running and reachable",
            ) from None
        except exc.DBAPIError as e:
            first = str(e.orig).strip().splitlines()[0] if e.orig else str(e).splitlines()[0]
            raise StoreError(f"CA database error: {first}") from None

    def lock(self, conn: Connection) -> None:
        """Take this CA's write lock inside ``conn``'s transaction (PostgreSQL; SQLite's
        ``BEGIN IMMEDIATE`` locks the whole file)."""
        if self.is_sqlite:
            return
        if self.scope is None:
            conn.execute(select(func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
        else:
            conn.execute(select(func.pg_advisory_xact_lock(_PG_SCOPE_LOCK, self.scope)))

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        """One serialised write transaction (commits on success, rolls back on any error)."""
        with self._errors(), self._engine.connect() as conn:
            conn = conn.execution_options(thaisign_write=True)
            with conn.begin():
                self.lock(conn)
                yield conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._errors(), self._engine.connect() as conn:
            yield conn

    # --- the scope -------------------------------------------------------------------------

    @property
    def ca_id(self) -> int:
        """The ``id`` of this store's CA record (1 in a CA folder's store)."""
        return 1 if self.scope is None else self.scope

    def own(self, table: Table) -> ColumnElement[bool]:
        """The condition that selects this CA's rows of ``table`` (of the ``ca`` table: its record)."""
        if table is self.t.ca:
            return table.c.id == self.ca_id
        if self.scope is None:
            return true()
        return table.c.ca_id == self.scope

    def _keyed(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """``row`` with this CA's key added (for inserts into a shared database)."""
        return dict(row) if self.scope is None else {**row, "ca_id": self.scope}

    def row_columns(self, table: Table) -> list[Any]:
        """The columns of ``table`` that make up the rows bound into the audit chain."""
        drop = {"ca_id"} | ({"id"} if table is not self.t.ca else set())
        return [c for c in table.columns if c.name not in drop]

    # --- audit -----------------------------------------------------------------------------

    def _audit_rows(
        self,
        last: tuple[int, str] | None,
        events: Sequence[tuple[str, str | None, dict[str, Any]]],
        at: dt.datetime | None,
    ) -> list[dict[str, Any]]:
        """The audit rows that continue the chain after ``last`` (seq, hash)."""
        who: dict[str, Any] = {"operator": self.operator or operator_name()}
        if self.actor is not None:
            who["actor"] = dict(self.actor)
        rows = next_entries(last, [(a, serial, {**d, **who}) for a, serial, d in events], at or utcnow())
        return [self._keyed(r) for r in rows]

    def _last_entry(self, conn: Connection) -> tuple[int, str] | None:
        a = self.t.audit
        last = conn.execute(
            select(a.c.seq, a.c.hash).where(self.own(a)).order_by(a.c.seq.desc()).limit(1)
        ).first()
        return (int(last[0]), str(last[1])) if last else None

    def _append_audit(
        self,
        conn: Connection,
        events: Sequence[tuple[str, str | None, dict[str, Any]]],
        at: dt.datetime | None = None,
    ) -> None:
        conn.execute(insert(self.t.audit), self._audit_rows(self._last_entry(conn), events, at))

    def append_audit(
        self,
        conn: Connection,
        events: Sequence[tuple[str, str | None, dict[str, Any]]],
        at: dt.datetime | None = None,
    ) -> None:
        """Append ``events`` (action, key, details) to this CA's chain inside ``conn``'s
        transaction, which must hold this CA's :meth:`lock` (see :meth:`write`)."""
        self._append_audit(conn, events, at)

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction holding this CA's lock, for callers that change rows of their own
        together with this CA's chain (:meth:`append_audit`)."""
        with self._write() as conn:
            yield conn

    def _audit_columns(self) -> list[Any]:
        a = self.t.audit
        return [a.c.seq, a.c.time, a.c.action, a.c.serial, a.c.details, a.c.prev_hash, a.c.hash]

    def audit_entries(self) -> list[AuditEntry]:
        """Every audit entry, oldest first."""
        with self._read() as conn:
            return [e.parsed() for e in self.stored_entries(conn)]

    def stored_entries(self, conn: Connection, *, after: int = 0) -> Iterator[StoredEntry]:
        """The audit entries after ``after`` as stored (details as text), oldest first, streamed."""
        a = self.t.audit
        q = select(*self._audit_columns()).where(self.own(a), a.c.seq > after).order_by(a.c.seq)
        for r in conn.execution_options(yield_per=2000).execute(q):
            yield StoredEntry(*r)

    def entry_details(self, conn: Connection, seq: int) -> str | None:
        """The stored details of audit entry ``seq``."""
        a = self.t.audit
        q = select(a.c.details).where(self.own(a), a.c.seq == seq)
        return conn.execute(q).scalar_one_or_none()

    def verify_audit(self) -> AuditVerification:
        """Check the audit chain; raises :class:`thaisign.errors.AuditChainError` at the first break.

        This checks the chain alone; :func:`thaisign.ca.integrity.check_store` also compares the
        tables with it and with the latest signed checkpoint.
        """
        with self._read() as conn:
            return verify_chain(self.stored_entries(conn))

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read-only transaction that sees one consistent state of every table."""
        with self._errors(), self._engine.connect() as conn:
            if not self.is_sqlite:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def head(self) -> tuple[int, str] | None:
        """(seq, hash) of the newest audit entry, or None for an empty log."""
        with self._read() as conn:
            return self._last_entry(conn)

    def entry_hash_at(self, seq: int) -> str | None:
        """The stored hash of audit entry ``seq`` (None if there is none)."""
        a = self.t.audit
        with self._read() as conn:
            return conn.execute(select(a.c.hash).where(self.own(a), a.c.seq == seq)).scalar_one_or_none()

    # --- a CA folder that moved into a platform ------------------------------------------------

    def record_moved(self, where: str, name: str, *, at: dt.datetime | None = None) -> None:
        """Note, in the chain and the store's settings, that this folder's CA now lives in a
        platform (``where``) as agency ``name``: its key no longer issues or revokes here."""
        import json

        if self.t.scoped:
            raise ValueError("only a CA folder's store moves into a platform")
        details = {"platform": where, "agency": name}
        with self._write() as conn:
            conn.execute(insert(MetaRow).values(name="moved", value=json.dumps(details, ensure_ascii=False)))
            self._append_audit(conn, [("moved", None, details)], at)

    def moved_to(self) -> dict[str, str] | None:
        """Where this folder's CA moved (:meth:`record_moved`), or None."""
        import json

        if self.t.scoped:
            return None
        with self._read() as conn:
            from sqlalchemy import inspect

            if not inspect(conn).has_table(MetaRow.__tablename__):
                return None
            text = conn.execute(select(MetaRow.value).where(MetaRow.name == "moved")).scalar_one_or_none()
        return dict(json.loads(text)) if text else None

    # --- the CA record ---------------------------------------------------------------------

    def record_ca(
        self,
        name: str,
        certificate_der: bytes | None,
        *,
        at: dt.datetime | None = None,
        conn: Connection | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record the CA (at init), or its certificate (at install-cert), with an audit event.

        ``conn``: inside a transaction the caller holds (with this CA's :meth:`lock`);
        ``details`` are logged with the event.
        """
        if conn is None:
            with self._write() as own:
                self.record_ca(name, certificate_der, at=at, conn=own, details=details)
            return
        now = at or utcnow()
        ca = self.t.ca
        existing = conn.execute(select(ca.c.id).where(self.own(self.t.ca))).first()
        if existing is None:
            conn.execute(
                insert(ca).values(
                    id=self.ca_id, name=name, certificate=certificate_der, created_at=_naive(now)
                )
            )
            action = "init"
        else:
            conn.execute(update(ca).where(self.own(self.t.ca)).values(certificate=certificate_der))
            action = "install-cert"
        logged: dict[str, Any] = {**(details or {}), "name": name}
        if certificate_der:
            logged["certificate_sha256"] = hashlib.sha256(certificate_der).hexdigest()
        row = conn.execute(select(*ca.columns).where(self.own(self.t.ca))).mappings().one()
        logged["row"] = encode_row(dict(row))
        self._append_audit(conn, [(action, None, logged)], now)

    def ca_certificate_der(self) -> bytes | None:
        """The CA certificate as recorded in the store (None before install-cert)."""
        with self._read() as conn:
            return conn.execute(
                select(self.t.ca.c.certificate).where(self.own(self.t.ca))
            ).scalar_one_or_none()

    # --- certificates ----------------------------------------------------------------------

    def add_certificates(
        self,
        certs: Sequence[NewCertificate],
        *,
        at: dt.datetime | None = None,
        conn: Connection | None = None,
        guard: WriteGuard | None = None,
    ) -> None:
        """Record issued certificates and their audit events in one transaction.

        Raises :class:`DuplicateSerialError` (and records nothing) if a serial is taken. This
        is the hot path of issuance, so it talks to the DB-API connection directly (same SQL
        on SQLite and PostgreSQL; only the placeholder style differs). With ``conn``, inside the
        caller's transaction instead (which must hold this CA's :meth:`lock`). ``guard``: checked
        after the lock, in the same round trip as the inserts (:class:`GuardFailed`, nothing
        recorded, when the database no longer holds what it expects).
        """
        if not certs:
            return
        now = at or utcnow()
        plain = [c.row(now) for c in certs]
        rows = [self._keyed(row) for row in plain]
        events = [
            ("issue", row["serial"], _issue_details(row, c.pkcs12_sha256))
            for c, row in zip(certs, plain, strict=True)
        ]
        if conn is not None:
            if guard is not None:
                raise ValueError("a guard is checked in the store's own transaction only")
            try:
                conn.execute(insert(self.t.certificates), rows)
            except exc.IntegrityError:
                raise DuplicateSerialError("serial number already in the store") from None
            self._append_audit(conn, events, now)
            return
        dbapi = self._engine.dialect.loaded_dbapi
        try:
            with self._raw_write() as cur:
                checked = None
                if guard is not None:  # its own cursor: its answer comes with the others'
                    checked = cur.connection.cursor()
                    checked.execute(guard.sql, dict(guard.params))
                cur.executemany(self._sql_insert_cert, rows)
                if self.scope is None:
                    cur.execute(self._sql_last_audit)
                else:
                    cur.execute(self._sql_last_audit, {"ca_id": self.scope})
                row = cur.fetchone()
                if checked is not None and guard is not None:
                    found = checked.fetchone()
                    checked.close()
                    if (tuple(found) if found is not None else None) != guard.expected:
                        raise GuardFailed("the database changed since it was read: nothing recorded")
                cur.executemany(
                    self._sql_insert_audit, self._audit_rows((row[0], row[1]) if row else None, events, now)
                )
        except dbapi.IntegrityError as e:
            text = str(e).lower()
            if "serial" in text or "certificates" in text:
                raise DuplicateSerialError("serial number already in the store") from None
            raise StoreError(f"CA database integrity error: {str(e).splitlines()[0]}") from None
        except dbapi.OperationalError as e:
            raise StoreError(
                f"cannot use the CA database {_describe(self.url)}: {str(e).strip().splitlines()[0]}",
                hint="check that the database server is running and reachable",
            ) from None
        except dbapi.Error as e:
            raise StoreError(f"CA database error: {str(e).strip().splitlines()[0]}") from None

    def prepare_issuing(self) -> None:
        """Build the statements of :meth:`add_certificates` now: the views made from this store
        afterwards (:meth:`acting_as`, one per request) share them instead of building their own."""
        for name in ("_sql_insert_cert", "_sql_insert_audit", "_sql_last_audit"):
            getattr(self, name)

    def _sql(self, text: str) -> str:
        """``%(name)s`` placeholders (psycopg) turned into ``:name`` for sqlite3."""
        import re

        return re.sub(r"%\((\w+)\)s", r":\1", text) if self.is_sqlite else text

    @cached_property
    def _sql_insert_cert(self) -> str:
        cols = [c.name for c in self.t.certificates.columns if c.name != "id"]
        values = ", ".join(f"%({c})s" for c in cols)
        return self._sql(f"INSERT INTO {self.t.certificates.name} ({', '.join(cols)}) VALUES ({values})")

    @cached_property
    def _sql_insert_audit(self) -> str:
        cols = [c.name for c in self.t.audit.columns if c.name != "id"]
        values = ", ".join(f"%({c})s" for c in cols)
        return self._sql(f"INSERT INTO {self.t.audit.name} ({', '.join(cols)}) VALUES ({values})")

    @cached_property
    def _sql_last_audit(self) -> str:
        where = " WHERE ca_id = %(ca_id)s" if self.t.scoped else ""
        return self._sql(f"SELECT seq, hash FROM {self.t.audit.name}{where} ORDER BY seq DESC LIMIT 1")

    @contextlib.contextmanager
    def _raw_write(self) -> Iterator[Any]:
        """A serialised write transaction on the pooled DB-API connection.

        On PostgreSQL the statements go through psycopg's pipeline mode, so a single issuance
        costs two round trips (lock + insert + read the chain head; audit insert + commit).
        """
        with self._errors():
            raw = self._engine.raw_connection()
        driver: Any = raw.driver_connection
        try:
            cur = raw.cursor()
            if self.is_sqlite:
                try:
                    cur.execute("BEGIN IMMEDIATE")
                    yield cur
                except BaseException:
                    if driver.in_transaction:
                        cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            else:
                try:
                    with driver.pipeline():
                        if self.scope is None:
                            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
                        else:
                            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_PG_SCOPE_LOCK, self.scope))
                        yield cur
                        raw.commit()
                except BaseException:
                    raw.rollback()
                    raise
            cur.close()
        finally:
            raw.close()  # back to the pool

    def _select_certs(self) -> Any:
        c, r = self.t.certificates, self.t.revocations
        on = r.c.serial == c.c.serial
        if self.scope is not None:
            on = on & (r.c.ca_id == c.c.ca_id)
        return (
            select(*self.row_columns(c), r.c.revoked_at, r.c.reason)
            .select_from(c.outerjoin(r, on))
            .where(self.own(c))
        )

    @staticmethod
    def _issued(row: Any) -> IssuedCertificate:
        c = row._mapping
        return IssuedCertificate(
            serial=int(c["serial"], 16),
            name_th=c["name_th"],
            name_en=c["name_en"],
            position=c["position"],
            email=c["email"],
            employee_id=c["employee_id"],
            subject=c["subject"],
            key_type=c["key_type"],
            source=c["source"],
            not_before=_aware(c["not_before"]),  # type: ignore[arg-type]
            not_after=_aware(c["not_after"]),  # type: ignore[arg-type]
            issued_at=_aware(c["issued_at"]),  # type: ignore[arg-type]
            sha256=c["sha256"],
            der=bytes(c["der"]),
            revoked_at=_aware(c["revoked_at"]),
            revocation_reason=c["reason"],
        )

    def get(self, serial: int | str) -> IssuedCertificate:
        """The certificate with this serial, or :class:`SerialNotFoundError`."""
        n = parse_serial(serial)
        with self._read() as conn:
            row = conn.execute(
                self._select_certs().where(self.t.certificates.c.serial == serial_hex(n))
            ).first()
        if row is None:
            raise SerialNotFoundError(
                f"no certificate with serial {serial_hex(n)} in this CA",
                hint="list them with 'thaisign ca list DIR'",
            )
        return self._issued(row)

    def certificates(
        self,
        *,
        status: str | None = None,
        employee_id: str | None = None,
        at: dt.datetime | None = None,
    ) -> list[IssuedCertificate]:
        """Certificates in issue order, optionally only ``valid``/``revoked``/``expired`` ones."""
        c, r = self.t.certificates, self.t.revocations
        q = self._select_certs().order_by(c.c.id)
        if employee_id is not None:
            q = q.where(c.c.employee_id == employee_id)
        when = at or utcnow()
        if status == "revoked":
            q = q.where(r.c.serial.is_not(None))
        elif status == "valid":
            q = q.where(r.c.serial.is_(None), c.c.not_after >= _naive(when))
        elif status == "expired":
            q = q.where(r.c.serial.is_(None), c.c.not_after < _naive(when))
        elif status is not None:
            raise StoreError(f"unknown status {status!r}", hint="use valid, revoked or expired")
        with self._read() as conn:
            return [self._issued(row) for row in conn.execute(q).all()]

    def issue_details(self, serials: Sequence[str], key: str) -> dict[str, Any]:
        """``details[key]`` of the issue entries of these serials (hex), where present."""
        import json

        a = self.t.audit
        out: dict[str, Any] = {}
        with self._read() as conn:
            for i in range(0, len(serials), 500):
                q = select(a.c.serial, a.c.details).where(
                    self.own(a), a.c.action == "issue", a.c.serial.in_(serials[i : i + 500])
                )
                for serial, text in conn.execute(q):
                    with contextlib.suppress(ValueError, AttributeError):
                        value = json.loads(text).get(key)
                        if value is not None and serial is not None:
                            out[serial] = value
        return out

    def issued_employee_ids(self) -> set[str]:
        """Employee IDs that hold a certificate that is not revoked (for batch re-runs)."""
        q = self._select_certs().where(
            self.t.certificates.c.employee_id.is_not(None), self.t.revocations.c.serial.is_(None)
        )
        with self._read() as conn:
            return {r._mapping["employee_id"] for r in conn.execute(q) if r._mapping["employee_id"]}

    def status_of(self, serial: int) -> CertificateStatus:
        """``good``, ``revoked`` (with time and reason) or ``unknown`` for a serial number."""
        c, r = self.t.certificates, self.t.revocations
        s = serial_hex(serial)
        on = r.c.serial == c.c.serial
        if self.scope is not None:
            on = on & (r.c.ca_id == c.c.ca_id)
        q = (
            select(c.c.id, r.c.revoked_at, r.c.reason)
            .select_from(c.outerjoin(r, on))
            .where(self.own(c), c.c.serial == s)
        )
        with self._read() as conn:
            row = conn.execute(q).first()
        if row is None:
            return CertificateStatus("unknown")
        if row[1] is None:
            return CertificateStatus("good")
        return CertificateStatus("revoked", _aware(row[1]), row[2])

    # --- revocation and CRLs ---------------------------------------------------------------

    def revoke(self, serial: int, reason: str, revoked_at: dt.datetime, crl_entry: bytes) -> None:
        """Record a revocation and its audit event in one transaction."""
        c, r = self.t.certificates, self.t.revocations
        s = serial_hex(serial)
        with self._write() as conn:
            known = conn.execute(select(c.c.id).where(self.own(c), c.c.serial == s)).first()
            if known is None:
                raise SerialNotFoundError(
                    f"no certificate with serial {s} in this CA", hint="list them with 'thaisign ca list DIR'"
                )
            already = conn.execute(select(r.c.revoked_at).where(self.own(r), r.c.serial == s)).first()
            if already is not None:
                when = _aware(already[0])
                raise AlreadyRevokedError(
                    f"certificate {s} is already revoked (since {when.isoformat() if when else '?'})"
                )
            row = {"serial": s, "revoked_at": _naive(revoked_at), "reason": reason, "crl_entry": crl_entry}
            conn.execute(insert(r).values(**self._keyed(row)))
            self._append_audit(conn, [("revoke", s, {"row": encode_row(row)})], revoked_at)

    def _entries_query(self) -> Any:
        r = self.t.revocations
        return select(r.c.crl_entry).where(self.own(r)).order_by(r.c.revoked_at, r.c.serial)

    def revoked_entries(self) -> list[bytes]:
        """The pre-encoded DER revokedCertificates entries, in revocation order."""
        with self._read() as conn:
            return [bytes(r[0]) for r in conn.execute(self._entries_query())]

    def record_crl(
        self,
        build: Any,
        *,
        this_update: dt.datetime,
        next_update: dt.datetime,
        checkpoint: Any = None,
    ) -> tuple[int, bytes]:
        """Take the next CRL number, let ``build(number, entries)`` sign the CRL, store it; one transaction.

        Holding the write lock while signing keeps CRL numbers strictly increasing with their
        content. ``checkpoint(seq, head, number)``, if given, signs the new chain head (which
        includes this CRL's entry) and returns the DER stored beside it.
        """
        crls = self.t.crls
        with self._write() as conn:
            last = conn.execute(select(func.max(crls.c.number)).where(self.own(crls))).scalar_one_or_none()
            number = (last or 0) + 1
            entries = [bytes(r[0]) for r in conn.execute(self._entries_query())]
            der: bytes = build(number, entries)
            row = {
                "number": number,
                "this_update": _naive(this_update),
                "next_update": _naive(next_update),
                "entries": len(entries),
                "der": der,
            }
            conn.execute(insert(crls).values(**self._keyed(row)))
            bound = {**encode_row({k: v for k, v in row.items() if k != "der"})}
            bound["sha256"] = hashlib.sha256(der).hexdigest()
            self._append_audit(conn, [("crl", None, {"row": bound})], this_update)
            if checkpoint is not None:
                seq, head = self._last_entry(conn)  # type: ignore[misc]
                signed: bytes = checkpoint(int(seq), str(head), number)
                conn.execute(
                    insert(self.t.checkpoints).values(
                        **self._keyed(
                            {
                                "seq": seq,
                                "time": _naive(this_update),
                                "head": head,
                                "crl_number": number,
                                "der": signed,
                            }
                        )
                    )
                )
        return number, der

    def checkpoints(self, *, latest_only: bool = False) -> list[bytes]:
        """The signed checkpoints kept in the store (DER), newest first."""
        cp = self.t.checkpoints
        q = select(cp.c.der).where(self.own(cp)).order_by(cp.c.seq.desc())
        if latest_only:
            q = q.limit(1)
        with self._read() as conn:
            return [bytes(r[0]) for r in conn.execute(q)]

    def latest_crl(self) -> bytes | None:
        """The DER of the most recent CRL, or None if none was made yet."""
        crls = self.t.crls
        with self._read() as conn:
            der = conn.execute(
                select(crls.c.der).where(self.own(crls)).order_by(crls.c.number.desc()).limit(1)
            ).scalar_one_or_none()
        return bytes(der) if der is not None else None

    def counts(self) -> dict[str, int]:
        t = self.t
        with self._read() as conn:

            def count(table: Table) -> int:
                return int(
                    conn.execute(select(func.count()).select_from(table).where(self.own(table))).scalar_one()
                )

            return {
                "certificates": count(t.certificates),
                "revocations": count(t.revocations),
                "crls": count(t.crls),
                "audit_events": count(t.audit),
            }
