"""verify_asic: an ASiC-E or ASiC-S container (``.asice``/``.sce``, ``.asics``/``.scs``).

>>> report = verify_asic("case-123.asice", trust)
>>> report.verdict, report.unsigned        # files no signature covers are named

ASiC-E: each ``META-INF/ASiCManifest*.xml`` names a signature (or a time-stamp) and lists
data files with digests. The signature is a detached CAdES over the manifest's bytes, judged
by :func:`thaisign.verify.cades.check_one`; then every listed file must be present
(else INDETERMINATE/SIGNED_DATA_NOT_FOUND) with the listed digest (else
TOTAL_FAILED/HASH_FAILURE). ``META-INF/ASiCArchiveManifest*.xml`` time-stamps give proof of
existence to the signatures they list. ASiC-S: ``META-INF/signature*.p7s`` over the one data
file (a second data file is a FORMAT_FAILURE). A time-stamp over a manifest or the ASiC-S file
is a ``document-timestamp`` entry. Data files that no signature's manifest lists are
:attr:`~thaisign.verify.report.VerificationReport.unsigned`, which keeps the container from
TOTAL_PASSED. The container is read by :mod:`thaisign.files.container` (bounded, never
extracted). Never raises for a bad file.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from thaisign.files.container import Container, ContainerError, Entry, entry_label, open_container
from thaisign.files.manifest import Manifest, ManifestError, parse_manifest
from thaisign.verify import file_messages as fmsg
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
from thaisign.verify.trust import TrustStore

logger = logging.getLogger(__name__)
DEFAULT_TIMEOUT = 120.0
_ERROR_TH = "ตรวจสอบไฟล์รวมไม่ได้ ขอให้ผู้ส่งส่งมาใหม่"


def verify_asic(
    source: str | os.PathLike[str],
    trust: TrustStore | None = None,
    *,
    at: datetime | None = None,
    revocation: str = "online",
    timeout: float | None = DEFAULT_TIMEOUT,
    cache: BatchCache | None = None,
    name: str | None = None,
    policy: ValidationPolicy | None = None,
    container: Container | None = None,
) -> VerificationReport:
    """Verify every signature and time-stamp of one ASiC container (parameters as
    :func:`~thaisign.verify.verify_pdf`; ``container`` an already open one, e.g. inside a bundle)."""
    from thaisign.verify.cades import check_arguments
    from thaisign.verify.pdf import _time_budget, _Timeout

    check_arguments(revocation, at)
    label = name or str(source)
    trust = trust if trust is not None else TrustStore.default()
    own_cache = cache is None
    cache = cache or BatchCache(trust, at=at, revocation=revocation, policy=policy)
    kind = "asic-e"
    try:
        with _time_budget(timeout):
            box = container if container is not None else open_container(source, label)
            try:
                kind = box.kind or _kind_by_name(label)
                return _verify(box, kind, cache, label)
            finally:
                if container is None:
                    box.close()
    except ContainerError as exc:
        return VerificationReport(label, error=exc.message, error_th=exc.th or _ERROR_TH, format=kind)
    except _Timeout:
        cache.reset_loop()
        return VerificationReport(
            label,
            error=f"verification took longer than {timeout:g} s; the container is probably malformed",
            error_th="ตรวจสอบนานเกินกำหนด ไฟล์รวมน่าจะเสียหายหรือถูกดัดแปลง ขอให้ผู้ส่งส่งมาใหม่",
            format=kind,
        )
    except RecursionError:
        return VerificationReport(
            label, error="the container is nested too deeply", error_th=_ERROR_TH, format=kind
        )
    except Exception as exc:  # a malformed file must never escape as a traceback
        logger.debug("verification of %s failed", label, exc_info=True)
        text = str(exc).splitlines()[0][:200] if str(exc) else ""
        return VerificationReport(
            label,
            error=f"cannot process the container: {type(exc).__name__}: {text}",
            error_th=_ERROR_TH,
            format=kind,
        )
    finally:
        if own_cache:
            cache.close()


def _kind_by_name(label: str) -> str:
    return "asic-s" if label.lower().endswith((".asics", ".scs")) else "asic-e"


def _verify(box: Container, kind: str, cache: BatchCache, label: str) -> VerificationReport:
    data = box.data_files
    if kind == "asic-s":
        reports, covered = _asic_s(box, data, cache)
    else:
        reports, covered = _asic_e(box, cache)
    if not box.mimetype_first_and_stored:
        reports = [_with_note(r, fmsg.MIMETYPE_ODD) for r in reports]
    names = [entry_label(e) for e in data]
    unsigned = tuple(entry_label(e) for e in data if e.name not in covered)
    everything = {e.name for e in data}
    reports = [
        dataclasses.replace(r, coverage=Coverage.PARTIAL)
        if r.covers and r.coverage is Coverage.ENTIRE_FILE and not everything <= set(r.covers)
        else r
        for r in reports
    ]
    return VerificationReport(label, tuple(reports), format=kind, data=tuple(names), unsigned=unsigned)


def _digester(box: Container, entry: Entry, algorithms: set[str]) -> Callable[[str], bytes]:
    from thaisign.files._digest import HASHLIB_NAMES
    from thaisign.verify.cades import _digester as make

    return make(box.digest(entry, [a for a in sorted(algorithms) if a in HASHLIB_NAMES]).digests)


def _bytes_digester(data: bytes) -> Callable[[str], bytes]:
    from thaisign.files.ats import digest_of
    from thaisign.verify.tokens import AlgorithmRefused

    def digest(algorithm: str) -> bytes:
        try:
            return digest_of(algorithm, data)
        except ValueError:
            from thaisign.verify.file_messages import UNSUPPORTED_DIGEST
            from thaisign.verify.messages import fill

            raise AlgorithmRefused(fill(UNSUPPORTED_DIGEST, name=algorithm), unsupported=True) from None

    return digest


# --- ASiC-S ------------------------------------------------------------------------------------


def _asic_s(box: Container, data: list[Entry], cache: BatchCache) -> tuple[list[SignatureReport], set[str]]:
    from thaisign.verify.cades import check_one, load_signed_data
    from thaisign.verify.cms import digest_algorithms

    reports: list[SignatureReport] = []
    covered: set[str] = set()
    target = data[0] if len(data) == 1 else None
    covers = (entry_label(target),) if target is not None else ()
    for sig_entry in box.meta_files(r"META-INF/signature[^/]*\.p7s"):
        signed_data = load_signed_data(box.read(sig_entry))
        digester = _digester(box, target, digest_algorithms(signed_data)) if target is not None else None
        for si in signed_data["signer_infos"]:
            counters: list[SignatureReport] = []
            report = check_one(
                signed_data, si, digester, cache, sig_entry.name, covers, counters_out=counters
            )
            if len(data) > 1:
                report = _fail(
                    report,
                    Indication.TOTAL_FAILED,
                    SubIndication.FORMAT_FAILURE,
                    msg.fill(fmsg.ASICS_EXTRA, count=str(len(data))),
                )
            reports.append(report)
            reports.extend(counters)
        if target is not None:
            covered.add(target.name)
    for ts_entry in box.meta_files(r"META-INF/timestamp[^/]*\.tst"):
        if target is not None:
            reports.append(_time_assertion(box, ts_entry, _entry_imprint(box, target), cache, covers))
    return reports, covered


def _entry_imprint(box: Container, entry: Entry) -> Callable[[str], bytes]:
    memo: dict[str, bytes] = {}

    def imprint(algorithm: str) -> bytes:
        if algorithm not in memo:
            memo[algorithm] = _digester(box, entry, {algorithm})(algorithm)
        return memo[algorithm]

    return imprint


# --- ASiC-E ------------------------------------------------------------------------------------


def _asic_e(box: Container, cache: BatchCache) -> tuple[list[SignatureReport], set[str]]:
    reports: list[SignatureReport] = []
    covered: set[str] = set()
    named: set[str] = set()
    archive = _archive_stamps(box, cache)
    for man_entry in box.meta_files(r"META-INF/ASiCManifest[^/]*\.xml"):
        raw = box.read(man_entry)
        try:
            manifest = parse_manifest(raw)
        except ManifestError as exc:
            reports.append(_broken(man_entry.name, msg.fill(fmsg.MANIFEST_BROKEN, why=str(exc))))
            continue
        named.add(manifest.sig_uri)
        sig_entry = box.get(manifest.sig_uri)
        covers = tuple(r.name for r in manifest.references)
        if sig_entry is None:
            reports.append(
                _broken(
                    manifest.sig_uri,
                    msg.fill(fmsg.SIGNATURE_MISSING, manifest=man_entry.name, name=manifest.sig_uri),
                )
            )
            continue
        missing, changed = _check_references(box, manifest)
        if sig_entry.name.lower().endswith(".tst") or (manifest.sig_mime or "").endswith("timestamp-token"):
            report = _time_assertion(box, sig_entry, _bytes_digester(raw), cache, covers)
            reports.append(_with_references(report, missing, changed))
            continue
        covered.update(covers)
        reports.extend(_signatures(box, sig_entry, raw, cache, covers, missing, changed, archive))
    for sig_entry in box.meta_files(r"META-INF/[^/]*signature[^/]*\.p7s"):
        if sig_entry.name not in named:
            reports.append(_broken(sig_entry.name, fmsg.ORPHAN_SIGNATURE))
    return reports, covered


def _signatures(
    box: Container,
    sig_entry: Entry,
    manifest_bytes: bytes,
    cache: BatchCache,
    covers: tuple[str, ...],
    missing: list[str],
    changed: list[str],
    archive: dict[str, list[Any]],
) -> list[SignatureReport]:
    from thaisign.verify.cades import check_one, load_signed_data

    signed_data = load_signed_data(box.read(sig_entry))
    out = []
    for si in signed_data["signer_infos"]:
        counters: list[SignatureReport] = []
        report = check_one(
            signed_data,
            si,
            _bytes_digester(manifest_bytes),
            cache,
            sig_entry.name,
            covers,
            extra_stamps=archive.get(sig_entry.name, []),
            counters_out=counters,
        )
        out.append(_with_references(report, missing, changed))
        out.extend(counters)
    return out


def _check_references(box: Container, manifest: Manifest) -> tuple[list[str], list[str]]:
    """(listed files the container lacks, listed files whose digest differs)."""
    missing: list[str] = []
    changed: list[str] = []
    for ref in manifest.references:
        entry = box.get(ref.name)
        if entry is None:
            missing.append(ref.name)
            continue
        if not ref.algorithm:
            changed.append(ref.name)  # an unknown digest method proves nothing
            continue
        if box.digest(entry, [ref.algorithm])[ref.algorithm] != ref.digest:
            changed.append(ref.name)
    return missing, changed


def _names(items: list[str]) -> str:
    return ", ".join(items[:8]) + (f" … (+{len(items) - 8})" if len(items) > 8 else "")


def _with_references(report: SignatureReport, missing: list[str], changed: list[str]) -> SignatureReport:
    """The signature's report with what its manifest's references showed (worst first)."""
    if changed:
        why, indication, sub = fmsg.REFERENCE_CHANGED, Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE
        names = changed
    elif missing:
        why, indication, sub = (
            fmsg.REFERENCE_MISSING,
            Indication.INDETERMINATE,
            SubIndication.SIGNED_DATA_NOT_FOUND,
        )
        names = missing
    else:
        return report
    sentence = msg.fill(why, names=_names(names))
    if report.indication is Indication.TOTAL_FAILED:  # failed already: the reason is added first
        return _with_note(report, sentence, first=True)
    return _fail(report, indication, sub, sentence)


def _fail(
    report: SignatureReport, indication: Indication, sub: SubIndication, why: tuple[str, str]
) -> SignatureReport:
    """``report`` turned to ``indication``/``sub`` for ``why`` alone: the sentences about the
    signature's former verdict (valid, or "check again later") no longer apply."""
    sentences = [why]
    return dataclasses.replace(
        report,
        indication=indication,
        sub_indication=sub,
        intact=report.intact and indication is not Indication.TOTAL_FAILED,
        messages=Messages(tuple(s[0] for s in sentences), tuple(s[1] for s in sentences)),
    )


def _with_note(report: SignatureReport, note: tuple[str, str], *, first: bool = False) -> SignatureReport:
    en, th = list(report.messages.en), list(report.messages.th)
    if first:
        en.insert(0, note[0])
        th.insert(0, note[1])
    else:
        en.append(note[0])
        th.append(note[1])
    return dataclasses.replace(report, messages=Messages(tuple(en), tuple(th)))


def _broken(field: str, why: tuple[str, str]) -> SignatureReport:
    return SignatureReport(
        field=field,
        kind="signature",
        indication=Indication.TOTAL_FAILED,
        sub_indication=SubIndication.FORMAT_FAILURE,
        intact=False,
        coverage=Coverage.PARTIAL,
        modifications=Modifications.NONE,
        trusted=False,
        messages=Messages((why[0],), (why[1],)),
    )


def _time_assertion(
    box: Container,
    ts_entry: Entry,
    imprint: Callable[[str], bytes],
    cache: BatchCache,
    covers: tuple[str, ...],
) -> SignatureReport:
    from asn1crypto import cms

    from thaisign.verify.cms import check_timestamp
    from thaisign.verify.revocation import EmbeddedRevinfo

    try:
        info = cms.ContentInfo.load(box.read(ts_entry))
        token = info["content"]
        if not isinstance(token, cms.SignedData):
            raise ValueError("not a time-stamp token")
    except (ValueError, TypeError, KeyError) as exc:
        return _broken(
            ts_entry.name,
            msg.fill(msg.DOC_TS_BROKEN, why=str(exc).splitlines()[0][:120] if str(exc) else "unreadable"),
        )
    session = cache.session_for(EmbeddedRevinfo())
    return cache.run(check_timestamp(session, token, imprint, field=ts_entry.name, covers=covers))


def _archive_stamps(box: Container, cache: BatchCache) -> dict[str, list[Any]]:
    """Signature entry name -> the checked archive time-stamps (``ASiCArchiveManifest``) that
    list it with its right digest (tokens that do not hold are included, marked not intact)."""
    import dataclasses as dc

    from asn1crypto import cms

    from thaisign.verify.tokens import check_token

    out: dict[str, list[Any]] = {}
    for man_entry in box.meta_files(r"META-INF/ASiCArchiveManifest[^/]*\.xml"):
        try:
            raw = box.read(man_entry)
            manifest = parse_manifest(raw)
            ts_entry = box.get(manifest.sig_uri)
            if ts_entry is None:
                continue
            token = cms.ContentInfo.load(box.read(ts_entry))["content"]
        except (ManifestError, ContainerError, ValueError, TypeError, KeyError):
            continue
        check = check_token(token, _bytes_digester(raw), cache.memo)
        missing, changed = _check_references(box, manifest)
        if missing or changed:
            check = dc.replace(check, intact=False, problem=fmsg.MANIFEST_FILES_CHANGED)
        for ref in manifest.references:
            if ref.name.lower().endswith(".p7s") and ref.name not in changed:
                out.setdefault(ref.name, []).append(check)
    return out
