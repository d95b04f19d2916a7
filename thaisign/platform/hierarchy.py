"""The platform's CA hierarchy: its issuing CA (provincial or national) over the agency CAs.

An agency CA certificate is signed by the issuing CA and recorded in the issuing CA's store like
any certificate it issues (so the issuing CA's CRL and OCSP answer for it). It carries
basicConstraints CA with pathLen 0 (it issues officers only), keyUsage keyCertSign + cRLSign,
anyPolicy, the issuing CA's CRL distribution point and OCSP/caIssuers URLs.

>>> cert = agency_certificate(issuing, profile, public_key, not_before, not_after)
"""

from __future__ import annotations

import datetime as dt

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from thaisign.ca import _der, _tbs
from thaisign.ca.authority import Authority
from thaisign.ca.profiles import CaProfile
from thaisign.ca.service_certs import build_certificate
from thaisign.ca.store import NewCertificate
from thaisign.errors import CertificateError
from thaisign.keys import key_spec_of

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

#: ``source`` of an agency CA certificate in the issuing CA's store
SUB_CA_SOURCE = "sub-ca"


def _uri(url: str) -> asn1_x509.GeneralName:
    return asn1_x509.GeneralName(name="uniform_resource_identifier", value=url)


def agency_extensions(issuer_profile: CaProfile) -> list[dict[str, object]]:
    """The extensions of an agency CA certificate (SKI/AKI are added when it is built)."""
    return [
        {
            "extn_id": "basic_constraints",
            "critical": True,
            "extn_value": {"ca": True, "path_len_constraint": 0},
        },
        {
            "extn_id": "key_usage",
            "critical": True,
            "extn_value": {"digital_signature", "key_cert_sign", "crl_sign"},
        },
        {
            "extn_id": "certificate_policies",
            "critical": False,
            "extn_value": [{"policy_identifier": "any_policy"}],
        },
        {
            "extn_id": "crl_distribution_points",
            "critical": False,
            "extn_value": [{"distribution_point": {"full_name": [_uri(issuer_profile.crl_url)]}}],
        },
        {
            "extn_id": "authority_information_access",
            "critical": False,
            "extn_value": [
                {"access_method": "ocsp", "access_location": _uri(issuer_profile.ocsp_url)},
                {"access_method": "ca_issuers", "access_location": _uri(issuer_profile.ca_issuers_url)},
            ],
        },
    ]


def agency_certificate(
    issuing: Authority,
    profile: CaProfile,
    public_key: PublicKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    """An agency CA certificate (subject from ``profile``: C=TH, O/CN = the agency's Thai name)
    signed by the issuing CA; not yet recorded (see :func:`sub_ca_record`)."""
    issuer_cert = issuing.certificate
    if issuer_cert is None:
        raise CertificateError(
            "the platform's issuing CA has no certificate yet",
            hint="install it with 'thaisign platform install-cert'",
        )
    end = min(not_after, issuer_cert.not_valid_after_utc)
    if not_before < issuer_cert.not_valid_before_utc or not_before >= end:
        raise CertificateError("the platform's issuing CA is not valid now: it cannot issue agency CAs")
    subject = asn1_x509.Name.load(_der.name(_tbs.ca_name_attributes(profile)))
    return build_certificate(
        subject=subject,
        public_key=public_key,
        issuer_signer=issuing.signer,
        issuer_cert=issuer_cert,
        not_before=not_before,
        not_after=end,
        extensions=agency_extensions(issuing.profile),
        hash_algorithm=issuing.hash_algorithm,
    )


def sub_ca_record(cert: x509.Certificate, name_th: str, name_en: str | None) -> NewCertificate:
    """The issuing CA's store row of an agency CA certificate."""
    return NewCertificate(
        serial=cert.serial_number,
        name_th=name_th,
        name_en=name_en,
        position="CA",
        email=None,
        employee_id=None,
        subject=_tbs.name_text(_tbs.ca_name_attributes(CaProfile(name_th=name_th))),
        key_type=str(key_spec_of(cert.public_key())),
        source=SUB_CA_SOURCE,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        der=cert.public_bytes(serialization.Encoding.DER),
    )


def self_signed(
    profile: CaProfile, issuing: Authority, not_before: dt.datetime, not_after: dt.datetime
) -> bytes:
    """A new self-signed certificate for a root CA's own key (renewing an imported agency root)."""
    from thaisign.ca.authority import new_serial

    return _tbs.self_signed_ca(
        profile, issuing.signer, new_serial(), not_before, not_after, issuing.hash_algorithm
    )


def years_after(when: dt.datetime, years: int) -> dt.datetime:
    try:
        return when.replace(year=when.year + years)
    except ValueError:  # 29 February
        return when + dt.timedelta(days=365 * years)
