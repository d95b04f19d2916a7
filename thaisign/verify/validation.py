"""One signature through pyHanko's pieces: integrity, coverage, differences, timing, CMS and trust.

This mirrors :func:`pyhanko.sign.validation.pdf_embedded.async_validate_pdf_signature`, with
two differences: it also accepts ``adbe.pkcs7.sha1`` (the signed content is the SHA-1 of the
byte ranges) and it accepts signer certificates with digitalSignature *or* nonRepudiation, as
Adobe Reader does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thaisign.verify.cache import FileSession


def key_usage() -> Any:
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
        status_kwargs = await generic_cms.cms_basic_validation(
            signed_data,
            raw_digest=None,
            validation_context=vc,
            status_kwargs=status_kwargs,
            key_usage_settings=session.key_usage,
        )
        if econtent.native != emb.compute_digest("sha1"):
            status_kwargs["intact"] = False
    else:
        status_kwargs = await generic_cms.cms_basic_validation(
            signed_data,
            raw_digest=emb.compute_digest(),
            validation_context=vc,
            status_kwargs=status_kwargs,
            key_usage_settings=session.key_usage,
        )
    return PdfSignatureStatus(**status_kwargs)


async def validate_document_timestamp(emb: Any, session: FileSession) -> Any:
    """A :class:`pyhanko.sign.validation.status.DocumentTimestampStatus` for one ``/DocTimeStamp``."""
    from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_timestamp

    integrity_then_differences(emb, session)
    return await async_validate_pdf_timestamp(emb, validation_context=session.vc, skip_diff=True)


def integrity_then_differences(emb: Any, session: FileSession) -> None:
    """Digest and coverage first; then the difference analysis, whose crash means "suspicious".

    A later revision that pyHanko cannot even parse must not hide the fact that the signed
    revision itself is intact, nor may it pass as an allowed change.
    """
    from pyhanko.sign.diff_analysis import SuspiciousModification

    emb.compute_integrity_info(diff_policy=session.diff_policy, skip_diff=True)
    try:
        emb.diff_result = emb.evaluate_modifications(session.diff_policy)
    except Exception as exc:
        emb.diff_result = SuspiciousModification(f"later revision cannot be analysed: {exc}")
