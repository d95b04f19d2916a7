"""Co-signing real signed PDFs from the shared corpus: earlier signatures made by other tools
stay exactly as valid as before, and a no-changes certification is respected."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pades_checks import pdfsig, qpdf_check
from support.pki import FIXED_TIME

from thaisign.errors import SigningError
from thaisign.keys import SoftwareSigner
from thaisign.pades import sign_pdf

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus")

pytestmark = pytest.mark.interop

COSIGN = [
    "pdf/dss/Signature-P-BG_BOR-2.pdf",
    "pdf/dss/DSS-2155.pdf",
    "pdf/dss/belgian_pki_multiple_ocsps_lt.pdf",
    "pdf/dss/dss-2554/certified-changes-permitted.pdf",
    "pdf/dss/dss-2554/fieldmdp-exclude.pdf",
]


def _validations(out: str) -> list[str]:
    return re.findall(r"Signature Validation: (.+)", out)


@pytest.mark.parametrize("name", COSIGN)
def test_cosign_keeps_earlier_signatures(
    name: str, tmp_path: Path, ec_signer: SoftwareSigner, nssdb: str
) -> None:
    src = CORPUS / name
    if not src.exists():
        pytest.skip(f"corpus file {name} is not available")
    before = _validations(pdfsig(src, nssdb).out)
    out = tmp_path / "cosigned.pdf"
    sign_pdf(src, out, ec_signer, signing_time=FIXED_TIME)
    result = pdfsig(out, nssdb)
    after = _validations(result.out)
    assert len(after) == len(before) + 1, result.out
    assert after[: len(before)] == before  # earlier signatures: same verdicts as before co-signing
    assert after[-1] == "Signature is Valid."
    assert "Total document signed" in result.signatures[-1]
    assert out.read_bytes().startswith(src.read_bytes())


def test_no_changes_certified_corpus_file_is_refused(tmp_path: Path, ec_signer: SoftwareSigner) -> None:
    src = CORPUS / "pdf/dss/dss-2554/certified-no-change-permitted.pdf"
    if not src.exists():
        pytest.skip("corpus file is not available")
    with pytest.raises(SigningError, match="no changes"):
        sign_pdf(src, tmp_path / "x.pdf", ec_signer, signing_time=FIXED_TIME)
    assert not (tmp_path / "x.pdf").exists()


def test_qpdf_accepts_cosigned_corpus_file(tmp_path: Path, ec_signer: SoftwareSigner) -> None:
    src = CORPUS / "pdf/dss/Signature-P-BG_BOR-2.pdf"
    if not src.exists():
        pytest.skip("corpus file is not available")
    out = tmp_path / "cosigned.pdf"
    sign_pdf(src, out, ec_signer, signing_time=FIXED_TIME, rect=(50, 50, 250, 120))
    qpdf_check(out)


def test_every_corpus_pdf_signs_or_fails_cleanly(tmp_path: Path, ec_signer: SoftwareSigner) -> None:
    """Hostile and damaged PDFs give a thaisign error (one line), never an internal error."""
    from thaisign.errors import ThaisignError

    files = sorted((CORPUS / "pdf").rglob("*.pdf"))
    if not files:
        pytest.skip("corpus not available")
    signed = 0
    for i, f in enumerate(files):
        out = tmp_path / f"{i}.pdf"
        try:
            sign_pdf(f, out, ec_signer, signing_time=FIXED_TIME)
            signed += 1
        except ThaisignError as exc:
            assert "\n" not in str(exc)
            assert not out.exists()  # no output for a refused file
    assert signed >= len(files) // 2
    assert not list(tmp_path.glob(".*.tmp"))
