"""thaisign's intact/coverage facts agree with poppler's pdfsig (an independent implementation)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from support.pdfs import minimal_pdf
from support.pki import TestPKI
from verify_pdfs import PdfFactory

from thaisign.verify import TrustStore, verify_pdf
from thaisign.verify.report import Coverage


def _pdfsig(path: Path) -> str:
    tool = shutil.which("pdfsig")
    if tool is None:
        pytest.fail("pdfsig is not installed: apt-get install poppler-utils")
    return subprocess.run([tool, "-nocert", str(path)], capture_output=True, text=True, timeout=60).stdout


@pytest.fixture(scope="module")
def letters(pdfs: PdfFactory, pki: TestPKI) -> dict[str, bytes]:
    good = pdfs.sign(minimal_pdf())
    i = good.index(b"Hello, thaisign")
    return {
        "good": good,
        "rsa-adbe": pdfs.sign(minimal_pdf(), pki.officer_rsa, subfilter="adbe"),
        "tampered": good[:i] + b"J" + good[i + 1 :],
        "changed-after": pdfs.replace_page_content(good, "Pay 1,000,000 THB"),
        "second-signature": pdfs.sign(good, pki.officer_rsa, field="Signature2"),
    }


@pytest.mark.parametrize("name", ["good", "rsa-adbe", "tampered", "changed-after", "second-signature"])
def test_same_facts_as_pdfsig(
    name: str, letters: dict[str, bytes], tmp_path: Path, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(letters[name])
    out = _pdfsig(path)
    blocks = out.split("Signature #")[1:]
    report = verify_pdf(path, trust, at=fixed_time, revocation="off")
    assert len(blocks) == len(report.signatures)
    for block, sig in zip(blocks, report.signatures, strict=True):
        assert f"Signature Field Name: {sig.field}" in block
        assert ("Signature is Valid." in block) == sig.intact
        assert ("- Total document signed" in block) == (sig.coverage is Coverage.ENTIRE_FILE)
        assert sig.signer is not None and f"Common Name: {sig.signer.name}" in block
