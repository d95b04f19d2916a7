"""Thai text in a PDF: shaped lines as content-stream operators, and the font embedded as a subset.

A :class:`TextPainter` collects the glyphs that content uses; :meth:`TextPainter.embed` writes a
``Type0``/``CIDFontType2`` font with ``Identity-H`` encoding, a subset of the TrueType program
(cached per glyph set, so a batch of letters for one officer subsets once) and a ``ToUnicode``
CMap, so that the text extracts as Thai (each line also carries ``/ActualText``).
"""

from __future__ import annotations

import functools
import hashlib
import io
import zlib
from collections.abc import Sequence
from typing import Any

from pyhanko.pdf_utils import generic

from thaisign.pades._shaping import FontFace, ShapedText

pdf_name = generic.NameObject

#: painted lines: (face, resource name, size, texts and places) -> (operators, widths, ToUnicode)
_PAINTED: dict[tuple[Any, ...], tuple[tuple[bytes, ...], dict[int, int], dict[int, str]]] = {}


@functools.lru_cache(maxsize=64)
def _subset_program(face: FontFace, gids: frozenset[int]) -> tuple[bytes, int]:
    """The TrueType program reduced to ``gids`` (glyph ids kept), zlib-compressed, and its
    length before compression."""
    from fontTools import subset, ttLib

    tt = ttLib.TTFont(io.BytesIO(face.data))
    options = subset.Options()
    options.retain_gids = True
    options.notdef_outline = True
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "DSIG", "FFTM"]
    options.name_IDs = [1, 2, 3, 4, 6]
    options.hinting = False
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(gids=sorted(gids | {0}))
    subsetter.subset(tt)
    out = io.BytesIO()
    tt.save(out)
    return zlib.compress(out.getvalue(), 6), len(out.getvalue())


def _utf16_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def _fmt(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


class TextPainter:
    """Paints shaped lines with one font and remembers which glyphs were used."""

    def __init__(self, face: FontFace, resource_name: str = "/ThF1") -> None:
        self.face = face
        self.resource_name = resource_name
        self._widths: dict[int, int] = {}
        self._to_unicode: dict[int, str] = {}

    def _remember(self, shaped: ShapedText) -> None:
        text, glyphs = shaped.text, shaped.glyphs
        clusters = sorted({g.cluster for g in glyphs})
        ends = {c: (clusters[i + 1] if i + 1 < len(clusters) else len(text)) for i, c in enumerate(clusters)}
        by_cluster: dict[int, list[int]] = {}
        for g in glyphs:
            self._widths[g.gid] = self.face.advance(g.gid)
            by_cluster.setdefault(g.cluster, []).append(g.gid)
        for cluster, gids in by_cluster.items():
            chunk = text[cluster : ends[cluster]].replace("\u00a0", " ")
            if len(gids) == 1:
                self._to_unicode.setdefault(gids[0], chunk)
                continue
            unassigned = list(chunk)
            for gid in gids:
                cps = [chr(c) for c in self.face.codepoints_of(gid) if chr(c) in unassigned]
                if cps:
                    self._to_unicode.setdefault(gid, cps[0])
                    unassigned.remove(cps[0])
            for gid in gids:  # glyphs substituted by GSUB: give them what is left, in order
                if gid not in self._to_unicode and unassigned:
                    self._to_unicode[gid] = unassigned.pop(0)

    def line(self, shaped: ShapedText, x: float, y: float, size: float) -> bytes:
        """Operators drawing ``shaped`` with its baseline starting at (x, y), ``size`` points."""
        if not shaped.glyphs:
            return b""
        self._remember(shaped)
        scale = size / self.face.units_per_em
        actual = f"/Span <</ActualText <FEFF{_utf16_hex(shaped.text.replace(chr(0xA0), ' '))}>>> BDC"
        ops = [f"{actual} BT {self.resource_name} {_fmt(size)} Tf"]
        pen = 0
        for g in shaped.glyphs:
            gx = x + (pen + g.x_offset) * scale
            gy = y + g.y_offset * scale
            ops.append(f"1 0 0 1 {_fmt(gx)} {_fmt(gy)} Tm <{g.gid:04X}> Tj")
            pen += g.x_advance
        ops.append("ET EMC")
        return "\n".join(ops).encode("ascii")

    def lines(self, placed: Sequence[tuple[ShapedText, float, float]], size: float) -> list[bytes]:
        """:meth:`line` for each (shaped, x, y) of one appearance, on a fresh painter.

        The result and the glyphs it uses are kept per font, texts, places and size (a batch of
        letters for one officer repeats them but for the time line's minute), so a repeat costs
        a dictionary look-up instead of the operators' formatting."""
        if self._widths or self._to_unicode:
            return [self.line(shaped, x, y, size) for shaped, x, y in placed]
        key = (self.face, self.resource_name, size, tuple((s.text, x, y) for s, x, y in placed))
        found = _PAINTED.get(key)
        if found is None:
            ops = [self.line(shaped, x, y, size) for shaped, x, y in placed]
            if len(_PAINTED) >= 256:
                _PAINTED.clear()
            found = _PAINTED[key] = (tuple(ops), dict(self._widths), dict(self._to_unicode))
        ops_cached, widths, to_unicode = found
        self._widths = dict(widths)
        self._to_unicode = dict(to_unicode)
        return list(ops_cached)

    @property
    def used(self) -> bool:
        return bool(self._widths)

    def embed(self, writer: Any) -> generic.IndirectObject:
        """Add the Type0 font (subset program, widths, ToUnicode) to ``writer``; return its reference."""
        face = self.face
        gids = frozenset(self._widths)
        program, length = _subset_program(face, gids)
        tag = hashlib.sha256(repr(sorted(gids)).encode() + face.ps_name.encode()).digest()
        prefix = "".join(chr(ord("A") + b % 26) for b in tag[:6])
        base_font = pdf_name(f"/{prefix}+{face.ps_name}")
        add = writer.add_object
        font_file = generic.StreamObject(
            {pdf_name("/Length1"): generic.NumberObject(length)},
            encoded_data=program,
        )
        font_file[pdf_name("/Filter")] = pdf_name("/FlateDecode")
        em = 1000 / face.units_per_em
        x0, y0, x1, y1 = face.bbox
        descriptor = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/FontDescriptor"),
                pdf_name("/FontName"): base_font,
                pdf_name("/Flags"): generic.NumberObject(4),
                pdf_name("/FontBBox"): generic.ArrayObject(
                    [generic.NumberObject(round(v * em)) for v in (x0, y0, x1, y1)]
                ),
                pdf_name("/ItalicAngle"): generic.FloatObject(face.italic_angle),
                pdf_name("/Ascent"): generic.NumberObject(round(face.ascender * em)),
                pdf_name("/Descent"): generic.NumberObject(round(face.descender * em)),
                pdf_name("/CapHeight"): generic.NumberObject(round(face.cap_height * em)),
                pdf_name("/StemV"): generic.NumberObject(80),
                pdf_name("/FontFile2"): add(font_file),
            }
        )
        widths = generic.ArrayObject()
        for gid in sorted(gids):
            widths.append(generic.NumberObject(gid))
            widths.append(generic.ArrayObject([generic.NumberObject(round(self._widths[gid] * em))]))
        cid_font = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/CIDFontType2"),
                pdf_name("/BaseFont"): base_font,
                pdf_name("/CIDSystemInfo"): generic.DictionaryObject(
                    {
                        pdf_name("/Registry"): generic.pdf_string("Adobe"),
                        pdf_name("/Ordering"): generic.pdf_string("Identity"),
                        pdf_name("/Supplement"): generic.NumberObject(0),
                    }
                ),
                pdf_name("/FontDescriptor"): add(descriptor),
                pdf_name("/W"): widths,
                pdf_name("/DW"): generic.NumberObject(0),
                pdf_name("/CIDToGIDMap"): pdf_name("/Identity"),
            }
        )
        to_unicode = generic.StreamObject(stream_data=self._to_unicode_cmap())
        to_unicode.compress()
        type0 = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type0"),
                pdf_name("/BaseFont"): base_font,
                pdf_name("/Encoding"): pdf_name("/Identity-H"),
                pdf_name("/DescendantFonts"): generic.ArrayObject([add(cid_font)]),
                pdf_name("/ToUnicode"): add(to_unicode),
            }
        )
        ref: generic.IndirectObject = add(type0)
        return ref

    def _to_unicode_cmap(self) -> bytes:
        entries = sorted(self._to_unicode.items())
        lines = [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            "/CMapName /Adobe-Identity-UCS def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            "<0000> <FFFF>",
            "endcodespacerange",
        ]
        for start in range(0, len(entries), 100):
            chunk = entries[start : start + 100]
            lines.append(f"{len(chunk)} beginbfchar")
            lines.extend(f"<{gid:04X}> <{_utf16_hex(text)}>" for gid, text in chunk)
            lines.append("endbfchar")
        lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
        return "\n".join(lines).encode("ascii")
