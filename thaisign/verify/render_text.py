"""Plain-text reports for clerks, in Thai (default for a Thai locale) or English."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime

from thaisign.thai_date import BANGKOK, BUDDHIST_ERA_OFFSET, THAI_MONTHS
from thaisign.verify.report import SignatureReport, VerificationReport

_VERDICT = {
    "TOTAL_PASSED": ("VALID", "ถูกต้อง"),
    "TOTAL_FAILED": ("INVALID", "ไม่ถูกต้อง"),
    "INDETERMINATE": ("CANNOT BE CONFIRMED", "ยังยืนยันไม่ได้"),
    "NO_SIGNATURE": ("NOT SIGNED", "ไม่มีลายมือชื่อ"),
    "ERROR": ("ERROR", "ตรวจสอบไม่ได้"),
}
#: shown instead of "valid" when the signature holds but the pages were changed after signing
CONTENT_CHANGED = ("SIGNED, BUT CHANGED AFTER SIGNING", "ลงนามถูกต้อง แต่ถูกเปลี่ยนหลังลงนาม")


def verdict_label(value: str, content_changed: bool, i: int) -> str:
    """The verdict word; a passed signature whose pages changed afterwards is never "valid"."""
    if value == "TOTAL_PASSED" and content_changed:
        return CONTENT_CHANGED[i]
    return _VERDICT[value][i]


_COVERAGE = {
    "ENTIRE_FILE": ("the whole file", "ทั้งไฟล์"),
    "ENTIRE_REVISION": (
        "the whole document as it was signed; later additions follow",
        "เอกสารทั้งฉบับ ณ เวลาที่ลงนาม (มีส่วนที่เพิ่มภายหลัง)",
    ),
    "PARTIAL": ("only part of the file", "เพียงบางส่วนของไฟล์"),
}
_MODS = {
    "NONE": ("none", "ไม่มี"),
    "ALLOWED": (
        "only permitted changes (named below)",
        "มีเฉพาะที่อนุญาต (ระบุไว้ด้านล่าง)",
    ),
    "DISALLOWED": ("CHANGES THAT ARE NOT ALLOWED", "มีการแก้ไขที่ไม่อนุญาต"),
}
_REVOCATION = {
    "good": ("not revoked", "ไม่ถูกเพิกถอน"),
    "revoked": ("REVOKED", "ถูกเพิกถอน"),
    "unknown": ("could not be checked", "ตรวจสอบไม่ได้"),
    "not-checked": ("not checked", "ไม่ได้ตรวจสอบ"),
}
_SOURCE = {
    "ocsp": ("OCSP", "OCSP"),
    "crl": ("CRL", "CRL"),
    "embedded": ("data embedded in the file", "ข้อมูลที่แนบในไฟล์"),
    "none": ("no source", "ไม่มีแหล่งข้อมูล"),
}
_LABELS = {
    "file": ("File", "ไฟล์"),
    "verdict": ("Verdict", "ผลการตรวจสอบ"),
    "signature": ("Signature", "ลายมือชื่อ"),
    "document-timestamp": ("Document time-stamp", "การประทับเวลาเอกสาร"),
    "signer": ("Signer", "ผู้ลงนาม"),
    "position": ("Position", "ตำแหน่ง"),
    "agency": ("Agency", "หน่วยงาน"),
    "time": ("Signed at", "เวลาที่ลงนาม"),
    "changes": ("Changes since signing", "การแก้ไขหลังลงนาม"),
    "coverage": ("Signature covers", "ลายมือชื่อครอบคลุม"),
    "chain": ("Certificate chain", "สายใบรับรอง"),
    "anchor": ("Trusted root", "ใบรับรองหลักที่เชื่อถือ"),
    "untrusted": ("no trusted root reached", "ไม่ถึงใบรับรองหลักที่เชื่อถือ"),
    "revocation": ("Revocation", "สถานะการเพิกถอน"),
    "level": ("PAdES level", "ระดับ PAdES"),
    "result": ("Result", "ผล"),
    "why": ("Why / what to do", "เหตุผล / สิ่งที่ควรทำ"),
    "by_ts": ("according to the time-stamp of", "ตามการประทับเวลาของ"),
    "by_claim": ("according to the signer's own clock", "ตามนาฬิกาของผู้ลงนามเอง"),
    "from": ("from", "จาก"),
    "unknown": ("unknown", "ไม่ทราบ"),
    "summary": ("Summary", "สรุป"),
    "files": ("files", "ไฟล์"),
}


def default_lang() -> str:
    """``th`` when the locale (LC_ALL / LC_MESSAGES / LANG) is Thai, else ``en``."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return "th" if value.lower().startswith("th") else "en"
    return "en"


def _i(lang: str) -> int:
    return 1 if lang == "th" else 0


def format_time(t: datetime | None, lang: str) -> str:
    """A time in Bangkok time; Thai uses the Buddhist Era (e.g. 21 พฤศจิกายน 2569 10:42 น.)."""
    if t is None:
        return _LABELS["unknown"][_i(lang)]
    local = t.astimezone(BANGKOK)
    if lang == "th":
        year = local.year + BUDDHIST_ERA_OFFSET
        return f"{local.day} {THAI_MONTHS[local.month - 1]} {year} เวลา {local:%H:%M:%S} น."
    return f"{local:%d %B %Y %H:%M:%S} (UTC+7)"


def signature_lines(sig: SignatureReport, index: int, lang: str) -> list[str]:
    """The lines describing one signature."""
    i = _i(lang)
    L = {k: v[i] for k, v in _LABELS.items()}
    head = L[sig.kind] if sig.kind in L else L["signature"]
    lines = [
        f"  {head} {index} ({sig.field}): {verdict_label(sig.indication.value, sig.content_changed, i)} "
        f"[{sig.indication.value}" + (f"/{sig.sub_indication.value}]" if sig.sub_indication else "]")
    ]
    if sig.signer is not None:
        lines.append(f"    {L['signer']}: {sig.signer.name or L['unknown']}")
        if sig.signer.position:
            lines.append(f"    {L['position']}: {sig.signer.position}")
        if sig.signer.organization:
            lines.append(f"    {L['agency']}: {sig.signer.organization}")
    when = format_time(sig.signing_time, lang)
    if sig.signing_time_source == "timestamp":
        tsa = (
            sig.timestamp.tsa
            if sig.timestamp and sig.timestamp.tsa
            else (sig.signer.name if sig.signer else "")
        )
        when += f" ({L['by_ts']} {tsa})" if sig.kind == "signature" else ""
    elif sig.signing_time_source == "claimed":
        when += f" ({L['by_claim']})"
    lines.append(f"    {L['time']}: {when}")
    lines.append(f"    {L['changes']}: {_MODS[sig.modifications.value][i]}")
    lines.append(f"    {L['coverage']}: {_COVERAGE[sig.coverage.value][i]}")
    if sig.trusted and sig.chain:
        names = " → ".join(c.common_name or c.subject for c in sig.chain)
        lines.append(f"    {L['chain']}: {names}")
        anchor = sig.chain[-1]
        lines.append(
            f"    {L['anchor']}: {anchor.common_name or anchor.subject} (SHA-256 {anchor.sha256[:16]}…)"
        )
    else:
        lines.append(f"    {L['chain']}: {L['untrusted']}")
    rev = _REVOCATION.get(sig.revocation.status, (sig.revocation.status,) * 2)[i]
    if sig.revocation.source != "none":
        rev += f" ({L['from']} {_SOURCE.get(sig.revocation.source, (sig.revocation.source,) * 2)[i]})"
    lines.append(f"    {L['revocation']}: {rev}")
    if sig.level:
        lines.append(f"    {L['level']}: {sig.level}")
    texts = sig.messages.th if lang == "th" else sig.messages.en
    for t in texts:
        lines.append(f"    → {t}")
    return lines


def report_text(report: VerificationReport, lang: str = "en") -> str:
    """The full text of one file's report."""
    from thaisign.verify import messages as msg

    i = _i(lang)
    verdict = report.verdict.value
    lines = [
        f"{_LABELS['file'][i]}: {report.file}",
        f"{_LABELS['verdict'][i]}: {verdict_label(verdict, report.content_changed, i)} [{verdict}]",
    ]
    if report.error is not None:
        lines.append(f"  → {msg.FILE_ERROR[i]} ({report.error})")
    elif not report.signatures:
        lines.append(f"  → {msg.NO_SIGNATURE[i]}")
    elif verdict == "NO_SIGNATURE":
        lines.append(f"  → {msg.ONLY_TIMESTAMPS[i]}")
    for n, sig in enumerate(report.signatures, 1):
        lines.extend(signature_lines(sig, n, lang))
    return "\n".join(lines) + "\n"


def summary_table(reports: Sequence[VerificationReport], lang: str = "en") -> str:
    """One line per file and a count per verdict."""
    i = _i(lang)
    width = min(60, max((len(r.file) for r in reports), default=10))
    lines = [f"{_LABELS['summary'][i]}:"]
    for r in reports:
        first = r.signatures[0].signer.name if r.signatures and r.signatures[0].signer else ""
        label = verdict_label(r.verdict.value, r.content_changed, i)
        lines.append(f"  {r.file[-width:]:<{width}}  {label:<20} {first or ''}")
    counts: dict[str, int] = {}
    for r in reports:
        counts[r.verdict.value] = counts.get(r.verdict.value, 0) + 1
    total = ", ".join(f"{_VERDICT[k][i]}: {v}" for k, v in counts.items())
    lines.append(f"  {len(reports)} {_LABELS['files'][i]} — {total}")
    return "\n".join(lines) + "\n"
