"""The platform's web front for operators: a JSON API and the figures page (Starlette + Jinja2).

API (``Authorization: Bearer`` with a platform API token or an OpenID access token)::

    GET  /api/v1/me                                        who the credential is
    GET  /api/v1/agencies                POST /api/v1/agencies                  (create: administrators)
    GET  /api/v1/agencies/{agency}       POST .../rollover   POST .../renew     (administrators)
    GET  /api/v1/agencies/{agency}/certificates[?status=valid|revoked|expired]
    POST /api/v1/agencies/{agency}/certificates            {"officer": {...}, "csr": "PEM"}
    GET  /api/v1/agencies/{agency}/certificates/{serial}
    POST /api/v1/agencies/{agency}/certificates/{serial}/revoke   {"reason": "keyCompromise"}
    POST /api/v1/agencies/{agency}/crl
    GET  /api/v1/agencies/{agency}/audit[?verify=1]
    GET  /api/v1/figures[?at=ISO]
    POST /api/v1/operators                                 {"name", "role", "agency", "oidc_subject"}
    POST /api/v1/operators/{id}/tokens                     -> {"token": "tsp_..."} (shown once)

Answers: 401 without a valid credential, 403 when the role may not, 404 for an agency or a
certificate outside the operator's scope (the same as one that does not exist).

The page (``/``) shows the figures per agency and in total, in Thai or English, after a login with
the OpenID provider (authorization code with PKCE) or an API token; its session is a signed cookie
that is checked anew on every request (a disabled operator or revoked token is out at once).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thaisign.errors import (
    AccessDenied,
    AgencyNotFoundError,
    AlreadyRevokedError,
    CAExistsError,
    SerialNotFoundError,
    StoreError,
    ThaisignError,
)
from thaisign.platform.core import Platform
from thaisign.platform.session import Session, resume

MAX_JSON = 64 * 1024
SESSION_COOKIE = "tsp_session"
LOGIN_COOKIE = "tsp_login"
LANG_COOKIE = "tsp_lang"
WEB_KEY = "web-session-key"
SESSION_HOURS = 8
_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "form-action 'self' {op}; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class WebConfig:
    """How ``thaisign platform serve`` runs. Secrets come from the environment or files."""

    directory: Path
    passphrase: str | None = field(default=None, repr=False)  # the platform's CA keys
    pin: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)  # the page's OpenID client secret


class _Denied(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _status_of(exc: ThaisignError) -> int:
    if isinstance(exc, AccessDenied):
        return 403
    if isinstance(exc, AgencyNotFoundError | SerialNotFoundError):
        return 404
    if isinstance(exc, AlreadyRevokedError | CAExistsError):
        return 409
    if isinstance(exc, StoreError):
        return 503
    return 400


class PlatformWeb:
    """One worker's API and pages over an open :class:`Platform`."""

    def __init__(self, platform: Platform, config: WebConfig) -> None:
        self.platform = platform
        self.config = config
        self._key = self._session_key()
        self._oidc: dict[str, str] | None = None

    def _session_key(self) -> bytes:
        key = self.platform.db.secret(WEB_KEY)
        if key is None:
            from thaisign.platform.core import system_actor

            with self.platform.db.write(system_actor("platform serve")) as w:
                w.at = self.platform.clock()
                if self.platform.db.secret(WEB_KEY) is None:
                    w.put_secret(WEB_KEY, secrets.token_bytes(32))
            key = self.platform.db.secret(WEB_KEY)
        assert key is not None
        return key

    # --- credentials ----------------------------------------------------------------------------

    def bearer_session(self, authorization: str | None) -> Session:
        from thaisign.platform import ApiToken, OidcToken

        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _Denied(
                401,
                "an Authorization: Bearer header with a platform API token or an access token is required",
            )
        value = value.strip()
        credential = ApiToken(value) if value.startswith("tsp_") else OidcToken(value)
        try:
            return self.platform.session(credential)
        except AccessDenied as exc:
            raise _Denied(401, exc.message) from None

    def _sign(self, payload: dict[str, Any]) -> str:
        body = (
            base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
        )
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
        return f"{body}.{mac}"

    def _unsign(self, value: str | None) -> dict[str, Any] | None:
        if not value or value.count(".") != 1 or len(value) > 4096:
            return None
        body, mac = value.split(".")
        if not hmac.compare_digest(mac, hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        if not isinstance(data, dict) or float(data.get("exp", 0)) < time.time():
            return None
        return data

    def cookie_session(self, cookie: str | None) -> Session | None:
        data = self._unsign(cookie)
        if data is None:
            return None
        try:
            principal = resume(self.platform, int(data["op"]), str(data["via"]))
        except (AccessDenied, KeyError, TypeError, ValueError):
            return None
        return Session(self.platform, principal)

    def session_cookie(self, session: Session, lifetime: float) -> str:
        p = session.principal
        return self._sign({"op": p.operator_id, "via": p.via, "exp": time.time() + lifetime})

    # --- OpenID Connect login for the page --------------------------------------------------------

    def oidc_endpoints(self) -> dict[str, str]:
        from thaisign.service.oidc import fetch_json

        settings = self.platform.config.oidc
        if settings is None or not self.platform.config.oidc_client_id or not self.config.client_secret:
            raise _Denied(404, "this platform takes no OpenID Connect logins on its page")
        if self._oidc is None:
            doc = fetch_json(settings.issuer.rstrip("/") + "/.well-known/openid-configuration")
            origin = urllib.parse.urlsplit(settings.issuer)[:2]
            endpoints = {k: doc.get(k) for k in ("authorization_endpoint", "token_endpoint")}
            for name, url in endpoints.items():
                if not isinstance(url, str) or urllib.parse.urlsplit(url)[:2] != origin:
                    raise _Denied(503, f"the OpenID provider's {name} is missing or not on its own host")
            self._oidc = endpoints  # type: ignore[assignment]
        return self._oidc  # type: ignore[return-value]

    def login_redirect(self, redirect_uri: str) -> tuple[str, str]:
        """(the provider's authorization URL, the signed login cookie that carries PKCE and state)."""
        settings = self.platform.config.oidc
        assert settings is not None
        verifier, state, nonce = (
            secrets.token_urlsafe(48),
            secrets.token_urlsafe(16),
            secrets.token_urlsafe(16),
        )
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = {
            "client_id": self.platform.config.oidc_client_id,
            "response_type": "code",
            "scope": "openid" + (f" {settings.required_scope}" if settings.required_scope else ""),
            "redirect_uri": redirect_uri,
            "resource": settings.audience,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": state,
            "nonce": nonce,
        }
        url = self.oidc_endpoints()["authorization_endpoint"] + "?" + urllib.parse.urlencode(query)
        cookie = self._sign({"v": verifier, "s": state, "r": redirect_uri, "exp": time.time() + 600})
        return url, cookie

    def finish_login(self, code: str, state: str, cookie: str | None) -> tuple[Session, float]:
        """The operator behind an authorization code (and how long their page session may last)."""
        import requests

        from thaisign.platform import OidcToken

        login = self._unsign(cookie)
        if login is None or not hmac.compare_digest(str(login.get("s", "")), state):
            raise _Denied(400, "this login did not start here, or took too long: start again")
        settings = self.platform.config.oidc
        assert settings is not None
        try:
            r = requests.post(
                self.oidc_endpoints()["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": login["r"],
                    "code_verifier": login["v"],
                    "resource": settings.audience,
                },
                auth=(self.platform.config.oidc_client_id or "", self.config.client_secret or ""),
                timeout=10,
            )
            token = r.json().get("access_token") if r.status_code == 200 else None
        except (requests.RequestException, ValueError):
            token = None
        if not isinstance(token, str):
            raise _Denied(401, "the OpenID provider did not give an access token for this login")
        try:
            session = self.platform.session(OidcToken(token))
        except AccessDenied as exc:
            raise _Denied(403, exc.message) from None
        lifetime = min(
            SESSION_HOURS * 3600.0, max(60.0, _token_exp(token) - self.platform.clock().timestamp())
        )
        return session, lifetime


def _token_exp(token: str) -> float:
    try:
        payload = token.split(".")[1]
        return float(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("exp", 0))
    except (IndexError, ValueError, AttributeError):
        return 0.0


def _when(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _Denied(400, "at must be an ISO 8601 time with a time zone") from None
    if at.tzinfo is None:
        raise _Denied(400, "at must be an ISO 8601 time with a time zone")
    return at
