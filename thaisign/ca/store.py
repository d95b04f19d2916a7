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
import datetime as dt
import getpass
import hashlib
import os
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, exc, func, insert, select, update
from sqlalchemy.engine import Connection

from thaisign._sqlite import sqlite_engine
from thaisign.ca._records import (
    REVOCATION_REASONS,
    SCHEMA_VERSION,
    AuditRow,
    Base,
    CaRow,
    CertificateRow,
    CertificateStatus,
    CertStatus,
    CheckpointRow,
    CrlRow,
    DuplicateSerialError,
    IssuedCertificate,
    MetaRow,
    NewCertificate,
    RevocationRow,
    _aware,
    _naive,
    normalize_reason,
    parse_serial,
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
    "IssuedCertificate",
    "NewCertificate",
    "RevocationRow",
    "normalize_reason",
    "parse_serial",
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


def _operator() -> str:
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
    """The CA's database. Open with :meth:`open` (a CA folder) or :meth:`connect` (a URL)."""

    def __init__(self, engine: Engine, url: str) -> None:
        self._engine = engine
        self.url = url
        self.is_sqlite = engine.dialect.name == "sqlite"

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
    def connect(cls, url: str) -> CertificateStore:
        """A store on a SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``)."""
        try:
            if url.startswith("sqlite"):
                engine = _sqlite_engine(url)
            else:
                engine = create_engine(
                    url, pool_pre_ping=True, pool_size=2, max_overflow=2, connect_args={"connect_timeout": 5}
                )
        except (exc.ArgumentError, exc.NoSuchModuleError) as e:
            raise StoreError(
                f"not a usable database URL: {e}", hint="e.g. postgresql+psycopg://host/db"
            ) from None
        return cls(engine, url)

    def create_schema(self) -> None:
        """Create the tables (in a new database), at the current layout version."""
        with self._errors():
            Base.metadata.create_all(self._engine)
        with self._write() as conn:
            if conn.execute(select(MetaRow.value).where(MetaRow.name == "schema")).first() is None:
                conn.execute(insert(MetaRow).values(name="schema", value=str(SCHEMA_VERSION)))

    def is_empty(self) -> bool:
        with self._errors(), self._engine.connect() as conn:
            from sqlalchemy import inspect

            if not inspect(conn).has_table("ca"):
                return True
            return conn.execute(select(func.count()).select_from(CaRow)).scalar_one() == 0

    def _check_schema(self) -> None:
        with self._errors(), self._engine.connect() as conn:
            from sqlalchemy import inspect

            if not inspect(conn).has_table("certificates"):
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

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        """One serialised write transaction (commits on success, rolls back on any error)."""
        with self._errors(), self._engine.connect() as conn:
            conn = conn.execution_options(thaisign_write=True)
            with conn.begin():
                if not self.is_sqlite:
                    conn.execute(select(func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
                yield conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._errors(), self._engine.connect() as conn:
            yield conn

    # --- audit -----------------------------------------------------------------------------

    @staticmethod
    def _audit_rows(
        last: tuple[int, str] | None,
        events: Sequence[tuple[str, str | None, dict[str, Any]]],
        at: dt.datetime | None,
    ) -> list[dict[str, Any]]:
        """The audit rows that continue the chain after ``last`` (seq, hash)."""
        operator = _operator()
        return next_entries(
            last, [(a, serial, {**d, "operator": operator}) for a, serial, d in events], at or utcnow()
        )

    def _append_audit(
        self,
        conn: Connection,
        events: Sequence[tuple[str, str | None, dict[str, Any]]],
        at: dt.datetime | None = None,
    ) -> None:
        last = conn.execute(
            select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
        ).first()
        conn.execute(insert(AuditRow), self._audit_rows((last[0], last[1]) if last else None, events, at))

    _AUDIT_COLUMNS = (
        AuditRow.seq,
        AuditRow.time,
        AuditRow.action,
        AuditRow.serial,
        AuditRow.details,
        AuditRow.prev_hash,
        AuditRow.hash,
    )

    def audit_entries(self) -> list[AuditEntry]:
        """Every audit entry, oldest first."""
        with self._read() as conn:
            return [e.parsed() for e in self.stored_entries(conn)]

    def stored_entries(self, conn: Connection, *, after: int = 0) -> Iterator[StoredEntry]:
        """The audit entries after ``after`` as stored (details as text), oldest first, streamed."""
        q = select(*self._AUDIT_COLUMNS).where(AuditRow.seq > after).order_by(AuditRow.seq)
        for r in conn.execution_options(yield_per=2000).execute(q):
            yield StoredEntry(*r)

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
            row = conn.execute(
                select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
            ).first()
        return (int(row[0]), str(row[1])) if row else None

    def entry_hash_at(self, seq: int) -> str | None:
        """The stored hash of audit entry ``seq`` (None if there is none)."""
        with self._read() as conn:
            return conn.execute(select(AuditRow.hash).where(AuditRow.seq == seq)).scalar_one_or_none()

    # --- the CA record ---------------------------------------------------------------------

    def record_ca(self, name: str, certificate_der: bytes | None, *, at: dt.datetime | None = None) -> None:
        """Record the CA (at init), or its certificate (at install-cert), with an audit event."""
        now = at or utcnow()
        with self._write() as conn:
            existing = conn.execute(select(CaRow.id).where(CaRow.id == 1)).first()
            if existing is None:
                conn.execute(
                    insert(CaRow).values(id=1, name=name, certificate=certificate_der, created_at=_naive(now))
                )
                action = "init"
            else:
                conn.execute(update(CaRow).where(CaRow.id == 1).values(certificate=certificate_der))
                action = "install-cert"
            details: dict[str, Any] = {"name": name}
            if certificate_der:
                details["certificate_sha256"] = hashlib.sha256(certificate_der).hexdigest()
            row = conn.execute(select(*CaRow.__table__.columns).where(CaRow.id == 1)).mappings().one()
            details["row"] = encode_row(dict(row))
            self._append_audit(conn, [(action, None, details)], now)

    def ca_certificate_der(self) -> bytes | None:
        """The CA certificate as recorded in the store (None before install-cert)."""
        with self._read() as conn:
            return conn.execute(select(CaRow.certificate).where(CaRow.id == 1)).scalar_one_or_none()

    # --- certificates ----------------------------------------------------------------------

    def add_certificates(self, certs: Sequence[NewCertificate], *, at: dt.datetime | None = None) -> None:
        """Record issued certificates and their audit events in one transaction.

        Raises :class:`DuplicateSerialError` (and records nothing) if a serial is taken. This
        is the hot path of issuance, so it talks to the DB-API connection directly (same SQL
        on SQLite and PostgreSQL; only the placeholder style differs).
        """
        if not certs:
            return
        now = at or utcnow()
        rows = [c.row(now) for c in certs]
        events = [
            ("issue", row["serial"], _issue_details(row, c.pkcs12_sha256))
            for c, row in zip(certs, rows, strict=True)
        ]
        dbapi = self._engine.dialect.loaded_dbapi
        try:
            with self._raw_write() as cur:
                cur.executemany(self._sql_insert_cert, rows)
                cur.execute(self._sql_last_audit)
                row = cur.fetchone()
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

    def _sql(self, text: str) -> str:
        """``%(name)s`` placeholders (psycopg) turned into ``:name`` for sqlite3."""
        import re

        return re.sub(r"%\((\w+)\)s", r":\1", text) if self.is_sqlite else text

    @cached_property
    def _sql_insert_cert(self) -> str:
        cols = [c.name for c in CertificateRow.__table__.columns if c.name != "id"]
        values = ", ".join(f"%({c})s" for c in cols)
        return self._sql(f"INSERT INTO certificates ({', '.join(cols)}) VALUES ({values})")

    @cached_property
    def _sql_insert_audit(self) -> str:
        cols = ["seq", "time", "action", "serial", "details", "prev_hash", "hash"]
        values = ", ".join(f"%({c})s" for c in cols)
        return self._sql(f"INSERT INTO audit_events ({', '.join(cols)}) VALUES ({values})")

    _sql_last_audit = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"

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
                        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
                        yield cur
                        raw.commit()
                except BaseException:
                    raw.rollback()
                    raise
            cur.close()
        finally:
            raw.close()  # back to the pool

    def _select_certs(self) -> Any:
        return select(CertificateRow, RevocationRow.revoked_at, RevocationRow.reason).outerjoin(
            RevocationRow, RevocationRow.serial == CertificateRow.serial
        )

    @staticmethod
    def _issued(row: Any) -> IssuedCertificate:
        c: CertificateRow = row[0]
        return IssuedCertificate(
            serial=int(c.serial, 16),
            name_th=c.name_th,
            name_en=c.name_en,
            position=c.position,
            email=c.email,
            employee_id=c.employee_id,
            subject=c.subject,
            key_type=c.key_type,
            source=c.source,
            not_before=_aware(c.not_before),  # type: ignore[arg-type]
            not_after=_aware(c.not_after),  # type: ignore[arg-type]
            issued_at=_aware(c.issued_at),  # type: ignore[arg-type]
            sha256=c.sha256,
            der=c.der,
            revoked_at=_aware(row[1]),
            revocation_reason=row[2],
        )

    def get(self, serial: int | str) -> IssuedCertificate:
        """The certificate with this serial, or :class:`SerialNotFoundError`."""
        n = parse_serial(serial)
        from sqlalchemy.orm import Session

        with self._errors(), Session(self._engine) as session:
            row = session.execute(self._select_certs().where(CertificateRow.serial == serial_hex(n))).first()
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
        from sqlalchemy.orm import Session

        q = self._select_certs().order_by(CertificateRow.id)
        if employee_id is not None:
            q = q.where(CertificateRow.employee_id == employee_id)
        when = at or utcnow()
        if status == "revoked":
            q = q.where(RevocationRow.serial.is_not(None))
        elif status == "valid":
            q = q.where(RevocationRow.serial.is_(None), CertificateRow.not_after >= _naive(when))
        elif status == "expired":
            q = q.where(RevocationRow.serial.is_(None), CertificateRow.not_after < _naive(when))
        elif status is not None:
            raise StoreError(f"unknown status {status!r}", hint="use valid, revoked or expired")
        with self._errors(), Session(self._engine) as session:
            return [self._issued(r) for r in session.execute(q).all()]

    def issue_details(self, serials: Sequence[str], key: str) -> dict[str, Any]:
        """``details[key]`` of the issue entries of these serials (hex), where present."""
        import json

        out: dict[str, Any] = {}
        with self._read() as conn:
            for i in range(0, len(serials), 500):
                q = select(AuditRow.serial, AuditRow.details).where(
                    AuditRow.action == "issue", AuditRow.serial.in_(serials[i : i + 500])
                )
                for serial, text in conn.execute(q):
                    with contextlib.suppress(ValueError, AttributeError):
                        value = json.loads(text).get(key)
                        if value is not None and serial is not None:
                            out[serial] = value
        return out

    def issued_employee_ids(self) -> set[str]:
        """Employee IDs that hold a certificate that is not revoked (for batch re-runs)."""
        q = (
            select(CertificateRow.employee_id)
            .outerjoin(RevocationRow, RevocationRow.serial == CertificateRow.serial)
            .where(CertificateRow.employee_id.is_not(None), RevocationRow.serial.is_(None))
        )
        with self._read() as conn:
            return {r[0] for r in conn.execute(q) if r[0]}

    def status_of(self, serial: int) -> CertificateStatus:
        """``good``, ``revoked`` (with time and reason) or ``unknown`` for a serial number."""
        s = serial_hex(serial)
        q = (
            select(CertificateRow.id, RevocationRow.revoked_at, RevocationRow.reason)
            .outerjoin(RevocationRow, RevocationRow.serial == CertificateRow.serial)
            .where(CertificateRow.serial == s)
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
        s = serial_hex(serial)
        with self._write() as conn:
            known = conn.execute(select(CertificateRow.id).where(CertificateRow.serial == s)).first()
            if known is None:
                raise SerialNotFoundError(
                    f"no certificate with serial {s} in this CA", hint="list them with 'thaisign ca list DIR'"
                )
            already = conn.execute(select(RevocationRow.revoked_at).where(RevocationRow.serial == s)).first()
            if already is not None:
                when = _aware(already[0])
                raise AlreadyRevokedError(
                    f"certificate {s} is already revoked (since {when.isoformat() if when else '?'})"
                )
            row = {"serial": s, "revoked_at": _naive(revoked_at), "reason": reason, "crl_entry": crl_entry}
            conn.execute(insert(RevocationRow).values(**row))
            self._append_audit(conn, [("revoke", s, {"row": encode_row(row)})], revoked_at)

    def revoked_entries(self) -> list[bytes]:
        """The pre-encoded DER revokedCertificates entries, in revocation order."""
        with self._read() as conn:
            return [
                r[0] for r in conn.execute(select(RevocationRow.crl_entry).order_by(RevocationRow.revoked_at))
            ]

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
        with self._write() as conn:
            last = conn.execute(select(func.max(CrlRow.number))).scalar_one_or_none()
            number = (last or 0) + 1
            entries = [
                r[0] for r in conn.execute(select(RevocationRow.crl_entry).order_by(RevocationRow.revoked_at))
            ]
            der: bytes = build(number, entries)
            row = {
                "number": number,
                "this_update": _naive(this_update),
                "next_update": _naive(next_update),
                "entries": len(entries),
                "der": der,
            }
            conn.execute(insert(CrlRow).values(**row))
            bound = {**encode_row({k: v for k, v in row.items() if k != "der"})}
            bound["sha256"] = hashlib.sha256(der).hexdigest()
            self._append_audit(conn, [("crl", None, {"row": bound})], this_update)
            if checkpoint is not None:
                seq, head = conn.execute(
                    select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
                ).one()
                signed: bytes = checkpoint(int(seq), str(head), number)
                conn.execute(
                    insert(CheckpointRow).values(
                        seq=seq, time=_naive(this_update), head=head, crl_number=number, der=signed
                    )
                )
        return number, der

    def checkpoints(self, *, latest_only: bool = False) -> list[bytes]:
        """The signed checkpoints kept in the store (DER), newest first."""
        q = select(CheckpointRow.der).order_by(CheckpointRow.seq.desc())
        if latest_only:
            q = q.limit(1)
        with self._read() as conn:
            return [bytes(r[0]) for r in conn.execute(q)]

    def latest_crl(self) -> bytes | None:
        """The DER of the most recent CRL, or None if none was made yet."""
        with self._read() as conn:
            return conn.execute(
                select(CrlRow.der).order_by(CrlRow.number.desc()).limit(1)
            ).scalar_one_or_none()

    def counts(self) -> dict[str, int]:
        with self._read() as conn:
            return {
                "certificates": conn.execute(select(func.count()).select_from(CertificateRow)).scalar_one(),
                "revocations": conn.execute(select(func.count()).select_from(RevocationRow)).scalar_one(),
                "crls": conn.execute(select(func.count()).select_from(CrlRow)).scalar_one(),
                "audit_events": conn.execute(select(func.count()).select_from(AuditRow)).scalar_one(),
            }
