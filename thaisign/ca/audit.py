"""A hash-chained audit log whose entries carry the content of the rows they create.

Each entry holds a sequence number, a time, an action, the key of the row it is about (e.g. a
certificate serial), ``details`` (a JSON object: for a new row, the row itself, encoded with
:func:`encode_row`) and the SHA-256 of the previous entry. Its own hash covers all of that in a
canonical form (sorted-key compact JSON), so editing, deleting or reordering any entry breaks the
chain from there on; comparing a table with the rows its entries carry (:func:`compare_rows`)
shows every row added, deleted or changed behind the chain's back. A signed copy of the chain
head kept elsewhere (:mod:`thaisign.ca.checkpoint`) makes a cut-off tail visible too.

The mechanism knows nothing about certificates; any thaisign store can use it in three steps::

    rows = next_entries(last, [("sign", key, {"row": encode_row(row)})], time=now)
    conn.execute(insert(my_audit_table), rows)        # same transaction as the row itself
    check = check_chain(StoredEntry(*r) for r in conn.execute(select(my_audit_table)))
    problems = compare_rows("signatures", derived_rows, table_rows)   # derived from the entries

``details`` are stored as their canonical JSON text, so checking an entry costs one SHA-256 and
no JSON parsing (entries written before that form are checked by re-encoding them).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from thaisign.errors import AuditChainError

GENESIS_HASH = "0" * 64

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditVerification",
    "ChainCheck",
    "RowDifference",
    "StoredEntry",
    "canonical",
    "check_chain",
    "compare_rows",
    "details_text",
    "encode_row",
    "entry_hash",
    "next_entries",
    "row_digest",
    "row_text_digest",
    "verify_chain",
]


@dataclass(frozen=True)
class AuditEntry:
    """One audit event as stored."""

    seq: int
    time: str  # ISO 8601 UTC, microseconds
    action: str  # init, install-cert, issue, revoke, crl, upgrade, adopt
    serial: str | None  # key of the row the event is about (a certificate serial in hex), if any
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


class StoredEntry(NamedTuple):
    """An entry as read from its table, ``details`` still as stored text (cheap to check)."""

    seq: int
    time: str
    action: str
    serial: str | None
    details: str
    prev_hash: str
    hash: str

    def parsed(self) -> AuditEntry:
        return AuditEntry(
            self.seq, self.time, self.action, self.serial, json.loads(self.details), self.prev_hash, self.hash
        )


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


def details_text(details: Mapping[str, Any]) -> str:
    """The canonical JSON text of ``details``: how entries store them."""
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _hash_from_text(seq: int, time: str, action: str, serial: str | None, details: str, prev: str) -> str:
    """:func:`entry_hash` for details already in canonical text (the keys below are in sorted order)."""
    dumps = json.dumps
    doc = (
        f'{{"action":{dumps(action, ensure_ascii=False)},"details":{details},"prev_hash":{dumps(prev)},'
        f'"seq":{seq},"serial":{dumps(serial, ensure_ascii=False)},"time":{dumps(time, ensure_ascii=False)}}}'
    )
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


def stored_hash(entry: StoredEntry) -> str:
    """The hash ``entry`` should carry, computed from its stored form."""
    h = _hash_from_text(entry.seq, entry.time, entry.action, entry.serial, entry.details, entry.prev_hash)
    if h == entry.hash:
        return h
    try:  # written before details were stored canonically (or edited): re-encode them
        details = json.loads(entry.details)
    except ValueError:
        return h
    if not isinstance(details, dict):
        return h
    return entry_hash(entry.seq, entry.time, entry.action, entry.serial, details, entry.prev_hash)


def next_entries(
    last: tuple[int, str] | None,
    events: Sequence[tuple[str, str | None, Mapping[str, Any]]],
    time: dt.datetime,
) -> list[dict[str, Any]]:
    """The rows (``seq, time, action, serial, details, prev_hash, hash``) that continue the chain.

    ``last`` is the (seq, hash) of the newest entry, or None for an empty log; ``events`` are
    (action, key, details). Insert the rows in the same transaction as the change they record,
    under a lock that serialises writers.
    """
    seq, prev = last if last else (0, GENESIS_HASH)
    when = time.astimezone(dt.UTC).isoformat(timespec="microseconds")
    rows = []
    for action, serial, details in events:
        seq += 1
        text = details_text(details)
        h = _hash_from_text(seq, when, action, serial, text, prev)
        rows.append(
            {
                "seq": seq,
                "time": when,
                "action": action,
                "serial": serial,
                "details": text,
                "prev_hash": prev,
                "hash": h,
            }
        )
        prev = h
    return rows


@dataclass(frozen=True)
class AuditVerification:
    """The result of checking the chain: how many entries, and the last hash (the chain head)."""

    entries: int
    head: str


@dataclass(frozen=True)
class ChainCheck:
    """What :func:`check_chain` found: entries read, the head, and every break (empty: intact)."""

    entries: int
    head: str
    breaks: tuple[str, ...] = ()
    hashes: dict[int, str] = field(default_factory=dict, repr=False)  # seq -> hash, as stored

    @property
    def intact(self) -> bool:
        return not self.breaks


_HINT = "the log was edited outside thaisign; restore the database from a backup"


def check_chain(entries: Iterable[StoredEntry | AuditEntry], *, keep_hashes: bool = False) -> ChainCheck:
    """Check every link without stopping at the first break; never raises."""
    breaks: list[str] = []
    prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    hashes: dict[int, str] = {}
    for e in entries:
        count += 1
        if e.seq != expected_seq:
            if e.seq > expected_seq:
                missing = f"{expected_seq}" if e.seq == expected_seq + 1 else f"{expected_seq}-{e.seq - 1}"
                breaks.append(f"audit entries {missing} are missing (the next one is {e.seq})")
            else:
                breaks.append(f"audit entry {e.seq} appears out of order")
        elif e.prev_hash != prev:
            breaks.append(f"audit entry {e.seq} does not carry the previous entry's hash")
        if isinstance(e, StoredEntry):
            computed = stored_hash(e)
        else:
            computed = entry_hash(e.seq, e.time, e.action, e.serial, e.details, e.prev_hash)
        if computed != e.hash:
            breaks.append(f"audit entry {e.seq} ({e.action}): its content does not match its hash")
        if keep_hashes:
            hashes[e.seq] = e.hash
        prev = e.hash
        expected_seq = e.seq + 1
    return ChainCheck(count, prev, tuple(breaks), hashes)


def verify_chain(entries: Iterable[AuditEntry | StoredEntry]) -> AuditVerification:
    """Check every link; raise :class:`AuditChainError` naming the first broken entry."""
    check = check_chain(entries)
    if check.breaks:
        raise AuditChainError(f"audit log broken: {check.breaks[0]}", hint=_HINT)
    return AuditVerification(check.entries, check.head)


# --- rows bound into entries -------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if value is None or type(value) in (str, int):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.datetime):
        aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return aware.isoformat()
    return value


def encode_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as JSON values: bytes in base64, datetimes as ISO 8601 UTC (naive ones taken as UTC).

    Encode the row the same way when you write its entry and when you read it back from the
    table; then equal rows encode equally whatever the database returns.
    """
    return {k: _encode(v) for k, v in row.items()}


def row_digest(encoded: Mapping[str, Any]) -> str:
    """SHA-256 of an encoded row's canonical JSON (to compare large tables in little memory)."""
    return hashlib.sha256(details_text(encoded).encode("utf-8")).hexdigest()


def row_text_digest(details: str) -> str | None:
    """:func:`row_digest` of the ``row`` in stored canonical details whose last key is ``row``,
    read without parsing them (None when the details are not of that shape)."""
    start = details.rfind(',"row":{')
    offset = 7
    if start < 0 and details.startswith('{"row":{'):
        start, offset = 0, 7
    if start < 0 or not details.endswith("}}"):
        return None
    return hashlib.sha256(details[start + offset : -1].encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RowDifference:
    """A row of ``table`` that differs from what the audit chain says: ``added`` (no entry made
    it), ``deleted`` (an entry made it, the table lacks it) or ``changed`` (``fields`` differ)."""

    table: str
    key: str
    kind: str  # added | deleted | changed
    fields: tuple[str, ...] = ()
    seq: int | None = None  # the entry that made (or last changed) the row

    def describe(self) -> str:
        where = f" (audit entry {self.seq})" if self.seq is not None else ""
        if self.kind == "added":
            return f"{self.table}: row {self.key} was added outside thaisign (no audit entry made it)"
        if self.kind == "deleted":
            return f"{self.table}: row {self.key} was deleted outside thaisign{where}"
        return f"{self.table}: row {self.key} was changed outside thaisign{where}: {', '.join(self.fields)}"


def compare_rows(
    table: str,
    expected: Mapping[str, tuple[int | None, Mapping[str, Any]]],
    actual: Mapping[str, Mapping[str, Any]],
) -> list[RowDifference]:
    """Every difference between the rows the chain made (key -> (entry seq, encoded row)) and the
    table (key -> encoded row). Only the fields the chain knows are compared."""
    out: list[RowDifference] = []
    for key, (seq, want) in expected.items():
        have = actual.get(key)
        if have is None:
            out.append(RowDifference(table, key, "deleted", seq=seq))
            continue
        changed = tuple(sorted(f for f, v in want.items() if f not in have or have[f] != v))
        if changed:
            out.append(RowDifference(table, key, "changed", changed, seq))
    out.extend(RowDifference(table, key, "added") for key in actual if key not in expected)
    return sorted(out, key=lambda d: (d.table, d.kind, d.key))
