"""The service's hash-chained audit log, in its own table, built on :mod:`thaisign.ca.audit`.

Entries have the CA log's shape and hash (``seq``, ``time``, ``action``, ``serial``, ``details``,
``prev_hash``, ``hash``; see :func:`thaisign.ca.audit.entry_hash`), so ``verify_chain`` checks
both. Appends are serialised: on PostgreSQL by a transaction advisory lock of the service's own,
on SQLite by the write lock every service transaction takes (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, func, insert, select
from sqlalchemy.engine import Connection

from thaisign.ca.audit import GENESIS_HASH, AuditEntry, AuditVerification, entry_hash, verify_chain

#: one advisory lock serialises the appends of every replica ("tscs")
AUDIT_LOCK_KEY = 0x74736373

#: (action, certificate serial or None, details)
Event = tuple[str, str | None, dict[str, Any]]


def audit_table(metadata: MetaData, name: str = "csc_audit") -> Table:
    """The audit table (same columns as the CA's ``audit_events``)."""
    return Table(
        name,
        metadata,
        Column("seq", Integer, primary_key=True, autoincrement=False),
        Column("time", String(40), nullable=False),
        Column("action", String(40), nullable=False),
        Column("serial", String(48), nullable=True),
        Column("details", Text, nullable=False),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
    )


def chain_rows(
    last: tuple[int, str] | None, events: Sequence[Event], at: dt.datetime
) -> list[dict[str, Any]]:
    """The rows that continue the chain after ``last`` (its seq and hash; None for an empty log)."""
    seq, prev = last if last else (0, GENESIS_HASH)
    time = at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    rows = []
    for action, serial, details in events:
        seq += 1
        digest = entry_hash(seq, time, action, serial, details, prev)
        rows.append(
            {
                "seq": seq,
                "time": time,
                "action": action,
                "serial": serial,
                "details": json.dumps(details, sort_keys=True, ensure_ascii=False),
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    return rows


def append(conn: Connection, table: Table, events: Sequence[Event], at: dt.datetime) -> None:
    """Append ``events`` inside the caller's transaction (serialised with every other writer)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(AUDIT_LOCK_KEY)))
    last = conn.execute(select(table.c.seq, table.c.hash).order_by(table.c.seq.desc()).limit(1)).first()
    conn.execute(insert(table), chain_rows((int(last[0]), str(last[1])) if last else None, events, at))


def entries(conn: Connection, table: Table, *, action: str | None = None) -> list[AuditEntry]:
    """Every entry (or every entry of one action), oldest first."""
    query = select(table).order_by(table.c.seq)
    if action is not None:
        query = query.where(table.c.action == action)
    return [
        AuditEntry(r.seq, r.time, r.action, r.serial, json.loads(r.details), r.prev_hash, r.hash)
        for r in conn.execute(query)
    ]


def verify(conn: Connection, table: Table) -> AuditVerification:
    """Check every link; :class:`thaisign.errors.AuditChainError` names the first break."""
    return verify_chain(entries(conn, table))
