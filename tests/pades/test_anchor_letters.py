"""``--anchor-text`` on real Thai letters from other producers: the stamp goes in the free space
above the anchor's line and never over text, checked with poppler's ``pdftotext -bbox``.

The letters (tests/data/letters/, made once by make_letters.py there): LibreOffice Writer
exports of the external-letter form (with and without a ``ลงชื่อ`` line) and of a two-signer
memo, a reportlab letter with the signature block on the left, Chromium's print of an HTML
letter, and thaisign's own sample letter.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from support.pki import FIXED_TIME
from support.tools import require_tool

from thaisign.errors import AppearanceError
from thaisign.keys import SoftwareSigner
from thaisign.pades import list_signature_fields, make_letter, sign_pdf

LETTERS = Path(__file__).resolve().parents[1] / "data" / "letters"

CASES = [
    # (letter, anchor, occurrence, page the stamp must land on)
    ("lo-external-standard.pdf", "(นายสมชาย ใจดี)", 1, 1),
    ("lo-external-signline.pdf", "ลงชื่อ", 1, 1),
    ("lo-memo-two-signers.pdf", "ลงชื่อ", 1, 2),  # the first signer (left), on page 2
    ("lo-memo-two-signers.pdf", "ลงนาม", 1, 2),  # the second signer (right)
    ("reportlab-signline.pdf", "ลงชื่อ", 1, 1),
    ("chromium-external.pdf", "(นายวิชัย มั่นคง)", 1, 1),
    ("thaisign-letter.pdf", "ลงชื่อ", 1, 1),
]


def _words(pdf: Path, page: int) -> tuple[float, list[tuple[str, tuple[float, float, float, float]]]]:
    """Page height and the words of ``page`` with their boxes (PDF coordinates, origin lower left)."""
    out = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    height = float(re.search(r'<page width="[\d.]+" height="([\d.]+)"', out).group(1))  # type: ignore[union-attr]
    words = []
    for m in re.finditer(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', out
    ):
        x1, top, x2, bottom = (float(m.group(i)) for i in range(1, 5))
        words.append((m.group(5), (x1, height - bottom, x2, height - top)))
    return height, words


def _letter(name: str, tmp_path: Path) -> Path:
    if name == "thaisign-letter.pdf":
        path = tmp_path / name
        path.write_bytes(make_letter())
        return path
    return LETTERS / name


@pytest.mark.parametrize(("name", "anchor", "occurrence", "page"), CASES)
def test_stamp_above_the_anchor_line_never_over_text(
    tmp_path: Path, ec_signer: SoftwareSigner, name: str, anchor: str, occurrence: int, page: int
) -> None:
    require_tool("pdftotext")
    letter = _letter(name, tmp_path)
    out = tmp_path / "signed.pdf"
    result = sign_pdf(letter, out, ec_signer, anchor_text=anchor, signing_time=FIXED_TIME)
    assert result.visible
    (info,) = list_signature_fields(out)
    assert info.page == page and info.rect is not None
    x1, y1, x2, y2 = info.rect
    assert (round(x2 - x1), round(y2 - y1)) <= (170, 52) and y2 - y1 >= 28
    _height, words = _words(letter, page)  # the letter's own text (the stamp's text is inside the box)
    assert words, "pdftotext found no text: the check would prove nothing"
    _height, signed_words = _words(out, page)
    own = [t for t, b in signed_words if (t, b) not in words]
    assert own, "the stamp's text is missing from the signed page"
    for text, (wx1, wy1, wx2, wy2) in words:
        assert not (wx1 < x2 and x1 < wx2 and wy1 < y2 and y1 < wy2), f"the stamp covers {text!r}"
    # the anchor's line is right below the box, and the box overlaps it horizontally
    first = anchor.split()[0]
    line = [b for t, b in words if t.startswith(first[:4])]
    assert line, (first, [t for t, _ in words])
    ax1, _ay1, ax2, ay2 = min(line, key=lambda b: abs(b[3] - y1))
    assert 0 <= y1 - ay2 <= 12, (y1, ay2)
    assert x1 < max(ax2, x1 + 1) and ax1 < x2
    # and the box stays inside the page
    assert x1 >= 0 and y1 >= 0


def test_an_offset_onto_text_is_refused(tmp_path: Path, ec_signer: SoftwareSigner) -> None:
    letter = LETTERS / "lo-external-signline.pdf"
    with pytest.raises(AppearanceError, match="would cover text"):
        sign_pdf(
            letter, tmp_path / "x.pdf", ec_signer, anchor_text="ลงชื่อ", anchor_offset=(0, -20),
            signing_time=FIXED_TIME,
        )  # fmt: skip
    assert not (tmp_path / "x.pdf").exists()


def test_no_room_above_the_anchor_says_what_to_do(tmp_path: Path, ec_signer: SoftwareSigner) -> None:
    # "เรียน" has the subject line right above it: no room for a stamp there
    letter = LETTERS / "lo-external-signline.pdf"
    with pytest.raises(AppearanceError, match="no free space above") as err:
        sign_pdf(letter, tmp_path / "x.pdf", ec_signer, anchor_text="เรียน", signing_time=FIXED_TIME)
    assert "--anchor-box" in (err.value.hint or "")
