"""What the CA store holds: SQLAlchemy models and the small value objects read from them.

Import these from :mod:`thaisign.ca.store`, which re-exports them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from thaisign.errors import SerialNotFoundError, StoreError

#: RFC 5280 CRLReason names accepted by ``revoke`` and their codes.
REVOCATION_REASONS: dict[str, int] = {
    "unspecified": 0,
    "keyCompromise": 1,
    "cACompromise": 2,
    "affiliationChanged": 3,
    "superseded": 4,
    "cessationOfOperation": 5,
    "privilegeWithdrawn": 9,
}

CertStatus = Literal["good", "revoked", "unknown"]


def normalize_reason(text: str) -> str:
    """``key-compromise`` / ``key_compromise`` / ``keyCompromise`` -> ``keyCompromise``."""
    squashed = text.replace("-", "").replace("_", "").replace(" ", "").lower()
    for name in REVOCATION_REASONS:
        if name.lower() == squashed:
            return name
    raise StoreError(
        f"unknown revocation reason {text!r}",
        hint="use one of " + ", ".join(_kebab(n) for n in REVOCATION_REASONS),
    )


def _kebab(name: str) -> str:
    out = "".join("-" + c.lower() if c.isupper() else c for c in name)
    return out.replace("c-a-", "ca-")


def serial_hex(serial: int) -> str:
    """The canonical text form of a serial number: lowercase hex, no leading zeros."""
    return format(serial, "x")


def parse_serial(text: str | int) -> int:
    """A serial from hex text (``0x``, colons and spaces allowed) or an int."""
    if isinstance(text, int):
        return text
    t = text.strip().lower().replace(":", "").replace(" ", "")
    t = t.removeprefix("0x")
    try:
        return int(t, 16)
    except ValueError:
        raise SerialNotFoundError(
            f"not a serial number: {text!r}", hint="give it in hex, as shown by 'thaisign ca list'"
        ) from None


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None)


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- models ----------------------------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class CaRow(Base):
    __tablename__ = "ca"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    certificate: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class CertificateRow(Base):
    __tablename__ = "certificates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(String(48), unique=True)
    employee_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    name_th: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text, nullable=True)
    position: Mapped[str | None] = mapped_column(Text, nullable=True)
    email: Mapped[str | None] = mapped_column(Text, nullable=True)
    subject: Mapped[str] = mapped_column(Text)
    key_type: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # csr | new-key | token
    not_before: Mapped[dt.datetime] = mapped_column(DateTime)
    not_after: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime)
    sha256: Mapped[str] = mapped_column(String(64))
    der: Mapped[bytes] = mapped_column(LargeBinary)


class RevocationRow(Base):
    __tablename__ = "revocations"
    serial: Mapped[str] = mapped_column(String(48), ForeignKey("certificates.serial"), primary_key=True)
    revoked_at: Mapped[dt.datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(String(32))
    crl_entry: Mapped[bytes] = mapped_column(LargeBinary)  # the DER revokedCertificates entry


class CrlRow(Base):
    __tablename__ = "crls"
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    this_update: Mapped[dt.datetime] = mapped_column(DateTime)
    next_update: Mapped[dt.datetime] = mapped_column(DateTime)
    entries: Mapped[int] = mapped_column(Integer)
    der: Mapped[bytes] = mapped_column(LargeBinary)


class AuditRow(Base):
    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    time: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(32))
    serial: Mapped[str | None] = mapped_column(String(48), nullable=True, index=True)
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class CheckpointRow(Base):
    """Every signed checkpoint of the chain head (a copy: operators keep the files elsewhere)."""

    __tablename__ = "checkpoints"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    time: Mapped[dt.datetime] = mapped_column(DateTime)
    head: Mapped[str] = mapped_column(String(64))
    crl_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    der: Mapped[bytes] = mapped_column(LargeBinary)


class MetaRow(Base):
    """Store settings, e.g. ``schema`` = the layout version (absent: version 1)."""

    __tablename__ = "store_meta"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


#: 2: every certificate, revocation and CRL row is carried by its audit entry; checkpoints.
SCHEMA_VERSION = 2


# --- table sets: one CA per database (a CA folder), or many CAs keyed by ``ca_id`` -----------------


@dataclass(frozen=True)
class StoreTables:
    """The tables a :class:`~thaisign.ca.store.CertificateStore` reads and writes.

    ``scoped``: the tables hold many CAs, each row keyed by a ``ca_id`` column (the ``ca`` table
    by its ``id``), as :func:`scoped_tables` makes them; otherwise one CA (``ca.id`` = 1) owns them.
    The rows bound into the audit chain are the same either way: ``ca_id`` (and the ``id`` keys
    the database assigns) are never part of them.
    """

    ca: Table
    certificates: Table
    revocations: Table
    crls: Table
    audit: Table
    checkpoints: Table
    scoped: bool = False

    @property
    def metadata(self) -> MetaData:
        return self.ca.metadata


#: the tables of a CA folder's store (``ca.db``, or its own PostgreSQL database)
FOLDER_TABLES = StoreTables(
    ca=CaRow.__table__,  # type: ignore[arg-type]
    certificates=CertificateRow.__table__,  # type: ignore[arg-type]
    revocations=RevocationRow.__table__,  # type: ignore[arg-type]
    crls=CrlRow.__table__,  # type: ignore[arg-type]
    audit=AuditRow.__table__,  # type: ignore[arg-type]
    checkpoints=CheckpointRow.__table__,  # type: ignore[arg-type]
)

_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only


def _certificate_columns() -> list[Column[Any]]:
    """The columns of :class:`CertificateRow` but ``id``, without its single-CA uniqueness/indexes."""
    return [
        Column(c.name, c.type, nullable=c.nullable)
        for c in CertificateRow.__table__.columns
        if c.name != "id"
    ]


def scoped_tables(metadata: MetaData, prefix: str) -> StoreTables:
    """The CA tables for a database that holds many CAs: the folder's columns plus ``ca_id``.

    Writers of different CAs do not wait for each other (each CA has its own audit chain and
    write lock); ``audit.id`` numbers every entry of every CA in commit order on SQLite and in
    allocation order on PostgreSQL (a feed for readers that follow all CAs).
    """
    ca = Table(
        f"{prefix}cas",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", Text, nullable=False),
        Column("certificate", LargeBinary, nullable=True),
        Column("created_at", DateTime, nullable=False),
    )
    certificates = Table(
        f"{prefix}certificates",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("ca_id", Integer, ForeignKey(ca.c.id), nullable=False),
        *_certificate_columns(),
        UniqueConstraint("ca_id", "serial", name=f"{prefix}certificates_ca_serial"),
        Index(f"{prefix}certificates_ca_not_after", "ca_id", "not_after"),
        Index(f"{prefix}certificates_ca_employee", "ca_id", "employee_id"),
        Index(f"{prefix}certificates_sha256", "sha256"),
    )
    revocations = Table(
        f"{prefix}revocations",
        metadata,
        Column("ca_id", Integer, primary_key=True),
        Column("serial", String(48), primary_key=True),
        Column("revoked_at", DateTime, nullable=False),
        Column("reason", String(32), nullable=False),
        Column("crl_entry", LargeBinary, nullable=False),
        ForeignKeyConstraint(["ca_id", "serial"], [certificates.c.ca_id, certificates.c.serial]),
    )
    crls = Table(
        f"{prefix}crls",
        metadata,
        Column("ca_id", Integer, primary_key=True),
        Column("number", Integer, primary_key=True, autoincrement=False),
        Column("this_update", DateTime, nullable=False),
        Column("next_update", DateTime, nullable=False),
        Column("entries", Integer, nullable=False),
        Column("der", LargeBinary, nullable=False),
    )
    audit = Table(
        f"{prefix}audit",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("ca_id", Integer, nullable=False),
        Column("seq", Integer, nullable=False),
        Column("time", String(40), nullable=False),
        Column("action", String(32), nullable=False),
        Column("serial", String(48), nullable=True),
        Column("details", Text, nullable=False),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
        UniqueConstraint("ca_id", "seq", name=f"{prefix}audit_ca_seq"),
        Index(f"{prefix}audit_ca_serial", "ca_id", "serial"),
    )
    checkpoints = Table(
        f"{prefix}checkpoints",
        metadata,
        Column("ca_id", Integer, primary_key=True),
        Column("seq", Integer, primary_key=True, autoincrement=False),
        Column("time", DateTime, nullable=False),
        Column("head", String(64), nullable=False),
        Column("crl_number", Integer, nullable=True),
        Column("der", LargeBinary, nullable=False),
    )
    return StoreTables(ca, certificates, revocations, crls, audit, checkpoints, scoped=True)


# --- value objects ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateStatus:
    """What OCSP and CRLs say about one serial."""

    status: CertStatus
    revoked_at: dt.datetime | None = None
    reason: str | None = None  # RFC 5280 reason name, e.g. "keyCompromise"

    @property
    def reason_code(self) -> int | None:
        return None if self.reason is None else REVOCATION_REASONS[self.reason]


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate in the store, with its revocation if any."""

    serial: int
    name_th: str
    name_en: str | None
    position: str | None
    email: str | None
    employee_id: str | None
    subject: str
    key_type: str
    source: str
    not_before: dt.datetime
    not_after: dt.datetime
    issued_at: dt.datetime
    sha256: str
    der: bytes
    revoked_at: dt.datetime | None = None
    revocation_reason: str | None = None

    @property
    def serial_hex(self) -> str:
        return serial_hex(self.serial)

    def status(self, at: dt.datetime | None = None) -> str:
        """``valid``, ``revoked`` or ``expired`` (at ``at``, default now)."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if (at or utcnow()) > self.not_after else "valid"

    def to_json(self, at: dt.datetime | None = None) -> dict[str, Any]:
        return {
            "serial": self.serial_hex,
            "status": self.status(at),
            "name_th": self.name_th,
            "name_en": self.name_en,
            "position": self.position,
            "email": self.email,
            "employee_id": self.employee_id,
            "subject": self.subject,
            "key_type": self.key_type,
            "source": self.source,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "issued_at": self.issued_at.isoformat(),
            "sha256": self.sha256,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revocation_reason": self.revocation_reason,
        }


@dataclass(frozen=True)
class NewCertificate:
    """A signed certificate about to be recorded (built by the authority)."""

    serial: int
    name_th: str
    name_en: str | None
    position: str | None
    email: str | None
    employee_id: str | None
    subject: str
    key_type: str
    source: str
    not_before: dt.datetime
    not_after: dt.datetime
    der: bytes
    #: SHA-256 of the PKCS#12 file the new key was delivered in (recorded in the audit entry)
    pkcs12_sha256: str | None = None

    def row(self, issued_at: dt.datetime) -> dict[str, Any]:
        return {
            "serial": serial_hex(self.serial),
            "employee_id": self.employee_id,
            "name_th": self.name_th,
            "name_en": self.name_en,
            "position": self.position,
            "email": self.email,
            "subject": self.subject,
            "key_type": self.key_type,
            "source": self.source,
            "not_before": _naive(self.not_before),
            "not_after": _naive(self.not_after),
            "issued_at": _naive(issued_at),
            "sha256": hashlib.sha256(self.der).hexdigest(),
            "der": self.der,
        }


class DuplicateSerialError(StoreError):
    """A serial number is in the store already (the caller draws a new one and retries)."""


@dataclass(frozen=True)
class WriteGuard:
    """A query run inside a write transaction, after the CA's lock: the write goes on only if it
    returns ``expected`` (a row as a tuple, or None); else :class:`GuardFailed` and nothing is
    written. ``sql`` is in the store's placeholder style, e.g. the platform chain's head, so that
    what a writer read before (and cached) is still what the database holds when it commits."""

    sql: str
    params: Mapping[str, Any]
    expected: tuple[Any, ...] | None


class GuardFailed(StoreError):
    """A :class:`WriteGuard` found the database changed: nothing was written (read anew, retry)."""
