"""From pyHanko's status objects to a :class:`SignatureReport`: the ETSI indication and the facts.

The order of the checks is the order of severity: a broken structure or digest first, then
changes after signing, revocation, trust, and only then the question of whether the
revocation status could be established at all ("could not be checked" is never "invalid").
"""

from __future__ import annotations

import contextlib
import dataclasses
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
    TimestampFacts,
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


@dataclasses.dataclass(frozen=True)
class _PathHolder:
    validation_path: Any
    signing_cert: Any


def _chain(status: Any, memo: dict[Any, Any] | None = None) -> tuple[ChainEntry, ...]:
    """Signer first, anchor last; remembered per path in ``memo`` (the batch's)."""
    path = status.validation_path
    key = ("chain", id(path), status.signing_cert.dump())
    if memo is not None and path is not None:
        hit = memo.get(key)
        if hit is not None and hit[0] is path:
            return hit[1]
    entries = _chain_uncached(status)
    if memo is not None and path is not None:
        remember(memo, key, (path, entries))
    return entries


def _chain_uncached(status: Any) -> tuple[ChainEntry, ...]:
    path = status.validation_path
    if path is not None:
        certs = list(path.iter_certs(include_root=True))
        leaf = path.leaf
        if leaf is not None and all(c.dump() != leaf.dump() for c in certs):
            certs.append(leaf)
        certs.reverse()  # signer first, anchor last
        return tuple(
            ChainEntry(str(c.subject.human_friendly), _sha256(c), _name_attr(c, "common_name")) for c in certs
        )
    cert = status.signing_cert
    return (ChainEntry(str(cert.subject.human_friendly), _sha256(cert), _name_attr(cert, "common_name")),)


def _self_signed_untrusted(cert: Any, session: Any) -> bool:
    return cert.self_signed != "no" and session.cache.trust.find(_sha256(cert)) is None


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
    from pyhanko.sign.ades.report import AdESIndeterminate

    from thaisign.verify.revocation import revoked_facts

    coverage = _coverage(
        status, br.ok, br.covers_file, _tail_junk(data, emb), lambda: _ends_a_revision(data, emb)
    )
    changes = change_report(data, emb, coverage)
    mods = _modifications(coverage, _later_revisions(emb), changes)
    if coverage is Coverage.ENTIRE_REVISION and _file_tail_junk(data):
        mods = Modifications.DISALLOWED
    cert = status.signing_cert
    is_doc_ts = kind == "document-timestamp"

    # --- time: a trusted, intact signature time-stamp beats the signer's own clock -----------
    ts_facts: TimestampFacts | None = None
    ts_status = None if is_doc_ts else getattr(status, "timestamp_validity", None)
    if ts_status is not None:
        ts_facts = TimestampFacts(
            ts_status.timestamp,
            _name_attr(ts_status.signing_cert, "common_name"),
            bool(ts_status.intact and ts_status.valid),
            bool(ts_status.trusted),
        )
    time_source: str | None
    if is_doc_ts:
        signing_time, time_source = status.timestamp, "timestamp"
    elif ts_facts is not None and ts_facts.intact and ts_facts.trusted:
        signing_time, time_source = ts_facts.time, "timestamp"
    else:
        claimed = getattr(status, "signer_reported_dt", None)
        signing_time, time_source = claimed, ("claimed" if claimed else None)

    # --- trust and revocation ----------------------------------------------------------------
    trust_problem = status.trust_problem_indic
    trusted = bool(status.trusted)
    revocation = RevocationFacts("not-checked", "none")
    revocation_unknown = False
    if status.revocation_details is not None and not status.revocation_details.ca_revoked:
        revocation = revoked_facts(
            cert, status.revocation_details.revocation_date, embedded, session.fetchers
        )
    elif trusted and status.validation_path is not None:
        answer = await session.cache.revocation(cert, status.validation_path, session, embedded)
        revocation = answer.facts
        revocation_unknown = answer.facts.status == "unknown"
    chain_source = status
    expired_since = False
    if (
        trust_problem == AdESIndeterminate.OUT_OF_BOUNDS_NO_POE
        and time_source == "timestamp"
        and signing_time is not None
        and not is_doc_ts
    ):
        # long-term validation: the certificate has expired since, but a trusted time-stamp
        # proves when the letter was signed; validate the chain and revocation at that time
        past = await session.cache.past_validation(cert, emb.other_embedded_certs, signing_time, embedded)
        if past is not None:
            path, past_revocation = past
            trust_problem, trusted, expired_since = None, True, True
            revocation = past_revocation.facts
            revocation_unknown = revocation.status == "unknown"
            chain_source = _PathHolder(path, cert)

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
    elif revocation.status == "revoked":
        # ETSI: revoked at or before the signing time -> FAILED/REVOKED; otherwise nothing proves
        # the signature predates the revocation -> INDETERMINATE/REVOKED_NO_POE. A claimed time
        # after the revocation is the signer's own admission, so it counts too.
        when = revocation.revoked_at
        after = when is not None and signing_time is not None and when <= signing_time
        indication = Indication.TOTAL_FAILED if after else Indication.INDETERMINATE
        sub = SubIndication.REVOKED if after else SubIndication.REVOKED_NO_POE
        say(msg.for_sub_indication(sub))
    elif trust_problem is not None:
        indication, sub = _from_ades(trust_problem)
        if trust_problem == AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE and _self_signed_untrusted(
            cert, session
        ):
            sub = SubIndication.NO_CERTIFICATE_CHAIN_FOUND
        if trust_problem == AdESIndeterminate.TRY_LATER:
            revocation = RevocationFacts("unknown", revocation.source)
        say(_try_later_sentence(cert) if sub is SubIndication.TRY_LATER else msg.for_sub_indication(sub))
    elif not trusted:
        indication, sub = Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND
        say(msg.for_sub_indication(sub))
    elif revocation_unknown:
        indication, sub = Indication.INDETERMINATE, SubIndication.TRY_LATER
        say(_try_later_sentence(cert))
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
    if expired_since:
        say(msg.EXPIRED_SINCE)
    for sentence in changes.messages if changes is not None else ():
        say(sentence)
    if ts_facts is not None and ts_facts.intact and not ts_facts.trusted:
        say(msg.TIMESTAMP_UNTRUSTED)
    if revocation.status == "not-checked" and session.mode == "off":
        say(msg.REVOCATION_OFF)

    signer = _signer_facts(cert, session.cache.memo)
    return SignatureReport(
        field=emb.field_name,
        kind=kind,
        indication=indication,
        sub_indication=sub,
        intact=intact,
        coverage=coverage,
        modifications=mods,
        trusted=trusted,
        chain=_chain(chain_source, session.cache.memo),
        signer=signer,
        signing_time=signing_time,
        signing_time_source=time_source,
        timestamp=ts_facts,
        revocation=revocation,
        level=None if is_doc_ts else _level(subfilter, ts_facts is not None, embedded, later_doc_ts),
        messages=Messages(tuple(en), tuple(th)),
        subfilter=subfilter,
        changes=changes.changes if changes is not None else (),
        content_changed=content_changed,
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


def _try_later_sentence(cert: Any) -> tuple[str, str]:
    """Say "check again later" — unless the certificate names no revocation service at all."""
    try:
        has_crl = bool(cert.crl_distribution_points)
        has_ocsp = bool(cert.ocsp_urls)
    except Exception:
        has_crl = has_ocsp = True
    if not (has_crl or has_ocsp):
        return msg.NO_REVOCATION_SERVICE
    return msg.for_sub_indication(SubIndication.TRY_LATER.value)
