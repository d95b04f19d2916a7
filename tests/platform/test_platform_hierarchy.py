"""The platform's CAs: the issuing CA, agency CAs under it with their own profiles and CRLs, checked
with openssl (verify, crl) and cryptography, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from platform_helpers import DLA, PAO, SOMCHAI, SOMYING, Deployment, write_pem
from support.tools import require_tool

from thaisign.ca import OfficerProfile
from thaisign.errors import CAExistsError, ProfileError
from thaisign.platform import AgencyProfile, Platform


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("openssl"), *args], capture_output=True, text=True)


def _issuing(d: Deployment) -> x509.Certificate:
    cert = d.platform.issuing(key=False).certificate
    assert cert is not None
    return cert


def _agency_ca(d: Deployment, slug: str) -> x509.Certificate:
    agency = d.platform.db.agency(slug)
    assert agency is not None
    cert = d.platform.authority(d.platform.active_ca(agency).ca_id, key=False).certificate
    assert cert is not None
    return cert


def test_the_issuing_ca_may_have_agency_cas_under_it(deployment: Deployment) -> None:
    root = _issuing(deployment)
    bc = root.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert bc.ca and bc.path_length == 1
    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "จังหวัดนครราชสีมา"
    folder = deployment.directory
    for name in ("platform.toml",):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    keys = list((folder / "keys").iterdir())
    assert keys and all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
    assert b"ENCRYPTED PRIVATE KEY" in keys[0].read_bytes()
    assert (folder / "issuing-ca.pem").read_bytes() == write_pem(
        folder.parent / "root.pem", root
    ).read_bytes()


def test_agency_cas_are_subordinate_and_recorded_by_the_issuing_ca(
    deployment: Deployment, tmp_path: Path
) -> None:
    root = _issuing(deployment)
    for slug, name in (("dla", DLA), ("pao", PAO)):
        ca = _agency_ca(deployment, slug)
        assert ca.issuer == root.subject
        assert ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == name
        bc = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
        assert bc.ca and bc.path_length == 0
        ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
        assert ku.key_cert_sign and ku.crl_sign
        cdp = ca.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert cdp[0].full_name[0].value == "http://127.0.0.1:9/issuing/crl/ca.crl"
        r = _openssl(
            "verify",
            "-x509_strict",
            "-attime",
            str(int(deployment.clock().timestamp())),
            "-CAfile",
            str(write_pem(tmp_path / "root.pem", root)),
            str(write_pem(tmp_path / f"{slug}.pem", ca)),
        )
        assert r.returncode == 0 and ": OK" in r.stdout, r.stdout + r.stderr
    issued = deployment.platform.issuing(key=False).certificates()
    subs = [c for c in issued if c.source == "sub-ca"]
    assert {c.name_th for c in subs} >= {DLA, PAO}


def test_each_agency_issues_by_its_own_profile(deployment: Deployment, tmp_path: Path) -> None:
    dla = deployment.session("dla")
    issued = dla.issue("dla", SOMCHAI, new_key="ec-p256")
    cert = issued.certificate
    dla_ca, root = _agency_ca(deployment, "dla"), _issuing(deployment)
    assert cert.issuer == dla_ca.subject
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    agency = deployment.platform.db.agency("dla")
    assert agency is not None
    assert [p.policy_identifier.dotted_string for p in policies] == [agency.profile.policy_oid]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=730)
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == "http://127.0.0.1:9/a/dla/crl/ca.crl"
    aia = {
        d.access_method: d.access_location.value
        for d in cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    }
    assert aia[x509.AuthorityInformationAccessOID.OCSP] == "http://127.0.0.1:9/ocsp"
    assert aia[x509.AuthorityInformationAccessOID.CA_ISSUERS] == "http://127.0.0.1:9/a/dla/ca.cer"
    r = _openssl(
        "verify",
        "-x509_strict",
        "-attime",
        str(int(deployment.clock().timestamp())),
        "-purpose",
        "any",
        "-CAfile",
        str(write_pem(tmp_path / "root.pem", root)),
        "-untrusted",
        str(write_pem(tmp_path / "dla.pem", dla_ca)),
        str(write_pem(tmp_path / "officer.pem", cert)),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    # another profile: PAO allows RSA only and asks for an e-mail address
    admin = deployment.session("admin")
    admin.set_profile(
        "pao",
        AgencyProfile(
            ca_key="ec-p256",
            policy_oid="2.16.764.1.4.99.1",
            officer_default_days=365,
            allowed_keys=("rsa-3072",),
            required_fields=("name_th", "position", "email"),
        ),
    )
    pao = deployment.session("pao")
    with pytest.raises(ProfileError, match="email"):
        pao.issue("pao", SOMYING, new_key="rsa-3072")
    with_mail = OfficerProfile(
        name_th=SOMYING.name_th, position=SOMYING.position, email="somying@korat.go.th"
    )
    with pytest.raises(ProfileError, match="not allowed"):
        pao.issue("pao", with_mail, new_key="ec-p256")
    rsa = pao.issue("pao", with_mail, new_key="rsa-3072").certificate
    policies = rsa.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == ["2.16.764.1.4.99.1"]
    assert rsa.not_valid_after_utc - rsa.not_valid_before_utc == dt.timedelta(days=365)
    assert (
        ExtendedKeyUsageOID.EMAIL_PROTECTION
        not in rsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )


def test_each_agency_has_its_own_crl(deployment: Deployment, tmp_path: Path) -> None:
    dla = deployment.session("dla")
    victim = dla.issue("dla", SOMCHAI, new_key="ec-p256")
    dla.revoke("dla", victim.serial, "keyCompromise")
    crl_dla = x509.load_der_x509_crl(dla.crl("dla"))
    crl_pao = x509.load_der_x509_crl(deployment.session("pao").crl("pao"))
    assert crl_dla.get_revoked_certificate_by_serial_number(victim.serial) is not None
    assert crl_pao.get_revoked_certificate_by_serial_number(victim.serial) is None
    for slug, crl in (("dla", crl_dla), ("pao", crl_pao)):
        ca = _agency_ca(deployment, slug)
        assert crl.issuer == ca.subject
        path = tmp_path / f"{slug}.crl"
        from cryptography.hazmat.primitives import serialization

        path.write_bytes(crl.public_bytes(serialization.Encoding.DER))
        r = _openssl(
            "crl",
            "-inform",
            "DER",
            "-in",
            str(path),
            "-CAfile",
            str(write_pem(tmp_path / f"{slug}-ca.pem", ca)),
            "-noout",
        )
        assert r.returncode == 0 and "verify OK" in r.stderr + r.stdout, r.stderr


def test_every_store_and_the_platform_chain_check_out(deployment: Deployment) -> None:
    auditor = deployment.session("auditor")
    assert auditor.verify_platform().ok
    assert auditor.verify_issuing().ok
    for slug in ("dla", "pao"):
        assert all(r.ok for r in auditor.verify(slug).values())


def test_names_and_slugs_are_checked(deployment: Deployment) -> None:
    admin = deployment.session("admin")
    with pytest.raises(ProfileError, match="short name"):
        admin.create_agency("../x", "กรมทดสอบ")
    with pytest.raises(ProfileError, match="reserved"):
        admin.create_agency("ocsp", "กรมทดสอบ")
    with pytest.raises(ProfileError, match="U\\+202E"):
        admin.create_agency("evil", "กรม\u202eทดสอบ")
    with pytest.raises(CAExistsError):
        admin.create_agency("dla", "ซ้ำ")


def test_init_refuses_a_folder_or_database_in_use(deployment: Deployment, tmp_path: Path) -> None:
    with pytest.raises(CAExistsError):
        Platform.init(
            deployment.directory,
            name_th="ซ้ำ",
            base_url="http://127.0.0.1:9",
            admin_name="x",
            passphrase="รหัสผ่าน ยาวพอสมควร",
            service_passphrase="รหัสผ่าน ยาวพอสมควร",
        )
    if deployment.db_url is not None:
        with pytest.raises(CAExistsError, match="holds a platform already"):
            Platform.init(
                tmp_path / "other",
                name_th="ซ้ำ",
                base_url="http://127.0.0.1:9",
                db=deployment.db_url,
                admin_name="x",
                passphrase="รหัสผ่าน ยาวพอสมควร",
                service_passphrase="รหัสผ่าน ยาวพอสมควร",
            )
        assert not (tmp_path / "other").exists()
