"""Clients of the service used by the tests: pyHanko's CSCSigner (an independent CSC client),
and the checks of a signed PDF with pyHanko's validator and thaisign's verifier."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
from pathlib import Path
from typing import Any

import aiohttp
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.csc_signer import (
    CSCAuthorizationInfo,
    CSCAuthorizationManager,
    CSCServiceSessionInfo,
    CSCSigner,
    fetch_certs_in_csc_credential,
)
from support.pdfs import minimal_pdf


class PinAuthorization(CSCAuthorizationManager):
    """Asks credentials/authorize for a SAD bound to exactly the hashes about to be signed."""

    def __init__(
        self, session: aiohttp.ClientSession, info: CSCServiceSessionInfo, cred: Any, factor: dict[str, str]
    ) -> None:
        super().__init__(info, cred)
        self.session = session
        self.factor = factor
        self.requests: list[dict[str, Any]] = []

    async def authorize_signature(self, hash_b64s: list[str]) -> CSCAuthorizationInfo:
        body = self.format_csc_auth_request(
            pin=self.factor.get("PIN"), otp=self.factor.get("OTP"), hash_b64s=hash_b64s
        )
        self.requests.append(body)
        url = self.csc_session_info.endpoint_url("credentials/authorize")
        async with self.session.post(url, json=body, headers=self.auth_headers) as response:
            data = await response.json()
            if response.status != 200:
                raise PermissionError(data.get("error_description", response.status))
        return self.parse_csc_auth_response(data)


async def _pyhanko_sign(
    url: str, token: str, credential: str, factor: dict[str, str], pdf: bytes, at: dt.datetime
) -> bytes:
    info = CSCServiceSessionInfo(url, credential, oauth_token=token)
    async with aiohttp.ClientSession() as session:
        cred = await fetch_certs_in_csc_credential(session, info)
        signer = CSCSigner(session, PinAuthorization(session, info, cred, factor))
        meta = signers.PdfSignatureMetadata(
            field_name="Signature1", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
        )
        pdf_signer = signers.PdfSigner(meta, signer)
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        out = io.BytesIO()
        # pyHanko's signing session with the deployment's clock as the signing time
        session_ = pdf_signer.init_signing_session(writer)
        session_.system_time = at
        validation_info = await session_.perform_presign_validation(writer)
        reserved = await session_.estimate_signature_container_size(validation_info, tight=False)
        tbs = session_.prepare_tbs_document(validation_info=validation_info, bytes_reserved=reserved)
        digest, res_output = tbs.digest_tbs_document(output=out)
        from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

        post = await tbs.perform_signature(
            document_digest=digest.document_digest,
            pdf_cms_signed_attrs=PdfCMSSignedAttributes(signing_time=at),
        )
        await post.post_signature_processing(res_output)
        return out.getvalue()


def pyhanko_csc_sign(
    url: str, token: str, credential: str, factor: dict[str, str], at: dt.datetime, pdf: bytes | None = None
) -> bytes:
    """Sign a one-page PDF with pyHanko's CSCSigner through the service."""
    return asyncio.run(_pyhanko_sign(url, token, credential, factor, pdf or minimal_pdf(), at))


def pyhanko_status(pdf: bytes, root_pem: Path, at: dt.datetime) -> Any:
    """pyHanko's own validation of the last (non-timestamp) signature, trusting the agency root only."""
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    root = load_cert_from_pemder(str(root_pem))
    reader = PdfFileReader(io.BytesIO(pdf))
    sig = reader.embedded_regular_signatures[-1]
    context = ValidationContext(
        trust_roots=[root], moment=at, allow_fetching=False, revocation_mode="soft-fail"
    )
    return validate_pdf_signature(sig, context)


def thaisign_report(pdf: bytes, root_pem: Path, at: dt.datetime, revocation: str = "online") -> Any:
    from thaisign.verify import TrustStore, verify_pdf

    trust = TrustStore.from_paths([str(root_pem)])
    return verify_pdf(pdf, trust, at=at, revocation=revocation)


def b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()
