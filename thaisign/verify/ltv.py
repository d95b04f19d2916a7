"""Long-term validation (ETSI EN 319 102-1): proof of existence first, then chain and revocation at
that time.

The three processes of the standard, as thaisign runs them per file:

1. **document time-stamps**, newest first: the newest is validated at the validation time; each
   one that holds proves that everything in the revisions it covers existed at its time, so the
   one before it is validated at that time, and so on (PAdES B-LTA);
2. **validation with time**: a signature time-stamp whose token is intact and whose TSA
   certificate validates (at the time-stamp's own proof of existence, for timeStamping, not
   revoked before then) gives the *best-signature-time*;
3. **the signer**: chain, purpose and revocation are judged at the best-signature-time (or the
   validation time when nothing proves an earlier one). Revocation data is fresh when issued no
   earlier than that time minus its validity window; a revocation at or before it is fatal, one
   after it is reported and the signature stands.

Evidence embedded in the file is always used; online answers are added to it (same data, same
verdict). Each evidence item's proof of existence is the earliest valid document time-stamp
covering it (else the validation time); the signer of OCSP responses and CRLs must have been
valid then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import x509 as asn1_x509

from thaisign.verify import chain as chain_mod
from thaisign.verify.certs import Cert, CertPool, MalformedCertificate, SignatureCache, parse
from thaisign.verify.chain import ChainResult, ChainValidator
from thaisign.verify.messages import Sentence
from thaisign.verify.policy import SIGNING_KEY_USAGES, ValidationPolicy
from thaisign.verify.revocation import CertStatus, EmbeddedRevinfo, Evidence, RevocationChecker

SIGNER = "document signing"
TSA = "time-stamping"

#: failure kinds beyond :mod:`thaisign.verify.chain`'s
PURPOSE = "purpose"
REVOKED = "revoked"
REVOKED_CA = "revoked-ca"
HOLD = "hold"
REVINFO = "revinfo"

_EKU_NAMES: dict[str, tuple[str, str]] = {
    "time_stamping": ("time-stamping", "การประทับเวลา"),
    "ocsp_signing": ("OCSP signing", "การลงนามคำตอบ OCSP"),
    "server_auth": ("TLS server", "เว็บเซิร์ฟเวอร์ (TLS)"),
    "client_auth": ("TLS client", "การยืนยันตัวตนเครื่องลูกข่าย (TLS)"),
    "code_signing": ("code signing", "การลงนามโปรแกรม"),
    "email_protection": ("e-mail protection", "การป้องกันอีเมล"),
}


@dataclass(frozen=True)
class UseCheck:
    """Whether one certificate could be used for one purpose at one control time."""

    ok: bool
    control: datetime
    chain: ChainResult | None = None
    failure: str | None = None
    message: str | None = None
    #: (certificate, status) for each certificate of the path whose revocation was judged
    statuses: tuple[tuple[Cert, CertStatus], ...] = ()
    problem_cert: Cert | None = None
    detail: Sentence | None = None  # the reason in both languages, where there is one

    def status_of(self, cert: Cert | None) -> CertStatus | None:
        return next((s for c, s in self.statuses if c == cert), None)


def purpose_problem(cert: Cert, purpose: str, policy: ValidationPolicy) -> Sentence | None:
    """Why ``cert`` may not be used for ``purpose`` (a sentence part in both languages), or None."""
    from thaisign.verify import messages as msg

    eku_value = cert.asn1.extended_key_usage_value
    ekus = None if eku_value is None else {str(p.dotted) for p in eku_value}
    if purpose == SIGNER:
        ku = cert.asn1.key_usage_value
        if ku is not None and not (set(ku.native) & SIGNING_KEY_USAGES):
            return msg.PURPOSE_KU
        if eku_value is not None and ekus is not None and not (ekus & policy.signer_ekus):
            names = [_EKU_NAMES.get(str(p.native), (str(p.dotted), str(p.dotted))) for p in eku_value]
            kinds = (", ".join(n[0] for n in names), ", ".join(n[1] for n in names))
            return msg.fill(msg.PURPOSE_EKU, kinds=kinds)
        return None
    if purpose == TSA and (ekus is None or "1.3.6.1.5.5.7.3.8" not in ekus):
        return msg.PURPOSE_TSA
    return None


class LtvEngine:
    """What a batch shares for long-term validation: anchors, caches, the fetcher, the policy."""

    def __init__(self, anchors: list[Cert], policy: ValidationPolicy, mode: str) -> None:
        self.policy = policy
        self.mode = mode
        self.signatures = SignatureCache()
        self.chains = ChainValidator(anchors, signatures=self.signatures)
        self.algorithms = policy.algorithms()
        self.sunsets = dict(policy.algorithm_sunsets)
        self.checker = RevocationChecker(policy, self.signatures)
        self.fetcher: Any = None  # a thaisign.verify.fetch.Fetcher when online (imported only then)
        if mode == "online" and policy.network.enabled:
            from thaisign.verify.fetch import Fetcher

            self.fetcher = Fetcher(policy.network)
        self._chain_memo: dict[tuple[str, str, datetime], ChainResult] = {}
        self._fetched: dict[tuple[str, str], list[Evidence]] = {}
        self._parsed: dict[bytes, Cert | None] = {}
        self.use_memo: dict[tuple[Any, ...], UseCheck] = {}
        self.stats = {
            "path_validations": 0,
            "path_hits": 0,
            "revocation_checks": 0,
            "revocation_hits": 0,
            "fetches": 0,
        }

    def after_fork(self) -> None:
        """In a forked worker: a fetcher of its own (no shared connections or locks)."""
        if self.fetcher is not None:
            from thaisign.verify.fetch import Fetcher

            self.fetcher = Fetcher(self.policy.network)

    def cert(self, data: asn1_x509.Certificate | bytes) -> Cert | None:
        """A parsed certificate (remembered by DER), None when malformed."""
        der = data if isinstance(data, bytes) else data.dump()
        if der in self._parsed:
            return self._parsed[der]
        try:
            parsed: Cert | None = parse(der)
        except MalformedCertificate:
            parsed = None
        if len(self._parsed) > 20_000:
            self._parsed.clear()
        self._parsed[der] = parsed
        return parsed

    async def chain(self, leaf: Cert, pool: CertPool, control: datetime) -> ChainResult:
        key = (leaf.sha256, pool.key, control)
        self.stats["path_validations"] += 1
        hit = self._chain_memo.get(key)
        if hit is not None:
            self.stats["path_hits"] += 1
            return hit
        result = await self.chains.validate(
            leaf, pool, control, context=chain_mod.plain_context(control, self.algorithms)
        )
        if len(self._chain_memo) > 20_000:
            self._chain_memo.clear()
        self._chain_memo[key] = result
        return result

    def fetched(self, cert: Cert, issuer: Cert) -> list[Evidence]:
        """OCSP responses and CRLs fetched for ``cert`` (once per batch; failures give none)."""
        if self.fetcher is None:
            return []
        from thaisign.verify.fetch import FetchError

        key = (cert.sha256, issuer.sha256)
        hit = self._fetched.get(key)
        if hit is not None:
            return hit
        out: list[Evidence] = []
        for url in list(cert.asn1.ocsp_urls)[:2]:
            try:
                answer = self.fetcher.post(url, _ocsp_request(cert, issuer), "application/ocsp-request")
                out.append(Evidence.of("ocsp", answer.data, "online", url))
                self.stats["fetches"] += 1
            except (FetchError, ValueError):
                continue
        for url in _crl_urls(cert)[:2]:
            try:
                answer = self.fetcher.get(url)
                out.append(Evidence.of("crl", answer.data, "online", url))
                self.stats["fetches"] += 1
            except (FetchError, ValueError):
                continue
        self._fetched[key] = out
        return out


def _ocsp_request(cert: Cert, issuer: Cert) -> bytes:
    from asn1crypto import ocsp as asn1_ocsp

    key_bits = bytes(issuer.asn1["tbs_certificate"]["subject_public_key_info"]["public_key"].contents[1:])
    cert_id = asn1_ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": "sha1"},
            "issuer_name_hash": hashlib.sha1(cert.asn1.issuer.dump()).digest(),
            "issuer_key_hash": hashlib.sha1(key_bits).digest(),
            "serial_number": cert.asn1.serial_number,
        }
    )
    request = asn1_ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": cert_id}]}})
    return request.dump()


def _crl_urls(cert: Cert) -> list[str]:
    urls: list[str] = []
    for point in cert.asn1.crl_distribution_points_value or ():
        name = point["distribution_point"]
        if name.native is None or name.name != "full_name":
            continue
        for general in name.chosen:
            if general.name == "uniform_resource_identifier":
                urls.append(str(general.native))
    return urls


@dataclass
class DocTimestamp:
    """One document time-stamp of the file, with its proof-of-existence verdict."""

    field_name: str
    revision: int
    token: Any  # tokens.TokenCheck
    poe: datetime | None = None  # the time it was validated at
    use: UseCheck | None = None

    @property
    def valid(self) -> bool:
        return bool(self.token.intact and self.use is not None and self.use.ok)


@dataclass
class FileLtv:
    """One file's validation data, proof-of-existence times and use checks."""

    engine: LtvEngine
    embedded: EmbeddedRevinfo
    moment: datetime
    pool: CertPool = field(default_factory=CertPool)
    timestamps: list[DocTimestamp] = field(default_factory=list)
    #: signature field -> proof of existence of that signature (for evidence in its attributes)
    signature_poe: dict[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for c in self.embedded.certs:
            parsed = self.engine.cert(c)
            if parsed is not None:
                self.pool.add(parsed)

    # --- proof of existence -------------------------------------------------------------------

    def poe_of_revision(self, revision: int | None, *, inside_contents: bool) -> datetime:
        """Earliest valid document time-stamp covering ``revision`` (else the validation time).

        Objects in a revision's body are covered by a time-stamp in that same revision or later;
        bytes inside a signature's /Contents only by a later one.
        """
        best = self.moment
        if revision is None:
            return best
        for ts in self.timestamps:
            covers = ts.revision > revision if inside_contents else ts.revision >= revision
            if covers and ts.valid and ts.token.gen_time is not None and ts.token.gen_time < best:
                best = ts.token.gen_time
        return best

    def newest_valid_timestamp(self) -> DocTimestamp | None:
        valid = [ts for ts in self.timestamps if ts.valid]
        return max(valid, key=lambda ts: ts.revision) if valid else None

    def poe(self, ev: Evidence) -> datetime:
        if ev.origin != "file":
            return self.moment
        when = self.poe_of_revision(ev.revision, inside_contents=ev.owner is not None)
        owner_poe = self.signature_poe.get(ev.owner or "")
        return min(when, owner_poe) if owner_poe is not None else when

    async def validate_document_timestamps(self) -> None:
        """Newest first: each valid one proves the time of everything before it."""
        later_poe = self.moment
        for ts in sorted(self.timestamps, key=lambda t: t.revision, reverse=True):
            ts.poe = later_poe
            if ts.token.tsa is None or ts.token.gen_time is None:
                continue
            if ts.token.gen_time > later_poe:
                ts.use = UseCheck(False, later_poe, failure="order", message="time-stamps out of order")
                continue
            extra = self._token_evidence(ts.token, ts.field_name, ts.revision)
            ts.use = await self.check_use(
                ts.token.tsa,
                ts.token.other_certs,
                control=later_poe,
                usage=ts.token.gen_time,
                purpose=TSA,
                extra=extra,
            )
            ts.use = self.algorithms_held(ts.use, ts.token, later_poe)
            if ts.valid:
                later_poe = min(later_poe, ts.token.gen_time)

    def algorithms_held(self, use: UseCheck, token: Any, control: datetime) -> UseCheck:
        """``use``, or a failure when the token's algorithms no longer held at ``control``."""
        from thaisign.verify.algorithms import cms_algorithm_refusal

        if not use.ok or token.signer_info is None or token.tsa is None:
            return use
        refusal = cms_algorithm_refusal(
            token.signer_info, token.tsa.public_key, control, self.engine.algorithms, self.engine.sunsets
        )
        if refusal is None:
            return use
        return UseCheck(
            False, control, use.chain, chain_mod.ALGORITHM, refusal[0], use.statuses, detail=refusal
        )

    def _token_evidence(self, token: Any, owner: str, revision: int | None) -> list[Evidence]:
        out = []
        for kind, items in (("crl", token.crls), ("ocsp", token.ocsps)):
            for item in items:
                try:
                    out.append(
                        Evidence.of(kind, item, "file", "time-stamp token", revision=revision, owner=owner)
                    )
                except ValueError:
                    continue
        return out

    def token_evidence(self, token: Any, owner: str, revision: int | None) -> list[Evidence]:
        return self._token_evidence(token, owner, revision)

    # --- one use of one certificate ----------------------------------------------------------------

    async def check_use(
        self,
        leaf_asn1: asn1_x509.Certificate,
        others: Iterable[asn1_x509.Certificate],
        *,
        control: datetime,
        usage: datetime,
        purpose: str,
        extra: list[Evidence] | None = None,
    ) -> UseCheck:
        engine = self.engine
        leaf = engine.cert(leaf_asn1)
        if leaf is None:
            return UseCheck(
                False, control, failure=chain_mod.MALFORMED, message="the certificate is malformed"
            )
        pool = CertPool.of(self.pool)
        for c in others:
            parsed = engine.cert(c)
            if parsed is not None:
                pool.add(parsed)
        key = (leaf.sha256, pool.key, control, usage, purpose, self._evidence_key(extra))
        engine.stats["revocation_checks"] += 1
        hit = engine.use_memo.get(key)
        if hit is not None:
            engine.stats["revocation_hits"] += 1
            return hit
        use = await self._check_use(leaf, pool, control, usage, purpose, extra)
        if len(engine.use_memo) > 20_000:
            engine.use_memo.clear()
        engine.use_memo[key] = use
        return use

    def _evidence_key(self, extra: list[Evidence] | None) -> str:
        """Identity of everything a revocation answer here depends on (data and its proof times)."""
        if not self.embedded.evidence and not extra and not self.timestamps:
            return ""
        h = hashlib.sha256()
        for ev in (*self.embedded.evidence, *(extra or ())):
            h.update(
                f"{ev.sha256}|{ev.location}|{ev.revision}|{ev.owner}|{self.poe(ev).isoformat()}".encode()
            )
        return h.hexdigest()

    async def _check_use(
        self,
        leaf: Cert,
        pool: CertPool,
        control: datetime,
        usage: datetime,
        purpose: str,
        extra: list[Evidence] | None,
    ) -> UseCheck:
        engine = self.engine
        result = await engine.chain(leaf, pool, control)
        if not result.ok:
            return UseCheck(False, control, result, result.failure, result.message)
        problem = purpose_problem(leaf, purpose, engine.policy)
        if problem:
            return UseCheck(False, control, result, PURPOSE, problem[0], problem_cert=leaf, detail=problem)
        if engine.mode == "off":
            return UseCheck(True, control, result)
        assert result.path is not None
        certs = result.path.certs
        statuses: list[tuple[Cert, CertStatus]] = []
        evidence = [*self.embedded.evidence, *(extra or ())]
        for index, cert in enumerate(certs[:-1]):
            if _exempt_from_revocation(cert):
                continue
            if index > 0 and not engine.policy.check_ca_revocation:
                continue
            issuer = certs[index + 1]
            items = [*evidence, *engine.fetched(cert, issuer)]
            statements, _problems = engine.checker.statements(cert, issuer, items, pool)
            undeclared_ok = engine.policy.accept_undeclared_revocation and (index > 0 or purpose != SIGNER)
            if not statements and undeclared_ok and not revocation_pointers(cert):
                note = ("it names no CRL or OCSP address", "ไม่ได้ระบุที่อยู่ CRL หรือ OCSP")
                statuses.append((cert, CertStatus("not-declared", note=note)))
                continue
            status = engine.checker.judge(cert, statements, control=control, usage=usage, poe=self.poe)
            statuses.append((cert, status))
        return _decide(control, result, tuple(statuses))


#: extensions that exempt a certificate from revocation checking: id-pkix-ocsp-nocheck (RFC 6960),
#: id-ce-noRevAvail (RFC 9608), ETSI's valassured-ST-certs (EN 319 412-1)
_NO_REVOCATION = ("1.3.6.1.5.5.7.48.1.5", "2.5.29.56", "0.4.0.194121.2.1")


def _exempt_from_revocation(cert: Cert) -> bool:
    try:
        return any(
            ext["extn_id"].dotted in _NO_REVOCATION for ext in cert.asn1["tbs_certificate"]["extensions"]
        )
    except (ValueError, TypeError, KeyError):
        return False


def revocation_pointers(cert: Cert) -> bool:
    """Whether the certificate names any OCSP responder or CRL distribution point."""
    return bool(list(cert.asn1.ocsp_urls) or _crl_urls(cert))


def _decide(
    control: datetime, result: ChainResult, statuses: tuple[tuple[Cert, CertStatus], ...]
) -> UseCheck:
    leaf = result.path.leaf if result.path else None
    for cert, status in statuses:
        if status.status in ("revoked", "hold") and cert == leaf:
            kind = REVOKED if status.status == "revoked" else HOLD
            return UseCheck(False, control, result, kind, None, statuses, cert)
    for cert, status in statuses:
        if status.status in ("revoked", "hold"):
            return UseCheck(False, control, result, REVOKED_CA, None, statuses, cert)
    for cert, status in statuses:
        if status.status == "unknown":
            note = status.note or ("no revocation data", "ไม่มีข้อมูลการเพิกถอน")
            return UseCheck(False, control, result, REVINFO, note[0], statuses, cert, detail=note)
    return UseCheck(True, control, result, statuses=statuses)
