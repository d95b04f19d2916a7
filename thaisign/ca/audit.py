"""The CA's audit log: append-only, each entry carrying the SHA-256 of the previous one.

An entry's hash covers its canonical form (sorted-key compact JSON of seq, time, action,
serial, details and the previous hash), so editing, deleting or reordering any entry breaks
the chain from there on. :func:`verify_chain` finds the first break.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from thaisign.errors import AuditChainError

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    """One audit event as stored."""

    seq: int
    time: str  # ISO 8601 UTC, microseconds
    action: str  # init, install-cert, issue, revoke, crl
    serial: str | None  # certificate serial (hex) the event is about, if any
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "action": self.action,
            "serial": self.serial,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def canonical(
    seq: int, time: str, action: str, serial: str | None, details: dict[str, Any], prev_hash: str
) -> bytes:
    """The bytes an entry's hash is computed over."""
    doc = {
        "seq": seq,
        "time": time,
        "action": action,
        "serial": serial,
        "details": details,
        "prev_hash": prev_hash,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(
    seq: int, time: str, action: str, serial: str | None, details: dict[str, Any], prev_hash: str
) -> str:
    return hashlib.sha256(canonical(seq, time, action, serial, details, prev_hash)).hexdigest()


@dataclass(frozen=True)
class AuditVerification:
    """The result of checking the chain: how many entries, and the last hash (the chain head)."""

    entries: int
    head: str


def verify_chain(entries: Iterable[AuditEntry]) -> AuditVerification:
    """Check every link; raise :class:`AuditChainError` naming the first broken entry."""
    prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    for e in entries:
        if e.seq != expected_seq:
            raise AuditChainError(
                f"audit log broken: entry {expected_seq} is missing (next entry is {e.seq})",
                hint="the log was edited outside thaisign; restore the database from a backup",
            )
        if e.prev_hash != prev:
            raise AuditChainError(
                f"audit log broken at entry {e.seq}: it does not carry the previous entry's hash",
                hint="the log was edited outside thaisign; restore the database from a backup",
            )
        if entry_hash(e.seq, e.time, e.action, e.serial, e.details, e.prev_hash) != e.hash:
            raise AuditChainError(
                f"audit log broken at entry {e.seq} ({e.action}): its content does not match its hash",
                hint="the log was edited outside thaisign; restore the database from a backup",
            )
        prev = e.hash
        expected_seq += 1
        count += 1
    return AuditVerification(count, prev)
