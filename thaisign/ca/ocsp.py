"""OCSP (RFC 6960): parse requests, answer good / revoked / unknown, sign through a :class:`Signer`.

The response is built with asn1crypto and signed through :class:`thaisign.keys.Signer`, so the
CA key in a PKCS#11 token works as well as a delegated OCSP-signing key in a file.

>>> responder = OcspResponder(ca_cert, signer, lambda serial: CertStatus.good())
>>> response_der = responder.respond(request_der)

Requests without a nonce get a pre-signed response from a cache keyed by the request bytes;
the status is still looked up on every request, so a revocation is answered at once (the
cached response is re-signed). Requests are read and responses written as DER directly
(:mod:`thaisign.ca._ocsp_der`): asn1crypto would cost ~2 ms per response.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from asn1crypto import keys as asn1_keys
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from thaisign.ca import _ocsp_der as _der
from thaisign.ca._ocsp_der import ParsedRequest, RequestedCert
from thaisign.ca._responder_cache import BoundedCache
from thaisign.errors import StoreError
from thaisign.keys import Signer

__all__ = [
    "CertStatus",
    "OcspAnswer",
    "OcspResponder",
    "StatusLookup",
    "answer_with",
    "error_response",
    "normalize_reason",
]

_log = logging.getLogger(__name__)

#: CertID hash algorithms accepted in requests.
_CERT_ID_HASHES = ("sha1", "sha256", "sha384", "sha512")

_REASONS = {
    "unspecified",
    "key_compromise",
    "ca_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
    "certificate_hold",
    "remove_from_crl",
    "privilege_withdrawn",
    "aa_compromise",
}


_REASON_KEYS = {name.replace("_", ""): name for name in _REASONS}


def normalize_reason(reason: object) -> str:
    """A CRL reason as asn1crypto names it (``key_compromise``), from that, camelCase or an enum."""
    text = str(getattr(reason, "value", reason) or "unspecified")
    try:
        return _REASON_KEYS[text.replace("_", "").replace("-", "").replace(" ", "").lower()]
    except KeyError:
        raise ValueError(f"unknown revocation reason {reason!r}") from None


@dataclass(frozen=True)
class CertStatus:
    """What the CA knows about one serial number."""

    status: Literal["good", "revoked", "unknown"]
    revoked_at: dt.datetime | None = None
    reason: str | None = None  # asn1crypto CRLReason name, e.g. "key_compromise"

    @classmethod
    def good(cls) -> CertStatus:
        return cls("good")

    @classmethod
    def unknown(cls) -> CertStatus:
        return cls("unknown")

    @classmethod
    def revoked(cls, when: dt.datetime, reason: object = "unspecified") -> CertStatus:
        if when.tzinfo is None:
            raise ValueError("revocation time must be timezone-aware")
        return cls("revoked", when.astimezone(dt.UTC).replace(microsecond=0), normalize_reason(reason))


#: Looks a serial number up in the CA store. Raises :class:`StoreError` when the store is down.
StatusLookup = Callable[[int], CertStatus]


@dataclass(frozen=True)
class OcspAnswer:
    """A DER OCSP response plus what an HTTP layer needs for its caching headers."""

    der: bytes
    status: str  # OCSPResponseStatus name: successful, malformed_request, try_later, ...
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    cacheable: bool = False  # no nonce: the same bytes answer the same request until next_update


def error_response(status: str) -> bytes:
    """An unsigned OCSP error response (``malformed_request``, ``unauthorized``, ``try_later``, ...)."""
    return asn1_ocsp.OCSPResponse({"response_status": status}).dump()


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_bits(cert: x509.Certificate) -> bytes:
    spki = asn1_keys.PublicKeyInfo.load(
        cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return bytes(spki["public_key"].contents[1:])  # BIT STRING without the unused-bits byte


@dataclass(frozen=True)
class _CachedReply:
    serials: tuple[int, ...]
    statuses: tuple[CertStatus, ...]
    answer: OcspAnswer
    refresh_at: dt.datetime


class OcspResponder:
    """Answers OCSP requests about certificates issued by ``issuer_cert``.

    ``signer`` is the CA key itself, or a delegated responder whose certificate (issued by the
    CA with id-kp-OCSPSigning) is then included in every response. ``validity`` sets
    nextUpdate - thisUpdate; cached responses are re-signed after ``refresh`` at the latest.
    """

    def __init__(
        self,
        issuer_cert: x509.Certificate,
        signer: Signer,
        status_lookup: StatusLookup,
        *,
        validity: dt.timedelta = dt.timedelta(hours=1),
        refresh: dt.timedelta | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
        hash_algorithm: str | None = None,
        cache_size: int = 50_000,
    ) -> None:
        self.issuer_cert = issuer_cert
        self.signer = signer
        self.status_lookup = status_lookup
        self.validity = validity
        self.refresh = refresh if refresh is not None else min(validity / 2, dt.timedelta(minutes=10))
        self.clock = clock
        self.hash_algorithm = hash_algorithm or signer.key_spec.default_hash()
        self._sign_lock = threading.Lock()
        self._cache: BoundedCache[bytes, _CachedReply] = BoundedCache(cache_size)
        name_der = issuer_cert.subject.public_bytes()
        key_bits = _key_bits(issuer_cert)
        #: (hash algorithm, issuerNameHash, issuerKeyHash) this responder is authoritative for
        self._issuer_ids = {
            (h, hashlib.new(h, name_der).digest(), hashlib.new(h, key_bits).digest()) for h in _CERT_ID_HASHES
        }
        responder_cert = signer.certificate
        if responder_cert is None:
            if signer.public_key != issuer_cert.public_key():
                raise ValueError("a delegated OCSP signer needs its certificate")
            responder_cert = issuer_cert
        self._responder_key_hash = hashlib.sha1(_key_bits(responder_cert)).digest()
        self._extra_certs: list[bytes] = []
        if responder_cert.public_key() != issuer_cert.public_key():
            self._extra_certs = [responder_cert.public_bytes(serialization.Encoding.DER)]
        self._sig_alg_der = signer.signature_algorithm(self.hash_algorithm).dump()

    # --- public -------------------------------------------------------------------------------

    def respond(self, request_der: bytes) -> bytes:
        """The DER OCSP response to a DER OCSP request. Never raises for bad input."""
        return self.answer(request_der).der

    def answer(self, request_der: bytes) -> OcspAnswer:
        """Like :meth:`respond`, with thisUpdate/nextUpdate for HTTP caching headers."""
        return answer_with([self], request_der)

    def is_authoritative(self, cert: RequestedCert) -> bool:
        """True when a requested CertID names this responder's issuer (by name and key hash)."""
        return (cert.hash_algorithm, cert.issuer_name_hash, cert.issuer_key_hash) in self._issuer_ids

    def clear_cache(self) -> None:
        """Forget every pre-signed response (e.g. after changing the signer)."""
        self._cache.clear()

    # --- internals ----------------------------------------------------------------------------

    def _cached(self, request_der: bytes) -> OcspAnswer | None:
        """The pre-signed answer to exactly these bytes, if still fresh and the statuses unchanged."""
        entry = self._cache.get(request_der)
        if entry is None:
            return None
        if self.clock() >= entry.refresh_at:
            return None
        try:
            statuses = tuple(self.status_lookup(s) for s in entry.serials)
        except StoreError:
            return OcspAnswer(error_response("try_later"), "try_later")
        return entry.answer if statuses == entry.statuses else None

    def _respond_parsed(self, request_der: bytes, request: ParsedRequest) -> OcspAnswer:
        now = self.clock().astimezone(dt.UTC).replace(microsecond=0)
        serials = tuple(c.serial for c in request.certs)
        try:
            statuses = tuple(self.status_lookup(s) for s in serials)
        except StoreError as exc:
            _log.warning("OCSP: store unavailable, answering tryLater: %s", exc.message)
            return OcspAnswer(error_response("try_later"), "try_later")
        next_update = now + self.validity
        singles = [
            _der.single_response(c.der, st.status, now, next_update, st.revoked_at, st.reason)
            for c, st in zip(request.certs, statuses, strict=True)
        ]
        tbs = _der.response_data(self._responder_key_hash, now, singles, request.nonce_value)
        with self._sign_lock:
            signature = self.signer.sign(tbs, hash_algorithm=self.hash_algorithm)
        der = _der.successful_response(tbs, self._sig_alg_der, signature, self._extra_certs)
        cacheable = request.nonce_value is None
        answer = OcspAnswer(der, "successful", now, next_update, cacheable=cacheable)
        if cacheable:
            self._cache.put(request_der, _CachedReply(serials, statuses, answer, now + self.refresh))
        return answer


def answer_with(responders: Sequence[OcspResponder], request_der: bytes) -> OcspAnswer:
    """Answer a request with whichever of ``responders`` is authoritative for its issuer.

    Malformed → ``malformedRequest``; an issuer none of them serves (or a mix of issuers) →
    ``unauthorized``; store down → ``tryLater``; anything unexpected → ``internalError``.
    """
    try:
        for responder in responders:  # the same bytes answered before, without a nonce
            hit = responder._cached(request_der)
            if hit is not None:
                return hit
        try:
            request = _der.parse_request(request_der)
        except ValueError as exc:
            _log.info("OCSP: malformed request: %s", exc)
            return OcspAnswer(error_response("malformed_request"), "malformed_request")
        first = request.certs[0]
        chosen = next((r for r in responders if r.is_authoritative(first)), None)
        if chosen is None or not all(chosen.is_authoritative(c) for c in request.certs[1:]):
            return OcspAnswer(error_response("unauthorized"), "unauthorized")
        return chosen._respond_parsed(request_der, request)
    except Exception:
        _log.exception("OCSP: internal error")
        return OcspAnswer(error_response("internal_error"), "internal_error")
