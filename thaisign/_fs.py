"""Safe file output: atomic writes (temp file + rename) and never overwriting an input."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

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


#: temporary files are named ``.<target>.thaisign-<pid>-<random>.tmp``: a later run removes those
#: of processes that are gone (killed before they could clean up)
_TEMP_MARK = ".thaisign-"
_swept: set[str] = set()


def _temp_file(target: Path) -> tuple[int, str]:
    directory = target.parent if str(target.parent) else Path(".")
    sweep_stale_temps(directory)
    try:
        return tempfile.mkstemp(
            prefix=f".{target.name}{_TEMP_MARK}{os.getpid()}-", suffix=".tmp", dir=directory
        )
    except FileNotFoundError:
        raise OutputError(
            f"output folder does not exist: {directory}", hint="create it, or give another output"
        ) from None
    except PermissionError:
        raise OutputError(f"cannot write into {directory}: permission denied") from None


def sweep_stale_temps(directory: str | os.PathLike[str]) -> int:
    """Remove the temporary files that thaisign processes which no longer run left in ``directory``
    (a run killed while writing a 200 MB letter leaves 200 MB behind). Once per folder and process;
    returns how many were removed."""
    folder = os.path.abspath(directory)
    if folder in _swept:
        return 0
    _swept.add(folder)
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        name = entry.name
        if not (name.startswith(".") and name.endswith(".tmp") and _TEMP_MARK in name):
            continue
        pid_text = name.rsplit(_TEMP_MARK, 1)[1].split("-", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    # a killed process stays a zombie until its parent (or init) reaps it: it writes nothing more
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def file_identity(path: str | os.PathLike[str] | None) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``, None if there is none: a file deleted and restored
    (e.g. a database from a backup) is another file, even under the same name."""
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def ensure_folder(directory: str | os.PathLike[str]) -> Path:
    """``directory``, created with its parents if missing; a one-line :class:`OutputError` if it cannot be."""
    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{d} exists and is not a folder") from None
    except OSError as exc:
        raise OutputError(f"cannot create the folder {d}: {exc.strerror}") from None
    return d


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: int = 0o644) -> Iterator[IO[bytes]]:
    """Open a temporary file beside ``path``; on success fsync and rename it over ``path``.

    The handle is readable too (pyHanko reads its output back to hash the byte ranges).
    On any exception the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    fd, tmp = _temp_file(target)
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


def sync_filesystem(directory: str | os.PathLike[str]) -> None:
    """Flush every file written to the file system of ``directory`` to stable storage, in one call
    (Linux ``syncfs``; ``sync`` elsewhere)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        if _syncfs is not None and _syncfs(fd) == 0:
            return
        os.sync()
    finally:
        os.close(fd)


def sync_folder(directory: str | os.PathLike[str]) -> None:
    """Make the names in ``directory`` (renames, new files) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _load_syncfs() -> Any:
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_syncfs = _load_syncfs() if sys.platform.startswith("linux") else None


class GroupWriter:
    """Durable outputs written as a group: write each to a temporary file, sync the file system
    once, rename them all into place, sync each folder once (:meth:`commit`).

    The guarantee is that of :func:`atomic_open`: an output appears whole or not at all, never a
    half-written file, and what was there before stays until its replacement is durable; the
    cost is one sync for the group instead of one per file.

    >>> group = GroupWriter()
    >>> with group.open("signed/a.pdf") as fh: fh.write(data)
    >>> group.commit()
    """

    def __init__(self, mode: int = 0o644) -> None:
        self._mode = mode
        self._pending: list[tuple[str, Path]] = []

    @contextlib.contextmanager
    def open(self, path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
        """A temporary file for ``path``, renamed into place by :meth:`commit` (removed on error)."""
        target = Path(path)
        fd, tmp = _temp_file(target)
        try:
            os.fchmod(fd, self._mode)
            with os.fdopen(fd, "w+b") as fh:
                yield fh
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self._pending.append((tmp, target))

    def commit(self) -> None:
        """Sync once, then move every written file into place and make the names durable."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        folders = {str(t.parent if str(t.parent) else Path(".")) for _, t in pending}
        try:
            for folder in folders:
                sync_filesystem(folder)
            for tmp, target in pending:
                os.replace(tmp, target)
            for folder in folders:
                sync_folder(folder)
        except BaseException:
            for tmp, _ in pending:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            raise

    def __len__(self) -> int:
        return len(self._pending)

    def hand_over(self) -> list[tuple[str, Path]]:
        """The written, uncommitted files (temporary name, target), for another process's group
        to :meth:`adopt` and commit; this group forgets them."""
        pending, self._pending = self._pending, []
        return pending

    def adopt(self, pending: list[tuple[str, Path]]) -> None:
        """Take over files another group handed over (they are committed with this group's)."""
        self._pending.extend(pending)

    def discard(self) -> None:
        """Remove what was written and not committed."""
        pending, self._pending = self._pending, []
        for tmp, _ in pending:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def atomic_write(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically with permissions ``mode``."""
    with atomic_open(path, mode) as fh:
        fh.write(data)
