"""Printable HTML of verification reports: a register-style summary table first, then each letter.

>>> Path("report.html").write_text(reports_html(reports, "th"), encoding="utf-8")

One Jinja2 template set and one stylesheet (``thaisign/data/static/thaisign.css``) serve this
self-contained page (Sarabun and the stylesheet embedded: it works offline) and the clerk's desk.
Every value is made :func:`~thaisign.inert.visible` and HTML-escaped on its way into the page.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from itertools import zip_longest
from pathlib import Path
from typing import Any

from thaisign.inert import visible
from thaisign.verify import render_text as rt
from thaisign.verify.register import COLUMNS, RegisterRow
from thaisign.verify.report import SignatureReport, VerificationReport


@dataclass(frozen=True)
class Bi:
    """A text in both languages; templates show the one the page is in (or both, switchable)."""

    en: str
    th: str

    @classmethod
    def of(cls, fn: Any, *args: Any) -> Bi:
        """``fn(*args, lang)`` in both languages."""
        return cls(fn(*args, "en"), fn(*args, "th"))


def _pair(table: dict[str, tuple[str, str]], key: str) -> Bi:
    en, th = table.get(key, (key, key))
    return Bi(en, th)


def _label(key: str) -> Bi:
    return _pair(rt._LABELS, key)


@dataclass(frozen=True)
class FactRow:
    label: Bi
    value: Bi | str
    css: str = ""


@dataclass(frozen=True)
class SignatureView:
    index: int
    head: Bi
    field: str
    indication: str
    code: str
    verdict: Bi
    rows: tuple[FactRow, ...]
    sentences: tuple[Bi, ...]
    report: SignatureReport


@dataclass(frozen=True)
class LetterView:
    """Everything a page shows of one letter."""

    number: int
    file: str
    verdict: str
    verdict_words: Bi
    row: RegisterRow
    error: Bi | None = None
    signatures: tuple[SignatureView, ...] = ()
    picture: str | None = None  # a data: URL of the signed page, when the desk rendered one
    extra: dict[str, Any] = field(default_factory=dict)


def _signature_view(sig: SignatureReport, n: int) -> SignatureView:
    rows: list[FactRow] = []
    if sig.signer is not None:
        rows.append(
            FactRow(_label("signer"), sig.signer.name or Bi.of(lambda lang: rt.label("unknown", lang)))
        )
        if sig.signer.position:
            rows.append(FactRow(_label("position"), sig.signer.position))
        if sig.signer.organization:
            rows.append(FactRow(_label("agency"), sig.signer.organization))
    rows.append(FactRow(_label("time"), Bi.of(rt.when_text, sig)))
    if sig.reason:
        rows.append(FactRow(_label("reason"), sig.reason))
    if sig.location:
        rows.append(FactRow(_label("location"), sig.location))
    if sig.covers:  # a signature over files (CAdES, ASiC): which ones
        rows.append(FactRow(_label("covers"), rt.covers_text(sig)))
    elif sig.intact:  # a signature that does not match its bytes covers nothing and permits nothing
        rows.append(FactRow(_label("changes"), _pair(rt._MODS, sig.modifications.value)))
        rows.append(FactRow(_label("coverage"), _pair(rt._COVERAGE, sig.coverage.value)))
    if sig.trusted and sig.chain:
        rows.append(FactRow(_label("chain"), " → ".join(c.common_name or c.subject for c in sig.chain)))
        anchor = sig.chain[-1]
        rows.append(FactRow(_label("anchor"), anchor.common_name or anchor.subject))
        rows.append(FactRow(_label("fingerprint"), anchor.sha256.upper(), "fp"))
    else:
        rows.append(FactRow(_label("chain"), _label("untrusted")))
    rows.append(FactRow(_label("revocation"), Bi.of(rt.revocation_text, sig)))
    if sig.level:
        rows.append(FactRow(_label("level" if sig.subfilter else "cades_level"), sig.level))
    sentences = tuple(
        Bi(en or th or "", th or en or "")
        for en, th in zip_longest(sig.messages.en, sig.messages.th, fillvalue=None)
    )
    ind = sig.indication.value
    code = ind + (f" / {sig.sub_indication.value}" if sig.sub_indication else "")
    head = _label(sig.kind if sig.kind in rt._LABELS else "signature")
    words = _pair(rt._VERDICT, rt.clerk_verdict(ind, sig.content_changed))
    return SignatureView(n, head, sig.field, ind, code, words, tuple(rows), sentences, sig)


def letter_view(
    report: VerificationReport, number: int = 1, *, row: RegisterRow | None = None, picture: str | None = None
) -> LetterView:
    """The view of one report that the templates render."""
    from thaisign.verify import messages as msg

    error = None
    if report.error is not None:
        error = Bi(rt.file_error(report, "en"), rt.file_error(report, "th"))
    elif not report.signatures:
        error = Bi(*msg.NO_SIGNATURE)
    elif report.unsigned:  # a container's files that no signature covers, named first
        error = Bi(rt.unsigned_text(report, "en"), rt.unsigned_text(report, "th"))
    v = report.verdict.value
    return LetterView(
        number=number,
        file=report.file,
        verdict=v,
        verdict_words=_pair(rt._VERDICT, rt.clerk_verdict(v, report.content_changed)),
        row=row or RegisterRow.from_report(report),
        error=error,
        signatures=tuple(_signature_view(s, n) for n, s in enumerate(report.signatures, 1)),
        picture=picture,
    )


# --- the template environment ---------------------------------------------------------------

_UNBREAKABLE = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|[A-Za-z0-9]+(?:[-/][A-Za-z0-9]+)+)")


def _safe(value: object) -> str:
    from markupsafe import escape

    return str(escape(visible(value)))


def _keep_together(escaped: str) -> str:
    """Option names (--trust), levels (B-LT/B-LTA) and the like never break across lines."""
    return _UNBREAKABLE.sub(r'<span class="nobr">\1</span>', escaped)


def _tr(context: Any, value: object) -> Any:
    """A value in the page's language: ``Bi`` picks (or, in the desk, carries both), text is
    made visible and escaped."""
    from markupsafe import Markup

    lang = context.get("lang", "th")
    if isinstance(value, Markup):
        return value
    if not isinstance(value, Bi):
        return Markup(_keep_together(_safe(value)))
    if lang == "both":
        return Markup(
            f'<span class="l-th" lang="th">{_keep_together(_safe(value.th))}</span>'
            f'<span class="l-en" lang="en">{_keep_together(_safe(value.en))}</span>'
        )
    return Markup(_keep_together(_safe(value.en if lang == "en" else value.th)))


def _plain(context: Any, value: Bi) -> str:
    """Text only, in the language first shown (for <title> and attributes)."""
    shown = context.get("shown", context.get("lang", "th"))
    return visible(value.en if shown == "en" else value.th)


def _basename(path: str) -> str:
    """The last part of a path as given (``inbox/ก.pdf`` → ``ก.pdf``); the details keep the whole."""
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or path


def _words(value: object) -> Any:
    """Text whose space-separated words never break inside (Thai names, positions, agencies);
    words longer than 30 characters may still break, so hostile values cannot widen a table."""
    from markupsafe import Markup

    words = _safe(value).split(" ")
    return Markup(" ".join(f'<span class="nobr">{w}</span>' if 0 < len(w) <= 30 else w for w in words))


def _finalize(value: object) -> object:
    from markupsafe import Markup

    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return visible(value)


@functools.cache
def environment() -> Any:
    """The Jinja2 environment of thaisign's pages (autoescape; every string made visible)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("thaisign", "data/templates"),
        autoescape=True,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["tr"] = jinja2.pass_context(_tr)
    env.filters["basename"] = _basename
    env.filters["plain"] = jinja2.pass_context(_plain)
    env.filters["words"] = _words
    env.globals["L"] = _label
    env.globals["Bi"] = Bi
    env.globals["COLUMNS"] = [(key, Bi(en, th)) for key, en, th in COLUMNS]
    env.globals["time_bi"] = lambda t: Bi.of(rt.format_short_time, t) if t is not None else ""
    env.globals["verdict_bi"] = lambda v: _pair(rt._VERDICT, v)
    return env


def stylesheet() -> str:
    """The shared stylesheet (screen and A4 print)."""
    return resources.files("thaisign.data").joinpath("static/thaisign.css").read_text(encoding="utf-8")


def sarabun_files() -> dict[str, Path]:
    """Sarabun's regular and bold TrueType files (from fontpkg-sarabun), by CSS weight."""
    try:
        import fontpkg_sarabun
    except ImportError:  # pragma: no cover - dependency declared in pyproject
        return {}
    root = Path(fontpkg_sarabun.__file__).resolve().parent / "files"
    out = {}
    for weight, name in (("400", "Sarabun-Regular.ttf"), ("700", "Sarabun-Bold.ttf")):
        if (root / name).exists():
            out[weight] = root / name
    return out


def font_faces(url_of: Any | None = None) -> str:
    """``@font-face`` rules for Sarabun: embedded as data: URLs, or at ``url_of(file name)``."""
    faces = []
    for weight, path in sarabun_files().items():
        if url_of is None:
            src = "data:font/ttf;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        else:
            src = url_of(path.name)
        faces.append(
            f"@font-face {{ font-family: 'Sarabun'; font-weight: {weight}; "
            f"src: url({src}) format('truetype'); }}"
        )
    return "\n".join(faces)


def counts(letters: Sequence[LetterView]) -> list[tuple[str, Bi, int]]:
    """(verdict, words, how many) for the verdicts present, best first."""
    order = ["TOTAL_PASSED", "CONTENT_CHANGED", "INDETERMINATE", "TOTAL_FAILED", "NO_SIGNATURE", "ERROR"]
    tally: dict[str, int] = {}
    for letter in letters:
        verdict = letter.row.verdict  # the clerk's: CONTENT_CHANGED is not counted as valid
        tally[verdict] = tally.get(verdict, 0) + 1
    return [(v, _pair(rt._VERDICT, v), tally[v]) for v in order if v in tally]


def reports_html(
    reports: Sequence[VerificationReport],
    lang: str = "th",
    *,
    embed_font: bool = True,
    made: datetime | None = None,
) -> str:
    """One printable page for all ``reports``: the summary table, then each letter's details."""
    from markupsafe import Markup

    from thaisign import __version__

    letters = [letter_view(r, n) for n, r in enumerate(reports, 1)]
    made_at = made or datetime.now(UTC)
    style = (font_faces() if embed_font else "") + "\n" + stylesheet()
    return str(
        environment()
        .get_template("report.html")
        .render(
            lang="en" if lang == "en" else "th",
            letters=letters,
            counts=counts(letters),
            made=Bi.of(rt.format_time, made_at),
            version=__version__,
            style=Markup(style),
        )
    )
