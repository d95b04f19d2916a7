"""Showing hostile text safely in one line: control and direction characters made visible, length bounded."""

from __future__ import annotations

import unicodedata

_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})


def visible(text: str, limit: int = 120) -> str:
    """``text`` with every control, bidi or zero-width character written as ``\\u202e``, cut to ``limit``.

    >>> visible("abc\\u202egpj.exe")
    'abc\\\\u202egpj.exe'
    """
    out = []
    for ch in text[: limit + 1]:
        if unicodedata.category(ch) in _HIDDEN:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    shown = "".join(out)
    return shown if len(text) <= limit else shown[:limit] + "…"
