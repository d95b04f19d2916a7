"""A self-contained, printable HTML page of verification reports (Sarabun embedded, works offline)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from thaisign.verify.render_text import _LABELS, _MODS, _REVOCATION, _SOURCE, _i, format_time, verdict_label
from thaisign.verify.report import SignatureReport, VerificationReport

_CSS = """
body { font-family: 'Sarabun', 'TH Sarabun New', sans-serif; font-size: 15pt; margin: 2em; color: #111; }
h1 { font-size: 20pt; margin-bottom: 0.2em; } h2 { font-size: 16pt; margin: 1em 0 0.3em; }
.file { border: 1px solid #999; border-radius: 6px; padding: 0.6em 1em; margin: 1em 0;
        page-break-inside: avoid; }
.v-TOTAL_PASSED { color: #0a6b1f; } .v-TOTAL_FAILED, .v-ERROR { color: #a10000; }
.v-INDETERMINATE, .v-NO_SIGNATURE { color: #8a5a00; }
table { border-collapse: collapse; width: 100%; } td { padding: 2px 6px; vertical-align: top; }
td.k { width: 14em; color: #444; } .why { font-weight: bold; } .meta { color: #555; font-size: 12pt; }
@media print { body { margin: 1cm; } }
"""


def _font_face() -> str:
    try:
        import fontpkg_sarabun

        root = Path(fontpkg_sarabun.__file__).resolve().parent / "files"
    except ImportError:  # pragma: no cover - dependency declared in pyproject
        return ""
    faces = []
    for weight, name in (("400", "Sarabun-Regular.ttf"), ("700", "Sarabun-Bold.ttf")):
        path = root / name
        if path.exists():
            b64 = base64.b64encode(path.read_bytes()).decode("ascii")
            faces.append(
                f"@font-face {{ font-family: 'Sarabun'; font-weight: {weight}; "
                f"src: url(data:font/ttf;base64,{b64}) format('truetype'); }}"
            )
    return "\n".join(faces)


def _e(text: object) -> str:
    return html.escape(str(text))


def _signature(sig: SignatureReport, n: int, lang: str) -> str:
    i = _i(lang)
    L = {k: v[i] for k, v in _LABELS.items()}
    ind = sig.indication.value
    sub = f" / {sig.sub_indication.value}" if sig.sub_indication else ""
    rows: list[tuple[str, str]] = []
    if sig.signer is not None:
        rows += [(L["signer"], sig.signer.name or L["unknown"])]
        if sig.signer.position:
            rows.append((L["position"], sig.signer.position))
        if sig.signer.organization:
            rows.append((L["agency"], sig.signer.organization))
    when = format_time(sig.signing_time, lang)
    if sig.signing_time_source == "timestamp" and sig.timestamp is not None:
        when += f" ({L['by_ts']} {sig.timestamp.tsa or ''})"
    elif sig.signing_time_source == "claimed":
        when += f" ({L['by_claim']})"
    rows.append((L["time"], when))
    rows.append((L["changes"], _MODS[sig.modifications.value][i]))
    if sig.trusted and sig.chain:
        rows.append((L["chain"], " → ".join(c.common_name or c.subject for c in sig.chain)))
        rows.append((L["anchor"], f"{sig.chain[-1].subject} — SHA-256 {sig.chain[-1].sha256}"))
    else:
        rows.append((L["chain"], L["untrusted"]))
    rev = _REVOCATION.get(sig.revocation.status, (sig.revocation.status,) * 2)[i]
    if sig.revocation.source != "none":
        rev += f" ({L['from']} {_SOURCE.get(sig.revocation.source, (sig.revocation.source,) * 2)[i]})"
    rows.append((L["revocation"], rev))
    if sig.level:
        rows.append((L["level"], sig.level))
    body = "".join(f"<tr><td class='k'>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    texts = sig.messages.th if lang == "th" else sig.messages.en
    why = "".join(f"<p class='why'>→ {_e(t)}</p>" for t in texts)
    head = L.get(sig.kind, L["signature"])
    return (
        f"<h2 class='v-{'INDETERMINATE' if sig.content_changed else ind}'>{_e(head)} {n} ({_e(sig.field)}): "
        f"{_e(verdict_label(ind, sig.content_changed, i))} "
        f"<span class='meta'>[{_e(ind + sub)}]</span></h2><table>{body}</table>{why}"
    )


def reports_html(reports: Sequence[VerificationReport], lang: str = "th", *, embed_font: bool = True) -> str:
    """One printable page for all ``reports``."""
    from thaisign.verify import messages as msg

    i = _i(lang)
    title = "รายงานผลการตรวจสอบลายมือชื่ออิเล็กทรอนิกส์" if lang == "th" else "Signature verification report"
    made = format_time(datetime.now(UTC), lang)
    parts = []
    for r in reports:
        v = r.verdict.value
        inner = "".join(_signature(s, n, lang) for n, s in enumerate(r.signatures, 1))
        if r.error is not None:
            inner = f"<p class='why'>→ {_e(msg.FILE_ERROR[i])} ({_e(r.error)})</p>"
        elif not r.signatures:
            inner = f"<p class='why'>→ {_e(msg.NO_SIGNATURE[i])}</p>"
        parts.append(
            f"<div class='file'><div>{_e(_LABELS['file'][i])}: <b>{_e(r.file)}</b></div>"
            f"<div class='v-{'INDETERMINATE' if r.content_changed else v}'>{_e(_LABELS['verdict'][i])}: "
            f"<b>{_e(verdict_label(v, r.content_changed, i))}</b> "
            f"<span class='meta'>[{_e(v)}]</span></div>{inner}</div>"
        )
    font = _font_face() if embed_font else ""
    return (
        f"<!DOCTYPE html><html lang='{_e(lang)}'><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{font}\n{_CSS}</style></head><body><h1>{_e(title)}</h1>"
        f"<p class='meta'>thaisign — {_e(made)}</p>{''.join(parts)}</body></html>"
    )
