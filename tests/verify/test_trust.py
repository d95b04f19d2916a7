"""TrustStore: files and folders, per-user config, pinned Thai NRCA roots, refusing impostors."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support.pki import TestPKI

from thaisign.errors import TrustError
from thaisign.verify.trust import PINNED_NRCA, TrustStore

G3 = "Thailand National Root Certification Authority - G3"
G1 = "Thailand National Root Certification Authority - G1"


def _self_signed(cn: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2031, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_bundled_nrca_g3_matches_its_pin_and_openssl(tmp_path: Path) -> None:
    store = TrustStore.bundled()
    (anchor,) = store.anchors
    assert anchor.sha256 == PINNED_NRCA[G3]
    assert G3 in anchor.subject
    # independent check of the fingerprint with openssl
    pem = tmp_path / "g3.pem"
    pem.write_bytes(anchor.certificate.dump())
    out = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-in", str(pem), "-noout", "-fingerprint", "-sha256"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split("=", 1)[1].strip().replace(":", "") == PINNED_NRCA[G3]


@pytest.mark.parametrize("cn", [G3, G1])
def test_certificate_claiming_an_nrca_name_with_another_key_is_refused(tmp_path: Path, cn: str) -> None:
    fake = tmp_path / "THNRCA.pem"
    fake.write_bytes(_self_signed(cn))
    with pytest.raises(TrustError, match="pinned"):
        TrustStore.from_paths([fake])


def test_files_folders_pem_and_der(tmp_path: Path, pki: TestPKI) -> None:
    folder = tmp_path / "anchors"
    (folder / "sub").mkdir(parents=True)
    (folder / "root.pem").write_bytes(pki.root_pem.read_bytes())
    der = pki.ca.cert.public_bytes(serialization.Encoding.DER)
    (folder / "sub" / "agency.der").write_bytes(der)
    (folder / "notes.txt").write_text("ignored")
    store = TrustStore.from_paths([folder], include_nrca=False)
    assert len(store) == 2
    assert store.find(hashlib.sha256(der).hexdigest()) is not None
    assert len(TrustStore.from_paths([folder])) == 3  # + NRCA G3


def test_user_config_and_env(tmp_path: Path, pki: TestPKI, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    (config / "thaisign" / "trust").mkdir(parents=True)
    (config / "thaisign" / "trust" / "agency-root.pem").write_bytes(pki.root_pem.read_bytes())
    other = tmp_path / "other.pem"
    other.write_bytes(_self_signed("กรมตัวอย่าง Root CA"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("THAISIGN_TRUST", str(other))
    store = TrustStore.default()
    subjects = " | ".join(a.subject for a in store)
    assert "Thaisign Test Root CA" in subjects and "กรมตัวอย่าง Root CA" in subjects and G3 in subjects
    assert len(store) == 3


def test_missing_or_unreadable_anchor_is_a_trust_error(tmp_path: Path) -> None:
    with pytest.raises(TrustError, match="not found"):
        TrustStore.from_paths([tmp_path / "nope.pem"])
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(TrustError):
        TrustStore.from_paths([bad])


def test_os_store_is_never_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("THAISIGN_TRUST", raising=False)
    store = TrustStore.default()
    assert [a.sha256 for a in store] == [PINNED_NRCA[G3]]
