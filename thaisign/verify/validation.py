"""One signature through pyHanko's pieces: integrity, coverage, differences, timing, CMS and trust.

This mirrors :func:`pyhanko.sign.validation.pdf_embedded.async_validate_pdf_signature`, with
three differences: it also accepts ``adbe.pkcs7.sha1`` (the signed content is the SHA-1 of the
byte ranges); it accepts signer certificates with digitalSignature *or* nonRepudiation, as
Adobe Reader does; and the signer's path validation is answered by the batch cache. Changes
after signing are judged by :mod:`thaisign.verify.changes`, not by pyHanko's difference analysis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thaisign.verify.cache import FileSession


def key_usage() -> Any:
    """Signer key usage accepted: digitalSignature or nonRepudiation (either is enough)."""
    from pyhanko.sign.validation.settings import KeyUsageConstraints

    return KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False)


async def validate_signature(emb: Any, session: FileSession, *, sha1: bool = False) -> Any:
    """A :class:`pyhanko.sign.validation.status.PdfSignatureStatus` for one ``/Sig``."""
    from pyhanko.sign.validation import generic_cms
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import PdfSignatureStatus

    if emb.sig_object_type != "/Sig":
        raise SignatureValidationError("signature object type must be /Sig")
    vc = session.vc
    integrity_then_differences(emb, session)
    status_kwargs = emb.summarise_integrity_info()
    status_kwargs.update(
        await generic_cms.collect_timing_info(emb.signer_info, vc, raw_digest=emb.compute_digest)
    )
    if "signer_reported_dt" not in status_kwargs:
        claimed = emb.self_reported_timestamp
        if claimed is not None:
            status_kwargs["signer_reported_dt"] = claimed
    signed_data = emb.signed_data
    if sha1:
        # adbe.pkcs7.sha1: the CMS encapsulates the SHA-1 digest of the byte ranges
        econtent = signed_data["encap_content_info"]["content"]
        status_kwargs = await cms_validation(signed_data, None, session, status_kwargs)
        if econtent.native != emb.compute_digest("sha1"):
            status_kwargs["intact"] = False
    elif _envelops_signed_bytes(emb):
        # the CMS carries the signed bytes themselves (DSS "enveloping" PAdES): the digest is
        # then taken over that copy, which is byte for byte what the /ByteRange covers
        status_kwargs = await cms_validation(signed_data, None, session, status_kwargs)
    else:
        status_kwargs = await cms_validation(signed_data, emb.compute_digest(), session, status_kwargs)
    # the signature field's seed-value constraints (/SV), as pyHanko checks them
    from pyhanko.sign.validation.pdf_embedded import report_seed_value_validation

    tst = status_kwargs.get("timestamp_validity")
    status_kwargs.update(
        report_seed_value_validation(
            emb, status_kwargs["validation_path"], tst is not None and tst.valid and tst.trusted
        )
    )
    return PdfSignatureStatus(**status_kwargs)


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


async def cms_validation(
    signed_data: Any, raw_digest: bytes | None, session: FileSession, status_kwargs: dict[str, Any]
) -> dict[str, Any]:
    """pyHanko's ``cms_basic_validation``, with the trust step answered by the batch cache.

    Integrity, algorithm policy and the signature value are checked for every file; the path
    validation of the signer certificate (the expensive part) once per certificate, set of
    embedded certificates and revocation data, per batch.
    """
    from asn1crypto import core
    from cryptography.hazmat.primitives import hashes
    from pyhanko.sign.ades.report import AdESFailure
    from pyhanko.sign.general import CMSStructuralError, extract_signer_info
    from pyhanko.sign.validation import errors, generic_cms
    from pyhanko.sign.validation.utils import CMSAlgorithmUsagePolicy
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    from thaisign.verify.cache import remember

    vc = session.vc
    signer_info = extract_signer_info(signed_data)
    memo = session.cache.memo
    # which embedded certificate is the signer's: the same answer for the same certificates and
    # signer identifier (the signing-certificate attribute is still checked for every file below)
    certs_key = ("certs", signed_data["certificates"].dump(), signer_info["sid"].dump())
    cert_info = memo.get(certs_key)
    if cert_info is None:
        cert_info = remember(memo, certs_key, generic_cms.extract_certs_for_validation(signed_data))
    cert, other_certs = cert_info.signer_cert, cert_info.other_certs
    algorithm_policy = CMSAlgorithmUsagePolicy.lift_policy(vc.algorithm_policy)
    mechanism = signer_info["signature_algorithm"]["algorithm"].native
    md_algorithm = signer_info["digest_algorithm"]["algorithm"].native
    eci = signed_data["encap_content_info"]
    expected_content_type = eci["content_type"].native
    if raw_digest is None:
        md = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        md.update(bytes(eci["content"]))
        raw_digest = md.finalize()
    elif eci["content"] is not core.VOID:
        raise errors.SignatureValidationError(
            "CMS structural error: detached signatures should not have encapsulated data",
            ades_subindication=AdESFailure.FORMAT_FAILURE,
        )
    ades_status = error_time_horizon = None
    # the algorithm policy's answer depends only on the algorithms, the key and the time:
    # a pass is remembered for the batch, a refusal is always re-derived
    alg_key = (
        "algorithms",
        signer_info["signature_algorithm"].dump(),
        signer_info["digest_algorithm"].dump(),
        cert.public_key.dump(),
        vc.best_signature_time,
    )
    if alg_key not in memo:
        try:
            generic_cms._enforce_algorithm_usage(
                signer_info, cert, algorithm_usage_policy=algorithm_policy, time_indic=vc.best_signature_time
            )
            remember(memo, alg_key, True)
        except errors.DisallowedAlgorithmError as exc:
            ades_status, error_time_horizon = exc.ades_subindication, exc.time_horizon
    try:
        intact, valid = generic_cms.validate_sig_integrity(
            signer_info,
            cert,
            expected_content_type=expected_content_type,
            actual_digest=raw_digest,
            sig_validator=vc.sig_validator,
        )
    except CMSStructuralError as exc:
        raise errors.SignatureValidationError(
            "CMS structural error: " + exc.failure_message, ades_subindication=AdESFailure.FORMAT_FAILURE
        ) from exc
    path = revo_details = None
    if valid and ades_status is None:
        trust = await session.cache.signer_trust(cert, other_certs, session)
        ades_status, revo_details, path = trust.error_subindic, trust.revo_details, trust.path
        error_time_horizon = trust.error_time_horizon
    status_kwargs.update(
        qualification_result=None,
        validation_time=vc.moment,
        intact=intact,
        valid=valid,
        signing_cert=cert,
        md_algorithm=md_algorithm,
        pkcs7_signature_mechanism=mechanism,
        trust_problem_indic=ades_status,
        validation_path=path,
        revocation_details=revo_details,
        error_time_horizon=error_time_horizon,
    )
    return status_kwargs


async def validate_document_timestamp(emb: Any, session: FileSession) -> Any:
    """A :class:`pyhanko.sign.validation.status.DocumentTimestampStatus` for one ``/DocTimeStamp``."""
    from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_timestamp

    integrity_then_differences(emb, session)
    return await async_validate_pdf_timestamp(emb, validation_context=session.vc, skip_diff=True)


def integrity_then_differences(emb: Any, session: FileSession) -> None:
    """Digest and coverage (pyHanko); the changes after signing are judged later, by thaisign.

    pyHanko's difference analysis is stricter than EU DSS on legitimate updates (DSS/VRI,
    annotations, full rewrites) and blind to what a page shows; thaisign's own analysis
    (:mod:`thaisign.verify.changes`) runs when the report is made (``verdict.change_report``).
    """
    emb.compute_integrity_info(diff_policy=session.diff_policy, skip_diff=True)
