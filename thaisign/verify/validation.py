"""One signature or document time-stamp: integrity, coverage, differences, CMS, then the long-term validation.

Integrity and coverage are pyHanko's (``integrity_then_differences``); the changes after
signing are judged by :mod:`thaisign.verify.changes`;
the CMS signature value is verified by :mod:`thaisign.verify.tokens` (algorithms checked for
consistency, SHA-3 and RSASSA-PSS verified as declared); ``adbe.pkcs7.sha1`` is accepted (the
CMS encapsulates the SHA-1 of the byte ranges). Trust, time and revocation come from
:mod:`thaisign.verify.assess` (ETSI EN 319 102-1 long-term validation), whose chain work the
batch cache shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thaisign.verify.assess import Assessment
    from thaisign.verify.cache import FileSession


@dataclass
class SignatureCheck:
    """What the validation of one /Sig found (pyHanko's integrity facts plus thaisign's)."""

    info: Any  # pyhanko ModificationInfo: coverage, diff_result, docmdp_ok
    intact: bool  # the digest over the byte ranges matches
    valid: bool  # the signature value verifies as declared
    signing_cert: Any
    claimed: datetime | None
    assessment: Assessment | None = None
    algorithm_problem: tuple[str, str] | None = None  # why the algorithms are refused (en, th)
    algorithm_unsupported: bool = False
    seed_value_constraint_error: Any = None

    # the names verdict.py's coverage functions read from a pyHanko status
    @property
    def coverage(self) -> Any:
        return self.info.coverage

    @property
    def modification_level(self) -> Any:
        return self.info.modification_level

    @property
    def docmdp_ok(self) -> Any:
        return self.info.docmdp_ok

    @property
    def diff_result(self) -> Any:
        return self.info.diff_result


async def validate_signature(emb: Any, session: FileSession, *, sha1: bool = False) -> SignatureCheck:
    """Validate one ``/Sig``: integrity and differences, CMS, then the signer's long-term validation."""
    from pyhanko.sign.ades.report import AdESFailure
    from pyhanko.sign.general import extract_signer_info
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.generic_cms import extract_self_reported_ts
    from pyhanko.sign.validation.status import ModificationInfo

    from thaisign.verify.assess import assess_signature
    from thaisign.verify.tokens import AlgorithmRefused, cms_integrity, digest

    if emb.sig_object_type != "/Sig":
        raise SignatureValidationError("signature object type must be /Sig")
    integrity_then_differences(emb, session)
    info = ModificationInfo(**emb.summarise_integrity_info())
    signed_data = emb.signed_data
    signer_info = extract_signer_info(signed_data)
    claimed = extract_self_reported_ts(signer_info) or emb.self_reported_timestamp
    eci = signed_data["encap_content_info"]
    memo = session.cache.memo
    try:
        if sha1:
            # adbe.pkcs7.sha1: the CMS encapsulates the SHA-1 digest of the byte ranges
            econtent = bytes(eci["content"])
            md = str(signer_info["digest_algorithm"]["algorithm"].native)
            integrity = cms_integrity(
                signed_data, digest(md, econtent), str(eci["content_type"].native), memo
            )
            intact = integrity.intact and econtent == emb.compute_digest("sha1")
        else:
            # a CMS may carry the signed bytes themselves (DSS "enveloping" PAdES): byte for byte
            # what the /ByteRange covers, its digest is the same; any other content is refused
            if eci["content"].native is not None and not _envelops_signed_bytes(emb):
                raise SignatureValidationError(
                    "CMS structural error: detached signatures should not have encapsulated data",
                    ades_subindication=AdESFailure.FORMAT_FAILURE,
                )
            md = str(signer_info["digest_algorithm"]["algorithm"].native)
            integrity = cms_integrity(
                signed_data, emb.compute_digest(md), str(eci["content_type"].native), memo
            )
            intact = integrity.intact
    except AlgorithmRefused as exc:
        cert = _signer_cert_or_none(signed_data, memo)
        return SignatureCheck(
            info,
            True,
            False,
            cert,
            claimed,
            algorithm_problem=exc.sentence,
            algorithm_unsupported=exc.unsupported,
        )
    check = SignatureCheck(info, intact, integrity.valid, integrity.cert, claimed)
    if not (intact and integrity.valid):
        return check
    revision = int(emb.signed_revision)
    file_ltv = session.ltv
    check.assessment = await assess_signature(
        file_ltv, integrity, signer_info, str(emb.field_name), revision, claimed, memo
    )
    # the signature field's seed-value constraints (/SV), as pyHanko checks them
    from pyhanko.sign.validation.pdf_embedded import report_seed_value_validation

    assessment = check.assessment
    path = None
    if assessment.use is not None and assessment.use.chain is not None and assessment.use.chain.ok:
        from thaisign.verify.chain import validation_path

        assert assessment.use.chain.path is not None
        path = validation_path(assessment.use.chain.path, session.cache.ltv.chains.anchors)
    ts_ok = assessment.timestamp is not None and assessment.timestamp.intact and assessment.timestamp.trusted
    sv = report_seed_value_validation(emb, path, ts_ok)  # type: ignore[arg-type]  # None: no path
    check.seed_value_constraint_error = sv.get("seed_value_constraint_error")
    return check


def _signer_cert_or_none(signed_data: Any, memo: dict[Any, Any]) -> Any:
    from pyhanko.sign.validation import generic_cms

    try:
        return generic_cms.extract_certs_for_validation(signed_data).signer_cert
    except Exception:
        return None


async def prepare_document_timestamp(emb: Any, session: FileSession, data: bytes) -> Any:
    """Integrity and differences of one ``/DocTimeStamp``, and its token checked against the document."""
    from thaisign.verify.ltv import DocTimestamp
    from thaisign.verify.tokens import check_token, digest

    integrity_then_differences(emb, session)
    byte_range = [int(x) for x in emb.byte_range]
    chunks = [
        data[byte_range[i] : byte_range[i] + byte_range[i + 1]] for i in range(0, len(byte_range) - 1, 2)
    ]
    token = check_token(emb.signed_data, lambda algo: digest(algo, *chunks), session.cache.memo)
    return DocTimestamp(str(emb.field_name), int(emb.signed_revision), token)


def integrity_then_differences(emb: Any, session: FileSession) -> None:
    """Digest and coverage (pyHanko); the changes after signing are judged later, by thaisign.

    pyHanko's difference analysis is stricter than EU DSS on legitimate updates (DSS/VRI,
    annotations, full rewrites) and blind to what a page shows; thaisign's own analysis
    (:mod:`thaisign.verify.changes`) runs when the report is made (``verdict.change_report``).
    """
    emb.compute_integrity_info(diff_policy=session.diff_policy, skip_diff=True)


def _envelops_signed_bytes(emb: Any) -> bool:
    """The encapsulated content is exactly the bytes the /ByteRange covers (and not empty)."""
    from asn1crypto import core

    content = emb.signed_data["encap_content_info"]["content"]
    if content is core.VOID or content.native is None:
        return False
    try:
        raw = bytes(content.contents)
        start1, len1, start2, len2 = (int(v) for v in emb.byte_range)
    except (TypeError, ValueError):
        return False
    if not raw or len(raw) != len1 + len2:
        return False
    stream = emb.reader.stream
    stream.seek(start1)
    first = stream.read(len1)
    stream.seek(start2)
    return bool(raw == first + stream.read(len2))
