"""Adapter from :class:`thaisign.keys.Signer` to pyHanko's CMS ``Signer``.

One path for software keys and PKCS#11 keys: pyHanko builds the CMS structures and asks this
adapter for the raw signature, which :meth:`thaisign.keys.Signer.sign` produces.
"""

from __future__ import annotations

import asn1crypto.pdf  # noqa: F401 - registers adbe-revocationInfoArchival and friends
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.sign.signers import pdf_cms
from pyhanko_certvalidator.registry import SimpleCertificateStore

from thaisign.errors import SigningError
from thaisign.keys import Signer


def _refresh_attribute_names() -> None:
    """``asn1crypto.pdf`` adds the Adobe attribute OIDs to the name map only, so the attribute
    cannot be built by name; add the missing reverse entries."""
    reverse = cms.CMSAttributeType._reverse_map
    if reverse is not None:
        for oid, name in cms.CMSAttributeType._map.items():
            reverse.setdefault(name, oid)


_refresh_attribute_names()


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    """An asn1crypto certificate from a cryptography one."""
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


class PyHankoSigner(pdf_cms.Signer):
    """A pyHanko signer that signs through a :class:`thaisign.keys.Signer`."""

    def __init__(self, signer: Signer, *, hash_algorithm: str = "sha256", embed_roots: bool = True) -> None:
        cert = signer.certificate
        if cert is None:
            raise SigningError(
                "the key has no certificate", hint="give --cert, or a PKCS#12 file that holds the certificate"
            )
        self.thaisign_signer = signer
        self.hash_algorithm = hash_algorithm
        registry = SimpleCertificateStore()
        registry.register_multiple([to_asn1(c) for c in signer.chain])
        super().__init__(
            signing_cert=to_asn1(cert),
            cert_registry=registry,
            signature_mechanism=signer.signature_algorithm(hash_algorithm),
            embed_roots=embed_roots,
        )
        key = signer.public_key
        size = getattr(key, "key_size", 256)
        # DER ECDSA-Sig-Value: two INTEGERs of up to size/8+1 bytes plus headers
        self._dry_run_len = size // 8 if signer.key_type == "rsa" else 2 * (size // 8 + 1) + 8

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            return bytes(self._dry_run_len)
        if digest_algorithm.lower() != self.hash_algorithm:
            raise SigningError(
                f"unexpected digest algorithm {digest_algorithm} (signer uses {self.hash_algorithm})"
            )
        return self.thaisign_signer.sign(data, hash_algorithm=self.hash_algorithm)
