"""Hashing files of any size in bounded memory: one read pass, any number of digest algorithms.

A file is read in 1 MiB chunks into one reused buffer; every requested algorithm is fed from
the same chunk, so a signature over a 2 GB video costs one pass over the disk and a few
megabytes of memory whatever the algorithms.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from thaisign.errors import InputError

CHUNK = 1 << 20

#: CMS / asn1crypto digest algorithm names → hashlib names
HASHLIB_NAMES: dict[str, str] = {
    "sha1": "sha1",
    "sha224": "sha224",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "sha3_224": "sha3_224",
    "sha3_256": "sha3_256",
    "sha3_384": "sha3_384",
    "sha3_512": "sha3_512",
}


def new_hash(algorithm: str) -> Any:
    """A hashlib object for a CMS digest algorithm name; ValueError when unsupported."""
    name = HASHLIB_NAMES.get(algorithm.lower().replace("-", "_"))
    if name is None:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}")
    return hashlib.new(name)


class Readable(Protocol):
    """Anything with ``read(n)`` (a file, a region of one, a buffer)."""

    def read(self, n: int, /) -> bytes: ...


@dataclass(frozen=True)
class FileDigests:
    """The digests of one file's bytes, by algorithm name, and how many bytes were read."""

    digests: dict[str, bytes]
    size: int

    def __getitem__(self, algorithm: str) -> bytes:
        return self.digests[algorithm]


def digest_stream(stream: Readable, algorithms: Iterable[str], *, limit: int | None = None) -> FileDigests:
    """Hash everything ``stream`` yields with each of ``algorithms`` (at most ``limit`` bytes)."""
    names = list(dict.fromkeys(algorithms))
    hashers = [new_hash(a) for a in names]
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    size = 0
    readinto = getattr(stream, "readinto", None)
    while True:
        if readinto is not None:
            n = readinto(buffer)
            chunk = view[:n] if n else b""
        else:
            chunk = stream.read(CHUNK)
            n = len(chunk)
        if not n:
            break
        size += n
        if limit is not None and size > limit:
            raise InputError(f"the data is larger than {limit} bytes")
        for h in hashers:
            h.update(chunk)
    return FileDigests({name: h.digest() for name, h in zip(names, hashers, strict=True)}, size)


def digest_file(path: str | os.PathLike[str], algorithms: Iterable[str]) -> FileDigests:
    """Hash the file at ``path`` with each of ``algorithms`` in one streaming pass."""
    p = Path(path)
    try:
        with p.open("rb", buffering=0) as fh:
            return digest_stream(fh, algorithms)
    except FileNotFoundError:
        raise InputError(f"file not found: {p}") from None
    except IsADirectoryError:
        raise InputError(f"{p} is a folder, not a file") from None
    except PermissionError:
        raise InputError(f"cannot read {p}: permission denied") from None
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror or exc}") from None
