"""sign_pdf at level B-B: checked with pdfsig, qpdf, pyHanko's validator and openssl cms."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from pades_checks import (
    CLI_ENV,
    assert_pdfsig_valid,
    assert_pyhanko_ok,
    pdfsig,
    qpdf_check,
    require_tool,
    run_cli,
)
from support.pki import DOCUMENT_SIGNING, FIXED_TIME, PASSPHRASE, TestPKI, _cert, _name, _write

from thaisign.keys import Signer, SoftwareSigner
from thaisign.pades import SigningOptions, sign_pdf


def _sig_dict(path: Path, index: int = 0):  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(path.read_bytes()))
    return reader.embedded_regular_signatures[index]


def test_b_b_invisible_ec(
    tmp_path: Path, letter: Path, ec_signer: SoftwareSigner, pki: TestPKI, nssdb: str
) -> None:
    out = tmp_path / "signed.pdf"
    result = sign_pdf(letter, out, ec_signer, signing_time=FIXED_TIME, reason="อนุมัติ", location="กรุงเทพมหานคร")
    assert result.level == "B-B" and not result.visible and result.field == "Signature1"
    assert letter.read_bytes()[:5] == b"%PDF-" and out.stat().st_size == result.size
    assert out.read_bytes().startswith(letter.read_bytes())  # incremental update: the letter is untouched
    sig = assert_pdfsig_valid(out, nssdb, count=1).signatures[0]
    assert "ETSI.CAdES.detached" in sig and "นายสมชาย ใจดี" in sig and "Nov 21 2026 03:42:00" in sig
    qpdf_check(out)
    status = assert_pyhanko_ok(out, pki)
    assert status.modification_level.name == "NONE"
    embedded = _sig_dict(out)
    assert embedded.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert embedded.sig_object["/Reason"] == "อนุมัติ"
    signed_attrs = embedded.signer_info["signed_attrs"]
    names = {a["type"].native for a in signed_attrs}
    assert "signing_certificate_v2" in names and "message_digest" in names
    # PAdES B-B: no signingTime attribute in the CMS (the time is the /M entry)
    assert "signing_time" not in names
    assert embedded.sig_object["/M"] is not None


def test_b_b_visible_rsa_pem(
    tmp_path: Path, letter: Path, rsa_signer: SoftwareSigner, pki: TestPKI, nssdb: str
) -> None:
    out = tmp_path / "signed.pdf"
    result = sign_pdf(
        letter, out, rsa_signer, SigningOptions(rect=(330, 90, 540, 170), signing_time=FIXED_TIME)
    )
    assert result.visible
    sig = assert_pdfsig_valid(out, nssdb, count=1).signatures[0]
    assert "นางสาวสมหญิง รักไทย" in sig
    qpdf_check(out)
    assert_pyhanko_ok(out, pki)
    assert _sig_dict(out).signer_info["signature_algorithm"]["algorithm"].native == "sha256_rsa"


def test_openssl_cms_verify_over_byte_ranges(
    tmp_path: Path, letter: Path, ec_signer: SoftwareSigner, pki: TestPKI
) -> None:
    require_tool("openssl")
    out = tmp_path / "signed.pdf"
    sign_pdf(letter, out, ec_signer, signing_time=FIXED_TIME, rect=(330, 90, 540, 170))
    data = out.read_bytes()
    embedded = _sig_dict(out)
    br = [int(v) for v in embedded.sig_object["/ByteRange"]]
    content = data[br[0] : br[0] + br[1]] + data[br[2] : br[2] + br[3]]
    assert br[0] == 0 and br[2] + br[3] == len(data)
    from asn1crypto import cms

    contents_hex = data[br[0] + br[1] + 1 : br[2] - 1]  # the hex string between < and >
    cms_raw = cms.ContentInfo.load(bytes.fromhex(contents_hex.decode()), strict=False).dump()
    (tmp_path / "sig.der").write_bytes(cms_raw)
    (tmp_path / "content.bin").write_bytes(content)
    r = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "sig.der"),
            "-content",
            str(tmp_path / "content.bin"),
            "-CAfile",
            str(pki.root_pem),
            "-purpose",
            "any",
            "-attime",
            str(int(FIXED_TIME.timestamp())),
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and "Verification successful" in r.stderr, r.stderr
    # and a single flipped byte inside the signed range makes openssl fail
    broken = bytearray(content)
    broken[200] ^= 0x01
    (tmp_path / "content.bin").write_bytes(bytes(broken))
    r = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "sig.der"),
            "-content",
            str(tmp_path / "content.bin"),
            "-CAfile",
            str(pki.root_pem),
            "-purpose",
            "any",
            "-attime",
            str(int(FIXED_TIME.timestamp())),
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0


def test_pdfsig_trusts_chain_when_cert_allows_email_signing(
    tmp_path: Path, letter: Path, pki: TestPKI, nssdb: str
) -> None:
    """NSS checks signer certificates for the e-mail-signing usage; with that EKU added, pdfsig
    reports the whole chain up to the test root as trusted."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert(
        _name("นายสมชาย ใจดี", title="ผู้อำนวยการกอง"),
        key.public_key(),
        pki.ca.cert.subject,
        pki.ca.key,
        ca=False,
        base_url=pki.base_url,
        eku=[DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION],
    )
    issued = _write(tmp_path, "mail-officer", key, cert, [pki.ca.cert, pki.root.cert])
    signer = Signer.from_pkcs12(issued.p12, PASSPHRASE)
    out = tmp_path / "signed.pdf"
    sign_pdf(letter, out, signer, signing_time=dt.datetime.now(dt.UTC))
    sig = pdfsig(out, nssdb).signatures[0]
    assert "Signature is Valid" in sig and "Certificate is Trusted" in sig, sig


def test_cli_sign_p12_with_env_passphrase(tmp_path: Path, letter: Path, pki: TestPKI, nssdb: str) -> None:
    out = tmp_path / "out.pdf"
    r = run_cli(
        "sign",
        str(letter),
        "-o",
        str(out),
        "--p12",
        str(pki.officer_ec.p12),
        "--visible",
        "--rect",
        "330,90,540,170",
        "--signing-time",
        "2026-11-21T10:42+07:00",
        "--json",
        env=CLI_ENV,
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["files"][0]["ok"] and doc["files"][0]["level"] == "B-B"
    assert_pdfsig_valid(out, nssdb, count=1)


def test_cli_sign_pem_with_passphrase_file(tmp_path: Path, letter: Path, pki: TestPKI, nssdb: str) -> None:
    secret = tmp_path / "pass.txt"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    out = tmp_path / "out.pdf"
    r = run_cli(
        "sign",
        str(letter),
        "-o",
        str(out),
        "--key",
        str(pki.officer_rsa.key_pem),
        "--cert",
        str(pki.officer_rsa.cert_pem),
        "--chain",
        str(pki.chain_pem),
        "--passphrase-file",
        str(secret),
        "--signing-time",
        "2026-11-21T03:42Z",
    )
    assert r.returncode == 0, r.stderr
    assert "B-B" in r.stdout
    assert_pdfsig_valid(out, nssdb, count=1)


def test_cli_help_has_examples() -> None:
    for args in (("sign", "--help"), ("fields", "--help"), ("fields", "add", "--help"), ("ltv", "--help")):
        r = run_cli(*args)
        assert r.returncode == 0 and "Example" in r.stdout, r.stdout


@pytest.mark.parametrize("key_type", ["ec", "rsa"])
def test_hash_follows_key(tmp_path: Path, letter: Path, pki: TestPKI, key_type: str) -> None:
    signer = Signer.from_pkcs12(pki.officer_ec.p12 if key_type == "ec" else pki.officer_rsa.p12, PASSPHRASE)
    out = tmp_path / "s.pdf"
    sign_pdf(letter, out, signer, signing_time=FIXED_TIME)
    assert _sig_dict(out).md_algorithm == "sha256"
    cert = x509.load_pem_x509_certificate(pki.officer_ec.cert_pem.read_bytes())
    assert cert.public_bytes(serialization.Encoding.DER)


def test_cli_in_place_visible_default_box(tmp_path: Path, letter: Path, pki: TestPKI, nssdb: str) -> None:
    import shutil

    target = tmp_path / "letter.pdf"
    shutil.copy(letter, target)
    r = run_cli(
        "sign",
        str(target),
        "--in-place",
        "--p12",
        str(pki.officer_ec.p12),
        "--visible",
        "--lock",
        "all",
        "--reason",
        "อนุมัติ",
        "--signing-time",
        "2026-11-21T03:42Z",
        env=CLI_ENV,
    )
    assert r.returncode == 0, r.stderr
    assert target.read_bytes().startswith(letter.read_bytes())
    assert_pdfsig_valid(target, nssdb, count=1)
    from thaisign.pades import list_signature_fields

    (info,) = list_signature_fields(target)
    assert info.signed and info.rect is not None and info.page == 1
    r = run_cli(
        "sign",
        str(target),
        "-o",
        str(tmp_path / "x.pdf"),
        "--out-dir",
        str(tmp_path),
        "--p12",
        str(pki.officer_ec.p12),
        env=CLI_ENV,
    )
    assert r.returncode == 2 and "exactly one of" in r.stderr


def test_large_file_path_streams_and_signs_validly(
    tmp_path: Path,
    letter3: Path,
    ec_signer: SoftwareSigner,
    pki: TestPKI,
    nssdb: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Files above the in-memory limit go through the streaming path; same result."""
    from thaisign.pades import signer as signer_module

    monkeypatch.setattr(signer_module, "IN_MEMORY_LIMIT", 0)
    out = tmp_path / "streamed.pdf"
    result = sign_pdf(letter3, out, ec_signer, signing_time=FIXED_TIME, rect=(300, 45, 560, 145))
    assert result.size == out.stat().st_size
    assert_pdfsig_valid(out, nssdb, count=1)
    qpdf_check(out)
    assert_pyhanko_ok(out, pki)
