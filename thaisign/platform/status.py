"""One status service for every CA of the platform: OCSP, CRLs, CA certificates and the TSA.

Any number of replicas run it against the same database (``thaisign platform serve-status``); a
replica needs the database URL and the service passphrase, nothing else (no CA key, no folder).
Each worker follows the audit chains (:mod:`thaisign.platform._follower`) and answers from memory:

- ``POST /ocsp`` and ``GET /ocsp/<base64>``: RFC 6960 / RFC 5019 for every CA, found by the
  request's issuer name and key hash. A request about one CA is signed with the platform's
  responder key under that CA's delegated OCSP certificate (any client verifies it); a request
  naming several CAs is answered in one response signed by the same key as the platform's
  *trusted responder* (its certificate, issued by the issuing CA, is published as
  ``ocsp-responder.pem``: clients that send such requests configure it, e.g. ``openssl ocsp -VAfile``).
- ``GET /a/<agency>/crl/ca.crl`` (``ca-2.crl`` after a key rollover, ...), ``/a/<agency>/ca.cer``,
  ``/issuing/crl/ca.crl``, ``/issuing/ca.cer``: the newest CRL (the one the CA's chain names) and
  certificates. An imported agency's own URLs are answered too, by its host name.
- ``POST /tsa``: the platform's RFC 3161 time-stamping authority.
- ``GET /health``: 200 with what this replica follows, 503 while it cannot answer.

>>> app = build_status_app(StatusConfig(db_url, service_passphrase=secret))
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from thaisign._service import Request, Response, ServiceApp, health_handler
from thaisign.ca import _ocsp_der as _der
from thaisign.ca.ocsp import OcspAnswer, OcspResponder, error_response
from thaisign.ca.server import (
    MAX_OCSP_REQUEST_BYTES,
    OCSP_METHOD_NOT_ALLOWED,
    _ocsp_response,
    ocsp_request_body,
    ocsp_too_large,
)
from thaisign.errors import ServiceError, StoreError
from thaisign.keys import SoftwareSigner, load_private_key
from thaisign.platform import _tables as T
from thaisign.platform._follower import ChainFollower
from thaisign.platform.core import OCSP_KEY, TSA_CERT, TSA_KEY

__all__ = ["StatusConfig", "StatusService", "build_status_app", "build_status_asgi"]

_log = logging.getLogger(__name__)
_HASHES = ("sha1", "sha256", "sha384", "sha512")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class StatusConfig:
    """How a status replica runs. ``service_passphrase`` decrypts the responder and TSA keys."""

    db_url: str = field(repr=False)
    service_passphrase: str = field(repr=False)
    ocsp_validity: dt.timedelta = dt.timedelta(hours=1)
    clock: Callable[[], dt.datetime] = _utcnow
    poll_interval: float = 0.1
    stale_after: float = 5.0
    tsa: bool = True


def _key_bits(cert: x509.Certificate) -> bytes:
    from asn1crypto import keys as asn1_keys

    spki = asn1_keys.PublicKeyInfo.load(
        cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return bytes(spki["public_key"].contents[1:])


def _issuer_ids(cert: x509.Certificate) -> list[tuple[str, bytes, bytes]]:
    name, key = cert.subject.public_bytes(), _key_bits(cert)
    return [(h, hashlib.new(h, name).digest(), hashlib.new(h, key).digest()) for h in _HASHES]


class StatusService:
    """The answers of one replica worker (see the module docstring)."""

    def __init__(self, config: StatusConfig) -> None:
        self.config = config
        self.follower = ChainFollower(
            config.db_url,
            poll_interval=config.poll_interval,
            stale_after=config.stale_after,
            on_change=self._changed,
        )
        self._lock = threading.Lock()
        self._responders: dict[int, OcspResponder] = {}
        self._issuers: dict[tuple[str, bytes, bytes], int] = {}
        self._crls: dict[int, tuple[int, bytes]] = {}  # ca_id -> (CRL number, DER)
        self._routes: dict[tuple[str, str], int] = {}  # (agency slug, path) -> ca_id
        self._legacy: dict[str, int] = {}  # host -> agency id
        self._responder_key: Any = None
        self.tsa: Any = None
        self._tsa_store: Any = None

    # --- start and stop ---------------------------------------------------------------------------

    def start(self) -> None:
        self.follower.start()
        self._responder_key = self._load_key(OCSP_KEY, "the OCSP responder key")
        self._rebuild()
        if self.config.tsa:
            self._start_tsa()

    def close(self) -> None:
        self.follower.close()
        if self._tsa_store is not None:
            self._tsa_store.close()

    def _secret(self, name: str) -> bytes:
        """A secret from the table, only if the platform chain holds its SHA-256."""
        with self.follower._engine.connect() as conn:
            value = conn.execute(
                select(T.secrets.c.value).where(T.secrets.c.name == name)
            ).scalar_one_or_none()
        if value is None:
            raise ServiceError(
                f"the platform database holds no {name}", hint="run 'thaisign platform init' first"
            )
        value = bytes(value)
        if hashlib.sha256(value).hexdigest() != self.follower.topology.secrets.get(name):
            raise ServiceError(f"the platform's {name} is not the one its audit chain names: it was replaced")
        return value

    def _load_key(self, name: str, what: str) -> Any:
        try:
            return load_private_key(self._secret(name), self.config.service_passphrase)
        except Exception as exc:
            message = getattr(exc, "message", str(exc))
            raise ServiceError(
                f"cannot open {what}: {message}", hint="check THAISIGN_PASSPHRASE or --passphrase-file"
            ) from None

    def _start_tsa(self) -> None:
        from thaisign.keys import load_certificates
        from thaisign.tsa.authority import TimeStampAuthority
        from thaisign.tsa.store import TsaStore

        if TSA_KEY not in self.follower.topology.secrets:
            return  # a platform whose issuing CA awaits its certificate has no TSA yet
        certs = load_certificates(self._secret(TSA_CERT))
        key = self._load_key(TSA_KEY, "the TSA key")
        signer = SoftwareSigner(key, certs[0], certs[1:])
        self._tsa_store = TsaStore.connect(self.config.db_url)
        policy = self.follower.topology.settings.get("tsa_policy_oid", "1.3.6.1.4.1.0.3161")
        self.tsa = TimeStampAuthority(
            signer,
            policy_oid=policy,
            serials=self._tsa_store.next_serial,
            log=self._tsa_store.log_token,
            clock=self.config.clock,
        )

    # --- what the chains say -----------------------------------------------------------------------

    def _changed(self, cas: set[int], topology: bool) -> None:
        stale = [ca for ca in cas if ca in self._responders or topology]
        with self._lock:
            for ca in stale:
                responder = self._responders.get(ca)
                view = self.follower.cas.get(ca)
                if responder is not None and (view is None or view.certificate != responder.issuer_cert):
                    del self._responders[ca]
            if topology:
                self._responders.clear()
        if topology or any(ca not in self._issuer_cas for ca in cas):
            self._rebuild()

    @property
    def _issuer_cas(self) -> set[int]:
        return set(self._issuers.values())

    def _rebuild(self) -> None:
        """The maps from issuer hashes, paths and host names to CAs."""
        issuers: dict[tuple[str, bytes, bytes], int] = {}
        for ca_id, view in list(self.follower.cas.items()):
            for cert in view.certificates:
                for ident in _issuer_ids(cert):
                    issuers[ident] = ca_id
        topo = self.follower.topology
        routes: dict[tuple[str, str], int] = {}
        legacy: dict[str, int] = {}
        for ca_id, row in topo.ca_keys.items():
            agency = topo.agencies.get(row["agency_id"]) if row.get("agency_id") is not None else None
            slug = agency["slug"] if agency else "issuing"
            routes[(slug, row["crl_path"])] = ca_id
            routes[(slug, row["cert_path"])] = ca_id
            if agency is not None and agency.get("legacy_base_url") and row.get("generation") == 1:
                host = urllib.parse.urlsplit(agency["legacy_base_url"]).netloc.lower()
                legacy[host] = ca_id
        with self._lock:
            self._issuers, self._routes, self._legacy = issuers, routes, legacy

    def responder(self, ca_id: int) -> OcspResponder:
        found = self._responders.get(ca_id)
        if found is not None:
            return found
        view = self.follower.cas.get(ca_id)
        cert = view.certificate if view else None
        der = self.follower.topology.responders.get(ca_id)
        if cert is None or der is None:
            raise StoreError(f"CA {ca_id} has no OCSP responder certificate yet")
        signer = SoftwareSigner(self._responder_key, x509.load_der_x509_certificate(der))
        responder = OcspResponder(
            cert,
            signer,
            lambda serial: self.follower.status(ca_id, serial),
            validity=self.config.ocsp_validity,
            clock=self.config.clock,
        )
        with self._lock:
            self._responders[ca_id] = responder
        return responder

    # --- OCSP ---------------------------------------------------------------------------------------

    def ocsp(self, request_der: bytes) -> OcspAnswer:
        """The answer to a DER OCSP request; never raises."""
        try:
            try:
                request = _der.parse_request(request_der)
            except ValueError:
                return OcspAnswer(error_response("malformed_request"), "malformed_request")
            cas = {
                self._issuers.get((c.hash_algorithm, c.issuer_name_hash, c.issuer_key_hash))
                for c in request.certs
            }
            if None in cas:
                return OcspAnswer(error_response("unauthorized"), "unauthorized")
            try:
                if len(cas) == 1:
                    return self.responder(next(iter(cas))).answer(request_der)  # type: ignore[arg-type]
                return self._several(request)
            except StoreError as exc:
                _log.info("OCSP: tryLater: %s", exc.message)
                return OcspAnswer(error_response("try_later"), "try_later")
        except Exception:
            _log.exception("OCSP: internal error")
            return OcspAnswer(error_response("internal_error"), "internal_error")

    def _several(self, request: Any) -> OcspAnswer:
        """One response about several CAs' certificates, signed as the platform's trusted responder."""
        trusted = self.follower.topology.responders.get(T.ISSUING_CA)
        if trusted is None:
            return OcspAnswer(error_response("unauthorized"), "unauthorized")
        now = self.config.clock().astimezone(dt.UTC).replace(microsecond=0)
        next_update = now + self.config.ocsp_validity
        singles = []
        for c in request.certs:
            ca = self._issuers[(c.hash_algorithm, c.issuer_name_hash, c.issuer_key_hash)]
            st = self.follower.status(ca, c.serial)
            singles.append(_der.single_response(c.der, st.status, now, next_update, st.revoked_at, st.reason))
        cert = x509.load_der_x509_certificate(trusted)
        signer = SoftwareSigner(self._responder_key, cert)
        h = signer.key_spec.default_hash()
        tbs = _der.response_data(hashlib.sha1(_key_bits(cert)).digest(), now, singles, request.nonce_value)
        signature = signer.sign(tbs, hash_algorithm=h)
        der = _der.successful_response(tbs, signer.signature_algorithm(h).dump(), signature, [trusted])
        return OcspAnswer(der, "successful", now, next_update, cacheable=False)

    # --- CRLs and certificates -------------------------------------------------------------------------

    def crl(self, ca_id: int) -> bytes:
        """The CRL the CA's chain names as its newest (the table's row, checked against it)."""
        view = self.follower.cas.get(ca_id)
        self.follower.require_current()
        if view is None or view.problem is not None or view.crl_number is None:
            raise StoreError(
                "no CRL published yet" if view and not view.problem else "this CA cannot be answered for"
            )
        cached = self._crls.get(ca_id)
        if cached is not None and cached[0] == view.crl_number:
            return cached[1]
        c = T.CA.crls
        with self.follower._engine.connect() as conn:
            der = conn.execute(
                select(c.c.der).where(c.c.ca_id == ca_id, c.c.number == view.crl_number)
            ).scalar_one_or_none()
        if der is None or hashlib.sha256(bytes(der)).hexdigest() != view.crl_sha256:
            raise StoreError("the CRL in the database is not the one the audit chain names")
        self._crls[ca_id] = (int(view.crl_number), bytes(der))
        return bytes(der)

    def certificate(self, ca_id: int) -> bytes:
        view = self.follower.cas.get(ca_id)
        if view is None or view.certificate is None:
            raise StoreError("no such certificate")
        return view.certificate.public_bytes(serialization.Encoding.DER)

    def route(self, slug: str, path: str) -> int | None:
        return self._routes.get((slug, path))

    def legacy(self, host: str) -> int | None:
        return self._legacy.get(host.lower())

    # --- health -------------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        f = self.follower
        problems = [f"CA {v.ca_id}: {v.problem}" for v in f.cas.values() if v.problem][:10]
        if f.platform.problem:
            problems.insert(0, f"platform: {f.platform.problem}")
        body: dict[str, Any] = {
            "status": "ok",
            "cas": len(f.cas),
            "agencies": len(f.topology.agencies),
            "certificates_known": len(f._known) + len(f._recent),
            "revoked": len(f._revoked),
            "audit_position": f._cursor,
            "entries_applied": f.entries_applied,
            "tsa": self.tsa is not None,
            "problems": problems,
        }
        try:
            f.require_current()
        except StoreError as exc:
            body["status"] = "unavailable"
            body["reason"] = exc.message
        return body


# --- HTTP ------------------------------------------------------------------------------------------------


def _http_date(when: dt.datetime) -> str:
    from email.utils import format_datetime

    return format_datetime(when.astimezone(dt.UTC), usegmt=True)


def build_status_app(config: StatusConfig) -> ServiceApp:
    """The HTTP app of one replica worker (reads every chain before it returns)."""
    from thaisign.tsa.server import tsa_handler

    service = StatusService(config)
    service.start()

    def ocsp(request: Request) -> Response:
        body = ocsp_request_body(request)
        if body is None:
            return OCSP_METHOD_NOT_ALLOWED
        return _ocsp_response(service.ocsp(body), config.clock())

    def crl_response(ca_id: int) -> Response:
        try:
            der = service.crl(ca_id)
        except StoreError as exc:
            return Response.text(503, exc.message)
        parsed = x509.load_der_x509_crl(der)
        headers = [("Last-Modified", _http_date(parsed.last_update_utc))]
        if parsed.next_update_utc is not None:
            headers.append(("Expires", _http_date(parsed.next_update_utc)))
        return Response(200, der, "application/pkix-crl", tuple(headers))

    def cert_response(ca_id: int) -> Response:
        try:
            return Response(
                200,
                service.certificate(ca_id),
                "application/pkix-cert",
                (("Cache-Control", "max-age=3600, public"),),
            )
        except StoreError as exc:
            return Response.text(404, exc.message)

    def publish(ca_id: int | None, path: str) -> Response:
        if ca_id is None:
            return Response.text(404, "not found")
        return crl_response(ca_id) if "/crl/" in path else cert_response(ca_id)

    def agency_files(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"use GET\n", headers=(("Allow", "GET"),))
        parts = request.path.split("/", 3)  # "", "a", slug, rest
        if len(parts) < 4:
            return Response.text(404, "not found")
        return publish(service.route(parts[2], "/" + parts[3]), request.path)

    def issuing_files(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"use GET\n", headers=(("Allow", "GET"),))
        return publish(service.route("issuing", request.path[len("/issuing") :]), request.path)

    def legacy_files(request: Request) -> Response:
        """An imported agency's own URLs (its host name points at the platform now)."""
        ca_id = service.legacy(request.headers.get("host", ""))
        if ca_id is None or request.method not in ("GET", "HEAD"):
            return Response.text(404, "not found")
        if request.path == "/crl/ca.crl":
            return crl_response(ca_id)
        if request.path == "/ca.cer":
            return cert_response(ca_id)
        return Response.text(404, "not found")

    def health() -> Response:
        body = service.health()
        status = 200 if body["status"] == "ok" else 503
        return Response(status, json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json")

    routes: dict[str, Any] = {
        "/ocsp": ocsp,
        "/ocsp/": ocsp,
        "/a/": agency_files,
        "/issuing/": issuing_files,
        "/crl/ca.crl": legacy_files,
        "/ca.cer": legacy_files,
        "/health": health_handler(health),
    }
    if service.tsa is not None:
        routes["/tsa"] = tsa_handler(service.tsa)
    app = ServiceApp(routes, max_body=MAX_OCSP_REQUEST_BYTES, too_large=ocsp_too_large)
    app.closers.append(service.close)
    app.service = service  # type: ignore[attr-defined]
    f = service.follower
    app.notes.append(
        f"read {f.entries_applied} audit entries of {len(f.cas)} CAs and "
        f"{len(f.topology.agencies)} agencies; following new ones every {config.poll_interval:g} s"
    )
    return app


def build_status_asgi(config: StatusConfig) -> Any:
    """The ASGI app of :func:`build_status_app` (a picklable factory for :func:`thaisign.serving.serve`)."""
    return build_status_app(config).asgi


def replace_clock(config: StatusConfig, clock: Callable[[], dt.datetime]) -> StatusConfig:
    return dataclasses.replace(config, clock=clock)
