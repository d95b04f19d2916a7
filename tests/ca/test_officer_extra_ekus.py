"""Extra officer EKUs per agency profile: with email-protection, NSS (pdfsig) trusts the officer's signature.

NSS accepts a signing certificate whose EKU lists emailProtection; the two document-signing EKUs of the
default profile are enough for Adobe Reader but not for poppler-based viewers. Checked end to end here:
a thaisign CA, an officer PKCS#12, a letter signed by thaisign, judged by pdfsig with an NSS database
that trusts only that CA.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ca_helpers import CA_PASSPHRASE, run_cli
from cryptography import x509
from support.tools import require_tool

from thaisign.keys import Signer
from thaisign.pades import make_letter, sign_pdf

EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"


def _ca_and_officer(tmp_path: Path, name: str, *ekus: str) -> tuple[Path, Path]:
    ca = tmp_path / name
    extra = [a for e in ekus for a in ("--officer-eku", e)]
    env = {"THAISIGN_CA_PASSPHRASE": CA_PASSPHRASE, "THAISIGN_PASSPHRASE": "officer-passphrase"}
    r = run_cli(
        "ca", "init", str(ca), "--name-th", "กรมทดสอบ", "--name-en", "Test Dept", "--local", *extra, env=env
    )
    assert r.returncode == 0, r.stderr
    p12 = tmp_path / f"{name}-officer.p12"
    r = run_cli(
        "ca", "issue", str(ca), "--out-p12", str(p12), "--name-th", "นายสมชาย ใจดี",
        "--position", "ผู้อำนวยการกอง", env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return ca, p12


def _pdfsig_trusting(ca: Path, pdf: Path, tmp_path: Path) -> str:
    certutil, pdfsig = require_tool("certutil"), require_tool("pdfsig")
    db = tmp_path / f"nss-{ca.name}"
    db.mkdir()
    subprocess.run([certutil, "-N", "--empty-password", "-d", f"sql:{db}"], check=True, capture_output=True)
    subprocess.run(
        [certutil, "-A", "-n", "agency", "-t", "C,C,C", "-i", str(ca / "ca.pem"), "-d", f"sql:{db}"],
        check=True,
        capture_output=True,
    )
    r = subprocess.run([pdfsig, "-nssdir", f"sql:{db}", "-no-ocsp", str(pdf)], capture_output=True, text=True)
    return r.stdout + r.stderr


def test_email_protection_makes_nss_trust_the_officer(tmp_path: Path) -> None:
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(make_letter())
    verdicts = {}
    for name, ekus in (("with-email", ("email-protection",)), ("default", ())):
        ca, p12 = _ca_and_officer(tmp_path, name, *ekus)
        signer = Signer.from_pkcs12(p12, "officer-passphrase")
        assert signer.certificate is not None
        usages = {u.dotted_string for u in signer.certificate.extensions.get_extension_for_class(
            x509.ExtendedKeyUsage).value}  # fmt: skip
        assert {"1.3.6.1.5.5.7.3.36", "1.3.6.1.4.1.311.10.3.12"} <= usages
        assert (EMAIL_PROTECTION in usages) == bool(ekus)
        assert ("extra_ekus" in (ca / "profile.toml").read_text()) == bool(ekus)
        signed = tmp_path / f"{name}.pdf"
        sign_pdf(letter, signed, signer)
        verdicts[name] = _pdfsig_trusting(ca, signed, tmp_path)
    assert (
        "Signature is Valid" in verdicts["with-email"] and "Certificate is Trusted" in verdicts["with-email"]
    )
    assert "Signature is Valid" in verdicts["default"] and "Certificate is Trusted" not in verdicts["default"]


def test_unknown_extra_eku_is_refused(tmp_path: Path) -> None:
    r = run_cli(
        "ca", "init", str(tmp_path / "ca"), "--name-th", "กรมทดสอบ", "--local",
        "--officer-eku", "code-signing-please",
        env={"THAISIGN_CA_PASSPHRASE": CA_PASSPHRASE},
    )  # fmt: skip
    assert r.returncode != 0 and "unknown extra EKU" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "ca").exists()
