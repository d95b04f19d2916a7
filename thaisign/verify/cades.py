"""verify_cades: a CAdES signature file (``.p7s`` detached beside its data, ``.p7m`` enveloping).

>>> report = verify_cades("evidence.mp4.p7s", trust=TrustStore.from_paths("agency-root.pem"))
>>> report.verdict, report.data        # the data file found beside it: evidence.mp4

The signed data of a detached signature is ``data=`` or the file beside the signature whose
name is the signature's without its last suffix(es) (``x.pdf.p7s`` → ``x.pdf``). It is hashed
in one streaming pass with every algorithm the signature and its archive time-stamps need;
an enveloping signature larger than :data:`IN_MEMORY_LIMIT` is read the same way (its content
is hashed in place). Each SignerInfo is one signature in the report, judged by
:func:`thaisign.verify.cms.check_signer_info`. Never raises for a bad file.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms, core

from thaisign.errors import UsageError
from thaisign.verify.cache import BatchCache
from thaisign.verify.policy import ValidationPolicy
from thaisign.verify.report import SignatureReport, VerificationReport
from thaisign.verify.trust import TrustStore

logger = logging.getLogger(__name__)

#: signatures (and enveloping content) up to this size are parsed in memory
IN_MEMORY_LIMIT = 64 * 1024 * 1024
#: suffixes of signature files: ``name.pdf.p7s`` signs ``name.pdf``
SIGNATURE_SUFFIXES = (".p7s", ".p7m", ".pkcs7", ".p7", ".cms", ".sig", ".cades")
DEFAULT_TIMEOUT = 60.0

ERRORS_TH = {
    "not-cms": "ไฟล์นี้ไม่ใช่ลายมือชื่อแบบ CMS/CAdES ที่อ่านได้ ขอให้ผู้ส่งส่งมาใหม่",
    "too-large": "ไฟล์ลายมือชื่อใหญ่เกินกว่าจะตรวจได้ ขอลายมือชื่อแบบแยกไฟล์ (.p7s)",
    "read": "อ่านไฟล์ไม่ได้ ตรวจดูว่าไฟล์ยังอยู่และมีสิทธิ์เปิดอ่าน",
    "data": "อ่านไฟล์ข้อมูลที่ลงนามไม่ได้ ตรวจดูว่าไฟล์ยังอยู่และมีสิทธิ์เปิดอ่าน",
    "timeout": "ตรวจสอบนานเกินกำหนด ไฟล์น่าจะเสียหายหรือถูกดัดแปลง ขอให้ผู้ส่งส่งมาใหม่",
    "other": "ตรวจสอบไฟล์ลายมือชื่อไม่ได้ ขอให้ผู้ส่งส่งมาใหม่",
}


#: the detached data as a function: digest algorithm names -> {name: digest}
DataDigests = Callable[[list[str]], dict[str, bytes]]


class CmsFileError(Exception):
    """The signature file cannot be verified at all (``kind`` picks the Thai sentence)."""

    def __init__(self, message: str, kind: str = "not-cms") -> None:
        super().__init__(message)
        self.kind = kind


class _Raw(core.Sequence):
    """encapContentInfo read without interpreting the content (any content type, BER too)."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("content_type", cms.ContentType),
        ("content", core.OctetString, {"explicit": 0, "optional": True}),
    ]


def check_arguments(revocation: str, at: datetime | None) -> None:
    """A usage error for an unknown revocation mode or a validation time without a zone."""
    from thaisign.verify.pdf import _check_mode

    _check_mode(revocation)
    if at is not None and at.tzinfo is None:
        raise UsageError("the validation time must include a time zone", hint="e.g. 2026-11-21T10:00+07:00")


def data_beside(signature: Path) -> Path | None:
    """The file a detached signature stands beside: its name without the signature suffixes."""
    name = signature.name
    for _ in range(5):
        stem, dot, _suffix = name.rpartition(".")
        if not dot or not stem:
            return None
        name = stem
        candidate = signature.with_name(name)
        if candidate.is_file() and candidate != signature:
            return candidate
    return None


def load_signed_data(raw: bytes) -> cms.SignedData:
    """The SignedData of a CMS ContentInfo (DER, BER or PEM); :class:`CmsFileError` otherwise."""
    data = raw.strip() if raw[:1] in (b"-", b" ", b"\n", b"\r") else raw
    if data.startswith(b"-----BEGIN"):
        lines = [ln for ln in data.splitlines() if ln and not ln.startswith(b"-----")]
        try:
            data = base64.b64decode(b"".join(lines), validate=False)
        except (binascii.Error, ValueError):
            raise CmsFileError("not a CMS signature: unreadable PEM") from None
    try:
        info = cms.ContentInfo.load(data, strict=False)
        if info["content_type"].native != "signed_data":
            raise CmsFileError(f"not a CMS signature: content type {info['content_type'].native}")
        signed_data = info["content"]
        if not isinstance(signed_data, cms.SignedData) or len(signed_data["signer_infos"]) == 0:
            raise CmsFileError("not a CMS signature: no signer")
        return signed_data
    except CmsFileError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise CmsFileError(f"not a CMS signature: {text}") from None


def encapsulated_content(signed_data: cms.SignedData) -> bytes | None:
    """The eContent octets of an enveloping signature; None for a detached one."""
    raw = _Raw.load(signed_data["encap_content_info"].dump(), strict=False)
    content = raw["content"]
    return None if isinstance(content, core.Void) or content.native is None else bytes(content)


def verify_cades(
    source: str | os.PathLike[str] | bytes,
    trust: TrustStore | None = None,
    *,
    data: str | os.PathLike[str] | None = None,
    at: datetime | None = None,
    revocation: str = "online",
    timeout: float | None = DEFAULT_TIMEOUT,
    cache: BatchCache | None = None,
    name: str | None = None,
    policy: ValidationPolicy | None = None,
    data_digests: DataDigests | None = None,
    data_name: str | None = None,
) -> VerificationReport:
    """Verify every signature of one CAdES file (detached: against ``data`` or the file beside it).

    Parameters as :func:`~thaisign.verify.verify_pdf`; ``source`` may be the signature's bytes.
    ``data_digests`` (with ``data_name``) gives the detached data as a function from digest
    algorithms to digests instead (data that is not a file of its own, e.g. inside a ZIP).
    """
    from thaisign.verify.pdf import _time_budget, _Timeout

    check_arguments(revocation, at)
    label = name or ("<bytes>" if isinstance(source, bytes | bytearray) else str(source))
    trust = trust if trust is not None else TrustStore.default()
    own_cache = cache is None
    cache = cache or BatchCache(trust, at=at, revocation=revocation, policy=policy)
    data_path = Path(data) if data is not None else None
    try:
        with _time_budget(timeout):
            signed_data, content_digest, found = _open(source, data_path, data_digests, data_name)
            covers = (found,) if found else ()
            signatures = _check_all(signed_data, content_digest, cache, _field_name(label), covers)
            return VerificationReport(label, tuple(signatures), format="cades", data=covers)
    except CmsFileError as exc:
        return VerificationReport(label, error=str(exc), error_th=ERRORS_TH.get(exc.kind), format="cades")
    except _Timeout:
        cache.reset_loop()
        return VerificationReport(
            label,
            error=f"verification took longer than {timeout:g} s; the file is probably malformed",
            error_th=ERRORS_TH["timeout"],
            format="cades",
        )
    except RecursionError:
        return VerificationReport(
            label, error="the signature is nested too deeply", error_th=ERRORS_TH["not-cms"], format="cades"
        )
    except Exception as exc:  # a malformed file must never escape as a traceback
        logger.debug("verification of %s failed", label, exc_info=True)
        text = str(exc).splitlines()[0][:200] if str(exc) else ""
        return VerificationReport(
            label,
            error=f"cannot process the signature: {type(exc).__name__}: {text}",
            error_th=ERRORS_TH["other"],
            format="cades",
        )
    finally:
        if own_cache:
            cache.close()


def _field_name(label: str) -> str:
    return label.replace("\\", "/").rsplit("/", 1)[-1] or label


def _open(
    source: str | os.PathLike[str] | bytes,
    data: Path | None,
    data_digests: DataDigests | None = None,
    data_name: str | None = None,
) -> tuple[cms.SignedData, Callable[[str], bytes] | None, str | None]:
    """(SignedData, the content's digester or None, the data's name)."""
    from thaisign.files._envelope import locate_content
    from thaisign.verify.cms import digest_algorithms

    if isinstance(source, bytes | bytearray):
        raw: bytes = bytes(source)
        path = None
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise CmsFileError(f"cannot read file: {exc.strerror or exc}", "read") from None
        if size > IN_MEMORY_LIMIT:
            with path.open("rb") as fh:
                span = locate_content(fh, size)
            if span is None:
                raise CmsFileError(
                    f"the signature file is larger than {IN_MEMORY_LIMIT // (1024 * 1024)} MiB and is not "
                    "a DER enveloping signature",
                    "too-large",
                )
            signed_data = load_signed_data(span.detached)
            algorithms = digest_algorithms(signed_data)
            digests = _digest_region(path, span.offset, span.length, algorithms)
            return signed_data, _digester(digests), f"{path.name} (enveloped)"
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CmsFileError(f"cannot read file: {exc.strerror or exc}", "read") from None
    signed_data = load_signed_data(raw)
    algorithms = digest_algorithms(signed_data)
    content = encapsulated_content(signed_data)
    if content is not None:
        from thaisign.files._digest import digest_stream

        digests = _safe_digests(lambda algos: digest_stream(io.BytesIO(content), algos).digests, algorithms)
        label = f"{path.name} (enveloped)" if path is not None else "(enveloped)"
        return signed_data, _digester(digests), label
    if data_digests is not None:
        try:
            digests = _safe_digests(lambda algos: data_digests(algos), algorithms)
        except Exception as exc:
            raise CmsFileError(f"cannot read the signed data {data_name}: {exc}", "data") from None
        return signed_data, _digester(digests), data_name or "(data)"
    target = data if data is not None else (data_beside(path) if path is not None else None)
    if target is None:
        return signed_data, None, None
    from thaisign.files._digest import digest_file

    try:
        digests = _safe_digests(lambda algos: digest_file(target, algos).digests, algorithms)
    except Exception as exc:
        raise CmsFileError(f"cannot read the signed data {target}: {exc}", "data") from None
    return signed_data, _digester(digests), target.name


def _safe_digests(run: Callable[[list[str]], dict[str, bytes]], algorithms: set[str]) -> dict[str, bytes]:
    from thaisign.files._digest import HASHLIB_NAMES

    return run(sorted(a for a in algorithms if a in HASHLIB_NAMES))


def _digest_region(path: Path, offset: int, length: int, algorithms: set[str]) -> dict[str, bytes]:
    from thaisign.files._digest import digest_stream

    class _Region:
        def __init__(self, fh: Any) -> None:
            self._fh = fh
            self._left = length

        def read(self, n: int) -> bytes:
            chunk = self._fh.read(min(n, self._left)) if self._left > 0 else b""
            self._left -= len(chunk)
            return bytes(chunk)

    with path.open("rb") as fh:
        fh.seek(offset)
        return _safe_digests(lambda algos: digest_stream(_Region(fh), algos).digests, algorithms)


def _digester(digests: dict[str, bytes]) -> Callable[[str], bytes]:
    from thaisign.verify.tokens import AlgorithmRefused

    def digest(algorithm: str) -> bytes:
        try:
            return digests[algorithm]
        except KeyError:
            from thaisign.verify.file_messages import UNSUPPORTED_DIGEST
            from thaisign.verify.messages import fill

            raise AlgorithmRefused(fill(UNSUPPORTED_DIGEST, name=algorithm), unsupported=True) from None

    return digest


def _check_all(
    signed_data: cms.SignedData,
    digester: Callable[[str], bytes] | None,
    cache: BatchCache,
    label: str,
    covers: tuple[str, ...] = (),
) -> list[SignatureReport]:
    """One report per SignerInfo of ``signed_data``."""
    infos = list(signed_data["signer_infos"])
    reports = []
    for n, signer_info in enumerate(infos, 1):
        field = label if len(infos) == 1 else f"{label} #{n}"
        counters: list[SignatureReport] = []
        reports.append(
            check_one(signed_data, signer_info, digester, cache, field, covers, counters_out=counters)
        )
        reports.extend(counters)
    return reports


def check_one(
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    digester: Callable[[str], bytes] | None,
    cache: BatchCache,
    field: str,
    covers: tuple[str, ...] = (),
    *,
    extra_stamps: Sequence[Any] = (),
    counters_out: list[SignatureReport] | None = None,
) -> SignatureReport:
    """The report on one SignerInfo: its evidence and archive time-stamps, then the signature.

    ``extra_stamps``: time-stamp tokens (:class:`~thaisign.verify.tokens.TokenCheck`) over the
    whole signature from outside it (an ASiC archive manifest's). ``counters_out``: a list that
    receives the reports on the signature's counter-signatures.
    """
    from thaisign.verify.cms import (
        ArchiveStamp,
        SignedContent,
        check_archive_stamps,
        check_signer_info,
        embedded_evidence,
    )
    from thaisign.verify.ltv import DocTimestamp

    content = SignedContent(digester, covers)
    stamps = check_archive_stamps(signed_data, signer_info, content, cache.memo)
    outside = sorted(extra_stamps, key=lambda t: (t.gen_time is None, t.gen_time or datetime.min))
    stamps += [ArchiveStamp(len(stamps) + n, token, whole=True) for n, token in enumerate(outside, 1)]
    embedded = embedded_evidence(signed_data, signer_info, stamps, field)
    session = cache.session_for(embedded)
    for stamp in stamps:
        session.ltv.timestamps.append(
            DocTimestamp(f"{field}#archive-{stamp.number}", stamp.number, stamp.token)
        )
    if session.ltv.timestamps and cache.policy.use_document_timestamps:
        cache.run(session.ltv.validate_document_timestamps())
    report = cache.run(
        check_signer_info(session, signed_data, signer_info, content, field=field, stamps=stamps)
    )
    if counters_out is not None:
        from thaisign.verify.cms import check_counter_signatures

        counters_out.extend(
            cache.run(check_counter_signatures(session, signed_data, signer_info, field=field, stamps=stamps))
        )
    return report
