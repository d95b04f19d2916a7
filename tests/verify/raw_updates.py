"""Incremental updates written by hand, byte by byte: the tool the attacks in these tests use.

An attacker does not use a PDF library; neither do these tests. :class:`RawUpdate` appends
objects, an xref table and a trailer to a PDF exactly as asked — including the things a
conforming writer never does (objects no xref lists, two definitions of one object, free
entries with the wrong generation, an xref pointing into older bytes, no xref at all). Only the
previous trailer is read (with pyHanko), and objects to be modified are read and serialised
with pyHanko's object model so that a test can say "this page, with one key changed".
"""

from __future__ import annotations

import io
from typing import Any


def serialise(obj: Any) -> bytes:
    """A pyHanko object as PDF bytes (references written as ``N G R``)."""
    out = io.BytesIO()
    obj.write_to_stream(out, None)
    return out.getvalue()


def stream_body(dictionary: bytes, data: bytes) -> bytes:
    """``<< dictionary /Length n >> stream ... endstream`` for uncompressed ``data``."""
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


class RawUpdate:
    """One incremental update to ``pdf``, assembled by hand."""

    def __init__(self, pdf: bytes) -> None:
        from pyhanko.pdf_utils.reader import PdfFileReader

        self.base = pdf if pdf.endswith(b"\n") else pdf + b"\n"
        self.reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        trailer = self.reader.trailer_view
        self.size = int(trailer["/Size"])
        self.prev = self.reader.last_startxref
        self.trailer_refs = {key: trailer.raw_get(key) for key in ("/Root", "/Info") if key in trailer}
        self.id = trailer.raw_get("/ID") if "/ID" in trailer else None
        self.objects: list[tuple[int, int, bytes]] = []

    # -- reading --------------------------------------------------------------------------

    def get(self, idnum: int, gen: int = 0) -> Any:
        from pyhanko.pdf_utils import generic

        return self.reader.get_object(generic.Reference(idnum, gen, self.reader))

    @property
    def root_ref(self) -> int:
        return int(self.trailer_refs["/Root"].idnum)

    def root(self) -> Any:
        return self.get(self.root_ref)

    def page_ref(self, index: int = 0) -> int:
        page = self.root()["/Pages"]["/Kids"].raw_get(index)
        return int(page.idnum)

    # -- writing --------------------------------------------------------------------------

    def new_id(self) -> int:
        idnum = self.size
        self.size += 1
        return idnum

    def put(self, idnum: int | None, body: bytes, gen: int = 0) -> int:
        """Add (or redefine) object ``idnum`` with the given body; a new number when None."""
        if idnum is None:
            idnum = self.new_id()
        self.objects.append((idnum, gen, body))
        return idnum

    def put_obj(self, idnum: int | None, obj: Any) -> int:
        return self.put(idnum, serialise(obj))

    def bytes(
        self,
        *,
        listed: set[int] | None = None,
        free: dict[int, int] | None = None,
        extra_entries: dict[int, int] | None = None,
        xref: bool = True,
        between: bytes = b"",
        trailer_extra: bytes = b"",
    ) -> bytes:
        """The updated file.

        ``listed``: the objects the xref lists (default: all written); ``free``: free entries
        ``{idnum: generation}``; ``extra_entries``: in-use entries ``{idnum: offset}`` pointing
        anywhere; ``xref=False`` appends the objects alone (no xref, no trailer, no %%EOF);
        ``between`` is written after the previous file and before the objects.
        """
        out = io.BytesIO()
        out.write(self.base)
        out.write(between)
        offsets: dict[int, tuple[int, int]] = {}
        for idnum, gen, body in self.objects:
            offsets[idnum] = (out.tell(), gen)
            out.write(b"%d %d obj\n" % (idnum, gen) + body + b"\nendobj\n")
        if not xref:
            return out.getvalue()
        entries: dict[int, bytes] = {0: b"0000000000 65535 f \n"}
        for idnum, (offset, gen) in offsets.items():
            if listed is None or idnum in listed:
                entries[idnum] = b"%010d %05d n \n" % (offset, gen)
        for idnum, gen in (free or {}).items():
            entries[idnum] = b"%010d %05d f \n" % (0, gen)
        for idnum, offset in (extra_entries or {}).items():
            entries[idnum] = b"%010d %05d n \n" % (offset, 0)
        start = out.tell()
        out.write(b"xref\n")
        numbers = sorted(entries)
        run: list[int] = []
        for n in [*numbers, -1]:
            if run and n != run[-1] + 1:
                out.write(b"%d %d\n" % (run[0], len(run)))
                out.write(b"".join(entries[k] for k in run))
                run = []
            if n >= 0:
                run.append(n)
        size = max([self.size, *[k + 1 for k in entries]])
        refs = b" ".join(
            key.encode() + b" %d %d R" % (ref.idnum, ref.generation) for key, ref in self.trailer_refs.items()
        )
        ident = serialise(self.id) if self.id is not None else b""
        out.write(
            b"trailer\n<< /Size %d %s /Prev %d %s %s >>\nstartxref\n%d\n%%%%EOF\n"
            % (size, refs, self.prev, (b"/ID " + ident) if ident else b"", trailer_extra, start)
        )
        return out.getvalue()
