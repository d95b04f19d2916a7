"""From pyHanko's status objects to a :class:`SignatureReport`: the ETSI indication and the facts.

The order of the checks is the order of severity: a broken structure or digest first, then
changes after signing, revocation, trust, and only then the question of whether the
revocation status could be established at all ("could not be checked" is never "invalid").
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from typing import Any

from thaisign.verify import messages as msg
from thaisign.verify.cache import remember
from thaisign.verify.report import (
    ChainEntry,
    Coverage,
    Indication,
    Messages,
    Modifications,
    RevocationFacts,
    SignatureReport,
    SignerFacts,
    SubIndication,
)
from thaisign.verify.revocation import EmbeddedRevinfo


def broken_report(
    fq_name: str,
    sig_obj: Any,
    exc: Exception,
    *,
    coverage: Coverage = Coverage.PARTIAL,
    modifications: Modifications = Modifications.DISALLOWED,
) -> SignatureReport:
    """A signature that cannot even be parsed: FORMAT_FAILURE (or its own AdES indication)."""
    kind = "signature"
    with contextlib.suppress(Exception):
        sig = sig_obj.get_object()
        if sig.get("/Type") == "/DocTimeStamp" or sig.get("/SubFilter") == "/ETSI.RFC3161":
            kind = "document-timestamp"
    indication, sub = Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE
    ades = getattr(exc, "ades_subindication", None)
    if ades is not None:
        indication, sub = _from_ades(ades)
    why = msg.for_sub_indication(sub.value)
    detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return SignatureReport(
        field=fq_name,
        kind=kind,
        indication=indication,
        sub_indication=sub,
        intact=False,
        coverage=coverage,
        modifications=modifications,
        trusted=False,
        messages=Messages((f"{why[0]} ({detail})",), (why[1],)),  # Thai mode: Thai only
    )


def coverage_facts(data: bytes, emb: Any, br: Any) -> tuple[Coverage, Modifications]:
    """Coverage and later changes of a signature whose CMS could not be validated."""
    from pyhanko.sign.validation.status import ModificationInfo

    info = ModificationInfo(**emb.summarise_integrity_info())
    coverage = _coverage(
        info, br.ok, br.covers_file, _tail_junk(data, emb), lambda: _ends_a_revision(data, emb)
    )
    mods = _modifications(coverage, _later_revisions(emb), change_report(data, emb, coverage, render=False))
    if coverage is Coverage.ENTIRE_REVISION and _file_tail_junk(data):
        mods = Modifications.DISALLOWED
    return coverage, mods


def change_report(data: bytes, emb: Any, coverage: Coverage, *, render: bool = True) -> Any:
    """thaisign's judgement of the revisions after this signature (None when there are none)."""
    if coverage is not Coverage.ENTIRE_REVISION or not _later_revisions(emb):
        return None
    from thaisign.verify.changes import analyse_changes

    try:
        covered_end = int(emb.byte_range[2]) + int(emb.byte_range[3])
    except (TypeError, ValueError, IndexError):
        covered_end = None
    return analyse_changes(
        data,
        emb.reader,
        emb.signed_revision,
        covered_end=covered_end,
        field_name=emb.field_name,
        render=render,
    )


def _from_ades(ades: Any) -> tuple[Indication, SubIndication]:
    from pyhanko.sign.ades.report import AdESStatus

    status = ades.status
    indication = {
        AdESStatus.PASSED: Indication.TOTAL_PASSED,
        AdESStatus.FAILED: Indication.TOTAL_FAILED,
        AdESStatus.INDETERMINATE: Indication.INDETERMINATE,
    }[status]
    try:
        sub = SubIndication(ades.name)
    except ValueError:
        sub = SubIndication.GENERIC
    return indication, sub


def _coverage(
    status: Any,
    byte_range_ok: bool,
    covers_file: bool,
    tail_junk: bool,
    ends_a_revision: Callable[[], bool] = lambda: False,
) -> Coverage:
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    if not byte_range_ok:
        return Coverage.PARTIAL
    if covers_file:
        return Coverage.ENTIRE_FILE
    if status.coverage == SignatureCoverageLevel.ENTIRE_REVISION or (
        status.coverage != SignatureCoverageLevel.ENTIRE_FILE and ends_a_revision()
    ):
        # bytes after the signed revision that are not a later revision are unsigned junk
        return Coverage.PARTIAL if tail_junk else Coverage.ENTIRE_REVISION
    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return Coverage.ENTIRE_FILE
    return Coverage.PARTIAL


def _ends_a_revision(data: bytes, emb: Any) -> bool:
    """The signed bytes end exactly where a revision at or after the signature's own ends.

    pyHanko wants the signed bytes to end with the cross-reference of the revision that wrote
    the signature dictionary; in a linearised file signed before linearisation, they end with
    the first-page section's startxref instead. DSS takes the signed bytes as the signed
    revision, and so does thaisign's change analysis (``changes.effective_revision``).
    """
    from thaisign.verify.changes.layout import revision_ends

    try:
        end = int(emb.byte_range[2]) + int(emb.byte_range[3])
        ends = revision_ends(data, emb.reader)
    except Exception:
        return False
    return any(
        r >= emb.signed_revision and (e == end or (e > end and not data[end:e].strip()))
        for r, e in enumerate(ends)
    )


def _later_revisions(emb: Any) -> bool:
    return bool(emb.reader.xrefs.total_revisions - 1 > emb.signed_revision)


def _tail_junk(data: bytes, emb: Any) -> bool:
    """Unsigned bytes after the signed range while no later revision exists.

    One end-of-line after the final %%EOF is part of the file's last line; anything more —
    even blank lines — is data the signature does not cover (iText's rule, and ISO 32000's:
    the byte range covers the whole file but the signature value).
    """
    try:
        end = int(emb.byte_range[2]) + int(emb.byte_range[3])
    except (TypeError, ValueError, IndexError):
        return False
    return data[end:] not in (b"", b"\n", b"\r\n", b"\r") and not _later_revisions(emb)


def _file_tail_junk(data: bytes) -> bool:
    """Content after the file's last %%EOF: no revision, invisible to the difference analysis,
    yet some viewers repair and show it (an incremental-saving attack without an xref)."""
    end = data.rfind(b"%%EOF")
    return end >= 0 and bool(data[end + 5 :].strip())


def _modifications(coverage: Coverage, later_revisions: bool, changes: Any) -> Modifications:
    if coverage is Coverage.ENTIRE_FILE or (coverage is Coverage.ENTIRE_REVISION and not later_revisions):
        return Modifications.NONE
    if coverage is Coverage.PARTIAL or changes is None:
        return Modifications.DISALLOWED
    if changes.modifications == "DISALLOWED":
        return Modifications.DISALLOWED
    # a later revision exists: even if it changed nothing we say so
    return Modifications.ALLOWED


def _name_attr(cert: Any, key: str) -> str | None:
    value = cert.subject.native.get(key)
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return None if value is None else str(value)


def _signer_facts(cert: Any, memo: dict[Any, Any]) -> SignerFacts:
    der = cert.dump()
    facts = memo.get(("signer", der))
    if facts is None:
        facts = SignerFacts(
            _name_attr(cert, "common_name"),
            _name_attr(cert, "title"),
            _name_attr(cert, "organization_name"),
            hashlib.sha256(der).hexdigest(),
        )
        remember(memo, ("signer", der), facts)
    return facts


def _sha256(cert: Any) -> str:
    return hashlib.sha256(cert.dump()).hexdigest()


def _chain(certs: tuple[Any, ...], memo: dict[Any, Any]) -> tuple[ChainEntry, ...]:
    """Signer first, anchor last: the certificates of the path actually validated (memoised)."""
    key = ("chain", tuple(c.sha256 for c in certs))
    hit = memo.get(key)
    if hit is None:
        hit = remember(
            memo,
            key,
            tuple(
                ChainEntry(str(c.asn1.subject.human_friendly), c.sha256, _name_attr(c.asn1, "common_name"))
                for c in certs
            ),
        )
    return hit


def _signer_only(cert: Any) -> tuple[ChainEntry, ...]:
    if cert is None:
        return ()
    return (ChainEntry(str(cert.subject.human_friendly), _sha256(cert), _name_attr(cert, "common_name")),)


def _level(subfilter: str, has_sig_ts: bool, embedded: EmbeddedRevinfo, later_doc_ts: bool) -> str | None:
    if subfilter not in ("/ETSI.CAdES.detached", "/PBAD.PAdES"):
        return None
    if not (has_sig_ts or later_doc_ts):
        return "B-B"
    if not embedded.has_revinfo:
        return "B-T"
    return "B-LTA" if later_doc_ts else "B-LT"


async def to_report(
    data: bytes,
    emb: Any,
    status: Any,
    session: Any,
    embedded: EmbeddedRevinfo,
    br: Any,
    kind: str,
    subfilter: str,
    later_doc_ts: bool,
) -> SignatureReport:
    """The report for one signature (``status``: a :class:`~thaisign.verify.validation.SignatureCheck`)."""
    coverage = _coverage(
        status, br.ok, br.covers_file, _tail_junk(data, emb), lambda: _ends_a_revision(data, emb)
    )
    changes = change_report(data, emb, coverage)
    mods = _modifications(coverage, _later_revisions(emb), changes)
    if coverage is Coverage.ENTIRE_REVISION and _file_tail_junk(data):
        mods = Modifications.DISALLOWED
    cert = status.signing_cert
    is_doc_ts = kind == "document-timestamp"
    assessment = status.assessment

    # --- time and trust come from the long-term validation -----------------------------------
    ts_facts = assessment.timestamp if assessment is not None else None
    if assessment is not None:
        signing_time, time_source = assessment.signing_time, assessment.signing_time_source
    else:
        signing_time = status.claimed
        time_source = ("timestamp" if is_doc_ts else "claimed") if signing_time is not None else None
    trusted = bool(assessment is not None and assessment.trusted)
    revocation = assessment.revocation if assessment is not None else RevocationFacts("not-checked", "none")

    # --- indication -----------------------------------------------------------------------------
    en: list[str] = []
    th: list[str] = []

    def say(sentence: tuple[str, str]) -> None:
        en.append(sentence[0])
        th.append(sentence[1])

    # "intact": the digest over the byte ranges matches AND the CMS signature value verifies
    intact = bool(status.intact and status.valid)
    indication, sub = Indication.TOTAL_PASSED, None
    if not br.ok:
        indication, sub = Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE
        say((f"{msg.PARTIAL_COVERAGE[0]} ({br.problem})", msg.PARTIAL_COVERAGE[1]))
    elif status.algorithm_problem is not None:
        if status.algorithm_unsupported:
            indication, sub = Indication.INDETERMINATE, SubIndication.GENERIC
            say(msg.fill(msg.ALGORITHM_UNSUPPORTED, why=status.algorithm_problem))
        else:
            indication, sub = Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE
            say(msg.fill(msg.ALGORITHM_INCONSISTENT, why=status.algorithm_problem))
    elif not status.intact:
        indication, sub = Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE
        say(msg.for_sub_indication(sub))
    elif not status.valid:
        indication, sub = Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE
        say(msg.for_sub_indication(sub))
    elif coverage is Coverage.PARTIAL:
        indication, sub = Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE
        say(msg.PARTIAL_COVERAGE)
    elif mods is Modifications.DISALLOWED:
        indication, sub = Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE
        say(msg.MODIFIED_DISALLOWED)
    elif assessment is not None and assessment.indication is not None:
        indication, sub = assessment.indication, assessment.sub
        for sentence in assessment.sentences:
            say(sentence)
    elif getattr(status, "seed_value_constraint_error", None) is not None:
        indication, sub = Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE
        detail = str(status.seed_value_constraint_error).splitlines()[0][:160]
        say((f"{msg.SEED_VALUES[0]} ({detail})", msg.SEED_VALUES[1]))
    elif ts_facts is not None and not ts_facts.intact:
        indication, sub = Indication.INDETERMINATE, SubIndication.GENERIC
        say(msg.TIMESTAMP_BROKEN)
    content_changed = bool(changes is not None and changes.content_changed)
    if indication is Indication.TOTAL_PASSED:
        if content_changed:
            say(msg.PASSED_CONTENT_CHANGED)
        else:
            say(msg.PASSED if mods is Modifications.NONE else msg.PASSED_ALLOWED)
    if intact and assessment is not None:
        for note in assessment.notes:
            say(note)
        if assessment.expired_since and indication is Indication.TOTAL_PASSED:
            say(msg.EXPIRED_SINCE)
    for sentence in changes.messages if changes is not None else ():
        say(sentence)
    if ts_facts is not None and ts_facts.intact and not ts_facts.trusted and intact:
        say(msg.TIMESTAMP_UNTRUSTED)
    if revocation.status == "not-checked" and session.mode == "off" and intact:
        say(msg.REVOCATION_OFF)

    memo = session.cache.memo
    chain = (
        _chain(assessment.chain, memo)
        if (assessment is not None and assessment.chain)
        else _signer_only(cert)
    )
    return SignatureReport(
        field=emb.field_name,
        kind=kind,
        indication=indication,
        sub_indication=sub,
        intact=intact,
        coverage=coverage,
        modifications=mods,
        trusted=trusted,
        chain=chain,
        signer=None if cert is None else _signer_facts(cert, memo),
        signing_time=signing_time,
        signing_time_source=time_source,
        timestamp=ts_facts,
        revocation=revocation,
        level=None if is_doc_ts else _level(subfilter, ts_facts is not None, embedded, later_doc_ts),
        messages=Messages(tuple(en), tuple(th)),
        subfilter=subfilter,
        changes=changes.changes if changes is not None else (),
        content_changed=content_changed,
        poe_time=assessment.poe_time if assessment is not None else None,
        poe_source=assessment.poe_source if assessment is not None else None,
        validation_time=session.cache.moment,
        provable_until=assessment.provable_until if assessment is not None else None,
        reason=_text_entry(emb.sig_object, "/Reason"),
        location=_text_entry(emb.sig_object, "/Location"),
    )


def _text_entry(sig_obj: Any, key: str) -> str | None:
    """A text entry of the signature dictionary (/Reason, /Location), bounded; None if absent."""
    try:
        value = sig_obj.get(key)
    except Exception:
        return None
    return None if value is None else str(value)[:1000]
