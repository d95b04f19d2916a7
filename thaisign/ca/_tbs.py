"""Building what the CA signs: officer TBSCertificates (templated, fast), the CA certificate and CSR.

Everything is signed through :class:`thaisign.keys.Signer`, so a PKCS#11 CA key works the same
as a key file. The officer path precomputes every constant part of the TBSCertificate (issuer,
algorithm, the extensions of the profile) once per CA, and per certificate encodes only the
serial, validity, subject, public key, SKI and e-mail SAN.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from asn1crypto import algos as asn1_algos
from asn1crypto import csr as asn1_csr
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509

from thaisign.ca import _der
from thaisign.ca.profiles import (
    OID_C,
    OID_CN,
    OID_EMAIL,
    OID_GIVEN_NAME,
    OID_O,
    OID_ORGANIZATION_IDENTIFIER,
    OID_OU,
    OID_SERIAL_NUMBER,
    OID_SURNAME,
    OID_TITLE,
    CaProfile,
    OfficerProfile,
)
from thaisign.keys import Signer

EKU_DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"
EKU_MS_DOCUMENT_SIGNING = "1.3.6.1.4.1.311.10.3.12"

_U, _P, _I = _der.UTF8_STRING, _der.PRINTABLE_STRING, _der.IA5_STRING
_SHORT = {
    OID_C: "C",
    OID_O: "O",
    OID_OU: "OU",
    OID_CN: "CN",
    OID_GIVEN_NAME: "GN",
    OID_SURNAME: "SN",
    OID_TITLE: "title",
    OID_SERIAL_NUMBER: "serialNumber",
    OID_ORGANIZATION_IDENTIFIER: "organizationIdentifier",
    OID_EMAIL: "emailAddress",
}


def officer_name_attributes(officer: OfficerProfile, ca: CaProfile) -> list[tuple[str, int, str]]:
    """The subject attributes of an officer certificate, in order (Thai text as UTF8String)."""
    attrs: list[tuple[str, int, str]] = [(OID_C, _P, "TH"), (OID_O, _U, ca.name_th)]
    if ca.org_id:
        attrs.append((OID_ORGANIZATION_IDENTIFIER, _U, ca.org_id))
    if officer.ou:
        attrs.append((OID_OU, _U, officer.ou))
    attrs.append((OID_TITLE, _U, officer.position))
    if officer.employee_id:
        attrs.append((OID_SERIAL_NUMBER, _P, officer.employee_id))
    if officer.given_name:
        attrs.append((OID_GIVEN_NAME, _U, officer.given_name))
    if officer.surname:
        attrs.append((OID_SURNAME, _U, officer.surname))
    attrs.append((OID_CN, _U, officer.name_th))
    if officer.email:
        attrs.append((OID_EMAIL, _I, officer.email))
    return attrs


def ca_name_attributes(ca: CaProfile) -> list[tuple[str, int, str]]:
    attrs: list[tuple[str, int, str]] = [(OID_C, _P, "TH"), (OID_O, _U, ca.name_th)]
    if ca.org_id:
        attrs.append((OID_ORGANIZATION_IDENTIFIER, _U, ca.org_id))
    # RFC 5280's upper bound is 64 characters (not UTF-8 bytes): the Thai name is the CN too,
    # encoded here as a UTF8String (CaProfile.validated keeps it within 64 characters)
    attrs.append((OID_CN, _U, ca.name_th))
    return attrs


def name_text(attributes: list[tuple[str, int, str]]) -> str:
    """A readable one-line form of a name (most specific first, like RFC 4514)."""
    return ", ".join(f"{_SHORT.get(o, o)}={v}" for o, _, v in reversed(attributes))


def key_identifier(spki_der: bytes) -> bytes:
    """RFC 5280 method 1: SHA-1 of the subjectPublicKey bits."""
    return hashlib.sha1(_der.spki_key_bits(spki_der)).digest()


@dataclass(frozen=True)
class OfficerTemplate:
    """The constant parts of every officer TBSCertificate a CA issues."""

    head: bytes  # [0] version v3
    signature_algorithm: bytes
    issuer: bytes
    fixed_extensions: bytes  # concatenated Extension elements
    hash_algorithm: str

    @classmethod
    def for_ca(
        cls, profile: CaProfile, issuer_der: bytes, ca_spki_der: bytes, signer: Signer, hash_algorithm: str
    ) -> OfficerTemplate:
        aki = _der.sequence(_der.tlv(0x80, key_identifier(ca_spki_der)))
        policies = _der.sequence(_der.sequence(_der.oid(profile.policy_oid)))
        eku = _der.sequence(
            _der.oid(EKU_DOCUMENT_SIGNING),
            _der.oid(EKU_MS_DOCUMENT_SIGNING),
            *(_der.oid(o) for o in profile.officer_extra_eku_oids),
        )
        crl_dp = _der.sequence(
            _der.sequence(_der.tlv(0xA0, _der.tlv(0xA0, _der.tlv(0x86, profile.crl_url.encode("ascii")))))
        )
        aia = _der.sequence(
            _der.sequence(_der.oid("1.3.6.1.5.5.7.48.1"), _der.tlv(0x86, profile.ocsp_url.encode("ascii"))),
            _der.sequence(
                _der.oid("1.3.6.1.5.5.7.48.2"), _der.tlv(0x86, profile.ca_issuers_url.encode("ascii"))
            ),
        )
        fixed = b"".join(
            [
                _der.extension("2.5.29.19", True, _der.sequence()),  # basicConstraints CA:FALSE
                # keyUsage: digitalSignature + nonRepudiation (bits 0 and 1; 6 unused bits)
                _der.extension("2.5.29.15", True, b"\x03\x02\x06\xc0"),
                _der.extension("2.5.29.37", False, eku),
                _der.extension("2.5.29.32", False, policies),
                _der.extension("2.5.29.31", False, crl_dp),
                _der.extension("1.3.6.1.5.5.7.1.1", False, aia),
                _der.extension("2.5.29.35", False, aki),
            ]
        )
        return cls(
            head=b"\xa0\x03\x02\x01\x02",
            signature_algorithm=signer.signature_algorithm(hash_algorithm).dump(),
            issuer=issuer_der,
            fixed_extensions=fixed,
            hash_algorithm=hash_algorithm,
        )

    def tbs(
        self,
        serial: int,
        subject_der: bytes,
        spki_der: bytes,
        not_before: dt.datetime,
        not_after: dt.datetime,
        email: str | None,
    ) -> bytes:
        """The DER TBSCertificate of one officer certificate."""
        ski = _der.extension("2.5.29.14", False, _der.tlv(0x04, key_identifier(spki_der)))
        san = b""
        if email:
            san = _der.extension("2.5.29.17", False, _der.sequence(_der.tlv(0x81, email.encode("ascii"))))
        extensions = _der.tlv(0xA3, _der.sequence(self.fixed_extensions, ski, san))
        return _der.sequence(
            self.head,
            _der.integer(serial),
            self.signature_algorithm,
            self.issuer,
            _der.sequence(_der.time(not_before), _der.time(not_after)),
            subject_der,
            spki_der,
            extensions,
        )

    def certificate(self, tbs: bytes, signer: Signer) -> bytes:
        """Sign ``tbs`` and wrap it into a DER Certificate."""
        signature = signer.sign(tbs, hash_algorithm=self.hash_algorithm)
        return _der.sequence(tbs, self.signature_algorithm, _der.bit_string(signature))


# --- the CA's own certificate and CSR (made once; asn1crypto) ---------------------------------


def _ca_extensions(spki_der: bytes, *, self_signed: bool, path_len: int = 0) -> list[dict[str, object]]:
    """A CA certificate's extensions; ``path_len`` CAs may follow it (0: it issues officers only,
    1: e.g. a provincial issuing CA over agency CAs)."""
    ski = key_identifier(spki_der)
    exts: list[dict[str, object]] = [
        {
            "extn_id": "basic_constraints",
            "critical": True,
            "extn_value": {"ca": True, "path_len_constraint": path_len},
        },
        {
            "extn_id": "key_usage",
            "critical": True,
            "extn_value": {"digital_signature", "key_cert_sign", "crl_sign"},
        },
        {"extn_id": "key_identifier", "critical": False, "extn_value": ski},
    ]
    if self_signed:
        exts.append(
            {"extn_id": "authority_key_identifier", "critical": False, "extn_value": {"key_identifier": ski}}
        )
    return exts


def self_signed_ca(
    profile: CaProfile,
    signer: Signer,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    hash_algorithm: str,
    *,
    path_len: int = 0,
) -> bytes:
    """The DER of a self-signed agency root certificate signed by ``signer``."""
    from cryptography.hazmat.primitives import serialization

    spki = signer.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    name = asn1_x509.Name.load(_der.name(ca_name_attributes(profile)))
    sig_alg = signer.signature_algorithm(hash_algorithm)
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": sig_alg,
            "issuer": name,
            "validity": {
                "not_before": asn1_x509.Time.load(_der.time(not_before)),
                "not_after": asn1_x509.Time.load(_der.time(not_after)),
            },
            "subject": name,
            "subject_public_key_info": asn1_keys.PublicKeyInfo.load(spki),
            "extensions": _ca_extensions(spki, self_signed=True, path_len=path_len),
        }
    )
    tbs_der = tbs.dump()
    signature = signer.sign(tbs_der, hash_algorithm=hash_algorithm)
    cert = asn1_x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": sig_alg, "signature_value": signature}
    )
    return bytes(cert.dump())


def ca_csr(profile: CaProfile, signer: Signer, hash_algorithm: str, *, path_len: int = 0) -> bytes:
    """The DER of a PKCS#10 request for a subordinate CA certificate (for the parent CA)."""
    from cryptography.hazmat.primitives import serialization

    spki = signer.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    info = asn1_csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": asn1_x509.Name.load(_der.name(ca_name_attributes(profile))),
            "subject_pk_info": asn1_keys.PublicKeyInfo.load(spki),
            "attributes": [
                {
                    "type": "extension_request",
                    "values": [
                        asn1_x509.Extensions(_ca_extensions(spki, self_signed=False, path_len=path_len))
                    ],
                }
            ],
        }
    )
    sig_alg: asn1_algos.SignedDigestAlgorithm = signer.signature_algorithm(hash_algorithm)
    signature = signer.sign(info.dump(), hash_algorithm=hash_algorithm)
    req = asn1_csr.CertificationRequest(
        {"certification_request_info": info, "signature_algorithm": sig_alg, "signature": signature}
    )
    return bytes(req.dump())
