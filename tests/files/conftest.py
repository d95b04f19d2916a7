"""Fixtures for signing and verifying any file: the test PKI's officers as signers, evidence files,
and the independent checkers (openssl cms, pyHanko's generic CMS validation, endesive, unzip)."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from support.pki import FIXED_TIME, PASSPHRASE, TestPKI
from support.tools import require_tool

from thaisign.keys import Signer, SoftwareSigner
from thaisign.verify import TrustStore

#: a moment just after FIXED_TIME: the test services answer at FIXED_TIME, so B-LT data is fresh
AT = FIXED_TIME + dt.timedelta(minutes=5)


@pytest.fixture(scope="session")
def ec_signer(pki: TestPKI) -> SoftwareSigner:
    return Signer.from_pkcs12(pki.officer_ec.p12, PASSPHRASE)


@pytest.fixture(scope="session")
def rsa_signer(pki: TestPKI) -> SoftwareSigner:
    return Signer.from_pem(pki.officer_rsa.key_pem, pki.officer_rsa.cert_pem, pki.chain_pem, PASSPHRASE)


@pytest.fixture(scope="session")
def trust(pki: TestPKI) -> TrustStore:
    """The test root only."""
    return TrustStore.from_paths(pki.root_pem, include_nrca=False)


@pytest.fixture()
def evidence(tmp_path: Path) -> dict[str, Path]:
    """Evidence of several kinds, with Thai names: a PDF, a photo, an audio clip, a spreadsheet."""
    files = {
        "คำสั่งศาล.pdf": b"%PDF-1.7\n% a court order\n" + bytes(range(256)) * 40,
        "ภาพถ่ายที่เกิดเหตุ.jpg": b"\xff\xd8\xff\xe0JFIF" + bytes(reversed(range(256))) * 100,
        "บันทึกเสียง.m4a": b"\x00\x00\x00\x18ftypM4A " + b"\x01\x02" * 5000,
        "บัญชีทรัพย์สิน.xlsx": b"PK\x03\x04 not really a workbook " * 300,
    }
    out = {}
    for name, data in files.items():
        p = tmp_path / name
        p.write_bytes(data)
        out[name] = p
    return out


def openssl_cms_verify(
    pki: TestPKI, signature: Path, content: Path | None = None, at: dt.datetime = AT
) -> subprocess.CompletedProcess[str]:
    """``openssl cms -verify`` with the test root as the only trust anchor, at ``at``.

    ``-purpose any``: the officers' certificates carry the document-signing EKU, not S/MIME's
    emailProtection, which openssl's default purpose (smimesign) would demand.
    """
    args = [require_tool("openssl"), "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature)]
    args += ["-CAfile", str(pki.root_pem), "-purpose", "any", "-attime", str(int(at.timestamp()))]
    args += ["-out", "/dev/null"]
    if content is not None:
        args += ["-content", str(content)]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)
