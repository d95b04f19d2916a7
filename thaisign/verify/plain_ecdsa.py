"""Plain-ECDSA signatures (BSI TR-03111): the value is r || s, not a DER SEQUENCE.

German and EU qualified signature cards (and EU DSS) use the ``ecdsa-plain-*`` algorithms
(OID 0.4.0.127.0.7.1.1.4.1.x). pyHanko and cryptography know only X9.62's DER encoding, so
such a signature was reported as not verifying. :class:`SignatureValidator` converts r || s to
DER and verifies it with the same curve and hash; everything else goes to pyHanko's validator.
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


def _validator_class() -> Any:
    from pyhanko_certvalidator.sig_validate import DefaultSignatureValidator

    class SignatureValidator(DefaultSignatureValidator):
        """pyHanko's validator, plus plain-ECDSA (r || s) signature values."""

        def validate_signature(
            self,
            signature: bytes,
            signed_data: bytes,
            public_key_info: Any,
            signature_algorithm: Any,
            context: Any = None,
        ) -> None:
            oid = signature_algorithm["algorithm"].dotted
            if oid not in PLAIN_ECDSA:
                if context is None:
                    return super().validate_signature(
                        signature, signed_data, public_key_info, signature_algorithm
                    )
                return super().validate_signature(
                    signature, signed_data, public_key_info, signature_algorithm, context
                )
            _verify_plain(signature, signed_data, public_key_info, PLAIN_ECDSA[oid], context)

    return SignatureValidator


def _verify_plain(
    signature: bytes, signed_data: bytes, public_key_info: Any, hash_name: str, context: Any
) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash_for_signing

    key = serialization.load_der_public_key(public_key_info.dump())
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise InvalidSignature("a plain-ECDSA signature needs an elliptic-curve key")
    size = (key.curve.key_size + 7) // 8
    if len(signature) != 2 * size:
        raise InvalidSignature("the plain-ECDSA value is not r || s of the curve's size")
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    prehashed = bool(getattr(context, "prehashed", False))
    md = get_pyca_cryptography_hash_for_signing(hash_name, prehashed=prehashed)
    key.verify(encode_dss_signature(r, s), signed_data, ec.ECDSA(md))


_VALIDATOR: Any = None


def validator() -> Any:
    """One shared instance (it holds no state)."""
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = _validator_class()()
    return _VALIDATOR
