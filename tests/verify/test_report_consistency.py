"""Every line of a report agrees with its indication; the library prints nothing by itself (issue 10, 4)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from support.pdfs import minimal_pdf
from support.pki import TestPKI
from verify_pdfs import PdfFactory

from thaisign.verify import TrustStore, verify_pdf
from thaisign.verify.render_html import reports_html
from thaisign.verify.render_text import report_text
from thaisign.verify.report import Indication, SubIndication


def _tamper(data: bytes) -> bytes:
    i = data.index(b"Hello, thaisign")
    return data[:i] + b"J" + data[i + 1 :]


@pytest.mark.parametrize("later_revision", [False, True], ids=["single", "with-a-second-signature"])
def test_hash_failure_says_nothing_about_coverage_or_permitted_changes(
    later_revision: bool, pdfs: PdfFactory, pki: TestPKI, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    signed = pdfs.sign(minimal_pdf())
    if later_revision:
        signed = pdfs.sign(signed, pki.officer_rsa, field="Signature2")
    report = verify_pdf(_tamper(signed), trust, at=fixed_time, revocation="off")
    first = report.signatures[0]
    assert first.sub_indication is SubIndication.HASH_FAILURE
    for lang, phrases in (
        ("en", ("the whole file", "only permitted", "Signature covers")),
        ("th", ("ทั้งไฟล์",)),
    ):
        first_block = report_text(report, lang).split("(Signature2)")[0]
        assert "HASH_FAILURE" in first_block
        for phrase in phrases:
            assert phrase not in first_block, phrase
    page = reports_html([report], "en", embed_font=False)
    assert "only permitted changes" not in page.split("Signature 2")[0]


def test_revoked_letter_shows_its_chain_not_no_trusted_root(
    pki: TestPKI, pki_services, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    from thaisign import Signer
    from thaisign.pades import sign_pdf_bytes

    signer = Signer.from_pkcs12(pki.officer_rsa.p12, "ทดสอบ-test-passphrase")
    signed = sign_pdf_bytes(minimal_pdf(), signer, signing_time=fixed_time)
    pki_services.revoke(pki.officer_rsa, "key_compromise")
    try:
        report = verify_pdf(signed, trust, at=fixed_time, revocation="online")
    finally:
        pki_services.unrevoke_all()
    (sig,) = report.signatures
    assert (sig.indication, sig.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
    text = report_text(report, "en")
    assert "no trusted root reached" not in text and "Thaisign Test Root CA" in text
    # the deciding answer came from the network, and says so
    assert sig.revocation.origin == "online" and sig.revocation.evidence in ("ocsp", "crl")
    assert sig.revocation.source == sig.revocation.evidence
    assert sig.revocation.reason == "key compromise"
    assert sig.revocation.location and sig.revocation.location.startswith("http://127.0.0.1")


def test_the_library_writes_nothing_to_stderr(signed_ec: bytes, tmp_path: Path) -> None:
    """Untrusted signers, malformed files, broken signatures: reports, never stderr output (pyHanko
    used to print a PathBuildingError traceback for every untrusted signer). A plain Python
    process, so that no test harness's logging handlers hide what a user would see."""
    (tmp_path / "untrusted.pdf").write_bytes(signed_ec)
    (tmp_path / "malformed.pdf").write_bytes(b"%PDF-1.7\n" + b"[" * 5000)
    (tmp_path / "tampered.pdf").write_bytes(_tamper(signed_ec))
    script = (
        "import datetime as dt, sys\n"
        "from thaisign.verify import TrustStore, verify_pdf\n"
        "at = dt.datetime(2026, 11, 21, 3, 42, tzinfo=dt.UTC)\n"
        "for name in sys.argv[1:]:\n"
        "    verify_pdf(name, TrustStore.bundled(), at=at, revocation='offline')\n"
    )
    files = [str(tmp_path / n) for n in ("untrusted.pdf", "malformed.pdf", "tampered.pdf")]
    proc = subprocess.run([sys.executable, "-c", script, *files], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout == "", proc.stderr
