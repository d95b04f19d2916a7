"""The fast hex-string reader and name comparison give exactly pyHanko's / asn1crypto's results."""

from __future__ import annotations

import io
import random

import pytest
from asn1crypto import x509 as asn1_x509

from thaisign.verify import _speedups


@pytest.fixture(scope="module")
def readers():
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.misc import PdfStreamError

    _speedups.install()
    fast = generic.read_hex_string_from_stream
    assert getattr(fast, "_thaisign_fast", False)
    original = fast._thaisign_original
    return fast, original, PdfStreamError


def _outcome(reader, data: bytes, errors):
    stream = io.BytesIO(data)
    try:
        value = reader(stream)
    except errors as exc:
        return ("error", type(exc).__name__, stream.tell())
    return ("ok", bytes(value.original_bytes), stream.tell())


@pytest.mark.parametrize(
    "data",
    [
        b"<48656c6c6f> tail",
        b"<48 65 6c\n6c 6f\r\n> tail",
        b"<486>",
        b"<>",
        b"<48%comment\n65>",
        b"<48zz65>",
        b"<4865",
        b"<" + b"0" * 70000 + b"3082>x",
    ],
)
def test_fast_hex_reader_matches_pyhanko(readers, data: bytes) -> None:
    fast, original, errors = readers
    assert _outcome(fast, data, (errors, Exception)) == _outcome(original, data, (errors, Exception))


def test_fast_hex_reader_random(readers) -> None:
    fast, original, errors = readers
    rng = random.Random(7)
    alphabet = b"0123456789abcdefABCDEF \n\r\t%>gz"
    for _ in range(300):
        body = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        data = b"<" + body + b"> rest"
        assert _outcome(fast, data, (errors, Exception)) == _outcome(original, data, (errors, Exception))


def test_name_equality_unchanged() -> None:
    _speedups.install()
    a = asn1_x509.Name.build({"common_name": "นายสมชาย ใจดี", "country_name": "TH"})
    b = asn1_x509.Name.build({"common_name": "นายสมชาย  ใจดี", "country_name": "TH"})  # RFC 5280 prep
    c = asn1_x509.Name.build({"common_name": "นางสาวสมหญิง รักไทย", "country_name": "TH"})
    assert a == a and a == asn1_x509.Name.load(a.dump())
    assert (a == b) is True  # insignificant-space folding, as asn1crypto decides
    assert a != c and (a == c) is False and (a == c) is False  # cached answer stays the same


def test_patches_only_the_tested_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed versions are the tested ones (pyproject bounds them); another version is left alone."""
    assert _speedups.tested_versions()
    monkeypatch.setitem(_speedups.TESTED, "pyHanko", "9.9.")
    assert not _speedups.tested_versions()
