"""verify_pdf / verify_many: every signature of a PDF → a :class:`VerificationReport`.

>>> from thaisign.verify import TrustStore, verify_pdf
>>> report = verify_pdf("letter.pdf", TrustStore.from_paths(["agency-root.pem"]))
>>> report.verdict, [s.signer.name for s in report.signatures]

Built on pyHanko's validation (integrity, coverage, difference analysis against DocMDP /
FieldMDP, CMS and timestamp checks) and pyhanko-certvalidator (paths, revocation). thaisign adds
a strict /ByteRange check, a revocation answer that says "could not be checked" instead of
"invalid", the ETSI indication mapping, a time budget per file, and caching across a batch.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from thaisign.errors import UsageError
from thaisign.verify import messages as msg
from thaisign.verify.cache import BatchCache
from thaisign.verify.policy import ValidationPolicy
from thaisign.verify.report import (
    Coverage,
    Indication,
    Messages,
    Modifications,
    SignatureReport,
    SubIndication,
    VerificationReport,
)
from thaisign.verify.revocation import MODES, EmbeddedRevinfo
from thaisign.verify.trust import TrustStore
from thaisign.verify.validation import prepare_document_timestamp
from thaisign.verify.verdict import broken_report, coverage_facts, to_report

logger = logging.getLogger(__name__)

#: default time budget for one file, in seconds
DEFAULT_TIMEOUT = 20.0
_SUPPORTED_SUBFILTERS = {
    "/ETSI.CAdES.detached",
    "/adbe.pkcs7.detached",
    "/adbe.pkcs7.sha1",
    "/PBAD.PAdES",
    "/ETSI.RFC3161",
}


class _Timeout(BaseException):
    """The file's time budget ran out (a BaseException, so no library ``except Exception`` eats it)."""


@contextlib.contextmanager
def _time_budget(seconds: float | None) -> Iterator[None]:
    """Raise :class:`_Timeout` after ``seconds`` (main thread on POSIX only; else no budget).

    A signal can land where Python swallows exceptions (a ``__del__`` or weakref callback), so
    the timer repeats every 50 ms until the budget is disarmed, and a budget that expired while
    the work still finished is reported as a timeout all the same.
    """
    if not seconds or threading.current_thread() is not threading.main_thread() or os.name != "posix":
        yield
        return
    expired = False

    def _expire(signum: int, frame: object) -> None:
        nonlocal expired
        expired = True
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if expired:
        raise _Timeout()


def _check_mode(revocation: str) -> None:
    if revocation not in MODES:
        raise UsageError(f"unknown revocation mode {revocation!r}", hint="use 'online', 'offline' or 'off'")


def verify_pdf(
    source: str | os.PathLike[str] | bytes,
    trust: TrustStore | None = None,
    *,
    at: datetime | None = None,
    revocation: str = "online",
    timeout: float | None = DEFAULT_TIMEOUT,
    cache: BatchCache | None = None,
    name: str | None = None,
    policy: ValidationPolicy | None = None,
) -> VerificationReport:
    """Verify every signature and document timestamp of one PDF.

    ``trust`` defaults to :meth:`TrustStore.default`; ``at`` is the validation time (default:
    now); ``revocation`` is ``online`` (data in the file plus OCSP/CRL fetched where the policy's
    network setting allows), ``offline`` (only data embedded in the file) or ``off``; ``policy``
    is the :class:`~thaisign.verify.policy.ValidationPolicy` (default: Thai government letters).
    Never raises for a bad file: the report's verdict is then ``ERROR``.
    """
    _check_mode(revocation)
    if at is not None and at.tzinfo is None:
        raise UsageError("the validation time must include a time zone", hint="e.g. 2026-11-21T10:00+07:00")
    if isinstance(source, bytes | bytearray):
        data, label = bytes(source), name or "<bytes>"
    else:
        label = name or str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            return VerificationReport(label, error=f"cannot read file: {exc.strerror or exc}")
    if cache is not None and (
        cache.mode != revocation
        or (at is not None and cache.moment != at)
        or (policy is not None and cache.policy != policy)
    ):
        raise UsageError("the batch cache was made for another validation time, revocation mode or policy")
    trust = trust if trust is not None else TrustStore.default()
    own_cache = cache is None
    cache = cache or BatchCache(trust, at=at, revocation=revocation, policy=policy)
    try:
        with _time_budget(timeout):
            return VerificationReport(label, tuple(_verify_bytes(data, cache)))
    except _Timeout:
        cache.reset_loop()
        return VerificationReport(
            label, error=f"verification took longer than {timeout:g} s; the file is probably malformed"
        )
    except RecursionError:
        return VerificationReport(label, error="the PDF structure is cyclic or nested too deeply")
    except Exception as exc:  # a malformed file must never escape as a traceback
        logger.debug("verification of %s failed", label, exc_info=True)
        return VerificationReport(label, error=_describe_error(exc))
    finally:
        if own_cache:
            cache.close()


def _describe_error(exc: Exception) -> str:
    from pyhanko.pdf_utils.misc import PdfError

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, PdfError):
        return f"not a readable PDF: {text}"
    return f"cannot process the file: {type(exc).__name__}: {text}"


# --------------------------------------------------------------------------------------------


def _verify_bytes(data: bytes, cache: BatchCache) -> list[SignatureReport]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    from thaisign.verify.discovery import embedded_signature, find_signatures

    # pyHanko tolerates junk before the header, but a PDF must have one near the start
    if b"%PDF-" not in data[:1024]:
        raise ValueError("the file does not start with a PDF header")
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    if reader.encrypted:
        from pyhanko.pdf_utils.crypt import AuthStatus

        result = reader.decrypt(b"")
        if result.status == AuthStatus.FAILED:
            raise ValueError("the PDF is encrypted with a password")
    found = find_signatures(reader, data)
    if not found:
        return []
    embedded = _embedded_revinfo(reader)
    sigs: list[tuple[int, str, Any]] = []
    reports: list[SignatureReport] = []
    for sig in found:
        if _is_placeholder(sig.value):
            continue
        try:
            emb = embedded_signature(reader, sig)
        except Exception as exc:
            reports.append(broken_report(sig.name, sig.value, exc))
            continue
        with contextlib.suppress(Exception):
            embedded.add_archival(emb.signer_info, revision=emb.signed_revision, owner=sig.name)
        sigs.append((emb.signed_revision, sig.name, emb))
    sigs.sort(key=lambda t: t[0])
    doc_ts_revisions = [rev for rev, _, emb in sigs if emb.sig_object_type == "/DocTimeStamp"]
    session = cache.session_for(embedded)
    # document time-stamps first: the newest proves when everything before it existed
    prepared: dict[str, Any] = {}
    for _rev, fq_name, emb in sigs:
        if emb.sig_object_type != "/DocTimeStamp":
            continue
        try:
            ts = cache.run(prepare_document_timestamp(emb, session, data))
        except _Timeout:
            raise
        except Exception:
            logger.debug("document time-stamp %s unreadable", fq_name, exc_info=True)
            continue
        prepared[str(fq_name)] = ts
        session.ltv.timestamps.append(ts)
    if session.ltv.timestamps and cache.policy.use_document_timestamps:
        cache.run(session.ltv.validate_document_timestamps())
    elif session.ltv.timestamps:
        for ts in session.ltv.timestamps:  # policy: no proof of existence from them
            ts.poe = cache.moment
    for rev, fq_name, emb in sigs:
        later_doc_ts = any(r > rev for r in doc_ts_revisions)
        try:
            reports.append(
                cache.run(
                    _verify_signature(data, emb, session, embedded, later_doc_ts, prepared.get(str(fq_name)))
                )
            )
        except _Timeout:
            raise
        except Exception as exc:
            logger.debug("signature %s failed", fq_name, exc_info=True)
            reports.append(broken_report(fq_name, emb.sig_object, exc))
    return reports


def _is_placeholder(sig_obj_ref: Any) -> bool:
    """A signature dictionary whose /Contents is empty or all zeros: a field prepared, never signed."""
    try:
        contents = sig_obj_ref.get_object().raw_get("/Contents").get_object()
        raw = contents.original_bytes
    except Exception:
        return False
    return not raw.strip(b"\x00")


def _embedded_revinfo(reader: Any) -> EmbeddedRevinfo:
    from thaisign.verify.dss import read_dss

    try:
        return read_dss(reader)
    except Exception:
        logger.debug("unreadable /DSS ignored", exc_info=True)
        return EmbeddedRevinfo()


# --------------------------------------------------------------------------------------------


async def _verify_signature(
    data: bytes,
    emb: Any,
    session: Any,
    embedded: EmbeddedRevinfo,
    later_doc_ts: bool,
    doc_ts: Any = None,
) -> SignatureReport:
    from pyhanko.sign.validation.errors import SignatureValidationError

    from thaisign.verify.attacks import check_byte_range
    from thaisign.verify.validation import validate_signature

    subfilter = str(emb.sig_object.get("/SubFilter", ""))
    is_doc_ts = emb.sig_object_type == "/DocTimeStamp"
    kind = "document-timestamp" if is_doc_ts else "signature"
    if subfilter not in _SUPPORTED_SUBFILTERS:
        return SignatureReport(
            field=emb.field_name,
            kind=kind,
            indication=Indication.INDETERMINATE,
            sub_indication=SubIndication.GENERIC,
            intact=False,
            coverage=Coverage.PARTIAL,
            modifications=Modifications.NONE,
            trusted=False,
            messages=Messages(
                (msg.UNSUPPORTED[0] + f" ({subfilter})",), (msg.UNSUPPORTED[1] + f" ({subfilter})",)
            ),
            subfilter=subfilter,
        )
    br = check_byte_range(data, list(emb.byte_range), emb.pkcs7_content, getattr(emb, "contents_ref", None))
    try:
        if is_doc_ts:
            status = _document_timestamp_check(emb, session, doc_ts)
        else:
            status = await validate_signature(emb, session, sha1=subfilter == "/adbe.pkcs7.sha1")
    except SignatureValidationError as exc:
        try:
            coverage, mods = coverage_facts(data, emb, br)
        except Exception:  # integrity was never computed: nothing is known
            return broken_report(emb.field_name, emb.sig_object, exc)
        return broken_report(emb.field_name, emb.sig_object, exc, coverage=coverage, modifications=mods)
    return await to_report(data, emb, status, session, embedded, br, kind, subfilter, later_doc_ts)


def _document_timestamp_check(emb: Any, session: Any, doc_ts: Any) -> Any:
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import ModificationInfo

    from thaisign.verify.assess import assess_document_timestamp
    from thaisign.verify.validation import SignatureCheck

    if doc_ts is None:
        raise SignatureValidationError("the document time-stamp token cannot be read")
    token = doc_ts.token
    info = ModificationInfo(**emb.summarise_integrity_info())
    if token.tsa is None:
        raise SignatureValidationError(
            (token.problem or ("the document time-stamp token cannot be read",))[0]
        )
    assessment = assess_document_timestamp(session.ltv, doc_ts)
    return SignatureCheck(info, token.intact, token.intact, token.tsa, token.gen_time, assessment=assessment)
