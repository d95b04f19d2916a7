"""Fixtures and independent checkers for the PDF-signing tests: letters, an NSS database that
trusts only the test root (for poppler's pdfsig), qpdf, openssl and pyHanko's validator."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from support.pki import PASSPHRASE, TestPKI

from thaisign.keys import Signer, SoftwareSigner
from thaisign.pades.letter import make_letter


@pytest.fixture(scope="session")
def letter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-page Thai letter with a ลงชื่อ line."""
    path = tmp_path_factory.mktemp("letters") / "letter.pdf"
    path.write_bytes(make_letter(1))
    return path


@pytest.fixture(scope="session")
def letter3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("letters3") / "letter3.pdf"
    path.write_bytes(make_letter(3))
    return path


@pytest.fixture(scope="session")
def ec_signer(pki: TestPKI) -> SoftwareSigner:
    return Signer.from_pkcs12(pki.officer_ec.p12, PASSPHRASE)


@pytest.fixture(scope="session")
def rsa_signer(pki: TestPKI) -> SoftwareSigner:
    return Signer.from_pem(pki.officer_rsa.key_pem, pki.officer_rsa.cert_pem, pki.chain_pem, PASSPHRASE)


@pytest.fixture(scope="session")
def nssdb(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An NSS database trusting only the test root, for ``pdfsig -nssdir``."""
    assert shutil.which("certutil"), "certutil (libnss3-tools) is needed"
    d = tmp_path_factory.mktemp("nss")
    subprocess.run(["certutil", "-N", "--empty-password", "-d", f"sql:{d}"], check=True, capture_output=True)
    subprocess.run(
        ["certutil", "-A", "-n", "root", "-t", "C,C,C", "-i", str(pki.root_pem), "-d", f"sql:{d}"],
        check=True,
        capture_output=True,
    )
    return f"sql:{d}"
