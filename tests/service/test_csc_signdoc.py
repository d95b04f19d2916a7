"""signatures/signDoc: a back end sends a letter and gets it back as PAdES with the Thai appearance,
B-B to B-LTA; the SAD binds the SHA-256 of exactly that PDF."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess

import pytest
from csc_helpers import b64sha256, pyhanko_status, thaisign_report
from service_helpers import OFFICER_PINS, VERIFY_AT
from support.csc_deployment import AUDIENCE, post
from support.pdfs import minimal_pdf
from support.tools import require_tool


def _authorize(agency, token, credential, documents, pin):
    r = post(
        agency.url,
        "csc/v1/credentials/authorize",
        {
            "credentialID": credential,
            "numSignatures": len(documents),
            "hash": [b64sha256(d) for d in documents],
            "PIN": pin,
        },
        token,
    )
    assert r.status_code == 200, r.text
    return r.json()["SAD"]


def _sign_doc(agency, token, credential, sad, documents, level, **appearance):
    docs = [
        {
            "document": base64.b64encode(d).decode(),
            "signature_format": "P",
            "conformance_level": f"Ades-{level}",
            **({"appearance": appearance} if appearance else {}),
        }
        for d in documents
    ]
    return post(
        agency.url,
        "csc/v1/signatures/signDoc",
        {"credentialID": credential, "SAD": sad, "documents": docs},
        token,
    )


def test_sign_doc_b_b_with_a_thai_visible_signature(infra, pin_agency, tmp_path):
    token = infra.op.login("somchai", AUDIENCE)
    cred = pin_agency.credentials["somchai"]
    letter = minimal_pdf("Letter for signDoc")
    sad = _authorize(pin_agency, token, cred, [letter], OFFICER_PINS["somchai"])
    r = _sign_doc(
        pin_agency, token, cred, sad, [letter], "B-B", page=1, rect=[330, 80, 560, 170], reason="อนุมัติ"
    )
    assert r.status_code == 200, r.text
    signed = base64.b64decode(r.json()["DocumentWithSignature"][0])
    assert signed.startswith(letter[: letter.rindex(b"%%EOF")])  # an incremental update of the very letter
    report = thaisign_report(signed, infra.root_pem, VERIFY_AT)
    assert report.verdict == "TOTAL_PASSED", report
    assert report.signatures[0].level == "B-B"
    assert pyhanko_status(signed, infra.root_pem, VERIFY_AT).bottom_line
    out = tmp_path / "signed.pdf"
    out.write_bytes(signed)
    qpdf = subprocess.run([require_tool("qpdf"), "--check", str(out)], capture_output=True, text=True)
    assert qpdf.returncode == 0, qpdf.stdout + qpdf.stderr
    subprocess.run(
        [
            require_tool("pdftoppm"),
            "-png",
            "-r",
            "80",
            "-f",
            "1",
            "-l",
            "1",
            str(out),
            str(tmp_path / "page"),
        ],
        check=True,
    )
    assert (tmp_path / "page-1.png").stat().st_size > 1000


@pytest.fixture(scope="module")
def lta_letter(infra, pin_agency):
    """A letter signed B-LTA through signDoc, and the time it was signed."""
    token = infra.op.login("somchai", AUDIENCE)
    cred = pin_agency.credentials["somchai"]
    letter = minimal_pdf("Long-term letter")
    sad = _authorize(pin_agency, token, cred, [letter], OFFICER_PINS["somchai"])
    r = _sign_doc(pin_agency, token, cred, sad, [letter], "B-LTA")
    assert r.status_code == 200, r.text
    signed = base64.b64decode(r.json()["DocumentWithSignature"][0])
    signed_at = (
        thaisign_report(signed, infra.root_pem, VERIFY_AT, revocation="off").signatures[0].signing_time
    )
    return signed, signed_at


def test_sign_doc_b_lta_embeds_validation_data_and_a_document_timestamp(infra, lta_letter):
    signed, signed_at = lta_letter
    soon = signed_at + dt.timedelta(minutes=10)
    report = thaisign_report(signed, infra.root_pem, soon, revocation="offline")
    signature, doc_ts = report.signatures
    assert (signature.kind, doc_ts.kind) == ("signature", "document-timestamp")
    assert signature.level == "B-LTA"
    # offline: only what the letter carries -- the officer's chain and its OCSP answer are in the DSS
    assert signature.indication == "TOTAL_PASSED", signature
    assert signature.revocation.source in ("embedded", "ocsp"), signature.revocation
    status = pyhanko_status(signed, infra.root_pem, soon)
    assert status.intact and status.valid


def test_sign_doc_b_lta_verdict_ten_years_later(infra, lta_letter):
    signed, signed_at = lta_letter
    later = thaisign_report(signed, infra.root_pem, signed_at + dt.timedelta(days=3653), revocation="offline")
    why = [
        (s.kind, s.indication, s.sub_indication, s.provable_until, s.messages.en) for s in later.signatures
    ]
    assert later.verdict == "TOTAL_PASSED", why


def test_sign_doc_b_t_two_letters_under_one_sad(infra, pin_agency):
    token = infra.op.login("somsri", AUDIENCE)
    cred = pin_agency.credentials["somsri"]
    letters = [minimal_pdf("First"), minimal_pdf("Second")]
    sad = _authorize(pin_agency, token, cred, letters, OFFICER_PINS["somsri"])
    r = _sign_doc(pin_agency, token, cred, sad, letters, "B-T")
    assert r.status_code == 200, r.text
    for signed in r.json()["DocumentWithSignature"]:
        report = thaisign_report(base64.b64decode(signed), infra.root_pem, VERIFY_AT)
        assert report.verdict == "TOTAL_PASSED", report
        assert report.signatures[0].signing_time_source == "timestamp"


def test_sign_doc_refuses_a_document_the_sad_does_not_cover(infra, pin_agency):
    token = infra.op.login("somchai", AUDIENCE)
    cred = pin_agency.credentials["somchai"]
    approved, swapped = minimal_pdf("What the officer approved"), minimal_pdf("What someone sends instead")
    sad = _authorize(pin_agency, token, cred, [approved], OFFICER_PINS["somchai"])
    r = _sign_doc(pin_agency, token, cred, sad, [swapped], "B-B")
    assert r.status_code == 400
    assert "does not authorise" in r.json()["error_description"]
    again = _sign_doc(pin_agency, token, cred, sad, [approved], "B-B")
    assert again.status_code == 400  # the SAD was spent by the refused attempt
    assert "used already" in again.json()["error_description"]


def test_sign_doc_of_something_that_is_no_pdf_is_one_clear_line_and_audited(infra, pin_agency):
    import json

    token = infra.op.login("somchai", AUDIENCE)
    cred = pin_agency.credentials["somchai"]
    garbage = b"%PDF-1.7\n" + bytes(range(256)) * 8  # not a PDF behind its header
    sad = _authorize(pin_agency, token, cred, [garbage], OFFICER_PINS["somchai"])
    r = _sign_doc(pin_agency, token, cred, sad, [garbage], "B-B")
    assert r.status_code == 400, r.text
    text = r.json()["error_description"]
    assert text.startswith("cannot sign document 1:") and "\n" not in text and "Traceback" not in text
    entries = json.loads(infra.run("service", "audit", str(pin_agency.directory), "--json").stdout)["entries"]
    assert entries[-1]["action"] == "sign-failed" and entries[-1]["details"]["credential"] == cred
