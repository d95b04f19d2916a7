"""The signHash transaction in hand-written SQL: measured as the service's hot path.

One signature costs three round trips to PostgreSQL, pipelined (psycopg pipeline mode): consume
the SAD (``UPDATE ... WHERE used_at IS NULL ... RETURNING``, which only one transaction of all
replicas can win); take the audit lock and read the chain head; append the audit entry and
commit. The HSM signs between the first and the second, so the lock that serialises the audit
chain is held for one round trip only. SQLite runs the same statements in ``BEGIN IMMEDIATE``.

The SQLAlchemy versions in :mod:`thaisign.service.store` and :mod:`thaisign.service.audit` are
the reference: the audit chain this writes is read and verified through them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

from thaisign.errors import StoreError
from thaisign.service.audit import AUDIT_LOCK_KEY, Event, chain_rows
from thaisign.service.store import SadRecord, ServiceStore, naive

# the credential's status comes back with the SAD (a scalar subquery: SQLite's RETURNING cannot
# name the tables of an UPDATE ... FROM); {where} picks one SAD or several
_CONSUME = (
    "UPDATE csc_sads SET used_at = %(now)s, used_by = %(by)s "
    "WHERE {where} AND used_at IS NULL "
    "RETURNING sad_hash, credential_id, subject, client_id, hash_algo, hashes, num_signatures, expires_at, "
    "(SELECT c.status FROM csc_credentials c WHERE c.id = csc_sads.credential_id)"
)
_LAST = "SELECT seq, hash FROM csc_audit ORDER BY seq DESC LIMIT 1"
_INSERT = (
    "INSERT INTO csc_audit (seq, time, action, serial, details, prev_hash, hash) "
    "VALUES (%(seq)s, %(time)s, %(action)s, %(serial)s, %(details)s, %(prev_hash)s, %(hash)s)"
)


def _sqlite(sql: str) -> str:
    import re

    return re.sub(r"%\((\w+)\)s", r":\1", sql)


def _when(value: Any) -> dt.datetime:
    t = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


class SignTransaction:
    """The statements of one signHash, on one DB-API connection."""

    def __init__(self, cursor: Any, sqlite: bool) -> None:
        self._cur = cursor
        self._sqlite = sqlite

    def consume_sad(self, sad_hash: str, now: dt.datetime, replica: str) -> tuple[SadRecord, str] | None:
        """Mark the SAD used; (what it authorised, the credential's status), or None if unknown/used."""
        return self.consume_sads([sad_hash], now, replica).get(sad_hash)

    def consume_sads(
        self, sad_hashes: Sequence[str], now: dt.datetime, replica: str
    ) -> dict[str, tuple[SadRecord, str]]:
        """Mark several SADs used in one statement; the ones that were still unused, by hash."""
        when: Any = naive(now)
        params: dict[str, Any] = {"by": replica[:64]}
        if self._sqlite:
            params["now"] = when.isoformat(" ")  # the text form SQLAlchemy stores on SQLite
            names = [f"h{i}" for i in range(len(sad_hashes))]
            params |= dict(zip(names, sad_hashes, strict=True))
            sql = _sqlite(_CONSUME.format(where="sad_hash IN (" + ", ".join(f"%({n})s" for n in names) + ")"))
        else:
            params |= {"now": when, "hs": list(sad_hashes)}
            sql = _CONSUME.format(where="sad_hash = ANY(%(hs)s)")
        self._cur.execute(sql, params)
        out = {}
        for row in self._cur.fetchall():
            record = SadRecord(
                row[1], row[2], row[3], row[4], tuple(json.loads(row[5])), int(row[6]), _when(row[7])
            )
            out[str(row[0])] = (record, str(row[8]))
        return out

    def append_audit(self, events: Sequence[Event], at: dt.datetime) -> None:
        if not self._sqlite:
            self._cur.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK_KEY,))
        self._cur.execute(_LAST)
        last = self._cur.fetchone()
        rows = chain_rows((int(last[0]), str(last[1])) if last else None, events, at)
        self._cur.executemany(_sqlite(_INSERT) if self._sqlite else _INSERT, rows)


@contextlib.contextmanager
def sign_transaction(store: ServiceStore) -> Iterator[SignTransaction]:
    """One serialisable unit: commits when the block ends, rolls back on any exception."""
    dbapi = store.engine.dialect.loaded_dbapi
    try:
        raw = store.engine.raw_connection()
    except Exception as exc:
        raise StoreError(f"cannot reach the service database: {str(exc).splitlines()[0]}") from None
    driver: Any = raw.driver_connection
    try:
        if store.is_sqlite:
            cur = raw.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield SignTransaction(cur, True)
            except BaseException:
                if driver.in_transaction:
                    cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        else:
            try:
                with driver.pipeline():
                    yield SignTransaction(driver.cursor(), False)
                    driver.commit()
            except BaseException:
                with contextlib.suppress(Exception):
                    driver.rollback()
                raise
    except dbapi.OperationalError as exc:
        raw.invalidate()
        raise StoreError(
            f"cannot use the service database: {str(exc).strip().splitlines()[0]}",
            hint="check that the database server is running and reachable",
        ) from None
    except dbapi.Error as exc:
        raise StoreError(f"service database error: {str(exc).strip().splitlines()[0]}") from None
    finally:
        raw.close()
