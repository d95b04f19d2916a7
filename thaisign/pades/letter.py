"""A plain Thai government letter (หนังสือภายนอก) as a PDF, for demos, tests and benchmarks.

It has a ``ลงชื่อ`` line where the signature goes, so ``--anchor-text ลงชื่อ`` works on it.
``filler_bytes`` adds an incompressible attachment-like stream to make large files.

>>> Path("letter.pdf").write_bytes(make_letter(pages=2))
"""

from __future__ import annotations

import io
import os

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

from thaisign.pades._shaping import load_font
from thaisign.pades.thai_text import TextPainter

A4 = (0.0, 0.0, 595.0, 842.0)

_BODY = (
    "เรื่อง  ขอเชิญประชุมคณะทำงานพัฒนาระบบสารบรรณอิเล็กทรอนิกส์",
    "เรียน  ผู้ว่าราชการจังหวัดเชียงใหม่",
    "          ด้วยกรมส่งเสริมการปกครองท้องถิ่นจะจัดประชุมคณะทำงาน",
    "พัฒนาระบบสารบรรณอิเล็กทรอนิกส์ ในวันที่ ๒๑ พฤศจิกายน ๒๕๖๙",
    "เวลา ๐๙.๓๐ น. ณ ห้องประชุมชั้น ๓ จึงขอเชิญผู้แทนเข้าร่วมประชุม",
    "          จึงเรียนมาเพื่อโปรดพิจารณา ทั้งนี้ผู้ที่ได้รับมอบหมาย",
    "โปรดแจ้งชื่อภายในวันที่ ๑๕ พฤศจิกายน ๒๕๖๙",
)
_THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")


def make_letter(
    pages: int = 1,
    *,
    filler_bytes: int = 0,
    signer_name: str = "นายสมชาย ใจดี",
    position: str = "ผู้อำนวยการกอง",
    xref_stream: bool = True,
) -> bytes:
    """A ``pages``-page A4 letter with Thai text and a ``ลงชื่อ`` line on the last page."""
    face = load_font()
    w = PdfFileWriter(stream_xrefs=xref_stream)
    for number in range(1, pages + 1):
        painter = TextPainter(face)
        ops = [b"0 g"]
        y = 770.0
        ops.append(painter.line(face.shape("บันทึกข้อความ"), 240, y, 20))
        y -= 40
        ops.append(painter.line(face.shape(f"ที่ มท ๐๘๐๘.๒/ว {number:03d}".translate(_THAI_DIGITS)), 72, y, 14))
        y -= 30
        for i in range(22 if number < pages else len(_BODY)):
            text = _BODY[i % len(_BODY)]
            ops.append(painter.line(face.shape(text), 72, y, 14))
            y -= 26
        if number == pages:
            y = 230.0
            ops.append(painter.line(face.shape("ขอแสดงความนับถือ"), 330, y + 62, 14))
            ops.append(painter.line(face.shape("ลงชื่อ ..............................."), 300, y, 14))
            ops.append(painter.line(face.shape(f"({signer_name})"), 340, y - 40, 14))
            ops.append(painter.line(face.shape(position), 350, y - 66, 14))
        ops.append(painter.line(face.shape(f"หน้า {number}/{pages}".translate(_THAI_DIGITS)), 280, 30, 10))
        content = generic.StreamObject(stream_data=b"\n".join(ops))
        content.compress()
        font_ref = painter.embed(w)
        resources = generic.DictionaryObject(
            {
                generic.NameObject("/Font"): generic.DictionaryObject(
                    {generic.NameObject(painter.resource_name): font_ref}
                )
            }
        )
        if number == pages and filler_bytes > 0:
            filler = generic.StreamObject(stream_data=os.urandom(filler_bytes))
            resources[generic.NameObject("/Properties")] = generic.DictionaryObject(
                {generic.NameObject("/Filler"): w.add_object(filler)}
            )
        w.insert_page(PageObject(w.add_object(content), A4, resources))
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()
