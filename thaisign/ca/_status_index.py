"""Fast, live certificate-status reads for the OCSP responder.

:class:`CertificateStore.status_of` opens a pooled SQLAlchemy connection and a transaction per
call (~200 µs); an OCSP responder answering thousands of requests per second needs less. This
index keeps one raw DB-API connection per thread and:

- on SQLite, caches statuses in memory and drops the cache whenever ``PRAGMA data_version``
  says another connection committed (a revocation by ``thaisign ca revoke`` is seen at once);
- on PostgreSQL, runs one prepared indexed query per lookup.

A database error closes the connection and raises :class:`StoreError` (the responder answers
``tryLater``); the next lookup reconnects, so service recovers when the database is back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from thaisign.ca.ocsp import CertStatus
from thaisign.ca.store import CertificateRow, RevocationRow, serial_hex
from thaisign.errors import StoreError

__all__ = ["StatusIndex"]

_CERTS = CertificateRow.__tablename__
_REVOKED = RevocationRow.__tablename__


def _as_utc(value: Any) -> dt.datetime:
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


class StatusIndex:
    """``index(serial) -> CertStatus`` reading the CA store at ``url`` live."""

    def __init__(self, url: str, *, connect_timeout: float = 3.0, cache_size: int = 1_000_000) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        connect_args: dict[str, Any] = {}
        if self.is_sqlite:
            connect_args = {"timeout": connect_timeout, "check_same_thread": False}
        else:
            connect_args = {"connect_timeout": max(1, int(connect_timeout))}
        self._engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
        mark = "?" if self.is_sqlite else "%s"
        self._sql = (
            f"SELECT c.id, r.revoked_at, r.reason FROM {_CERTS} c "
            f"LEFT JOIN {_REVOKED} r ON r.serial = c.serial WHERE c.serial = {mark}"
        )
        self._local = threading.local()
        self._cache_size = cache_size
        self._generation = 0  # bumped by reset(): every thread reconnects on its next lookup

    # --- connection per thread -----------------------------------------------------------------

    def reset(self) -> None:
        """Make every thread open a new connection on its next lookup (the file was replaced)."""
        self._generation += 1

    def _conn(self) -> Any:
        conn: Any = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "generation", 0) != self._generation:
            self._drop()
            conn = None
        if conn is None:
            try:
                raw = self._engine.raw_connection()
            except Exception as exc:
                raise StoreError(f"CA database unreachable: {_first_line(exc)}") from None
            conn = raw.driver_connection
            if self.is_sqlite:
                conn.isolation_level = None  # autocommit: every read sees the latest commit
                conn.execute("PRAGMA query_only=ON")
            else:
                conn.autocommit = True
            self._local.raw = raw
            self._local.conn = conn
            self._local.cache = {}
            self._local.version = None
            self._local.generation = self._generation
        return conn

    def _drop(self) -> None:
        raw = getattr(self._local, "raw", None)
        self._local.conn = None
        self._local.raw = None
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.invalidate()

    # --- lookups -------------------------------------------------------------------------------

    def __call__(self, serial: int) -> CertStatus:
        try:
            conn = self._conn()
            if self.is_sqlite:
                return self._sqlite_lookup(conn, serial)
            with conn.cursor() as cur:
                cur.execute(self._sql, (serial_hex(serial),), prepare=True)
                return _status(cur.fetchone())
        except StoreError:
            raise
        except Exception as exc:
            self._drop()
            raise StoreError(f"CA database error: {_first_line(exc)}") from None

    def _sqlite_lookup(self, conn: Any, serial: int) -> CertStatus:
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        cache: dict[int, CertStatus] = self._local.cache
        if version != self._local.version:
            cache.clear()
            self._local.version = version
        hit = cache.get(serial)
        if hit is not None:
            return hit
        status = _status(conn.execute(self._sql, (serial_hex(serial),)).fetchone())
        if len(cache) >= self._cache_size:
            cache.clear()
        cache[serial] = status
        return status

    def ping(self) -> None:
        """Raise :class:`StoreError` unless the database answers."""
        self(0)

    def close(self) -> None:
        self._drop()
        self._engine.dispose()


def _status(row: Any) -> CertStatus:
    if row is None:
        return CertStatus.unknown()
    if row[1] is None:
        return CertStatus.good()
    return CertStatus.revoked(_as_utc(row[1]), row[2] or "unspecified")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
