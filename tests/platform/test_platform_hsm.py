"""CA keys in SoftHSM2: one HSM token with a key per agency (labels), and a token of an agency's own
with its own PIN (pin-source); the issuing CA's key in the HSM too. pkcs11-tool shows the keys
are there and never extractable; openssl checks what they signed; a key rollover stays in the HSM."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from platform_helpers import SERVICE_PASSPHRASE, SOMCHAI, SOMYING, write_pem
from support.servers import SoftHSM
from support.tools import require_tool

from thaisign.platform import AgencyProfile, ApiToken, Platform

pytestmark = [pytest.mark.softhsm, pytest.mark.slow]

SHARED_PIN = "112233"
PAO_PIN = "445566"
NOW = dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)


def _objects(hsm: SoftHSM, token: str, pin: str) -> str:
    r = subprocess.run(
        [
            require_tool("pkcs11-tool"),
            "--module",
            hsm.module,
            "--token-label",
            token,
            "--login",
            "--pin",
            pin,
            "--list-objects",
        ],
        capture_output=True,
        text=True,
        env={"SOFTHSM2_CONF": str(hsm.conf), "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_agency_keys_in_one_hsm_and_in_an_agency_token(softhsm2: SoftHSM, tmp_path: Path) -> None:
    softhsm2.init_token("platform-hsm", pin=SHARED_PIN)
    softhsm2.init_token("pao-ca", pin=PAO_PIN)
    pin_file = tmp_path / "pao.pin"
    pin_file.write_text(PAO_PIN + "\n")
    pin_file.chmod(0o600)
    platform, admin_token = Platform.init(
        tmp_path / "pki",
        name_th="จังหวัดนครราชสีมา",
        base_url="http://127.0.0.1:9",
        admin_name="นางสุดา ผู้ดูแลระบบ",
        service_passphrase=SERVICE_PASSPHRASE,
        hsm="pkcs11:token=platform-hsm",
        pin=SHARED_PIN,
        pkcs11_module=softhsm2.module,
        now=NOW,
    )
    assert admin_token is not None
    assert not (tmp_path / "pki" / "keys").exists() or not any((tmp_path / "pki" / "keys").iterdir())
    platform.clock = lambda: NOW + dt.timedelta(hours=1)
    admin = platform.session(ApiToken(admin_token))
    admin.create_agency(
        "dla",
        "กรมส่งเสริมการปกครองท้องถิ่น",
        profile=AgencyProfile(ca_key="ec-p384"),
        hsm="pkcs11:token=platform-hsm",
    )
    admin.create_agency(
        "pao",
        "องค์การบริหารส่วนจังหวัดนครราชสีมา",
        profile=AgencyProfile(ca_key="ec-p256"),
        hsm=f"pkcs11:token=pao-ca?pin-source=file:{pin_file}",
    )
    tokens = {}
    for slug in ("dla", "pao"):
        op = admin.appoint(f"เจ้าหน้าที่ {slug}", "operator", agency=slug)
        tokens[slug] = admin.create_token(op.id)
    platform.close()

    # a new process: the platform-wide PIN for the shared HSM; PAO's token brings its own
    platform = Platform.open(
        tmp_path / "pki",
        pin=SHARED_PIN,
        pkcs11_module=softhsm2.module,
        clock=lambda: NOW + dt.timedelta(hours=2),
    )
    dla = platform.session(ApiToken(tokens["dla"]))
    pao = platform.session(ApiToken(tokens["pao"]))
    a = dla.issue("dla", SOMCHAI, new_key="ec-p256")
    b = pao.issue("pao", SOMYING, new_key="ec-p256")
    pao.revoke("pao", b.serial, "keyCompromise")
    shared = _objects(softhsm2, "platform-hsm", SHARED_PIN)
    assert "issuing-1" in shared and "dla-g1-" in shared and "pao-g1-" not in shared
    assert "pao-g1-" in _objects(softhsm2, "pao-ca", PAO_PIN)
    for listing in (shared, _objects(softhsm2, "pao-ca", PAO_PIN)):
        for block in listing.split("Private Key Object")[1:]:
            assert "never extractable" in block and "sensitive" in block, block
    root = x509.load_pem_x509_certificate((tmp_path / "pki" / "issuing-ca.pem").read_bytes())
    for slug, issued in (("dla", a), ("pao", b)):
        agency = platform.db.agency(slug)
        assert agency is not None
        ca = platform.authority(platform.active_ca(agency).ca_id, key=False).certificate
        assert ca is not None
        out = subprocess.run(
            [
                require_tool("openssl"), "verify", "-attime", str(int(platform.clock().timestamp())),
                "-CAfile", str(write_pem(tmp_path / "root.pem", root)),
                "-untrusted", str(write_pem(tmp_path / f"{slug}.pem", ca)),
                str(write_pem(tmp_path / f"{slug}-officer.pem", issued.certificate)),
            ],
            capture_output=True,
            text=True,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr
    crl = x509.load_der_x509_crl(pao.crl("pao"))
    pao_ca = platform.authority(platform.active_ca(platform.db.agency("pao")).ca_id, key=False).certificate  # type: ignore[arg-type]
    assert crl.is_signature_valid(pao_ca.public_key())  # type: ignore[union-attr, arg-type]
    assert crl.get_revoked_certificate_by_serial_number(b.serial) is not None
    # a rollover makes the new key in the same token
    admin = platform.session(ApiToken(admin_token))
    new = admin.rollover("dla", hsm="pkcs11:token=platform-hsm")
    assert new.key_ref.startswith("pkcs11:") and "dla-g2-" in _objects(softhsm2, "platform-hsm", SHARED_PIN)
    assert dla.issue("dla", SOMYING, new_key="ec-p256").certificate.issuer == a.certificate.issuer
    assert all(r.ok for r in dla.verify("dla").values())
    platform.close()
