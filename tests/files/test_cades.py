"""CAdES over any file, signed with real TSA/OCSP/CRL services on 127.0.0.1 and checked by tools
nobody here wrote: ``openssl cms -verify`` (the test root as the only anchor) and pyHanko's
generic CMS validation; then thaisign's own verdicts for intact, changed, missing and
revoked cases. Every validation passes a fixed time."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from files_helpers import AT, openssl_cms_verify
from support.pki import FIXED_TIME, TestPKI

from thaisign.errors import InputError, OutputError, UsageError
from thaisign.files import FileSigningOptions, ats, sign_file
from thaisign.keys import SoftwareSigner
from thaisign.verify import TrustStore
from thaisign.verify.cades import load_signed_data, verify_cades
from thaisign.verify.report import Indication, SubIndication, Verdict

LEVELS = ["B-B", "B-T", "B-LT", "B-LTA"]


def _sign(src: Path, out: Path, signer: SoftwareSigner, services: object, **kw: object) -> None:
    sign_file(src, out, signer, tsa=services.tsa_url, signing_time=FIXED_TIME, **kw)  # type: ignore[attr-defined]


def _pyhanko_verdict(pki: TestPKI, signature: bytes, data: bytes) -> tuple[bool, bool, bool]:
    """pyHanko's generic (non-PDF) CMS validation: (intact, valid, trusted)."""
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
    from pyhanko_certvalidator import ValidationContext

    root = asn1_x509.Certificate.load(pki.root.cert.public_bytes(encoding=_der()))
    context = ValidationContext(
        trust_roots=[root], moment=AT, allow_fetching=False, revocation_mode="soft-fail"
    )
    signed_data = cms.ContentInfo.load(signature)["content"]
    status = asyncio.run(async_validate_detached_cms(data, signed_data, signer_validation_context=context))
    return status.intact, status.valid, status.trusted


def _der():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


@pytest.mark.parametrize("level", LEVELS)
def test_detached_levels_pass_openssl_pyhanko_and_thaisign(
    level: str, tmp_path: Path, evidence: dict[str, Path], ec_signer: SoftwareSigner, pki: TestPKI,
    pki_services: object, trust: TrustStore,
) -> None:  # fmt: skip
    src = evidence["ภาพถ่ายที่เกิดเหตุ.jpg"]
    out = tmp_path / (src.name + ".p7s")
    _sign(src, out, ec_signer, pki_services, level=level)
    assert openssl_cms_verify(pki, out, src).returncode == 0
    assert _pyhanko_verdict(pki, out.read_bytes(), src.read_bytes()) == (True, True, True)
    report = verify_cades(out, trust, at=AT, revocation="offline" if level in ("B-LT", "B-LTA") else "online")
    assert report.verdict is Verdict.TOTAL_PASSED, report.signatures[0].messages.en
    (sig,) = report.signatures
    assert sig.level == level and sig.covers == (src.name,) and report.data == (src.name,)
    assert sig.signer is not None and sig.signer.name == "นายสมชาย ใจดี"
    if level != "B-B":
        assert sig.signing_time_source == "timestamp" and sig.poe_source == "signature-timestamp"
    if level in ("B-LT", "B-LTA"):  # offline: everything needed is inside the signature
        assert sig.revocation.status == "good" and sig.revocation.source == "embedded"


@pytest.mark.parametrize("level", ["B-T", "B-LTA"])
def test_enveloping_holds_the_file_and_verifies_everywhere(
    level: str, tmp_path: Path, evidence: dict[str, Path], rsa_signer: SoftwareSigner, pki: TestPKI,
    pki_services: object, trust: TrustStore,
) -> None:  # fmt: skip
    src = evidence["บัญชีทรัพย์สิน.xlsx"]
    out = tmp_path / (src.name + ".p7m")
    _sign(src, out, rsa_signer, pki_services, level=level, enveloping=True)
    assert openssl_cms_verify(pki, out).returncode == 0
    signed_data = load_signed_data(out.read_bytes())
    assert bytes(signed_data["encap_content_info"]["content"]) == src.read_bytes()
    src.unlink()  # nothing beside it is needed
    report = verify_cades(out, trust, at=AT, revocation="online")
    assert report.verdict is Verdict.TOTAL_PASSED and report.signatures[0].level == level


def test_enveloping_der_is_byte_identical_to_asn1crypto(
    tmp_path: Path, evidence: dict[str, Path], ec_signer: SoftwareSigner
) -> None:
    """The hand-written streaming DER, against asn1crypto's encoding of the same structure."""
    src = evidence["บันทึกเสียง.m4a"]
    detached, enveloping = tmp_path / "a.p7s", tmp_path / "a.p7m"
    sign_file(src, detached, ec_signer, signing_time=FIXED_TIME)
    sign_file(src, enveloping, ec_signer, signing_time=FIXED_TIME, enveloping=True)
    ci = cms.ContentInfo.load(detached.read_bytes())
    sd = ci["content"]
    fields = {n: sd[n] for n in ("version", "digest_algorithms", "certificates", "signer_infos")}
    fields["encap_content_info"] = cms.ContentInfo({"content_type": "data", "content": src.read_bytes()})
    # ECDSA signatures differ run to run: compare with the enveloping file's own signer info
    mine = load_signed_data(enveloping.read_bytes())
    fields["signer_infos"] = mine["signer_infos"]
    oracle = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(fields)}).dump()
    assert enveloping.read_bytes() == oracle


def test_large_enveloping_signature_is_read_as_a_stream(
    tmp_path: Path, evidence: dict[str, Path], ec_signer: SoftwareSigner, trust: TrustStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Above the in-memory limit the content is located and hashed in place (same verdict)."""
    from thaisign.verify import cades

    src = evidence["คำสั่งศาล.pdf"]
    out = tmp_path / "order.p7m"
    sign_file(src, out, ec_signer, signing_time=FIXED_TIME, enveloping=True)
    monkeypatch.setattr(cades, "IN_MEMORY_LIMIT", 1024)
    report = verify_cades(out, trust, at=AT, revocation="off")
    assert report.verdict is Verdict.TOTAL_PASSED and report.data == ("order.p7m (enveloped)",)
    data = bytearray(out.read_bytes())
    data[data.index(b"a court order")] ^= 1
    out.write_bytes(bytes(data))
    broken = verify_cades(out, trust, at=AT, revocation="off").signatures[0]
    assert (broken.indication, broken.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)


def test_changed_missing_and_other_data(
    tmp_path: Path, evidence: dict[str, Path], ec_signer: SoftwareSigner, trust: TrustStore
) -> None:
    src = evidence["คำสั่งศาล.pdf"]
    out = tmp_path / (src.name + ".p7s")
    sign_file(src, out, ec_signer, signing_time=FIXED_TIME)
    assert verify_cades(out, trust, at=AT, revocation="off").verdict is Verdict.TOTAL_PASSED
    other = evidence["บันทึกเสียง.m4a"]
    wrong = verify_cades(out, trust, data=other, at=AT, revocation="off").signatures[0]
    assert (wrong.indication, wrong.sub_indication, wrong.intact) == (
        Indication.TOTAL_FAILED,
        SubIndication.HASH_FAILURE,
        False,
    )
    assert any("does not match the signature" in m for m in wrong.messages.en)
    assert any("ไฟล์ไม่ตรงกับลายมือชื่อ" in m for m in wrong.messages.th)
    src.write_bytes(src.read_bytes() + b"\n")  # one byte more
    assert (
        verify_cades(out, trust, at=AT, revocation="off").signatures[0].sub_indication
        is SubIndication.HASH_FAILURE
    )
    src.unlink()
    missing = verify_cades(out, trust, at=AT, revocation="off")
    (sig,) = missing.signatures
    assert (sig.indication, sig.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.SIGNED_DATA_NOT_FOUND,
    )
    assert sig.signer is not None and sig.signer.name == "นายสมชาย ใจดี"  # who signed is still said
    assert missing.verdict is Verdict.INDETERMINATE


def test_revoked_signer_before_signing_fails(
    tmp_path: Path, evidence: dict[str, Path], pki: TestPKI, pki_services: object, trust: TrustStore
) -> None:
    from support.pki import PASSPHRASE

    from thaisign.keys import Signer

    officer = pki.issue_officer("files-revoked")
    signer = Signer.from_pkcs12(officer.p12, PASSPHRASE)
    src = evidence["คำสั่งศาล.pdf"]
    out = tmp_path / "order.p7s"
    sign_file(src, out, signer, tsa=pki_services.tsa_url, signing_time=FIXED_TIME, level="B-T")  # type: ignore[attr-defined]
    pki_services.revoke(officer, when=FIXED_TIME - dt.timedelta(hours=1))  # type: ignore[attr-defined]
    try:
        sig = verify_cades(out, trust, data=src, at=AT, revocation="online").signatures[0]
    finally:
        pki_services.unrevoke_all()  # type: ignore[attr-defined]
    assert (sig.indication, sig.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
    assert sig.revocation.status == "revoked"


def test_archive_timestamp_v3_lists_what_it_covers(
    tmp_path: Path, evidence: dict[str, Path], ec_signer: SoftwareSigner, pki_services: object
) -> None:
    """The ats-hash-index-v3 names every certificate, revocation entry and unsigned attribute
    value present when it was made; the imprint recomputed by the verifier matches the token."""
    from thaisign.verify.cms import SignedContent, check_archive_stamps

    src = evidence["คำสั่งศาล.pdf"]
    out = tmp_path / "order.p7s"
    _sign(src, out, ec_signer, pki_services, level="B-LTA")
    signed_data = load_signed_data(out.read_bytes())
    signer_info = signed_data["signer_infos"][0]
    ((oid, token),) = ats.archive_tokens(signer_info)
    assert oid == ats.ARCHIVE_TIMESTAMP_V3
    index = ats.read_hash_index(token["signer_infos"][0])
    assert index is not None and index.version == ats.HASH_INDEX_V3
    certs_then = index.certificates
    assert (
        len(certs_then) >= 3 and len(index.crls) >= 2 and len(index.unsigned_attrs) == 1
    )  # the signature TS
    digest = hashlib.sha256(src.read_bytes()).digest()
    (stamp,) = check_archive_stamps(signed_data, signer_info, SignedContent(lambda a: digest), None)
    assert stamp.token.intact, stamp.token.problem
    # the time-stamp's own validation data came after it: present, but not in its index
    assert len(list(signed_data["certificates"])) >= len(certs_then)
    # changing anything the index lists breaks the time-stamp
    (flipped,) = check_archive_stamps(signed_data, signer_info, SignedContent(lambda a: b"\x00" * 32), None)
    assert not flipped.token.intact


def test_output_never_overwrites_input_and_usage_errors(
    tmp_path: Path, evidence: dict[str, Path], ec_signer: SoftwareSigner
) -> None:
    src = evidence["คำสั่งศาล.pdf"]
    before = src.read_bytes()
    with pytest.raises(OutputError):
        sign_file(src, src, ec_signer)
    with pytest.raises(UsageError):
        sign_file(src, tmp_path / "x.p7s", ec_signer, level="B-T")  # no TSA
    with pytest.raises(InputError):
        sign_file(tmp_path / "nope.bin", tmp_path / "x.p7s", ec_signer)
    assert src.read_bytes() == before
    assert not (tmp_path / "x.p7s").exists()


def test_sha384_and_rsa_signers(
    tmp_path: Path, evidence: dict[str, Path], rsa_signer: SoftwareSigner, pki: TestPKI, trust: TrustStore
) -> None:
    src = evidence["บันทึกเสียง.m4a"]
    out = tmp_path / "clip.p7s"
    sign_file(src, out, rsa_signer, FileSigningOptions(hash_algorithm="sha384", signing_time=FIXED_TIME))
    signer_info = load_signed_data(out.read_bytes())["signer_infos"][0]
    assert signer_info["digest_algorithm"]["algorithm"].native == "sha384"
    assert openssl_cms_verify(pki, out, src).returncode == 0
    assert verify_cades(out, trust, data=src, at=AT, revocation="off").verdict is Verdict.TOTAL_PASSED


def _counter_sign(
    content_info: cms.ContentInfo, signer: SoftwareSigner, *, digest_of_parent: bytes | None = None
):  # type: ignore[no-untyped-def]
    """A counter-signature (RFC 5652 11.4) over the first SignerInfo's signature value, built
    with asn1crypto and signed by ``signer``: message-digest and signing-time, no content-type."""
    from asn1crypto import algos

    from thaisign.files.cades import rebuild, unsigned_attributes, with_validation_data

    cert = asn1_x509.Certificate.load(signer.certificate.public_bytes(_der()))  # type: ignore[union-attr]
    content_info = with_validation_data(content_info, [cert], [], [])  # the counter-signer's certificate
    si = content_info["content"]["signer_infos"][0]
    parent = bytes(si["signature"].native)
    attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute(
                {"type": "message_digest", "values": [digest_of_parent or hashlib.sha256(parent).digest()]}
            ),
            cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": FIXED_TIME})]}),
        ]
    )
    counter = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {"issuer_and_serial_number": {"issuer": cert.issuer, "serial_number": cert.serial_number}}
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": attrs,
            "signature_algorithm": signer.signature_algorithm("sha256"),
            "signature": signer.sign(attrs.dump(), hash_algorithm="sha256"),
        }
    )
    value = cms.CMSAttribute({"type": "counter_signature", "values": [counter]})
    return rebuild(content_info, unsigned_attrs=[*unsigned_attributes(si), value])


def test_counter_signatures_are_checked(
    tmp_path: Path, evidence: dict[str, Path], ec_signer: SoftwareSigner, rsa_signer: SoftwareSigner,
    trust: TrustStore,
) -> None:  # fmt: skip
    """A second officer counter-signs the first one's signature: reported as a signature of its
    own that covers the first; a counter-signature over other bytes fails as HASH_FAILURE."""
    src = evidence["คำสั่งศาล.pdf"]
    out = tmp_path / "order.p7s"
    sign_file(src, out, ec_signer, signing_time=FIXED_TIME)
    ci = cms.ContentInfo.load(out.read_bytes())
    countered = tmp_path / "order-countered.pdf.p7s"
    countered.write_bytes(_counter_sign(ci, rsa_signer).dump())
    report = verify_cades(countered, trust, data=src, at=AT, revocation="off")
    main, counter = report.signatures
    assert main.indication is Indication.TOTAL_PASSED and counter.indication is Indication.TOTAL_PASSED
    assert counter.signer.name == "นางสาวสมหญิง รักไทย" and counter.covers == (countered.name,)  # type: ignore[union-attr]
    assert counter.field == f"{countered.name} / counter-signature 1"
    bad = tmp_path / "bad.p7s"
    bad.write_bytes(_counter_sign(ci, rsa_signer, digest_of_parent=b"\x00" * 32).dump())
    counter = verify_cades(bad, trust, data=src, at=AT, revocation="off").signatures[1]
    assert (counter.indication, counter.sub_indication) == (
        Indication.TOTAL_FAILED,
        SubIndication.HASH_FAILURE,
    )
