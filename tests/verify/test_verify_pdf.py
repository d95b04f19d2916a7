"""verify_pdf on letters signed at test time: facts, indications, tampering, revocation."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from support.pdfs import minimal_pdf
from support.pki import TestPKI
from verify_pdfs import PdfFactory

from thaisign.verify import TrustStore, verify_pdf
from thaisign.verify.render_json import reports_json
from thaisign.verify.report import Coverage, Indication, Modifications, SubIndication, Verdict

JSON_KEYS = {
    "field",
    "kind",
    "indication",
    "sub_indication",
    "intact",
    "coverage",
    "modifications",
    "trusted",
    "chain",
    "signer",
    "signing_time",
    "signing_time_source",
    "timestamp",
    "revocation",
    "level",
    "messages",
    # beside DESIGN.md's fields: the named changes after signing and the clerk-level judgement
    "changes",
    "content_changed",
}


def test_signed_letter_offline_without_revocation_data_is_indeterminate_not_invalid(
    signed_ec: bytes, trust: TrustStore, fixed_time: dt.datetime, pki: TestPKI
) -> None:
    report = verify_pdf(signed_ec, trust, at=fixed_time, revocation="offline")
    assert report.verdict is Verdict.INDETERMINATE
    (sig,) = report.signatures
    assert sig.indication is Indication.INDETERMINATE
    assert sig.sub_indication is SubIndication.TRY_LATER
    assert sig.revocation.status == "unknown"
    assert sig.intact and sig.trusted
    assert sig.coverage is Coverage.ENTIRE_FILE and sig.modifications is Modifications.NONE
    assert sig.signer is not None
    assert sig.signer.name == "นายสมชาย ใจดี"
    assert sig.signer.position == "ผู้อำนวยการกอง"
    assert sig.signer.organization == "กรมทดสอบระบบ"
    assert sig.level == "B-B" and sig.signing_time_source == "claimed"
    # chain: signer, agency CA, test root; the anchor's fingerprint is the root's
    import hashlib

    from cryptography.hazmat.primitives import serialization

    root_sha = hashlib.sha256(pki.root.cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert [c.sha256 for c in sig.chain][-1] == root_sha
    assert len(sig.chain) == 3
    assert "could not be checked" in sig.messages.en[0]
    assert "ตรวจสอบสถานะการเพิกถอน" in sig.messages.th[0]


def test_json_document_keeps_the_design_fields_and_adds_beside_them(
    signed_ec: bytes, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    report = verify_pdf(signed_ec, trust, at=fixed_time, revocation="off", name="letter.pdf")
    doc = json.loads(reports_json([report]))
    (entry,) = doc["files"]
    beside = {"format", "data", "unsigned"}  # issue 16's fields for signed files and containers
    assert set(entry) - beside == {"file", "verdict", "error", "signatures", "content_changed"}
    assert entry["format"] == "pdf" and entry["data"] == [] and entry["unsigned"] == []
    assert entry["file"] == "letter.pdf" and entry["verdict"] == "TOTAL_PASSED" and entry["error"] is None
    sig = entry["signatures"][0]
    assert set(sig) >= JSON_KEYS  # DESIGN.md's fields, all there; new ones only beside them
    assert set(sig) - JSON_KEYS <= {
        "reason",
        "location",
        "proof_of_existence",
        "validation_time",
        "provable_until",
        "covers",
    }
    assert set(sig["signer"]) == {"name", "position", "organization", "certificate_sha256"}
    assert sig["revocation"]["status"] == "not-checked" and sig["revocation"]["source"] == "none"
    assert set(sig["revocation"]) == {
        "status",
        "source",
        "revoked_at",
        "reason",
        "judged_at",
        "status_then",
        "deciding",
    }
    assert sig["proof_of_existence"]["source"] == "validation-time"
    assert sig["validation_time"] == "2026-11-21T03:42:00Z"
    assert sig["kind"] == "signature" and sig["sub_indication"] is None
    assert sig["signing_time"].endswith("Z")


def test_online_revocation_good_then_revoked(
    pki: TestPKI, pki_services, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    from thaisign import Signer
    from thaisign.pades import sign_pdf_bytes

    signer = Signer.from_pkcs12(pki.officer_rsa.p12, "ทดสอบ-test-passphrase")
    signed = sign_pdf_bytes(minimal_pdf(), signer, signing_time=fixed_time)
    report = verify_pdf(signed, trust, at=fixed_time, revocation="online")
    (sig,) = report.signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.messages.en
    assert sig.revocation.status == "good" and sig.revocation.source in ("ocsp", "crl")
    assert sig.signer is not None and sig.signer.name == "นางสาวสมหญิง รักไทย"
    pki_services.revoke(pki.officer_rsa, "key_compromise")  # one day before fixed_time
    try:
        report = verify_pdf(signed, trust, at=fixed_time, revocation="online")
    finally:
        pki_services.unrevoke_all()
    (sig,) = report.signatures
    assert sig.indication is Indication.TOTAL_FAILED
    assert sig.sub_indication is SubIndication.REVOKED
    assert sig.revocation.status == "revoked"


def test_unknown_root_is_indeterminate_no_chain(signed_ec: bytes, fixed_time: dt.datetime) -> None:
    report = verify_pdf(signed_ec, TrustStore.bundled(), at=fixed_time, revocation="offline")
    (sig,) = report.signatures
    assert sig.indication is Indication.INDETERMINATE
    assert sig.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert sig.intact and not sig.trusted


def test_flipped_byte_inside_signed_range_is_hash_failure(
    signed_ec: bytes, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    i = signed_ec.index(b"Hello, thaisign")
    tampered = signed_ec[:i] + b"J" + signed_ec[i + 1 :]
    (sig,) = verify_pdf(tampered, trust, at=fixed_time, revocation="off").signatures
    assert sig.indication is Indication.TOTAL_FAILED and sig.sub_indication is SubIndication.HASH_FAILURE
    assert not sig.intact


def test_byte_range_not_starting_at_zero_is_format_failure(
    signed_ec: bytes, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    tampered = signed_ec.replace(b"/ByteRange [0 ", b"/ByteRange [1 ", 1)
    assert tampered != signed_ec
    (sig,) = verify_pdf(tampered, trust, at=fixed_time, revocation="off").signatures
    assert sig.indication is Indication.TOTAL_FAILED and sig.sub_indication is SubIndication.FORMAT_FAILURE
    assert sig.coverage is Coverage.PARTIAL


def test_page_content_replaced_after_signing_is_disallowed(
    signed_ec: bytes, pdfs: PdfFactory, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    changed = pdfs.replace_page_content(signed_ec, "Pay 1,000,000 THB")
    (sig,) = verify_pdf(changed, trust, at=fixed_time, revocation="off").signatures
    assert sig.intact  # the signed revision itself is untouched ...
    assert sig.coverage is Coverage.ENTIRE_REVISION
    assert sig.modifications is Modifications.DISALLOWED  # ... but the visible page is not
    assert sig.indication is Indication.TOTAL_FAILED


def test_second_signature_is_an_allowed_change(
    signed_ec: bytes, pdfs: PdfFactory, pki: TestPKI, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    twice = pdfs.sign(signed_ec, pki.officer_rsa, field="Signature2")
    report = verify_pdf(twice, trust, at=fixed_time, revocation="off")
    first, second = report.signatures
    assert first.modifications is Modifications.ALLOWED and first.coverage is Coverage.ENTIRE_REVISION
    assert second.modifications is Modifications.NONE and second.coverage is Coverage.ENTIRE_FILE
    assert report.verdict is Verdict.TOTAL_PASSED
    assert second.signer is not None and second.signer.position == "นักจัดการงานทั่วไป"
    assert not any("Form fields" in m for m in first.messages.en)  # signing is not form filling


def test_annotation_added_to_form_filling_certified_letter_is_disallowed(
    pdfs: PdfFactory, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    certified = pdfs.sign(minimal_pdf(), certify="form-filling")
    annotated = pdfs.add_annotation(certified)
    (sig,) = verify_pdf(annotated, trust, at=fixed_time, revocation="off").signatures
    assert sig.modifications is Modifications.DISALLOWED
    assert sig.indication is Indication.TOTAL_FAILED


def test_signature_timestamp_gives_b_t_and_time_from_the_tsa(
    pdfs: PdfFactory, pki_services, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    signed = pdfs.sign(minimal_pdf(), tsa=pki_services.tsa_url)
    (sig,) = verify_pdf(signed, trust, at=fixed_time, revocation="off").signatures
    assert sig.level == "B-T"
    assert sig.signing_time_source == "timestamp"
    assert sig.timestamp is not None and sig.timestamp.trusted and sig.timestamp.intact
    assert sig.timestamp.tsa == "กรมทดสอบระบบ TSA"


def test_document_timestamp_and_adbe_pkcs7_detached(
    pdfs: PdfFactory, pki_services, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    url = pki_services.tsa_url
    signed = pdfs.document_timestamp(pdfs.sign(minimal_pdf(), subfilter="adbe", tsa=url), url)
    report = verify_pdf(signed, trust, at=fixed_time, revocation="off")
    sig, doc_ts = report.signatures
    assert sig.kind == "signature" and sig.level is None  # PAdES levels are for ETSI.CAdES.detached
    assert sig.subfilter == "/adbe.pkcs7.detached" and sig.indication is Indication.TOTAL_PASSED
    assert sig.modifications is Modifications.ALLOWED
    assert doc_ts.kind == "document-timestamp" and doc_ts.indication is Indication.TOTAL_PASSED
    assert doc_ts.signer is not None and doc_ts.signer.name == "กรมทดสอบระบบ TSA"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a pdf at all",
        b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 1 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
        b"%PDF-1.7\n" + b"[" * 100000,
    ],
    ids=["empty", "garbage", "cyclic-pages", "deep-nesting"],
)
def test_malformed_input_gives_a_quick_error_never_an_exception(data: bytes, trust: TrustStore) -> None:
    started = time.monotonic()
    report = verify_pdf(data, trust, revocation="off", timeout=10)
    assert time.monotonic() - started < 10
    assert report.verdict in (Verdict.ERROR, Verdict.NO_SIGNATURE)
    if report.verdict is Verdict.ERROR:
        assert report.error and "\n" not in report.error


def test_truncated_signed_letter(signed_ec: bytes, trust: TrustStore, fixed_time: dt.datetime) -> None:
    report = verify_pdf(signed_ec[: len(signed_ec) // 2], trust, at=fixed_time, revocation="off", timeout=10)
    assert report.verdict is not Verdict.TOTAL_PASSED


def test_unreadable_path_is_an_error_report(tmp_path, trust: TrustStore) -> None:
    report = verify_pdf(tmp_path / "missing.pdf", trust)
    assert report.verdict is Verdict.ERROR and "cannot read" in (report.error or "")


def test_bad_arguments_raise_usage_errors(signed_ec: bytes, trust: TrustStore) -> None:
    from thaisign.errors import UsageError

    with pytest.raises(UsageError):
        verify_pdf(signed_ec, trust, revocation="sometimes")
    with pytest.raises(UsageError):
        verify_pdf(signed_ec, trust, at=dt.datetime(2026, 11, 21))


def test_expired_certificate_long_term_validation(
    pki: TestPKI, pki_services, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    """Signed B-LT in 2026 by a certificate that expired in 2027: still valid in 2028; B-B is not.

    In 2028 the TSA's own certificate is still valid and its status is fetched fresh (the test
    services answer as of 2028); the officer's status comes from the OCSP response embedded at
    signing time.
    """
    from thaisign import Signer
    from thaisign.pades import sign_pdf_bytes

    issued = pki.issue_officer(
        "short-lived", cn="นายอดีต ข้าราชการ", not_after=dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    )
    signer = Signer.from_pkcs12(issued.p12, "ทดสอบ-test-passphrase")
    later = dt.datetime(2028, 6, 1, tzinfo=dt.UTC)
    lt = sign_pdf_bytes(
        minimal_pdf(), signer, signing_time=fixed_time, level="B-LT", tsa=pki_services.tsa_url
    )
    with pki_services.at(later):
        (sig,) = verify_pdf(lt, trust, at=later, revocation="online").signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.messages.en
    assert sig.revocation.status == "good" and sig.revocation.source == "embedded"
    assert any("expired since" in m for m in sig.messages.en)
    bb = sign_pdf_bytes(minimal_pdf(), signer, signing_time=fixed_time)
    (sig,) = verify_pdf(bb, trust, at=later, revocation="offline").signatures
    assert sig.indication is Indication.INDETERMINATE
    assert sig.sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE


def test_unreachable_revocation_services_mean_try_later_not_invalid(
    tmp_path, fixed_time: dt.datetime
) -> None:
    """Online, but OCSP/CRL URLs point at a closed port: INDETERMINATE/TRY_LATER, quickly."""
    from support.pki import build_test_pki
    from support.servers import free_port
    from verify_pdfs import PdfFactory

    closed = build_test_pki(tmp_path / "pki", f"http://127.0.0.1:{free_port()}")
    signed = PdfFactory(closed).sign(minimal_pdf())
    started = time.monotonic()
    report = verify_pdf(signed, TrustStore.from_paths([closed.root_pem]), at=fixed_time, revocation="online")
    assert time.monotonic() - started < 15
    (sig,) = report.signatures
    assert sig.indication is Indication.INDETERMINATE and sig.sub_indication is SubIndication.TRY_LATER
    assert sig.revocation.status == "unknown" and sig.intact and sig.trusted
    assert "not the same as invalid" in sig.messages.en[0]


def test_time_budget_gives_error_and_the_batch_goes_on(
    signed_ec: bytes, pdfs: PdfFactory, pki: TestPKI, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    from thaisign.verify.cache import BatchCache

    slow = pdfs.sign(pdfs.sign(signed_ec, pki.officer_rsa, field="Signature2"), field="Signature3")
    cache = BatchCache(trust, at=fixed_time, revocation="off")
    try:
        report = verify_pdf(slow, trust, at=fixed_time, revocation="off", timeout=0.005, cache=cache)
        assert report.verdict is Verdict.ERROR and "longer than" in (report.error or "")
        again = verify_pdf(slow, trust, at=fixed_time, revocation="off", timeout=30, cache=cache)
        assert again.verdict is Verdict.TOTAL_PASSED and len(again.signatures) == 3
    finally:
        cache.close()


def test_content_appended_without_a_revision_is_never_passed(
    signed_ec: bytes, pdfs: PdfFactory, pki: TestPKI, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    """Incremental-saving style: objects appended after %%EOF with no xref/trailer."""
    junk = b"\n5 0 obj\n<< /Length 30 >>\nstream\nBT (Pay 1,000,000 THB) Tj ET\nendstream\nendobj\n"
    one = verify_pdf(signed_ec + junk, trust, at=fixed_time, revocation="off")
    assert one.verdict is Verdict.TOTAL_FAILED and one.signatures[0].coverage is Coverage.PARTIAL
    two = pdfs.sign(signed_ec, pki.officer_rsa, field="Signature2") + junk
    report = verify_pdf(two, trust, at=fixed_time, revocation="off")
    assert all(s.indication is not Indication.TOTAL_PASSED for s in report.signatures)
    assert report.signatures[0].modifications is Modifications.DISALLOWED


def test_seed_value_violation_is_sig_constraints_failure(
    pki: TestPKI, pdfs: PdfFactory, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    """The form demands adbe.pkcs7.detached (/SV, mandatory); a PAdES signature ignores that."""
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    w = IncrementalPdfFileWriter(io.BytesIO(minimal_pdf()))
    sv = fields.SigSeedValueSpec(
        flags=fields.SigSeedValFlags.SUBFILTER, subfilters=[fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED]
    )
    fields.append_signature_field(
        w, fields.SigFieldSpec("Director", box=(50, 50, 250, 100), seed_value_dict=sv)
    )
    out = io.BytesIO()
    w.write(out)
    meta = signers.PdfSignatureMetadata(field_name="Director", subfilter=fields.SigSeedSubFilter.PADES)
    signer = signers.PdfSigner(meta, pdfs.signer(pki.officer_ec))
    signer._ignore_sv = True  # pyHanko's testing switch: sign against the form's wishes
    signed = signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(out.getvalue()))).getvalue()
    (sig,) = verify_pdf(signed, trust, at=fixed_time, revocation="off").signatures
    assert sig.indication is Indication.INDETERMINATE
    assert sig.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
    assert sig.intact and "seed values" in sig.messages.en[0]
