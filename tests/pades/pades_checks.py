"""Independent checkers for the PDF-signing tests: poppler's pdfsig, qpdf, pyHanko's validator,
and the thaisign CLI run as a subprocess."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from support.pki import FIXED_TIME, PASSPHRASE, TestPKI


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run the README test command, which installs it")
    return path


@dataclass
class PdfSig:
    out: str

    @property
    def signatures(self) -> list[str]:
        return re.split(r"\nSignature #\d+:", self.out)[1:]


def pdfsig(path: Path, nssdb: str, *extra: str) -> PdfSig:
    """Run poppler's pdfsig (no network: -no-ocsp)."""
    require_tool("pdfsig")
    r = subprocess.run(
        ["pdfsig", "-nssdir", nssdb, "-no-ocsp", *extra, str(path)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return PdfSig(r.stdout)


def assert_pdfsig_valid(
    path: Path, nssdb: str, *, count: int | None = None, total_last: bool = True
) -> PdfSig:
    result = pdfsig(path, nssdb)
    sigs = result.signatures
    assert sigs, result.out
    if count is not None:
        assert len(sigs) == count, result.out
    for s in sigs:
        assert "Signature Validation: Signature is Valid." in s, result.out
    if total_last:
        assert "Total document signed" in sigs[-1], result.out
    return result


def qpdf_check(path: Path) -> None:
    require_tool("qpdf")
    r = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No syntax or stream encoding errors" in r.stdout, r.stdout


def validation_context(pki: TestPKI, **kw: Any) -> Any:
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import ValidationContext

    root = asn1_x509.Certificate.load(pki.root.cert.public_bytes(serialization.Encoding.DER))
    kw.setdefault("allow_fetching", False)
    kw.setdefault("revocation_mode", "soft-fail")
    return ValidationContext(trust_roots=[root], moment=FIXED_TIME, **kw)


def pyhanko_status(path: Path, pki: TestPKI, index: int = 0, **kw: Any) -> Any:
    """pyHanko's validation status of signature ``index`` at the fixed time, trusting the test root."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature

    reader = PdfFileReader(io.BytesIO(path.read_bytes()))
    sig = reader.embedded_regular_signatures[index]
    return validate_pdf_signature(sig, validation_context(pki, **kw))


def assert_pyhanko_ok(path: Path, pki: TestPKI, index: int = 0, *, coverage: str = "ENTIRE_FILE") -> Any:
    status = pyhanko_status(path, pki, index)
    assert status.intact and status.valid, status.pretty_print_details()
    assert status.trusted, status.pretty_print_details()
    assert status.coverage.name == coverage, status.coverage
    return status


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thaisign", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


CLI_ENV = {"THAISIGN_PASSPHRASE": PASSPHRASE}
