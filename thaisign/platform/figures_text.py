"""The figures as a table for the terminal, in Thai (Thai digits, Buddhist-Era date, official time
style) or English; the web page uses the same labels (:data:`LABELS`)."""

from __future__ import annotations

import unicodedata

from thaisign.inert import visible
from thaisign.platform.figures import AgencyFigures, Figures
from thaisign.thai_date import BANGKOK, format_thai_date, format_thai_time, thai_digits

#: column -> (Thai, English)
LABELS: dict[str, tuple[str, str]] = {
    "agency": ("หน่วยงาน", "Agency"),
    "officers": ("เจ้าหน้าที่", "Officers"),
    "active": ("ใบรับรองที่ใช้ได้", "Valid"),
    "revoked": ("เพิกถอน", "Revoked"),
    "expired": ("หมดอายุ", "Expired"),
    "expiring_30": ("หมดอายุใน ๓๐ วัน", "Ending ≤30 days"),
    "expiring_90": ("หมดอายุใน ๙๐ วัน", "Ending ≤90 days"),
    "signatures": ("ลงนามผ่านบริการ", "Signatures"),
    "signatures_30_days": ("ลงนาม ๓๐ วันล่าสุด", "Signed, last 30 days"),
}
TITLE = ("สถิติใบรับรองของหน่วยงาน", "Certificate figures per agency")
TOTAL = ("รวมทุกหน่วยงาน", "All agencies")
AS_OF = ("ข้อมูล ณ", "As of")
COLUMNS = tuple(k for k in LABELS if k != "agency")


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal: Thai vowels above/below and tone marks take none."""
    return sum(0 if unicodedata.combining(ch) or unicodedata.category(ch) == "Mn" else 1 for ch in text)


def number(value: int, lang: str) -> str:
    text = f"{value:,}"
    return thai_digits(text) if lang == "th" else text


def as_of(figures: Figures, lang: str) -> str:
    if lang == "th":
        return f"{AS_OF[0]} {format_thai_date(figures.at)} เวลา {format_thai_time(figures.at)}"
    return f"{AS_OF[1]} {figures.at.astimezone(BANGKOK):%-d %B %Y, %H:%M} (UTC+7)"


def _name(a: AgencyFigures, lang: str) -> str:
    if a.slug is None:
        return TOTAL[0] if lang == "th" else TOTAL[1]
    name = a.name_th if lang == "th" or not a.name_en else a.name_en
    return visible(name or a.slug, limit=40)


def render_figures(figures: Figures, lang: str = "th") -> str:
    i = 0 if lang == "th" else 1
    head = [LABELS["agency"][i], *(LABELS[c][i] for c in COLUMNS)]
    rows = [
        [_name(a, lang), *(number(getattr(a, c), lang) for c in COLUMNS)]
        for a in (*figures.agencies, figures.total)
    ]
    widths = [max(width(r[k]) for r in [head, *rows]) for k in range(len(head))]

    def line(cells: list[str]) -> str:
        first = cells[0] + " " * (widths[0] - width(cells[0]))
        rest = [" " * (widths[k] - width(c)) + c for k, c in enumerate(cells) if k]
        return "  ".join([first, *rest]).rstrip()

    out = [TITLE[i], as_of(figures, lang), "", line(head), line(["-" * w for w in widths])]
    out += [line(r) for r in rows[:-1]]
    out += [line(["-" * w for w in widths]), line(rows[-1])]
    for problem in figures.problems:
        out.append(("หมายเหตุ: " if lang == "th" else "note: ") + visible(problem, limit=300))
    return "\n".join(out)
