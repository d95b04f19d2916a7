"""HTTP publication of a CA's status: OCSP (RFC 6960 POST, RFC 5019 GET), the CRL, the CA cert.

:func:`ocsp_handler` and :func:`static_handler` are the building blocks; :func:`ca_app` puts
them together over a thaisign CA folder at the paths written into every certificate the CA
issues (``/ocsp``, ``/crl/ca.crl``, ``/ca.cer``) plus ``/health``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from thaisign._service import Handler, Request, Response, ServiceApp, health_handler
from thaisign.ca._guard import GuardState, StoreGuard, initial_state
from thaisign.ca.ocsp import CertStatus, OcspAnswer, OcspResponder, answer_with, error_response
from thaisign.errors import ServiceError, StoreError
from thaisign.keys import Signer

__all__ = [
    "MAX_OCSP_REQUEST_BYTES",
    "CaServiceConfig",
    "build_ca_app",
    "has_responder",
    "issue_responder",
    "ocsp_handler",
    "ocsp_too_large",
    "static_handler",
]

OCSP_RESPONSE_TYPE = "application/ocsp-response"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: An OCSP request for a handful of certificates is a few hundred bytes.
MAX_OCSP_REQUEST_BYTES = 16 * 1024


def _http_date(when: dt.datetime) -> str:
    return format_datetime(when.astimezone(dt.UTC), usegmt=True)


def _ocsp_response(answer: OcspAnswer, now: dt.datetime) -> Response:
    headers: list[tuple[str, str]] = []
    if answer.cacheable and answer.this_update and answer.next_update:
        max_age = max(0, int((answer.next_update - now).total_seconds()))
        headers += [
            ("Last-Modified", _http_date(answer.this_update)),
            ("Expires", _http_date(answer.next_update)),
            ("Cache-Control", f"max-age={max_age}, public, no-transform, must-revalidate"),
            ("ETag", '"' + hashlib.sha1(answer.der).hexdigest() + '"'),
        ]
    else:
        headers.append(("Cache-Control", "no-store"))
    return Response(200, answer.der, OCSP_RESPONSE_TYPE, tuple(headers))


def ocsp_too_large(limit: int) -> Response:
    """An oversized OCSP request: ``malformedRequest``, not a bare HTTP error."""
    return Response(
        200, error_response("malformed_request"), OCSP_RESPONSE_TYPE, (("Cache-Control", "no-store"),)
    )


OCSP_METHOD_NOT_ALLOWED = Response(
    405, b"use POST or GET (RFC 6960 / RFC 5019)\n", headers=(("Allow", "GET, POST"),)
)


def ocsp_request_body(request: Request) -> bytes | None:
    """The DER OCSP request of a POST, or of a GET's base64 path (RFC 5019; empty when it does not
    decode, which the responder answers as malformed); None for any other method."""
    if request.method == "POST":
        return request.body
    if request.method != "GET":
        return None
    encoded = request.path.split("/ocsp/", 1)[1] if "/ocsp/" in request.path else ""
    try:
        return base64.b64decode(urllib.parse.unquote(encoded), validate=True)
    except (binascii.Error, ValueError):
        return b""


def ocsp_handler(
    responders: Sequence[OcspResponder] | Callable[[], Sequence[OcspResponder]],
    *,
    clock: Callable[[], dt.datetime] | None = None,
) -> Handler:
    """A handler for ``POST /ocsp`` (DER body) and ``GET /ocsp/<base64 DER>`` (RFC 5019).

    ``responders`` may be a callable, e.g. to build them lazily on first use.
    """

    def now() -> dt.datetime:
        return (clock or (lambda: dt.datetime.now(dt.UTC)))()

    def handle(request: Request) -> Response:
        active = responders() if callable(responders) else responders
        body = ocsp_request_body(request)
        if body is None:
            return OCSP_METHOD_NOT_ALLOWED
        return _ocsp_response(answer_with(active, body), now())

    return handle


def static_handler(content: Callable[[], bytes], content_type: str, *, max_age: int | None = None) -> Handler:
    """Serve the bytes ``content()`` returns (a CRL, a certificate) on GET/HEAD."""

    def handle(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"use GET\n", headers=(("Allow", "GET"),))
        headers: tuple[tuple[str, str], ...] = ()
        if max_age is not None:
            headers = (("Cache-Control", f"max-age={max_age}, public"),)
        return Response(200, content(), content_type, headers)

    return handle


# --- a thaisign CA folder, served ----------------------------------------------------------------

#: Files of the delegated OCSP responder inside the CA folder (see :func:`issue_responder`).
RESPONDER_STEM = "ocsp-responder"

SignerChoice = Literal["auto", "ca", "delegated"]


@dataclass(frozen=True)
class CaServiceConfig:
    """How ``thaisign ca serve`` answers for one CA folder.

    ``signer``: ``delegated`` signs OCSP with ``DIR/ocsp-responder.{pem,key}`` (no CA key
    needed; ``responder_passphrase`` decrypts it), ``ca`` with the CA key itself
    (``ca_passphrase`` or ``pin``), ``auto`` picks ``delegated`` when those files exist.
    With the CA key loaded, a CRL older than half its lifetime or missing a revocation is
    re-issued when fetched; otherwise the latest CRL made by ``thaisign ca crl`` is served.
    """

    directory: Path
    signer: SignerChoice = "auto"
    ca_passphrase: str | None = None
    responder_passphrase: str | None = None
    pin: str | None = None
    ocsp_validity: dt.timedelta = dt.timedelta(hours=1)
    clock: Callable[[], dt.datetime] = field(default=_utc_now)
    #: seconds between full checks of the store against its audit chain and checkpoint
    check_interval: float = 600.0
    #: operators' copies of checkpoints, (source, DER), besides DIR/checkpoint.p7m and the store's
    checkpoints: tuple[tuple[str, bytes], ...] = ()
    #: the result of a check made just before (workers started after it skip their own first one)
    initial_state: GuardState | None = None

    def resolved_signer(self) -> Literal["ca", "delegated"]:
        if self.signer != "auto":
            return self.signer
        return "delegated" if has_responder(self.directory) else "ca"


def check_store_state(authority: Any, config: CaServiceConfig, known: tuple[int, str] | None = None) -> Any:
    """The full integrity check ``ca serve`` runs: the store against its chain, the newest signed
    checkpoint (DIR/checkpoint.p7m read anew, the store's, ``config.checkpoints``) and ``known``,
    a chain head this service verified before."""
    from thaisign._fs import read_input
    from thaisign.ca.checkpoint import CHECKPOINT_FILE
    from thaisign.ca.integrity import check_store

    candidates = list(config.checkpoints)
    folder_copy = authority.directory / CHECKPOINT_FILE
    if folder_copy.exists():
        candidates.append((str(folder_copy), read_input(folder_copy, "checkpoint")))
    return check_store(
        authority.store, ca_certificate=authority.certificate, checkpoints=candidates, known_head=known
    )


def build_ca_asgi(config: CaServiceConfig) -> Any:
    """The ASGI app of :func:`build_ca_app` (a picklable factory for :func:`thaisign.serving.serve`)."""
    return build_ca_app(config).asgi


def has_responder(directory: str | os.PathLike[str]) -> bool:
    d = Path(directory)
    return (d / f"{RESPONDER_STEM}.pem").exists() and (d / f"{RESPONDER_STEM}.key").exists()


def issue_responder(
    directory: str | os.PathLike[str],
    *,
    ca_passphrase: str | None,
    responder_passphrase: str,
    pin: str | None = None,
    days: int = 90,
    now: dt.datetime | None = None,
) -> Path:
    """Have the CA issue a delegated OCSP responder certificate; write it into the CA folder.

    Needs the CA key once; afterwards ``thaisign ca serve`` runs without it. Returns the
    certificate path (``DIR/ocsp-responder.pem``; the key is ``ocsp-responder.key``, 0600).
    """
    from thaisign._secrets import check_new_passphrase
    from thaisign.ca.authority import Authority
    from thaisign.ca.service_certs import issue_service_certificate, save_service_key

    check_new_passphrase(responder_passphrase, "the OCSP responder key passphrase")
    with Authority.open(directory, passphrase=ca_passphrase, pin=pin) as ca:
        service = issue_service_certificate(ca, "ocsp", days=days, now=now)
        cert_path, _, _ = save_service_key(
            service, directory, RESPONDER_STEM, passphrase=responder_passphrase, overwrite=True
        )
    return cert_path


class _CrlSource:
    """The CA's current CRL: the latest in the store, re-issued when stale if the CA key is here."""

    def __init__(self, authority: Any, clock: Callable[[], dt.datetime], can_sign: bool) -> None:
        self._ca = authority
        self._clock = clock
        self._can_sign = can_sign
        self._lock = threading.Lock()

    def _stale(self, der: bytes | None) -> bool:
        if der is None:
            return True
        crl = x509.load_der_x509_crl(der)
        now = self._clock()
        next_update = crl.next_update_utc
        if next_update is None:
            return True
        half_life = (next_update - crl.last_update_utc) / 2
        if now >= crl.last_update_utc + half_life:
            return True
        return len(crl) != self._ca.store.counts()["revocations"]

    def describe(self) -> str:
        """One line for the operator at start-up: can this service keep serving a current CRL?"""
        if self._can_sign:
            return "CRL re-issued with the CA key before it goes stale"
        der = self._ca.store.latest_crl()
        hint = f"publish one with 'thaisign ca crl {self._ca.directory} -o FILE' (e.g. from cron)"
        if der is None:
            return f"no CRL published yet: /crl/ca.crl answers 503 until you {hint}"
        next_update = x509.load_der_x509_crl(der).next_update_utc
        if next_update is None or self._clock() >= next_update:
            return f"the published CRL is out of date: {hint}"
        return (
            f"CRL valid until {next_update:%Y-%m-%d %H:%M} UTC; this service does not hold the CA key, "
            f"so {hint} before then"
        )

    def __call__(self) -> bytes:
        der = self._ca.store.latest_crl()
        if self._can_sign and self._stale(der):
            with self._lock:
                der = self._ca.store.latest_crl()
                if self._stale(der):
                    der = self._ca.crl(now=self._clock())
        if der is None:
            raise StoreError(
                "no CRL has been published yet", hint=f"run 'thaisign ca crl {self._ca.directory} -o ...'"
            )
        return bytes(der)


def build_ca_app(config: CaServiceConfig) -> ServiceApp:
    """The HTTP app for a CA folder: ``/ocsp``, ``/ocsp/<b64>``, ``/crl/ca.crl``, ``/ca.cer``, ``/health``."""
    from thaisign.ca._status_index import StatusIndex
    from thaisign.ca.authority import Authority
    from thaisign.ca.service_certs import load_service_signer

    mode = config.resolved_signer()
    authority = Authority.open(
        config.directory,
        passphrase=config.ca_passphrase,
        pin=config.pin,
        load_key=mode == "ca",
    )
    ca_cert = authority.certificate
    if ca_cert is None:
        raise ServiceError("the CA has no certificate yet", hint="install it with 'thaisign ca install-cert'")
    signer: Signer
    if mode == "ca":
        signer = authority.signer  # the CA key itself: responses need no extra certificate
    else:
        signer = load_service_signer(config.directory, RESPONDER_STEM, passphrase=config.responder_passphrase)
        if signer.certificate is None or signer.certificate.issuer != ca_cert.subject:
            raise ServiceError(
                f"{RESPONDER_STEM}.pem was not issued by this CA",
                hint="issue a new one with 'thaisign ca serve DIR --issue-responder'",
            )
        expires = signer.certificate.not_valid_after_utc
        if config.clock() >= expires:
            raise ServiceError(
                f"the delegated OCSP responder certificate expired on {expires:%Y-%m-%d}",
                hint="issue a new one with 'thaisign ca serve DIR --issue-responder'",
            )
    signer_cert = signer.certificate or ca_cert
    index = StatusIndex(authority.store.url)
    initial = config.initial_state or initial_state(check_store_state(authority, config))

    def reconnect() -> None:
        index.reset()
        authority.store._engine.dispose()

    guard = StoreGuard(
        authority.store,
        lambda known: check_store_state(authority, config, known),
        reconnect=reconnect,
        interval=config.check_interval,
        initial=initial,
    )

    def status(serial: int) -> CertStatus:
        guard.require_ok()  # a store deleted, replaced or changed outside thaisign: tryLater
        return index(serial)

    responder = OcspResponder(ca_cert, signer, status, validity=config.ocsp_validity, clock=config.clock)
    crl = _CrlSource(authority, config.clock, can_sign=mode == "ca")
    ca_der = ca_cert.public_bytes(serialization.Encoding.DER)

    def crl_handler(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"use GET\n", headers=(("Allow", "GET"),))
        try:
            guard.require_ok()
            der = crl()
        except StoreError as exc:
            return Response.text(503, exc.message + (f" ({exc.hint})" if exc.hint else ""))
        parsed = x509.load_der_x509_crl(der)
        headers = [("Last-Modified", _http_date(parsed.last_update_utc))]
        if parsed.next_update_utc is not None:
            headers.append(("Expires", _http_date(parsed.next_update_utc)))
        return Response(200, der, "application/pkix-crl", tuple(headers))

    def health() -> Response:
        store = guard.state
        body: dict[str, Any] = {
            "status": "ok",
            "ca": ca_cert.subject.rfc4514_string(),
            "ocsp_signer": mode,
            "ocsp_signer_expires": signer_cert.not_valid_after_utc.isoformat(),
            "store": store.to_json(),
        }
        try:
            guard.require_ok()
            index.ping()
        except StoreError as exc:
            body["status"] = "unavailable"
            body["database"] = exc.message
            return Response(503, json.dumps(body, ensure_ascii=False).encode(), "application/json")
        return Response(200, json.dumps(body, ensure_ascii=False).encode(), "application/json")

    ocsp = ocsp_handler([responder], clock=config.clock)
    app = ServiceApp(
        {
            "/ocsp": ocsp,
            "/ocsp/": ocsp,
            "/crl/ca.crl": crl_handler,
            "/ca.cer": static_handler(lambda: ca_der, "application/pkix-cert", max_age=86400),
            "/health": health_handler(health),
        },
        max_body=MAX_OCSP_REQUEST_BYTES,
        too_large=ocsp_too_large,
    )
    app.closers += [guard.close, index.close, authority.close]
    app.notes.append(crl.describe())
    app.notes.append(
        "store checked against its audit chain: "
        + ("intact" if initial.status == "ok" else f"{initial.status}: {initial.reason}")
        + (f"; holds the {initial.checkpoint}" if initial.checkpoint else "")
        + f"; checked again every {config.check_interval:g} s"
    )
    return app
