"""Two hot spots of verification, made fast without changing results.

1. pyHanko reads a PDF hex string (a signature's /Contents: ~16 kB of hex) one byte at a time,
   several milliseconds per read, and a signature dictionary is read several times. The fast
   reader takes the whole string at once; any string containing a comment (``%``) or anything
   unusual is handed back to pyHanko's own reader, so the result is always pyHanko's.
2. asn1crypto compares X.509 names by RFC 5280 string preparation of every attribute, which
   pyHanko does many times per signature (issuer/serial matching). Names with identical DER are
   equal under any rule, so that case answers at once; other pairs are compared by asn1crypto
   once and the answer is remembered by the pair of DER encodings (a bounded cache).
3. pyHanko checks a signature's ESS signing-certificate attribute against the signer's
   certificate twice per signature (hashing the certificate, matching issuer names). A
   successful check is remembered by (certificate DER, attribute DER); failures are always
   re-checked and raised by pyHanko itself.

:func:`install` is idempotent and is called by :class:`thaisign.verify.cache.BatchCache`. It
patches only the versions the patches are tested with (:data:`TESTED`, also the bounds in
pyproject.toml); with any other version the libraries run as they are (slower, same results).
"""

from __future__ import annotations

import binascii
import re
from typing import Any

_installed = False

#: module holding ``__version__`` -> version prefix the patches are tested with (keep in step
#: with pyproject.toml)
TESTED = {"pyhanko.version": "0.38.", "asn1crypto.version": "1.5."}


def tested_versions() -> bool:
    """Whether the installed pyHanko and asn1crypto are the versions these patches were tested on.

    Read from the packages' own ``__version__`` (importlib.metadata scans site-packages: ~15 ms
    of every ``thaisign verify``)."""
    import importlib

    try:
        return all(
            str(importlib.import_module(module).__version__).startswith(prefix)
            for module, prefix in TESTED.items()
        )
    except (ImportError, AttributeError):
        return False


_HEX_ONLY = re.compile(rb"[0-9A-Fa-f]*")
_WS = b" \n\r\t\f\x00"


def _fast_hex_reader(original: Any, pdf_string: Any) -> Any:
    def read_hex_string_from_stream(stream: Any) -> Any:
        start = stream.tell()
        head = stream.read(1)
        chunks: list[bytes] = []
        while True:
            chunk = stream.read(1 << 16)
            if not chunk:
                break
            end = chunk.find(b">")
            if end >= 0:
                chunks.append(chunk[:end])
                stream.seek(stream.tell() - (len(chunk) - end - 1))
                raw = b"".join(chunks).translate(None, _WS)
                if head == b"<" and _HEX_ONLY.fullmatch(raw):
                    if len(raw) % 2:
                        raw += b"0"
                    return pdf_string(binascii.unhexlify(raw))
                break
            chunks.append(chunk)
        stream.seek(start)  # comments, bad tokens, truncation: pyHanko decides (and reports)
        return original(stream)

    read_hex_string_from_stream.__doc__ = original.__doc__
    read_hex_string_from_stream._thaisign_fast = True  # type: ignore[attr-defined]
    read_hex_string_from_stream._thaisign_original = original  # type: ignore[attr-defined]
    return read_hex_string_from_stream


def _memo_signing_certificate_check(original: Any, get_attr: Any) -> Any:
    passed: set[tuple[bytes, bytes]] = set()

    def _check_signing_certificate(cert: Any, signed_attrs: Any) -> None:
        attr = get_attr(signed_attrs)
        if attr is None:
            return
        key = (cert.dump(), attr.dump())
        if key in passed:
            return
        original(cert, signed_attrs)
        if len(passed) > 4096:
            passed.clear()
        passed.add(key)

    _check_signing_certificate._thaisign_fast = True  # type: ignore[attr-defined]
    return _check_signing_certificate


def install() -> None:
    """Install the speed-ups (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    if not tested_versions():
        return  # patching internals of a version never tested with them could change results
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils import generic
    from pyhanko.sign.validation import generic_cms

    if not getattr(generic_cms._check_signing_certificate, "_thaisign_fast", False):
        generic_cms._check_signing_certificate = _memo_signing_certificate_check(
            generic_cms._check_signing_certificate, generic_cms.get_signing_cert_attr
        )

    if not getattr(generic.read_hex_string_from_stream, "_thaisign_fast", False):
        generic.read_hex_string_from_stream = _fast_hex_reader(
            generic.read_hex_string_from_stream, generic.pdf_string
        )

    name_eq = asn1_x509.Name.__eq__
    if not getattr(name_eq, "_thaisign_fast", False):
        cache: dict[tuple[bytes, bytes], bool] = {}

        def __eq__(self: Any, other: object) -> bool:
            if not isinstance(other, asn1_x509.Name):
                return bool(name_eq(self, other))
            a, b = self.dump(), other.dump()
            if a == b:
                return True
            key = (a, b)
            hit = cache.get(key)
            if hit is None:
                if len(cache) > 4096:
                    cache.clear()
                hit = cache[key] = bool(name_eq(self, other))
            return hit

        __eq__._thaisign_fast = True  # type: ignore[attr-defined]
        asn1_x509.Name.__eq__ = __eq__
