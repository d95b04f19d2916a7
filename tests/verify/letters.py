"""Thai letters prepared for the change-analysis tests, signed with the test PKI by thaisign.

:func:`prepared_letter` is a one-page Thai letter (``thaisign.pades.make_letter``) plus, written
by hand before signing, what the attacks and the legitimate updates work on:

* ``amount`` — a text field showing ``50,000 THB`` in a blank area (shadow *replace*);
* ``note`` — an empty, transparent text field lying over the third line of the letter
  (shadow *hide-and-replace*: filled after signing, it covers the signed text);
* ``receipt`` — an empty text field in the bottom margin (legitimate form filling);
* a line ``CANCELLED - DO NOT PAY`` in the page content, covered by an opaque white square
  annotation (shadow *hide*: hiding the square after signing reveals it);
* object ``alt_content`` — a content stream nothing uses (shadow hide-and-replace by
  changing a reference);
* object ``shadow`` — a FreeText annotation ``APPROVED: PAY 5,000,000 THB`` in the file's
  bytes that no cross-reference lists and nothing refers to: it does not exist for a reader,
  and an update that "revives" it makes it appear (pdf-insecurity's hide-and-replace by
  changing object usage).

Boxes are in PDF points on an A4 page (595 x 842).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from raw_updates import RawUpdate, serialise, stream_body

BLANK = (72.0, 60.0, 250.0, 80.0)  # bottom margin, left: nothing printed there
AMOUNT = (72.0, 96.0, 250.0, 116.0)  # the amount field (blank area, shows a value)
NOTE = (72.0, 640.0, 520.0, 662.0)  # over the letter's third body line
RECEIPT = (330.0, 60.0, 520.0, 80.0)  # bottom margin, right
HIDDEN_TEXT = (72.0, 400.0, 332.0, 426.0)  # "CANCELLED - DO NOT PAY", under an opaque square
SIGNATURE = (360.0, 110.0, 540.0, 150.0)  # thaisign's visible signature, blank area


def _ap(text: str, rect: tuple[float, float, float, float], *, background: bool = False) -> bytes:
    w, h = rect[2] - rect[0], rect[3] - rect[1]
    ops = b""
    if background:
        ops += b"1 g 0 0 %.2f %.2f re f " % (w, h)
    if text:
        ops += b"BT /Helv 12 Tf 0 g 2 %.2f Td (%s) Tj ET" % (h / 2 - 4, text.encode("latin-1"))
    return stream_body(
        b"/Type /XObject /Subtype /Form /BBox [0 0 %.2f %.2f] /Resources << /Font << /Helv %%HELV%% >> >>"
        % (w, h),
        ops,
    )


@dataclass(frozen=True)
class Prepared:
    """The prepared letter and the object numbers the tests need."""

    data: bytes
    page: int
    helv: int
    amount: int
    note: int
    receipt: int
    square: int
    alt_content: int
    shadow: int
    shadow_offset: int


def prepared_letter() -> Prepared:
    from thaisign.pades.letter import make_letter

    up = RawUpdate(make_letter(1, xref_stream=False))
    page_ref = up.page_ref(0)
    page = up.get(page_ref)
    helv = up.put(None, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")

    def ap(text: str, rect: tuple[float, float, float, float], **kw: Any) -> int:
        return up.put(None, _ap(text, rect, **kw).replace(b"%HELV%", b"%d 0 R" % helv))

    def field(
        name: str, rect: tuple[float, float, float, float], value: str | None, ap_ref: int | None
    ) -> int:
        parts = [
            b"/Type /Annot /Subtype /Widget /FT /Tx /T (%s) /F 4" % name.encode(),
            b"/Rect [%.2f %.2f %.2f %.2f]" % rect,
            b"/P %d 0 R /DA (/Helv 12 Tf 0 g)" % page_ref,
        ]
        if value is not None:
            parts.append(b"/V (%s)" % value.encode("latin-1"))
        if ap_ref is not None:
            parts.append(b"/AP << /N %d 0 R >>" % ap_ref)
        return up.put(None, b"<< " + b" ".join(parts) + b" >>")

    amount = field("amount", AMOUNT, "50,000 THB", ap("50,000 THB", AMOUNT))
    note = field("note", NOTE, None, None)
    receipt = field("receipt", RECEIPT, None, None)
    square_ap = up.put(
        None,
        stream_body(b"/Type /XObject /Subtype /Form /BBox [0 0 260 26]", b"1 g 0 0 260 26 re f"),
    )
    square = up.put(
        None,
        b"<< /Type /Annot /Subtype /Square /F 4 /Rect [%.2f %.2f %.2f %.2f] /C [1 1 1] /IC [1 1 1] "
        b"/P %d 0 R /AP << /N %d 0 R >> >>" % (*HIDDEN_TEXT, page_ref, square_ap),
    )
    hidden_line = up.put(
        None, stream_body(b"", b"BT /Helv 16 Tf 0 g 76 406 Td (CANCELLED - DO NOT PAY) Tj ET")
    )
    alt_content = up.put(
        None, stream_body(b"", b"BT /Helv 28 Tf 0 g 72 420 Td (PAY 5,000,000 THB TO ACCOUNT 123) Tj ET")
    )
    shadow_ap = up.put(
        None,
        stream_body(
            b"/Type /XObject /Subtype /Form /BBox [0 0 330 30] /Resources << /Font << /Helv %d 0 R >> >>"
            % helv,
            b"1 g 0 0 330 30 re f BT /Helv 14 Tf 0 g 4 10 Td (APPROVED: PAY 5,000,000 THB) Tj ET",
        ),
    )
    shadow = up.put(
        None,
        b"<< /Type /Annot /Subtype /FreeText /F 4 /Rect [72 640 402 670] /Contents (APPROVED) "
        b"/DA (/Helv 14 Tf 0 g) /AP << /N %d 0 R >> >>" % shadow_ap,
    )
    # the page: its content plus the hidden line, Helvetica in its resources, the annotations
    from pyhanko.pdf_utils import generic

    new_page = generic.DictionaryObject({k: page.raw_get(k) for k in page})
    contents = page.raw_get("/Contents")
    new_page[generic.NameObject("/Contents")] = generic.ArrayObject(
        [contents, generic.IndirectObject(hidden_line, 0, up.reader)]
    )
    resources = page["/Resources"]
    fonts = generic.DictionaryObject(dict(resources["/Font"]))
    fonts[generic.NameObject("/Helv")] = generic.IndirectObject(helv, 0, up.reader)
    new_resources = generic.DictionaryObject(dict(resources))
    new_resources[generic.NameObject("/Font")] = fonts
    new_page[generic.NameObject("/Resources")] = new_resources
    new_page[generic.NameObject("/Annots")] = generic.ArrayObject(
        [generic.IndirectObject(n, 0, up.reader) for n in (amount, note, receipt, square)]
    )
    up.put(page_ref, serialise(new_page))
    root = up.root()
    new_root = generic.DictionaryObject({k: root.raw_get(k) for k in root})
    new_root[generic.NameObject("/AcroForm")] = generic.DictionaryObject(
        {
            generic.NameObject("/Fields"): generic.ArrayObject(
                [generic.IndirectObject(n, 0, up.reader) for n in (amount, note, receipt)]
            ),
            generic.NameObject("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g"),
            generic.NameObject("/DR"): generic.DictionaryObject(
                {
                    generic.NameObject("/Font"): generic.DictionaryObject(
                        {generic.NameObject("/Helv"): generic.IndirectObject(helv, 0, up.reader)}
                    )
                }
            ),
        }
    )
    up.put(up.root_ref, serialise(new_root))
    listed = {n for n, _, _ in up.objects if n != shadow}  # the shadow annotation: no xref entry
    data = up.bytes(listed=listed)
    offset = data.rindex(b"\n%d 0 obj\n" % shadow) + 1
    return Prepared(data, page_ref, helv, amount, note, receipt, square, alt_content, shadow, offset)


def sign(data: bytes, signer: Any, at: dt.datetime, **options: Any) -> bytes:
    """Sign with thaisign (visible, in the blank area unless told otherwise)."""
    from thaisign.pades import sign_pdf_bytes

    options.setdefault("rect", SIGNATURE)
    return sign_pdf_bytes(data, signer, signing_time=at, **options)
