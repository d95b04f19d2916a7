"""docs/report.schema.json describes what `thaisign verify --json` really prints."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.pdfs import minimal_pdf
from support.pki import FIXED_TIME, TestPKI
from verify_pdfs import PdfFactory

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "report.schema.json"


@pytest.fixture(scope="module")
def validator():  # type: ignore[no-untyped-def]
    from jsonschema import Draft202012Validator, FormatChecker

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def test_real_output_matches_the_schema_and_the_schema_can_fail(
    validator, pdfs: PdfFactory, pki: TestPKI, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    good = pdfs.sign(minimal_pdf())
    (tmp_path / "signed.pdf").write_bytes(good)
    (tmp_path / "tampered.pdf").write_bytes(pdfs.replace_page_content(good, "changed"))
    (tmp_path / "unsigned.pdf").write_bytes(minimal_pdf())
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\nnot really")
    result = subprocess.run(
        [sys.executable, "-m", "thaisign", "verify", str(tmp_path), "--json", "--offline",
         "--trust", str(pki.root_pem), "--at", FIXED_TIME.isoformat()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert sorted(f["verdict"] for f in doc["files"]) == [
        "ERROR",
        "INDETERMINATE",
        "NO_SIGNATURE",
        "TOTAL_FAILED",
    ]
    errors = [e.message for e in validator.iter_errors(doc)]
    assert errors == []
    # a field others add beside DESIGN.md's is fine; a DESIGN.md field missing or mistyped is not
    extended = copy.deepcopy(doc)
    extended["files"][0]["new_field"] = {"anything": 1}
    assert validator.is_valid(extended)
    signed = next(f for f in doc["files"] if f["signatures"])
    broken = copy.deepcopy(doc)
    del next(f for f in broken["files"] if f["signatures"])["signatures"][0]["intact"]
    assert not validator.is_valid(broken)
    broken = copy.deepcopy(doc)
    next(f for f in broken["files"] if f["signatures"])["signatures"][0]["coverage"] = "MOST"
    assert not validator.is_valid(broken)
    assert signed["signatures"][0]["signer"]["name"] == "นายสมชาย ใจดี"
