"""The AdES levels thaisign signs at (PAdES and CAdES alike), and how a level is chosen."""

from __future__ import annotations

from typing import Literal

from thaisign.errors import UsageError

Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]
LEVELS: tuple[Level, ...] = ("B-B", "B-T", "B-LT", "B-LTA")


def effective_level(level: str | None, tsa: str | None) -> Level:
    """``level``, or B-T with a TSA and B-B without; refused when unknown or when it needs a TSA
    that was not given."""
    chosen = level or ("B-T" if tsa else "B-B")
    if chosen not in LEVELS:
        raise UsageError(f"unknown level {chosen!r}; use one of {', '.join(LEVELS)}")
    if chosen != "B-B" and not tsa:
        raise UsageError(f"level {chosen} needs a time-stamping authority", hint="give --tsa URL")
    return chosen
