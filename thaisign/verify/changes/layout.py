"""The byte layout of a PDF's incremental updates, and the incremental-saving anomalies in it.

A conforming incremental update appends, after the previous ``%%EOF``: indirect objects, one
cross-reference section (table plus trailer, or stream) that lists exactly those objects, and
``startxref N %%EOF``. Incremental-saving attacks (pdf-insecurity.org "ISA") put something else
there — an object no cross-reference lists (viewers that repair the file pick it up), a second
definition of the same object, an object hidden inside an object stream, bytes that are no
object at all — and then often a harmless later update so that the junk is not at the end.

:func:`scan_updates` walks every byte of every revision after a given one and reports each such
anomaly; the signature it concerns is then judged DISALLOWED (:mod:`.policy`).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

_OBJ_HEADER = re.compile(rb"(\d{1,10})[ \t\r\n\f\x00]+(\d{1,5})[ \t\r\n\f\x00]+obj(?![A-Za-z])")
_STARTXREF = re.compile(rb"startxref[ \t\r\n\f\x00]+(\d{1,20})[ \t\r\n\f\x00]*%%EOF(\r\n|\r|\n)?")
_WS = b" \t\r\n\f\x00"
#: at most this many objects are examined per update (bounded work on hostile files)
MAX_OBJECTS_PER_UPDATE = 200_000


@dataclass(frozen=True)
class Anomaly:
    """One thing in an update that a conforming writer does not produce."""

    revision: int  # 0-based revision whose appended bytes hold it
    offset: int
    kind: str  # hidden-object | duplicate-object | junk | xref-target | revived-object | ambiguous-free
    #          | hidden-in-object-stream
    detail: str  # English, technical
    numbers: tuple[int, ...] = ()  # the object (number, generation) or object stream concerned


@dataclass(frozen=True)
class UpdateLayout:
    """Where each revision's appended bytes lie, and what in them does not belong there."""

    ends: tuple[int, ...]  # per revision: the offset just after its %%EOF (and one end-of-line)
    anomalies: tuple[Anomaly, ...]

    def anomalies_after(self, revision: int) -> tuple[Anomaly, ...]:
        return tuple(a for a in self.anomalies if a.revision > revision)

    def revision_end(self, revision: int) -> int:
        return self.ends[revision]


def revision_ends(data: bytes, reader: Any) -> tuple[int, ...]:
    """The end (after ``%%EOF`` and one end-of-line) of each revision, oldest first."""
    ends: list[int] = []
    for rev in range(reader.xrefs.total_revisions):
        info = reader.xrefs.get_xref_container_info(rev)
        m = _STARTXREF.search(data, info.end_location)
        ends.append(m.end() if m else len(data))
    return tuple(ends)


def scan_updates(
    data: bytes, reader: Any, after: int, memo: dict[int, list[Anomaly]] | None = None
) -> UpdateLayout:
    """Check every byte appended by revisions later than ``after`` (0-based).

    ``memo`` keeps each revision's findings, so that the signatures of one file share the work.
    """
    ends = revision_ends(data, reader)
    anomalies: list[Anomaly] = []
    total = reader.xrefs.total_revisions
    memo = {} if memo is None else memo
    for rev in range(after + 1, total):
        if rev not in memo:
            start = max(ends[:rev]) if rev else 0
            if reader.xrefs.get_xref_container_info(rev).start_location < start:
                memo[rev] = []  # not appended: a linearised file's first-page section
            else:
                memo[rev] = _scan_update(data, reader, rev, start, ends[rev])
        anomalies.extend(memo[rev])
    return UpdateLayout(ends, tuple(anomalies))


# ------------------------------------------------------------------------------------------


def _skip(data: bytes, pos: int, end: int) -> int:
    """Past white space and comments."""
    while pos < end:
        c = data[pos]
        if c in _WS:
            pos += 1
        elif c == 0x25:  # '%': a comment runs to the end of the line
            nl = _line_end(data, pos, end)
            pos = nl
        else:
            break
    return pos


def _skip_ws(data: bytes, pos: int, end: int) -> int:
    while pos < end and data[pos] in _WS:
        pos += 1
    return pos


def _line_end(data: bytes, pos: int, end: int) -> int:
    cr, lf = data.find(b"\r", pos, end), data.find(b"\n", pos, end)
    ends = [p for p in (cr, lf) if p >= 0]
    return min(ends) if ends else end


def _expected_objects(reader: Any, rev: int) -> tuple[dict[int, tuple[int, int]], set[int]]:
    """offset -> (idnum, generation) for the objects revision ``rev`` lists; and object streams used."""
    xref = reader.xrefs.get_xref_data(rev)
    offsets = {off: (idnum, gen) for idnum, (gen, off) in xref.standard_xrefs.items()}
    streams = set(xref.obj_streams_used)
    info = reader.xrefs.get_xref_container_info(rev)
    if info.stream_ref is not None and xref.hybrid is None:
        offsets[info.start_location] = (info.stream_ref.idnum, info.stream_ref.generation)
    if xref.hybrid is not None:
        h = xref.hybrid
        offsets.update({off: (idnum, gen) for idnum, (gen, off) in h.xref_data.standard_xrefs.items()})
        streams |= set(h.xref_data.obj_streams_used)
        if h.meta_info.stream_ref is not None:
            ref = h.meta_info.stream_ref
            offsets[h.meta_info.start_location] = (ref.idnum, ref.generation)
    return offsets, streams


def _scan_update(data: bytes, reader: Any, rev: int, start: int, end: int) -> list[Anomaly]:
    from pyhanko.pdf_utils import generic

    found: list[Anomaly] = []
    listed, obj_streams = _expected_objects(reader, rev)
    # writers are allowed to point at the white space before "N G obj" (readers skip it)
    expected = {_skip_ws(data, off, end): v for off, v in listed.items()}
    info = reader.xrefs.get_xref_container_info(rev)
    table = reader.xrefs.get_xref_data(rev).hybrid is not None or info.stream_ref is None
    stream = io.BytesIO(data)
    seen: dict[tuple[int, int], int] = {}
    pos = _skip(data, start, end)
    count = 0
    while pos < end:
        count += 1
        if count > MAX_OBJECTS_PER_UPDATE:
            found.append(Anomaly(rev, pos, "junk", "the update holds more objects than can be checked"))
            break
        m = _OBJ_HEADER.match(data, pos)
        if m is not None:
            idnum, gen = int(m.group(1)), int(m.group(2))
            obj_end = _object_end(data, stream, m.end(), end, generic.Reference(idnum, gen, reader))
            if obj_end is None:
                found.append(Anomaly(rev, pos, "junk", f"object {idnum} {gen} is not terminated by endobj"))
                break
            at_pos = expected.get(pos)
            if at_pos != (idnum, gen):
                if (idnum, gen) in seen or any(v == (idnum, gen) for v in expected.values()):
                    found.append(
                        Anomaly(
                            rev,
                            pos,
                            "duplicate-object",
                            f"object {idnum} {gen} is defined twice in one update; "
                            "the cross-reference uses the other definition",
                            (idnum, gen),
                        )
                    )
                else:
                    found.append(
                        Anomaly(
                            rev,
                            pos,
                            "hidden-object",
                            f"object {idnum} {gen} is not listed in the update's cross-reference",
                            (idnum, gen),
                        )
                    )
            seen[(idnum, gen)] = pos
            pos = _skip(data, obj_end, end)
            continue
        if table and data.startswith(b"xref", pos) and info.start_location - 8 <= pos <= info.start_location:
            trailer_end = _trailer_end(data, stream, info.end_location, end, reader)
            if trailer_end is None:
                found.append(Anomaly(rev, pos, "junk", "the cross-reference table has no readable trailer"))
                break
            pos = _skip(data, trailer_end, end)
            continue
        sx = _STARTXREF.match(data, pos)
        if sx is not None:
            pos = _skip(data, sx.end(), end)
            continue
        found.append(Anomaly(rev, pos, "junk", "bytes that are neither an object nor a cross-reference"))
        break
    earlier = _listed_before(reader, rev, data)
    for off, (idnum, gen) in expected.items():
        if off >= end or (start <= off and seen.get((idnum, gen)) != off):
            found.append(
                Anomaly(
                    rev,
                    off,
                    "xref-target",
                    f"the cross-reference points object {idnum} {gen} at an offset that does not hold it",
                    (idnum, gen),
                )
            )
        elif off < start and earlier.get((idnum, gen)) != off:
            # an old offset is fine when an earlier cross-reference listed it (a full table);
            # pointing at bytes no cross-reference ever listed revives a hidden object
            found.append(
                Anomaly(
                    rev,
                    off,
                    "revived-object",
                    f"the cross-reference brings in object {idnum} {gen} from bytes of an earlier "
                    "update that no cross-reference listed",
                    (idnum, gen),
                )
            )
    found.extend(_ambiguous_frees(reader, rev))
    found.extend(_hidden_in_object_streams(reader, rev, obj_streams, expected, seen))
    return found


def _listed_before(reader: Any, rev: int, data: bytes) -> dict[tuple[int, int], int]:
    """(idnum, gen) -> every offset earlier cross-references gave it (the latest wins here)."""
    out: dict[tuple[int, int], int] = {}
    for r in range(rev):
        offsets, _ = _expected_objects(reader, r)
        for off, key in offsets.items():
            out[key] = _skip_ws(data, off, len(data))
    return out


def _ambiguous_frees(reader: Any, rev: int) -> list[Anomaly]:
    """Free entries that do not free the object's current generation the way ISO 32000 says.

    Freeing generation g is written as a free entry with generation g + 1 (or 65535). A free
    entry with any other generation for an object still in use is read as "deleted" by some
    viewers and ignored by others: a way to make the signed and the shown document differ.
    """
    from pyhanko.pdf_utils import generic

    found = []
    xref = reader.xrefs.get_xref_data(rev)
    for idnum, next_gen in xref.freed.items():
        if idnum == 0:
            continue
        current = None
        for r in range(rev - 1, -1, -1):
            data_r = reader.xrefs.get_xref_data(r)
            if idnum in data_r.standard_xrefs:
                current = data_r.standard_xrefs[idnum][0]
                break
            if idnum in data_r.xrefs_in_objstm:
                current = 0
                break
            if idnum in data_r.freed:
                break
        if current is None or next_gen in (current + 1, 65535):
            continue
        ref = generic.Reference(idnum, current, reader)
        found.append(
            Anomaly(
                rev,
                0,
                "ambiguous-free",
                f"object {ref.idnum} {ref.generation} is marked free with generation {next_gen}, "
                "which viewers read differently",
                (ref.idnum, ref.generation),
            )
        )
    return found


def _object_end(data: bytes, stream: io.BytesIO, pos: int, end: int, ref: Any) -> int | None:
    """The offset just after ``endobj`` of the object whose body starts at ``pos``."""
    from pyhanko.pdf_utils import generic

    try:
        stream.seek(_skip(data, pos, end))
        generic.read_object(stream, ref)
        after = _skip(data, stream.tell(), end)
    except Exception:
        return _object_end_by_search(data, pos, end)
    if data.startswith(b"endobj", after):
        return after + 6
    return _object_end_by_search(data, pos, end)


def _object_end_by_search(data: bytes, pos: int, end: int) -> int | None:
    """Fallback for bodies pyHanko cannot read: the next ``endobj`` after any ``endstream``."""
    s = data.find(b"stream", pos, end)
    e = data.find(b"endobj", pos, end)
    if 0 <= s < e:
        es = data.find(b"endstream", s, end)
        if es < 0:
            return None
        e = data.find(b"endobj", es, end)
    return None if e < 0 else e + 6


def _trailer_end(data: bytes, stream: io.BytesIO, pos: int, end: int, reader: Any) -> int | None:
    from pyhanko.pdf_utils import generic

    pos = _skip(data, pos, end)
    if data.startswith(b"trailer", pos):
        pos = _skip(data, pos + 7, end)
    elif data.rfind(b"trailer", max(0, pos - 16), pos) < 0:  # pyHanko stops after the keyword
        return None
    try:
        stream.seek(pos)
        generic.DictionaryObject.read_from_stream(stream, generic.TrailerReference(reader))
    except Exception:
        return None
    return stream.tell()


def _hidden_in_object_streams(
    reader: Any,
    rev: int,
    obj_streams: set[int],
    expected: dict[int, tuple[int, int]],
    seen: dict[tuple[int, int], int],
) -> list[Anomaly]:
    """Objects packed into an object stream of this update that its cross-reference does not list."""
    from pyhanko.pdf_utils import generic

    xref = reader.xrefs.get_xref_data(rev)
    listed: dict[int, set[int]] = {}
    for idnum, loc in xref.xrefs_in_objstm.items():
        listed.setdefault(loc.obj_stream_id, set()).add(idnum)
    new_here = {idnum for idnum, _ in seen}
    found: list[Anomaly] = []
    for stm in sorted(obj_streams & new_here):
        try:
            obj = reader.get_object(generic.Reference(stm, 0, reader), revision=rev)
            n, first = int(obj["/N"]), int(obj["/First"])
            header = obj.data[:first].split()
            numbers = [int(header[2 * i]) for i in range(min(n, len(header) // 2))]
        except Exception:
            continue
        extra = sorted(set(numbers) - listed.get(stm, set()))
        if extra:
            listed_extra = ", ".join(map(str, extra[:5]))
            found.append(
                Anomaly(
                    rev,
                    seen.get((stm, 0), 0),
                    "hidden-in-object-stream",
                    f"object stream {stm} holds objects its update does not list ({listed_extra})",
                    (stm,),
                )
            )
    return found
