"""Reading values out of PDF objects for the change analysis: boxes, texts, page attributes."""

from __future__ import annotations

from typing import Any

from thaisign.verify.changes.compare import pdf_get, resolve

Rect = tuple[float, float, float, float]
#: longest value named in a sentence (characters)
TEXT_LIMIT = 200


def effective_page(page: Any) -> Any:
    """The page dictionary with its inherited attributes filled in (a direct copy)."""
    from pyhanko.pdf_utils import generic

    d = generic.DictionaryObject({k: page.obj.raw_get(k) for k in page.obj})
    for key, value in page.inherited.items():
        if key not in d:
            d[generic.NameObject(key)] = value
    return d


def page_box(page: Any) -> Rect:
    box = rect_value(pdf_get(page.obj, "/CropBox") or pdf_get(page.obj, "/MediaBox"))
    if box is None:
        box = rect_value(resolve(page.inherited.get("/CropBox") or page.inherited.get("/MediaBox")))
    return box or (0.0, 0.0, 612.0, 792.0)


def annotation_rect(obj: Any) -> Rect | None:
    try:
        return rect_value(pdf_get(obj, "/Rect"))
    except Exception:
        return None


def rect_value(value: Any) -> Rect | None:
    try:
        x1, y1, x2, y2 = (float(v) for v in value)
    except Exception:
        return None
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def boxes(annot: Any) -> list[tuple[int, Rect]]:
    box = annotation_rect(annot.obj)
    return [(annot.page, box)] if box is not None else []


def is_doc_timestamp(sig: Any) -> bool:
    """A /DocTimeStamp — or, as DSS treats it, any dictionary with /SubFilter /ETSI.RFC3161."""
    return pdf_get(sig, "/Type") == "/DocTimeStamp" or pdf_get(sig, "/SubFilter") == "/ETSI.RFC3161"


def text_of(value: Any) -> str | None:
    """A field value as a clerk reads it (None for no value)."""
    from pyhanko.pdf_utils import generic

    try:
        v = resolve(value)
    except Exception:
        return "?"
    if v is None or isinstance(v, generic.NullObject):
        return None
    if isinstance(v, generic.NameObject):
        s = str(v)[1:]
        return None if s == "Off" else s
    if isinstance(v, generic.ArrayObject):
        parts = [text_of(x) for x in v.iterate()]
        s = ", ".join(p for p in parts if p)
    elif isinstance(v, generic.StreamObject):
        try:
            s = v.data.decode("utf-8", "replace")
        except Exception:
            s = "?"
    elif isinstance(v, generic.DictionaryObject):
        return "(signature)" if "/ByteRange" in v else "(dictionary)"
    elif isinstance(v, generic.ByteStringObject):
        s = decode_bytes(bytes(v))
    else:
        s = str(v)
    s = s.strip()
    if not s:
        return None
    return s if len(s) <= TEXT_LIMIT else s[: TEXT_LIMIT - 1] + "…"


def decode_bytes(raw: bytes) -> str:
    """A byte string that was not read as text: UTF-16 with a BOM, UTF-8, else PDFDocEncoding."""
    from pyhanko.pdf_utils.generic import decode_pdfdocencoding

    if raw[:2] in (b"\xfe\xff", b"\xff\xfe"):
        return raw.decode("utf-16", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return str(decode_pdfdocencoding(raw))
        except Exception:
            return raw.decode("latin-1")


def annotation_text(obj: Any) -> str | None:
    try:
        return text_of(obj.raw_get("/Contents")) if "/Contents" in obj else None
    except Exception:
        return None
