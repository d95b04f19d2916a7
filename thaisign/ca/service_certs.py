"""Certificates for the CA's own services: a delegated OCSP responder and a time-stamping unit.

Both are issued by an agency :class:`~thaisign.ca.authority.Authority` (its signer may be a
PKCS#11 key) and recorded in its store and audit log like any certificate it issues:

- OCSP responder: keyUsage digitalSignature, EKU id-kp-OCSPSigning, id-pkix-ocsp-nocheck;
- TSA: keyUsage digitalSignature + nonRepudiation, *critical* EKU id-kp-timeStamping only.

>>> with Authority.open("/srv/ca", passphrase=ca_pw) as ca:
...     responder = issue_service_certificate(ca, "ocsp")
>>> save_service_key(responder, "/srv/ca", "ocsp-responder", passphrase=responder_pw)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from thaisign._fs import atomic_write, read_input
from thaisign._secrets import check_new_passphrase
from thaisign.errors import CertificateError, OutputError
from thaisign.keys import KeySpec, Signer, SoftwareSigner, key_spec_of, load_certificates, load_private_key

if TYPE_CHECKING:
    from thaisign.ca.authority import Authority

__all__ = [
    "ServiceCertificate",
    "build_certificate",
    "issue_service_certificate",
    "load_service_signer",
    "save_service_key",
]

Purpose = Literal["ocsp", "tsa"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

_NAMES = {"ocsp": "OCSP Responder", "tsa": "Time-Stamping Authority"}
_NAMES_TH = {"ocsp": "ผู้ให้บริการตรวจสอบสถานะใบรับรอง", "tsa": "หน่วยประทับรับรองเวลา"}


@dataclass(frozen=True)
class ServiceCertificate:
    """A service certificate, its private key (None when the key lives in a token) and chain."""

    certificate: x509.Certificate
    private_key: PrivateKey | None
    chain: tuple[x509.Certificate, ...]

    def signer(self) -> SoftwareSigner:
        if self.private_key is None:
            raise CertificateError("this service certificate's key is not held in memory")
        return SoftwareSigner(self.private_key, self.certificate, self.chain)


def _spki(public_key: PublicKey) -> asn1_keys.PublicKeyInfo:
    return asn1_keys.PublicKeyInfo.load(
        public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _time(when: dt.datetime) -> asn1_x509.Time:
    when = when.astimezone(dt.UTC).replace(microsecond=0)
    return asn1_x509.Time(name="utc_time" if when.year < 2050 else "general_time", value=when)


def build_certificate(
    *,
    subject: asn1_x509.Name,
    public_key: PublicKey,
    issuer_signer: Signer,
    issuer_cert: x509.Certificate | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
    extensions: list[dict[str, object]],
    serial: int | None = None,
    hash_algorithm: str | None = None,
) -> x509.Certificate:
    """Build a TBSCertificate with asn1crypto and sign it through ``issuer_signer``.

    ``issuer_cert=None`` makes a self-signed certificate. SKI/AKI are added here.
    """
    spki = _spki(public_key)
    ski = hashlib.sha1(bytes(spki["public_key"].contents[1:])).digest()
    if issuer_cert is None:
        issuer, aki = subject, ski
    else:
        issuer = asn1_x509.Name.load(issuer_cert.subject.public_bytes())
        aki = hashlib.sha1(bytes(_spki(issuer_cert.public_key())["public_key"].contents[1:])).digest()  # type: ignore[arg-type]
    h = hash_algorithm or issuer_signer.key_spec.default_hash()
    sig_algo = issuer_signer.signature_algorithm(h)
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial or (secrets.randbits(127) | (1 << 126)),
            "signature": sig_algo,
            "issuer": issuer,
            "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
            "subject": subject,
            "subject_public_key_info": spki,
            "extensions": [
                *extensions,
                {"extn_id": "key_identifier", "critical": False, "extn_value": ski},
                {
                    "extn_id": "authority_key_identifier",
                    "critical": False,
                    "extn_value": {"key_identifier": aki},
                },
            ],
        }
    )
    signature = issuer_signer.sign(tbs.dump(), hash_algorithm=h)
    cert = asn1_x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": sig_algo, "signature_value": signature}
    )
    return x509.load_der_x509_certificate(cert.dump())


def service_extensions(purpose: Purpose) -> list[dict[str, object]]:
    """basicConstraints, keyUsage and EKU (+ ocsp-nocheck) for a service certificate."""
    exts: list[dict[str, object]] = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": False}},
    ]
    if purpose == "ocsp":
        exts += [
            {"extn_id": "key_usage", "critical": True, "extn_value": {"digital_signature"}},
            {"extn_id": "extended_key_usage", "critical": False, "extn_value": ["ocsp_signing"]},
            {"extn_id": "ocsp_no_check", "critical": False, "extn_value": None},
        ]
    else:
        exts += [
            {
                "extn_id": "key_usage",
                "critical": True,
                "extn_value": {"digital_signature", "non_repudiation"},
            },
            {"extn_id": "extended_key_usage", "critical": True, "extn_value": ["time_stamping"]},
        ]
    return exts


def _status_pointers(authority: Authority, purpose: Purpose) -> list[dict[str, object]]:
    """CRL distribution point and AIA (OCSP, caIssuers) of the CA, for a TSA certificate.

    A time-stamp is judged years later through its TSA's revocation status: without these
    pointers no signer can gather it and no verifier can ask (EN 319 102-1, 5.4). An OCSP
    responder's own certificate carries ocsp-nocheck instead.
    """
    if purpose != "tsa":
        return []
    profile = authority.profile

    def uri(url: str) -> asn1_x509.GeneralName:
        return asn1_x509.GeneralName(name="uniform_resource_identifier", value=url)

    return [
        {
            "extn_id": "crl_distribution_points",
            "critical": False,
            "extn_value": [{"distribution_point": {"full_name": [uri(profile.crl_url)]}}],
        },
        {
            "extn_id": "authority_information_access",
            "critical": False,
            "extn_value": [
                {"access_method": "ocsp", "access_location": uri(profile.ocsp_url)},
                {"access_method": "ca_issuers", "access_location": uri(profile.ca_issuers_url)},
            ],
        },
    ]


def service_subject(organization: str, purpose: Purpose, name: str | None = None) -> asn1_x509.Name:
    """``C=TH, O=<agency>, CN=<name or the service's English name>`` (UTF8String)."""
    from thaisign.ca.profiles import check_text

    # X.520 ub-common-name: 64 characters; no control or direction characters
    cn = check_text(name, "the service name (--name-th)", limit=64) or _NAMES[purpose]
    return asn1_x509.Name.build(
        {"country_name": "TH", "organization_name": organization[:64], "common_name": cn},
        use_printable=False,
    )


def _ca_organization(cert: x509.Certificate) -> str:
    for oid in (x509.NameOID.ORGANIZATION_NAME, x509.NameOID.COMMON_NAME):
        attrs = cert.subject.get_attributes_for_oid(oid)
        if attrs:
            return str(attrs[0].value)
    return "thaisign"


def issue_service_certificate(
    authority: Authority,
    purpose: Purpose,
    *,
    key: KeySpec | str = "ec-p256",
    public_key: PublicKey | None = None,
    days: int = 365,
    name: str | None = None,
    now: dt.datetime | None = None,
) -> ServiceCertificate:
    """Issue an OCSP-responder or TSA certificate from ``authority`` and record it in its store.

    A new software key of type ``key`` is made unless ``public_key`` (e.g. of a token key) is given.
    """
    from thaisign.ca.store import NewCertificate

    ca_cert = authority.certificate
    if ca_cert is None:
        raise CertificateError(
            "the CA has no certificate yet", hint="install it with 'thaisign ca install-cert'"
        )
    private_key: PrivateKey | None = None
    if public_key is None:
        private_key = (KeySpec.parse(key) if isinstance(key, str) else key).generate()
        public_key = private_key.public_key()
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    not_after = min(when + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    organization = _ca_organization(ca_cert)
    subject = service_subject(organization, purpose, name)
    cert = build_certificate(
        subject=subject,
        public_key=public_key,
        issuer_signer=authority.signer,
        issuer_cert=ca_cert,
        not_before=when,
        not_after=not_after,
        extensions=service_extensions(purpose) + _status_pointers(authority, purpose),
        hash_algorithm=authority.hash_algorithm,
    )
    record = NewCertificate(
        serial=cert.serial_number,
        name_th=name or _NAMES_TH[purpose],
        name_en=_NAMES[purpose],
        position=_NAMES_TH[purpose],
        email=None,
        employee_id=None,
        subject=cert.subject.rfc4514_string(),
        key_type=str(key_spec_of(public_key)),
        source=f"{purpose}-service",
        not_before=when,
        not_after=not_after,
        der=cert.public_bytes(serialization.Encoding.DER),
    )
    authority.store.add_certificates([record], at=when)
    return ServiceCertificate(cert, private_key, tuple(authority.chain or (ca_cert,)))


def save_service_key(
    service: ServiceCertificate,
    directory: str | os.PathLike[str],
    stem: str,
    *,
    passphrase: str,
    overwrite: bool = False,
) -> tuple[Path, Path, Path]:
    """Write ``stem.pem`` (certificate), ``stem-chain.pem`` and ``stem.key`` (encrypted, 0600)."""
    d = Path(directory)
    cert_path, chain_path, key_path = d / f"{stem}.pem", d / f"{stem}-chain.pem", d / f"{stem}.key"
    if not overwrite:
        for p in (cert_path, key_path):
            if p.exists():
                raise OutputError(
                    f"{p} exists already", hint="move it away first; thaisign never overwrites keys"
                )
    if service.private_key is None:
        raise CertificateError("no private key to save (it lives in a token)")
    if not passphrase:
        raise CertificateError("a passphrase is needed to encrypt the service key")
    check_new_passphrase(passphrase, f"the passphrase for {key_path.name}")
    enc = serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
    pem = serialization.Encoding.PEM
    atomic_write(
        key_path,
        service.private_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, enc),
        mode=0o600,
    )
    atomic_write(cert_path, service.certificate.public_bytes(pem))
    atomic_write(chain_path, b"".join(c.public_bytes(pem) for c in service.chain))
    return cert_path, chain_path, key_path


def load_service_signer(
    directory: str | os.PathLike[str], stem: str, *, passphrase: str | None
) -> SoftwareSigner:
    """The signer saved by :func:`save_service_key`."""
    d = Path(directory)
    cert = load_certificates(read_input(d / f"{stem}.pem", "service certificate"))[0]
    chain: list[x509.Certificate] = []
    if (d / f"{stem}-chain.pem").exists():
        chain = load_certificates(read_input(d / f"{stem}-chain.pem", "service chain"))
    key = load_private_key(read_input(d / f"{stem}.key", "service key"), passphrase)
    return SoftwareSigner(key, cert, chain)
