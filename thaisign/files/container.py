"""Reading ZIP containers (ASiC, filing bundles) that strangers made: bounded, never extracted.

>>> with open_container("case-123.asice") as box:
...     box.kind, [e.name for e in box.data_files]

Everything is read through :class:`Container`: at most :data:`MAX_ENTRIES` entries, names
checked (no absolute paths, ``..``, backslashes, drive letters, control characters, nor two
entries of one name), every entry's declared size bounded and its compression ratio bounded
(zip bombs), every read bounded by the declared size (a lying header fails the CRC check).
Nothing is ever written to disk: entries are hashed as streams or read into memory up to a
limit. A name that is not UTF-8 (and not flagged so) is decoded as the ZIP standard says
(code page 437) and is shown with its raw bytes made visible. Problems raise
:class:`ContainerError` with one line that says what is wrong.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from thaisign.errors import InputError
from thaisign.files._digest import FileDigests, digest_stream

#: bounds (a container beyond them is refused, with the bound named)
MAX_ENTRIES = 20_000
MAX_NAME = 1024
MAX_TOTAL = 64 * 1024**3  # declared uncompressed bytes, all entries together
MAX_RATIO = 200  # uncompressed / compressed, for entries larger than RATIO_FLOOR
RATIO_FLOOR = 16 * 1024 * 1024
MAX_META = 32 * 1024 * 1024  # a manifest, signature or time-stamp read into memory

MIMETYPE_E = "application/vnd.etsi.asic-e+zip"
MIMETYPE_S = "application/vnd.etsi.asic-s+zip"
_DRIVE = re.compile(r"^[A-Za-z]:")


class ContainerError(InputError):
    """A ZIP container is malformed, unsafe or beyond thaisign's bounds."""

    def __init__(self, message: str, *, th: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.th = th


@dataclass(frozen=True)
class Entry:
    """One file of the container."""

    name: str  # decoded (UTF-8, else code page 437 as the ZIP standard says)
    raw_name: bytes
    size: int
    compressed: int
    stored: bool
    utf8: bool
    info: zipfile.ZipInfo = field(repr=False, compare=False)

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")

    @property
    def meta(self) -> bool:
        """Under META-INF/ (signatures, manifests, time-stamps: not signed data)."""
        return self.name.upper().startswith("META-INF/")


def unsafe_name(name: str) -> str | None:
    """Why ``name`` may not be a container entry's name, or None."""
    if not name or len(name) > MAX_NAME:
        return "an empty or over-long name"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return "control characters in a name"
    if "\\" in name:
        return "a backslash in a name"
    if name.startswith("/") or _DRIVE.match(name):
        return "an absolute path"
    parts = name.rstrip("/").split("/")
    if any(p in ("..", ".") for p in parts) or any(p == "" for p in parts):
        return "a '..', '.' or empty path part"
    return None


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    raw = getattr(info, "orig_filename", info.filename)
    if info.flag_bits & 0x800:
        return raw.encode("utf-8", "surrogateescape")
    try:
        return raw.encode("cp437")
    except UnicodeEncodeError:
        return raw.encode("utf-8", "surrogateescape")


def _decoded(info: zipfile.ZipInfo) -> tuple[str, bool]:
    """The entry's name and whether it is UTF-8 (flagged, or bytes that happen to be UTF-8)."""
    raw = _raw_name(info)
    if info.flag_bits & 0x800:
        return info.filename, True
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return info.filename, False  # zipfile's cp437 reading


class Container:
    """An open, checked ZIP container (use :func:`open_container`)."""

    def __init__(self, zf: zipfile.ZipFile, label: str, entries: list[Entry]) -> None:
        self._zf = zf
        self.label = label
        self.entries = entries
        self._by_name = {e.name: e for e in entries}

    # --- what is inside -----------------------------------------------------------------------

    def get(self, name: str) -> Entry | None:
        return self._by_name.get(name)

    @property
    def mimetype(self) -> str | None:
        """The ``mimetype`` entry's text (None when absent or unreadable)."""
        entry = self.get("mimetype")
        if entry is None or entry.size > 256:
            return None
        try:
            return self.read(entry, limit=256).decode("ascii").strip()
        except (UnicodeDecodeError, ContainerError):
            return None

    @property
    def mimetype_first_and_stored(self) -> bool:
        """ETSI EN 319 162-1: the mimetype entry comes first, uncompressed, without extra field."""
        first = self.entries[0] if self.entries else None
        return bool(first and first.name == "mimetype" and first.stored and not first.info.extra)

    @property
    def data_files(self) -> list[Entry]:
        """The signed-or-not data: everything but ``mimetype``, META-INF/ and folders."""
        return [e for e in self.entries if not e.is_dir and not e.meta and e.name != "mimetype"]

    def meta_files(self, pattern: str) -> list[Entry]:
        """META-INF entries whose name (case-insensitive) matches ``pattern`` (a regex)."""
        rx = re.compile(pattern, re.IGNORECASE)
        return sorted((e for e in self.entries if e.meta and rx.fullmatch(e.name)), key=lambda e: e.name)

    @property
    def kind(self) -> str | None:
        """``asic-e``, ``asic-s`` or None (a plain ZIP), from the mimetype entry, else the contents."""
        mt = self.mimetype
        if mt == MIMETYPE_E:
            return "asic-e"
        if mt == MIMETYPE_S:
            return "asic-s"
        if self.meta_files(r"META-INF/ASiCManifest[^/]*\.xml"):
            return "asic-e"
        if self.meta_files(r"META-INF/(signature[^/]*\.p7s|timestamp[^/]*\.tst)"):
            return "asic-s"
        return None

    # --- reading ------------------------------------------------------------------------------

    def open(self, entry: Entry) -> IO[bytes]:
        try:
            return self._zf.open(entry.info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError) as exc:
            raise ContainerError(f"cannot read {entry.name!r} in the container: {exc}") from None

    def read(self, entry: Entry, *, limit: int = MAX_META) -> bytes:
        """The entry's bytes, when it is at most ``limit`` bytes."""
        if entry.size > limit:
            raise ContainerError(
                f"{entry.name!r} in the container is larger than {limit} bytes",
                th=f"ไฟล์ {entry.name!r} ในไฟล์รวมใหญ่เกินกว่าที่ตรวจได้",
            )
        with self.open(entry) as fh:
            try:
                data = fh.read(limit + 1)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                raise ContainerError(f"{entry.name!r} in the container is damaged: {exc}") from None
        if len(data) > limit:
            raise ContainerError(f"{entry.name!r} in the container is larger than {limit} bytes")
        return data

    def digest(self, entry: Entry, algorithms: Iterable[str]) -> FileDigests:
        """The entry's digests, streamed (any size within the declared one)."""
        with self.open(entry) as fh:
            try:
                return digest_stream(fh, algorithms, limit=entry.size)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                raise ContainerError(f"{entry.name!r} in the container is damaged: {exc}") from None

    def close(self) -> None:
        self._zf.close()

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_container(source: str | os.PathLike[str] | IO[bytes], label: str | None = None) -> Container:
    """Open and check a ZIP container; :class:`ContainerError` when it is unsafe or unreadable."""
    name = label or (str(source) if isinstance(source, str | os.PathLike) else "<container>")
    try:
        zf = zipfile.ZipFile(source if not isinstance(source, str | os.PathLike) else Path(source))
    except FileNotFoundError:
        raise ContainerError(f"file not found: {name}", th="ไม่พบไฟล์") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise ContainerError(
            f"not a readable ZIP container: {exc}",
            th="ไฟล์นี้ไม่ใช่ไฟล์รวม (ZIP/ASiC) ที่อ่านได้ ขอให้ผู้ส่งส่งมาใหม่",
        ) from None
    except OSError as exc:
        raise ContainerError(f"cannot read file: {exc.strerror or exc}", th="อ่านไฟล์ไม่ได้") from None
    try:
        entries = _checked_entries(zf.infolist())
    except BaseException:
        zf.close()
        raise
    return Container(zf, name, entries)


def _checked_entries(infos: list[zipfile.ZipInfo]) -> list[Entry]:
    if len(infos) > MAX_ENTRIES:
        raise ContainerError(
            f"the container holds {len(infos)} entries, more than the {MAX_ENTRIES} thaisign opens",
            th=f"ไฟล์รวมมีไฟล์ย่อย {len(infos)} ไฟล์ เกินกว่าที่ตรวจได้ ({MAX_ENTRIES})",
        )
    entries: list[Entry] = []
    seen: set[str] = set()
    total = 0
    for info in infos:
        name, utf8 = _decoded(info)
        problem = unsafe_name(name)
        if problem is not None:
            raise ContainerError(
                f"the container holds an unsafe file name ({problem}): {name!r}",
                th=f"ไฟล์รวมมีชื่อไฟล์ที่ไม่ปลอดภัย: {name!r} อย่าแตกไฟล์นี้ ขอให้ผู้ส่งส่งมาใหม่",
            )
        folded = name.casefold()  # "A.pdf" and "a.pdf" are one file once unpacked on Windows or macOS
        if folded in seen:
            raise ContainerError(
                f"the container holds two entries named {name!r}: which one was signed is ambiguous",
                th=f"ไฟล์รวมมีไฟล์ชื่อ {name!r} ซ้ำกัน จึงบอกไม่ได้ว่าไฟล์ใดถูกลงนาม",
            )
        seen.add(folded)
        if info.flag_bits & 0x1:
            raise ContainerError(
                f"{name!r} in the container is encrypted", th=f"ไฟล์ {name!r} ในไฟล์รวมถูกเข้ารหัส"
            )
        total += info.file_size
        if total > MAX_TOTAL:
            raise ContainerError(
                "the container's files add up to more than thaisign opens "
                f"({MAX_TOTAL // 1024**3} GiB): probably a zip bomb",
                th="ไฟล์ในไฟล์รวมมีขนาดรวมใหญ่ผิดปกติ (อาจเป็น zip bomb) ไม่ตรวจสอบต่อ",
            )
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ContainerError(
                f"{name!r} in the container expands {info.file_size // max(info.compress_size, 1)} times: "
                "probably a zip bomb",
                th=f"ไฟล์ {name!r} ในไฟล์รวมขยายตัวผิดปกติ (อาจเป็น zip bomb) ไม่ตรวจสอบต่อ",
            )
        entries.append(
            Entry(
                name,
                _raw_name(info),
                info.file_size,
                info.compress_size,
                info.compress_type == zipfile.ZIP_STORED,
                utf8,
                info,
            )
        )
    return entries


def is_zip(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts like a ZIP archive."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
    except OSError:
        return False


def entry_label(entry: Entry) -> str:
    """The entry's name as shown (raw bytes of a non-UTF-8 name made visible)."""
    if entry.utf8:
        return entry.name
    return entry.raw_name.decode("utf-8", "backslashreplace")
