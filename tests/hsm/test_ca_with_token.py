"""The agency CA key in a token: ``thaisign ca init DIR --key-uri URI`` issues certificates, CRLs and
OCSP responses through SoftHSM2; openssl (verify, crl -verify, ocsp) checks them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from hsm_helpers import HsmSetup
from support.servers import serve_wsgi

from thaisign.hsm import generate_key

pytest.importorskip("thaisign.ca")


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def token_ca(hsm_setup: HsmSetup, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA folder whose P-384 key was made in the token and never left it."""
    uri = hsm_setup.uri("agency-ca-p384")
    r = hsm_setup.cli("hsm", "keygen", uri, "--key", "ec-p384")
    assert r.returncode == 0, r.stderr
    directory = tmp_path_factory.mktemp("token-ca") / "ca"
    r = hsm_setup.cli(
        "ca", "init", str(directory), "--name-th", "กรมส่งเสริมการปกครองท้องถิ่น",
        "--name-en", "Department of Local Administration", "--key-uri", uri,
        "--pkcs11-module", hsm_setup.module, "--base-url", "http://127.0.0.1:9",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert not list(directory.glob("*key*")), "no CA key file may exist: the key lives in the token"
    return directory


def test_ca_certificate_self_signed_in_token(token_ca: Path) -> None:
    r = _openssl("verify", "-x509_strict", "-CAfile", str(token_ca / "ca.pem"), str(token_ca / "ca.pem"))
    assert r.returncode == 0 and ": OK" in r.stdout, r.stdout + r.stderr
    text = _openssl("x509", "-in", str(token_ca / "ca.pem"), "-noout", "-text").stdout
    assert "ecdsa-with-SHA384" in text and "NIST CURVE: P-384" in text


def test_issue_revoke_crl_through_token(hsm_setup: HsmSetup, token_ca: Path, tmp_path: Path) -> None:
    # the officer's key is in the token too: CSR signed in the token, certificate by the token CA
    officer_uri = hsm_setup.uri("officer-for-token-ca")
    assert hsm_setup.cli("hsm", "keygen", officer_uri, "--key", "ec-p256").returncode == 0
    csr = tmp_path / "officer.csr"
    r = hsm_setup.cli("hsm", "csr", officer_uri, "--name-th", "นายสมชาย ใจดี", "-o", str(csr))
    assert r.returncode == 0, r.stderr
    certs = []
    for i in range(2):
        out = tmp_path / f"officer-{i}.pem"
        r = hsm_setup.cli(
            "ca", "issue", str(token_ca), "--csr", str(csr), "--name-th", "นายสมชาย ใจดี",
            "--position", "ผู้อำนวยการกอง", "--out-cert", str(out),
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        v = _openssl("verify", "-x509_strict", "-CAfile", str(token_ca / "ca.pem"), str(out))
        assert v.returncode == 0 and ": OK" in v.stdout, v.stdout + v.stderr
        certs.append(x509.load_pem_x509_certificate(out.read_bytes()))
    revoked_serial = format(certs[0].serial_number, "x")
    r = hsm_setup.cli("ca", "revoke", str(token_ca), revoked_serial, "--reason", "key_compromise")
    assert r.returncode == 0, r.stderr
    crl = tmp_path / "ca.crl"
    r = hsm_setup.cli("ca", "crl", str(token_ca), "-o", str(crl), "--pem")
    assert r.returncode == 0, r.stderr
    v = _openssl("crl", "-in", str(crl), "-CAfile", str(token_ca / "ca.pem"), "-noout", "-text")
    assert v.returncode == 0 and "verify OK" in v.stdout + v.stderr, v.stdout + v.stderr
    assert revoked_serial.upper().lstrip("0") in v.stdout.upper().replace(":", "")
    assert "Key Compromise" in v.stdout
    # openssl verify with the CRL: revoked one refused, the other good
    bad = _openssl(
        "verify",
        "-crl_check",
        "-CAfile",
        str(token_ca / "ca.pem"),
        "-CRLfile",
        str(crl),
        str(tmp_path / "officer-0.pem"),
    )
    assert bad.returncode != 0 and "revoked" in (bad.stdout + bad.stderr).lower()
    good = _openssl(
        "verify",
        "-crl_check",
        "-CAfile",
        str(token_ca / "ca.pem"),
        "-CRLfile",
        str(crl),
        str(tmp_path / "officer-1.pem"),
    )
    assert good.returncode == 0, good.stdout + good.stderr


def test_ocsp_signed_by_token_ca(hsm_setup: HsmSetup, token_ca: Path, tmp_path: Path) -> None:
    from thaisign.ca.server import CaServiceConfig, build_ca_app

    officer = tmp_path / "ocsp-officer.pem"
    made = generate_key(hsm_setup.uri("ocsp-officer"), "ec-p256", pin=hsm_setup.pin, module=hsm_setup.module)
    assert made.uri is not None
    csr = tmp_path / "o.csr"
    assert (
        hsm_setup.cli(
            "hsm", "csr", str(made.uri), "--name-th", "นางสาวสมหญิง รักไทย", "-o", str(csr)
        ).returncode
        == 0
    )
    r = hsm_setup.cli(
        "ca", "issue", str(token_ca), "--csr", str(csr), "--name-th", "นางสาวสมหญิง รักไทย",
        "--position", "นักจัดการงานทั่วไป", "--out-cert", str(officer),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    app = build_ca_app(CaServiceConfig(token_ca, signer="ca", pin=hsm_setup.pin))
    try:
        with serve_wsgi(app) as base:
            r = _openssl(
                "ocsp", "-issuer", str(token_ca / "ca.pem"), "-cert", str(officer), "-url", f"{base}/ocsp",
                "-CAfile", str(token_ca / "ca.pem"), "-resp_text",
            )  # fmt: skip
    finally:
        app.close()
    out = r.stdout + r.stderr
    assert "Response verify OK" in out, out
    assert f"{officer}: good" in out, out
    assert "ecdsa-with-SHA384" in out


def test_token_ca_certifies_token_officer_who_signs_a_letter(
    hsm_setup: HsmSetup, token_ca: Path, tmp_path: Path
) -> None:
    """Both keys in the token: ca issue --key-uri, hsm import-cert, sign --key-uri; pyHanko trusts it."""
    letters = pytest.importorskip("thaisign.pades.letter")
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from thaisign.pades._pyhanko import to_asn1

    uri = hsm_setup.uri("somsak-end-to-end")
    assert hsm_setup.cli("hsm", "keygen", uri, "--key", "ec-p256").returncode == 0
    cert = tmp_path / "somsak.pem"
    r = hsm_setup.cli(
        "ca", "issue", str(token_ca), "--key-uri", uri, "--name-th", "นายสมศักดิ์ รักงาน",
        "--position", "นิติกรชำนาญการ", "--out-cert", str(cert),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = hsm_setup.cli("hsm", "import-cert", uri, str(cert), "--chain", str(token_ca / "chain.pem"))
    assert r.returncode == 0, r.stderr
    letter, signed = tmp_path / "letter.pdf", tmp_path / "signed.pdf"
    letter.write_bytes(letters.make_letter(signer_name="นายสมศักดิ์ รักงาน"))
    r = hsm_setup.cli("sign", str(letter), "-o", str(signed), "--key-uri", uri, "--level", "B-B")
    assert r.returncode == 0, r.stderr
    ca_cert = x509.load_pem_x509_certificate((token_ca / "ca.pem").read_bytes())
    with signed.open("rb") as fh:
        (sig,) = PdfFileReader(fh).embedded_signatures
        status = validate_pdf_signature(
            sig,
            ValidationContext(
                trust_roots=[to_asn1(ca_cert)], allow_fetching=False, revocation_mode="soft-fail"
            ),
        )
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.signing_cert.subject.native["common_name"] == "นายสมศักดิ์ รักงาน"
    pdfsig = subprocess.run(["pdfsig", "-nocert", str(signed)], capture_output=True, text=True)
    assert "Signature is Valid" in pdfsig.stdout


def test_tsa_key_in_token_issued_by_token_ca(hsm_setup: HsmSetup, token_ca: Path, tmp_path: Path) -> None:
    """thaisign tsa init --ca (token CA) --key-uri (token TSA key); openssl ts -verify checks a reply."""
    pytest.importorskip("thaisign.tsa.setup")
    from thaisign.tsa.server import tsa_app
    from thaisign.tsa.setup import open_tsa

    tsa_uri = hsm_setup.uri("agency-tsa")
    assert hsm_setup.cli("hsm", "keygen", tsa_uri, "--key", "ec-p256").returncode == 0
    tsa_dir = tmp_path / "tsa"
    r = hsm_setup.cli(
        "tsa", "init", str(tsa_dir), "--ca", str(token_ca), "--key-uri", tsa_uri, "--name-th", "TSA กรมทดสอบ",
        "--pkcs11-module", hsm_setup.module,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert not (tsa_dir / "tsa.key").exists()
    data = tmp_path / "letter.txt"
    data.write_text("หนังสือราชการ ที่ มท ๐๘๐๑/๑๒๓", encoding="utf-8")
    query, reply = tmp_path / "q.tsq", tmp_path / "r.tsr"
    assert (
        _openssl("ts", "-query", "-data", str(data), "-sha256", "-cert", "-out", str(query)).returncode == 0
    )
    authority, store = open_tsa(tsa_dir, pin=hsm_setup.pin)
    app = tsa_app(authority)
    try:
        with serve_wsgi(app) as base:
            import urllib.request

            req = urllib.request.Request(
                f"{base}/tsa",
                data=query.read_bytes(),
                headers={"Content-Type": "application/timestamp-query"},
            )
            with urllib.request.urlopen(req, timeout=30) as resp:
                reply.write_bytes(resp.read())
    finally:
        app.close()
        store.close()
    v = _openssl(
        "ts", "-verify", "-data", str(data), "-in", str(reply), "-CAfile", str(token_ca / "ca.pem"),
        "-untrusted", str(tsa_dir / "tsa.pem"),
    )  # fmt: skip
    assert v.returncode == 0 and "Verification: OK" in v.stdout, v.stdout + v.stderr
