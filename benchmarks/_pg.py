"""PostgreSQL housekeeping shared by the benchmarks."""

from __future__ import annotations

import time


def settle(db_url: str, tables: tuple[str, ...] = ()) -> float:
    """VACUUM ANALYZE (``tables``, or the whole database) and a checkpoint; the seconds it took.

    Run after a bulk set-up, so that the maintenance that many rows inserted at once sets off
    (autovacuum, a checkpoint) does not land in the timed runs after it: a deployment spreads
    those rows, and that work, over months.
    """
    import psycopg

    started = time.perf_counter()
    url = db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        for table in tables or ("",):
            conn.execute(f"VACUUM ANALYZE {table}".strip())
        conn.execute("CHECKPOINT")
    return time.perf_counter() - started
