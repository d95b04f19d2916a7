"""Where a visible signature goes on a letter: in the free space above an anchor's line.

>>> page, rect = place_above_anchor(pdf_bytes, "ลงชื่อ", box=(170, 52))

Thai letters leave room to sign above a line: ``ลงชื่อ ............`` or the typed name
``(นายสมชาย ใจดี)``, below ``ขอแสดงความนับถือ``. The stamp is put there:

1. the anchor is found with PDFium's text extraction (the last page that has it, unless a page
   is given; the first occurrence on that page, or the ``occurrence``-th);
2. horizontally, the box is centred over what follows the anchor on its line (the dotted line
   after ``ลงชื่อ``), or over the anchor itself when nothing follows;
3. vertically, it sits just above the anchor's line and reaches at most to the next text (or
   picture) above it; when the free space is lower than the box, the box is made lower (down to
   ``min_height``, the stamp's text shrinks with it) or moved sideways to where there is room;
4. ``offset`` then moves the box (points, right and up). A box that would cover any text is
   refused with :class:`~thaisign.errors.AppearanceError`: never over other text.
"""

from __future__ import annotations

from dataclasses import dataclass

from thaisign.errors import AppearanceError

Rect = tuple[float, float, float, float]

GAP = 2.0  # clearance between the box and the text around it, in points
PAGE_MARGIN = 14.0  # never closer to the page edge
MIN_HEIGHT = 28.0  # a stamp lower than this is unreadable
ASCENT, DESCENT = 1.05, 0.35  # a text line's extent above and below its baseline, in font sizes


@dataclass(frozen=True)
class _Glyph:
    ch: str
    box: Rect  # x1, y1, x2, y2 (PDF points, origin lower left)


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _union(boxes: list[Rect]) -> Rect:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _page_content(page: object) -> tuple[str, list[_Glyph | None], list[Rect], list[Rect]]:
    """The page's text (index = PDFium char index), a glyph per char (None for spaces and
    generated characters), the bounds of its text objects, and of pictures and small drawings."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()  # type: ignore[attr-defined]
    n = textpage.count_chars()
    text = textpage.get_text_range(0, n) if n else ""
    glyphs: list[_Glyph | None] = []
    for i in range(n):
        ch = text[i] if i < len(text) else ""
        if not ch or ch.isspace():
            glyphs.append(None)
            continue
        x1, y1, x2, y2 = textpage.get_charbox(i)
        if not (x2 > x1 or y2 > y1):
            glyphs.append(None)
            continue
        # a line's extent as readers measure it (the font's ascent and descent), not the ink:
        # the room a clerk sees between two lines, and what pdftotext -bbox reports
        size = pdfium_c.FPDFText_GetFontSize(textpage.raw, i)
        ox, oy = ctypes.c_double(), ctypes.c_double()
        if size > 0 and pdfium_c.FPDFText_GetCharOrigin(textpage.raw, i, ctypes.byref(ox), ctypes.byref(oy)):
            y1, y2 = min(y1, oy.value - DESCENT * size), max(y2, oy.value + ASCENT * size)
        glyphs.append(_Glyph(ch, (x1, y1, x2, y2)))
    w, h = page.get_size()  # type: ignore[attr-defined]
    texts: list[Rect] = []
    others: list[Rect] = []
    kinds = [pdfium_c.FPDF_PAGEOBJ_TEXT, pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_PATH,
             pdfium_c.FPDF_PAGEOBJ_SHADING]  # fmt: skip
    for obj in page.get_objects(filter=kinds, max_depth=4):  # type: ignore[attr-defined]
        try:
            x1, y1, x2, y2 = obj.get_bounds()
        except pdfium.PdfiumError:
            continue
        if obj.type == pdfium_c.FPDF_PAGEOBJ_TEXT:
            texts.append((x1, y1, x2, y2))
        elif (x2 - x1) * (y2 - y1) <= 0.25 * w * h:  # not a page background or frame
            others.append((x1, y1, x2, y2))
    return text, glyphs, texts, others


def _find(text: str, glyphs: list[_Glyph | None], needle: str, occurrence: int) -> list[int] | None:
    """Char indices of the ``occurrence``-th match of ``needle`` (whitespace ignored).

    Some producers' text maps a ligated Thai cluster twice (Chromium's ``มั่นมั่``): when the
    exact text is absent, the needle's characters in order within a short window count too.
    """
    compact = "".join(needle.split())
    index = [i for i, g in enumerate(glyphs) if g is not None]
    stripped = "".join(glyphs[i].ch for i in index)  # type: ignore[union-attr]
    found: list[list[int]] = []
    start = stripped.find(compact)
    while start >= 0 and len(found) < occurrence:
        found.append(index[start : start + len(compact)])
        start = stripped.find(compact, start + 1)
    if not found:
        window = 2 * len(compact) + 2
        for s0 in (k for k, ch in enumerate(stripped) if ch == compact[0]):
            picked, k = [], s0
            for ch in compact:
                k = stripped.find(ch, k, s0 + window)
                if k < 0:
                    break
                picked.append(index[k])
                k += 1
            if len(picked) == len(compact):
                found.append(picked)
                if len(found) == occurrence:
                    break
    return found[occurrence - 1] if len(found) >= occurrence else None


def _free_height(bottom: float, x1: float, x2: float, obstacles: list[Rect], ceiling: float) -> float:
    """From ``bottom`` up, how high the column [x1, x2] is free of obstacles (to ``ceiling``)."""
    top = ceiling
    for o in obstacles:
        if o[0] < x2 and x1 < o[2] and o[3] > bottom:
            top = min(top, o[1])
    return top - GAP - bottom


def place_above_anchor(
    data: bytes,
    needle: str,
    *,
    box: tuple[float, float],
    page: int | None = None,
    occurrence: int = 1,
    offset: tuple[float, float] = (0.0, 0.0),
    min_height: float = MIN_HEIGHT,
) -> tuple[int, Rect]:
    """The 0-based page and the box (x1, y1, x2, y2) for a stamp above ``needle``'s line."""
    import pypdfium2 as pdfium

    if not needle.strip():
        raise AppearanceError("the anchor text is empty", hint="give the word to sign above, e.g. ลงชื่อ")
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise AppearanceError(f"cannot read the pages to find the anchor text: {exc}") from None
    try:
        order = [page] if page is not None else list(range(len(pdf) - 1, -1, -1))
        for index in order:
            if not 0 <= index < len(pdf):
                raise AppearanceError(f"page {index + 1} does not exist (the letter has {len(pdf)} pages)")
            p = pdf[index]
            text, glyphs, texts, others = _page_content(p)
            hit = _find(text, glyphs, needle, occurrence)
            if hit is None:
                continue
            rect = _place(p, glyphs, texts, others, hit, box, offset, min_height, needle)
            return index, rect
    finally:
        pdf.close()
    where = f"page {page + 1}" if page is not None else "any page"
    raise AppearanceError(
        f"anchor text {needle!r} not found on {where}",
        hint="check the word in the letter (its text must be selectable), or use --page/--rect",
    )


def _place(
    page: object,
    glyphs: list[_Glyph | None],
    texts: list[Rect],
    others: list[Rect],
    hit: list[int],
    box: tuple[float, float],
    offset: tuple[float, float],
    min_height: float,
    needle: str,
) -> Rect:
    width, height = box
    page_w, page_h = page.get_size()  # type: ignore[attr-defined]
    anchor = _union([glyphs[i].box for i in hit])  # type: ignore[union-attr]
    line_h = max(anchor[3] - anchor[1], 4.0)
    # the anchor's line: text at the anchor's height, from the anchor on, without a wide gap
    # (glyph boxes, and text objects: some producers' glyph boxes are degenerate under ActualText)
    boxes = [g.box for i, g in enumerate(glyphs) if g is not None and i not in hit] + texts
    segment: list[Rect] = []
    edge = anchor[2]
    for b in sorted((b for b in boxes if b[0] >= anchor[0] - 1), key=lambda b: b[0]):
        centre_y = (b[1] + b[3]) / 2
        if anchor[1] - 0.35 * line_h <= centre_y <= anchor[3] + 0.2 * line_h and b[0] - edge < 3 * line_h:
            segment.append(b)
            edge = max(edge, b[2])
    chars = len("".join(needle.split()))
    degenerate = anchor[2] - anchor[0] < 0.2 * line_h * chars  # no usable width for the anchor
    rest = [b for b in segment if b[0] >= anchor[2] - 1] if not degenerate else []
    if degenerate:
        target = (anchor[0], max(edge, anchor[2]))
    elif rest:
        target = (anchor[2], max(b[2] for b in rest))
    else:
        target = (anchor[0], anchor[2])
    line = _union([anchor, *segment])
    line_top = line[3]
    obstacles = [g.box for g in glyphs if g is not None] + texts + others
    above = [o for o in obstacles if not _overlaps(o, line) and o[3] > line_top - 0.5]
    bottom = line_top + GAP
    ceiling = page_h - PAGE_MARGIN
    centre = (target[0] + target[1]) / 2
    lo, hi = PAGE_MARGIN, page_w - PAGE_MARGIN - width
    if hi < lo:
        raise AppearanceError(
            f"the signature box ({width:.0f} pt wide) is wider than the page",
            hint="give a smaller --anchor-box",
        )
    # the centred place first, then sideways in 6 pt steps, nearest first
    candidates = sorted({min(max(centre - width / 2 + k * 6.0, lo), hi) for k in range(-60, 61)},
                        key=lambda x: abs(x - (centre - width / 2)))  # fmt: skip
    best: tuple[float, float] | None = None
    for x1 in candidates:
        free = _free_height(bottom, x1, x1 + width, above, ceiling)
        if free >= height:
            best = (x1, height)
            break
        if free >= min_height and best is None:
            best = (x1, free)
            break
    if best is None:
        free = _free_height(bottom, candidates[0], candidates[0] + width, above, ceiling)
        raise AppearanceError(
            f"no free space above {needle!r} for the signature: {max(free, 0):.0f} pt between its line and "
            f"the text above, {min_height:.0f} pt needed",
            hint="give a smaller --anchor-box, another --anchor-text, or place the box with --page/--rect",
        )
    x1, h = best
    rect = (x1 + offset[0], bottom + offset[1], x1 + width + offset[0], bottom + h + offset[1])
    for o in obstacles:
        if _overlaps(rect, o):
            raise AppearanceError(
                f"with --anchor-offset {offset[0]:g},{offset[1]:g} the signature would cover text",
                hint="use a smaller --anchor-offset (or none): the box is placed in the free space by itself",
            )
    if rect[0] < 0 or rect[1] < 0 or rect[2] > page_w or rect[3] > page_h:
        raise AppearanceError("with that --anchor-offset the signature box leaves the page")
    return rect
