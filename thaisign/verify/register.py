"""The register of received letters (ทะเบียนหนังสือรับ): one row per letter, as CSV or JSON.

>>> rows = [RegisterRow.from_report(r) for r in verify_many(["inbox/"], trust)]
>>> Path("register.csv").write_text(register_csv(rows, "th"), encoding="utf-8-sig")

A row holds what a clerk files: the file, its subject (เรื่อง) where the PDF has one, who signed,
in what position, for which agency, when, and the verdict. :func:`letter_subject` reads the
subject from the document information (``/Subject``), the ``เรื่อง`` line of the first page, or
the title. Values are kept exactly; the CSV defuses cells a spreadsheet would run as formulas.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from thaisign.inert import json_text
from thaisign.verify.render_text import clerk_verdict, format_time, verdict_words
from thaisign.verify.report import VerificationReport, _iso

logger = logging.getLogger(__name__)

#: (key, English header, Thai header) of the register's columns, in order
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("file", "File", "ไฟล์"),
    ("subject", "Subject", "เรื่อง"),
    ("signer", "Signer", "ผู้ลงนาม"),
    ("position", "Position", "ตำแหน่ง"),
    ("agency", "Agency", "หน่วยงาน"),
    ("signing_time", "Signed at", "เวลาที่ลงนาม"),
    ("verdict", "Verdict", "ผลการตรวจสอบ"),
)
_SUBJECT_LIMIT = 300


@dataclass(frozen=True)
class RegisterRow:
    """One letter in the register."""

    file: str
    verdict: str  # a Verdict value, or CONTENT_CHANGED (passed, but the pages changed after signing)
    subject: str | None = None
    signer: str | None = None
    position: str | None = None
    agency: str | None = None
    signing_time: datetime | None = None
    signatures: int = 0
    sha256: str | None = None  # of the file's bytes, when known
    #: in a filing bundle, what covers the file: the signature file or container beside it
    #: (None: the file's own signatures, or nothing when it has none)
    covered_by: str | None = None

    @classmethod
    def from_report(
        cls, report: VerificationReport, *, subject: str | None = None, data: bytes | None = None
    ) -> RegisterRow:
        """The row for ``report``: the facts of its first signature (not document time-stamp)."""
        sigs = [s for s in report.signatures if s.kind == "signature"] or list(report.signatures)
        first = sigs[0] if sigs else None
        signer = first.signer if first is not None else None
        if subject is None and data is not None:
            subject = letter_subject(data)
        return cls(
            file=report.file,
            # a letter changed after signing is never listed as valid (docs/verify.md)
            verdict=clerk_verdict(report.verdict.value, report.content_changed),
            subject=subject,
            signer=signer.name if signer else None,
            position=signer.position if signer else None,
            agency=signer.organization if signer else None,
            signing_time=first.signing_time if first is not None else None,
            signatures=len(report.signatures),
            sha256=hashlib.sha256(data).hexdigest() if data is not None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this row (times as ISO 8601, UTC)."""
        return {
            "file": self.file,
            "subject": self.subject,
            "signer": self.signer,
            "position": self.position,
            "agency": self.agency,
            "signing_time": _iso(self.signing_time),
            "verdict": self.verdict,
            "signatures": self.signatures,
            "sha256": self.sha256,
            "covered_by": self.covered_by,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegisterRow:
        """The inverse of :meth:`to_dict`."""
        t = d.get("signing_time")
        return cls(
            file=str(d["file"]),
            verdict=str(d["verdict"]),
            subject=_opt(d.get("subject")),
            signer=_opt(d.get("signer")),
            position=_opt(d.get("position")),
            agency=_opt(d.get("agency")),
            signing_time=datetime.fromisoformat(t.replace("Z", "+00:00")) if t else None,
            signatures=int(d.get("signatures") or 0),
            sha256=_opt(d.get("sha256")),
            covered_by=_opt(d.get("covered_by")),
        )

    def cells(self, lang: str) -> dict[str, str]:
        """The row's cells as a clerk reads them in ``lang`` (Thai dates, verdict words)."""
        return {
            "file": self.file,
            "subject": self.subject or "",
            "signer": self.signer or "",
            "position": self.position or "",
            "agency": self.agency or "",
            "signing_time": format_time(self.signing_time, lang) if self.signing_time else "",
            "verdict": verdict_words(self.verdict, lang),
        }


def _opt(v: object) -> str | None:
    return None if v is None else str(v)


def _defuse(cell: str) -> str:
    """A cell a spreadsheet would evaluate (= + - @, tab, CR) is prefixed with an apostrophe."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def register_csv(rows: Iterable[RegisterRow], lang: str = "th") -> str:
    """The register as CSV: headers in ``lang``, then one line per letter, verdict code last.

    Write it with ``encoding="utf-8-sig"`` so that spreadsheet programs read the Thai right.
    """
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    i = 2 if lang == "th" else 1
    rows = list(rows)
    bundle = any(r.covered_by for r in rows)  # a filing bundle: say what covers each file
    w.writerow([c[i] for c in COLUMNS] + ["verdict_code", "sha256"] + (["covered_by"] if bundle else []))
    for row in rows:
        cells = row.cells(lang)
        extra = [_defuse(row.covered_by or "")] if bundle else []
        w.writerow([_defuse(cells[c[0]]) for c in COLUMNS] + [row.verdict, row.sha256 or ""] + extra)
    return out.getvalue()


def register_json(rows: Sequence[RegisterRow]) -> str:
    """The register as a JSON document ``{"letters": [...]}`` (control characters escaped)."""
    return json_text(json.dumps({"letters": [r.to_dict() for r in rows]}, ensure_ascii=False, indent=2))


# --- the subject of a letter -----------------------------------------------------------------

_SUBJECT_WORD = "เรื่อง"
_FILE_LIKE = (".doc", ".docx", ".odt", ".pdf", ".rtf", ".txt")


def letter_subject(data: bytes) -> str | None:
    """The letter's subject: ``/Subject``, else the ``เรื่อง`` line of page 1, else ``/Title``."""
    subject, title = _info_entries(data)
    if subject:
        return subject
    line = _subject_line(data)
    if line:
        return line
    if title and not title.lower().endswith(_FILE_LIKE) and "microsoft word" not in title.lower():
        return title
    return None


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text[:_SUBJECT_LIMIT] or None


def _info_entries(data: bytes) -> tuple[str | None, str | None]:
    try:
        import pypdf

        logging.getLogger("pypdf").setLevel(logging.ERROR)
        meta = pypdf.PdfReader(io.BytesIO(data), strict=False).metadata
    except Exception:
        return None, None
    if meta is None:
        return None, None
    try:
        return _clean(meta.get("/Subject")), _clean(meta.get("/Title"))
    except Exception:
        return None, None


def _subject_line(data: bytes) -> str | None:
    """The text after ``เรื่อง`` on its line of the first page (PDFium's text extraction)."""
    try:
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(data)
        try:
            page = pdf[0]
            text = page.get_textpage().get_text_bounded()
        finally:
            pdf.close()
    except Exception:
        return None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(_SUBJECT_WORD):
            rest = _clean(line[len(_SUBJECT_WORD) :].lstrip(" :\u00a0"))
            if rest:
                return rest
    return None
