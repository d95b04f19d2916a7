"""Checking OAuth2 bearer tokens from the agency's OpenID Connect provider (ThaiD, or another OP).

>>> verifier = TokenVerifier(OidcSettings(issuer="https://op.example.go.th", audience="https://sign.example.go.th"))
>>> caller = verifier.verify(token)          # TokenRejected with a one-line reason otherwise
>>> caller.subject, caller.client_id, caller.operator

Access tokens are JWTs (RFC 9068) signed with the provider's asymmetric keys. Discovery and the
JWKS are fetched once and cached; an unknown ``kid`` (a rotated key) refreshes the JWKS at most
every :data:`MIN_REFRESH_SECONDS`. The header ``alg`` must be one the agency allows — never
``none`` and never a symmetric HS* algorithm, whatever the key (no key-confusion). ``iss`` must
equal the configured issuer, ``aud`` contain the service's audience, ``exp``/``nbf``/``iat`` hold
at the service's clock (with the configured leeway).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from thaisign.errors import ServiceError
from thaisign.service.config import OidcSettings

MAX_TOKEN_BYTES = 16 * 1024
MAX_DOCUMENT_BYTES = 1024 * 1024
MIN_REFRESH_SECONDS = 30.0
FETCH_TIMEOUT = 5.0
_CACHE_LIMIT = 20000

Clock = Callable[[], dt.datetime]


class TokenRejected(Exception):
    """The bearer token is not acceptable; ``str()`` is a one-line reason fit for the caller."""


class ProviderUnavailable(ServiceError):
    """The OpenID provider's discovery document or keys cannot be fetched."""


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the access token says."""

    subject: str
    client_id: str
    roles: frozenset[str]
    backend: bool  # a back end with client credentials, acting for officers it names
    operator: bool  # an agency operator (approves enrollments, unlocks credentials)
    expires: float  # the token's exp, seconds since the epoch
    token_id: str | None = None


def fetch_json(
    url: str, *, timeout: float = FETCH_TIMEOUT, limit: int = MAX_DOCUMENT_BYTES
) -> dict[str, Any]:
    """GET a JSON object over HTTP(S), bounded in size and time."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(limit + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProviderUnavailable(f"cannot fetch {url}: {reason}") from None
    if len(body) > limit:
        raise ProviderUnavailable(f"{url} answered with more than {limit} bytes")
    try:
        data = json.loads(body)
    except ValueError:
        raise ProviderUnavailable(f"{url} did not answer with JSON") from None
    if not isinstance(data, dict):
        raise ProviderUnavailable(f"{url} did not answer with a JSON object")
    return data


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _jwk_alg(key: Any) -> str | None:
    """The ``alg`` a JWK declares, if any."""
    data = getattr(key, "_jwk_data", None)
    alg = data.get("alg") if isinstance(data, dict) else None
    return alg if isinstance(alg, str) else None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TokenVerifier:
    """Verifies access tokens against one provider; safe to share between threads."""

    def __init__(
        self,
        settings: OidcSettings,
        *,
        clock: Clock = _utcnow,
        fetch: Callable[[str], dict[str, Any]] = fetch_json,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._fetch = fetch
        self._lock = threading.Lock()
        self._jwks_uri: str | None = settings.jwks_uri
        self._keys: dict[str, Any] = {}  # kid -> PyJWK
        self._fetched_at = 0.0  # time.monotonic() of the last JWKS fetch
        self._cache: dict[bytes, Caller] = {}

    # --- provider metadata ----------------------------------------------------------------

    def discover(self) -> str:
        """Fetch the discovery document (once) and return the JWKS URI."""
        if self._jwks_uri is not None:
            return self._jwks_uri
        issuer = self.settings.issuer
        doc = self._fetch(issuer.rstrip("/") + "/.well-known/openid-configuration")
        if doc.get("issuer") != issuer:
            raise ProviderUnavailable(
                "the provider's discovery document names another issuer",
                hint=f"set [oidc] issuer to exactly the provider's issuer (expected {issuer})",
            )
        jwks_uri = doc.get("jwks_uri")
        if not isinstance(jwks_uri, str) or _origin(jwks_uri) != _origin(issuer):
            raise ProviderUnavailable(
                "the provider's jwks_uri is missing or not on the issuer's host",
                hint="set [oidc] jwks_uri explicitly if the provider publishes its keys elsewhere",
            )
        self._jwks_uri = jwks_uri
        return jwks_uri

    def refresh_keys(self) -> None:
        """Fetch the JWKS now."""
        import jwt

        doc = self._fetch(self.discover())
        keys: dict[str, Any] = {}
        for i, entry in enumerate(doc.get("keys", []) if isinstance(doc.get("keys"), list) else []):
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or entry.get("kty") == "oct":
                continue
            try:
                key = jwt.PyJWK(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                continue  # a key type this library cannot use: skip it, keep the others
            keys[str(entry.get("kid", f"#{i}"))] = key
        if not keys:
            raise ProviderUnavailable("the provider's JWKS holds no usable signing key")
        self._keys = keys
        self._fetched_at = time.monotonic()

    def _key_for(self, kid: str | None, alg: str) -> Any:
        with self._lock:
            stale = time.monotonic() - self._fetched_at > self.settings.jwks_cache_seconds
            if not self._keys or stale:
                self.refresh_keys()
            key = self._find(kid, alg)
            if key is None and time.monotonic() - self._fetched_at > MIN_REFRESH_SECONDS:
                self.refresh_keys()  # the provider may have rotated its keys
                key = self._find(kid, alg)
        if key is None:
            raise TokenRejected("the token is signed with a key the OpenID provider does not publish")
        return key

    def _find(self, kid: str | None, alg: str) -> Any:
        if kid is not None:
            key = self._keys.get(kid)
        else:
            candidates = [k for k in self._keys.values() if _jwk_alg(k) in (None, alg)]
            key = candidates[0] if len(candidates) == 1 else None
        if key is not None and _jwk_alg(key) not in (None, alg):
            raise TokenRejected(
                f"the token's algorithm {alg} is not the one its key is for ({_jwk_alg(key)})"
            )
        return key

    # --- tokens ---------------------------------------------------------------------------

    def verify(self, token: str) -> Caller:
        """The caller named by a valid access token, else :class:`TokenRejected`."""
        if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
            raise TokenRejected("the bearer token is not a JWT access token")
        now = self._clock().timestamp()
        fingerprint = hashlib.sha256(token.encode("ascii", "replace")).digest()
        cached = self._cache.get(fingerprint)
        if cached is not None and now < cached.expires + self.settings.leeway_seconds:
            return cached
        claims = self._verified_claims(token, now)
        caller = self._caller(claims)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[fingerprint] = caller
        return caller

    def _verified_claims(self, token: str, now: float) -> dict[str, Any]:
        import jwt

        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise TokenRejected("the bearer token is not a well-formed JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise TokenRejected("unsigned tokens (alg none) are refused")
        if alg.upper().startswith("HS"):
            raise TokenRejected(
                f"symmetric token signatures ({alg}) are refused: only the provider's keys count"
            )
        if alg not in s.algorithms:
            raise TokenRejected(f"token algorithm {alg} is not accepted (allowed: {', '.join(s.algorithms)})")
        typ = str(header.get("typ", "at+jwt")).lower()
        if typ not in ("at+jwt", "application/at+jwt", "jwt"):
            raise TokenRejected(f"a {typ!r} token is not an access token")
        kid = header.get("kid")
        key = self._key_for(kid if isinstance(kid, str) else None, alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                options={
                    "verify_exp": False,  # checked below at the service's clock
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise TokenRejected("the token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"the token cannot be verified: {exc}") from None
        self._check_claims(claims, now)
        return claims

    def _check_claims(self, claims: dict[str, Any], now: float) -> None:
        s = self.settings
        if claims.get("iss") != s.issuer:
            raise TokenRejected("the token was issued by another provider than this service trusts (iss)")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if s.audience not in audiences:
            raise TokenRejected("the token is meant for another service (aud)")
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            raise TokenRejected("the token has no expiry (exp)")
        if now > exp + s.leeway_seconds:
            when = dt.datetime.fromtimestamp(exp, dt.UTC).isoformat(timespec="seconds")
            raise TokenRejected(f"the token expired at {when}: log in again")
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and now + s.leeway_seconds < nbf:
            raise TokenRejected("the token is not valid yet (nbf)")
        iat = claims.get("iat")
        if isinstance(iat, int | float) and now + s.leeway_seconds < iat:
            raise TokenRejected("the token claims to be issued in the future (iat)")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise TokenRejected("the token names no subject (sub)")
        if s.required_scope is not None:
            scopes = str(claims.get("scope", "")).split()
            if s.required_scope not in scopes:
                raise TokenRejected(f"the token lacks the scope {s.required_scope!r}")

    def _caller(self, claims: dict[str, Any]) -> Caller:
        s = self.settings
        subject = str(claims["sub"])[:255]
        client_id = str(claims.get("client_id") or claims.get("azp") or "")[:255]
        raw_roles = claims.get(s.roles_claim, [])
        if isinstance(raw_roles, str):
            raw_roles = raw_roles.split()
        roles = frozenset(str(r) for r in raw_roles) if isinstance(raw_roles, list) else frozenset()
        backend = bool(client_id) and client_id in s.backend_clients and subject == client_id
        operator = subject in s.operators or s.operator_role in roles
        jti = claims.get("jti")
        return Caller(
            subject=subject,
            client_id=client_id,
            roles=roles,
            backend=backend,
            operator=operator,
            expires=float(claims["exp"]),
            token_id=str(jti) if jti is not None else None,
        )
