"""One CMS signature over content given by its digests: the format-neutral entry point that CAdES
(``.p7s``/``.p7m``) and ASiC containers use, on the same engine as PDF letters.

>>> report = check_signer_info(session, signed_data, signer_info, content, field="evidence.mp4.p7s")

What it adds to :mod:`thaisign.verify.tokens` and :mod:`thaisign.verify.assess` is only what a
CMS signature carries where a PDF has its /DSS and document time-stamps:

* validation data inside the signature — ``SignedData.certificates`` and ``SignedData.crls``
  (CRLs, and OCSP responses as RFC 5940 ``id-ri-ocsp-response``), the CAdES
  ``certificate-values`` / ``revocation-values`` attributes, Adobe's revocation attribute;
* archive time-stamps v3 (:mod:`thaisign.files.ats`) as the proof-of-existence chain: each
  one is checked against its message imprint and hash index and then validated like a PDF
  document time-stamp (newest first); it proves the signature and every item its hash index
  lists existed at its time. Numbering them 1, 2, ... as "revisions" (the signature itself is
  revision 0) lets :class:`~thaisign.verify.ltv.FileLtv` date the evidence as it does for PDFs.

The verdict is the ETSI indication with the same sentences, chain, revocation facts and proof of
existence as a PDF letter's (:func:`~thaisign.verify.assess.assess_signature`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import cms, core

from thaisign.files import ats
from thaisign.verify import file_messages as fmsg
from thaisign.verify import messages as msg
from thaisign.verify.report import (
    Coverage,
    Indication,
    Messages,
    Modifications,
    RevocationFacts,
    SignatureReport,
    SubIndication,
)
from thaisign.verify.revocation import EmbeddedRevinfo

logger = logging.getLogger(__name__)

Digester = Callable[[str], bytes]
_CERT_VALUES = "1.2.840.113549.1.9.16.2.23"
_OCSP_REVINFO = "1.3.6.1.5.5.7.16.2"
SIGNATURE_REVISION = 0


@dataclass(frozen=True)
class SignedContent:
    """What a signature is checked against: the content's digests by algorithm (``None`` when the
    content is missing) and the names of the data objects it stands for."""

    digest: Digester | None
    covers: tuple[str, ...] = ()


def one_signer(signed_data: cms.SignedData, signer_info: cms.SignerInfo) -> cms.SignedData:
    """``signed_data`` reduced to ``signer_info`` (pyHanko's checks want exactly one)."""
    if len(signed_data["signer_infos"]) == 1:
        return signed_data
    fields = {
        name: signed_data[name]
        for name in ("version", "digest_algorithms", "encap_content_info", "certificates", "crls")
        if not isinstance(signed_data[name], core.Void)
    }
    fields["signer_infos"] = cms.SignerInfos([signer_info])
    return cms.SignedData.load(cms.SignedData(fields).dump())


def digest_algorithms(signed_data: cms.SignedData) -> set[str]:
    """The digest algorithms the content must be hashed with: each signer's and each archive
    time-stamp's message imprint algorithm."""
    out: set[str] = set()
    for si in signed_data["signer_infos"]:
        out.add(str(si["digest_algorithm"]["algorithm"].native))
        for _oid, token in ats.archive_tokens(si):
            try:
                tst = token["encap_content_info"]["content"].parsed
                out.add(str(tst["message_imprint"]["hash_algorithm"]["algorithm"].native))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    return out


# --- validation data --------------------------------------------------------------------------


@dataclass
class ArchiveStamp:
    """One archive time-stamp of a signature: the token checked, what its index covers."""

    number: int
    token: Any  # tokens.TokenCheck
    certificates: frozenset[bytes] = frozenset()
    crls: frozenset[bytes] = frozenset()
    attribute_values: frozenset[bytes] = frozenset()  # hashes (index algorithm) of attrType||value
    index_algorithm: str = "sha256"
    whole: bool = False  # over the whole signature file (an ASiC archive manifest's time-stamp)


def check_archive_stamps(
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    content: SignedContent,
    memo: dict[Any, Any] | None,
) -> list[ArchiveStamp]:
    """Every archive time-stamp of ``signer_info``, checked (imprint, hash index, token), oldest first."""
    from thaisign.verify.tokens import TokenCheck, check_token

    out: list[ArchiveStamp] = []
    for oid, token in ats.archive_tokens(signer_info):
        sha = hashlib.sha256(token.dump()).hexdigest()
        stamp = ArchiveStamp(0, TokenCheck(None, False, None, problem=fmsg.ATS_V2_UNCHECKED, sha256=sha))
        if oid != ats.ARCHIVE_TIMESTAMP_V3:
            problem = fmsg.ATS_V2_UNCHECKED
            stamp.token = _failed(check_token(token, lambda _a: b""), problem)
        elif content.digest is None:
            stamp.token = _failed(check_token(token, lambda _a: b""), fmsg.DATA_MISSING)
        else:
            stamp = _check_v3(signed_data, signer_info, token, content.digest, memo)
        out.append(stamp)
    out.sort(key=lambda s: (s.token.gen_time is None, s.token.gen_time or datetime.min))
    for n, stamp in enumerate(out, 1):
        stamp.number = n
    return out


def _failed(check: Any, problem: tuple[str, str]) -> Any:
    import dataclasses

    return dataclasses.replace(check, intact=False, problem=problem)


def _check_v3(
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    token: cms.SignedData,
    digester: Digester,
    memo: dict[Any, Any] | None,
) -> ArchiveStamp:
    from thaisign.verify.tokens import check_token

    token_si = token["signer_infos"][0] if len(token["signer_infos"]) else None
    index = ats.read_hash_index(token_si) if token_si is not None else None
    if index is None:
        check = _failed(check_token(token, lambda _a: b""), fmsg.ATS_NO_INDEX)
        return ArchiveStamp(0, check)
    covered = ats.check_hash_index(index, signed_data, signer_info)
    wanted = _imprint_in(token)
    variants = [ats.signed_fields(signer_info)]
    if not isinstance(signer_info["signed_attrs"], core.Void):
        with contextlib.suppress(ValueError, TypeError):
            variants.append(ats.signed_fields(_der_signer_info(signer_info)))

    def imprint(algorithm: str) -> bytes:
        # the signed attributes as encoded, else (as EU DSS computes it) in DER
        values = [
            ats.imprint_v3(signed_data, signer_info, digester(algorithm), index.der, algorithm, fields=f)
            for f in variants
        ]
        return next((v for v in values if v == wanted), values[0])

    check = check_token(token, imprint, memo)
    if check.intact and covered.missing:
        check = _failed(check, fmsg.ATS_INDEX_BROKEN)
    values = frozenset(
        ats.digest_of(index.algorithm, o)
        for a in ats.present(signer_info["unsigned_attrs"])
        for o in ats.attribute_octets(a, index.version)
    ) & frozenset(index.unsigned_attrs)
    return ArchiveStamp(0, check, covered.certificates, covered.crls, values, index.algorithm)


def _imprint_in(token: cms.SignedData) -> bytes | None:
    try:
        return bytes(
            token["encap_content_info"]["content"].parsed["message_imprint"]["hashed_message"].native
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _der_signer_info(signer_info: cms.SignerInfo) -> cms.SignerInfo:
    """``signer_info`` with its signed attributes in DER (for the archive time-stamp's imprint)."""
    fields = {
        name: signer_info[name]
        for name in ("version", "sid", "digest_algorithm", "signature_algorithm", "signature")
    }
    fields["signed_attrs"] = cms.CMSAttributes.load(der_signed_attributes(signer_info))
    return cms.SignerInfo(fields)


def embedded_evidence(
    signed_data: cms.SignedData, signer_info: cms.SignerInfo, stamps: list[ArchiveStamp], owner: str
) -> EmbeddedRevinfo:
    """The validation data the signature carries, each item dated by the first archive
    time-stamp whose hash index lists it (else undated: the validation time)."""
    from thaisign.verify.tokens import revocation_values

    embedded = EmbeddedRevinfo()
    location = "signature (SignedData)"

    def first(covers: Callable[[ArchiveStamp], bool]) -> int | None:
        return next((s.number for s in stamps if covers(s)), None)

    for choice in ats.present(signed_data["certificates"]):
        if choice.name == "certificate":
            embedded.certs.append(choice.chosen)
    for attr in ats.present(signer_info["unsigned_attrs"]):
        if attr["type"].dotted == _CERT_VALUES:
            for value in attr["values"]:
                embedded.certs.extend(_certificates(value))
    for choice in ats.present(signed_data["crls"]):
        der = choice.dump()
        revision = first(lambda s, d=der: s.whole or d in s.crls)  # type: ignore[misc]
        if choice.name == "crl":
            embedded.add("crl", choice.chosen, location, revision=revision)
        elif choice.name == "other" and choice.chosen["other_rev_info_format"].dotted == _OCSP_REVINFO:
            try:
                from asn1crypto import ocsp as asn1_ocsp

                response = asn1_ocsp.OCSPResponse.load(choice.chosen["other_rev_info"].dump())
            except ValueError:
                continue
            embedded.add("ocsp", response, location, revision=revision)
    for attr in ats.present(signer_info["unsigned_attrs"]):
        if attr["type"].native != "revocation_values" and attr["type"].dotted != "1.2.840.113549.1.9.16.2.24":
            continue
        type_der = attr["type"].dump()
        for value in attr["values"]:
            octets = type_der + value.dump()
            revision = first(
                lambda s, o=octets: s.whole or ats.digest_of(s.index_algorithm, o) in s.attribute_values  # type: ignore[misc]
            )
            crls, ocsps = revocation_values([_one_value_attr(attr, value)])
            for c in crls:
                embedded.add("crl", c, "revocation-values attribute", revision=revision)
            for o in ocsps:
                embedded.add("ocsp", o, "revocation-values attribute", revision=revision)
    embedded.add_archival(signer_info, revision=SIGNATURE_REVISION, owner=owner)
    return embedded


def _one_value_attr(attr: cms.CMSAttribute, value: Any) -> Any:
    return cms.CMSAttribute({"type": attr["type"].dotted, "values": [core.Any.load(value.dump())]})


def _certificates(value: Any) -> list[Any]:
    from asn1crypto import x509 as asn1_x509

    class _Certs(core.SequenceOf):
        _child_spec = asn1_x509.Certificate

    try:
        return list(_Certs.load(value.dump()))
    except (ValueError, TypeError):
        return []


# --- the signature ------------------------------------------------------------------------------


def level_of(signed_data: cms.SignedData, signer_info: cms.SignerInfo, has_tst: bool) -> str:
    """B-B, B-T, B-LT or B-LTA, from what the signature carries."""
    if ats.archive_tokens(signer_info):
        return "B-LTA"
    if not has_tst:
        return "B-B"
    has_revinfo = bool(ats.present(signed_data["crls"])) or any(
        a["type"].dotted == "1.2.840.113549.1.9.16.2.24" for a in ats.present(signer_info["unsigned_attrs"])
    )
    return "B-LT" if has_revinfo else "B-T"


async def check_signer_info(
    session: Any,
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    content: SignedContent,
    *,
    field: str,
    stamps: Iterable[ArchiveStamp] = (),
) -> SignatureReport:
    """The report on one CMS signature (``session``: a :class:`~thaisign.verify.cache.FileSession`
    whose embedded evidence and time-stamps are this signature's)."""
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.generic_cms import extract_self_reported_ts

    from thaisign.verify.assess import assess_signature
    from thaisign.verify.tokens import AlgorithmRefused, cms_integrity, signature_tokens

    memo = session.cache.memo
    claimed = extract_self_reported_ts(signer_info)
    level = level_of(signed_data, signer_info, bool(signature_tokens(signer_info)))
    base: dict[str, Any] = {"field": field, "kind": "signature", "level": level, "subfilter": None}
    if content.digest is None:
        return _report(
            base,
            Indication.INDETERMINATE,
            SubIndication.SIGNED_DATA_NOT_FOUND,
            intact=False,
            sentences=[fmsg.DATA_NOT_FOUND],
            cert=_signer_cert(signed_data, signer_info),
            memo=memo,
            claimed=claimed,
            content=content,
        )
    single = one_signer(signed_data, signer_info)
    md = str(signer_info["digest_algorithm"]["algorithm"].native)
    content_type = str(signed_data["encap_content_info"]["content_type"].native)
    try:
        integrity = cms_integrity(single, content.digest(md), content_type, memo)
    except AlgorithmRefused as exc:
        unsupported = exc.unsupported
        return _report(
            base,
            Indication.INDETERMINATE if unsupported else Indication.TOTAL_FAILED,
            SubIndication.GENERIC if unsupported else SubIndication.SIG_CRYPTO_FAILURE,
            intact=False,
            sentences=[
                msg.fill(
                    msg.ALGORITHM_UNSUPPORTED if unsupported else msg.ALGORITHM_INCONSISTENT, why=exc.sentence
                )
            ],
            cert=_signer_cert(signed_data, signer_info),
            memo=memo,
            claimed=claimed,
            content=content,
        )
    except (SignatureValidationError, ValueError, KeyError) as exc:
        return _structure_failure(base, exc, signed_data, signer_info, memo, claimed, content)
    if not integrity.intact:
        return _report(
            base,
            Indication.TOTAL_FAILED,
            SubIndication.HASH_FAILURE,
            intact=False,
            sentences=[fmsg.DATA_CHANGED],
            cert=integrity.cert,
            memo=memo,
            claimed=claimed,
            content=content,
        )
    if not integrity.valid and valid_as_encoded_elsewhere(signer_info, integrity.cert):
        import dataclasses

        integrity = dataclasses.replace(integrity, valid=True)
    if not integrity.valid:
        return _report(
            base,
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CRYPTO_FAILURE,
            intact=False,
            sentences=[msg.for_sub_indication("SIG_CRYPTO_FAILURE")],
            cert=integrity.cert,
            memo=memo,
            claimed=claimed,
            content=content,
        )
    assessment = await assess_signature(
        session.ltv, integrity, signer_info, field, SIGNATURE_REVISION, claimed, memo
    )
    return _from_assessment(base, assessment, integrity.cert, session, content, list(stamps))


def der_signed_attributes(signer_info: cms.SignerInfo) -> bytes:
    """The signed attributes re-encoded in DER (each SET OF sorted, definite lengths), SET tag."""
    from thaisign.files._envelope import header

    def der_set(elements: list[bytes]) -> bytes:
        body = b"".join(sorted(elements))
        return header(0x31, len(body)) + body

    items = []
    for attr in signer_info["signed_attrs"]:
        values = []
        for value in attr["values"]:
            try:
                values.append(bytes(value.dump(force=True)))
            except (ValueError, TypeError):  # a value asn1crypto cannot rebuild: as it is
                values.append(bytes(value.dump()))
        items.append(bytes(core.Sequence(contents=attr["type"].dump() + der_set(values)).dump()))
    return der_set(items)


def valid_as_encoded_elsewhere(signer_info: cms.SignerInfo, cert: Any) -> bool:
    """A signature value that does not verify over the signed attributes as they are encoded,
    checked as other verifiers (EU DSS, BouncyCastle) do: over the attributes' DER encoding
    (RFC 5652 5.4 defines the signature over DER; some signers store them re-ordered or in BER),
    and with an RSA PKCS#1 v1.5 DigestInfo whose SHA-2 parameters are absent instead of NULL
    (RFC 8017 9.2, note 2). The key, the algorithms and the digest are the declared ones."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from thaisign.verify.algorithms import verify_signature_value

    if isinstance(signer_info["signed_attrs"], core.Void) or cert is None:
        return False
    spki = cert.public_key.dump()
    algorithm = signer_info["signature_algorithm"]
    md = str(signer_info["digest_algorithm"]["algorithm"].native)
    signature = bytes(signer_info["signature"].native)
    as_encoded = signer_info["signed_attrs"].untag().dump()
    try:
        der = der_signed_attributes(signer_info)
    except (ValueError, TypeError):
        der = as_encoded
    if der != as_encoded and verify_signature_value(spki, algorithm, signature, der, digest_algorithm=md):
        return True
    if algorithm["algorithm"].native not in ("rsassa_pkcs1v15", f"{md}_rsa"):
        return False
    key = serialization.load_der_public_key(spki)
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        recovered = key.recover_data_from_signature(signature, padding.PKCS1v15(), None)
    except (InvalidSignature, ValueError):
        return False
    from asn1crypto import algos

    oid = algos.DigestAlgorithmId(md).dump()
    for tbs in {as_encoded, der}:
        digest = ats.digest_of(md, tbs)
        no_null = core.Sequence(contents=core.Sequence(contents=oid).dump() + core.OctetString(digest).dump())
        if recovered == no_null.dump():
            return True
    return False


def _signer_cert(signed_data: cms.SignedData, signer_info: cms.SignerInfo) -> Any:
    from pyhanko.sign.validation import generic_cms

    try:
        return generic_cms.extract_certs_for_validation(one_signer(signed_data, signer_info)).signer_cert
    except Exception:
        return None


def _structure_failure(
    base: dict[str, Any],
    exc: Exception,
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    memo: dict[Any, Any],
    claimed: datetime | None,
    content: SignedContent,
) -> SignatureReport:
    text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    cert = _signer_cert(signed_data, signer_info)
    if cert is None:
        return _report(
            base,
            Indication.INDETERMINATE,
            SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
            intact=False,
            sentences=[msg.for_sub_indication("NO_SIGNING_CERTIFICATE_FOUND")],
            cert=None,
            memo=memo,
            claimed=claimed,
            content=content,
        )
    why = msg.for_sub_indication("FORMAT_FAILURE")
    return _report(
        base,
        Indication.TOTAL_FAILED,
        SubIndication.FORMAT_FAILURE,
        intact=False,
        sentences=[(f"{why[0]} ({text})", why[1])],
        cert=cert,
        memo=memo,
        claimed=claimed,
        content=content,
    )


def _report(
    base: dict[str, Any],
    indication: Indication,
    sub: SubIndication | None,
    *,
    intact: bool,
    sentences: list[tuple[str, str]],
    cert: Any,
    memo: dict[Any, Any],
    claimed: datetime | None,
    content: SignedContent,
) -> SignatureReport:
    """A signature that could not get as far as the long-term validation."""
    from thaisign.verify.verdict import _signer_facts, _signer_only

    return SignatureReport(
        indication=indication,
        sub_indication=sub,
        intact=intact,
        coverage=Coverage.ENTIRE_FILE if intact else Coverage.PARTIAL,
        modifications=Modifications.NONE,
        trusted=False,
        chain=_signer_only(cert),
        signer=None if cert is None else _signer_facts(cert, memo),
        signing_time=claimed,
        signing_time_source="claimed" if claimed else None,
        messages=Messages(tuple(s[0] for s in sentences), tuple(s[1] for s in sentences)),
        covers=content.covers,
        **base,
    )


def _from_assessment(
    base: dict[str, Any],
    assessment: Any,
    cert: Any,
    session: Any,
    content: SignedContent,
    stamps: list[ArchiveStamp],
) -> SignatureReport:
    from thaisign.verify.verdict import _chain, _signer_facts, _signer_only

    en: list[str] = []
    th: list[str] = []

    def say(sentence: tuple[str, str]) -> None:
        en.append(sentence[0])
        th.append(sentence[1])

    indication, sub = Indication.TOTAL_PASSED, None
    ts_facts = assessment.timestamp
    if assessment.indication is not None:
        indication, sub = assessment.indication, assessment.sub
        for sentence in assessment.sentences:
            say(sentence)
    elif ts_facts is not None and not ts_facts.intact:
        indication, sub = Indication.INDETERMINATE, SubIndication.GENERIC
        say(msg.TIMESTAMP_BROKEN)
    if indication is Indication.TOTAL_PASSED:
        say(fmsg.PASSED)
    for note in assessment.notes:
        say(note)
    if assessment.expired_since and indication is Indication.TOTAL_PASSED:
        say(msg.EXPIRED_SINCE)
    if ts_facts is not None and ts_facts.intact and not ts_facts.trusted:
        say(msg.TIMESTAMP_UNTRUSTED)
    for stamp in stamps:
        if not stamp.token.intact:
            say(msg.fill(fmsg.ATS_NOT_USABLE, n=str(stamp.number), why=stamp.token.problem or "?"))
    revocation: RevocationFacts = assessment.revocation
    if revocation.status == "not-checked" and session.mode == "off":
        say(msg.REVOCATION_OFF)
    memo = session.cache.memo
    chain = _chain(assessment.chain, memo) if assessment.chain else _signer_only(cert)
    return SignatureReport(
        indication=indication,
        sub_indication=sub,
        intact=True,
        coverage=Coverage.ENTIRE_FILE,
        modifications=Modifications.NONE,
        trusted=bool(assessment.trusted),
        chain=chain,
        signer=_signer_facts(cert, memo),
        signing_time=assessment.signing_time,
        signing_time_source=assessment.signing_time_source,
        timestamp=ts_facts,
        revocation=revocation,
        messages=Messages(tuple(en), tuple(th)),
        poe_time=assessment.poe_time,
        poe_source=assessment.poe_source,
        validation_time=session.cache.moment,
        provable_until=assessment.provable_until,
        covers=content.covers,
        **base,
    )


async def check_timestamp(
    session: Any, token: cms.SignedData, imprint: Digester, *, field: str, covers: tuple[str, ...] = ()
) -> SignatureReport:
    """The report on a time-stamp token standing on its own over some data (an ASiC time
    assertion): its imprint, then its TSA validated as a PDF document time-stamp's is."""
    from thaisign.verify.assess import assess_document_timestamp
    from thaisign.verify.ltv import DocTimestamp
    from thaisign.verify.tokens import check_token
    from thaisign.verify.verdict import _chain, _signer_facts, _signer_only

    memo = session.cache.memo
    check = check_token(token, imprint, memo)
    base: dict[str, Any] = {"field": field, "kind": "document-timestamp", "level": None, "subfilter": None}
    if check.tsa is None or check.gen_time is None or not check.intact:
        why = check.problem or "unreadable"
        return _report(
            base,
            Indication.TOTAL_FAILED,
            SubIndication.HASH_FAILURE if check.tsa is not None else SubIndication.FORMAT_FAILURE,
            intact=False,
            sentences=[msg.fill(msg.DOC_TS_BROKEN, why=why)],
            cert=check.tsa,
            memo=memo,
            claimed=check.gen_time,
            content=SignedContent(None, covers),
        )
    stamp = DocTimestamp(field, 1, check)
    session.ltv.timestamps.append(stamp)
    await session.ltv.validate_document_timestamps()
    assessment = assess_document_timestamp(session.ltv, stamp)
    sentences = list(assessment.sentences)
    if assessment.indication is None:
        names = ", ".join(covers[:5]) + (" …" if len(covers) > 5 else "")
        when = msg.when(check.gen_time)
        sentences.append(msg.fill(fmsg.TIMESTAMP_COVERS, names=names, when=when))
    sentences.extend(
        n for n in assessment.notes if n[0] != msg.fill(msg.DOC_TS_PROVES, when=msg.when(check.gen_time))[0]
    )
    chain = _chain(assessment.chain, memo) if assessment.chain else _signer_only(check.tsa)
    return SignatureReport(
        indication=assessment.indication or Indication.TOTAL_PASSED,
        sub_indication=assessment.sub,
        intact=True,
        coverage=Coverage.ENTIRE_FILE,
        modifications=Modifications.NONE,
        trusted=bool(assessment.trusted),
        chain=chain,
        signer=_signer_facts(check.tsa, memo),
        signing_time=check.gen_time,
        signing_time_source="timestamp",
        revocation=assessment.revocation,
        messages=Messages(tuple(s[0] for s in sentences), tuple(s[1] for s in sentences)),
        poe_time=assessment.poe_time,
        poe_source=assessment.poe_source,
        validation_time=session.cache.moment,
        covers=covers,
        **base,
    )


# --- counter-signatures (RFC 5652 11.4) ----------------------------------------------------------

_COUNTER_SIGNATURE = "1.2.840.113549.1.9.6"


def counter_signatures(signer_info: cms.SignerInfo) -> list[tuple[cms.SignerInfo, bytes]]:
    """The counter-signatures of ``signer_info``: (SignerInfo, the attribute's type+value octets)."""
    out = []
    for attr in ats.present(signer_info["unsigned_attrs"]):
        if attr["type"].dotted != _COUNTER_SIGNATURE:
            continue
        for value in attr["values"]:
            try:
                out.append((cms.SignerInfo.load(value.dump()), attr["type"].dump() + value.dump()))
            except (ValueError, TypeError):
                continue
    return out


def _counter_integrity(signed_data: cms.SignedData, counter: cms.SignerInfo, parent_signature: bytes) -> Any:
    """The integrity of a counter-signature: its message-digest attribute against the hash of the
    parent's signature value, its signature over its signed attributes (as encoded, else DER),
    its signer's certificate found by its identifier. A ``CmsIntegrity``, or a sentence why not."""
    from pyhanko.sign.general import find_unique_cms_attribute

    from thaisign.verify.algorithms import cms_algorithm_problem, verify_signature_value
    from thaisign.verify.tokens import CmsIntegrity

    problem = cms_algorithm_problem(counter)
    if problem is not None:
        return SubIndication.SIG_CRYPTO_FAILURE, msg.fill(msg.ALGORITHM_INCONSISTENT, why=problem)
    certs = [c.chosen for c in ats.present(signed_data["certificates"]) if c.name == "certificate"]
    sid = counter["sid"]
    if sid.name == "issuer_and_serial_number":
        wanted = sid.chosen
        cert = next(
            (
                c
                for c in certs
                if c.serial_number == wanted["serial_number"].native and c.issuer == wanted["issuer"]
            ),
            None,
        )
    else:
        cert = next((c for c in certs if c.key_identifier == sid.chosen.native), None)
    if cert is None:
        sub = SubIndication.NO_SIGNING_CERTIFICATE_FOUND
        return sub, msg.for_sub_indication(sub.value)
    md = str(counter["digest_algorithm"]["algorithm"].native)
    try:
        claimed_digest = bytes(find_unique_cms_attribute(counter["signed_attrs"], "message_digest").native)
        intact = claimed_digest == ats.digest_of(md, parent_signature)
    except Exception:
        intact = False
    tbs = counter["signed_attrs"].untag().dump()
    signature = bytes(counter["signature"].native)
    valid = bool(
        verify_signature_value(
            cert.public_key.dump(), counter["signature_algorithm"], signature, tbs, digest_algorithm=md
        )
    ) or valid_as_encoded_elsewhere(counter, cert)
    others = tuple(c for c in certs if c is not cert)
    return CmsIntegrity(
        intact, valid, cert, others, md, str(counter["signature_algorithm"]["algorithm"].native)
    )


async def check_counter_signatures(
    session: Any,
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    *,
    field: str,
    stamps: Iterable[ArchiveStamp] = (),
) -> list[SignatureReport]:
    """One report per counter-signature of ``signer_info`` (what it covers: that signature)."""
    from pyhanko.sign.validation.generic_cms import extract_self_reported_ts

    from thaisign.verify.assess import assess_signature

    stamps = list(stamps)
    parent = bytes(signer_info["signature"].native)
    reports = []
    for n, (counter, octets) in enumerate(counter_signatures(signer_info), 1):
        name = f"{field} / counter-signature {n}"
        base: dict[str, Any] = {"field": name, "kind": "signature", "subfilter": None}
        base["level"] = "B-T" if any(True for _ in _tokens(counter)) else "B-B"
        content = SignedContent(None, (field,))
        claimed = extract_self_reported_ts(counter)
        memo = session.cache.memo
        integrity = _counter_integrity(signed_data, counter, parent)
        if isinstance(integrity, tuple):
            sub, why = integrity
            indication = (
                Indication.TOTAL_FAILED
                if sub is SubIndication.SIG_CRYPTO_FAILURE
                else Indication.INDETERMINATE
            )
            reports.append(
                _report(base, indication, sub, intact=False,
                        sentences=[why], cert=None, memo=memo, claimed=claimed, content=content)
            )  # fmt: skip
            continue
        if not integrity.intact or not integrity.valid:
            sub = SubIndication.HASH_FAILURE if not integrity.intact else SubIndication.SIG_CRYPTO_FAILURE
            why = msg.for_sub_indication(sub.value)
            reports.append(
                _report(base, Indication.TOTAL_FAILED, sub, intact=False, sentences=[why],
                        cert=integrity.cert, memo=memo, claimed=claimed, content=content)
            )  # fmt: skip
            continue
        # proof of existence: the archive time-stamps whose index lists this counter-signature
        covering = [
            s.number
            for s in stamps
            if s.whole or ats.digest_of(s.index_algorithm, octets) in s.attribute_values
        ]
        revision = min(covering) - 1 if covering else len(stamps)
        assessment = await assess_signature(session.ltv, integrity, counter, name, revision, claimed, memo)
        reports.append(_from_assessment(base, assessment, integrity.cert, session, content, []))
    return reports


def _tokens(signer_info: cms.SignerInfo) -> list[Any]:
    from thaisign.verify.tokens import signature_tokens

    return signature_tokens(signer_info)
