"""The register of a filing bundle as text (Thai or English): every file, who signed it, when,
what covers it and the verdict, then what is not signed at all.

>>> print(bundle_text(verify_bundle("case-123/", trust), "th"))
"""

from __future__ import annotations

import unicodedata

from thaisign.inert import visible, visible_lines
from thaisign.verify.bundle import BundleResult
from thaisign.verify.register import RegisterRow
from thaisign.verify.render_text import _i, format_short_time, verdict_words

_TEXT = {
    "title": ("Register of the bundle", "ทะเบียนไฟล์ในชุดเอกสาร"),
    "file": ("File", "ไฟล์"),
    "signer": ("Signer", "ผู้ลงนาม"),
    "when": ("Signed at", "เวลาที่ลงนาม"),
    "covered": ("Covered by", "ลงนามโดย"),
    "verdict": ("Verdict", "ผลการตรวจสอบ"),
    "own": ("its own signature", "ลายมือชื่อในไฟล์"),
    "nothing": ("nothing", "ไม่มี"),
    "unsigned": ("Not signed at all", "ไม่มีลายมือชื่อใดครอบคลุม"),
    "all_signed": ("Every file is covered by a signature.", "ทุกไฟล์มีลายมือชื่อครอบคลุม"),
    "files": ("files", "ไฟล์"),
}


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal: Thai vowel and tone marks above or below a
    consonant take none, wide (CJK) characters two."""
    width = 0
    for ch in text:
        if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def covered_text(row: RegisterRow, lang: str) -> str:
    """What covers the row's file, in ``lang``."""
    i = _i(lang)
    if row.covered_by:
        return visible(row.covered_by, limit=80)
    return _TEXT["own"][i] if row.signatures else _TEXT["nothing"][i]


def bundle_text(bundle: BundleResult, lang: str = "th") -> str:
    """The bundle's register table and its unsigned files."""
    i = _i(lang)
    head = [_TEXT[k][i] for k in ("file", "signer", "when", "covered", "verdict")]
    table = [
        [
            visible(r.file, limit=60),
            visible(r.signer or "", limit=40),
            format_short_time(r.signing_time, lang).replace("\u00a0", " "),
            covered_text(r, lang),
            verdict_words(r.verdict, lang),
        ]
        for r in bundle.rows
    ]
    widths = [max(_width(c[n]) for c in [head, *table]) for n in range(len(head))]
    lines = [f"{_TEXT['title'][i]}: {visible(bundle.source)} ({len(bundle.rows)} {_TEXT['files'][i]})"]
    for cells in [head, *table]:
        padded = [c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True)]
        lines.append(("  " + "  ".join(padded)).rstrip())
    if bundle.unsigned:
        names = ", ".join(visible(n, limit=80) for n in bundle.unsigned[:20])
        more = f" … (+{len(bundle.unsigned) - 20})" if len(bundle.unsigned) > 20 else ""
        lines.append(f"  → {_TEXT['unsigned'][i]}: {names}{more}")
    else:
        lines.append(f"  → {_TEXT['all_signed'][i]}")
    return visible_lines("\n".join(lines)) + "\n"
