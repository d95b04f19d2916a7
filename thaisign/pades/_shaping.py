"""HarfBuzz shaping of Thai (and Latin) text with a TrueType font, loaded once per process.

:func:`load_font` parses a font file once (cached); :meth:`FontFace.shape` turns a string into
positioned glyphs exactly as HarfBuzz's GSUB/GPOS say (upper vowels and tone marks stacked by
the font's mark positioning), in font units.
"""

from __future__ import annotations

import functools
import os
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from thaisign.errors import AppearanceError


@dataclass(frozen=True)
class Glyph:
    """One shaped glyph: its id, advance and offset (font units) and source cluster index."""

    gid: int
    x_advance: int
    x_offset: int
    y_offset: int
    cluster: int


@dataclass(frozen=True)
class ShapedText:
    """A string shaped into glyphs, with its total advance and ink extent in font units."""

    text: str
    glyphs: tuple[Glyph, ...]
    advance: int
    ink_top: int  # highest point of any glyph above the baseline
    ink_bottom: int  # lowest point (negative below the baseline)


def default_font_path() -> Path:
    """Sarabun Regular from the ``fontpkg-sarabun`` package (OFL)."""
    path = resources.files("fontpkg_sarabun").joinpath("files", "Sarabun-Regular.ttf")
    return Path(str(path))


class FontFace:
    """A TrueType font parsed once: HarfBuzz font, metrics, glyph boxes and reverse cmap."""

    def __init__(self, path: Path, data: bytes) -> None:
        import uharfbuzz as hb
        from fontTools import ttLib

        self.path = path
        self.data = data
        try:
            self._hb_font = hb.Font(hb.Face(data))
            tt = ttLib.TTFont(_BytesReader(data), lazy=True)
            self.units_per_em = int(tt["head"].unitsPerEm)
            self.ascender = int(tt["hhea"].ascent)
            self.descender = int(tt["hhea"].descent)
            self.cap_height = int(getattr(tt["OS/2"], "sCapHeight", 0) or self.ascender * 0.7)
            self.ps_name = _ps_name(tt)
            self._glyph_order = tt.getGlyphOrder()
            self._advances = {i: tt["hmtx"][n][0] for i, n in enumerate(self._glyph_order)}
            self._is_truetype = "glyf" in tt
            head = tt["head"]
            self.bbox = (int(head.xMin), int(head.yMin), int(head.xMax), int(head.yMax))
            self._glyf = tt["glyf"] if self._is_truetype else None
            self._cmap: dict[int, str] = tt.getBestCmap() or {}
            self.italic_angle = float(tt["post"].italicAngle)
        except Exception as exc:
            raise AppearanceError(
                f"cannot use font {path}: {exc}", hint="give a TrueType (.ttf) font with Thai glyphs"
            ) from None
        if not self._is_truetype:
            raise AppearanceError(
                f"font {path} has CFF outlines", hint="give a TrueType (.ttf) font, e.g. TH Sarabun New"
            )
        if 0x0E01 not in self._cmap:
            raise AppearanceError(
                f"font {path} has no Thai glyphs", hint="give a font with Thai, e.g. Sarabun"
            )
        self._reverse: dict[str, list[int]] = {}
        for cp, name in self._cmap.items():
            self._reverse.setdefault(name, []).append(cp)
        self._extent: dict[int, tuple[int, int]] = {}

    def has_char(self, char: str) -> bool:
        """Whether the font's cmap maps ``char``."""
        return ord(char) in self._cmap

    def advance(self, gid: int) -> int:
        return int(self._advances.get(gid, 0))

    def codepoints_of(self, gid: int) -> list[int]:
        """Unicode code points the font's cmap maps onto glyph ``gid``."""
        return self._reverse.get(self._glyph_order[gid], [])

    def glyph_extent(self, gid: int) -> tuple[int, int]:
        """(yMin, yMax) of a glyph's outline in font units."""
        hit = self._extent.get(gid)
        if hit is None:
            assert self._glyf is not None
            g = self._glyf[self._glyph_order[gid]]
            hit = (int(getattr(g, "yMin", 0)), int(getattr(g, "yMax", 0)))
            self._extent[gid] = hit
        return hit

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - the face lives for the whole process
    def shape(self, text: str) -> ShapedText:
        """Shape ``text`` with HarfBuzz (script and language guessed: Thai or Latin)."""
        import uharfbuzz as hb

        if not text:
            return ShapedText(text, (), 0, 0, 0)
        buf = hb.Buffer()
        buf.add_str(text)
        buf.guess_segment_properties()
        hb.shape(self._hb_font, buf, {"kern": True, "liga": True})
        glyphs = []
        advance = top = bottom = 0
        for info, pos in zip(buf.glyph_infos, buf.glyph_positions, strict=True):
            glyphs.append(Glyph(info.codepoint, pos.x_advance, pos.x_offset, pos.y_offset, info.cluster))
            advance += pos.x_advance
            y_min, y_max = self.glyph_extent(info.codepoint)
            top = max(top, y_max + pos.y_offset)
            bottom = min(bottom, y_min + pos.y_offset)
        missing = [text[g.cluster] for g in glyphs if g.gid == 0 and not text[g.cluster].isspace()]
        if missing:
            raise AppearanceError(
                f"font {self.path.name} has no glyph for {missing[0]!r}",
                hint="use --font with a font that covers the text",
            )
        return ShapedText(text, tuple(glyphs), advance, top, bottom)

    def width(self, text: str, size: float) -> float:
        """Advance width of ``text`` at ``size`` points."""
        return self.shape(text).advance * size / self.units_per_em


class _BytesReader:
    """A minimal seekable file over bytes for fontTools (avoids copying)."""

    def __init__(self, data: bytes) -> None:
        import io

        self._io = io.BytesIO(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self._io, name)


def _ps_name(tt: object) -> str:
    name_table = tt["name"]  # type: ignore[index]
    for rec in name_table.names:
        if rec.nameID == 6:
            try:
                return str(rec.toUnicode()).replace(" ", "")
            except UnicodeDecodeError:
                continue
    return "ThaiFont"


@functools.lru_cache(maxsize=8)
def _load_font_cached(path: str, mtime_ns: int) -> FontFace:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise AppearanceError(f"cannot read font {p}: {exc.strerror}") from None
    return FontFace(p, data)


def load_font(path: str | os.PathLike[str] | None = None) -> FontFace:
    """The font at ``path`` (default: Sarabun Regular), parsed once per process (a file given
    by path is parsed again when it changes)."""
    if path is None:
        return _default_font()
    p = Path(path)
    try:
        mtime = p.stat().st_mtime_ns
    except OSError:
        raise AppearanceError(f"font file not found: {p}", hint="check the --font path") from None
    return _load_font_cached(str(p.resolve()), mtime)


@functools.lru_cache(maxsize=1)
def _default_font() -> FontFace:
    """Sarabun from its installed package: it does not change while the process runs, so no
    stat and path resolution per letter."""
    p = default_font_path()
    try:
        mtime = p.stat().st_mtime_ns
    except OSError:
        raise AppearanceError(f"font file not found: {p}", hint="reinstall fontpkg-sarabun") from None
    return _load_font_cached(str(p.resolve()), mtime)


def grapheme_breaks(text: str) -> list[int]:
    """Indexes where ``text`` may be broken without splitting a Thai cluster (last resort wrapping)."""
    out = []
    for i in range(1, len(text)):
        ch = text[i]
        if unicodedata.category(ch) in ("Mn", "Mc") or ch in "\u0e33\u0e45":  # marks, SARA AM, LAKKHANGYAO
            continue
        if text[i - 1] in "\u0e40\u0e41\u0e42\u0e43\u0e44":  # a leading vowel binds to what follows
            continue
        out.append(i)
    return out
