"""Does a shared library export a function? Read from its ELF dynamic symbol table, without loading it.

Loading a library (``dlopen``) runs its constructors, so a PKCS#11 module is checked here first:
a file that is not an ELF shared object exporting ``C_GetFunctionList`` is refused unloaded.
Reads are bounded (at most a few MB of symbols), as for any hostile input.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO

_SHT_DYNSYM = 11
_ET_DYN = 3
_STT_FUNC = 2
_MAX_TABLE = 64 * 1024 * 1024


class NotElf(Exception):
    """Not an ELF shared object (``reason`` says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _read(fh: BinaryIO, offset: int, size: int, file_size: int) -> bytes:
    if offset < 0 or size < 0 or offset + size > file_size or size > _MAX_TABLE:
        raise NotElf("its headers point outside the file")
    fh.seek(offset)
    return fh.read(size)


def exports_function(path: str | os.PathLike[str], name: str) -> bool | None:
    """True when the ELF shared object at ``path`` defines the function ``name`` in its dynamic
    symbols, False when it does not, None when it has no section headers to tell (stripped).

    Raises :class:`NotElf` for anything that is not an ELF shared object.
    """
    with open(path, "rb") as fh:
        file_size = os.fstat(fh.fileno()).st_size
        ident = fh.read(64)
        if len(ident) < 52 or ident[:4] != b"\x7fELF":
            raise NotElf("it is not an ELF file")
        klass, data = ident[4], ident[5]
        if klass not in (1, 2) or data not in (1, 2):
            raise NotElf("it is not a valid ELF file")
        end = "<" if data == 1 else ">"
        is64 = klass == 2
        (e_type,) = struct.unpack_from(end + "H", ident, 16)
        if e_type != _ET_DYN:
            raise NotElf("it is not a shared library")
        if is64:
            shoff, shentsize, shnum = (
                struct.unpack_from(end + "Q", ident, 0x28)[0],
                *struct.unpack_from(end + "HH", ident, 0x3A),
            )
        else:
            shoff, shentsize, shnum = (
                struct.unpack_from(end + "I", ident, 0x20)[0],
                *struct.unpack_from(end + "HH", ident, 0x2E),
            )
        if shoff == 0 or shnum == 0:
            return None
        if shentsize < (64 if is64 else 40):
            raise NotElf("its section headers are malformed")
        table = _read(fh, shoff, shentsize * shnum, file_size)
        sections = []
        for i in range(shnum):
            raw = table[i * shentsize : (i + 1) * shentsize]
            if is64:
                _, sh_type, _, _, offset, size, link, _, _, entsize = struct.unpack_from(
                    end + "IIQQQQIIQQ", raw
                )
            else:
                _, sh_type, _, _, offset, size, link, _, _, entsize = struct.unpack_from(
                    end + "IIIIIIIIII", raw
                )
            sections.append((sh_type, offset, size, link, entsize))
        wanted = name.encode("ascii")
        for sh_type, offset, size, link, entsize in sections:
            if sh_type != _SHT_DYNSYM or link >= len(sections):
                continue
            symbols = _read(fh, offset, size, file_size)
            _, str_off, str_size, _, _ = sections[link]
            strings = _read(fh, str_off, str_size, file_size)
            sym_size = entsize or (24 if is64 else 16)
            for pos in range(0, len(symbols) - sym_size + 1, sym_size):
                if is64:
                    st_name, st_info, _, st_shndx = struct.unpack_from(end + "IBBH", symbols, pos)
                else:
                    st_name, _, _, st_info, _, st_shndx = struct.unpack_from(end + "IIIBBH", symbols, pos)
                if st_shndx == 0 or st_info & 0xF != _STT_FUNC or st_info >> 4 not in (1, 2):
                    continue  # undefined, not a function, or local
                if strings[st_name : st_name + len(wanted) + 1] == wanted + b"\x00":
                    return True
        return False
