"""The TSA's database: the serial counter and the log of every token issued.

SQLAlchemy Core, the same code on SQLite (default ``DIR/tsa.db``, WAL) and PostgreSQL.
Serial numbers are reserved in small blocks in one transaction each, so several worker
processes never hand out the same serial and the counter survives restarts; each worker's
serials increase. Every token is logged (serial, time, imprint, nonce, policy, the token
itself) before it is returned; if the log cannot be written the request is refused.

>>> store = TsaStore.connect("sqlite:////srv/tsa/tsa.db"); store.create_schema()
>>> tsa = TimeStampAuthority(signer, serials=store.next_serial, log=store.log_token)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
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
    exc,
    func,
    insert,
    select,
)
from sqlalchemy.engine import make_url

from thaisign._fs import file_identity
from thaisign._sqlite import sqlite_engine
from thaisign.errors import StoreError
from thaisign.tsa.authority import IssuedToken

__all__ = ["LoggedToken", "TsaStore"]

_log = logging.getLogger(__name__)

_metadata = MetaData()

serials_table = Table(
    "tsa_serial",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("next_serial", BigInteger, nullable=False),
)

tokens_table = Table(
    "tsa_tokens",
    _metadata,
    Column("serial", BigInteger, primary_key=True, autoincrement=False),
    Column("gen_time", DateTime, nullable=False, index=True),
    Column("hash_algorithm", String(16), nullable=False),
    Column("message_imprint", LargeBinary, nullable=False),
    Column("nonce", Text, nullable=True),  # decimal text: a nonce may exceed 64 bits
    Column("policy_oid", String(128), nullable=False),
    Column("token", LargeBinary, nullable=False),
)


@dataclass(frozen=True)
class LoggedToken:
    serial: int
    gen_time: dt.datetime
    hash_algorithm: str
    message_imprint: bytes
    nonce: int | None
    policy_oid: str
    token_der: bytes


def _sqlite_engine(url: str) -> Engine:
    return sqlite_engine(url, busy_timeout_s=30, connect_args={"check_same_thread": False})


class TsaStore:
    """Serial numbers and the token log. Open with :meth:`connect`."""

    def __init__(self, engine: Engine, url: str, *, block: int = 64) -> None:
        self._engine = engine
        self.url = url
        self.block = block
        self._lock = threading.Lock()
        self._next = 0
        self._limit = 0  # serials in [_next, _limit) are reserved for this process
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._db_path = make_url(url).database if self.is_sqlite else None
        mark = "?" if self.is_sqlite else "%s"
        # the counter never goes below the clock (microseconds since 1970): a database restored
        # from an older copy cannot hand out a serial again (serials run far below 10^6 per second)
        self._sql_reserve = " ".join(
            [
                f"UPDATE {serials_table.name} SET next_serial =",
                f"(CASE WHEN next_serial < {mark} THEN {mark} ELSE next_serial END) + {mark}",
                "WHERE id = 1 RETURNING next_serial",
            ]
        )
        self._identity = file_identity(self._db_path)
        self._generation = 0
        columns = [c.name for c in tokens_table.columns]
        self._sql_log = " ".join(
            [
                f"INSERT INTO {tokens_table.name} ({', '.join(columns)})",
                f"VALUES ({', '.join([mark] * len(columns))})",
            ]
        )

    @classmethod
    def connect(cls, url: str, *, block: int = 64) -> TsaStore:
        """A store on a SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``)."""
        try:
            if make_url(url).get_backend_name() == "sqlite":
                engine = _sqlite_engine(url)
            else:
                engine = create_engine(
                    url, pool_pre_ping=True, pool_size=4, connect_args={"connect_timeout": 3}
                )
        except (exc.ArgumentError, exc.NoSuchModuleError) as e:
            raise StoreError(
                f"not a usable database URL: {e}", hint="e.g. postgresql+psycopg://host/db"
            ) from None
        return cls(engine, url, block=block)

    def create_schema(self, *, first_serial: int = 1) -> None:
        """Create the tables and the counter (idempotent)."""
        with self._errors():
            _metadata.create_all(self._engine)
            with self._engine.begin() as conn:
                if conn.execute(select(serials_table.c.id)).first() is None:
                    conn.execute(insert(serials_table).values(id=1, next_serial=first_serial))

    def close(self) -> None:
        self._engine.dispose()

    def after_fork(self) -> None:
        """Forget connections and reserved serials inherited from a parent process."""
        self._engine.dispose(close=False)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._next = self._limit = 0

    # --- internals -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except exc.DBAPIError as e:
            self._drop()
            first = str(e.orig).strip().splitlines()[0] if e.orig else type(e).__name__
            raise StoreError(
                f"TSA database unavailable: {first}", hint="check that the database is running"
            ) from None

    def _check_file(self) -> None:
        """A SQLite file deleted or replaced (restored) under a running service: refuse while it is
        missing (sqlite would make a new empty one), reconnect to the new file once it is back."""
        if self._db_path is None:
            return
        identity = file_identity(self._db_path)
        if identity is None:
            raise StoreError(
                f"the TSA database {self._db_path} is missing", hint="restore it from your backup"
            )
        if identity != self._identity:
            _log.warning("TSA database %s was replaced: reconnecting", self._db_path)
            self._identity = identity
            self._generation += 1
            self._engine.dispose()

    def _raw(self) -> Any:
        """This thread's raw DB-API connection (autocommit; we issue BEGIN/COMMIT ourselves)."""
        self._check_file()
        raw = getattr(self._local, "raw", None)
        if raw is not None and getattr(self._local, "generation", 0) != self._generation:
            self._drop()
            raw = None
        if raw is None:
            raw = self._engine.raw_connection()
            driver: Any = raw.driver_connection
            if not self.is_sqlite:
                driver.autocommit = True
            self._local.raw = raw
            self._local.generation = self._generation
        return raw.driver_connection

    def _drop(self) -> None:
        raw = getattr(self._local, "raw", None)
        self._local.raw = None
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.invalidate()

    def _write(self, sql: str, params: tuple[object, ...]) -> tuple[Any, ...] | None:
        """Run one autocommitted write statement (its own transaction), serialised on SQLite.

        One statement is one round trip on PostgreSQL (no BEGIN/COMMIT). On SQLite, whose own
        busy handler sleeps 1-100 ms between retries, a blocking ``flock`` on a lock file beside
        the database lets the next writer in as soon as the lock is free.
        """
        with self._write_lock, self._errors():
            conn = self._raw()
            lock_fd = self._lock_fd()
            if lock_fd is not None:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:
                cur = conn.cursor()
                try:
                    cur.execute(sql, params)
                    row = cur.fetchone() if cur.description else None
                finally:
                    cur.close()
            finally:
                if lock_fd is not None:
                    fcntl.flock(lock_fd, fcntl.LOCK_UN)
        return tuple(row) if row is not None else None

    def _lock_fd(self) -> int | None:
        if not self.is_sqlite or self._db_path is None:
            return None
        fd = getattr(self._local, "lock_fd", None)
        if fd is None or self._local.lock_pid != os.getpid():
            fd = os.open(f"{self._db_path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            self._local.lock_fd, self._local.lock_pid = fd, os.getpid()
        return int(fd)

    # --- serials and log -----------------------------------------------------------------------

    def next_serial(self) -> int:
        """A serial no process has used (reserving the next block in the database when needed)."""
        with self._lock:
            if self._next >= self._limit:
                floor = time.time_ns() // 1000
                row = self._write(self._sql_reserve, (floor, floor, self.block))
                if row is None:
                    raise StoreError("the TSA database has no serial counter", hint="run 'thaisign tsa init'")
                self._limit = int(row[0])
                self._next = self._limit - self.block
            serial = self._next
            self._next += 1
            return serial

    def log_token(self, token: IssuedToken) -> None:
        """Record an issued token (one transaction)."""
        when: object = token.gen_time.astimezone(dt.UTC).replace(tzinfo=None)
        if self.is_sqlite:  # the text form SQLAlchemy's SQLite DateTime reads back
            when = token.gen_time.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        params = (
            token.serial,
            when,
            token.hash_algorithm,
            token.message_imprint,
            None if token.nonce is None else str(token.nonce),
            token.policy_oid,
            token.token_der,
        )
        self._write(self._sql_log, params)

    def tokens(self, *, limit: int | None = None) -> list[LoggedToken]:
        """Logged tokens, oldest serial first."""
        q = select(tokens_table).order_by(tokens_table.c.serial)
        if limit is not None:
            q = q.limit(limit)
        with self._errors(), self._engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            LoggedToken(
                r.serial,
                r.gen_time.replace(tzinfo=dt.UTC),
                r.hash_algorithm,
                bytes(r.message_imprint),
                None if r.nonce is None else int(r.nonce),
                r.policy_oid,
                bytes(r.token),
            )
            for r in rows
        ]

    def max_serial(self) -> int | None:
        """The highest serial in the token log (None when empty)."""
        with self._errors(), self._engine.connect() as conn:
            value = conn.execute(select(func.max(tokens_table.c.serial))).scalar_one_or_none()
        return None if value is None else int(value)

    def count(self) -> int:
        with self._errors(), self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(tokens_table)).scalar_one())

    def ping(self) -> None:
        """Raise :class:`StoreError` unless the database answers."""
        with self._write_lock, self._errors():
            cur = self._raw().cursor()
            try:
                cur.execute(f"SELECT next_serial FROM {serials_table.name}")
                cur.fetchone()
            finally:
                cur.close()
