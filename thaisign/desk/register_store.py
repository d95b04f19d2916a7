"""The clerk's saved register (ทะเบียนหนังสือรับ): rows only, never the letters, in a hash chain.

>>> store = RegisterStore("register.db")
>>> numbers = store.add(rows, received_at=datetime.now(UTC))
>>> [entry.number for entry in store.entries()]

One SQLite file; each saved row is numbered (เลขทะเบียนรับ) and chained to the previous one by
SHA-256, so that a row changed or removed afterwards shows in :meth:`RegisterStore.verify`.
Rows are added in one ``BEGIN IMMEDIATE`` transaction: all of a batch, or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from thaisign.errors import OutputError
from thaisign.verify.register import RegisterRow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS letters (
    number INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    row_json TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)
"""
_GENESIS = "0" * 64


@dataclass(frozen=True)
class RegisterEntry:
    """One saved row with its register number and when it was received."""

    number: int
    received_at: datetime
    row: RegisterRow


def _chain_hash(prev: str, number: int, received_at: str, row_json: str) -> str:
    return hashlib.sha256(f"{prev}|{number}|{received_at}|{row_json}".encode()).hexdigest()


class RegisterStore:
    """The saved register in one SQLite file (made on first use, mode 0600)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RegisterStore({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists()
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            if new:
                os.chmod(self.path, 0o600)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"cannot open the register {self.path}: {exc}") from None
        return conn

    def add(self, rows: Sequence[RegisterRow], *, received_at: datetime) -> list[int]:
        """Append ``rows`` (one transaction); their register numbers."""
        when = received_at.isoformat()
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            last = conn.execute("SELECT number, hash FROM letters ORDER BY number DESC LIMIT 1").fetchone()
            number, prev = (last[0], last[1]) if last else (0, _GENESIS)
            numbers = []
            for row in rows:
                number += 1
                row_json = json.dumps(row.to_dict(), ensure_ascii=False, sort_keys=True)
                digest = _chain_hash(prev, number, when, row_json)
                conn.execute(
                    "INSERT INTO letters (number, received_at, row_json, prev_hash, hash) VALUES (?,?,?,?,?)",
                    (number, when, row_json, prev, digest),
                )
                prev = digest
                numbers.append(number)
            conn.execute("COMMIT")
            return numbers
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def entries(self) -> list[RegisterEntry]:
        """Every saved row, oldest first."""
        if not self.path.exists():
            return []
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT number, received_at, row_json FROM letters ORDER BY number"
            ).fetchall()
        finally:
            conn.close()
        return [
            RegisterEntry(n, datetime.fromisoformat(t), RegisterRow.from_dict(json.loads(j)))
            for n, t, j in rows
        ]

    def verify(self) -> int | None:
        """The first register number whose row or chain link was altered, or None when intact."""
        if not self.path.exists():
            return None
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT number, received_at, row_json, prev_hash, hash FROM letters ORDER BY number"
            ).fetchall()
        finally:
            conn.close()
        prev = _GENESIS
        for expected, (number, when, row_json, prev_hash, digest) in enumerate(rows, 1):
            if number != expected or prev_hash != prev or _chain_hash(prev, number, when, row_json) != digest:
                return int(number)
            prev = digest
        return None
