"""CMS signatures and RFC 3161 time-stamp tokens: integrity, the signer's certificate, algorithms.

:func:`cms_integrity` checks a SignerInfo the way pyHanko does (message digest, content type,
ESS signing certificate, CMSAlgorithmProtection) but verifies the signature value with
:mod:`thaisign.verify.algorithms` (SHA-3, RSASSA-PSS with its parameters checked, EdDSA) and
refuses inconsistent algorithm declarations first. :func:`check_token` does the same for a
time-stamp token and compares its message imprint; the token's own certificates and revocation
data are returned so that they can serve its validation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import cms, core, tsp
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    SignatureValidationContext,
    SignatureValidator,
)

from thaisign.verify.algorithms import (
    _HASHES,
    cms_algorithm_problem,
    verify_prehashed,
    verify_signature_value,
)


class AlgorithmRefused(Exception):
    """The signature's algorithms are inconsistent or unsupported (``.sentence`` says which)."""

    def __init__(self, sentence: tuple[str, str], *, unsupported: bool = False) -> None:
        super().__init__(sentence[0])
        self.sentence = sentence
        self.unsupported = unsupported


class _Validator(SignatureValidator):
    """pyHanko's signature-validator interface over :func:`verify_signature_value`."""

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: Any,
        signature_algorithm: Any,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        spki = public_key_info.dump()
        md = context.contextual_md_algorithm
        if context.prehashed:
            ok = verify_prehashed(spki, signature_algorithm, signature, signed_data, str(md))
        else:
            ok = verify_signature_value(
                spki, signature_algorithm, signature, signed_data, digest_algorithm=md
            )
        if ok is None:
            oid = signature_algorithm["algorithm"].dotted
            raise AlgorithmRefused(
                (f"the signature algorithm {oid} cannot be verified here", f"ตรวจอัลกอริทึมลายมือชื่อ {oid} ไม่ได้"),
                unsupported=True,
            )
        if not ok:
            raise InvalidSignature()


VALIDATOR = _Validator()


@dataclass(frozen=True)
class CmsIntegrity:
    intact: bool  # the message digest matches
    valid: bool  # the signature value verifies as declared
    cert: asn1_x509.Certificate
    other_certs: tuple[asn1_x509.Certificate, ...]
    md_algorithm: str
    mechanism: str


def cms_integrity(
    signed_data: cms.SignedData,
    actual_digest: bytes,
    expected_content_type: str,
    memo: dict[Any, Any] | None = None,
) -> CmsIntegrity:
    """Integrity of the first SignerInfo; raises pyHanko's SignatureValidationError for structure
    problems and :class:`AlgorithmRefused` for inconsistent algorithms."""
    from pyhanko.sign.general import CMSStructuralError, extract_signer_info
    from pyhanko.sign.validation import errors, generic_cms
    from pyhanko.sign.validation.errors import SignatureValidationError

    signer_info = extract_signer_info(signed_data)
    # .contents, not .dump(): dumping a BER (indefinite-length) SET re-encodes its certificates
    # in place, which changes their bytes and so their hash (ESS signing-certificate check)
    key = ("certs", _raw(signed_data["certificates"]), _raw(signer_info["sid"].chosen))
    cert_info = memo.get(key) if memo is not None else None
    if cert_info is None:
        cert_info = generic_cms.extract_certs_for_validation(signed_data)
        if memo is not None:
            memo[key] = cert_info
    problem = cms_algorithm_problem(signer_info)
    if problem:
        raise AlgorithmRefused(problem, unsupported="not supported" in problem[0])
    try:
        intact, valid = generic_cms.validate_sig_integrity(
            signer_info,
            cert_info.signer_cert,
            expected_content_type=expected_content_type,
            actual_digest=actual_digest,
            sig_validator=VALIDATOR,
        )
    except CMSStructuralError as exc:
        from pyhanko.sign.ades.report import AdESFailure

        raise SignatureValidationError(
            "CMS structural error: " + exc.failure_message, ades_subindication=AdESFailure.FORMAT_FAILURE
        ) from exc
    except errors.SignatureValidationError:
        raise
    return CmsIntegrity(
        intact,
        valid,
        cert_info.signer_cert,
        tuple(cert_info.other_certs),
        str(signer_info["digest_algorithm"]["algorithm"].native),
        str(signer_info["signature_algorithm"]["algorithm"].native),
    )


def _raw(value: Any) -> bytes:
    """The encoded contents of a parsed value as they are (empty when absent), never re-encoded."""
    return b"" if isinstance(value, core.Void) else bytes(value.contents or b"")


_NO_TSTINFO = ("the token does not contain a TSTInfo", "ข้อมูลการประทับเวลาไม่มีส่วน TSTInfo")
_IMPRINT = (
    "the time-stamp does not match the data it claims to time-stamp",
    "การประทับเวลาไม่ตรงกับข้อมูลที่อ้างว่าประทับ",
)
_TOKEN_DIGEST = ("the time-stamp token's own digest does not match", "ค่าแฮชภายในการประทับเวลาไม่ตรงกัน")
_TOKEN_SIGNATURE = ("the time-stamp token's signature does not verify", "ลายมือชื่อของการประทับเวลาตรวจไม่ผ่าน")
_UNREADABLE = ("the time-stamp token is unreadable or malformed", "อ่านการประทับเวลาไม่ได้หรือผิดรูปแบบ")


def digest(algorithm: str, *chunks: bytes) -> bytes:
    """Hash ``chunks`` with a CMS digest algorithm name (SHA-2 and SHA-3)."""
    from cryptography.hazmat.primitives import hashes

    cls = _HASHES.get(algorithm)
    if cls is None:
        raise AlgorithmRefused(
            (f"the digest algorithm {algorithm} is not supported", f"ไม่รองรับอัลกอริทึมย่อยข้อมูล {algorithm}"),
            unsupported=True,
        )
    h = hashes.Hash(cls())
    for chunk in chunks:
        h.update(chunk)
    return h.finalize()


@dataclass(frozen=True)
class TokenCheck:
    """An RFC 3161 time-stamp token, checked for integrity (not yet for trust)."""

    gen_time: datetime | None
    intact: bool  # imprint matches, digest matches, signature verifies
    tsa: asn1_x509.Certificate | None
    other_certs: tuple[asn1_x509.Certificate, ...] = ()
    crls: tuple[Any, ...] = ()
    ocsps: tuple[Any, ...] = ()
    problem: tuple[str, str] | None = None  # why it is not intact, in English and Thai
    sha256: str = ""
    signer_info: Any = None

    @property
    def tsa_name(self) -> str | None:
        if self.tsa is None:
            return None
        cn = self.tsa.subject.native.get("common_name")
        if isinstance(cn, list):
            cn = cn[-1]
        return None if cn is None else str(cn)


def check_token(
    signed_data: cms.SignedData, expected_imprint: Callable[[str], bytes], memo: dict[Any, Any] | None = None
) -> TokenCheck:
    """Check a time-stamp token against the data it must cover; never raises for bad tokens."""
    from pyhanko.sign.validation.errors import SignatureValidationError

    sha = hashlib.sha256(signed_data.dump()).hexdigest()
    gen_time = None
    try:
        content = signed_data["encap_content_info"]["content"]
        tst_info = content.parsed if isinstance(content, core.ParsableOctetString) else None
        if not isinstance(tst_info, tsp.TSTInfo):
            return TokenCheck(None, False, None, problem=_NO_TSTINFO, sha256=sha)
        gen_time = tst_info["gen_time"].native
        econtent = bytes(content)
        signer_info = signed_data["signer_infos"][0]
        md = str(signer_info["digest_algorithm"]["algorithm"].native)
        integrity = cms_integrity(signed_data, digest(md, econtent), "tst_info", memo)
        imprint = tst_info["message_imprint"]
        algo = str(imprint["hash_algorithm"]["algorithm"].native)
        imprint_ok = expected_imprint(algo) == imprint["hashed_message"].native
        crls, ocsps = _token_revinfo(signed_data)
        problem = None
        if not imprint_ok:
            problem = _IMPRINT
        elif not integrity.intact:
            problem = _TOKEN_DIGEST
        elif not integrity.valid:
            problem = _TOKEN_SIGNATURE
        return TokenCheck(
            gen_time,
            problem is None,
            integrity.cert,
            integrity.other_certs,
            crls,
            ocsps,
            problem,
            sha,
            signer_info,
        )
    except AlgorithmRefused as exc:
        en, th = exc.sentence
        return TokenCheck(
            gen_time, False, None, problem=(f"time-stamp token: {en}", f"การประทับเวลา: {th}"), sha256=sha
        )
    except (
        SignatureValidationError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        IndexError,
        NotImplementedError,
    ):
        return TokenCheck(gen_time, False, None, problem=_UNREADABLE, sha256=sha)


class _CrlVals(core.SequenceOf):
    _child_spec = asn1_crl.CertificateList


class _OcspVals(core.SequenceOf):
    _child_spec = asn1_ocsp.BasicOCSPResponse


class RevocationValues(core.Sequence):
    """CAdES ``RevocationValues`` (ETSI EN 319 122-1), the parts thaisign reads."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("crl_vals", _CrlVals, {"explicit": 0, "optional": True}),
        ("ocsp_vals", _OcspVals, {"explicit": 1, "optional": True}),
    ]


def wrap_basic_ocsp(basic: asn1_ocsp.BasicOCSPResponse) -> asn1_ocsp.OCSPResponse:
    """A BasicOCSPResponse as a complete, successful OCSPResponse."""
    return asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    )


def revocation_values(attrs: Any) -> tuple[list[Any], list[Any]]:
    """CRLs and OCSP responses in ``id-aa-ets-revocationValues`` attributes of ``attrs``."""
    crls: list[Any] = []
    ocsps: list[Any] = []
    for attr in attrs or ():
        if attr["type"].dotted != "1.2.840.113549.1.9.16.2.24":
            continue
        for value in attr["values"]:
            try:
                parsed = RevocationValues.load(value.dump())
                crls.extend(parsed["crl_vals"] or ())
                ocsps.extend(wrap_basic_ocsp(b) for b in parsed["ocsp_vals"] or ())
            except (ValueError, TypeError, KeyError):
                continue
    return crls, ocsps


def _token_revinfo(signed_data: cms.SignedData) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """CRLs and OCSP responses a token carries (SignedData crls, CAdES revocation values)."""
    crls: list[Any] = []
    ocsps: list[Any] = []
    for choice in signed_data["crls"] or ():
        if choice.name == "crl":
            crls.append(choice.chosen)
        elif choice.name == "other":
            other = choice.chosen
            if other["other_rev_info_format"].dotted == "1.3.6.1.5.5.7.16.2":  # id-ri-ocsp-response
                try:
                    ocsps.append(asn1_ocsp.OCSPResponse.load(other["other_rev_info"].dump()))
                except ValueError:
                    continue
    for signer_info in signed_data["signer_infos"]:
        more_crls, more_ocsps = revocation_values(signer_info["unsigned_attrs"])
        crls.extend(more_crls)
        ocsps.extend(more_ocsps)
    return tuple(crls), tuple(ocsps)


def signature_tokens(signer_info: cms.SignerInfo) -> list[cms.SignedData]:
    """The signature time-stamp tokens in a SignerInfo's unsigned attributes."""
    out = []
    for attr in signer_info["unsigned_attrs"] or ():
        if attr["type"].native != "signature_time_stamp_token":
            continue
        for value in attr["values"]:
            out.append(value["content"])
    return out
