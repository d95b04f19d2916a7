"""Officers sign letters with a token key: sign_pdf, sign_many and ``thaisign sign --key-uri``.

Checked with poppler's pdfsig and pyHanko's validator (trust, chain, coverage).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import select
import subprocess
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hsm_helpers import HsmSetup, issue_for
from support.pki import FIXED_TIME, Issued, TestPKI

from thaisign.hsm import Pkcs11Signer, generate_key, import_certificate
from thaisign.keys import Signer

pades = pytest.importorskip("thaisign.pades")


@dataclasses.dataclass
class TokenOfficer:
    uri: str
    cert_pem: Path


@pytest.fixture(scope="module")
def token_officer(
    hsm_setup: HsmSetup, pki: TestPKI, tmp_path_factory: pytest.TempPathFactory
) -> TokenOfficer:
    """A P-256 key made in the token, certified by the test agency CA, certificate + chain on the token."""
    made = generate_key(hsm_setup.uri("somchai-pades"), "ec-p256", pin=hsm_setup.pin, module=hsm_setup.module)
    cert = issue_for(pki, made.public_key)
    import_certificate(
        str(made.uri), cert, [pki.ca.cert, pki.root.cert], pin=hsm_setup.pin, module=hsm_setup.module
    )
    d = tmp_path_factory.mktemp("token-officer")
    cert_pem = d / "somchai-token.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    # let the test OCSP/CRL services know this certificate (they answer "unknown" otherwise)
    pki.extra["somchai-token"] = Issued("somchai-token", pki.ca.key, cert, cert_pem, cert_pem, cert_pem)
    return TokenOfficer(str(made.uri), cert_pem)


def _letter(tmp_path: Path, name: str = "letter.pdf") -> Path:
    from thaisign.pades.letter import make_letter

    p = tmp_path / name
    p.write_bytes(make_letter())
    return p


def _pdfsig_ok(path: Path, *, whole: bool = True) -> str:
    """pdfsig checks the signature and coverage; trust is left to pyHanko's validator, since NSS
    (behind pdfsig) accepts only e-mail-protection EKUs for signers, not id-kp-documentSigning."""
    r = subprocess.run(["pdfsig", "-nocert", str(path)], capture_output=True, text=True)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "Signature Validation: Signature is Valid." in out, out
    # B-LT adds a DSS revision after the signature, so the signature no longer covers the last bytes
    assert ("Total document signed" in out) == whole, out
    assert "Signer Certificate Common Name: นา" in out, out
    return out


def _pyhanko_ok(path: Path, pki: TestPKI) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from thaisign.pades._pyhanko import to_asn1

    with path.open("rb") as fh:
        reader = PdfFileReader(fh)
        assert reader.embedded_signatures
        for sig in reader.embedded_signatures:
            if sig.sig_object_type == "/DocTimeStamp":
                continue  # B-LTA's document timestamp: not the officer's signature
            vc = ValidationContext(
                trust_roots=[to_asn1(pki.root.cert)],
                other_certs=[to_asn1(pki.ca.cert)],
                allow_fetching=False,
                revocation_mode="soft-fail",
                moment=FIXED_TIME + dt.timedelta(minutes=1),
            )
            status = validate_pdf_signature(sig, vc)
            assert status.intact and status.valid, status.pretty_print_details()
            assert status.trusted, status.pretty_print_details()
            assert status.signing_cert.subject.native["common_name"] == "นายสมชาย ใจดี"


def test_sign_pdf_with_token_key_visible(
    hsm_setup: HsmSetup, token_officer: TokenOfficer, pki: TestPKI, tmp_path: Path
) -> None:
    signer = Signer.from_pkcs11(token_officer.uri, pin=hsm_setup.pin, module=hsm_setup.module)
    assert signer.certificate is not None and signer.chain[-1] == pki.root.cert
    src, out = _letter(tmp_path), tmp_path / "signed.pdf"
    pades.sign_pdf(
        src, out, signer, level="B-B", rect=(330, 60, 560, 150), signing_time=FIXED_TIME, reason="อนุมัติ"
    )
    _pdfsig_ok(out)
    _pyhanko_ok(out, pki)
    assert subprocess.run(["qpdf", "--check", str(out)], capture_output=True).returncode == 0


def test_sign_pdf_rsa_pss_with_token_key(hsm_setup: HsmSetup, pki: TestPKI, tmp_path: Path) -> None:
    made = generate_key(
        hsm_setup.uri("somying-rsa-pades"), "rsa-2048", pin=hsm_setup.pin, module=hsm_setup.module
    )
    cert = issue_for(pki, made.public_key, cn="นางสาวสมหญิง รักไทย")
    import_certificate(
        str(made.uri), cert, [pki.ca.cert, pki.root.cert], pin=hsm_setup.pin, module=hsm_setup.module
    )
    for pss in (False, True):
        signer = Pkcs11Signer.open(made.uri, pin=hsm_setup.pin, module=hsm_setup.module, pss=pss)
        out = tmp_path / f"signed-pss-{pss}.pdf"
        pades.sign_pdf(_letter(tmp_path), out, signer, level="B-B", signing_time=FIXED_TIME)
        _pdfsig_ok(out)


@pytest.mark.parametrize("level", ["B-T", "B-LT", "B-LTA"])
def test_sign_pdf_timestamped_levels_through_token(
    hsm_setup: HsmSetup,
    token_officer: TokenOfficer,
    pki: TestPKI,
    pki_services: object,
    tmp_path: Path,
    level: str,
) -> None:
    signer = Signer.from_pkcs11(token_officer.uri, pin=hsm_setup.pin, module=hsm_setup.module)
    out = tmp_path / f"signed-{level}.pdf"
    tsa_url = pki_services.tsa_url  # type: ignore[attr-defined]
    result = pades.sign_pdf(
        _letter(tmp_path),
        out,
        signer,
        level=level,
        tsa=tsa_url,
        rect=(330, 60, 560, 150),
        signing_time=FIXED_TIME,  # the test services answer at FIXED_TIME
    )
    assert result.level == level
    _pyhanko_ok(out, pki)
    # B-LT and B-LTA add revisions (DSS, document timestamp) after the signature
    _pdfsig_ok(out, whole=level == "B-T")
    if level != "B-T":  # thaisign's own verifier, offline: the letter carries its revocation data
        at = (FIXED_TIME + dt.timedelta(hours=1)).isoformat()
        r = hsm_setup.cli(
            "verify", str(out), "--trust", str(pki.root_pem), "--offline", "--at", at, "--json", pin=False
        )
        report = json.loads(r.stdout)["files"][0]
        assert report["verdict"] == "TOTAL_PASSED", r.stdout + r.stderr
        assert report["signatures"][0]["signer"]["name"] == "นายสมชาย ใจดี"
    with out.open("rb") as fh:
        from pyhanko.pdf_utils.reader import PdfFileReader

        sigs = PdfFileReader(fh).embedded_signatures
        assert len(sigs) == (2 if level == "B-LTA" else 1)
        unsigned = sigs[0].signer_info["unsigned_attrs"].native or []
        assert any(a["type"] == "signature_time_stamp_token" for a in unsigned)  # B-T and up
        if level == "B-LTA":
            assert sigs[1].sig_object_type == "/DocTimeStamp"


def test_sign_cli_with_key_uri(hsm_setup: HsmSetup, token_officer: TokenOfficer, tmp_path: Path) -> None:
    src, out = _letter(tmp_path), tmp_path / "cli-signed.pdf"
    r = hsm_setup.cli(
        "sign", str(src), "-o", str(out), "--key-uri", token_officer.uri, "--level", "B-B",
        "--pin-file", str(hsm_setup.pin_file), pin=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    _pdfsig_ok(out)
    # a wrong PIN: one line, no output file
    bad = tmp_path / "bad.pdf"
    r = hsm_setup.cli("sign", str(src), "-o", str(bad), "--key-uri", token_officer.uri, THAISIGN_PIN="000000")
    assert r.returncode != 0 and "wrong PIN" in r.stderr and "Traceback" not in r.stderr
    assert not bad.exists()


def test_sign_many_over_token_with_two_workers(
    hsm_setup: HsmSetup, token_officer: TokenOfficer, pki: TestPKI, tmp_path: Path
) -> None:
    inputs = [_letter(tmp_path, f"letter-{i:02}.pdf") for i in range(12)]
    out_dir = tmp_path / "signed"
    out_dir.mkdir()
    key = pades.KeySource(key_uri=token_officer.uri, pkcs11_module=hsm_setup.module, pin=hsm_setup.pin)
    items = pades.sign_many(inputs, out_dir, key, pades.SigningOptions(level="B-B"), workers=2)
    assert [i.ok for i in items] == [True] * len(inputs), [i.error for i in items]
    for item in items[:3]:
        assert item.output is not None
        _pdfsig_ok(item.output)
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(p.name for p in inputs)


def test_dropped_session_mid_batch_loses_no_letter(
    hsm_setup: HsmSetup, token_officer: TokenOfficer, pki: TestPKI, tmp_path: Path
) -> None:
    """The token drops the session between letters: the next letter re-opens it, signs once, none lost."""
    signer = Pkcs11Signer.open(token_officer.uri, pin=hsm_setup.pin, module=hsm_setup.module)
    ts = signer.token_session
    start = ts.reconnects
    outputs = []
    for i in range(6):
        if i in (2, 4):
            ts.session().close()  # C_CloseSession behind the signer's back
        out = tmp_path / f"batch-{i}.pdf"
        pades.sign_pdf(_letter(tmp_path, f"in-{i}.pdf"), out, signer, level="B-B", signing_time=FIXED_TIME)
        outputs.append(out)
    assert ts.reconnects == start + 2
    for out in outputs:
        _pyhanko_ok(out, pki)
        from pyhanko.pdf_utils.reader import PdfFileReader

        with out.open("rb") as fh:
            assert len(PdfFileReader(fh).embedded_signatures) == 1  # signed exactly once


def test_batch_on_a_terminal_asks_for_the_pin_once(
    hsm_setup: HsmSetup, token_officer: TokenOfficer, tmp_path: Path
) -> None:
    """``thaisign sign`` of several letters on a real terminal (a pty via script(1)): one PIN prompt."""
    import shlex
    import shutil
    import sys

    script = shutil.which("script")
    assert script, "script(1) (util-linux) is needed"
    inputs = [_letter(tmp_path, f"t{i}.pdf") for i in range(4)]
    out_dir = tmp_path / "signed-tty"
    out_dir.mkdir()
    cmd = shlex.join(
        [sys.executable, "-m", "thaisign", "sign", *map(str, inputs), "--out-dir", str(out_dir),
         "--key-uri", token_officer.uri, "--level", "B-B"]
    )  # fmt: skip
    env = hsm_setup.env()
    env.pop("THAISIGN_PIN", None)
    proc = subprocess.Popen(
        [script, "-qec", cmd, "/dev/null"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + 60
    while b"PIN" not in seen and time.monotonic() < deadline:  # type only once asked, as a person would
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    assert b"PIN" in seen, seen.decode(errors="replace")
    time.sleep(0.2)  # the prompt is written just before echo is switched off
    out, _ = proc.communicate((hsm_setup.pin + "\n").encode(), timeout=120)
    text = (seen + out).decode(errors="replace")
    assert proc.returncode == 0, text
    assert text.count("PIN") == 1, text  # asked once for the whole batch, workers never ask
    assert hsm_setup.pin not in text  # not echoed
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(p.name for p in inputs)
    for p in out_dir.iterdir():
        _pdfsig_ok(p)
