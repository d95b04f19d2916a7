"""Legitimate updates after signing: permitted, named — and 'content changed' where the pages
show something the signer did not sign and no certification permits it (docs/verify.md).

Also the pieces of thaisign.verify.changes on their own: the by-value comparison, the layout
scan, the visual check's bounds, RFC 3161 tokens in /Sig dictionaries, plain-ECDSA values.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from letters import BLANK, RECEIPT, Prepared, prepared_letter, sign
from raw_updates import RawUpdate, serialise, stream_body
from support.pki import PASSPHRASE, TestPKI
from test_attacks import _dict, _ref, add_annotation, fill, thai_only

from thaisign.keys import Signer
from thaisign.verify import TrustStore, verify_pdf
from thaisign.verify.changes import ChangeKind, analyse_changes
from thaisign.verify.report import Indication, Modifications, Verdict, VerificationReport

MIDDLE = (72.0, 300.0, 330.0, 380.0)  # blank, between the letter's body and its closing


@pytest.fixture(scope="module")
def prep() -> Prepared:
    return prepared_letter()


@pytest.fixture(scope="module")
def officer(pki: TestPKI) -> Any:
    return Signer.from_pkcs12(pki.officer_ec.p12, PASSPHRASE)


@pytest.fixture(scope="module")
def approval(prep: Prepared, officer: Any, fixed_time: dt.datetime) -> bytes:
    return sign(prep.data, officer, fixed_time)


def check(data: bytes, trust: TrustStore, at: dt.datetime) -> VerificationReport:
    return verify_pdf(data, trust, at=at, revocation="off", name="letter.pdf")


def kinds(sig: Any) -> list[ChangeKind]:
    return [c.kind for c in sig.changes]


def _analysis(data: bytes) -> Any:
    """thaisign's change analysis for the first signature, called directly."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    emb = reader.embedded_signatures[0]
    end = int(emb.byte_range[2]) + int(emb.byte_range[3])
    return analyse_changes(data, reader, emb.signed_revision, covered_end=end, field_name=emb.field_name)


# ---- later signatures, LTV data, document time-stamps ----------------------------------------


def test_second_officer_signs_beside_the_first(
    approval: bytes, pki: TestPKI, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    second = Signer.from_pem(pki.officer_rsa.key_pem, pki.officer_rsa.cert_pem, pki.chain_pem, PASSPHRASE)
    report = check(sign(approval, second, fixed_time, rect=MIDDLE, field="Signature2"), trust, fixed_time)
    first, other = report.signatures
    assert first.modifications is Modifications.ALLOWED and not first.content_changed
    # (the signing tool also refreshes the document's modification date: metadata)
    assert set(kinds(first)) - {ChangeKind.METADATA} == {ChangeKind.SIGNATURE}
    (added,) = [c for c in first.changes if c.kind is ChangeKind.SIGNATURE]
    assert added.field == "Signature2" and added.visible and added.permitted
    assert other.modifications is Modifications.NONE
    assert report.verdict is Verdict.TOTAL_PASSED and report.accepted


def test_dss_and_document_timestamp_are_permitted_without_rendering(
    approval: bytes, pki: TestPKI, pki_services: Any, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    from asn1crypto import x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from verify_pdfs import PdfFactory

    reader = PdfFileReader(io.BytesIO(approval), strict=False)
    certs = [x509.Certificate.load(p.cert.public_bytes(_der())) for p in (pki.ca, pki.root)]
    out = io.BytesIO(approval)
    DocumentSecurityStore.add_dss(out, reader.embedded_signatures[0].pkcs7_content, certs=certs)
    with_dss = out.getvalue()
    lta = PdfFactory(pki).document_timestamp(with_dss, pki_services.tsa_url)
    report = check(lta, trust, fixed_time)
    sig = report.signatures[0]
    assert sig.modifications is Modifications.ALLOWED and not sig.content_changed
    assert set(kinds(sig)) <= {
        ChangeKind.VALIDATION_DATA,
        ChangeKind.DOCUMENT_TIMESTAMP,
        ChangeKind.FORMAT,
        ChangeKind.METADATA,
    }
    assert {ChangeKind.VALIDATION_DATA, ChangeKind.DOCUMENT_TIMESTAMP} <= set(kinds(sig))
    assert any("validation data added" in m for m in sig.messages.en)
    analysis = _analysis(lta)
    assert analysis.visual == "not-needed" and analysis.pages_rendered == 0  # nothing to render


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


# ---- annotations and form filling: permitted, but the content changed (unless certified) ----------


def test_receipt_stamp_on_an_approval_letter_is_permitted_but_content_changed(
    approval: bytes,
    prep: Prepared,
    pki: TestPKI,
    pki_services: Any,
    tmp_path: Path,
    fixed_time: dt.datetime,
    trust: TrustStore,
) -> None:
    stamped = add_annotation(approval, prep, RECEIPT, "RECEIVED No. 123")
    report = check(stamped, trust, fixed_time)
    (sig,) = report.signatures
    assert sig.indication is Indication.TOTAL_PASSED and sig.modifications is Modifications.ALLOWED
    assert sig.content_changed and not report.accepted
    (change,) = sig.changes
    assert (change.kind, change.action, change.subtype, change.page, change.new) == (
        ChangeKind.ANNOTATION,
        "added",
        "FreeText",
        1,
        "RECEIVED No. 123",
    )
    assert change.visible and change.permitted
    thai_only(sig)
    assert any("annotation ('FreeText') added (page 1): 'RECEIVED No. 123'" in m for m in sig.messages.en)
    assert any("เพิ่มหมายเหตุประกอบ ('FreeText') (หน้า 1)" in m for m in sig.messages.th)
    # the command line (online: revocation from the test OCSP responder): never "valid", never exit 0
    path = tmp_path / "stamped.pdf"
    path.write_bytes(stamped)
    for lang, label in (("en", "SIGNED, BUT CHANGED AFTER SIGNING"), ("th", "ลงนามถูกต้อง แต่ถูกเปลี่ยนหลังลงนาม")):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "thaisign",
                "verify",
                str(path),
                "--trust",
                str(pki.root_pem),
                "--at",
                "2026-11-21T10:42+07:00",
                "--lang",
                lang,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1, proc.stderr
        assert label in proc.stdout and "[TOTAL_PASSED]" in proc.stdout, proc.stdout


def test_filling_an_empty_field_of_an_approval_letter_changes_the_content(
    approval: bytes, prep: Prepared, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    report = check(fill(approval, prep, prep.receipt, RECEIPT, "Registry 2569/123"), trust, fixed_time)
    (sig,) = report.signatures
    assert sig.modifications is Modifications.ALLOWED and sig.content_changed and not report.accepted
    (change,) = sig.changes
    assert (change.kind, change.field, change.old, change.new) == (
        ChangeKind.FORM_FILL,
        "receipt",
        None,
        "Registry 2569/123",
    )


def test_certification_permitting_form_filling_makes_filling_acceptable(
    prep: Prepared, officer: Any, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    certified = sign(prep.data, officer, fixed_time, certify="form-filling")
    report = check(fill(certified, prep, prep.receipt, RECEIPT, "Registry 2569/123"), trust, fixed_time)
    (sig,) = report.signatures
    assert sig.modifications is Modifications.ALLOWED and not sig.content_changed and report.accepted
    # ... but not an annotation (P=2), nor any change at all under P=1
    assert check(add_annotation(certified, prep, RECEIPT, "x"), trust, fixed_time).signatures[
        0
    ].modifications is (Modifications.DISALLOWED)
    locked = sign(prep.data, officer, fixed_time, certify="no-changes")
    sig = check(fill(locked, prep, prep.receipt, RECEIPT, "x"), trust, fixed_time).signatures[0]
    assert sig.modifications is Modifications.DISALLOWED
    assert [c.note for c in sig.changes if not c.permitted] == ["docmdp"]


def test_certification_permitting_annotations_makes_a_margin_note_acceptable(
    prep: Prepared, officer: Any, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    certified = sign(prep.data, officer, fixed_time, certify="annotations")
    report = check(add_annotation(certified, prep, BLANK, "Seen, thank you"), trust, fixed_time)
    (sig,) = report.signatures
    assert sig.modifications is Modifications.ALLOWED and not sig.content_changed and report.accepted


def test_a_field_locked_by_the_signature_may_not_be_filled(
    prep: Prepared, officer: Any, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    locked = sign(prep.data, officer, fixed_time, lock_fields=("receipt",))
    sig = check(fill(locked, prep, prep.receipt, RECEIPT, "x"), trust, fixed_time).signatures[0]
    assert sig.modifications is Modifications.DISALLOWED
    (bad,) = [c for c in sig.changes if not c.permitted]
    assert bad.field == "receipt" and bad.note == "locked"


# ---- the object comparison is by value ----------------------------------------------------------


def test_renumbered_objects_are_no_change(
    approval: bytes, prep: Prepared, trust: TrustStore, fixed_time
) -> None:
    """A writer that copies the page's content under a new object number changed nothing."""
    up = RawUpdate(approval)
    page = up.get(prep.page)
    copies = []
    for raw in page["/Contents"].iterate():
        stream = raw.get_object()
        copies.append(_ref(up, up.put(None, stream_body(b"", stream.data))))
    from pyhanko.pdf_utils import generic

    up.put_obj(prep.page, _dict(page, Contents=generic.ArrayObject(copies)))
    report = check(up.bytes(), trust, fixed_time)
    (sig,) = report.signatures
    assert sig.modifications is Modifications.ALLOWED and sig.changes == () and report.accepted


# ---- RFC 3161 tokens in /Sig-typed or untyped dictionaries (as DSS treats them) -------------------


def raw_document_timestamp(data: bytes, tsa_url: str, prep: Prepared, sig_type: bytes | None) -> bytes:
    """A document time-stamp written by hand, its dictionary /Type given by ``sig_type``."""
    from pyhanko.pdf_utils import generic
    from pyhanko.sign.timestamps import HTTPTimeStamper

    up = RawUpdate(data)
    placeholder = b"0" * 16384
    range_mark = b"[0 0000000000 0000000000 0000000000]"
    typed = b"/Type " + sig_type + b" " if sig_type else b""
    sig = up.put(
        None,
        b"<< "
        + typed
        + b"/Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161 /ByteRange "
        + range_mark
        + b" /Contents <"
        + placeholder
        + b"> >>",
    )
    field = up.put(
        None,
        b"<< /Type /Annot /Subtype /Widget /FT /Sig /T (DocTS) /F 132 /Rect [0 0 0 0] /P %d 0 R /V %d 0 R >>"
        % (prep.page, sig),
    )
    page = up.get(prep.page)
    up.put_obj(
        prep.page,
        _dict(page, Annots=generic.ArrayObject([*list(page["/Annots"].iterate()), _ref(up, field)])),
    )
    root = up.root()
    form = root["/AcroForm"]
    up.put_obj(
        up.root_ref,
        _dict(
            root,
            AcroForm=_dict(
                form, Fields=generic.ArrayObject([*list(form["/Fields"].iterate()), _ref(up, field)])
            ),
        ),
    )
    out = up.bytes()
    start = out.index(b"<" + placeholder)
    end = start + len(placeholder) + 2
    out = out.replace(range_mark, b"[0 %010d %010d %010d]" % (start, end, len(out) - end), 1)
    digest = hashlib.sha256(out[:start] + out[end:]).digest()
    token = asyncio.run(HTTPTimeStamper(tsa_url, timeout=10).async_timestamp(digest, "sha256")).dump()
    hexed = token.hex().encode()
    assert len(hexed) <= len(placeholder)
    return out[: start + 1] + hexed.ljust(len(placeholder), b"0") + out[end - 1 :]


@pytest.mark.parametrize("sig_type", [b"/Sig", None], ids=["typed-Sig", "untyped"])
def test_rfc3161_token_in_a_sig_or_untyped_dictionary_is_a_document_timestamp(
    approval: bytes,
    prep: Prepared,
    pki_services: Any,
    trust: TrustStore,
    fixed_time: dt.datetime,
    sig_type: bytes | None,
) -> None:
    stamped = raw_document_timestamp(approval, pki_services.tsa_url, prep, sig_type)
    report = check(stamped, trust, fixed_time)
    first, ts = report.signatures
    assert ts.kind == "document-timestamp" and ts.intact and ts.indication is Indication.TOTAL_PASSED, (
        ts.messages.en
    )
    assert first.modifications is Modifications.ALLOWED and ChangeKind.DOCUMENT_TIMESTAMP in kinds(first)
    assert ChangeKind.SIGNATURE not in kinds(first)


# ---- bounds: the renderer never hangs or crashes the verifier -----------------------------------------


def test_visual_check_is_bounded_in_time(approval: bytes, prep: Prepared) -> None:
    from thaisign.verify.changes.visual import Region, compare_revisions

    stamped = add_annotation(approval, prep, RECEIPT, "x")
    result = compare_revisions(stamped, len(approval), [0], [Region(0, 0, RECEIPT)], timeout=0.001)
    assert not result.checked and "longer than" in (result.reason or "")
    ok = compare_revisions(stamped, len(approval), [0], [Region(0, 0, RECEIPT)], timeout=30)
    assert ok.checked and ok.pages_rendered == 1 and ok.changed.get(0, 0) > 0


def test_visual_check_survives_a_renderer_crash(approval: bytes, prep: Prepared, monkeypatch) -> None:
    """A renderer that dies (here: a segmentation fault in the child) is 'not checked', no traceback."""
    import os
    import signal

    from thaisign.verify.changes import visual

    monkeypatch.setattr(visual, "_render_and_compare", lambda *a: os.kill(os.getpid(), signal.SIGSEGV))
    stamped = add_annotation(approval, prep, RECEIPT, "x")
    result = visual.compare_revisions(stamped, len(approval), [0], [visual.Region(0, 0, RECEIPT)], timeout=30)
    assert not result.checked and result.reason == "the renderer stopped unexpectedly"
    # and the verifier then treats the annotation as visible: content changed, exit code 1
    report = analyse_changes_for(stamped)
    assert report.content_changed and report.visual == "the renderer stopped unexpectedly"


def analyse_changes_for(data: bytes) -> Any:
    return _analysis(data)


def test_huge_page_is_rendered_within_the_pixel_budget(approval: bytes, prep: Prepared) -> None:
    from pyhanko.pdf_utils import generic

    from thaisign.verify.changes import visual

    up = RawUpdate(approval)
    up.put_obj(
        prep.page,
        _dict(
            up.get(prep.page),
            MediaBox=generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 14400, 14400)]),
        ),
    )
    huge = up.bytes()
    result = visual.compare_revisions(huge, len(approval), [0], [], timeout=30)
    assert result.checked and result.final_pages
    (size, _, _) = result.final_pages[0]
    assert max(size) <= visual.MAX_SIDE


# ---- plain ECDSA (BSI TR-03111) -------------------------------------------------------------------------


def test_plain_ecdsa_values_verify_and_tampered_ones_do_not() -> None:
    """BSI TR-03111 ecdsa-plain-SHA256 on brainpoolP256r1, as German qualified cards sign."""
    from asn1crypto import algos
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    from thaisign.verify.algorithms import verify_signature_value

    key = ec.generate_private_key(ec.BrainpoolP256R1())
    message = "หนังสือราชการ".encode()
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    plain = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    algorithm = algos.SignedDigestAlgorithm({"algorithm": "0.4.0.127.0.7.1.1.4.1.3"})
    assert verify_signature_value(spki, algorithm, plain, message) is True
    assert verify_signature_value(spki, algorithm, plain[:-1] + bytes([plain[-1] ^ 1]), message) is False
    assert verify_signature_value(spki, algorithm, plain, message + b".") is False
    assert verify_signature_value(spki, algorithm, plain[:-1], message) is False  # not r || s


# ---- a letter with document time-stamps only is not signed --------------------------------------------


def test_document_timestamps_alone_are_not_a_signature(
    prep: Prepared, pki: TestPKI, pki_services: Any, trust: TrustStore, fixed_time
) -> None:
    from verify_pdfs import PdfFactory

    stamped = PdfFactory(pki).document_timestamp(prep.data, pki_services.tsa_url)
    report = check(stamped, trust, fixed_time)
    (ts,) = report.signatures
    assert ts.kind == "document-timestamp" and ts.intact
    assert report.verdict is Verdict.NO_SIGNATURE and not report.accepted


_ = (serialise, dt)


def test_field_values_from_the_pdf_are_inert_in_the_sentences(
    approval: bytes, prep: Prepared, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    """A filled-in value carrying terminal escapes and a bidi override is named, not obeyed."""
    hostile = "\x1b[2J\x1b[8mถูกต้อง\u202e"
    report = check(fill(approval, prep, prep.receipt, RECEIPT, "ok"), trust, fixed_time)
    assert report.signatures[0].changes  # the plain case first: named
    from pyhanko.pdf_utils import generic

    up = RawUpdate(approval)
    widget = up.get(prep.receipt)
    up.put_obj(prep.receipt, _dict(widget, V=generic.TextStringObject(hostile)))
    (sig,) = check(up.bytes(), trust, fixed_time).signatures
    (change,) = [c for c in sig.changes if c.field == "receipt"]
    assert change.new == hostile  # the JSON keeps the value (escaped by the JSON encoder)
    text = " ".join(sig.messages.en + sig.messages.th)
    assert "\x1b" not in text and "\u202e" not in text
    assert "\\u001b[2J" in text and "\\u202e" in text


def _with_outline(data: bytes) -> bytes:
    """A bookmark added after signing (a catalog-level change nothing on the page shows)."""
    from pyhanko.pdf_utils import generic

    up = RawUpdate(data)
    outlines = up.new_id()
    item = up.put(None, b"<< /Title (Summary) /Parent %d 0 R >>" % outlines)
    up.put(outlines, b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count 1 >>" % (item, item))
    root = up.root()
    up.put_obj(up.root_ref, _dict(root, Outlines=_ref(up, outlines)))
    junk = up.put(None, b"<< /Note (left over by the writing tool) >>")
    assert junk and generic
    return up.bytes()


def test_outline_and_unused_objects_are_named_and_judged_by_docmdp(
    approval: bytes, prep: Prepared, officer: Any, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    (sig,) = check(_with_outline(approval), trust, fixed_time).signatures
    assert sig.modifications is Modifications.ALLOWED and not sig.content_changed
    assert set(kinds(sig)) == {ChangeKind.OUTLINE, ChangeKind.UNUSED_OBJECTS}
    assert not any(c.visible for c in sig.changes)
    certified = sign(prep.data, officer, fixed_time, certify="form-filling")
    (sig,) = check(_with_outline(certified), trust, fixed_time).signatures
    assert sig.modifications is Modifications.DISALLOWED
    assert [(c.kind, c.note) for c in sig.changes if not c.permitted] == [(ChangeKind.OUTLINE, "docmdp")]


def test_a_second_signature_on_the_signature_line_of_a_certified_letter(
    prep: Prepared, officer: Any, pki: TestPKI, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    """A new signature box over the dotted 'ลงชื่อ ....' line is where signatures go (cf. SSA)."""
    certified = sign(prep.data, officer, fixed_time, certify="form-filling")
    second = Signer.from_pem(pki.officer_rsa.key_pem, pki.officer_rsa.cert_pem, pki.chain_pem, PASSPHRASE)
    report = check(
        sign(certified, second, fixed_time, rect=(330.0, 218.0, 520.0, 262.0), field="S2"), trust, fixed_time
    )
    first = report.signatures[0]
    assert first.modifications is Modifications.ALLOWED and not first.content_changed, first.messages.en
    assert report.accepted
