"""Plain-ECDSA signatures (BSI TR-03111): the value is r || s, not a DER SEQUENCE.

German and EU qualified signature cards (and EU DSS) use the ``ecdsa-plain-*`` algorithms
(OID 0.4.0.127.0.7.1.1.4.1.x). cryptography knows only X9.62's DER encoding;
:func:`der_signature` converts r || s so that :mod:`thaisign.verify.algorithms` verifies such a
signature with the same curve and hash as any other ECDSA signature.
"""

from __future__ import annotations

from typing import Any

#: ecdsa-plain-<hash> (BSI TR-03111, section 5.2.1)
PLAIN_ECDSA: dict[str, str] = {
    "0.4.0.127.0.7.1.1.4.1.1": "sha1",
    "0.4.0.127.0.7.1.1.4.1.2": "sha224",
    "0.4.0.127.0.7.1.1.4.1.3": "sha256",
    "0.4.0.127.0.7.1.1.4.1.4": "sha384",
    "0.4.0.127.0.7.1.1.4.1.5": "sha512",
}


def der_signature(key: Any, signature: bytes) -> bytes | None:
    """r || s for ``key``'s curve as a DER ECDSA-Sig-Value; None when the length does not fit."""
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    size = (key.curve.key_size + 7) // 8
    if len(signature) != 2 * size:
        return None
    return encode_dss_signature(
        int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
    )
