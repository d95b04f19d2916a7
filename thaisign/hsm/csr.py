"""A certificate signing request signed inside the token (or by any :class:`~thaisign.keys.Signer`).

The CertificationRequestInfo is built with asn1crypto and its signature made through the common
Signer, so the private key never leaves the token.
"""

from __future__ import annotations

from collections.abc import Sequence

from asn1crypto import csr as asn1_csr
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from thaisign.errors import TokenError, UsageError
from thaisign.keys import Signer


def officer_name(
    name_th: str,
    *,
    organization: str | None = None,
    unit: str | None = None,
    given_name: str | None = None,
    surname: str | None = None,
    position: str | None = None,
    email: str | None = None,
    employee_id: str | None = None,
    country: str = "TH",
) -> x509.Name:
    """A subject name in the officer profile's order, every string a UTF8String (C stays printable)."""
    if not name_th.strip():
        raise UsageError("the name (--name-th) must not be empty")
    from thaisign.ca.profiles import check_text

    # the same rules as the CA's: no control or direction characters, RFC 5280's 64 characters
    name_th = check_text(name_th, "the name (--name-th)", required=True, limit=64) or name_th
    organization = check_text(organization, "the agency (--org)", limit=64)
    unit = check_text(unit, "the unit (--ou)", limit=64)
    position = check_text(position, "the position (--position)", limit=64)
    given_name = check_text(given_name, "the given name (--given-name)")
    surname = check_text(surname, "the surname (--surname)")
    utf8 = _ASN1Type.UTF8String
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, country)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization, utf8))
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit, utf8))
    if position:
        attrs.append(x509.NameAttribute(NameOID.TITLE, position, utf8))
    if given_name:
        attrs.append(x509.NameAttribute(NameOID.GIVEN_NAME, given_name, utf8))
    if surname:
        attrs.append(x509.NameAttribute(NameOID.SURNAME, surname, utf8))
    if employee_id:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, employee_id))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, name_th, utf8))
    if email:
        attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    return x509.Name(attrs)


def build_csr(
    signer: Signer,
    subject: x509.Name,
    *,
    emails: Sequence[str] = (),
    hash_algorithm: str | None = None,
) -> x509.CertificateSigningRequest:
    """A PKCS#10 request for ``subject`` and the signer's public key, signed by ``signer``.

    ``emails`` go into a subjectAltName extension request. The hash defaults to the one that
    matches the key (SHA-384 for P-384).

    >>> csr = build_csr(Pkcs11Signer.open("pkcs11:token=Agency;object=somchai", pin=pin),
    ...                 officer_name("นายสมชาย ใจดี", position="ผู้อำนวยการกอง"))
    """
    h = hash_algorithm or signer.key_spec.default_hash()
    spki = signer.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    attributes = []
    if emails:
        san = asn1_x509.GeneralNames([asn1_x509.GeneralName("rfc822_name", e) for e in emails])
        ext = asn1_x509.Extension({"extn_id": "subject_alt_name", "critical": False, "extn_value": san})
        attributes.append({"type": "extension_request", "values": [asn1_x509.Extensions([ext])]})
    info = asn1_csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": asn1_x509.Name.load(subject.public_bytes()),
            "subject_pk_info": asn1_keys.PublicKeyInfo.load(spki),
            "attributes": attributes,
        }
    )
    tbs = info.dump()
    request = asn1_csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": signer.signature_algorithm(h),
            "signature": signer.sign(tbs, hash_algorithm=h),
        }
    )
    csr = x509.load_der_x509_csr(request.dump())
    if not csr.is_signature_valid:  # a token that signed with another key, or a broken mechanism
        raise TokenError("the token produced a CSR whose signature does not verify")
    return csr
