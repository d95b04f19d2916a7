"""The PAdES CMS container assembled from cached DER pieces (the common B-B / B-T case).

pyHanko builds every CMS ``SignedData`` through asn1crypto object trees, which costs tens of
milliseconds per letter. For a PAdES signature the structure is fixed: content-type,
message-digest and signing-certificate-v2 signed attributes, the signer's certificates, and
optionally a signature timestamp. Everything except the message digest, the signature and
the timestamp token is the same for every letter, so it is encoded once (with asn1crypto /
pyHanko) and reused. Anything else falls back to pyHanko's own code path.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.general import as_signing_certificate_v2


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, content: bytes) -> bytes:
    """A DER element: tag, definite length, content."""
    return bytes([tag]) + _length(len(content)) + content


def _set_of(elements: list[bytes]) -> bytes:
    """The content of a DER SET OF: elements sorted by their encodings."""
    return b"".join(sorted(elements))


_VERSION_1 = b"\x02\x01\x01"
_DATA_OID = cms.ContentType("data").dump()
_SIGNED_DATA_OID = cms.ContentType("signed_data").dump()
_TST_ATTR_OID = cms.CMSAttributeType("signature_time_stamp_token").dump()


@dataclass(frozen=True)
class CmsTemplate:
    """The per-signer constant parts of a PAdES CMS container."""

    digest_length: int
    content_type_attr: bytes
    message_digest_prefix: bytes
    signing_certificate_attr: bytes
    sid: bytes
    digest_algorithm: bytes
    signature_algorithm: bytes
    certificates: bytes  # [0] IMPLICIT CertificateSet

    @classmethod
    def build(
        cls,
        signing_cert: asn1_x509.Certificate,
        chain: list[asn1_x509.Certificate],
        digest_algorithm: str,
        signature_algorithm: algos.SignedDigestAlgorithm,
    ) -> CmsTemplate:
        length = {"sha256": 32, "sha384": 48, "sha512": 64}[digest_algorithm]
        content_type = cms.CMSAttribute({"type": "content_type", "values": ["data"]}).dump()
        md = cms.CMSAttribute({"type": "message_digest", "values": [b"\x00" * length]}).dump()
        scv2 = cms.CMSAttribute(
            {"type": "signing_certificate_v2", "values": [as_signing_certificate_v2(signing_cert)]}
        ).dump()
        sid = cms.SignerIdentifier(
            {
                "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                    {"issuer": signing_cert.issuer, "serial_number": signing_cert.serial_number}
                )
            }
        ).dump()
        digest = algos.DigestAlgorithm({"algorithm": digest_algorithm}).dump()
        der_certs = {c.dump() for c in [signing_cert, *chain]}
        certificates = tlv(0xA0, _set_of(list(der_certs)))
        return cls(
            length,
            content_type,
            md[:-length],
            scv2,
            sid,
            digest,
            signature_algorithm.dump(),
            certificates,
        )

    def signed_attributes(self, document_digest: bytes) -> list[bytes]:
        if len(document_digest) != self.digest_length:
            raise ValueError("document digest has the wrong length")
        return [
            self.content_type_attr,
            self.message_digest_prefix + document_digest,
            self.signing_certificate_attr,
        ]

    def to_be_signed(self, attributes: list[bytes]) -> bytes:
        """The DER of the signed attributes as a SET OF: what the signature covers."""
        return tlv(0x31, _set_of(attributes))

    def content_info(self, attributes: list[bytes], signature: bytes, timestamp_token: bytes | None) -> bytes:
        """The complete ``ContentInfo`` (signedData) DER."""
        signer_info = (
            _VERSION_1
            + self.sid
            + self.digest_algorithm
            + tlv(0xA0, _set_of(attributes))
            + self.signature_algorithm
            + tlv(0x04, signature)
        )
        if timestamp_token is not None:
            attr = tlv(0x30, _TST_ATTR_OID + tlv(0x31, timestamp_token))
            signer_info += tlv(0xA1, attr)
        signed_data = (
            _VERSION_1
            + tlv(0x31, self.digest_algorithm)
            + tlv(0x30, _DATA_OID)
            + self.certificates
            + tlv(0x31, tlv(0x30, signer_info))
        )
        return tlv(0x30, _SIGNED_DATA_OID + tlv(0xA0, tlv(0x30, signed_data)))
