"""Untrusted text made inert: what a PDF, a certificate or a file name says is shown, never obeyed.

Names, field names, reasons, file names and error details come from files a stranger made. Shown
raw, an escape sequence clears the clerk's terminal and paints a fake verdict, a CR or LF forges
report lines, and a right-to-left override (U+202E) reverses what follows. :func:`visible` turns
every such character into a visible escape (``\\x1b``, ``\\u202e``) and cuts over-long values;
Thai, Latin and every other printable script pass unchanged.

>>> visible("นายสมชาย\\x1b[2J\\u202eใจดี")
'นายสมชาย\\\\x1b[2J\\\\u202eใจดี'

Every renderer (text, HTML, the desk) and the CLI's error lines pass untrusted text through
:func:`visible`; JSON keeps the exact value and :func:`json_text` escapes the same characters
as ``\\uXXXX`` so the JSON text itself is inert too.
"""

from __future__ import annotations

import re
import unicodedata

#: Unicode categories never shown raw: controls (C0, DEL, C1), format characters (bidi
#: embeddings, overrides and isolates, zero-width characters, soft hyphen, BOM), line and
#: paragraph separators, lone surrogates and unassigned code points.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Cn"})
#: More combining marks than this on one base character are escaped (Thai needs at most three:
#: a vowel above, a tone mark and a sign); longer stacks paint over neighbouring lines.
MAX_COMBINING_RUN = 3
#: Default bound on one displayed value, in characters.
DEFAULT_LIMIT = 300


def _escape(ch: str) -> str:
    cp = ord(ch)
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def is_unsafe(ch: str) -> bool:
    """Whether ``ch`` must not reach a terminal or a page raw."""
    return unicodedata.category(ch) in UNSAFE_CATEGORIES


def visible(text: object, *, limit: int | None = DEFAULT_LIMIT) -> str:
    """``text`` with every unsafe character shown as an escape, cut to ``limit`` characters.

    ``None`` becomes the empty string. Over-long values end with ``…`` and how much was cut.
    """
    if text is None:
        return ""
    s = text if isinstance(text, str) else str(text)
    out: list[str] = []
    run = 0
    for ch in s:
        cat = unicodedata.category(ch)
        if cat in UNSAFE_CATEGORIES:
            out.append(_escape(ch))
            run = 0
        elif cat in ("Mn", "Me"):
            run += 1
            out.append(ch if run <= MAX_COMBINING_RUN else _escape(ch))
        else:
            run = 0
            out.append(ch)
    if limit is not None and len(out) > limit:
        cut = len(out) - limit
        return "".join(out[:limit]) + f"… (+{cut})"
    return "".join(out)


def visible_lines(text: str, *, limit: int | None = None) -> str:
    """A multi-line text of our own making, with each line made :func:`visible` (newlines kept)."""
    return "\n".join(visible(line, limit=limit) for line in text.split("\n"))


#: characters worth a closer look: anything but printable ASCII, Thai and JSON's whitespace
_CANDIDATE = re.compile(r"[^\x20-\x7e\u0e00-\u0e7f\n\r\t]")


def json_text(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with the unsafe characters that
    JSON allows raw (DEL, C1, format characters, separators) written as ``\\uXXXX`` escapes.

    The decoded values are unchanged: only their spelling in the JSON text differs. (C0 controls
    are escaped by ``json.dumps`` already; outside strings JSON text has only plain whitespace.)
    """

    def esc(m: re.Match[str]) -> str:
        ch = m.group()
        if not is_unsafe(ch):
            return ch
        cp = ord(ch)
        if cp < 0x10000:
            return f"\\u{cp:04x}"
        cp -= 0x10000  # a surrogate pair, as JSON spells characters beyond the BMP
        return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"

    return _CANDIDATE.sub(esc, text)
