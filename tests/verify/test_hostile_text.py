"""Hostile text is shown, never obeyed: real signed PDFs whose CN, title, O, field name, reason,
location, file name or error text carry terminal escapes, CR/LF and bidi overrides.

The escape-sequence attack: a field name that clears the screen, paints a fake
"ถูกต้อง [TOTAL_PASSED]" verdict and hides what follows (SGR 8). In text (terminal or not) and
HTML every such character must come out as a visible escape; JSON keeps the exact value."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.pdfs import minimal_pdf
from support.pki import FIXED_TIME, PASSPHRASE, TestPKI, _cert, _name, _write

FAKE = "\x1b[2J\x1b[Hผลการตรวจสอบ: ถูกต้อง [TOTAL_PASSED]\x1b[8m"
RAW = ("\x1b", "\x00", "\u202e", "\u2066", "\r", "\x9b", "\x85", "\u200f")


@dataclass(frozen=True)
class Carrier:
    name: str
    file: Path
    value: str  # the hostile string the file carries


def _sign(
    data: bytes, pki: TestPKI, issued, *, field: str = "Signature1", reason=None, location=None
) -> bytes:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    signer = signers.SimpleSigner.load(
        str(issued.key_pem), str(issued.cert_pem), ca_chain_files=(str(pki.chain_pem),),
        key_passphrase=PASSPHRASE.encode(),
    )  # fmt: skip
    meta = signers.PdfSignatureMetadata(
        field_name=field, reason=reason, location=location, subfilter=fields.SigSeedSubFilter.PADES
    )
    return signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data)), meta, signer=signer).getvalue()


def _hostile_officer(pki: TestPKI, cn: str, title: str, org: str):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric import ec
    from support.pki import DOCUMENT_SIGNING

    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert(
        _name(cn, org=org, title=title), key.public_key(), pki.ca.cert.subject, pki.ca.key, ca=False,
        base_url=pki.base_url, eku=[DOCUMENT_SIGNING],
    )  # fmt: skip
    return _write(pki.dir, f"hostile-{abs(hash(cn)) % 10_000}", key, cert, [pki.ca.cert, pki.root.cert])


@pytest.fixture(scope="module")
def carriers(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Carrier]:
    d = tmp_path_factory.mktemp("hostile")
    out: dict[str, Carrier] = {}

    def add(name: str, data: bytes, value: str, filename: str | None = None) -> None:
        path = d / (filename or f"{name}.pdf")
        path.write_bytes(data)
        out[name] = Carrier(name, path, value)

    cn = "นายสมชาย\x1b[2J ใจดี\u202eปลอม"
    title = "ผู้อำนวยการ\r\nผลการตรวจสอบ: ถูกต้อง [TOTAL_PASSED]"
    org = "กรม\x9b31mทดสอบ\u2066\x00"
    officer = _hostile_officer(pki, cn, title, org)
    signed = _sign(minimal_pdf(), pki, officer)
    add("cn", signed, cn)
    add("title", signed, title)
    add("o", signed, org)
    add("field", _sign(minimal_pdf(), pki, pki.officer_ec, field="Sig" + FAKE), "Sig" + FAKE)
    reason = "อนุมัติ\x1b]0;title\x07\u200fแล้ว"
    location = "กรุงเทพฯ\x85\u202eมหานคร"
    with_reason = _sign(minimal_pdf(), pki, pki.officer_ec, reason=reason, location=location)
    add("reason", with_reason, reason)
    add("location", with_reason, location)
    name = "จดหมาย\x1b[2J\rถูกต้อง\u202e.pdf"
    add("file name", signed, name, filename=name)
    # an unsupported /SubFilter whose name (#1B = ESC) the error sentence quotes
    bad = signed.replace(
        b"/SubFilter /ETSI.CAdES.detached", b"/SubFilter /E#1B#5B2J#E2#80#AEx"
    )  # same length
    assert bad != signed and len(bad) == len(signed)
    add("error text", bad, "/E\x1b[2J\u202ex")
    return out


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thaisign", "verify", *args, "--offline", "--at", FIXED_TIME.isoformat()],
        capture_output=True, text=True, timeout=120, env={"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


CARRIERS = ["cn", "title", "o", "field", "reason", "location", "file name", "error text"]


@pytest.mark.parametrize("carrier", CARRIERS)
@pytest.mark.parametrize("lang", ["th", "en"])
def test_text_output_shows_hostile_text_escaped(
    carriers: dict[str, Carrier], pki: TestPKI, carrier: str, lang: str
) -> None:
    c = carriers[carrier]
    result = _run(str(c.file), "--trust", str(pki.root_pem), "--lang", lang)
    out = result.stdout
    for ch in RAW:
        assert ch not in out, (carrier, repr(ch))
    assert "\\x1b" in out or "\\u202e" in out or "\\x9b" in out or "\\x0d" in out or "\\x85" in out
    heads = ("ไฟล์:", "File:", "ผลการตรวจสอบ:", "Verdict:", " ")
    assert all(line.startswith(heads) or not line for line in out.splitlines()), out  # no forged lines
    # the real verdict is there, and no line is a forged verdict line
    assert sum(line.startswith(("ผลการตรวจสอบ:", "Verdict:")) for line in out.splitlines()) == 1


@pytest.mark.parametrize("carrier", CARRIERS)
def test_html_and_json_keep_it_inert(
    carriers: dict[str, Carrier], pki: TestPKI, carrier: str, tmp_path: Path
) -> None:
    c = carriers[carrier]
    html_path = tmp_path / "report.html"
    result = _run(str(c.file), "--trust", str(pki.root_pem), "--json", "--html", str(html_path))
    page = html_path.read_text(encoding="utf-8")
    for ch in RAW:
        assert ch not in page and ch not in result.stdout, (carrier, repr(ch))
    doc = json.loads(result.stdout)  # JSON keeps the value exactly, escaped in the text
    f = doc["files"][0]
    values = [f["file"], f["error"] or ""]
    for s in f["signatures"]:
        values += [s["field"], s.get("reason") or "", s.get("location") or "", *s["messages"]["en"]]
        if s["signer"]:
            values += [
                s["signer"]["name"] or "",
                s["signer"]["position"] or "",
                s["signer"]["organization"] or "",
            ]
    assert any(c.value in v for v in values), (carrier, values)


def test_cli_error_lines_are_inert(tmp_path: Path) -> None:
    missing = tmp_path / "ไม่มี\x1b[2J\u202e.pdf"
    result = _run(str(missing))
    assert result.returncode == 2 or result.returncode == 1
    for ch in RAW:
        assert ch not in result.stderr
    assert "\\x1b[2J\\u202e" in result.stderr
