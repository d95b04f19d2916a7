"""The PDF document around a signature: opening it (password, damage), pages and boxes, and
writing the result atomically."""

from __future__ import annotations

import traceback
from typing import IO, Any

from thaisign._fs import atomic_open as atomic_rw  # noqa: F401 - re-exported for the pades modules
from thaisign.errors import PdfError, UsageError

Rect = tuple[float, float, float, float]


def open_writer(stream: IO[bytes], password: str | None) -> Any:
    """A pyHanko incremental writer over ``stream``, decrypted with ``password`` if needed."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError as PyHankoPdfError

    try:
        writer = IncrementalPdfFileWriter(stream, strict=False)
    except (PyHankoPdfError, OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise PdfError(
            f"not a readable PDF: {one_line(exc)}", hint="check that the file is a complete PDF"
        ) from None
    if writer.prev.encrypted:
        if password is None:
            raise PdfError(
                "the PDF is password-protected",
                hint="give its password with --pdf-password (prompt or THAISIGN_PDF_PASSWORD) "
                "or --pdf-password-file",
            )
        from pyhanko.pdf_utils.crypt import AuthStatus

        try:
            result = writer.encrypt(password.encode("utf-8"))
        except Exception as exc:
            raise PdfError(f"cannot decrypt the PDF: {exc}") from None
        if result.status == AuthStatus.FAILED:
            raise PdfError("wrong password for the PDF", hint="check the PDF's password")
    return writer


def page_count(writer: Any) -> int:
    """Number of pages in the document."""
    return int(writer.root["/Pages"]["/Count"])


def to_page_index(page: int, count: int) -> int:
    """0-based index of 1-based ``page`` (negative counts from the end)."""
    index = page - 1 if page > 0 else count + page
    if page == 0 or not 0 <= index < count:
        raise UsageError(f"page {page} does not exist: the PDF has {count} page(s)")
    return index


def media_box(writer: Any, page_index: int) -> tuple[float, float, float, float]:
    """The page's (inherited) /MediaBox."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader: PdfFileReader = writer.prev
    page_obj = reader.find_page_for_modification(page_index)[0].get_object()
    node = page_obj
    while node is not None:
        if "/MediaBox" in node:
            return tuple(float(v) for v in node["/MediaBox"])  # type: ignore[return-value]
        node = node.get("/Parent")
        node = node.get_object() if node is not None else None
    return (0.0, 0.0, 595.0, 842.0)


def validated_rect(rect: Rect, writer: Any, page_index: int) -> Rect:
    """``rect`` normalised (x1 < x2, y1 < y2), or a usage error if too small or off the page."""
    x1, y1, x2, y2 = (float(v) for v in rect)
    x1, x2 = min(x1, x2), max(x1, x2)
    y1, y2 = min(y1, y2), max(y1, y2)
    if x2 - x1 < 10 or y2 - y1 < 10:
        raise UsageError(f"signature box {rect} is too small", hint="give --rect X1,Y1,X2,Y2 in points")
    bx1, by1, bx2, by2 = media_box(writer, page_index)
    if x1 < bx1 - 1 or y1 < by1 - 1 or x2 > bx2 + 1 or y2 > by2 + 1:
        raise UsageError(
            f"signature box {x1:g},{y1:g},{x2:g},{y2:g} lies outside the page "
            f"({bx1:g},{by1:g},{bx2:g},{by2:g})",
            hint="coordinates are points from the lower-left corner of the page",
        )
    return (x1, y1, x2, y2)


def one_line(exc: BaseException, limit: int = 160) -> str:
    """An exception as one short line (library messages can span lines or quote huge numbers)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


_LIBRARIES = ("/pyhanko/", "/pyhanko_certvalidator/", "/asn1crypto/", "/pypdf/")


def unusable_pdf(exc: Exception) -> PdfError | None:
    """A :class:`PdfError` when ``exc`` was raised inside the PDF/ASN.1 libraries while they read
    the document (a damaged or unusual file), else ``None`` (then it is our bug: let it show)."""
    from pyhanko.pdf_utils.misc import PdfError as PyHankoPdfError

    frames = traceback.extract_tb(exc.__traceback__)
    inside = bool(frames) and any(lib in frames[-1].filename for lib in _LIBRARIES)
    if isinstance(exc, PyHankoPdfError) or inside:
        return PdfError(
            f"cannot sign this PDF: its structure is damaged or unusual ({one_line(exc)})",
            hint="re-save it with a PDF tool, or ask the sender for a clean copy",
        )
    return None
