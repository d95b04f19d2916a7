"""Structural checks pyHanko does not make: a sane /ByteRange whose gap is exactly /Contents.

Signature-wrapping and "universal forgery" style files play with the /ByteRange: ranges that
do not start at 0, overlap, run past the end of the file, or leave a gap that holds something
other than the signature's own /Contents hex string. Any of these is a FORMAT_FAILURE.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_HEX = re.compile(rb"^[0-9A-Fa-f]*$")
#: "/Contents" then white space or PDF comments, right before the gap
_CONTENTS_KEY = re.compile(rb"/Contents(?:\s|%[^\r\n]*[\r\n])*$")


@dataclass(frozen=True)
class ByteRangeCheck:
    """Outcome of the /ByteRange sanity check: ``problem`` is None when all is well."""

    problem: str | None
    covers_file: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_byte_range(
    data: bytes, byte_range: Sequence[object], contents: bytes, contents_ref: tuple[int, int] | None = None
) -> ByteRangeCheck:
    """Check that ``byte_range`` = [0, a, b, c] covers ``data`` except exactly ``<contents-hex>``.

    ``contents`` are the raw bytes of the signature dictionary's /Contents string; when that
    string is an indirect object (``contents_ref``), the gap is that object's whole value.
    """
    try:
        values = [int(v) for v in byte_range]  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return ByteRangeCheck("the /ByteRange holds something other than integers")
    if len(values) != 4:
        return ByteRangeCheck(f"the /ByteRange has {len(values)} numbers instead of 4")
    start1, len1, start2, len2 = values
    size = len(data)
    if min(values) < 0:
        return ByteRangeCheck("the /ByteRange has a negative number")
    if start1 != 0:
        return ByteRangeCheck("the signed bytes do not start at the beginning of the file")
    if start2 < len1:
        return ByteRangeCheck("the two signed byte ranges overlap")
    if start2 + len2 > size or len1 > size:
        return ByteRangeCheck("the /ByteRange points past the end of the file")
    gap = data[len1:start2]
    if len(gap) < 2 or gap[:1] != b"<" or gap[-1:] != b">":
        return ByteRangeCheck("the unsigned gap is not exactly the signature's /Contents hex string")
    inner = gap[1:-1]
    if not _HEX.match(inner) or len(inner) % 2:
        return ByteRangeCheck("the unsigned gap contains more than the signature's hex string")
    if bytes.fromhex(inner.decode("ascii")) != contents:
        return ByteRangeCheck("the unsigned gap does not hold this signature's /Contents")
    before = data[max(0, len1 - 512) : len1]
    if contents_ref is not None:
        header = rb"(?:^|[\s>\]])%d\s+%d\s+obj\s*$" % contents_ref
        if not re.search(header, before):
            return ByteRangeCheck("the unsigned gap is not the signature's /Contents object")
    elif not _CONTENTS_KEY.search(before):
        return ByteRangeCheck("the unsigned gap is not the value of a /Contents entry")
    # one end-of-line after the last %%EOF carries no content: the file is still covered
    return ByteRangeCheck(None, covers_file=data[start2 + len2 :] in (b"", b"\n", b"\r\n", b"\r"))
