"""Filing bundles (a folder, a ZIP) and the real commands: ``thaisign sign-file`` and
``thaisign verify`` over .p7s/.p7m, containers and bundles, in Thai and English, text, JSON and
HTML, with the exit codes of PDF letters."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from files_helpers import AT, openssl_cms_verify
from support.pdfs import minimal_pdf
from support.pki import FIXED_TIME, PASSPHRASE, TestPKI

from thaisign.files import sign_asic, sign_file
from thaisign.keys import SoftwareSigner
from thaisign.pades import sign_pdf_bytes
from thaisign.verify import TrustStore, verify_bundle
from thaisign.verify.report import Verdict


def _cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    full = {**os.environ, "THAISIGN_PASSPHRASE": PASSPHRASE, "LANG": "C.UTF-8", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "thaisign", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=full,
        cwd=cwd,
    )


@pytest.fixture()
def bundle(
    tmp_path: Path, evidence: dict[str, Path], ec_signer: SoftwareSigner, rsa_signer: SoftwareSigner
) -> Path:
    """A case file as a court receives it: a signed letter, a photo with its .p7s, a container
    with an audio clip and a spreadsheet, a note nobody signed, and a signature whose data is gone."""
    d = tmp_path / "คดีที่-๑๒๓-๒๕๖๙"
    d.mkdir()
    (d / "หนังสือนำส่ง.pdf").write_bytes(
        sign_pdf_bytes(minimal_pdf("Cover letter"), ec_signer, signing_time=FIXED_TIME)
    )
    photo = d / "ภาพถ่ายที่เกิดเหตุ.jpg"
    shutil.copy(evidence["ภาพถ่ายที่เกิดเหตุ.jpg"], photo)
    sign_file(photo, d / (photo.name + ".p7s"), rsa_signer, signing_time=FIXED_TIME)
    sign_asic(
        [evidence["บันทึกเสียง.m4a"], evidence["บัญชีทรัพย์สิน.xlsx"]], d / "พยานหลักฐาน.asice", ec_signer,
        signing_time=FIXED_TIME,
    )  # fmt: skip
    (d / "บันทึกเจ้าหน้าที่.txt").write_text("ยังไม่ได้ลงนาม", encoding="utf-8")
    return d


def test_bundle_register_names_every_file_and_what_covers_it(bundle: Path, trust: TrustStore) -> None:
    result = verify_bundle(bundle, trust, at=AT, revocation="off")
    rows = {r.file: r for r in result.rows}
    assert set(rows) == {
        "หนังสือนำส่ง.pdf",
        "ภาพถ่ายที่เกิดเหตุ.jpg",
        "พยานหลักฐาน.asice/บันทึกเสียง.m4a",
        "พยานหลักฐาน.asice/บัญชีทรัพย์สิน.xlsx",
        "บันทึกเจ้าหน้าที่.txt",
    }
    assert rows["หนังสือนำส่ง.pdf"].covered_by is None and rows["หนังสือนำส่ง.pdf"].signer == "นายสมชาย ใจดี"
    assert rows["ภาพถ่ายที่เกิดเหตุ.jpg"].covered_by == "ภาพถ่ายที่เกิดเหตุ.jpg.p7s"
    assert rows["ภาพถ่ายที่เกิดเหตุ.jpg"].signer == "นางสาวสมหญิง รักไทย"
    assert rows["พยานหลักฐาน.asice/บันทึกเสียง.m4a"].covered_by == "พยานหลักฐาน.asice: META-INF/signature001.p7s"
    assert rows["บันทึกเจ้าหน้าที่.txt"].verdict == Verdict.NO_SIGNATURE.value
    assert result.unsigned == ("บันทึกเจ้าหน้าที่.txt",)
    assert all(r.verdict == "TOTAL_PASSED" for n, r in rows.items() if n != "บันทึกเจ้าหน้าที่.txt")
    assert not result.passed  # something in it is not signed
    (bundle / "บันทึกเจ้าหน้าที่.txt").unlink()
    assert verify_bundle(bundle, trust, at=AT, revocation="off").passed


def test_zip_bundle_gives_the_same_register(bundle: Path, tmp_path: Path, trust: TrustStore) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(bundle.iterdir()):
            z.write(p, p.name)
        z.writestr("nested.zip", b"PK\x05\x06" + bytes(18))  # a ZIP inside: named, not opened
    folder = verify_bundle(bundle, trust, at=AT, revocation="off")
    zipped = verify_bundle(archive, trust, at=AT, revocation="off")
    strip = [(r.file, r.covered_by, r.signer, r.verdict) for r in folder.rows]
    assert [
        (r.file, r.covered_by, r.signer, r.verdict) for r in zipped.rows if r.file != "nested.zip"
    ] == strip
    assert zipped.unsigned == ("บันทึกเจ้าหน้าที่.txt", "nested.zip")


def test_cli_sign_file_then_verify(
    tmp_path: Path, evidence: dict[str, Path], pki: TestPKI, pki_services: object
) -> None:
    src = evidence["คำสั่งศาล.pdf"]
    signed = _cli(
        "sign-file", str(src), "--p12", str(pki.officer_ec.p12), "--tsa", pki_services.tsa_url,  # type: ignore[attr-defined]
        "--level", "B-LT", "--signing-time", FIXED_TIME.isoformat(), "--json",
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    (entry,) = json.loads(signed.stdout)["files"]
    out = Path(entry["output"])
    assert out.name == src.name + ".p7s" and entry["format"] == "cades-detached" and entry["level"] == "B-LT"
    assert openssl_cms_verify(pki, out, src).returncode == 0
    th = _cli(
        "verify", str(out), "--trust", str(pki.root_pem), "--offline", "--at", AT.isoformat(), "--lang", "th"
    )
    assert th.returncode == 0, th.stdout + th.stderr
    assert "ถูกต้อง" in th.stdout and "ครอบคลุมไฟล์: คำสั่งศาล.pdf" in th.stdout and "ระดับ CAdES: B-LT" in th.stdout
    assert "ข้อมูลที่ลงนาม: คำสั่งศาล.pdf" in th.stdout
    moved = tmp_path / "elsewhere.bin"
    shutil.copy(src, moved)
    src.unlink()
    missing = _cli(
        "verify", str(out), "--trust", str(pki.root_pem), "--offline", "--at", AT.isoformat(), "--json"
    )
    assert missing.returncode == 1
    sig = json.loads(missing.stdout)["files"][0]["signatures"][0]
    assert sig["sub_indication"] == "SIGNED_DATA_NOT_FOUND"
    given = _cli(
        "verify", str(out), "--data", str(moved), "--trust", str(pki.root_pem), "--offline",
        "--at", AT.isoformat(), "--json",
    )  # fmt: skip
    assert given.returncode == 0, given.stdout
    doc = json.loads(given.stdout)["files"][0]
    assert (
        doc["format"] == "cades"
        and doc["data"] == ["elsewhere.bin"]
        and doc["signatures"][0]["covers"] == ["elsewhere.bin"]
    )


def test_cli_asic_and_bundle_outputs(
    bundle: Path, tmp_path: Path, evidence: dict[str, Path], pki: TestPKI
) -> None:
    box = tmp_path / "คดี.asice"
    made = _cli(
        "sign-file",
        *(str(p) for p in evidence.values()),
        "--asic",
        str(box),
        "--p12",
        str(pki.officer_ec.p12),
    )
    assert made.returncode == 0, made.stderr
    assert "asic-e" in made.stdout
    en = _cli(
        "verify", str(box), "--trust", str(pki.root_pem), "--offline", "--at", AT.isoformat(), "--lang", "en"
    )
    assert en.returncode == 1  # offline, no revocation data (B-B): cannot be confirmed
    assert "Covers:" in en.stdout and "TRY_LATER" in en.stdout
    html = tmp_path / "รายงาน.html"
    text = _cli(
        "verify", str(bundle), "--trust", str(pki.root_pem), "--offline", "--at", AT.isoformat(), "--html",
        str(html), env={"LANG": "th_TH.UTF-8"},
    )  # fmt: skip
    assert text.returncode == 1 and "Traceback" not in text.stderr
    assert "ทะเบียนไฟล์ในชุดเอกสาร" in text.stdout and "ไม่มีลายมือชื่อใดครอบคลุม: บันทึกเจ้าหน้าที่.txt" in text.stdout
    assert "ภาพถ่ายที่เกิดเหตุ.jpg.p7s" in text.stdout
    page = html.read_text(encoding="utf-8")
    assert "ครอบคลุมไฟล์" in page and "บัญชีทรัพย์สิน.xlsx" in page
    js = _cli(
        "verify", str(bundle), "--trust", str(pki.root_pem), "--offline", "--at", AT.isoformat(), "--json"
    )
    doc = json.loads(js.stdout)
    (b,) = doc["bundles"]
    assert b["unsigned"] == ["บันทึกเจ้าหน้าที่.txt"] and len(b["register"]) == 5
    assert {f["format"] for f in doc["files"]} == {"pdf", "cades", "asic-e"}


def test_cli_usage_errors_are_one_line(tmp_path: Path, evidence: dict[str, Path], pki: TestPKI) -> None:
    src = evidence["คำสั่งศาล.pdf"]
    cases = [
        (["sign-file", str(src), str(src), "--p12", str(pki.officer_ec.p12)], "several files"),
        (
            ["sign-file", str(src), "-o", "x.p7s", "--asic", "y.asice", "--p12", str(pki.officer_ec.p12)],
            "give one of",
        ),
        (
            ["sign-file", str(src), "--level", "B-T", "--p12", str(pki.officer_ec.p12)],
            "needs a time-stamping",
        ),
        (
            ["sign-file", str(src), "--asic", str(tmp_path / "x.zip"), "--p12", str(pki.officer_ec.p12)],
            ".asice",
        ),
        (["verify", str(src), "--data", str(src)], "--data goes with"),
    ]
    for args, words in cases:
        proc = _cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert words in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("*.p7s")) and not (tmp_path / "x.zip").exists()
    helped = _cli("sign-file", "--help")
    assert helped.returncode == 0 and "Examples:" in helped.stdout and "--asic" in helped.stdout


def test_cli_extend_file_to_b_lta(
    tmp_path: Path, evidence: dict[str, Path], pki: TestPKI, pki_services: object
) -> None:
    src = evidence["บันทึกเสียง.m4a"]
    bt = tmp_path / "clip.p7s"
    tsa = pki_services.tsa_url  # type: ignore[attr-defined]
    made = _cli(
        "sign-file", str(src), "-o", str(bt), "--p12", str(pki.officer_ec.p12), "--tsa", tsa,
        "--signing-time", FIXED_TIME.isoformat(),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    lta = tmp_path / "clip.lta.p7s"
    ext = _cli(
        "extend-file",
        str(bt),
        "-o",
        str(lta),
        "--data",
        str(src),
        "--tsa",
        tsa,
        "--json",
        "--at",
        AT.isoformat(),
    )
    assert ext.returncode == 0, ext.stderr
    assert json.loads(ext.stdout)["files"][0]["level"] == "B-LTA"
    assert openssl_cms_verify(pki, lta, src).returncode == 0
    checked = _cli(
        "verify", str(lta), "--data", str(src), "--trust", str(pki.root_pem), "--offline", "--json",
        "--at", AT.isoformat(),
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout
    assert json.loads(checked.stdout)["files"][0]["signatures"][0]["level"] == "B-LTA"
    again = _cli("extend-file", str(bt), "-o", str(bt), "--tsa", tsa)
    assert again.returncode == 1 and "is the input file" in again.stderr
