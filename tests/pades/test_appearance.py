"""The Thai visible signature: shaping, line spacing, wrapping, date, image, QR, placement.

Rendering is checked with poppler (pdftotext for the text, pdftoppm for the pixels, pdffonts
for the embedded font), not with our own code."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
from pathlib import Path

import pytest
from pades_checks import assert_pdfsig_valid, assert_pyhanko_ok, qpdf_check, require_tool
from PIL import Image
from support.pki import FIXED_TIME, TestPKI

from thaisign.errors import AppearanceError
from thaisign.keys import SoftwareSigner
from thaisign.pades import SignatureAppearance, list_signature_fields, sign_pdf
from thaisign.pades._shaping import load_font
from thaisign.pades.appearance import _areas, layout_text
from thaisign.thai_date import format_thai_date, format_thai_datetime, thai_digits

BOX = (300.0, 45.0, 560.0, 145.0)  # clear of the sample letter's own text
PAGE_H = 842.0


def test_thai_date_buddhist_era_and_digits() -> None:
    assert format_thai_datetime(FIXED_TIME) == "๒๑ พฤศจิกายน ๒๕๖๙ ๑๐.๔๒ น."
    assert format_thai_datetime(FIXED_TIME, digits="arabic") == "21 พฤศจิกายน 2569 10.42 น."
    # 31 Dec 2026 20:00 UTC is already 1 January 2570 BE in Bangkok
    assert format_thai_date(dt.datetime(2026, 12, 31, 20, 0, tzinfo=dt.UTC)) == "๑ มกราคม ๒๕๗๐"
    assert thai_digits("0123456789") == "๐๑๒๓๔๕๖๗๘๙"
    with pytest.raises(ValueError):
        format_thai_date(dt.datetime(2026, 1, 1))


def test_default_lines_from_certificate(ec_signer: SoftwareSigner) -> None:
    lines = tuple(
        x.replace("\u00a0", " ") for x in SignatureAppearance().text_lines(ec_signer.certificate, FIXED_TIME)
    )
    assert lines == ("(นายสมชาย ใจดี)", "ผู้อำนวยการกอง", "กรมทดสอบระบบ", "ลงนามเมื่อ ๒๑ พฤศจิกายน ๒๕๖๙ ๑๐.๔๒ น.")
    custom = SignatureAppearance(position="ปลัดกระทรวง", agency="", show_date=False)
    assert custom.text_lines(ec_signer.certificate, FIXED_TIME) == ("(นายสมชาย ใจดี)", "ปลัดกระทรวง")


def _glyph_ink(text: str) -> list[tuple[int, int]]:
    face = load_font()
    shaped = face.shape(text)
    out = []
    for g in shaped.glyphs:
        lo, hi = face.glyph_extent(g.gid)
        out.append((lo + g.y_offset, hi + g.y_offset))
    return out


def test_harfbuzz_stacks_tone_marks_above_upper_vowels() -> None:
    # ที่: the tone mark (3rd glyph) sits above the upper vowel (2nd glyph)
    thi = _glyph_ink("ที่")
    assert len(thi) == 3 and thi[2][0] >= thi[1][1] - 30, thi
    # ปั๊: mai tri above mai han-akat
    pa = _glyph_ink("ปั๊")
    assert pa[2][0] >= pa[1][1] - 30, pa
    # without an upper vowel the same tone mark is placed lower (the font's shaping at work)
    tha = _glyph_ink("ท่")
    assert tha[1][0] < thi[2][0] - 100, (tha, thi)
    # ผู้: below vowel under the baseline, tone mark above
    phu = _glyph_ink("ผู้")
    assert phu[1][1] <= 50 and phu[2][0] > 400, phu


def test_line_spacing_keeps_stacked_marks_clear() -> None:
    face = load_font()
    lines = ("ปั๊มผู้ที่ญฐ", "ปั๊มผู้ที่ญฐ", "ผู้อำนวยการกอง")
    layout = layout_text(face, lines, 300, 200, max_size=14, min_size=5)
    scale = layout.size / face.units_per_em
    for upper, lower in zip(layout.lines, layout.lines[1:], strict=False):
        upper_bottom = upper.y + upper.shaped.ink_bottom * scale
        lower_top = lower.y + lower.shaped.ink_top * scale
        assert lower_top < upper_bottom - 0.05 * layout.size, (upper_bottom, lower_top)


def test_wrap_and_shrink_to_fit() -> None:
    face = load_font()
    agency = "สำนักงานปลัดกระทรวงมหาดไทย กรมส่งเสริมการปกครองท้องถิ่น กองพัฒนาระบบสารสนเทศ"
    layout = layout_text(face, ("(นายสมชาย ใจดี)", agency), 150, 70, max_size=14, min_size=5)
    assert len(layout.lines) >= 3  # the long agency line was wrapped
    assert layout.size < 14
    for placed in layout.lines:
        assert placed.shaped.advance * layout.size / face.units_per_em <= 150.01
    assert layout.height <= 70
    with pytest.raises(AppearanceError):
        layout_text(face, (agency,) * 12, 40, 12, max_size=14, min_size=5)
    # one long Thai word (no spaces) in a narrow box: cut only between clusters
    import unicodedata

    word = "กรมส่งเสริมการปกครองท้องถิ่นจังหวัดเชียงใหม่"
    narrow = layout_text(face, (word,), 45, 200, max_size=12, min_size=8)
    texts = [p.shaped.text for p in narrow.lines]
    assert len(texts) >= 3 and "".join(texts) == word
    for t in texts:
        assert unicodedata.category(t[0]) != "Mn" and t[-1] not in "เแโใไ"  # no orphaned marks or vowels
        assert face.shape(t).advance * narrow.size / face.units_per_em <= 45.01


def _crop_text(pdf: Path, rect: tuple[float, float, float, float]) -> str:
    x1, y1, x2, y2 = rect
    r = subprocess.run(
        [
            "pdftotext",
            "-f",
            "1",
            "-l",
            "1",
            "-r",
            "72",
            "-x",
            str(int(x1)),
            "-y",
            str(int(PAGE_H - y2)),
            "-W",
            str(int(x2 - x1)),
            "-H",
            str(int(y2 - y1)),
            str(pdf),
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return r.stdout


def _render(
    pdf: Path, tmp_path: Path, rect: tuple[float, float, float, float], dpi: int = 144
) -> Image.Image:
    require_tool("pdftoppm")
    k = dpi / 72
    x1, y1, x2, y2 = rect
    prefix = tmp_path / "render"
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            str(dpi),
            "-f",
            "1",
            "-l",
            "1",
            "-x",
            str(int(x1 * k)),
            "-y",
            str(int((PAGE_H - y2) * k)),
            "-W",
            str(int((x2 - x1) * k)),
            "-H",
            str(int((y2 - y1) * k)),
            "-singlefile",
            str(pdf),
            str(prefix),
        ],
        check=True,
        capture_output=True,
    )
    return Image.open(f"{prefix}.png").convert("RGB")


def _pixels(img: Image.Image) -> list[tuple[int, int, int]]:
    data = img.tobytes()
    return [(data[i], data[i + 1], data[i + 2]) for i in range(0, len(data), 3)]


def _dark(img: Image.Image) -> int:
    return sum(1 for p in _pixels(img) if sum(p) < 300)


def test_rendered_box_shows_shaped_thai(
    tmp_path: Path, letter: Path, ec_signer: SoftwareSigner, pki: TestPKI, nssdb: str
) -> None:
    require_tool("pdftotext")
    out = tmp_path / "visible.pdf"
    sign_pdf(letter, out, ec_signer, rect=BOX, signing_time=FIXED_TIME)
    assert_pdfsig_valid(out, nssdb, count=1)
    qpdf_check(out)
    assert_pyhanko_ok(out, pki)
    text = "".join(_crop_text(out, BOX).split())
    for line in ("(นายสมชาย ใจดี)", "ผู้อำนวยการกอง", "กรมทดสอบระบบ", "ลงนามเมื่อ ๒๑ พฤศจิกายน ๒๕๖๙ ๑๐.๔๒ น."):
        assert "".join(line.split()) in text, text
    assert _dark(_render(out, tmp_path, BOX)) > 1500
    assert _dark(_render(letter, tmp_path, BOX)) == 0  # the box was blank before signing
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    row = next(line for line in fonts.splitlines() if "Sarabun" in line and "CID TrueType" in line)
    assert row.split()[-5:-2] == ["yes", "yes", "yes"], row  # embedded, subset, ToUnicode


def test_custom_font_file(tmp_path: Path, letter: Path, ec_signer: SoftwareSigner, nssdb: str) -> None:
    font = Path("/usr/share/fonts/truetype/tlwg/Garuda.ttf")
    if not font.exists():
        from thaisign.pades._shaping import default_font_path

        font = default_font_path().with_name("Sarabun-Bold.ttf")
    out = tmp_path / "font.pdf"
    sign_pdf(
        letter, out, ec_signer, rect=BOX, signing_time=FIXED_TIME, appearance=SignatureAppearance(font=font)
    )
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    assert font.stem.split("-")[0] in fonts.replace("-", ""), fonts
    assert "ผู้อำนวยการกอง" in "".join(_crop_text(out, BOX).split())
    assert_pdfsig_valid(out, nssdb, count=1)
    with pytest.raises(AppearanceError):
        sign_pdf(
            letter,
            tmp_path / "x.pdf",
            ec_signer,
            rect=BOX,
            appearance=SignatureAppearance(font=tmp_path / "no.ttf"),
        )
    assert not (tmp_path / "x.pdf").exists()


def test_png_with_transparency_and_qr(
    tmp_path: Path, letter: Path, ec_signer: SoftwareSigner, nssdb: str
) -> None:
    import qrcode

    png = tmp_path / "sig.png"
    img = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    for x in range(20, 280):
        for y in range(45, 55):
            img.putpixel((x, y), (200, 0, 0, 255))
    img.save(png)
    payload = "https://saraban.example.go.th/doc/2569-000123"
    box = (300.0, 20.0, 560.0, 150.0)
    out = tmp_path / "img.pdf"
    appearance = SignatureAppearance(image=png, qr=payload)
    sign_pdf(letter, out, ec_signer, rect=box, signing_time=FIXED_TIME, appearance=appearance)
    assert_pdfsig_valid(out, nssdb, count=1)
    qpdf_check(out)
    r = subprocess.run(
        ["qpdf", "--qdf", "--object-streams=disable", str(out), "-"], capture_output=True, check=True
    )
    assert b"/SMask" in r.stdout  # the PNG's alpha channel became a soft mask
    dpi = 288
    page = _render(out, tmp_path, box, dpi=dpi)
    red = sum(1 for p in _pixels(page) if p[0] > 150 and p[1] < 80 and p[2] < 80)
    assert red > 500  # the handwritten stroke
    # the QR code: sample the rendered modules against the code's own matrix
    w, h = box[2] - box[0], box[3] - box[1]
    areas = _areas(w, h, True, True, True)
    assert areas.qr is not None
    qx, qy, side = areas.qr
    code = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    n = len(matrix)
    k = dpi / 72
    mismatches = 0
    for row in range(n):
        for col in range(n):
            px = (qx + (col + 0.5) * side / n) * k
            py = (h - (qy + side - (row + 0.5) * side / n)) * k
            dark = sum(page.getpixel((int(px), int(py)))) < 300
            mismatches += dark != bool(matrix[row][col])
    assert mismatches == 0


def test_anchor_text_places_box_above_the_line_of_the_word(
    tmp_path: Path, letter3: Path, ec_signer: SoftwareSigner, nssdb: str
) -> None:
    out = tmp_path / "anchored.pdf"
    result = sign_pdf(letter3, out, ec_signer, anchor_text="ลงชื่อ", signing_time=FIXED_TIME)
    assert result.visible
    (info,) = list_signature_fields(out)
    assert info.page == 3 and info.rect is not None  # found on the last page
    x1, y1, x2, y2 = info.rect
    # above the "ลงชื่อ ......" line (baseline y=230, x from 300), below "ขอแสดงความนับถือ" (y=292)
    assert y1 >= 235 and y2 < 292 and x1 < 420 < x2
    assert_pdfsig_valid(out, nssdb, count=1)
    with pytest.raises(AppearanceError, match="not found"):
        sign_pdf(letter3, tmp_path / "no.pdf", ec_signer, anchor_text="ไม่มีคำนี้", signing_time=FIXED_TIME)
    assert not (tmp_path / "no.pdf").exists()


def test_rendered_image_is_png_bytes_too(tmp_path: Path, letter: Path, ec_signer: SoftwareSigner) -> None:
    buf = io.BytesIO()
    Image.new("LA", (50, 20), (0, 128)).save(buf, format="PNG")
    out = tmp_path / "b.pdf"
    sign_pdf(
        letter,
        out,
        ec_signer,
        rect=BOX,
        signing_time=FIXED_TIME,
        appearance=SignatureAppearance(image=buf.getvalue()),
    )
    assert out.stat().st_size > letter.stat().st_size
    with pytest.raises(AppearanceError):
        sign_pdf(
            letter,
            tmp_path / "c.pdf",
            ec_signer,
            rect=BOX,
            appearance=SignatureAppearance(image=b"not a png"),
        )


def test_cli_anchor_box_size_and_offset(tmp_path: Path, letter: Path, pki: TestPKI, nssdb: str) -> None:
    from pades_checks import CLI_ENV, run_cli

    out = tmp_path / "a.pdf"
    r = run_cli(
        "sign",
        str(letter),
        "-o",
        str(out),
        "--p12",
        str(pki.officer_ec.p12),
        "--anchor-text",
        "ลงชื่อ",
        "--anchor-box",
        "200,30",
        "--anchor-offset",
        "10,0",
        "--signing-time",
        "2026-11-21T03:42Z",
        env=CLI_ENV,
    )
    assert r.returncode == 0, r.stderr
    (info,) = list_signature_fields(out)
    assert info.rect is not None
    x1, y1, x2, y2 = info.rect
    assert (round(x2 - x1), round(y2 - y1)) == (200, 30) and 235 <= y1 < 250  # fits: not lowered
    assert_pdfsig_valid(out, nssdb, count=1)
    r = run_cli(
        "sign",
        str(letter),
        "-o",
        str(tmp_path / "b.pdf"),
        "--p12",
        str(pki.officer_ec.p12),
        "--anchor-text",
        "ลงชื่อ",
        "--anchor-box",
        "wide",
        env=CLI_ENV,
    )
    assert r.returncode == 2 and "two numbers" in r.stderr


def test_repeated_appearance_paints_the_same_operators_and_glyphs() -> None:
    """The per-font cache of painted lines gives what painting afresh gives: the same operators,
    widths and ToUnicode entries, and no state shared between letters."""
    from thaisign.pades.thai_text import _PAINTED, TextPainter

    face = load_font()
    texts = ("นายสมชาย ใจดี", "นักวิชาการคอมพิวเตอร์ชำนาญการ", "๒ ธันวาคม ๒๕๖๙ ๑๒.๐๕ น.")
    placed = [(face.shape(t), 10.0, 40.0 - 12 * i) for i, t in enumerate(texts)]
    fresh = TextPainter(face)
    expected = [fresh.line(s, x, y, 11.0) for s, x, y in placed]
    _PAINTED.clear()
    for _ in range(2):  # a miss, then a hit
        painter = TextPainter(face)
        assert painter.lines(placed, 11.0) == expected
        assert painter._widths == fresh._widths
        assert painter._to_unicode == fresh._to_unicode
    painter._widths[65535] = 1  # what one letter's painter does must not reach the next one
    again = TextPainter(face)
    assert again.lines(placed, 11.0) == expected and 65535 not in again._widths
