"""A small test PKI built at test time with cryptography (independent of thaisign.ca).

Root (P-384) -> agency CA (P-256) -> officers (P-256 and RSA-2048), a TSA certificate and an
OCSP-signing certificate. Validity is fixed around :data:`FIXED_TIME` (2026-11-21), wide
enough that tools checking against the wall clock (pdfsig, openssl) accept it until 2046, also
when CI moves the clock years ahead (scripts/test.sh).
Certificates point their CRL DP / OCSP / caIssuers at ``base_url`` so tests can serve them
on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

FIXED_TIME = dt.datetime(2026, 11, 21, 3, 42, tzinfo=dt.UTC)
NOT_BEFORE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2046, 1, 1, tzinfo=dt.UTC)
PASSPHRASE = "ทดสอบ-test-passphrase"
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
MS_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class Issued:
    """A certificate with its key and the files it was written to."""

    name: str
    key: PrivateKey
    cert: x509.Certificate
    cert_pem: Path
    key_pem: Path  # encrypted with PASSPHRASE
    p12: Path  # encrypted with PASSPHRASE, carries the chain


@dataclass
class TestPKI:
    __test__ = False  # not a test class, despite the name

    dir: Path
    base_url: str
    root: Issued
    ca: Issued
    officer_ec: Issued
    officer_rsa: Issued
    tsa: Issued
    ocsp: Issued
    chain_pem: Path  # agency CA + root
    root_pem: Path
    extra: dict[str, Issued] = field(default_factory=dict)

    def issue_officer(self, name: str, **kw: object) -> Issued:
        """Another officer certificate from the agency CA (same options as the built-in ones)."""
        issued = _officer(self, name, **kw)  # type: ignore[arg-type]
        self.extra[name] = issued
        return issued


def _name(cn: str, org: str = "กรมทดสอบระบบ", title: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
    ]
    if title:
        attrs.append(x509.NameAttribute(NameOID.TITLE, title))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _write(
    dir: Path, name: str, key: PrivateKey, cert: x509.Certificate, chain: list[x509.Certificate]
) -> Issued:
    cert_pem = dir / f"{name}.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem = dir / f"{name}.key"
    enc = serialization.BestAvailableEncryption(PASSPHRASE.encode())
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc))
    p12 = dir / f"{name}.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(name.encode(), key, cert, chain, enc))
    return Issued(name, key, cert, cert_pem, key_pem, p12)


def _cert(
    subject: x509.Name,
    public_key: object,
    issuer: x509.Name,
    issuer_key: PrivateKey,
    *,
    ca: bool,
    path_len: int | None = None,
    base_url: str | None = None,
    eku: list[ObjectIdentifier] | None = None,
    eku_critical: bool = False,
    key_usage: dict[str, bool] | None = None,
    not_before: dt.datetime = NOT_BEFORE,
    not_after: dt.datetime = NOT_AFTER,
    extra: list[tuple[x509.ExtensionType, bool]] | None = None,
) -> x509.Certificate:
    ku = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    if ca:
        ku.update(key_cert_sign=True, crl_sign=True, digital_signature=True)
    else:
        ku.update(digital_signature=True, content_commitment=True)
    if key_usage:
        ku.update(key_usage)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
        .add_extension(x509.KeyUsage(**ku), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)  # type: ignore[arg-type]
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=eku_critical)
    if base_url:
        b = b.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(f"{base_url}/crl/{_slug(issuer)}.crl")],
                        None,
                        None,
                        None,
                    )
                ]
            ),
            critical=False,
        ).add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(f"{base_url}/ocsp"),
                    ),
                    x509.AccessDescription(
                        x509.AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(f"{base_url}/certs/{_slug(issuer)}.cer"),
                    ),
                ]
            ),
            critical=False,
        )
    for ext, crit in extra or []:
        b = b.add_extension(ext, critical=crit)
    algo = (
        hashes.SHA384()
        if isinstance(issuer_key, ec.EllipticCurvePrivateKey) and issuer_key.curve.key_size == 384
        else hashes.SHA256()
    )
    return b.sign(issuer_key, algo)


def _slug(name: x509.Name) -> str:
    cn = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    text = str(cn[0].value) if cn else "ca"
    return "root" if "Root" in text else "agency"


def _officer(
    pki: TestPKI,
    name: str,
    *,
    cn: str = "นายสมชาย ใจดี",
    title: str = "ผู้อำนวยการกอง",
    rsa_key: bool = False,
    not_before: dt.datetime = NOT_BEFORE,
    not_after: dt.datetime = NOT_AFTER,
    key_usage: dict[str, bool] | None = None,
) -> Issued:
    key: PrivateKey = (
        rsa.generate_private_key(65537, 2048) if rsa_key else ec.generate_private_key(ec.SECP256R1())
    )
    cert = _cert(
        _name(cn, title=title),
        key.public_key(),
        pki.ca.cert.subject,
        pki.ca.key,
        ca=False,
        base_url=pki.base_url,
        eku=[DOCUMENT_SIGNING, MS_DOCUMENT_SIGNING],
        key_usage=key_usage,
        not_before=not_before,
        not_after=not_after,
    )
    return _write(pki.dir, name, key, cert, [pki.ca.cert, pki.root.cert])


def build_test_pki(dir: Path, base_url: str) -> TestPKI:
    """Build the whole test PKI into ``dir`` (certificates, encrypted keys, PKCS#12 files)."""
    dir.mkdir(parents=True, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP384R1())
    root_name = _name("Thaisign Test Root CA", org="สำนักงานทดสอบ")
    root_cert = _cert(root_name, root_key.public_key(), root_name, root_key, ca=True)
    root = _write(dir, "root", root_key, root_cert, [])
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _cert(
        _name("กรมทดสอบระบบ CA"),
        ca_key.public_key(),
        root_name,
        root_key,
        ca=True,
        path_len=0,
        base_url=base_url,
    )
    ca = _write(dir, "agency-ca", ca_key, ca_cert, [root_cert])
    chain_pem = dir / "chain.pem"
    chain_pem.write_bytes(
        ca_cert.public_bytes(serialization.Encoding.PEM) + root_cert.public_bytes(serialization.Encoding.PEM)
    )
    pki = TestPKI(dir, base_url, root, ca, ca, ca, ca, ca, chain_pem, root.cert_pem)  # placeholders below
    pki.officer_ec = _officer(pki, "officer-ec")
    pki.officer_rsa = _officer(
        pki, "officer-rsa", cn="นางสาวสมหญิง รักไทย", title="นักจัดการงานทั่วไป", rsa_key=True
    )
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa_cert = _cert(
        _name("กรมทดสอบระบบ TSA"),
        tsa_key.public_key(),
        ca_cert.subject,
        ca_key,
        ca=False,
        base_url=base_url,
        eku=[ExtendedKeyUsageOID.TIME_STAMPING],
        eku_critical=True,
        key_usage={"content_commitment": False},
    )
    pki.tsa = _write(dir, "tsa", tsa_key, tsa_cert, [ca_cert, root_cert])
    ocsp_key = ec.generate_private_key(ec.SECP256R1())
    ocsp_cert = _cert(
        _name("กรมทดสอบระบบ OCSP"),
        ocsp_key.public_key(),
        ca_cert.subject,
        ca_key,
        ca=False,
        eku=[ExtendedKeyUsageOID.OCSP_SIGNING],
        key_usage={"content_commitment": False},
        extra=[(x509.OCSPNoCheck(), False)],
    )
    pki.ocsp = _write(dir, "ocsp", ocsp_key, ocsp_cert, [ca_cert, root_cert])
    return pki
