"""The verification report: small immutable value objects, and their JSON form (DESIGN.md).

A :class:`VerificationReport` describes one file; it holds one :class:`SignatureReport` per
signature or document timestamp, each with an ETSI EN 319 102-1 :class:`Indication` and
:class:`SubIndication` plus the facts a clerk needs (who, when, coverage, chain, revocation).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class Indication(enum.StrEnum):
    """ETSI EN 319 102-1 main indication of one signature."""

    TOTAL_PASSED = "TOTAL_PASSED"
    TOTAL_FAILED = "TOTAL_FAILED"
    INDETERMINATE = "INDETERMINATE"


class SubIndication(enum.StrEnum):
    """ETSI EN 319 102-1 sub-indications (clause 5.1.3) used by thaisign."""

    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    NOT_YET_VALID = "NOT_YET_VALID"
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    EXPIRED = "EXPIRED"
    POLICY_PROCESSING_ERROR = "POLICY_PROCESSING_ERROR"
    TIMESTAMP_ORDER_FAILURE = "TIMESTAMP_ORDER_FAILURE"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    REVOCATION_OUT_OF_BOUNDS_NO_POE = "REVOCATION_OUT_OF_BOUNDS_NO_POE"
    OUT_OF_BOUNDS_NOT_REVOKED = "OUT_OF_BOUNDS_NOT_REVOKED"
    NO_POE = "NO_POE"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
    GENERIC = "GENERIC"


class Verdict(enum.StrEnum):
    """Whole-file verdict: the worst of its signatures, or why there is none."""

    TOTAL_PASSED = "TOTAL_PASSED"
    TOTAL_FAILED = "TOTAL_FAILED"
    INDETERMINATE = "INDETERMINATE"
    NO_SIGNATURE = "NO_SIGNATURE"
    ERROR = "ERROR"


class Coverage(enum.StrEnum):
    ENTIRE_FILE = "ENTIRE_FILE"
    ENTIRE_REVISION = "ENTIRE_REVISION"
    PARTIAL = "PARTIAL"


class Modifications(enum.StrEnum):
    NONE = "NONE"
    ALLOWED = "ALLOWED"
    DISALLOWED = "DISALLOWED"


@dataclass(frozen=True)
class ChainEntry:
    """One certificate of the chain, from the signer up to the trust anchor."""

    subject: str
    sha256: str
    common_name: str | None = None  # for short displays; not part of the JSON


@dataclass(frozen=True)
class SignerFacts:
    """Who signed: name (CN), position (title), agency (O) and certificate fingerprint."""

    name: str | None
    position: str | None
    organization: str | None
    certificate_sha256: str | None


@dataclass(frozen=True)
class TimestampFacts:
    """The signature time-stamp token: when, by which TSA, and whether it holds."""

    time: datetime
    tsa: str | None
    intact: bool
    trusted: bool


@dataclass(frozen=True)
class RevocationFacts:
    """Revocation status of the signer certificate and where the answer came from.

    ``status`` is what the sources say about the certificate (``revoked`` whenever any source
    says so, even when the revocation came after the proven signing time); ``status_then`` is
    the status at ``judged_at``, the time that mattered (the proof of existence of the
    signature). ``evidence``/``origin``/``location``/``issued`` describe the deciding answer.
    """

    status: str  # good | revoked | unknown | not-checked
    source: str  # ocsp | crl | embedded | none
    revoked_at: datetime | None = None
    reason: str | None = None  # e.g. "key compromise"
    judged_at: datetime | None = None
    evidence: str | None = None  # ocsp | crl
    origin: str | None = None  # file | online
    location: str | None = None  # /DSS, /VRI, signature attribute, time-stamp token, or the URL
    issued: datetime | None = None  # thisUpdate of the deciding answer
    status_then: str | None = None  # good | revoked | hold | unknown, at judged_at

    def to_dict(self) -> dict[str, Any]:
        deciding = None
        if self.evidence is not None:
            deciding = {
                "kind": self.evidence,
                "origin": self.origin,
                "location": self.location,
                "issued": _iso(self.issued),
            }
        return {
            "status": self.status,
            "source": self.source,
            "revoked_at": _iso(self.revoked_at),
            "reason": self.reason,
            "judged_at": _iso(self.judged_at),
            "status_then": self.status_then,
            "deciding": deciding,
        }


@dataclass(frozen=True)
class Messages:
    """Sentences for the clerk, in English and Thai (same order)."""

    en: tuple[str, ...] = ()
    th: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignatureReport:
    """The verdict and facts for one signature or document timestamp."""

    field: str
    kind: str  # signature | document-timestamp
    indication: Indication
    sub_indication: SubIndication | None
    intact: bool
    coverage: Coverage
    modifications: Modifications
    trusted: bool
    chain: tuple[ChainEntry, ...] = ()
    signer: SignerFacts | None = None
    signing_time: datetime | None = None
    signing_time_source: str | None = None  # timestamp | claimed
    timestamp: TimestampFacts | None = None
    revocation: RevocationFacts = RevocationFacts("not-checked", "none")
    level: str | None = None
    messages: Messages = dataclasses.field(default_factory=Messages)
    subfilter: str | None = None
    #: the changes made after this signature, named (thaisign.verify.changes.Change objects)
    changes: tuple[Any, ...] = ()
    #: what the pages show differs from what was signed, and no certification permits it
    content_changed: bool = False
    #: proof of existence: the time the signature is known to have existed, and what proves it
    #: (signature-timestamp | document-timestamp | validation-time)
    poe_time: datetime | None = None
    poe_source: str | None = None
    validation_time: datetime | None = None
    #: until when that proof can be checked (the first expiry it relies on; re-time-stamp before)
    provable_until: datetime | None = None
    reason: str | None = None  # /Reason of the signature dictionary, as the signer wrote it
    location: str | None = None  # /Location, likewise
    #: the data objects a CAdES/ASiC signature covers (file names); empty for a PDF signature
    covers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # names read from a PDF arrive as pyHanko string objects that drag their parser along;
        # a report holds plain values only (small, picklable, comparable)
        for name in ("field", "kind", "subfilter", "reason", "location"):
            value = getattr(self, name)
            if value is not None and type(value) is not str:
                object.__setattr__(self, name, str(value))

    @property
    def passed(self) -> bool:
        """True when this signature's indication is TOTAL_PASSED."""
        return self.indication is Indication.TOTAL_PASSED

    @property
    def accepted(self) -> bool:
        """Passed, and the pages still show what was signed (or what a certification permits)."""
        return self.passed and not self.content_changed

    def __repr__(self) -> str:
        who = self.signer.name if self.signer and self.signer.name else "?"
        sub = f"/{self.sub_indication.value}" if self.sub_indication else ""
        return f"<SignatureReport {self.field!r} {self.indication.value}{sub} signer={who!r}>"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of DESIGN.md for this signature."""
        return {
            "field": self.field,
            "kind": self.kind,
            "indication": self.indication.value,
            "sub_indication": self.sub_indication.value if self.sub_indication else None,
            "intact": self.intact,
            "coverage": self.coverage.value,
            "modifications": self.modifications.value,
            "trusted": self.trusted,
            "chain": [{"subject": c.subject, "sha256": c.sha256} for c in self.chain],
            "signer": None
            if self.signer is None
            else {
                "name": self.signer.name,
                "position": self.signer.position,
                "organization": self.signer.organization,
                "certificate_sha256": self.signer.certificate_sha256,
            },
            "signing_time": _iso(self.signing_time),
            "signing_time_source": self.signing_time_source,
            "timestamp": None
            if self.timestamp is None
            else {
                "time": _iso(self.timestamp.time),
                "tsa": self.timestamp.tsa,
                "intact": self.timestamp.intact,
                "trusted": self.timestamp.trusted,
            },
            "revocation": self.revocation.to_dict(),
            "level": self.level,
            "messages": {"en": list(self.messages.en), "th": list(self.messages.th)},
            "changes": [c.to_dict() for c in self.changes],
            "content_changed": self.content_changed,
            "proof_of_existence": None
            if self.poe_time is None
            else {"time": _iso(self.poe_time), "source": self.poe_source},
            "validation_time": _iso(self.validation_time),
            "provable_until": _iso(self.provable_until),
            "reason": self.reason,
            "location": self.location,
            "covers": list(self.covers),
        }


_ORDER = {
    Verdict.TOTAL_PASSED: 0,
    Verdict.INDETERMINATE: 1,
    Verdict.TOTAL_FAILED: 2,
}


@dataclass(frozen=True)
class VerificationReport:
    """The result for one file: a verdict summing its signatures, or an error."""

    file: str
    signatures: tuple[SignatureReport, ...] = ()
    error: str | None = None
    error_th: str | None = None
    #: what the file is: pdf, cades (a .p7s/.p7m), asic-e or asic-s (a container)
    format: str = "pdf"
    #: the signed data a CAdES signature was checked against, or a container's data files
    data: tuple[str, ...] = ()
    #: data files of a container that no signature covers (never TOTAL_PASSED while there are any)
    unsigned: tuple[str, ...] = ()

    @property
    def verdict(self) -> Verdict:
        """The file's verdict: ERROR or NO_SIGNATURE, else the worst indication of its signatures
        (TOTAL_FAILED over INDETERMINATE over TOTAL_PASSED)."""
        if self.error is not None:
            return Verdict.ERROR
        if not any(s.kind == "signature" for s in self.signatures):
            # document time-stamps alone prove when, not who: nobody signed the letter (as DSS)
            return Verdict.NO_SIGNATURE
        worst = max((Verdict(s.indication.value) for s in self.signatures), key=_ORDER.__getitem__)
        if self.unsigned and worst is Verdict.TOTAL_PASSED:
            return Verdict.INDETERMINATE  # what no signature covers is not signed
        return worst

    @property
    def passed(self) -> bool:
        """True only when every signature passed (the CLI's exit code 0)."""
        return self.verdict is Verdict.TOTAL_PASSED

    @property
    def content_changed(self) -> bool:
        """Some signature's pages show something other than what was signed (see docs/verify.md)."""
        return any(s.content_changed for s in self.signatures)

    @property
    def accepted(self) -> bool:
        """What a clerk may rely on: TOTAL_PASSED and the content unchanged (exit code 0)."""
        return self.passed and not self.content_changed

    def __repr__(self) -> str:
        extra = f" error={self.error!r}" if self.error else f" signatures={len(self.signatures)}"
        return f"<VerificationReport {self.file!r} {self.verdict.value}{extra}>"

    def to_dict(self) -> dict[str, Any]:
        """The per-file JSON object of DESIGN.md."""
        return {
            "file": self.file,
            "verdict": self.verdict.value,
            "error": self.error,
            "signatures": [s.to_dict() for s in self.signatures],
            "format": self.format,
            "data": list(self.data),
            "unsigned": list(self.unsigned),
            "content_changed": self.content_changed,
        }


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")
