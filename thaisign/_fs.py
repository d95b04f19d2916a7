"""Safe file output: atomic writes (temp file + rename) and never overwriting an input."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from thaisign.errors import InputError, OutputError


def read_input(path: str | os.PathLike[str], what: str = "file") -> bytes:
    """Read an input file, or raise a one-line :class:`InputError`."""
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} not found: {p}") from None
    except IsADirectoryError:
        raise InputError(f"{what} is a folder, not a file: {p}") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {p}: {exc.strerror}") from None


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when both paths name the same existing file (or the same resolved path)."""
    pa, pb = Path(a), Path(b)
    try:
        return pa.exists() and pb.exists() and os.path.samefile(pa, pb)
    except OSError:
        return pa.resolve() == pb.resolve()


def refuse_overwrite_input(inputs: list[Path] | tuple[Path, ...], output: str | os.PathLike[str]) -> None:
    """Raise :class:`OutputError` if ``output`` is one of ``inputs``."""
    for i in inputs:
        if same_file(i, output) or Path(i).resolve() == Path(output).resolve():
            raise OutputError(
                f"output {output} is the input file", hint="choose another output, or use --in-place"
            )


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: int = 0o644) -> Iterator[IO[bytes]]:
    """Open a temporary file beside ``path``; on success fsync and rename it over ``path``.

    The handle is readable too (pyHanko reads its output back to hash the byte ranges).
    On any exception the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except FileNotFoundError:
        raise OutputError(f"output folder does not exist: {directory}") from None
    except PermissionError:
        raise OutputError(f"cannot write into {directory}: permission denied") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w+b") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically with permissions ``mode``."""
    with atomic_open(path, mode) as fh:
        fh.write(data)
