# ruff: noqa: E501 - the ODF template and the letter texts are long lines on purpose
"""Make the Thai test letters of tests/data/letters/ (run once; the PDFs are committed).

    python tests/data/letters/make_letters.py        # needs libreoffice-writer, chromium, reportlab

Five layouts from three producers other than thaisign, each a standard form a Thai office uses:

- ``lo-external-standard.pdf`` LibreOffice Writer: the external letter (หนังสือภายนอก) form: ครุฑ,
  ที่ and the agency's address, date, เรื่อง, เรียน, อ้างถึง, สิ่งที่ส่งมาด้วย, body,
  ขอแสดงความนับถือ, space to sign, (full name), position, the owner unit at the foot.
- ``lo-external-signline.pdf`` LibreOffice Writer: the same form with ``ลงชื่อ ......`` above the
  typed name, position and agency.
- ``lo-memo-two-signers.pdf`` LibreOffice Writer: an internal memo (บันทึกข้อความ) with two signature
  blocks side by side in a borderless table (ผู้เสนอ / ผู้อนุมัติ), two pages.
- ``reportlab-signline.pdf`` reportlab: a letter with ``ลงชื่อ ........`` above the officer's typed
  name and agency (the layout of issue 13), the signature block at the left.
- ``chromium-external.pdf`` Chromium's print to PDF (Skia) of an HTML letter in Sarabun.

The Garuda emblem (ตราครุฑ) is a simple drawn stand-in, not the state emblem.
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
AGENCY = "กรมส่งเสริมการปกครองท้องถิ่น"
ADDRESS = "ถนนนครราชสีมา กทม. ๑๐๓๐๐"
SUBJECT = "ขอความอนุเคราะห์ข้อมูลการใช้งานระบบสารบรรณอิเล็กทรอนิกส์"
BODY = (
    "ด้วยกรมส่งเสริมการปกครองท้องถิ่นอยู่ระหว่างการพัฒนาระบบสารบรรณอิเล็กทรอนิกส์ให้รองรับการลงลายมือชื่อ"
    "อิเล็กทรอนิกส์ในหนังสือราชการ เพื่อให้การรับส่งหนังสือระหว่างหน่วยงานเป็นไปอย่างรวดเร็วและตรวจสอบได้",
    "ในการนี้ จึงขอความอนุเคราะห์จังหวัดแจ้งข้อมูลจำนวนผู้ใช้งานและหนังสือที่รับส่งในรอบปีที่ผ่านมา "
    "ตามแบบที่แนบมาพร้อมนี้ ภายในวันที่ ๓๐ ธันวาคม ๒๕๖๙",
    "จึงเรียนมาเพื่อโปรดพิจารณาให้ความอนุเคราะห์ ขอขอบคุณมา ณ โอกาสนี้",
)


def garuda_png(px: int = 240) -> bytes:
    """A stand-in emblem: a bird-like figure in red and gold (not the real ตราครุฑ)."""
    from PIL import Image, ImageDraw

    im = Image.new("RGBA", (px, int(px * 1.15)), (255, 255, 255, 0))
    d = ImageDraw.Draw(im)
    w, h = im.size
    red, gold = (170, 20, 30, 255), (200, 150, 30, 255)
    d.polygon([(w * 0.5, h * 0.05), (w * 0.62, h * 0.3), (w * 0.38, h * 0.3)], fill=gold)
    d.ellipse([w * 0.38, h * 0.18, w * 0.62, h * 0.4], fill=red)
    d.polygon([(w * 0.05, h * 0.25), (w * 0.45, h * 0.45), (w * 0.3, h * 0.7)], fill=red)
    d.polygon([(w * 0.95, h * 0.25), (w * 0.55, h * 0.45), (w * 0.7, h * 0.7)], fill=red)
    d.rectangle([w * 0.42, h * 0.4, w * 0.58, h * 0.8], fill=red)
    d.polygon([(w * 0.3, h * 0.95), (w * 0.5, h * 0.78), (w * 0.7, h * 0.95)], fill=gold)
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


# --- LibreOffice Writer (flat ODF, converted headless) ------------------------------------------

_FODT_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 xmlns:xlink="http://www.w3.org/1999/xlink"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
 xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
<office:meta><dc:title>{title}</dc:title></office:meta>
<office:font-face-decls>
 <style:font-face style:name="Laksaman" svg:font-family="Laksaman"/>
</office:font-face-decls>
<office:styles>
 <style:default-style style:family="paragraph">
  <style:paragraph-properties fo:margin-top="0cm" fo:margin-bottom="0cm" fo:line-height="100%"/>
  <style:text-properties style:font-name="Laksaman" fo:font-size="16pt" style:font-name-complex="Laksaman"
   style:font-size-complex="16pt" style:language-complex="th" style:country-complex="TH"
   fo:language="th" fo:country="TH"/>
 </style:default-style>
</office:styles>
<office:automatic-styles>
 <style:page-layout style:name="pm1"><style:page-layout-properties fo:page-width="21cm" fo:page-height="29.7cm"
  fo:margin-top="1.5cm" fo:margin-bottom="2cm" fo:margin-left="3cm" fo:margin-right="2cm"/></style:page-layout>
 <style:style style:name="C" style:family="paragraph"><style:paragraph-properties fo:text-align="center"/></style:style>
 <style:style style:name="B" style:family="paragraph"><style:paragraph-properties fo:text-align="center"/>
  <style:text-properties fo:font-weight="bold" style:font-weight-complex="bold" fo:font-size="29pt"
   style:font-size-complex="29pt"/></style:style>
 <style:style style:name="T" style:family="paragraph"><style:paragraph-properties>
  <style:tab-stops><style:tab-stop style:position="8.5cm"/></style:tab-stops></style:paragraph-properties></style:style>
 <style:style style:name="D" style:family="paragraph"><style:paragraph-properties fo:margin-left="7.5cm"/></style:style>
 <style:style style:name="J" style:family="paragraph"><style:paragraph-properties fo:text-align="justify"
  fo:text-indent="2.5cm" fo:margin-top="0.1cm"/></style:style>
 <style:style style:name="S" style:family="paragraph"><style:paragraph-properties fo:margin-left="6cm"
  fo:text-align="center"/></style:style>
 <style:style style:name="F" style:family="paragraph"><style:text-properties fo:font-size="14pt"
  style:font-size-complex="14pt"/></style:style>
 <style:style style:name="G" style:family="paragraph"><style:paragraph-properties fo:margin-top="0.25cm"/></style:style>
 <style:style style:name="PB" style:family="paragraph"><style:paragraph-properties fo:break-before="page"/></style:style>
 <style:style style:name="TB" style:family="table"><style:table-properties style:width="16cm" table:align="left"/></style:style>
 <style:style style:name="TC" style:family="table-cell"><style:table-cell-properties fo:border="none"
  fo:padding="0.1cm"/></style:style>
</office:automatic-styles>
<office:master-styles><style:master-page style:name="Standard" style:page-layout-name="pm1"/></office:master-styles>
<office:body><office:text>
"""
_FODT_TAIL = "</office:text></office:body></office:document>\n"


def _p(style: str, text: str = "") -> str:
    from xml.sax.saxutils import escape

    return f'<text:p text:style-name="{style}">{escape(text).replace(chr(9), "<text:tab/>")}</text:p>\n'


def _garuda_frame() -> str:
    b64 = base64.b64encode(garuda_png()).decode()
    return (
        '<text:p text:style-name="C"><draw:frame draw:name="garuda" text:anchor-type="as-char" '
        'svg:width="2.6cm" svg:height="3cm"><draw:image><office:binary-data>'
        f"{b64}</office:binary-data></draw:image></draw:frame></text:p>\n"
    )


def _external_head() -> str:
    return (
        _garuda_frame()
        + _p("T", f"ที่ มท ๐๘๐๘.๒/ว ๑๒๓๔\t{AGENCY}")
        + _p("T", f"\t{ADDRESS}")
        + _p("D", "๑๐ ธันวาคม ๒๕๖๙")
        + _p("G", f"เรื่อง  {SUBJECT}")
        + _p("G", "เรียน  ผู้ว่าราชการจังหวัดเชียงใหม่")
        + _p("G", "อ้างถึง  หนังสือกรม ที่ มท ๐๘๐๘.๒/ว ๙๙๙ ลงวันที่ ๑ ตุลาคม ๒๕๖๙")
        + _p("G", "สิ่งที่ส่งมาด้วย  แบบรายงานข้อมูลการใช้งานระบบ จำนวน ๑ ชุด")
        + "".join(_p("J", t) for t in BODY)
        + _p("G")
        + _p("S", "ขอแสดงความนับถือ")
    )


def _external_foot() -> str:
    return (
        _p("G")
        + _p("F", "กองพัฒนาระบบสารบรรณ")
        + _p("F", "โทร. ๐ ๒๒๔๑ ๙๐๐๐ ต่อ ๑๒๓๔")
        + _p("F", "ไปรษณีย์อิเล็กทรอนิกส์ saraban@dla.go.th")
    )


def lo_external_standard() -> str:
    body = (
        _external_head()
        + _p("S")
        + _p("S")
        + _p("S")
        + _p("S", "(นายสมชาย ใจดี)")
        + _p("S", "อธิบดีกรมส่งเสริมการปกครองท้องถิ่น")
        + _external_foot()
    )
    return _FODT_HEAD.format(title="หนังสือภายนอก") + body + _FODT_TAIL


def lo_external_signline() -> str:
    body = (
        _external_head()
        + _p("S")
        + _p("S")
        + _p("S", "ลงชื่อ ........................................")
        + _p("S", "(นายสมชาย ใจดี)")
        + _p("S", "ผู้อำนวยการกองพัฒนาระบบสารบรรณ")
        + _p("S", AGENCY)
        + _external_foot()
    )
    return _FODT_HEAD.format(title="letter.docx") + body + _FODT_TAIL


def lo_memo_two_signers() -> str:
    def cell(*lines: str) -> str:
        inner = "".join(_p("C", line) for line in lines)
        return (
            f'<table:table-cell table:style-name="TC" office:value-type="string">{inner}</table:table-cell>'
        )

    first_page = (
        _p("B", "บันทึกข้อความ")
        + _p("T", f"ส่วนราชการ  กองพัฒนาระบบสารบรรณ {AGENCY}")
        + _p("T", "ที่  มท ๐๘๐๘.๒/๕๖๗\tวันที่  ๑๐ ธันวาคม ๒๕๖๙")
        + _p("G", "เรื่อง  ขออนุมัติจัดซื้อเครื่องสำรองไฟฟ้าสำหรับห้องเครื่องแม่ข่าย")
        + _p("G", "เรียน  อธิบดีกรมส่งเสริมการปกครองท้องถิ่น")
        + "".join(_p("J", t) for t in BODY * 2)
    )
    second_page = (
        _p("PB", "")
        + "".join(_p("J", t) for t in BODY[:2])
        + _p("G")
        + '<table:table table:name="signers" table:style-name="TB"><table:table-column table:number-columns-repeated="2"/>'
        "<table:table-row>"
        + cell(
            "", "", "ลงชื่อ ..............................", "(นางสาวสมหญิง รักไทย)", "นักจัดการงานทั่วไป", "ผู้เสนอ"
        )
        + cell("", "", "ลงนาม ..............................", "(นายสมชาย ใจดี)", "ผู้อำนวยการกอง", "ผู้อนุมัติ")
        + "</table:table-row></table:table>\n"
    )
    return _FODT_HEAD.format(title="บันทึกข้อความ") + first_page + second_page + _FODT_TAIL


def libreoffice_pdf(fodt: str, out: Path) -> None:
    soffice = shutil.which("soffice") or sys.exit(
        "libreoffice-writer is needed: apt-get install libreoffice-writer"
    )
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / (out.stem + ".fodt")
        src.write_text(fodt, encoding="utf-8")
        profile = Path(tmp) / "profile"
        subprocess.run(
            [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf:writer_pdf_Export",
             "--outdir", tmp, str(src)],
            check=True, capture_output=True, timeout=180,
        )  # fmt: skip
        shutil.copyfile(Path(tmp) / (out.stem + ".pdf"), out)


# --- reportlab ----------------------------------------------------------------------------------


def reportlab_signline(out: Path) -> None:
    import fontpkg_sarabun
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    font = Path(fontpkg_sarabun.__file__).resolve().parent / "files" / "Sarabun-Regular.ttf"
    pdfmetrics.registerFont(TTFont("Sarabun", str(font)))
    c = canvas.Canvas(str(out), pagesize=A4)
    c.setTitle("หนังสือแจ้งผลการพิจารณา")
    c.setSubject("แจ้งผลการพิจารณาคำขอใช้ระบบสารบรรณอิเล็กทรอนิกส์")
    c.setFont("Sarabun", 15)
    w, h = A4
    c.drawString(72, h - 80, "ที่ ศธ ๐๔๐๐๖/๗๗๗")
    c.drawRightString(w - 60, h - 80, "สำนักงานเขตพื้นที่การศึกษาประถมศึกษาเชียงใหม่ เขต ๑")
    c.drawCentredString(w / 2 + 40, h - 130, "๑๐ ธันวาคม ๒๕๖๙")
    y = h - 175
    for line in (
        "เรื่อง  แจ้งผลการพิจารณาคำขอใช้ระบบสารบรรณอิเล็กทรอนิกส์",
        "เรียน  ผู้อำนวยการโรงเรียนบ้านสันทราย",
        "",
        "          ตามที่โรงเรียนได้ขอใช้ระบบสารบรรณอิเล็กทรอนิกส์ของสำนักงานเขตพื้นที่การศึกษา",
        "นั้น สำนักงานเขตพื้นที่ได้พิจารณาแล้ว อนุมัติให้ใช้งานได้ตั้งแต่วันที่ ๑ มกราคม ๒๕๗๐",
        "          จึงเรียนมาเพื่อโปรดทราบ",
    ):
        c.drawString(72, y, line)
        y -= 24
    c.drawString(90, 330, "ขอแสดงความนับถือ")
    c.drawString(60, 270, "ลงชื่อ .......................................")
    c.drawString(90, 246, "(นางสาวสมหญิง รักไทย)")
    c.drawString(80, 222, "รองผู้อำนวยการสำนักงานเขตพื้นที่")
    c.drawString(60, 198, "สำนักงานเขตพื้นที่การศึกษาประถมศึกษาเชียงใหม่ เขต ๑")
    c.setFont("Sarabun", 12)
    c.drawString(72, 110, "กลุ่มบริหารงานทั่วไป โทร. ๐ ๕๓๑๑ ๒๒๒๒")
    c.drawString(360, 300, "ความเห็นของผู้รับ ..........................")
    c.showPage()
    c.save()


# --- chromium ----------------------------------------------------------------------------------


def chromium_external(out: Path) -> None:
    import fontpkg_sarabun

    fonts = Path(fontpkg_sarabun.__file__).resolve().parent / "files"
    garuda = base64.b64encode(garuda_png()).decode()
    body = "".join(f'<p class="j">{t}</p>' for t in BODY)
    html = f"""<!DOCTYPE html><html lang="th"><head><meta charset="utf-8"><style>
@font-face {{ font-family: Sarabun; src: url(file://{fonts}/Sarabun-Regular.ttf); }}
@page {{ size: A4; margin: 15mm 20mm 20mm 30mm; }}
body {{ font-family: Sarabun; font-size: 16pt; line-height: 1.35; margin: 0; }}
p {{ margin: 0; }} .c {{ text-align: center; }} .j {{ text-indent: 2.5cm; text-align: justify; margin-top: 6pt; }}
.row {{ display: flex; justify-content: space-between; }} .date {{ margin-left: 7.5cm; margin-top: 10pt; }}
.sig {{ margin-left: 6cm; text-align: center; }} .small {{ font-size: 14pt; }}
</style></head><body>
<p class="c"><img src="data:image/png;base64,{garuda}" style="height:3cm"></p>
<div class="row"><p>ที่ นร ๐๑๐๕/๔๔๔</p><p>สำนักงานปลัดสำนักนายกรัฐมนตรี<br>ทำเนียบรัฐบาล กทม. ๑๐๓๐๐</p></div>
<p class="date">๑๐ ธันวาคม ๒๕๖๙</p>
<p style="margin-top:8pt">เรื่อง&nbsp;&nbsp;{SUBJECT}</p>
<p style="margin-top:8pt">เรียน&nbsp;&nbsp;อธิบดีกรมส่งเสริมการปกครองท้องถิ่น</p>
{body}
<p class="sig" style="margin-top:12pt">ขอแสดงความนับถือ</p>
<p class="sig" style="margin-top:62pt">(นายวิชัย มั่นคง)</p>
<p class="sig">ปลัดสำนักนายกรัฐมนตรี</p>
<p class="small" style="margin-top:40pt">กองการสื่อสารองค์กร<br>โทร. ๐ ๒๒๘๓ ๔๐๐๐</p>
</body></html>"""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "letter.html"
        src.write_text(html, encoding="utf-8")
        subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer", "--allow-file-access-from-files",
             f"--print-to-pdf={out}", src.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip


def main() -> None:
    libreoffice_pdf(lo_external_standard(), HERE / "lo-external-standard.pdf")
    libreoffice_pdf(lo_external_signline(), HERE / "lo-external-signline.pdf")
    libreoffice_pdf(lo_memo_two_signers(), HERE / "lo-memo-two-signers.pdf")
    reportlab_signline(HERE / "reportlab-signline.pdf")
    chromium_external(HERE / "chromium-external.pdf")
    for p in sorted(HERE.glob("*.pdf")):
        print(p.name, p.stat().st_size)


if __name__ == "__main__":
    main()
