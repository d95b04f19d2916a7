"""Many letters at once, and the safety rules: inputs never overwritten, atomic outputs, clear
one-line errors with no output file for bad PDFs, passphrases and certificates."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pades_checks import CLI_ENV, assert_pdfsig_valid, pdfsig, pyhanko_status, require_tool, run_cli
from support.pki import FIXED_TIME, PASSPHRASE, TestPKI

from thaisign.errors import CertificateError, OutputError, PdfError, SecretError
from thaisign.keys import Signer, SoftwareSigner
from thaisign.pades import KeySource, SigningOptions, sign_many, sign_pdf


@pytest.fixture()
def inbox(tmp_path: Path, letter: Path, letter3: Path) -> list[Path]:
    d = tmp_path / "inbox"
    d.mkdir()
    files = []
    for i in range(5):
        p = d / f"letter-{i}.pdf"
        shutil.copy(letter if i % 2 else letter3, p)
        files.append(p)
    bad = d / "broken.pdf"
    bad.write_bytes(letter.read_bytes()[:300])
    files.insert(2, bad)
    return files


def test_sign_many_two_workers_one_bad_file(
    tmp_path: Path, inbox: list[Path], pki: TestPKI, nssdb: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    seen: list[str] = []
    key = KeySource(p12=str(pki.officer_ec.p12), passphrase=PASSPHRASE)
    items = sign_many(
        inbox,
        out,
        key,
        SigningOptions(signing_time=FIXED_TIME, rect=(300, 45, 560, 145)),
        workers=2,
        on_done=lambda item: seen.append(item.input.name),
    )
    assert [i.input for i in items] == inbox  # results in input order
    assert sorted(seen) == sorted(p.name for p in inbox)
    bad = items[2]
    assert not bad.ok and bad.error and "PDF" in bad.error and not (out / "broken.pdf").exists()
    assert all(i.ok for i in items if i is not bad)
    for item in items:
        if item.ok:
            assert item.output is not None
            assert_pdfsig_valid(item.output, nssdb, count=1)
    assert pyhanko_status(out / "letter-0.pdf", pki).trusted
    assert not list(out.glob(".*.tmp"))


def test_cli_batch_folder_json_and_exit_code(
    tmp_path: Path, inbox: list[Path], pki: TestPKI, nssdb: str
) -> None:
    out = tmp_path / "signed"
    out.mkdir()
    r = run_cli(
        "sign",
        str(inbox[0].parent),
        "--out-dir",
        str(out),
        "--p12",
        str(pki.officer_rsa.p12),
        "--signing-time",
        "2026-11-21T03:42Z",
        "--workers",
        "2",
        "--json",
        env=CLI_ENV,
    )
    assert r.returncode == 1, r.stderr  # one file failed
    doc = json.loads(r.stdout)
    assert doc["signed"] == 5 and doc["failed"] == 1
    failed = [f for f in doc["files"] if not f["ok"]]
    assert failed[0]["input"].endswith("broken.pdf") and "Traceback" not in r.stderr
    assert_pdfsig_valid(out / "letter-1.pdf", nssdb, count=1)
    good = [p for p in inbox if p.name != "broken.pdf"]
    r = run_cli(
        "sign",
        *map(str, good),
        "--out-dir",
        str(tmp_path / "signed2" / "2569" / "พฤศจิกายน"),  # a missing output folder is made
        "--p12",
        str(pki.officer_rsa.p12),
        "--signing-time",
        "2026-11-21T03:42Z",
        env=CLI_ENV,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 signed, 0 failed" in r.stdout
    assert len(list((tmp_path / "signed2" / "2569" / "พฤศจิกายน").glob("*.pdf"))) == 5


def test_in_place_replaces_atomically(
    tmp_path: Path, letter: Path, ec_signer: SoftwareSigner, nssdb: str
) -> None:
    target = tmp_path / "letter.pdf"
    shutil.copy(letter, target)
    before = target.stat().st_ino
    with pytest.raises(OutputError, match="is the input"):
        sign_pdf(target, target, ec_signer, signing_time=FIXED_TIME)
    assert target.read_bytes() == letter.read_bytes()
    sign_pdf(target, target, ec_signer, signing_time=FIXED_TIME, in_place=True)
    assert target.stat().st_ino != before  # a new file renamed over the old one
    assert_pdfsig_valid(target, nssdb, count=1)
    assert not list(tmp_path.glob(".*.tmp"))


def _cli_fails(args: list[str], out: Path, expect: str, env: dict[str, str] | None = None) -> None:
    r = run_cli(*args, env=env if env is not None else CLI_ENV)
    assert r.returncode != 0
    lines = [x for x in r.stderr.splitlines() if x.startswith("thaisign: error:")]
    assert len(lines) == 1 and expect in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()
    assert not list(out.parent.glob(".*.tmp"))


def test_bad_inputs_give_one_line_and_no_output(tmp_path: Path, letter: Path, pki: TestPKI) -> None:
    out = tmp_path / "out.pdf"
    p12 = ["--p12", str(pki.officer_ec.p12)]
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\ngarbage")
    _cli_fails(["sign", str(broken), "-o", str(out), *p12], out, "PDF")
    _cli_fails(["sign", str(tmp_path / "missing.pdf"), "-o", str(out), *p12], out, "not found")
    _cli_fails(
        ["sign", str(letter), "-o", str(out), *p12], out, "passphrase", env={"THAISIGN_PASSPHRASE": "wrong"}
    )
    _cli_fails(["sign", str(letter), "-o", str(out), *p12], out, "passphrase", env={})  # no terminal, no env
    _cli_fails(
        [
            "sign",
            str(letter),
            "-o",
            str(out),
            "--key",
            str(pki.officer_ec.key_pem),
            "--cert",
            str(pki.officer_rsa.cert_pem),
        ],
        out,
        "does not match",
    )
    _cli_fails(["sign", str(letter), "-o", str(out), *p12, "--rect", "1,2,3"], out, "X1,Y1,X2,Y2")
    _cli_fails(
        ["sign", str(letter), "-o", str(out), *p12, "--rect", "500,700,900,800"], out, "outside the page"
    )
    _cli_fails(["sign", str(letter), "-o", str(out), *p12, "--level", "B-T"], out, "time-stamping authority")
    _cli_fails(["sign", str(letter), "-o", str(out), *p12, "--page", "7", "--visible"], out, "page 7")


def test_certificate_validity_and_key_usage(tmp_path: Path, letter: Path, pki: TestPKI) -> None:
    out = tmp_path / "out.pdf"
    expired = pki.issue_officer(
        "expired",
        not_before=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
    )
    future = pki.issue_officer("future", not_before=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    no_sign = pki.issue_officer(
        "encipher-only",
        key_usage={"digital_signature": False, "content_commitment": False, "key_encipherment": True},
    )
    for issued, message in ((expired, "expired"), (future, "not valid yet"), (no_sign, "key usage")):
        signer = Signer.from_pkcs12(issued.p12, PASSPHRASE)
        with pytest.raises(CertificateError, match=message):
            sign_pdf(letter, out, signer, signing_time=FIXED_TIME)
        assert not out.exists()
        _cli_fails(
            [
                "sign",
                str(letter),
                "-o",
                str(out),
                "--p12",
                str(issued.p12),
                "--signing-time",
                "2026-11-21T03:42Z",
            ],
            out,
            message,
        )
    with pytest.raises(SecretError):
        Signer.from_pkcs12(pki.officer_ec.p12, "wrong")


def test_password_protected_pdf(
    tmp_path: Path, letter: Path, ec_signer: SoftwareSigner, pki: TestPKI, nssdb: str
) -> None:
    require_tool("qpdf")
    enc = tmp_path / "enc.pdf"
    subprocess.run(
        ["qpdf", "--encrypt", "ผู้ใช้1", "owner-secret", "256", "--", str(letter), str(enc)], check=True
    )
    out = tmp_path / "out.pdf"
    with pytest.raises(PdfError, match="password-protected"):
        sign_pdf(enc, out, ec_signer, signing_time=FIXED_TIME)
    with pytest.raises(PdfError, match="wrong password"):
        sign_pdf(enc, out, ec_signer, signing_time=FIXED_TIME, pdf_password="nope")
    assert not out.exists()
    sign_pdf(enc, out, ec_signer, signing_time=FIXED_TIME, pdf_password="ผู้ใช้1", rect=(300, 45, 560, 145))
    result = pdfsig(out, nssdb, "-upw", "ผู้ใช้1")
    assert "Signature is Valid" in result.out and "Total document signed" in result.out, result.out
    r = subprocess.run(["qpdf", "--check", "--password=ผู้ใช้1", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    out2 = tmp_path / "cli.pdf"
    p12 = ["--p12", str(pki.officer_ec.p12)]
    _cli_fails(["sign", str(enc), "-o", str(out2), *p12], out2, "password-protected")
    pw = tmp_path / "pw.txt"
    pw.write_text("ผู้ใช้1\n", encoding="utf-8")
    r = run_cli("sign", str(enc), "-o", str(out2), *p12, "--pdf-password-file", str(pw), env=CLI_ENV)
    assert r.returncode == 0, r.stderr
    r = run_cli(
        "sign",
        str(enc),
        "-o",
        str(tmp_path / "cli2.pdf"),
        *p12,
        "--pdf-password",
        env={**CLI_ENV, "THAISIGN_PDF_PASSWORD": "ผู้ใช้1"},
    )
    assert r.returncode == 0, r.stderr
    assert "Signature is Valid" in pdfsig(tmp_path / "cli2.pdf", nssdb, "-upw", "ผู้ใช้1").out


def test_sign_many_wrong_passphrase_fails_before_any_file(
    tmp_path: Path, inbox: list[Path], pki: TestPKI
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SecretError):
        sign_many(inbox, out, KeySource(p12=str(pki.officer_ec.p12), passphrase="wrong"), workers=2)
    assert not list(out.iterdir())
