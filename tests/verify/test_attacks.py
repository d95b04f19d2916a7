"""The adversarial set: pdf-insecurity.org's attack classes on thaisign-signed Thai letters.

Every letter is signed by thaisign with the test PKI; every attack is an incremental update
written by hand (raw_updates.RawUpdate). None may be accepted: each must end with the changes
after signing DISALLOWED, the signature not intact, or its coverage PARTIAL — and never exit 0.

Classes: USF (universal signature forgery), ISA (incremental saving), SWA (signature
wrapping), shadow hide / replace / hide-and-replace, and the certification attacks EAA (evil
annotation) and SSA (sneaky signature). Independent views: pyHanko's own difference analysis
and poppler's renderer (pdftoppm) confirm that the attacks really change the letter.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from letters import HIDDEN_TEXT, NOTE, Prepared, prepared_letter, sign
from raw_updates import RawUpdate, serialise, stream_body
from support.pki import PASSPHRASE, TestPKI

from thaisign.keys import Signer
from thaisign.verify import TrustStore, verify_pdf
from thaisign.verify.changes import ChangeKind
from thaisign.verify.report import Coverage, Modifications, VerificationReport


@pytest.fixture(scope="module")
def prep() -> Prepared:
    return prepared_letter()


@pytest.fixture(scope="module")
def officer(pki: TestPKI) -> Any:
    return Signer.from_pkcs12(pki.officer_ec.p12, PASSPHRASE)


@pytest.fixture(scope="module")
def approval(prep: Prepared, officer: Any, fixed_time: dt.datetime) -> bytes:
    return sign(prep.data, officer, fixed_time)


@pytest.fixture(scope="module")
def certified_p2(prep: Prepared, officer: Any, fixed_time: dt.datetime) -> bytes:
    return sign(prep.data, officer, fixed_time, certify="form-filling")


@pytest.fixture(scope="module")
def certified_p3(prep: Prepared, officer: Any, fixed_time: dt.datetime) -> bytes:
    return sign(prep.data, officer, fixed_time, certify="annotations")


def check(data: bytes, trust: TrustStore, at: dt.datetime) -> VerificationReport:
    return verify_pdf(data, trust, at=at, revocation="off", name="letter.pdf")


#: technical names a Thai sentence may carry; anything else in Latin letters would be English prose
_TECHNICAL = re.compile(r"'[^']*'|OCSP|CRL|PDF|\bCA\b|B-LTA?|B-[BT]")


def thai_only(sig: Any) -> None:
    for sentence in sig.messages.th:
        assert not re.search(r"[A-Za-z]{3,}", _TECHNICAL.sub("", sentence)), sentence


def refused(report: VerificationReport) -> Any:
    """The first signature, asserting the letter is refused (and not just 'content changed')."""
    assert report.error is None, report.error
    sig = report.signatures[0]
    thai_only(sig)
    assert not report.accepted and not sig.passed, sig.messages.en
    assert (
        sig.modifications is Modifications.DISALLOWED or sig.coverage is Coverage.PARTIAL or not sig.intact
    ), sig
    return sig


def not_permitted(sig: Any) -> list[Any]:
    bad = [c for c in sig.changes if not c.permitted]
    assert bad, [c.to_dict() for c in sig.changes]
    return bad


# ---- helpers that write the attacks ----------------------------------------------------------


def _dict(obj: Any, **changes: Any) -> Any:
    from pyhanko.pdf_utils import generic

    out = generic.DictionaryObject({k: obj.raw_get(k) for k in obj})
    for key, value in changes.items():
        name = generic.NameObject("/" + key)
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def _signature_ref(up: RawUpdate) -> int:
    fields = up.root()["/AcroForm"]["/Fields"]
    for i in range(len(fields)):
        f = fields[i]
        if f.get("/FT") == "/Sig" and "/V" in f:
            return int(f.raw_get("/V").idnum)
    raise AssertionError("no signature")


def _ref(up: RawUpdate, n: int) -> Any:
    from pyhanko.pdf_utils import generic

    return generic.IndirectObject(n, 0, up.reader)


def _appearance(up: RawUpdate, prep: Prepared, rect: tuple[float, ...], text: str, *, opaque: bool) -> int:
    w, h = rect[2] - rect[0], rect[3] - rect[1]
    ops = (
        b"1 g 0 0 %.2f %.2f re f " % (w, h) if opaque else b""
    ) + b"BT /Helv 14 Tf 0 g 4 %.2f Td (%s) Tj ET" % (
        h / 2 - 5,
        text.encode(),
    )
    return up.put(
        None,
        stream_body(
            b"/Type /XObject /Subtype /Form /BBox [0 0 %.2f %.2f] /Resources << /Font << /Helv %d 0 R >> >>"
            % (w, h, prep.helv),
            ops,
        ),
    )


def add_annotation(
    data: bytes, prep: Prepared, rect: tuple[float, ...], text: str, *, opaque: bool = False
) -> bytes:
    """A FreeText annotation with an appearance, added to page 1."""
    from pyhanko.pdf_utils import generic

    up = RawUpdate(data)
    ap = _appearance(up, prep, rect, text, opaque=opaque)
    annot = up.put(
        None,
        b"<< /Type /Annot /Subtype /FreeText /F 4 /Rect [%.2f %.2f %.2f %.2f] /Contents (%s) "
        b"/DA (/Helv 14 Tf 0 g) /AP << /N %d 0 R >> >>" % (*rect, text.encode(), ap),
    )
    page = up.get(prep.page)
    annots = generic.ArrayObject([*list(page["/Annots"].iterate()), _ref(up, annot)])
    up.put_obj(prep.page, _dict(page, Annots=annots))
    return up.bytes()


def fill(
    data: bytes, prep: Prepared, field: int, rect: tuple[float, ...], value: str, *, opaque: bool = False
) -> bytes:
    """Fill a text field: new /V and a new appearance showing it."""
    from pyhanko.pdf_utils import generic

    up = RawUpdate(data)
    ap = _appearance(up, prep, rect, value, opaque=opaque)
    widget = up.get(field)
    up.put_obj(
        field,
        _dict(
            widget,
            V=generic.TextStringObject(value),
            AP=generic.DictionaryObject({generic.NameObject("/N"): _ref(up, ap)}),
        ),
    )
    return up.bytes()


def new_page_content(data: bytes, prep: Prepared, content_ref: int | None = None) -> bytes:
    """Replace page 1's content with another stream (a new one, or ``content_ref``)."""
    up = RawUpdate(data)
    if content_ref is None:
        content_ref = up.put(
            None, stream_body(b"", b"BT /Helv 28 Tf 0 g 72 420 Td (PAY 5,000,000 THB) Tj ET")
        )
    page = up.get(prep.page)
    up.put_obj(prep.page, _dict(page, Contents=_ref(up, content_ref)))
    return up.bytes()


def poppler_pages(data: bytes, tmp: Path, name: str) -> list[bytes]:
    """Page images by poppler's pdftoppm (an independent renderer), as raw grey bytes."""
    from PIL import Image

    src = tmp / f"{name}.pdf"
    src.write_bytes(data)
    subprocess.run(
        ["pdftoppm", "-r", "50", "-gray", str(src), str(tmp / name)], check=True, capture_output=True
    )
    return [Image.open(p).tobytes() for p in sorted(tmp.glob(f"{name}-*.pgm"))]


def signed_part(data: bytes) -> bytes:
    import re

    m = re.search(rb"/ByteRange\s*\[\s*0\s+\d+\s+(\d+)\s+(\d+)", data)
    assert m
    return data[: int(m.group(1)) + int(m.group(2))]


needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")


# ---- USF: universal signature forgery ----------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"ByteRange": None},
        {"Contents": "null"},
        {"ByteRange": "zero"},
        {"Contents": "empty"},
    ],
    ids=["no-byterange", "null-contents", "zero-byterange", "empty-contents"],
)
def test_usf_signature_dictionary_emptied_after_signing(
    approval: bytes, trust: TrustStore, fixed_time: dt.datetime, change: dict[str, Any]
) -> None:
    from pyhanko.pdf_utils import generic

    up = RawUpdate(approval)
    ref = _signature_ref(up)
    sig = up.get(ref)
    values: dict[str, Any] = {}
    for key, how in change.items():
        if how is None:
            values[key] = None
        elif how == "null":
            values[key] = generic.NullObject()
        elif how == "zero":
            values[key] = generic.ArrayObject([generic.NumberObject(0)] * 4)
        else:
            values[key] = generic.ByteStringObject(b"")
    up.put_obj(ref, _dict(sig, **values))
    report = check(up.bytes(), trust, fixed_time)
    assert not report.accepted
    assert all(not s.passed for s in report.signatures) or not report.signatures


# ---- ISA: incremental saving attacks -----------------------------------------------------------


def test_isa_new_page_content_is_refused_and_pyhanko_agrees(
    approval: bytes, prep: Prepared, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    attacked = new_page_content(approval, prep)
    sig = refused(check(attacked, trust, fixed_time))
    assert any(c.kind is ChangeKind.PAGE_CONTENT and c.page == 1 for c in not_permitted(sig))
    # independent view: pyHanko's own difference analysis also rejects this update
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel

    reader = PdfFileReader(io.BytesIO(attacked), strict=False)
    result = DEFAULT_DIFF_POLICY.review_file(reader, reader.embedded_signatures[0].signed_revision)
    assert getattr(result, "modification_level", ModificationLevel.OTHER) is ModificationLevel.OTHER


def test_isa_objects_appended_without_xref(
    approval: bytes, prep: Prepared, trust: TrustStore, fixed_time
) -> None:
    up = RawUpdate(approval)
    content = up.put(None, stream_body(b"", b"BT /Helv 28 Tf 72 420 Td (PAID) Tj ET"))
    up.put_obj(prep.page, _dict(up.get(prep.page), Contents=_ref(up, content)))
    sig = refused(check(up.bytes(xref=False), trust, fixed_time))
    assert sig.coverage is Coverage.PARTIAL


def test_isa_hidden_redefinition_then_a_harmless_update(
    approval: bytes, prep: Prepared, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    """The issue's case: a page redefined with no xref entry, followed by a harmless update."""
    from pyhanko.pdf_utils import generic

    up = RawUpdate(approval)
    page = up.get(prep.page)
    hidden = (
        b"%d 0 obj\n" % prep.page
        + serialise(_dict(page, Contents=_ref(up, prep.alt_content)))
        + b"\nendobj\n"
    )
    info = up.put(
        None,
        serialise(generic.DictionaryObject({generic.NameObject("/Producer"): generic.TextStringObject("x")})),
    )
    up.trailer_refs["/Info"] = _ref(up, info)
    sig = refused(check(up.bytes(between=hidden), trust, fixed_time))
    (bad,) = [c for c in not_permitted(sig) if c.kind is ChangeKind.FILE_STRUCTURE]
    assert f"object {prep.page} 0 is not listed" in (bad.where or "")


def test_isa_junk_between_updates(approval: bytes, trust: TrustStore, fixed_time: dt.datetime) -> None:
    from pyhanko.pdf_utils import generic

    up = RawUpdate(approval)
    info = up.put(
        None,
        serialise(generic.DictionaryObject({generic.NameObject("/Title"): generic.TextStringObject("x")})),
    )
    up.trailer_refs["/Info"] = _ref(up, info)
    sig = refused(check(up.bytes(between=b"BT /F1 24 Tf (PAID) Tj ET\n"), trust, fixed_time))
    assert any("neither an object" in (c.where or "") for c in not_permitted(sig))


def test_isa_object_defined_twice_in_one_update(
    approval: bytes, prep: Prepared, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    up = RawUpdate(approval)
    page = up.get(prep.page)
    up.put_obj(prep.page, _dict(page, Contents=_ref(up, prep.alt_content)))
    up.put_obj(prep.page, page)  # the xref lists this second, harmless copy
    sig = refused(check(up.bytes(), trust, fixed_time))
    assert any("defined twice" in (c.where or "") for c in not_permitted(sig))


def test_isa_revived_hidden_object_and_ambiguous_free_entry(
    approval: bytes, prep: Prepared, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    """pdf-attacker's 'change objects usage': the xref revives an object hidden in signed bytes."""
    up = RawUpdate(approval)
    sig = refused(
        check(
            up.bytes(extra_entries={prep.shadow: prep.shadow_offset}, free={prep.square: 0}),
            trust,
            fixed_time,
        )
    )
    wheres = " ".join(c.where or "" for c in not_permitted(sig))
    assert "no cross-reference listed" in wheres and "marked free with generation 0" in wheres


# ---- SWA: signature wrapping ---------------------------------------------------------------------


def test_swa_content_injected_into_the_signature_gap(
    approval: bytes, prep: Prepared, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    import re

    m = re.search(rb"/ByteRange\s*\[\s*0\s+(\d+)\s+(\d+)", approval)
    assert m
    gap_start, gap_end = int(m.group(1)), int(m.group(2))
    payload = b"> >>\nendobj\n%d 0 obj\n<< /Type /Page >>\nendobj\n" % prep.alt_content
    end = gap_end - 1  # keep the closing '>'
    start = end - len(payload)
    assert approval[start:end].strip(b"0") == b"", "the injected bytes overwrite only the zero padding"
    wrapped = approval[:start] + payload + approval[end:]
    assert len(wrapped) == len(approval) and gap_start < start
    report = check(wrapped, trust, fixed_time)
    assert not report.accepted and all(not s.passed for s in report.signatures)


# ---- shadow attacks ------------------------------------------------------------------------------


@needs_poppler
def test_shadow_hide_uncovers_signed_text(
    approval: bytes, prep: Prepared, trust: TrustStore, fixed_time: dt.datetime, tmp_path: Path
) -> None:
    """The opaque square hid 'CANCELLED - DO NOT PAY' when signed; hiding the square shows it."""
    from pyhanko.pdf_utils import generic

    up = RawUpdate(approval)
    up.put_obj(prep.square, _dict(up.get(prep.square), F=generic.NumberObject(2)))  # /F Hidden
    attacked = up.bytes()
    sig = refused(check(attacked, trust, fixed_time))
    (bad,) = not_permitted(sig)
    assert bad.kind is ChangeKind.ANNOTATION and bad.note == "hides-signed-content" and bad.visible
    # independent view: poppler shows a different page than the signed revision
    assert poppler_pages(signed_part(attacked), tmp_path, "s") != poppler_pages(attacked, tmp_path, "a")


def test_shadow_replace_overwrites_a_signed_value(
    approval: bytes, prep: Prepared, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    from letters import AMOUNT

    sig = refused(check(fill(approval, prep, prep.amount, AMOUNT, "5,000,000 THB"), trust, fixed_time))
    (bad,) = not_permitted(sig)
    assert (bad.kind, bad.field, bad.old, bad.new, bad.note) == (
        ChangeKind.FORM_FILL,
        "amount",
        "50,000 THB",
        "5,000,000 THB",
        "replaces-signed",
    )
    assert any("50,000 THB" in m and "5,000,000 THB" in m for m in sig.messages.en)
    assert any("ช่อง 'amount' เปลี่ยนจาก '50,000 THB' เป็น '5,000,000 THB'" in m for m in sig.messages.th)


@needs_poppler
def test_shadow_hide_and_replace_by_filling_an_empty_field_over_the_text(
    approval: bytes, prep: Prepared, trust: TrustStore, fixed_time: dt.datetime, tmp_path: Path
) -> None:
    attacked = fill(approval, prep, prep.note, NOTE, "The meeting is cancelled.", opaque=True)
    sig = refused(check(attacked, trust, fixed_time))
    (bad,) = not_permitted(sig)
    assert (bad.kind, bad.field, bad.note) == (ChangeKind.FORM_FILL, "note", "hides-signed-content")
    assert poppler_pages(signed_part(attacked), tmp_path, "s") != poppler_pages(attacked, tmp_path, "a")


def test_shadow_replace_by_redrawing_a_field_without_changing_its_value(
    approval: bytes, prep: Prepared, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    from letters import AMOUNT
    from pyhanko.pdf_utils import generic

    up = RawUpdate(approval)
    ap = _appearance(up, prep, AMOUNT, "5,000,000 THB", opaque=False)
    widget = up.get(prep.amount)
    up.put_obj(
        prep.amount, _dict(widget, AP=generic.DictionaryObject({generic.NameObject("/N"): _ref(up, ap)}))
    )
    sig = refused(check(up.bytes(), trust, fixed_time))
    (bad,) = not_permitted(sig)
    assert bad.field == "amount" and bad.note == "appearance-without-value"


def test_shadow_hide_and_replace_by_changing_a_reference(
    approval: bytes, prep: Prepared, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    """The signed letter already held another content stream; the update points the page at it."""
    sig = refused(check(new_page_content(approval, prep, prep.alt_content), trust, fixed_time))
    assert [c.kind for c in not_permitted(sig)] == [ChangeKind.PAGE_CONTENT]


# ---- certification attacks -------------------------------------------------------------------------


def test_eaa_annotation_on_a_form_filling_certified_letter(
    certified_p2: bytes, prep: Prepared, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    from letters import BLANK

    sig = refused(check(add_annotation(certified_p2, prep, BLANK, "APPROVED"), trust, fixed_time))
    (bad,) = not_permitted(sig)
    assert bad.kind is ChangeKind.ANNOTATION and bad.note == "docmdp"


def test_eaa_annotation_covering_text_of_an_annotation_certified_letter(
    certified_p3: bytes, prep: Prepared, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    sig = refused(
        check(add_annotation(certified_p3, prep, NOTE, "Meeting cancelled.", opaque=True), trust, fixed_time)
    )
    (bad,) = not_permitted(sig)
    assert bad.kind is ChangeKind.ANNOTATION and bad.note == "hides-signed-content"


def test_ssa_empty_signature_field_showing_text_on_a_certified_letter(
    certified_p2: bytes, prep: Prepared, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    """A 'signature field' nobody signed, whose appearance carries text (sneaky signature)."""
    from letters import BLANK
    from pyhanko.pdf_utils import generic

    up = RawUpdate(certified_p2)
    ap = _appearance(up, prep, BLANK, "APPROVED BY THE GOVERNOR", opaque=False)
    field = up.put(
        None,
        b"<< /Type /Annot /Subtype /Widget /FT /Sig /T (Approval) /F 4 /Rect [%.2f %.2f %.2f %.2f] "
        b"/P %d 0 R /AP << /N %d 0 R >> >>" % (*BLANK, prep.page, ap),
    )
    page = up.get(prep.page)
    up.put_obj(
        prep.page,
        _dict(page, Annots=generic.ArrayObject([*list(page["/Annots"].iterate()), _ref(up, field)])),
    )
    root = up.root()
    form = root["/AcroForm"]
    new_form = _dict(form, Fields=generic.ArrayObject([*list(form["/Fields"].iterate()), _ref(up, field)]))
    up.put_obj(up.root_ref, _dict(root, AcroForm=new_form))
    sig = refused(check(up.bytes(), trust, fixed_time))
    (bad,) = not_permitted(sig)
    assert bad.kind is ChangeKind.FORM_FIELD and bad.field == "Approval" and bad.visible


def test_ssa_real_signature_hiding_text_of_a_certified_letter(
    certified_p2: bytes, pki: TestPKI, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    second = Signer.from_pem(pki.officer_rsa.key_pem, pki.officer_rsa.cert_pem, pki.chain_pem, PASSPHRASE)
    attacked = sign(certified_p2, second, fixed_time, rect=(72.0, 600.0, 400.0, 690.0), field="Countersign")
    report = check(attacked, trust, fixed_time)
    first = report.signatures[0]
    assert first.modifications is Modifications.DISALLOWED and not report.accepted
    (bad,) = not_permitted(first)
    assert bad.kind is ChangeKind.SIGNATURE and bad.note == "hides-signed-content"


# ---- signatures removed, metadata ------------------------------------------------------------------


def test_signature_field_dropped_from_the_form_is_still_a_signature(
    approval: bytes, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    from pyhanko.pdf_utils import generic

    up = RawUpdate(approval)
    root = up.root()
    form = root["/AcroForm"]
    kept = [f for f in form["/Fields"].iterate() if f.get_object().get("/FT") != "/Sig"]
    up.put_obj(up.root_ref, _dict(root, AcroForm=_dict(form, Fields=generic.ArrayObject(kept))))
    report = check(up.bytes(), trust, fixed_time)
    assert report.verdict.value != "NO_SIGNATURE" and len(report.signatures) == 1
    sig = refused(report)
    (bad,) = not_permitted(sig)
    assert bad.kind is ChangeKind.SIGNATURE_REMOVED and bad.field == "Signature1"


def test_info_changes_are_metadata_not_form_filling(approval: bytes, trust: TrustStore, fixed_time) -> None:
    from pyhanko.pdf_utils import generic

    up = RawUpdate(approval)
    info = up.put(
        None,
        serialise(
            generic.DictionaryObject({generic.NameObject("/Title"): generic.TextStringObject("หนังสือ")})
        ),
    )
    up.trailer_refs["/Info"] = _ref(up, info)
    report = check(up.bytes(), trust, fixed_time)
    (sig,) = report.signatures
    assert sig.modifications is Modifications.ALLOWED and report.accepted
    assert [c.kind for c in sig.changes] == [ChangeKind.METADATA]
    assert any("document information changed ('/Info" in m for m in sig.messages.en)
    assert not any("filled" in m or "form field" in m or "form filling" in m for m in sig.messages.en)
    assert not any("แบบฟอร์ม" in m for m in sig.messages.th)


# ---- the command line -------------------------------------------------------------------------------


def test_cli_refuses_an_attack_with_exit_1_and_names_it(
    approval: bytes, prep: Prepared, pki: TestPKI, tmp_path: Path
) -> None:
    path = tmp_path / "หนังสือ.pdf"
    path.write_bytes(fill(approval, prep, prep.note, NOTE, "The meeting is cancelled.", opaque=True))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "thaisign",
            "verify",
            str(path),
            "--trust",
            str(pki.root_pem),
            "--offline",
            "--at",
            "2026-11-21T10:42+07:00",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    (entry,) = json.loads(proc.stdout)["files"]
    sig = entry["signatures"][0]
    assert sig["modifications"] == "DISALLOWED" and entry["content_changed"] is True
    assert {"kind": "form-fill", "field": "note", "note": "hides-signed-content"}.items() <= sig["changes"][
        0
    ].items() or any(
        c.get("field") == "note" and c.get("note") == "hides-signed-content" for c in sig["changes"]
    )


_ = HIDDEN_TEXT  # documented in letters.py; the hide attack reveals the text in this box
