"""Officer certificates: the DESIGN.md profile, checked with OpenSSL and at the ASN.1 level."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from ca_helpers import (  # noqa: F401 - fixtures are used by name
    CA_PASSPHRASE,
    SOMCHAI,
    authority_fixture,
    db_kind_fixture,
    make_csr,
    new_db_url_fixture,
    openssl_attime,
    require_tool,
)
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from cryptography.x509.oid import ExtensionOID, ObjectIdentifier

from thaisign import errors
from thaisign.ca import Authority, CaProfile, OfficerProfile
from thaisign.ca import authority as authority_module


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_officer_profile_and_openssl_verify(
    authority: Authority, tmp_path: Path, fixed_time: dt.datetime
) -> None:
    csr, key = make_csr()
    issued = authority.issue_officer(SOMCHAI, csr=csr, now=fixed_time)
    cert = issued.certificate
    assert cert.public_key() == key.public_key()
    # serial: at least 64 random bits, positive
    assert cert.serial_number.bit_length() >= 64
    # validity: default 2 years, <= 3 years, within the CA
    assert cert.not_valid_before_utc == fixed_time.replace(microsecond=0)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= dt.timedelta(days=3 * 365 + 1)
    assert authority.certificate is not None
    assert cert.not_valid_after_utc <= authority.certificate.not_valid_after_utc

    ext = cert.extensions
    ku = ext.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    assert not ku.value.key_cert_sign and not ku.value.key_encipherment
    bc = ext.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS)
    assert bc.critical and bc.value.ca is False
    eku = ext.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE)
    assert not eku.critical
    assert list(eku.value) == [
        ObjectIdentifier("1.3.6.1.5.5.7.3.36"),
        ObjectIdentifier("1.3.6.1.4.1.311.10.3.12"),
    ]
    policies = ext.get_extension_for_oid(ExtensionOID.CERTIFICATE_POLICIES).value
    assert [p.policy_identifier.dotted_string for p in policies] == ["2.16.764.1.2.3.4"]
    dps = ext.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS).value
    assert [n.value for n in dps[0].full_name] == ["http://127.0.0.1:8765/crl/ca.crl"]
    aia = {
        (d.access_method.dotted_string, d.access_location.value)
        for d in ext.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS).value
    }
    assert aia == {
        ("1.3.6.1.5.5.7.48.1", "http://127.0.0.1:8765/ocsp"),
        ("1.3.6.1.5.5.7.48.2", "http://127.0.0.1:8765/ca.cer"),
    }
    ski = ext.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    aki = ext.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value
    assert (
        aki.key_identifier
        == x509.SubjectKeyIdentifier.from_public_key(authority.certificate.public_key()).digest
    )  # type: ignore[arg-type]
    san = ext.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert san.get_values_for_type(x509.RFC822Name) == ["somchai@dla.go.th"]
    assert cert.signature_hash_algorithm is not None and cert.signature_hash_algorithm.name == "sha384"

    # independent checks: OpenSSL verifies the chain and prints the profile
    openssl = require_tool("openssl")
    leaf = _write(tmp_path / "leaf.pem", issued.pem())
    r = subprocess.run(
        [
            openssl,
            "verify",
            "-attime",
            openssl_attime(fixed_time),
            "-CAfile",
            str(authority.directory / "ca.pem"),
            "-purpose",
            "any",
            str(leaf),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout + r.stderr
    text = subprocess.run(
        [openssl, "x509", "-in", str(leaf), "-noout", "-text"], capture_output=True, text=True, check=True
    ).stdout
    assert "Digital Signature, Non Repudiation" in text
    assert "CA:FALSE" in text
    assert "1.3.6.1.5.5.7.3.36" in text and "1.3.6.1.4.1.311.10.3.12" in text
    assert "URI:http://127.0.0.1:8765/crl/ca.crl" in text and "OCSP - URI:http://127.0.0.1:8765/ocsp" in text


def test_thai_names_are_utf8string(authority: Authority, fixed_time: dt.datetime) -> None:
    csr, _ = make_csr()
    issued = authority.issue_officer(SOMCHAI, csr=csr, now=fixed_time)
    cert = asn1_x509.Certificate.load(issued.der)
    subject = cert.subject.chosen
    found = {}
    for rdn in subject:
        for atv in rdn:
            value = atv["value"]
            kind = value.name if hasattr(value, "name") else type(value).__name__
            found[atv["type"].native] = (kind, value.native)
    assert found["common_name"] == ("utf8_string", "นายสมชาย ใจดี")
    assert found["given_name"] == ("utf8_string", "สมชาย")
    assert found["surname"] == ("utf8_string", "ใจดี")
    assert found["title"] == ("utf8_string", "ผู้อำนวยการกอง")
    assert found["organization_name"] == ("utf8_string", "กรมส่งเสริมการปกครองท้องถิ่น")
    assert found["organizational_unit_name"] == ("utf8_string", "กองกลาง")
    assert found["country_name"] == ("printable_string", "TH")
    assert found["serial_number"] == ("printable_string", "E0042")
    assert found["organization_identifier"][1] == "NTRTH-0994000000000"
    assert found["email_address"] == ("EmailAddress", "somchai@dla.go.th")  # IA5String
    # the issuer (the CA's own name) is UTF8String too
    issuer = {atv["type"].native: atv["value"].name for rdn in cert.issuer.chosen for atv in rdn}
    assert issuer["organization_name"] == "utf8_string"


def test_csr_asking_for_ca_gets_an_officer_certificate(authority: Authority, fixed_time: dt.datetime) -> None:
    csr, _ = make_csr(ask_ca=True)
    cert = authority.issue_officer(SOMCHAI, csr=csr, now=fixed_time).certificate
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert not ku.key_cert_sign and not ku.crl_sign
    assert "Evil CA" not in cert.subject.rfc4514_string()


def test_csr_with_bad_signature_is_refused_without_store_change(
    authority: Authority, fixed_time: dt.datetime
) -> None:
    csr, _ = make_csr()
    der = bytearray(x509.load_pem_x509_csr(csr).public_bytes(Encoding.DER))
    der[-5] ^= 0x01  # flip a bit in the signature
    before = len(authority.certificates())
    with pytest.raises(errors.CsrError, match="signature does not verify"):
        authority.issue_officer(SOMCHAI, csr=bytes(der), now=fixed_time)
    with pytest.raises(errors.CsrError):
        authority.issue_officer(SOMCHAI, csr=b"not a csr", now=fixed_time)
    assert len(authority.certificates()) == before


def test_citizen_id_refused_and_profile_limits(authority: Authority, fixed_time: dt.datetime) -> None:
    csr, _ = make_csr()
    before = len(authority.certificates())
    # a 13-digit number with a valid Thai ID check digit (computed here the published way)
    first12 = "110170023070"
    check = (11 - sum(int(d) * w for d, w in zip(first12, range(13, 1, -1), strict=True)) % 11) % 10
    citizen_id = first12 + str(check)
    wrong_check = first12 + str((check + 1) % 10)
    with pytest.raises(errors.ProfileError, match="citizen ID"):
        authority.issue_officer(
            OfficerProfile(name_th="นายสมชาย ใจดี", position="ผู้อำนวยการกอง", employee_id=citizen_id),
            csr=csr,
            now=fixed_time,
        )
    with pytest.raises(errors.ProfileError, match="3 years"):
        authority.issue_officer(
            OfficerProfile(name_th="นายสมชาย ใจดี", position="ผู้อำนวยการกอง", days=4 * 365),
            csr=csr,
            now=fixed_time,
        )
    with pytest.raises(errors.ProfileError, match="position"):
        authority.issue_officer(OfficerProfile(name_th="นายสมชาย ใจดี", position=" "), csr=csr, now=fixed_time)
    assert len(authority.certificates()) == before
    # 13 digits with a wrong check digit is not a citizen ID: accepted
    ok = authority.issue_officer(
        OfficerProfile(name_th="นายสมชาย ใจดี", position="ผู้อำนวยการกอง", employee_id=wrong_check),
        csr=csr,
        now=fixed_time,
    )
    assert ok.certificate.serial_number == ok.serial


def test_new_key_pkcs12_and_rsa_ca(tmp_path: Path, fixed_time: dt.datetime) -> None:
    ca = Authority.init(
        tmp_path / "rsa-ca",
        CaProfile(name_th="เทศบาลนครตัวอย่าง", key="rsa-3072"),
        passphrase=CA_PASSPHRASE,
        now=fixed_time,
    )
    with ca:
        issued = ca.issue_officer(SOMCHAI, new_key="rsa-2048", now=fixed_time)
        p12 = issued.pkcs12("รหัสผ่าน-p12-ทดสอบ", ca.chain)
        key, cert, extra = pkcs12.load_key_and_certificates(p12, "รหัสผ่าน-p12-ทดสอบ".encode())
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
        assert cert is not None and cert.serial_number == issued.serial and extra == [ca.certificate]
        assert cert.signature_hash_algorithm is not None and cert.signature_hash_algorithm.name == "sha256"
        leaf = _write(tmp_path / "leaf.pem", issued.pem())
        r = subprocess.run(
            [
                require_tool("openssl"),
                "verify",
                "-attime",
                openssl_attime(fixed_time),
                "-CAfile",
                str(ca.directory / "ca.pem"),
                str(leaf),
            ],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr
        with pytest.raises(errors.ProfileError, match="not allowed"):
            ca.issue_officer(SOMCHAI, new_key="ec-p521", now=fixed_time)


def test_serial_collision_is_redrawn(
    authority: Authority, fixed_time: dt.datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = authority.issue_officer(SOMCHAI, csr=make_csr()[0], now=fixed_time)
    draws = iter([first.serial, first.serial])
    real = authority_module.new_serial
    monkeypatch.setattr(authority_module, "new_serial", lambda: next(draws, None) or real())
    second = authority.issue_officer(SOMCHAI, csr=make_csr()[0], now=fixed_time)
    assert second.serial != first.serial
    assert second.certificate.serial_number == second.serial
    assert authority.get(second.serial).der == second.der
    authority.verify_audit()


def test_pyhanko_validator_accepts_officer_for_signing(authority: Authority, fixed_time: dt.datetime) -> None:
    """pyHanko's certificate validator builds the path and accepts the key usage for signatures."""
    from asn1crypto import x509 as ax
    from pyhanko_certvalidator import CertificateValidator, ValidationContext

    issued = authority.issue_officer(SOMCHAI, csr=make_csr()[0], now=fixed_time)
    assert authority.certificate is not None
    root = ax.Certificate.load(authority.certificate.public_bytes(Encoding.DER))
    ctx = ValidationContext(
        trust_roots=[root],
        moment=fixed_time + dt.timedelta(hours=1),
        revocation_mode="soft-fail",
        allow_fetching=False,
    )
    validator = CertificateValidator(ax.Certificate.load(issued.der), validation_context=ctx)
    import asyncio

    path = asyncio.run(
        validator.async_validate_usage({"digital_signature", "non_repudiation"}, {"1.3.6.1.5.5.7.3.36"})
    )
    assert path.pkix_len == 1  # the officer below the trusted agency root
    assert path.leaf.dump() == issued.der


def test_ca_certificate_profile(authority: Authority, tmp_path: Path) -> None:
    ca = authority.certificate
    assert ca is not None and ca.subject == ca.issuer
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = ca.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert (
        aki.key_identifier == ski.digest == x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest
    )  # type: ignore[arg-type]
    assert ca.signature_hash_algorithm is not None and ca.signature_hash_algorithm.name == "sha384"
    r = subprocess.run(
        [
            require_tool("openssl"),
            "verify",
            "-attime",
            openssl_attime(ca.not_valid_before_utc + dt.timedelta(days=1)),
            "-CAfile",
            str(authority.directory / "ca.pem"),
            str(authority.directory / "ca.pem"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    # the CA key is encrypted at rest, readable by the owner only
    key_file = authority.directory / "ca-key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in key_file.read_bytes()


def test_unsupported_csr_keys_are_refused(authority: Authority, fixed_time: dt.datetime) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    before = len(authority.certificates())
    with pytest.raises(errors.ProfileError, match="Ed25519"):
        csr, _ = make_csr(ed25519.Ed25519PrivateKey.generate())  # type: ignore[arg-type]
        authority.issue_officer(SOMCHAI, csr=csr, now=fixed_time)
    with pytest.raises(errors.ProfileError, match="not allowed"):
        authority.issue_officer(
            SOMCHAI, csr=make_csr(ec.generate_private_key(ec.SECP521R1()))[0], now=fixed_time
        )
    with pytest.raises(errors.ProfileError, match="not allowed"):
        authority.issue_officer(
            SOMCHAI, csr=make_csr(rsa.generate_private_key(65537, 1024))[0], now=fixed_time
        )
    assert len(authority.certificates()) == before
