"""SQLite engines with the discipline every thaisign store needs: WAL, a busy timeout, our own BEGIN.

sqlite3's implicit transactions are switched off (``isolation_level = None``) so that the store
decides how each transaction begins: ``BEGIN IMMEDIATE`` takes the write lock up front, which is
what keeps hash chains and serial counters linear when several processes write at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection


def sqlite_engine(
    url: str,
    *,
    busy_timeout_s: float,
    immediate: bool | Callable[[Connection], bool] = True,
    foreign_keys: bool = False,
    page_size: int | None = None,
    connect_args: dict[str, Any] | None = None,
    **engine_kw: Any,
) -> Engine:
    """An engine on ``url`` whose transactions begin with ``BEGIN IMMEDIATE`` when ``immediate``
    (or when ``immediate(conn)`` says so), else a plain ``BEGIN``. ``page_size`` applies to a
    database the engine creates (rows of a few kB then fit a page instead of overflowing)."""
    args = {"timeout": busy_timeout_s, **(connect_args or {})}
    engine = create_engine(url, connect_args=args, **engine_kw)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        if page_size is not None:
            cur.execute(f"PRAGMA page_size={int(page_size)}")  # takes effect in a new, empty database only
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        if foreign_keys:
            cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = immediate(conn) if callable(immediate) else immediate
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
