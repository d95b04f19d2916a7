"""A result-preserving speed-up for reading many objects out of one object stream.

pyHanko's ``PdfFileReader._get_object_from_stream`` decodes the whole object stream and parses
its header of N number pairs for *every* object it reads from it; objects read for an older
revision are not cached. Comparing two revisions of a document with large object streams was
quadratic (seconds per file). This reader decodes and indexes each object stream once per
reader and then reads the object exactly as pyHanko does; anything unusual (a header that is
not plain numbers, an index that does not match, strict mode) is handed to pyHanko's own code.

Installed per reader instance by :func:`install` (never globally).
"""

from __future__ import annotations

import io
from typing import Any

_MARK = "_thaisign_objstm_index"


def install(reader: Any) -> None:
    """Give ``reader`` the indexed object-stream reader (idempotent)."""
    if getattr(reader, _MARK, None) is not None or getattr(reader, "strict", True):
        return
    original = reader._get_object_from_stream
    index: dict[int, tuple[Any, bytes, int, dict[int, int]] | None] = {}
    setattr(reader, _MARK, index)

    def get_object_from_stream(idnum: int, stmnum: int, idx: int) -> Any:
        from pyhanko.pdf_utils import generic
        from pyhanko.pdf_utils.misc import PdfReadError, PdfStreamError

        stream = generic.Reference(stmnum, 0, reader).get_object()
        entry = index.get(stmnum)
        if entry is None or entry[0] is not stream:
            entry = _index(stream)
            index[stmnum] = entry
        if entry is None:
            return original(idnum, stmnum, idx)
        _, data, n, header = entry
        offset = header.get(idnum)
        if offset is None or not 0 <= idx < n:
            return original(idnum, stmnum, idx)
        buffer = io.BytesIO(data)
        buffer.seek(offset)
        try:
            obj = generic.read_object(buffer, generic.Reference(idnum, 0, reader))
        except (PdfStreamError, PdfReadError):
            return original(idnum, stmnum, idx)  # pyHanko logs and substitutes null
        return obj

    reader._get_object_from_stream = get_object_from_stream


def _index(stream: Any) -> tuple[Any, bytes, int, dict[int, int]] | None:
    """(stream, decoded data, /N, object number -> offset of its body in the data)."""
    from pyhanko.pdf_utils.generic import DecodePurpose, StreamObject

    try:
        if not isinstance(stream, StreamObject) or stream["/Type"] != "/ObjStm":
            return None
        n, first = int(stream["/N"]), int(stream["/First"])
        data = stream.read_data(DecodePurpose.OBJECT_STREAM)
        numbers = data[:first].split()
        if len(numbers) < 2 * n or not all(x.isdigit() for x in numbers[: 2 * n]):
            return None
    except Exception:
        return None
    header: dict[int, int] = {}
    for i in range(n):
        header.setdefault(int(numbers[2 * i]), first + int(numbers[2 * i + 1]))  # pyHanko takes the first
    return stream, data, n, header
