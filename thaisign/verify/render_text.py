"""Plain-text reports for clerks, in Thai (the default) or English.

Everything taken from a letter (names, field names, file names, error details) is made
:func:`~thaisign.inert.visible` on the way out, so a hostile string can neither move the
terminal's cursor nor forge a report line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime

from thaisign.inert import visible, visible_lines
from thaisign.thai_date import BANGKOK, format_thai_date, format_thai_short_date, format_thai_time
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
_VERDICT["CONTENT_CHANGED"] = CONTENT_CHANGED


def clerk_verdict(value: str, content_changed: bool) -> str:
    """``CONTENT_CHANGED`` for a passed verdict whose pages changed after signing, else ``value``."""
    return "CONTENT_CHANGED" if value == "TOTAL_PASSED" and content_changed else value


def verdict_label(value: str, content_changed: bool, i: int) -> str:
    """The verdict word; a passed signature whose pages changed afterwards is never "valid"."""
    return _VERDICT[clerk_verdict(value, content_changed)][i]


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
    "reason": ("Reason", "เหตุผลที่ลงนาม"),
    "location": ("Location", "สถานที่ลงนาม"),
    "fingerprint": ("SHA-256 fingerprint", "ลายนิ้วมือ SHA-256"),
    "field": ("signature field", "ช่องลงนาม"),
    "covers": ("Covers", "ครอบคลุมไฟล์"),
    "cades_level": ("CAdES level", "ระดับ CAdES"),
    "data": ("Signed data", "ข้อมูลที่ลงนาม"),
}

#: values of LANG / LC_* that mean "no language chosen"
_UNSET_LOCALES = {"c", "posix", "c.utf-8", "c.utf8"}


def default_lang() -> str:
    """The clerk's language: ``en`` only when the locale says so; Thai otherwise.

    ``LC_ALL``, ``LC_MESSAGES`` and ``LANG`` are read in POSIX order; ``C``, ``POSIX`` and
    ``C.UTF-8`` (a stock machine's default) mean "not set", so a Thai clerk gets Thai.
    """
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "").strip()
        if value and value.lower() not in _UNSET_LOCALES:
            return "th" if value.lower().startswith("th") else "en"
    return "th"


def _i(lang: str) -> int:
    return 1 if lang == "th" else 0


def label(key: str, lang: str) -> str:
    """One label of the report (``"signer"`` → ``ผู้ลงนาม`` / ``Signer``)."""
    return _LABELS[key][_i(lang)]


def verdict_words(verdict: str, lang: str) -> str:
    """The clerk's word for a verdict or indication (``TOTAL_PASSED`` → ``ถูกต้อง``)."""
    return _VERDICT.get(verdict, (verdict, verdict))[_i(lang)]


def format_time(t: datetime | None, lang: str) -> str:
    """A time in Bangkok time; Thai in the official style: ``๒๑ พฤศจิกายน ๒๕๖๙ เวลา ๑๐.๔๒ น.``."""
    if t is None:
        return _LABELS["unknown"][_i(lang)]
    if lang == "th":
        return f"{format_thai_date(t)} เวลา {format_thai_time(t)}"
    return f"{t.astimezone(BANGKOK):%d %B %Y %H:%M:%S} (UTC+7)"


def format_short_time(t: datetime | None, lang: str) -> str:
    """The short form for tables: ``๒๑ พ.ย. ๒๕๖๙ ๑๐.๔๒ น.`` / ``21 Nov 2026 10:42``."""
    if t is None:
        return ""
    nb = "\u00a0"  # the date and the time each stay on one line
    if lang == "th":
        return f"{format_thai_short_date(t).replace(' ', nb)} {format_thai_time(t).replace(' ', nb)}"
    return f"{t.astimezone(BANGKOK):%d{nb}%b{nb}%Y} {t.astimezone(BANGKOK):%H:%M}"


def when_text(sig: SignatureReport, lang: str) -> str:
    """The signing time and where it comes from (a TSA's time-stamp or the signer's clock)."""
    i = _i(lang)
    when = format_time(sig.signing_time, lang)
    if sig.signing_time_source == "timestamp" and sig.kind == "signature":
        tsa = sig.timestamp.tsa if sig.timestamp and sig.timestamp.tsa else ""
        when += f" ({_LABELS['by_ts'][i]} {visible(tsa, limit=120)})".replace(" )", ")")
    elif sig.signing_time_source == "claimed":
        when += f" ({_LABELS['by_claim'][i]})"
    return when


def revocation_text(sig: SignatureReport, lang: str) -> str:
    i = _i(lang)
    rev = _REVOCATION.get(sig.revocation.status, (sig.revocation.status,) * 2)[i]
    if sig.revocation.source != "none":
        rev += (
            f" ({_LABELS['from'][i]} {_SOURCE.get(sig.revocation.source, (sig.revocation.source,) * 2)[i]})"
        )
    return rev


def covers_text(sig: SignatureReport, limit: int = 12) -> str:
    """The files a CAdES/ASiC signature covers, shown safely (at most ``limit`` names)."""
    names = [visible(n, limit=120) for n in sig.covers[:limit]]
    more = f" … (+{len(sig.covers) - limit})" if len(sig.covers) > limit else ""
    return ", ".join(names) + more


def unsigned_text(report: VerificationReport, lang: str, limit: int = 12) -> str:
    """The sentence naming a container's files that no signature covers ('' when none)."""
    if not report.unsigned:
        return ""
    from thaisign.verify.file_messages import UNSIGNED_FILES

    names = ", ".join(visible(n, limit=120) for n in report.unsigned[:limit])
    if len(report.unsigned) > limit:
        names += f" … (+{len(report.unsigned) - limit})"
    return UNSIGNED_FILES[_i(lang)].format(names=names)


def chain_names(sig: SignatureReport) -> str:
    """The chain as short names (common names), signer first."""
    return " → ".join(visible(c.common_name or c.subject, limit=120) for c in sig.chain)


def sentences(sig: SignatureReport, lang: str) -> tuple[str, ...]:
    """The why-and-what-to-do sentences in ``lang``."""
    return sig.messages.th if lang == "th" else sig.messages.en


def file_error(report: VerificationReport, lang: str) -> str:
    """The one sentence for a file that could not be verified (Thai mode: Thai only)."""
    from thaisign.verify import messages as msg

    if report.error is None:
        return ""
    if lang == "th":
        return report.error_th or msg.file_error_th(report.error)
    return f"{msg.FILE_ERROR[0]} ({report.error})"


def signature_lines(sig: SignatureReport, index: int, lang: str) -> list[str]:
    """The lines describing one signature (each one safe to print)."""
    i = _i(lang)
    L = {k: v[i] for k, v in _LABELS.items()}
    head = L[sig.kind] if sig.kind in L else L["signature"]
    sub = f"/{sig.sub_indication.value}]" if sig.sub_indication else "]"
    lines = [
        f"  {head} {index} ({visible(sig.field, limit=120)}): "
        f"{verdict_label(sig.indication.value, sig.content_changed, i)} [{sig.indication.value}{sub}"
    ]
    if sig.signer is not None:
        lines.append(f"    {L['signer']}: {visible(sig.signer.name) or L['unknown']}")
        if sig.signer.position:
            lines.append(f"    {L['position']}: {visible(sig.signer.position)}")
        if sig.signer.organization:
            lines.append(f"    {L['agency']}: {visible(sig.signer.organization)}")
    lines.append(f"    {L['time']}: {when_text(sig, lang)}")
    for key in ("reason", "location"):
        value = getattr(sig, key, None)
        if value:
            lines.append(f"    {L[key]}: {visible(value)}")
    if sig.covers:  # a signature over files (CAdES, ASiC): which ones
        lines.append(f"    {L['covers']}: {covers_text(sig)}")
    elif sig.intact:  # a signature that does not match its bytes covers nothing and permits nothing
        lines.append(f"    {L['changes']}: {_MODS[sig.modifications.value][i]}")
        lines.append(f"    {L['coverage']}: {_COVERAGE[sig.coverage.value][i]}")
    if sig.trusted and sig.chain:
        lines.append(f"    {L['chain']}: {chain_names(sig)}")
        anchor = sig.chain[-1]
        name = visible(anchor.common_name or anchor.subject, limit=120)
        lines.append(f"    {L['anchor']}: {name} (SHA-256 {anchor.sha256[:16]}…)")
    else:
        lines.append(f"    {L['chain']}: {L['untrusted']}")
    lines.append(f"    {L['revocation']}: {revocation_text(sig, lang)}")
    if sig.level:
        lines.append(f"    {L['level' if sig.subfilter else 'cades_level']}: {sig.level}")
    for t in sentences(sig, lang):
        lines.append(f"    → {t}")
    return [visible(line, limit=None) for line in lines]


def report_text(report: VerificationReport, lang: str = "th") -> str:
    """The full text of one file's report."""
    from thaisign.verify import messages as msg

    i = _i(lang)
    verdict = report.verdict.value
    lines = [
        f"{_LABELS['file'][i]}: {visible(report.file)}",
        f"{_LABELS['verdict'][i]}: {verdict_label(verdict, report.content_changed, i)} [{verdict}]",
    ]
    if report.format == "cades" and report.data:
        lines.append(f"{_LABELS['data'][i]}: {', '.join(visible(d) for d in report.data)}")
    if report.error is not None:
        lines.append(f"  → {visible(file_error(report, lang))}")
    elif not report.signatures:
        lines.append(f"  → {msg.NO_SIGNATURE[i]}")
    elif verdict == "NO_SIGNATURE":
        lines.append(f"  → {msg.ONLY_TIMESTAMPS[i]}")
    if report.unsigned:
        lines.append(f"  → {unsigned_text(report, lang)}")
    for n, sig in enumerate(report.signatures, 1):
        lines.extend(signature_lines(sig, n, lang))
    return visible_lines("\n".join(lines)) + "\n"


def summary_table(reports: Sequence[VerificationReport], lang: str = "th") -> str:
    """One line per file and a count per verdict."""
    i = _i(lang)
    names = [visible(r.file) for r in reports]
    width = min(60, max((len(n) for n in names), default=10))
    lines = [f"{_LABELS['summary'][i]}:"]
    for r, name in zip(reports, names, strict=True):
        first = r.signatures[0].signer.name if r.signatures and r.signatures[0].signer else ""
        label = verdict_label(r.verdict.value, r.content_changed, i)
        lines.append(f"  {name[-width:]:<{width}}  {label:<20} {visible(first)}")
    counts: dict[str, int] = {}
    for r in reports:
        code = clerk_verdict(r.verdict.value, r.content_changed)
        counts[code] = counts.get(code, 0) + 1
    total = ", ".join(f"{_VERDICT[k][i]}: {v}" for k, v in counts.items())
    lines.append(f"  {len(reports)} {_LABELS['files'][i]} — {total}")
    return visible_lines("\n".join(lines)) + "\n"
