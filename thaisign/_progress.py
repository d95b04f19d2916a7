"""A progress bar for long work, shown only on a terminal and never in ``--json`` mode."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Progress(Protocol):
    def advance(self, n: int = 1) -> None: ...


class _Silent:
    def advance(self, n: int = 1) -> None:
        return None


class _Rich:
    def __init__(self, progress: object, task: object) -> None:
        self._p = progress
        self._t = task

    def advance(self, n: int = 1) -> None:
        self._p.advance(self._t, n)  # type: ignore[attr-defined]


@contextmanager
def progress(total: int, description: str, *, enabled: bool | None = None) -> Iterator[Progress]:
    """Yield an object with ``advance()``; draws a bar on stderr when it is a terminal.

    ``enabled=False`` (e.g. ``--json``) always stays quiet; ``None`` decides by the terminal.
    """
    show = sys.stderr.isatty() if enabled is None else enabled and sys.stderr.isatty()
    if not show or total <= 1:
        yield _Silent()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    bar = RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield _Rich(bar, task)
