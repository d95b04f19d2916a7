"""``thaisign verify`` as a real process, folders, HTML, and verify_many's shared work."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.pdfs import minimal_pdf
from support.pki import TestPKI
from verify_pdfs import PdfFactory

from thaisign.verify import TrustStore, verify_many, verify_pdf
from thaisign.verify.cache import BatchCache
from thaisign.verify.report import Verdict


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("THAISIGN_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "thaisign", "verify", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory, pdfs: PdfFactory, pki: TestPKI) -> Path:
    """A folder with good letters from two officers, a tampered one and a non-PDF."""
    d = tmp_path_factory.mktemp("inbox")
    (d / "agency-a").mkdir()
    good = pdfs.sign(minimal_pdf("Letter A"))
    (d / "agency-a" / "a1.pdf").write_bytes(good)
    (d / "agency-a" / "a2.PDF").write_bytes(pdfs.sign(minimal_pdf("Letter B")))
    (d / "b1.pdf").write_bytes(pdfs.sign(minimal_pdf("Letter C"), pki.officer_rsa))
    i = good.index(b"Letter A")
    (d / "tampered.pdf").write_bytes(good[:i] + b"Letter Z" + good[i + 8 :])
    (d / "readme.txt").write_text("not a letter")
    return d


def test_cli_json_exit_codes_and_fields(inbox: Path, pki: TestPKI) -> None:
    proc = _run(
        str(inbox / "b1.pdf"),
        "--trust",
        str(pki.root_pem),
        "--at",
        "2026-11-21T10:42+07:00",
        "--offline",
        "--json",
    )
    # offline and no revocation data in the file: indeterminate, hence exit 1
    assert proc.returncode == 1, proc.stderr
    (entry,) = json.loads(proc.stdout)["files"]
    assert entry["verdict"] == "INDETERMINATE"
    assert entry["signatures"][0]["sub_indication"] == "TRY_LATER"
    assert entry["signatures"][0]["signer"]["name"] == "นางสาวสมหญิง รักไทย"


def test_cli_online_passes_with_exit_0(inbox: Path, pki: TestPKI, pki_services) -> None:
    proc = _run(
        str(inbox / "agency-a" / "a1.pdf"),
        "--trust",
        str(pki.root_pem),
        "--at",
        "2026-11-21T03:42Z",
        "--json",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sig = json.loads(proc.stdout)["files"][0]["signatures"][0]
    assert sig["indication"] == "TOTAL_PASSED"
    assert sig["revocation"]["status"] == "good" and sig["revocation"]["source"] in ("ocsp", "crl")


def test_cli_folder_thai_text_summary_and_html(inbox: Path, pki: TestPKI, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    proc = _run(
        str(inbox),
        "--trust",
        str(pki.root_pem),
        "--at",
        "2026-11-21T03:42Z",
        "--offline",
        "--html",
        str(html),
        env={"LANG": "th_TH.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""},
    )
    assert proc.returncode == 1
    out = proc.stdout
    assert "ผู้ลงนาม: นายสมชาย ใจดี" in out and "ตำแหน่ง: ผู้อำนวยการกอง" in out
    assert "สรุป" in out and "4 ไฟล์" in out  # folder searched recursively, *.pdf and *.PDF only
    assert "ค่าแฮชไม่ตรงกัน" in out  # the tampered letter says why, in Thai
    assert "Traceback" not in proc.stderr
    page = html.read_text(encoding="utf-8")
    assert "@font-face" in page and "base64," in page and "font/ttf" in page
    assert "รายงานผลการตรวจสอบลายมือชื่ออิเล็กทรอนิกส์" in page and "นางสาวสมหญิง รักไทย" in page
    assert "http://" not in page.split("<body>")[0]  # nothing fetched from the network


def test_cli_english_and_usage_errors(inbox: Path, pki: TestPKI) -> None:
    proc = _run(str(inbox / "tampered.pdf"), "--trust", str(pki.root_pem), "--offline", "--lang", "en")
    assert proc.returncode == 1
    assert "HASH_FAILURE" in proc.stdout and "altered after it was signed" in proc.stdout
    assert _run(str(inbox / "b1.pdf"), "--at", "yesterday").returncode == 2
    assert _run(str(inbox / "b1.pdf"), "--lang", "fr").returncode == 2
    missing = _run(str(inbox / "nope.pdf"))
    assert missing.returncode != 0 and "not found" in missing.stderr and "Traceback" not in missing.stderr
    html_over_input = _run(str(inbox / "b1.pdf"), "--offline", "--html", str(inbox / "b1.pdf"))
    assert html_over_input.returncode != 0 and "input" in html_over_input.stderr
    assert (inbox / "b1.pdf").read_bytes().startswith(b"%PDF")


def test_verify_many_shares_revocation_answers_and_matches_single_files(
    tmp_path: Path, pdfs: PdfFactory, pki: TestPKI, pki_services, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    signers = [pki.officer_ec, pki.officer_rsa]
    for n in range(12):
        (tmp_path / f"{n:02}.pdf").write_bytes(pdfs.sign(minimal_pdf(f"Letter {n}"), signers[n % 2]))
    before = dict(pki_services.hits)
    cache = BatchCache(trust, at=fixed_time, revocation="online")
    batch = [verify_pdf(p, trust, at=fixed_time, cache=cache) for p in sorted(tmp_path.glob("*.pdf"))]
    cache.close()
    assert all(r.verdict is Verdict.TOTAL_PASSED for r in batch)
    assert cache.stats["revocation_checks"] == 12 and cache.stats["revocation_hits"] == 10  # one per signer
    fetched = sum(pki_services.hits.values()) - sum(before.values())
    assert fetched <= 6, pki_services.hits  # OCSP/CRL fetched per signer, not per letter
    single = [
        verify_pdf(p, trust, at=fixed_time, revocation="online") for p in sorted(tmp_path.glob("*.pdf"))
    ]
    assert [r.to_dict() for r in batch] == [r.to_dict() for r in single]
    parallel = verify_many([tmp_path], trust, at=fixed_time, revocation="online", workers=2)
    assert [r.to_dict() for r in parallel] == [r.to_dict() for r in single]


def test_sign_pdf_outputs_verify(
    pki: TestPKI, pki_services, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    """Letters signed by thaisign.pades: two officers, certification, B-T and B-LT."""
    from thaisign import Signer
    from thaisign.pades import make_letter, sign_pdf_bytes

    somchai = Signer.from_pkcs12(pki.officer_ec.p12, "ทดสอบ-test-passphrase")
    somying = Signer.from_pkcs12(pki.officer_rsa.p12, "ทดสอบ-test-passphrase")
    letter = make_letter()
    first = sign_pdf_bytes(letter, somchai, signing_time=fixed_time, certify="form-filling", field="Director")
    both = sign_pdf_bytes(
        first, somying, signing_time=fixed_time, level="B-T", tsa=pki_services.tsa_url, field="Clerk"
    )
    report = verify_pdf(both, trust, at=fixed_time, revocation="online")
    director, clerk = report.signatures
    assert report.verdict is Verdict.TOTAL_PASSED, [s.messages.en for s in report.signatures]
    assert director.modifications.value == "ALLOWED" and director.level == "B-B"
    assert clerk.level == "B-T" and clerk.signing_time_source == "timestamp"
    lt = sign_pdf_bytes(letter, somchai, signing_time=fixed_time, level="B-LT", tsa=pki_services.tsa_url)
    (sig,) = verify_pdf(lt, trust, at=fixed_time, revocation="offline").signatures
    assert (
        sig.level in ("B-LT", "B-LTA")
        and sig.revocation.status == "good"
        and sig.revocation.source == "embedded"
    )
    assert sig.indication.value == "TOTAL_PASSED"
