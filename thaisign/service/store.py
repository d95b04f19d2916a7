"""The service's database: enrollment requests, credentials, SADs and the audit chain.

State lives here and nowhere else, so any number of replicas can share one PostgreSQL: a SAD is
consumed by one ``UPDATE ... WHERE used_at IS NULL RETURNING`` that only one transaction can
win, failure counters are incremented in the row, and the audit chain is appended under an
advisory lock. SQLite (``DIR/service.db``) serves a trial on one machine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    exc,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection

from thaisign._sqlite import sqlite_engine
from thaisign.ca.audit import AuditEntry, AuditVerification
from thaisign.errors import StoreError
from thaisign.service import audit

metadata = MetaData()

enrollments = Table(
    "csc_enrollments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("subject", String(255), nullable=False, index=True),
    Column("client_id", String(255), nullable=True),
    Column("status", String(16), nullable=False),  # pending | approved | rejected
    Column("details", Text, nullable=False),  # JSON: the officer's names, position, ...
    Column("pin_hash", Text, nullable=True),
    Column("requested_at", DateTime, nullable=False),
    Column("decided_at", DateTime, nullable=True),
    Column("decided_by", String(255), nullable=True),
    Column("reason", Text, nullable=True),
    Column("credential_id", String(64), nullable=True),
    Column("secret_delivered", Boolean, nullable=False, default=False),
)

credentials = Table(
    "csc_credentials",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("subject", String(255), nullable=False, index=True),
    Column("enrollment_id", String(40), nullable=True),
    Column("key_uri", Text, nullable=False),
    Column("key_spec", String(16), nullable=False),
    Column("certificate", LargeBinary, nullable=False),
    Column("chain_pem", Text, nullable=False),
    Column("serial", String(48), nullable=False),
    Column("status", String(16), nullable=False),  # active | disabled
    Column("factor", String(8), nullable=False),  # pin | totp
    Column("pin_hash", Text, nullable=True),
    Column("totp_secret", LargeBinary, nullable=True),  # sealed with DIR/secret.key
    Column("totp_last_step", BigInteger, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("description", Text, nullable=True),
)

sads = Table(
    "csc_sads",
    metadata,
    Column("sad_hash", String(64), primary_key=True),  # SHA-256 of the SAD: the SAD itself is never stored
    Column("credential_id", String(64), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("hash_algo", String(64), nullable=False),
    Column("hashes", Text, nullable=False),  # JSON list of base64 digests
    Column("num_signatures", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False, index=True),
    Column("used_at", DateTime, nullable=True),
    Column("used_by", String(64), nullable=True),
)

audit_events = audit.audit_table(metadata)


def naive(t: dt.datetime) -> dt.datetime:
    """UTC without tzinfo, as stored."""
    return t.astimezone(dt.UTC).replace(tzinfo=None)


def aware(t: dt.datetime | None) -> dt.datetime | None:
    return None if t is None else t.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class SadRecord:
    """What a SAD authorised, as read back when it is consumed."""

    credential_id: str
    subject: str
    client_id: str
    hash_algo: str
    hashes: tuple[str, ...]
    num_signatures: int
    expires_at: dt.datetime


def _describe(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the database"


class ServiceStore:
    """The service database on a SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``)."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self.is_sqlite = engine.dialect.name == "sqlite"

    @classmethod
    def connect(cls, url: str) -> ServiceStore:
        try:
            if url.startswith("sqlite"):
                engine = sqlite_engine(url, busy_timeout_s=30, pool_size=4, max_overflow=8)
            else:
                # no pre-ping: it would cost a round trip per request; a broken connection is
                # invalidated by the error it raises and the next request gets a new one
                engine = create_engine(url, pool_size=4, max_overflow=8, pool_recycle=1800)
        except (exc.ArgumentError, exc.NoSuchModuleError) as e:
            raise StoreError(
                f"not a usable database URL: {e}", hint="e.g. postgresql+psycopg://host/db"
            ) from None
        return cls(engine, url)

    def create_schema(self) -> None:
        with self._errors():
            metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except exc.OperationalError as e:
            first = str(e.orig).strip().splitlines()[0] if e.orig else str(e).splitlines()[0]
            raise StoreError(
                f"cannot use the service database {_describe(self.url)}: {first}",
                hint="check that the database server is running and reachable",
            ) from None
        except exc.DBAPIError as e:
            first = str(e.orig).strip().splitlines()[0] if e.orig else str(e).splitlines()[0]
            raise StoreError(f"service database error: {first}") from None

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction (``BEGIN IMMEDIATE`` on SQLite): commits on success, rolls back on error."""
        with self._errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self._errors(), self.engine.connect() as conn:
            yield conn

    # --- audit -----------------------------------------------------------------------------

    def append_audit(self, conn: Connection, events: Sequence[audit.Event], at: dt.datetime) -> None:
        audit.append(conn, audit_events, events, at)

    def audit_entries(self, action: str | None = None) -> list[AuditEntry]:
        with self.read() as conn:
            return audit.entries(conn, audit_events, action=action)

    def verify_audit(self) -> AuditVerification:
        with self.read() as conn:
            return audit.verify(conn, audit_events)

    # --- enrollment requests ---------------------------------------------------------------

    def enrollment(self, conn: Connection, request_id: str, *, lock: bool = False) -> Any:
        query = select(enrollments).where(enrollments.c.id == request_id)
        if lock and not self.is_sqlite:
            query = query.with_for_update()
        return conn.execute(query).first()

    def enrollments_of(self, subject: str | None, status: str | None = None) -> list[Any]:
        query = select(enrollments).order_by(enrollments.c.requested_at)
        if subject is not None:
            query = query.where(enrollments.c.subject == subject)
        if status is not None:
            query = query.where(enrollments.c.status == status)
        with self.read() as conn:
            return list(conn.execute(query))

    # --- credentials -----------------------------------------------------------------------

    def credential(self, credential_id: str, conn: Connection | None = None, *, lock: bool = False) -> Any:
        query = select(credentials).where(credentials.c.id == credential_id)
        if lock and not self.is_sqlite:
            query = query.with_for_update()
        if conn is not None:
            return conn.execute(query).first()
        with self.read() as c:
            return c.execute(query).first()

    def credential_ids(self, subject: str | None, *, offset: int = 0, limit: int = 100) -> list[str]:
        query = select(credentials.c.id).order_by(credentials.c.created_at, credentials.c.id)
        if subject is not None:
            query = query.where(credentials.c.subject == subject)
        with self.read() as conn:
            return [r[0] for r in conn.execute(query.offset(offset).limit(limit))]

    def all_credentials(self) -> list[Any]:
        with self.read() as conn:
            return list(conn.execute(select(credentials).order_by(credentials.c.created_at)))

    def update_credential(self, conn: Connection, credential_id: str, **values: Any) -> None:
        conn.execute(update(credentials).where(credentials.c.id == credential_id).values(**values))

    def add_failure(self, conn: Connection, credential_id: str) -> int:
        """Count one wrong PIN/OTP (atomically); returns the new count."""
        row = conn.execute(
            update(credentials)
            .where(credentials.c.id == credential_id)
            .values(failures=credentials.c.failures + 1)
            .returning(credentials.c.failures)
        ).first()
        return int(row[0]) if row else 0

    # --- SADs ------------------------------------------------------------------------------

    def add_sad(
        self,
        conn: Connection,
        sad_hash: str,
        record: SadRecord,
        now: dt.datetime,
    ) -> None:
        conn.execute(
            insert(sads).values(
                sad_hash=sad_hash,
                credential_id=record.credential_id,
                subject=record.subject,
                client_id=record.client_id,
                hash_algo=record.hash_algo,
                hashes=json.dumps(list(record.hashes)),
                num_signatures=record.num_signatures,
                created_at=naive(now),
                expires_at=naive(record.expires_at),
            )
        )

    def consume_sad(
        self, conn: Connection, sad_hash: str, now: dt.datetime, replica: str
    ) -> SadRecord | None:
        """Mark the SAD used; None when it is unknown or was used already (by any replica)."""
        row = conn.execute(
            update(sads)
            .where(sads.c.sad_hash == sad_hash, sads.c.used_at.is_(None))
            .values(used_at=naive(now), used_by=replica[:64])
            .returning(
                sads.c.credential_id,
                sads.c.subject,
                sads.c.client_id,
                sads.c.hash_algo,
                sads.c.hashes,
                sads.c.num_signatures,
                sads.c.expires_at,
            )
        ).first()
        if row is None:
            return None
        return SadRecord(
            row.credential_id,
            row.subject,
            row.client_id,
            row.hash_algo,
            tuple(json.loads(row.hashes)),
            int(row.num_signatures),
            aware(row.expires_at),  # type: ignore[arg-type]
        )

    def purge_sads(self, before: dt.datetime) -> int:
        """Delete SADs that expired before ``before`` (used or not); returns how many."""
        with self.write() as conn:
            return int(conn.execute(delete(sads).where(sads.c.expires_at < naive(before))).rowcount or 0)

    def counts(self) -> dict[str, int]:
        with self.read() as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in (
                    ("enrollments", enrollments),
                    ("credentials", credentials),
                    ("sads", sads),
                    ("audit_events", audit_events),
                )
            }
