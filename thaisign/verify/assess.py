"""From the long-term validation's findings to an ETSI indication, the facts and the clerk's sentences.

:func:`assess_signature` runs the validation with time for one signature (its time-stamps, then
the signer at the best-signature-time) and maps the outcome the way ETSI EN 319 102-1 does:
revoked before a proven signing time → TOTAL_FAILED/REVOKED; revoked with nothing proving an
earlier signing time → INDETERMINATE/REVOKED_NO_POE (a CA: REVOKED_CA_NO_POE); revoked after
it → the signature stands and the report says when and why; a certificate that expired since
→ valid through the proof of existence; no fresh revocation data → INDETERMINATE/TRY_LATER; a
certificate not fit to sign documents → INDETERMINATE/CHAIN_CONSTRAINTS_FAILURE.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from thaisign.verify import chain as chain_mod
from thaisign.verify import ltv
from thaisign.verify import messages as msg
from thaisign.verify.algorithms import cms_algorithm_refusal
from thaisign.verify.certs import Cert
from thaisign.verify.messages import Sentence
from thaisign.verify.report import Indication, RevocationFacts, SubIndication, TimestampFacts
from thaisign.verify.revocation import CertStatus, reason_text
from thaisign.verify.tokens import check_token, digest, signature_tokens

SIGNATURE_TS = "signature-timestamp"
DOCUMENT_TS = "document-timestamp"
VALIDATION_TIME = "validation-time"


@dataclass(frozen=True)
class Assessment:
    """What the long-term validation found for one signature or document time-stamp."""

    trusted: bool  # a path to a trust anchor validated at the proof-of-existence time
    chain: tuple[Cert, ...]  # the validated path, signer first; () when none
    indication: Indication | None  # None: nothing here stands in the way of TOTAL_PASSED
    sub: SubIndication | None
    sentences: tuple[Sentence, ...]  # why (first) and what to do
    notes: tuple[Sentence, ...]  # facts for a signature that stands (revoked later, expired since)
    revocation: RevocationFacts
    timestamp: TimestampFacts | None
    signing_time: datetime | None
    signing_time_source: str | None
    poe_time: datetime
    poe_source: str
    expired_since: bool = False
    use: ltv.UseCheck | None = None
    #: until when the proof of existence can be checked: the first expiry among the certificates
    #: the newest time-stamp and the validation data it does not cover rely on (None: no proof)
    provable_until: datetime | None = None


def revocation_facts(status: CertStatus | None, control: datetime, mode: str) -> RevocationFacts:
    """DESIGN.md's revocation object (status, source) plus when, why and where from."""
    if status is None:
        return RevocationFacts("not-checked", "none", judged_at=None if mode == "off" else control)
    if status.status == "not-declared":
        return RevocationFacts("not-checked", "none", judged_at=control, status_then="not-declared")
    statement = status.deciding
    revoked_at = status.revoked_at
    reason = None
    shown = status.status
    if status.status in ("revoked", "hold") and statement is not None:
        reason = reason_text(statement.reason)
    elif status.later is not None:  # good when it mattered, revoked since: never say "not revoked"
        shown, revoked_at, reason = "revoked", status.later.revoked_at, reason_text(status.later.reason)
    if shown == "hold":
        shown = "revoked"
    if statement is None:
        return RevocationFacts(
            shown if shown != "good" else "unknown", "none", revoked_at, reason, judged_at=control
        )
    ev = statement.evidence
    return RevocationFacts(
        shown,
        ev.source,
        revoked_at,
        reason,
        judged_at=control,
        evidence=ev.kind,
        origin=ev.origin,
        location=ev.location,
        issued=statement.issued,
        status_then=status.status,
    )


def _why_use_failed(use: ltv.UseCheck) -> Sentence:
    """Why a time-stamping authority's certificate could not vouch for a time (both languages)."""
    if use.failure == chain_mod.ALGORITHM and use.detail:
        return msg.fill(msg.TSA_ALGORITHM, why=use.detail)
    if use.detail is not None:
        return use.detail
    result = use.chain
    if use.failure in (chain_mod.EXPIRED, chain_mod.NOT_YET_VALID) and result and result.out_of_bounds:
        cert, bound = result.out_of_bounds
        return msg.fill(msg.TSA_EXPIRED, name=cert.label, when=msg.when(bound))
    if use.failure == chain_mod.NO_PATH:
        return msg.TSA_UNTRUSTED
    if use.failure in (ltv.REVOKED, ltv.REVOKED_CA, ltv.HOLD):
        return msg.TSA_REVOKED
    if use.failure == ltv.REVINFO:
        return msg.TSA_REVINFO
    text = (use.message or use.failure or "not trusted").strip().splitlines()[0][:160]
    return text, "ใบรับรองของผู้ให้บริการประทับเวลาใช้ไม่ได้"


#: (words in the RFC 5280 failure message, what a Thai clerk reads)
_CHAIN_REASONS_TH = (
    ("name constraint", "ชื่อในใบรับรองอยู่นอกขอบเขตที่ผู้ออกใบรับรองกำหนด (name constraints)"),
    ("critical extension", "ใบรับรองมีส่วนขยายสำคัญ (critical extension) ที่ไม่รู้จัก"),
    ("signature", "ลายมือชื่อบนใบรับรองในสายตรวจไม่ผ่าน"),
    ("path length", "สายใบรับรองยาวเกินกว่าที่ผู้ออกใบรับรองอนุญาต"),
    ("basic constraints", "ผู้ออกใบรับรองไม่ได้รับอนุญาตให้ออกใบรับรองต่อ (basic constraints)"),
    ("not a ca", "ผู้ออกใบรับรองไม่ได้รับอนุญาตให้ออกใบรับรองต่อ (basic constraints)"),
    ("polic", "นโยบายใบรับรองไม่เป็นไปตามที่กำหนด"),
    ("key usage", "การใช้งานกุญแจของผู้ออกใบรับรองไม่ถูกต้อง"),
    ("trust anchor", "ใบรับรองหลักที่เชื่อถือมีข้อจำกัดที่ไม่อนุญาตสายนี้"),
)


def _chain_reason(message: str | None) -> Sentence:
    """The RFC 5280 failure in English as found, and in Thai as a clerk can read it."""
    text = (message or "invalid").strip().splitlines()[0][:200]
    lowered = text.lower()
    thai = next((th for words, th in _CHAIN_REASONS_TH if words in lowered), "สายใบรับรองผิดกฎของใบรับรอง")
    return text, thai


async def assess_signature(
    file: ltv.FileLtv,
    integrity: Any,
    signer_info: Any,
    field: str,
    revision: int,
    claimed: datetime | None,
    memo: dict[Any, Any] | None = None,
) -> Assessment:
    mode = file.engine.mode
    sig_poe = file.poe_of_revision(revision, inside_contents=True)
    signature_value = signer_info["signature"].native
    ts_facts: TimestampFacts | None = None
    best: datetime | None = None
    ts_problem: Sentence | None = None
    anchoring: ltv.UseCheck | None = None  # the time-stamp that proves the signing time now
    for token_data in signature_tokens(signer_info):
        check = check_token(token_data, lambda algo: digest(algo, signature_value), memo)
        trusted = False
        if not check.intact or check.tsa is None or check.gen_time is None:
            ts_problem = check.problem or msg.TOKEN_UNREADABLE
        elif check.gen_time > sig_poe:
            ts_problem = (
                "it is later than the document time-stamp covering it",
                "เวลาประทับช้ากว่าการประทับเวลาเอกสารที่ครอบคลุมอยู่",
            )
        else:
            use = await file.check_use(
                check.tsa,
                check.other_certs,
                control=sig_poe,
                usage=check.gen_time,
                purpose=ltv.TSA,
                extra=file.token_evidence(check, f"{field}#tst", revision),
            )
            use = file.algorithms_held(use, check, sig_poe)
            trusted = use.ok
            if not trusted:
                ts_problem = _why_use_failed(use)
        facts = TimestampFacts(check.gen_time, check.tsa_name, check.intact, trusted)  # type: ignore[arg-type]
        if ts_facts is None or (trusted and not ts_facts.trusted):
            ts_facts = facts
        if trusted and check.gen_time is not None:
            if best is None or check.gen_time < best:
                anchoring = use
            best = check.gen_time if best is None else min(best, check.gen_time)
    poe = min(sig_poe, best) if best is not None else sig_poe
    if best is not None and best <= sig_poe:
        poe_source = SIGNATURE_TS
    elif sig_poe < file.moment:
        poe_source = DOCUMENT_TS
    else:
        poe_source = VALIDATION_TIME
    file.signature_poe[field] = poe
    signing_time: datetime | None = best if best is not None else claimed
    time_source: str | None = "timestamp" if best is not None else ("claimed" if claimed else None)
    use = await file.check_use(
        integrity.cert, integrity.other_certs, control=poe, usage=poe, purpose=ltv.SIGNER
    )
    engine = file.engine
    refusal = cms_algorithm_refusal(
        signer_info, integrity.cert.public_key, poe, engine.algorithms, engine.sunsets
    )
    if refusal is not None:
        # the algorithm no longer held when the signature is proven to exist
        sub = SubIndication.CRYPTO_CONSTRAINTS_FAILURE
        if poe_source == VALIDATION_TIME:
            sub = SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE
        mapped = _map_signer(
            file, use, poe, poe_source, ts_facts, ts_problem, signing_time, time_source, claimed, mode
        )
        return dataclasses.replace(
            mapped,
            indication=Indication.INDETERMINATE,
            sub=sub,
            sentences=(msg.fill(msg.ALGORITHM_NO_LONGER_HELD, why=refusal),),
            notes=(),
        )
    mapped = _map_signer(
        file, use, poe, poe_source, ts_facts, ts_problem, signing_time, time_source, claimed, mode
    )
    if mapped.indication is not None or poe_source == VALIDATION_TIME:
        return mapped
    newest = file.newest_valid_timestamp()
    until = provable_until(file, newest.use if newest is not None else anchoring, use)
    if until is None:
        return mapped
    when, name = until
    note = msg.fill(msg.PROVABLE_UNTIL, when=msg.when(when), name=name)
    return dataclasses.replace(mapped, notes=(*mapped.notes, note), provable_until=when)


def provable_until(
    file: ltv.FileLtv, anchoring: ltv.UseCheck | None, *uses: ltv.UseCheck
) -> tuple[datetime, str] | None:
    """When the proof of existence stops being checkable, and whose certificate expires then.

    The time-stamp that proves the signing time today (the newest valid document time-stamp, else
    the signature time-stamp) is checked at the validation time: its certificates must still be
    valid; so must the signers of any validation data that no time-stamp covers.
    """
    if anchoring is None or anchoring.chain is None or not anchoring.chain.ok:
        return None
    limits: list[tuple[datetime, str]] = [(c.not_after, c.label) for c in anchoring.chain.certs]
    for use in (anchoring, *uses):
        for _cert, status in use.statuses:
            statement = status.deciding
            if statement is None or statement.signer_valid_until is None:
                continue
            if file.poe(statement.evidence) >= file.moment:
                limits.append((statement.signer_valid_until, statement.signer_name or "?"))
    return min(limits, key=lambda item: item[0]) if limits else None


def _map_signer(
    file: ltv.FileLtv,
    use: ltv.UseCheck,
    poe: datetime,
    poe_source: str,
    ts_facts: TimestampFacts | None,
    ts_problem: Sentence | None,
    signing_time: datetime | None,
    time_source: str | None,
    claimed: datetime | None,
    mode: str,
) -> Assessment:
    result = use.chain
    path_certs = result.certs if result is not None else ()
    leaf = result.path.leaf if (result is not None and result.path is not None) else None
    leaf_status = use.status_of(leaf) if leaf is not None else None
    revocation = revocation_facts(leaf_status, poe, mode)
    proven = poe_source != VALIDATION_TIME
    proof = msg.PROVEN_BY_SIGNATURE_TS if poe_source == SIGNATURE_TS else msg.PROVEN_BY_DOCUMENT_TS
    notes: list[Sentence] = []
    sentences: list[Sentence] = []
    indication: Indication | None = None
    sub: SubIndication | None = None
    expired_since = False

    def fail(ind: Indication, s: SubIndication, sentence: Sentence) -> None:
        nonlocal indication, sub
        indication, sub = ind, s
        sentences.append(sentence)

    failure = use.failure
    if use.ok:
        if (
            leaf_status is not None
            and leaf_status.later is not None
            and leaf_status.later.revoked_at is not None
        ):
            later = leaf_status.later
            notes.append(
                msg.fill(
                    msg.REVOKED_AFTER_SIGNING,
                    when=msg.when(later.revoked_at),
                    reason=msg.reason(reason_text(later.reason)),
                    signed=msg.when(poe),
                    proof=proof if proven else ("the validation time", "เวลาที่ตรวจ"),
                )
            )
        if leaf is not None and leaf.not_after < file.moment and proven:
            expired_since = True
    elif failure == chain_mod.NO_PATH:
        fail(
            Indication.INDETERMINATE,
            SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
            msg.for_sub_indication("NO_CERTIFICATE_CHAIN_FOUND"),
        )
    elif failure in (chain_mod.EXPIRED, chain_mod.NOT_YET_VALID):
        assert result is not None
        cert, bound = result.out_of_bounds or (leaf, poe)
        name = cert.label if cert is not None else "?"
        if proven and failure == chain_mod.EXPIRED:
            fail(
                Indication.TOTAL_FAILED,
                SubIndication.EXPIRED,
                msg.fill(msg.EXPIRED_BEFORE_SIGNING, name=name, when=msg.when(bound), signed=msg.when(poe)),
            )
        elif proven:
            fail(
                Indication.TOTAL_FAILED,
                SubIndication.NOT_YET_VALID,
                msg.fill(msg.NOT_YET_VALID_AT_SIGNING, name=name, when=msg.when(bound), signed=msg.when(poe)),
            )
        else:
            no_poe = msg.fill(msg.TIMESTAMP_NOT_USABLE, why=ts_problem) if ts_problem else msg.NO_TIMESTAMP
            advice = msg.ASK_FOR_ARCHIVE if ts_facts is not None else msg.ASK_FOR_LT
            fail(
                Indication.INDETERMINATE,
                SubIndication.OUT_OF_BOUNDS_NO_POE,
                msg.fill(msg.OUT_OF_BOUNDS, name=name, when=msg.when(poe), why=no_poe, advice=advice),
            )
    elif failure == chain_mod.ALGORITHM:
        fail(
            Indication.INDETERMINATE,
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
            msg.for_sub_indication("CRYPTO_CONSTRAINTS_FAILURE_NO_POE"),
        )
    elif failure == chain_mod.MALFORMED:
        fail(
            Indication.INDETERMINATE,
            SubIndication.FORMAT_FAILURE,
            msg.fill(msg.CHAIN_MALFORMED, why=(use.message or "malformed", "โครงสร้างใบรับรองผิดรูปแบบ")),
        )
    elif failure == ltv.PURPOSE:
        fail(
            Indication.INDETERMINATE,
            SubIndication.CHAIN_CONSTRAINTS_FAILURE,
            msg.fill(msg.WRONG_PURPOSE, why=use.detail or ("unfit", "ใช้ไม่ได้")),
        )
    elif failure == ltv.REVOKED and leaf_status is not None and leaf_status.deciding is not None:
        statement = leaf_status.deciding
        when, reason = msg.when(statement.revoked_at), msg.reason(reason_text(statement.reason))
        if proven:
            fail(
                Indication.TOTAL_FAILED,
                SubIndication.REVOKED,
                msg.fill(msg.REVOKED_BEFORE_SIGNING, when=when, reason=reason, signed=msg.when(poe)),
            )
        elif claimed is not None and statement.revoked_at is not None and claimed >= statement.revoked_at:
            fail(
                Indication.TOTAL_FAILED,
                SubIndication.REVOKED,
                msg.fill(msg.REVOKED_BEFORE_CLAIMED, when=when, reason=reason, signed=msg.when(claimed)),
            )
        else:
            no_poe = msg.fill(msg.TIMESTAMP_NOT_USABLE, why=ts_problem) if ts_problem else msg.NO_TIMESTAMP
            fail(
                Indication.INDETERMINATE,
                SubIndication.REVOKED_NO_POE,
                msg.fill(msg.REVOKED_NO_POE_DETAIL, when=when, reason=reason, why=no_poe),
            )
    elif failure == ltv.HOLD and leaf_status is not None and leaf_status.deciding is not None:
        fail(
            Indication.INDETERMINATE,
            SubIndication.TRY_LATER,
            msg.fill(msg.ON_HOLD, when=msg.when(leaf_status.deciding.revoked_at)),
        )
    elif failure == ltv.REVOKED_CA:
        cert = use.problem_cert
        ca_status = use.status_of(cert)
        ca_statement = ca_status.deciding if ca_status is not None else None
        fail(
            Indication.INDETERMINATE,
            SubIndication.REVOKED_CA_NO_POE,
            msg.fill(
                msg.CA_REVOKED,
                name=cert.label if cert is not None else "?",
                when=msg.when(ca_statement.revoked_at if ca_statement else None),
                reason=msg.reason(reason_text(ca_statement.reason if ca_statement else None)),
            ),
        )
    elif (
        failure == ltv.REVINFO
        and use.problem_cert == leaf
        and leaf is not None
        and not ltv.revocation_pointers(leaf)
    ):
        # nothing to look up, nothing in the file: only the sending agency can say
        fail(Indication.INDETERMINATE, SubIndication.TRY_LATER, msg.NO_REVOCATION_SERVICE)
        revocation = RevocationFacts("unknown", "none", judged_at=poe)
    elif failure == ltv.REVINFO:
        cert = use.problem_cert
        fail(
            Indication.INDETERMINATE,
            SubIndication.TRY_LATER,
            msg.fill(
                msg.REVINFO_UNKNOWN,
                name=cert.label if cert is not None else "?",
                when=msg.when(poe),
                why=use.detail or (use.message or "no revocation data", "ไม่มีข้อมูลการเพิกถอน"),
            ),
        )
        if leaf is not None and cert == leaf:
            revocation = RevocationFacts("unknown", revocation.source, judged_at=poe)
    else:
        why = _chain_reason(use.message)
        fail(
            Indication.INDETERMINATE,
            SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
            msg.fill(msg.CHAIN_INVALID, why=why),
        )
    trusted = result is not None and result.ok
    return Assessment(
        trusted,
        path_certs,
        indication,
        sub,
        tuple(sentences),
        tuple(notes),
        revocation,
        ts_facts,
        signing_time,
        time_source,
        poe,
        poe_source,
        expired_since,
        use,
    )


def assess_document_timestamp(file: ltv.FileLtv, ts: ltv.DocTimestamp) -> Assessment:
    """The verdict on one document time-stamp, from :meth:`FileLtv.validate_document_timestamps`."""
    token = ts.token
    poe = ts.poe or file.moment
    poe_source = VALIDATION_TIME if poe >= file.moment else DOCUMENT_TS
    if not token.intact or ts.use is None:
        why = token.problem or msg.TOKEN_UNREADABLE
        return Assessment(
            False,
            (),
            Indication.TOTAL_FAILED,
            SubIndication.HASH_FAILURE,
            (msg.fill(msg.DOC_TS_BROKEN, why=why),),
            (),
            RevocationFacts("not-checked", "none"),
            None,
            token.gen_time,
            "timestamp",
            poe,
            poe_source,
        )
    mapped = _map_signer(
        file, ts.use, poe, poe_source, None, None, token.gen_time, "timestamp", None, file.engine.mode
    )
    if mapped.indication is None:
        return dataclasses.replace(
            mapped, notes=(*mapped.notes, msg.fill(msg.DOC_TS_PROVES, when=msg.when(token.gen_time)))
        )
    if ts.use.failure == ltv.PURPOSE:
        why = ts.use.detail or ("", "")
        return dataclasses.replace(mapped, sentences=(msg.fill(msg.DOC_TS_NOT_TSA, why=why),))
    return mapped
