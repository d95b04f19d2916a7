"""Any file signed with a key that never leaves a PKCS#11 token (SoftHSM2): CAdES and ASiC-E through
the same Signer as PDF letters, from the library and from ``thaisign sign-file --key-uri``;
checked by ``openssl cms -verify`` and by thaisign."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hsm_helpers import HsmSetup, issue_for
from support.pki import FIXED_TIME, Issued, TestPKI
from support.tools import require_tool

from thaisign.files import sign_asic, sign_file
from thaisign.hsm import Pkcs11Signer, generate_key, import_certificate
from thaisign.verify import TrustStore
from thaisign.verify.asic import verify_asic
from thaisign.verify.cades import verify_cades
from thaisign.verify.report import Verdict

AT = FIXED_TIME + dt.timedelta(minutes=5)


@pytest.fixture(scope="module")
def token_uri(hsm_setup: HsmSetup, pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> str:
    made = generate_key(hsm_setup.uri("somchai-files"), "ec-p256", pin=hsm_setup.pin, module=hsm_setup.module)
    cert = issue_for(pki, made.public_key)
    import_certificate(
        str(made.uri), cert, [pki.ca.cert, pki.root.cert], pin=hsm_setup.pin, module=hsm_setup.module
    )
    pem = tmp_path_factory.mktemp("files-token") / "cert.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.extra["somchai-files"] = Issued("somchai-files", pki.ca.key, cert, pem, pem, pem)  # OCSP knows it
    return str(made.uri)


def _openssl_ok(pki: TestPKI, signature: Path, content: Path) -> None:
    proc = subprocess.run(
        [require_tool("openssl"), "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature),
         "-content", str(content), "-CAfile", str(pki.root_pem), "-purpose", "any",
         "-attime", str(int(AT.timestamp())), "-out", "/dev/null"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_cades_and_asic_with_a_token_key(
    hsm_setup: HsmSetup, token_uri: str, pki: TestPKI, pki_services: object, tmp_path: Path
) -> None:
    evidence = tmp_path / "ภาพถ่าย.jpg"
    evidence.write_bytes(b"\xff\xd8 photo " * 1000)
    trust = TrustStore.from_paths(pki.root_pem, include_nrca=False)
    tsa = pki_services.tsa_url  # type: ignore[attr-defined]
    with Pkcs11Signer.open(token_uri, pin=hsm_setup.pin, module=hsm_setup.module) as signer:
        sign_file(evidence, tmp_path / "p.p7s", signer, level="B-LT", tsa=tsa, signing_time=FIXED_TIME)
        sign_asic([evidence], tmp_path / "p.asice", signer, level="B-T", tsa=tsa, signing_time=FIXED_TIME)
    _openssl_ok(pki, tmp_path / "p.p7s", evidence)
    report = verify_cades(tmp_path / "p.p7s", trust, data=evidence, at=AT, revocation="offline")
    assert report.verdict is Verdict.TOTAL_PASSED and report.signatures[0].level == "B-LT"
    assert (
        verify_asic(tmp_path / "p.asice", trust, at=AT, revocation="online").verdict is Verdict.TOTAL_PASSED
    )


def test_sign_file_command_with_key_uri(
    hsm_setup: HsmSetup, token_uri: str, pki: TestPKI, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("หลักฐาน ก")
    b.write_text("หลักฐาน ข")
    out = tmp_path / "ab.asice"
    proc = hsm_setup.cli(
        "sign-file", str(a), str(b), "--asic", str(out), "--key-uri", token_uri,
        "--signing-time", FIXED_TIME.isoformat(), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["files"][0]["covers"] == ["a.txt", "b.txt"]
    with zipfile.ZipFile(out) as z:
        (tmp_path / "m.xml").write_bytes(z.read("META-INF/ASiCManifest001.xml"))
        (tmp_path / "s.p7s").write_bytes(z.read("META-INF/signature001.p7s"))
    _openssl_ok(pki, tmp_path / "s.p7s", tmp_path / "m.xml")
    assert "246810" not in proc.stdout + proc.stderr  # the PIN never shows
