"""A picture of the signed page with each signature's box marked, for the clerk's desk.

>>> png = signed_page_picture(Path("letter-signed.pdf").read_bytes())

The page is rendered with PDFium (``pypdfium2``); the boxes come from the signature fields'
widgets (``/Rect`` on page ``/P``). A letter whose signatures are invisible gets its first page,
with no box, and ``boxes`` empty so the page can say so.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

#: width of the picture in pixels: readable on screen, small enough to send inline
DEFAULT_WIDTH = 820
_MAX_PAGES_SCANNED = 2000


@dataclass(frozen=True)
class SignatureBox:
    """Where a signature field shows on the page (PDF points, origin at the lower left)."""

    field: str
    page: int  # 0-based
    rect: tuple[float, float, float, float]


@dataclass(frozen=True)
class PagePicture:
    """A PNG of one page and the signature boxes drawn on it."""

    png: bytes
    page: int  # 0-based
    boxes: tuple[SignatureBox, ...]


def signature_boxes(data: bytes) -> list[SignatureBox]:
    """The visible signature fields that hold a signature, in the order the form lists them."""
    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
    pages: dict[int, int] = {}
    for i, page_obj in enumerate(reader.pages):
        if i >= _MAX_PAGES_SCANNED:
            break
        if page_obj.indirect_reference is not None:
            pages[page_obj.indirect_reference.idnum] = i
    root: Any = reader.trailer["/Root"].get_object()
    acro = root.get("/AcroForm")
    if acro is None:
        return []
    out: list[SignatureBox] = []
    stack = [(f, "") for f in acro.get_object().get("/Fields", [])][:_MAX_PAGES_SCANNED]
    seen: set[int] = set()
    while stack and len(seen) < 10_000:
        ref, parent = stack.pop(0)
        idnum = getattr(ref, "idnum", None)
        if idnum is not None:
            if idnum in seen:
                continue
            seen.add(idnum)
        field = ref.get_object()
        name = str(field.get("/T", ""))
        full = f"{parent}.{name}" if parent and name else (name or parent)
        kids = field.get("/Kids")
        if kids is not None and "/T" in field and field.get("/FT") != "/Sig":
            stack.extend((k, full) for k in kids.get_object())
            continue
        if field.get("/FT") != "/Sig" or field.get("/V") is None:
            continue
        widgets = [k.get_object() for k in kids.get_object()] if kids is not None else [field]
        for widget in widgets:
            rect = [float(v) for v in widget.get("/Rect", [0, 0, 0, 0])]
            if len(rect) != 4 or abs(rect[2] - rect[0]) < 1 or abs(rect[3] - rect[1]) < 1:
                continue
            page_ref = widget.get("/P")
            on_page = pages.get(getattr(page_ref, "idnum", -1), 0) if page_ref is not None else 0
            x1, x2 = sorted((rect[0], rect[2]))
            y1, y2 = sorted((rect[1], rect[3]))
            out.append(SignatureBox(full, on_page, (x1, y1, x2, y2)))
    return out


def signed_page_picture(data: bytes, *, width: int = DEFAULT_WIDTH) -> PagePicture:
    """The page of the first visible signature (else page 1), boxes marked in red."""
    import pypdfium2 as pdfium
    from PIL import ImageDraw

    try:
        boxes = signature_boxes(data)
    except Exception:
        boxes = []
    page_index = boxes[0].page if boxes else 0
    on_page = tuple(b for b in boxes if b.page == page_index)
    pdf = pdfium.PdfDocument(data)
    try:
        pdf.init_forms()  # so that signature widgets (the visible stamps) are drawn too
        page = pdf[min(page_index, len(pdf) - 1)]
        left, _bottom, right, top = page.get_mediabox()
        scale = width / max(1.0, right - left)
        image = page.render(scale=scale).to_pil().convert("RGB")
    finally:
        pdf.close()
    draw = ImageDraw.Draw(image)
    pad = max(2, round(2 * scale))
    for b in on_page:
        x1, y1, x2, y2 = b.rect
        box = (
            (x1 - left) * scale - pad,
            (top - y2) * scale - pad,
            (x2 - left) * scale + pad,
            (top - y1) * scale + pad,
        )
        draw.rectangle(box, outline=(200, 0, 0), width=max(3, round(1.5 * scale)))
    out = io.BytesIO()
    image.quantize(colors=64).save(out, format="PNG", optimize=True)
    return PagePicture(out.getvalue(), page_index, on_page)
