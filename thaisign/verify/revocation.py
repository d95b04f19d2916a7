"""Revocation evidence: OCSP responses and CRLs from the file and the network, verified and judged.

Every piece of evidence keeps where it came from (the file's /DSS or /VRI, a signature's
``adbe-revocationInfoArchival`` attribute, a time-stamp token, or an online OCSP responder / CRL
distribution point) and in which PDF revision it first appeared, so that the long-term
validation can give it a proof-of-existence time.

:meth:`RevocationChecker.statements` turns evidence into verified *statements* about one
certificate: an OCSP response counts only when it matches the certificate and its issuer and
is signed by the issuer itself or by a delegated responder that the issuer certified for
OCSPSigning; a CRL only when the issuer signed it, it is complete for the certificate (not a
delta, not indirect, in scope of its distribution point) and has no unknown critical
extension. :meth:`RevocationChecker.judge` then decides the status *at a control time*
(ETSI EN 319 102-1): revoked when any statement says revoked at or before it — never "good"
when a source says revoked — else good when a statement issued no earlier than the time of
use minus the freshness window says so, else unknown.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509

from thaisign.verify.algorithms import verify_signature_value
from thaisign.verify.certs import Cert, CertPool, MalformedCertificate, SignatureCache, parse
from thaisign.verify.certs import name_key as _name_key
from thaisign.verify.policy import ValidationPolicy

MODES: tuple[str, ...] = ("online", "offline", "off")
OCSP_NOCHECK = "ocsp_no_check"
_KNOWN_CRL_EXTENSIONS = {"issuing_distribution_point", "crl_number", "authority_key_identifier"}
_HASH_NAMES = {"sha1": "sha1", "sha224": "sha224", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}
_REASONS_EN = {
    "unspecified": "unspecified",
    "key_compromise": "key compromise",
    "ca_compromise": "CA compromise",
    "affiliation_changed": "affiliation changed",
    "superseded": "superseded",
    "cessation_of_operation": "cessation of operation",
    "certificate_hold": "certificate hold",
    "remove_from_crl": "removed from CRL",
    "privilege_withdrawn": "privilege withdrawn",
    "aa_compromise": "AA compromise",
}


# --- evidence ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Evidence:
    """One OCSP response or CRL and where it was found."""

    kind: str  # "ocsp" | "crl"
    der: bytes
    sha256: str
    origin: str  # "file" | "online"
    location: str  # "/DSS", "/VRI", "signature attribute", "time-stamp token", or the URL
    revision: int | None = None  # PDF revision in which it first appears (file evidence)
    owner: str | None = None  # signature (field) whose signed data carries it
    parsed: Any = field(default=None, repr=False)
    signed_bytes: bytes = field(default=b"", repr=False)  # the TBS part its signature covers

    @classmethod
    def of(
        cls,
        kind: str,
        data: bytes | asn1_ocsp.OCSPResponse | asn1_crl.CertificateList,
        origin: str,
        location: str,
        *,
        revision: int | None = None,
        owner: str | None = None,
    ) -> Evidence:
        """Parse ``data``; ValueError when it is not an OCSP response / CRL at all."""
        der = data if isinstance(data, bytes) else data.dump()
        try:
            if kind == "ocsp":
                fresh = asn1_ocsp.OCSPResponse.load(der)
                basic = fresh["response_bytes"]["response"].parsed
                signed = basic["tbs_response_data"].dump()
                parsed: Any = asn1_ocsp.OCSPResponse.load(der)
            else:
                fresh_crl = asn1_crl.CertificateList.load(der)
                signed = fresh_crl["tbs_cert_list"].dump()
                parsed = asn1_crl.CertificateList.load(der)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"unreadable {kind.upper()} data: {exc}") from None
        return cls(
            kind, der, hashlib.sha256(der).hexdigest(), origin, location, revision, owner, parsed, signed
        )

    @property
    def source(self) -> str:
        """DESIGN.md's ``revocation.source``: embedded (file), ocsp or crl (online)."""
        return "embedded" if self.origin == "file" else self.kind


@dataclass
class EmbeddedRevinfo:
    """Certificates, OCSP responses and CRLs carried inside a PDF, with where each was found."""

    certs: list[asn1_x509.Certificate] = field(default_factory=list)
    ocsps: list[asn1_ocsp.OCSPResponse] = field(default_factory=list)
    crls: list[asn1_crl.CertificateList] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    #: certificate sha256 -> first revision it appears in (/DSS certificates)
    cert_revisions: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    _seen: set[tuple[str, str | None]] = field(default_factory=set)

    def add(
        self,
        kind: str,
        data: bytes | asn1_ocsp.OCSPResponse | asn1_crl.CertificateList,
        location: str,
        *,
        revision: int | None = None,
        owner: str | None = None,
    ) -> None:
        try:
            ev = Evidence.of(kind, data, "file", location, revision=revision, owner=owner)
        except ValueError as exc:
            self.problems.append(str(exc))
            return
        if (ev.sha256, owner) in self._seen:
            return
        self._seen.add((ev.sha256, owner))
        self.evidence.append(ev)
        (self.ocsps if kind == "ocsp" else self.crls).append(ev.parsed)

    def add_archival(
        self, signer_info: cms.SignerInfo, *, revision: int | None = None, owner: str | None = None
    ) -> None:
        """Add the ``adbe-revocationInfoArchival`` signed attribute of one signature."""
        attrs = signer_info["signed_attrs"]
        if not attrs:
            return
        for attr in attrs:
            if attr["type"].native != "adobe_revocation_info_archival":
                continue
            for value in attr["values"]:
                for c in value["crl"] or ():
                    self.add("crl", c, "signature attribute", revision=revision, owner=owner)
                for o in value["ocsp"] or ():
                    self.add("ocsp", o, "signature attribute", revision=revision, owner=owner)

    @property
    def has_revinfo(self) -> bool:
        return bool(self.ocsps or self.crls)


# --- statements ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """What one verified piece of evidence says about one certificate."""

    evidence: Evidence
    status: str  # good | revoked | hold | unknown
    issued: datetime  # thisUpdate
    next_update: datetime | None
    revoked_at: datetime | None = None
    reason: str | None = None
    #: the evidence's signer must have existed-and-been-valid: its proof of existence must be
    #: no later than this (the responder's or CA's notAfter)
    signer_valid_until: datetime | None = None
    #: a "good" issued after the certificate expired proves nothing (CRLs drop expired entries)
    covers_expired: bool = False
    complete: bool = True  # a CRL limited to some reasons can say "revoked", never "good"
    signer_name: str | None = None  # the responder's or CA's name, for messages

    def good_at(self, control: datetime) -> bool:
        """Says the certificate was not revoked at ``control``."""
        if not self.complete:
            return False
        if self.status == "good":
            return True
        return (
            self.status in ("revoked", "hold") and self.revoked_at is not None and self.revoked_at > control
        )


@dataclass(frozen=True)
class CertStatus:
    """The judged revocation status of one certificate at one control time."""

    status: str  # good | revoked | hold | unknown
    deciding: Statement | None = None
    later: Statement | None = None  # a revocation after the control time
    note: tuple[str, str] | None = None  # why "unknown", in English and Thai

    @property
    def revoked_at(self) -> datetime | None:
        for s in (self.deciding, self.later):
            if s is not None and s.revoked_at is not None and s.status in ("revoked", "hold"):
                return s.revoked_at
        return None


def reason_text(reason: str | None) -> str:
    return _REASONS_EN.get(reason or "unspecified", str(reason))


class RevocationChecker:
    """Verifies evidence into statements (remembered per batch) and judges a status."""

    def __init__(self, policy: ValidationPolicy, signatures: SignatureCache) -> None:
        self.policy = policy
        self.signatures = signatures
        self._statements: dict[tuple[str, str, str], tuple[Statement | None, str | None]] = {}
        self._crl_entries: dict[str, dict[int, Any]] = {}

    def statements(
        self, cert: Cert, issuer: Cert, evidence: Iterable[Evidence], pool: CertPool
    ) -> tuple[list[Statement], list[str]]:
        """Verified statements about ``cert`` (issued by ``issuer``), and why others were refused."""
        out: list[Statement] = []
        problems: list[str] = []
        for ev in evidence:
            if not self._may_concern(ev, cert, issuer):
                continue
            key = (ev.sha256, cert.sha256, issuer.sha256)
            hit = self._statements.get(key)
            if hit is None:
                try:
                    hit = self._verify(ev, cert, issuer, pool)
                except (ValueError, TypeError, KeyError, AttributeError, NotImplementedError) as exc:
                    hit = (None, f"unreadable {ev.kind.upper()} data ({exc})")
                if len(self._statements) > 50_000:
                    self._statements.clear()
                self._statements[key] = hit
            statement, problem = hit
            if statement is not None:
                out.append(dataclasses_replace_evidence(statement, ev))
            elif problem:
                problems.append(problem)
        return out, problems

    def _may_concern(self, ev: Evidence, cert: Cert, issuer: Cert) -> bool:
        """A cheap pre-filter: an OCSP response naming the serial, a CRL of the issuer's name."""
        try:
            if ev.kind == "ocsp":
                basic = ev.parsed["response_bytes"]["response"].parsed
                serial = cert.asn1.serial_number
                return any(
                    single["cert_id"]["serial_number"].native == serial
                    for single in basic["tbs_response_data"]["responses"]
                )
            return _name_key(ev.parsed["tbs_cert_list"]["issuer"]) == issuer.subject
        except (ValueError, TypeError, KeyError, AttributeError):
            return True  # let verification say what is wrong

    # --- OCSP ------------------------------------------------------------------------------------

    def _verify(
        self, ev: Evidence, cert: Cert, issuer: Cert, pool: CertPool
    ) -> tuple[Statement | None, str | None]:
        return (
            self._verify_ocsp(ev, cert, issuer, pool)
            if ev.kind == "ocsp"
            else self._verify_crl(ev, cert, issuer)
        )

    def _verify_ocsp(
        self, ev: Evidence, cert: Cert, issuer: Cert, pool: CertPool
    ) -> tuple[Statement | None, str | None]:
        resp = ev.parsed
        if resp["response_status"].native != "successful":
            return None, f"OCSP responder answered {resp['response_status'].native}"
        rb = resp["response_bytes"]
        if rb["response_type"].native != "basic_ocsp_response":
            return None, "OCSP response of an unknown type"
        basic = rb["response"].parsed
        tbs = basic["tbs_response_data"]
        single = _matching_single(tbs, cert, issuer)
        if single is None:
            return None, None  # about another certificate
        produced_at = tbs["produced_at"].native
        responder = self._responder(basic, tbs, issuer, pool)
        if responder is None:
            return None, "OCSP response not signed by the issuing CA or a responder it authorised"
        if not (responder.not_before <= produced_at <= responder.not_after):
            return None, "OCSP response produced outside its responder certificate's validity"
        if responder.spki != issuer.spki:
            delegated_problem = self._delegated_problem(responder, issuer)
            if delegated_problem:
                return None, delegated_problem
        status = single["cert_status"].name
        this_update = single["this_update"].native
        next_update = single["next_update"].native
        revoked_at = reason = None
        if status == "revoked":
            info = single["cert_status"].chosen
            revoked_at = info["revocation_time"].native
            reason = info["revocation_reason"].native or "unspecified"
            if reason == "certificate_hold":
                status = "hold"
        elif status != "good":
            status = "unknown"
        archive_cutoff = _single_extension(single, "archive_cutoff")
        covers_expired = this_update <= cert.not_after or (
            archive_cutoff is not None and archive_cutoff <= cert.not_after
        )
        statement = Statement(ev, status, this_update, next_update, revoked_at, reason)
        return (
            dataclasses.replace(
                statement,
                signer_valid_until=responder.not_after,
                covers_expired=covers_expired,
                signer_name=responder.label,
            ),
            None,
        )

    def _responder(self, basic: Any, tbs: Any, issuer: Cert, pool: CertPool) -> Cert | None:
        rid = tbs["responder_id"]
        candidates: list[Cert] = [issuer]
        for c in basic["certs"] or ():
            with contextlib.suppress(MalformedCertificate):
                candidates.append(parse(c))
        candidates.extend(pool)
        signature = basic["signature"].native
        signed = basic["tbs_response_data"].dump()
        for cand in candidates:
            if rid.name == "by_name":
                if cand.subject != _name_key(rid.chosen):
                    continue
            elif hashlib.sha1(_key_bits(cand)).digest() != rid.chosen.native:
                continue
            if verify_signature_value(cand.spki, basic["signature_algorithm"], signature, signed):
                return cand
        return None

    def _delegated_problem(self, responder: Cert, issuer: Cert) -> str | None:
        """RFC 6960 4.2.2.2: a delegated responder is certified for OCSPSigning by the issuer."""
        if (
            responder.issuer != issuer.subject
            or self.signatures.signed_by(responder, issuer.spki) is not True
        ):
            return "OCSP responder certificate not issued by the certificate's CA"
        eku = responder.asn1.extended_key_usage_value
        if eku is None or "ocsp_signing" not in eku.native:
            return "OCSP responder certificate lacks the OCSPSigning extended key usage"
        if responder.asn1.ocsp_no_check_value is None:
            return "OCSP responder certificate has no id-pkix-ocsp-nocheck and its own status is unknown"
        return None

    # --- CRL -------------------------------------------------------------------------------------

    def _verify_crl(self, ev: Evidence, cert: Cert, issuer: Cert) -> tuple[Statement | None, str | None]:
        crl = ev.parsed
        tbs = crl["tbs_cert_list"]
        if _name_key(tbs["issuer"]) != issuer.subject:
            return None, None
        ok = verify_signature_value(
            issuer.spki, crl["signature_algorithm"], crl["signature"].native, ev.signed_bytes
        )
        if not ok:
            return None, "CRL signature does not verify with the issuing CA's key"
        ku = issuer.asn1.key_usage_value
        if ku is not None and "crl_sign" not in ku.native:
            return None, "the CA's key usage does not allow signing CRLs"
        this_update = tbs["this_update"].native
        next_update = tbs["next_update"].native
        if not (issuer.not_before <= this_update <= issuer.not_after):
            return None, "CRL issued outside the CA certificate's validity"
        unknown = set(crl.critical_extensions) - _KNOWN_CRL_EXTENSIONS
        if crl.delta_crl_indicator_value is not None:
            return None, "delta CRLs are not used"
        if unknown:
            return None, f"CRL with unknown critical extensions ({', '.join(sorted(unknown))})"
        complete = True
        idp = crl.issuing_distribution_point_value
        if idp is not None:
            if idp["indirect_crl"].native:
                return None, "indirect CRLs are not used"
            if idp["only_contains_attribute_certs"].native:
                return None, None
            if idp["only_contains_user_certs"].native and cert.is_ca:
                return None, None
            if idp["only_contains_ca_certs"].native and not cert.is_ca:
                return None, None
            if idp["only_some_reasons"].native is not None:
                complete = False
            if not _in_dp_scope(idp, cert):
                return None, None
        entry = self._entries(ev).get(cert.asn1.serial_number)
        status, revoked_at, reason = "good", None, None
        if entry is not None:
            revoked_at = entry["revocation_date"].native
            reason_value = entry.crl_reason_value
            reason = reason_value.native if reason_value is not None else "unspecified"
            status = "hold" if reason == "certificate_hold" else "revoked"
            if reason == "remove_from_crl":
                status, revoked_at, reason = "good", None, None
        expired_on_crl = _crl_extension(crl, "2.5.29.60")
        covers_expired = this_update <= cert.not_after or (
            isinstance(expired_on_crl, datetime) and expired_on_crl <= cert.not_after
        )
        statement = Statement(ev, status, this_update, next_update, revoked_at, reason, complete=complete)
        return (
            dataclasses.replace(
                statement,
                signer_valid_until=issuer.not_after,
                covers_expired=covers_expired,
                signer_name=issuer.label,
            ),
            None,
        )

    def _entries(self, ev: Evidence) -> dict[int, Any]:
        hit = self._crl_entries.get(ev.sha256)
        if hit is None:
            hit = {}
            for entry in ev.parsed["tbs_cert_list"]["revoked_certificates"] or ():
                if entry.certificate_issuer_value is not None:
                    continue  # an entry of an indirect CRL names another issuer
                hit.setdefault(entry["user_certificate"].native, entry)
            if len(self._crl_entries) > 256:
                self._crl_entries.clear()
            self._crl_entries[ev.sha256] = hit
        return hit

    # --- judgement ---------------------------------------------------------------------------------

    def judge(
        self,
        cert: Cert,
        statements: list[Statement],
        *,
        control: datetime,
        usage: datetime,
        poe: Callable[[Evidence], datetime],
    ) -> CertStatus:
        """The status of ``cert`` at ``control`` (it was used at ``usage``; ``usage`` ≤ ``control``)."""
        usable = [
            s for s in statements if s.signer_valid_until is None or poe(s.evidence) <= s.signer_valid_until
        ]
        dropped = len(statements) - len(usable)
        revoked = [
            s
            for s in usable
            if s.status in ("revoked", "hold") and s.revoked_at is not None and s.revoked_at <= control
        ]
        if revoked:
            first = min(revoked, key=lambda s: (s.revoked_at, s.evidence.origin != "file"))
            return CertStatus("hold" if first.status == "hold" else "revoked", first)
        later_all = [s for s in usable if s.status == "revoked" and s.revoked_at is not None]
        later = (
            min(later_all, key=lambda s: (s.revoked_at, s.evidence.origin != "file")) if later_all else None
        )
        fresh = [
            s
            for s in usable
            if s.good_at(control)
            and s.covers_expired
            and s.issued >= cert.not_before
            and s.issued >= usage - self.policy.freshness_window(s.issued, s.next_update)
        ]
        if fresh:
            best = min(fresh, key=lambda s: (s.evidence.origin != "file", -s.issued.timestamp()))
            return CertStatus("good", best, later)
        if not statements:
            note = ("no revocation data", "ไม่มีข้อมูลการเพิกถอน")
        elif not usable:
            note = (
                "the revocation data's signer expired before any proof that the data existed",
                "ผู้ลงนามข้อมูลการเพิกถอนหมดอายุก่อนมีหลักฐานว่าข้อมูลนั้นมีอยู่",
            )
        else:
            newest = max(usable, key=lambda s: s.issued)
            from thaisign.thai_date import format_thai_date, format_thai_time

            note = (
                f"the newest revocation data was issued {newest.issued:%Y-%m-%d %H:%M} UTC, too early",
                f"ข้อมูลการเพิกถอนล่าสุดออกเมื่อ {format_thai_date(newest.issued)} เวลา "
                f"{format_thai_time(newest.issued)} ซึ่งเก่าเกินไป",
            )
        if dropped and usable:
            note = (
                note[0] + "; some data is unusable without proof of existence",
                note[1] + " และข้อมูลบางส่วนใช้ไม่ได้เพราะไม่มีหลักฐานว่ามีอยู่ในเวลาที่ต้องการ",
            )
        return CertStatus("unknown", None, later, note)


def dataclasses_replace_evidence(statement: Statement, ev: Evidence) -> Statement:
    """The statement re-attached to this instance of the evidence (same bytes, other location)."""
    if statement.evidence is ev:
        return statement
    return dataclasses.replace(statement, evidence=ev)


# --- helpers ---------------------------------------------------------------------------------------


def _key_bits(cert: Cert) -> bytes:
    return bytes(cert.asn1["tbs_certificate"]["subject_public_key_info"]["public_key"].contents[1:])


def _matching_single(tbs: Any, cert: Cert, issuer: Cert) -> Any:
    serial = cert.asn1.serial_number
    issuer_name_der = cert.asn1.issuer.dump()
    key_bits = _key_bits(issuer)
    for single in tbs["responses"]:
        cid = single["cert_id"]
        if cid["serial_number"].native != serial:
            continue
        algo = _HASH_NAMES.get(cid["hash_algorithm"]["algorithm"].native)
        if algo is None:
            continue
        if (
            hashlib.new(algo, issuer_name_der).digest() == cid["issuer_name_hash"].native
            and hashlib.new(algo, key_bits).digest() == cid["issuer_key_hash"].native
        ):
            return single
    return None


def _single_extension(single: Any, name: str) -> Any:
    for ext in single["single_extensions"] or ():
        if ext["extn_id"].native == name:
            return ext["extn_value"].native
    return None


def _crl_extension(crl: Any, oid: str) -> Any:
    for ext in crl["tbs_cert_list"]["crl_extensions"] or ():
        if ext["extn_id"].dotted == oid:
            with contextlib.suppress(Exception):
                from asn1crypto import core

                return core.GeneralizedTime.load(bytes(ext["extn_value"].contents)).native
    return None


def _in_dp_scope(idp: Any, cert: Cert) -> bool:
    """RFC 5280 6.3.3 (b)(2)(i): the IDP's full name must match one of the certificate's DPs."""
    dp = idp["distribution_point"]
    if dp.native is None or dp.name != "full_name":
        return True
    idp_names = {str(gn.native) for gn in dp.chosen}
    cert_dps = cert.asn1.crl_distribution_points_value
    if cert_dps is None:
        return True  # RFC 5280 lets the issuer's own CRL cover certificates without a DP
    for point in cert_dps:
        name = point["distribution_point"]
        if name.native is None or name.name != "full_name":
            return True
        if idp_names & {str(gn.native) for gn in name.chosen}:
            return True
    return False
