"""A real OpenID Connect provider process for the tests: ``tests/support/oidc/op.mjs`` (the npm
package ``oidc-provider``, OpenID-certified) run with node, playing ThaiD.

Tokens come from real flows only: client credentials at the token endpoint, and the
authorization-code flow with PKCE driven through the provider's own login and consent pages.
The test knows the provider's signing keys (it generated them), so it can *forge* tokens for
attack tests — a forged token is never used where a real one should be.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from support.clock import MovedClock
from support.servers import free_port, wait_for_port

OP_DIR = Path(__file__).parent / "oidc"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never contacted: the test reads the code from the redirect


def _jwk(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, kid: str, alg: str) -> dict[str, Any]:
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    exported = (
        ECAlgorithm.to_jwk(key, as_dict=True)
        if alg.startswith("ES")
        else RSAAlgorithm.to_jwk(key, as_dict=True)
    )
    return {**exported, "kid": kid, "alg": alg, "use": "sig"}


@dataclass
class ProviderKeys:
    """The provider's signing keys (ES256 and RS256), made by the test."""

    ec_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    rsa_key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    prefix: str = "k1"

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                _jwk(self.rsa_key, f"{self.prefix}-rs", "RS256"),
                _jwk(self.ec_key, f"{self.prefix}-es", "ES256"),
            ]
        }


@dataclass
class Client:
    client_id: str
    secret: str
    grant: str  # client_credentials | authorization_code
    redirect_uri: str = REDIRECT_URI  # a real page's callback for browser logins

    def metadata(self) -> dict[str, Any]:
        if self.grant == "client_credentials":
            return {
                "client_id": self.client_id,
                "client_secret": self.secret,
                "grant_types": ["client_credentials"],
                "response_types": [],
                "redirect_uris": [],
            }
        return {
            "client_id": self.client_id,
            "client_secret": self.secret,
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "redirect_uris": [self.redirect_uri],
        }


@dataclass
class OidcProvider:
    """A running provider; see the module docstring."""

    issuer: str
    keys: ProviderKeys
    clients: dict[str, Client]
    process: subprocess.Popen[str]

    def discovery(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10).json())

    def client_credentials(self, client_id: str, resource: str, scope: str = "csc") -> str:
        """An access token from the client-credentials grant (a back end's login)."""
        client = self.clients[client_id]
        r = requests.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "resource": resource, "scope": scope},
            auth=(client.client_id, client.secret),
            timeout=10,
        )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def login(
        self, account: str, resource: str, *, client_id: str = "eoffice-web", scope: str = "openid csc"
    ) -> str:
        """An access token from an authorization-code login (PKCE) through the provider's pages."""
        client = self.clients[client_id]
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(12)
        # Cookies are kept by hand: the provider runs on the deployment's moved clock, so the
        # expiry it writes would look past to a cookie jar on the real clock.
        jar: dict[str, str] = {}
        session = _CookieSession(jar)
        r = session.get(
            f"{self.issuer}/auth",
            params={
                "client_id": client.client_id,
                "response_type": "code",
                "scope": scope,
                "redirect_uri": REDIRECT_URI,
                "resource": resource,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": state,
                "nonce": secrets.token_urlsafe(12),
            },
            allow_redirects=False,
            timeout=10,
        )
        url = urljoin(self.issuer, r.headers["location"])
        code = None
        for _ in range(10):
            r = session.get(url, allow_redirects=False, timeout=10)
            if r.status_code in (302, 303):
                location = r.headers["location"]
                if location.startswith(REDIRECT_URI):
                    query = parse_qs(urlparse(location).query)
                    if "error" in query:
                        raise PermissionError(f"login refused: {query['error'][0]}")
                    assert query["state"] == [state]
                    code = query["code"][0]
                    break
                url = urljoin(url, location)
                continue
            form = re.search(r'<form[^>]*action="([^"]+)"', r.text)
            if form is None:
                raise PermissionError(f"login failed: the provider answered {r.status_code} without a form")
            data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', r.text))
            if data.get("prompt") == "login":
                data |= {"login": account, "password": "not-checked-by-dev-interactions"}
            r = session.post(
                urljoin(url, html.unescape(form.group(1))), data=data, allow_redirects=False, timeout=10
            )
            url = urljoin(url, r.headers["location"])
        if code is None:
            raise PermissionError("login did not come back to the client")
        r = requests.post(
            f"{self.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
                "resource": resource,
            },
            auth=(client.client_id, client.secret),
            timeout=10,
        )
        r.raise_for_status()
        return str(r.json()["access_token"])


class _CookieSession:
    """GET/POST that send every cookie the provider set, whatever its expiry or path."""

    def __init__(self, jar: dict[str, str]) -> None:
        self.jar = jar

    def _send(self, method: str, url: str, **kw: Any) -> requests.Response:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.jar.items())} if self.jar else {}
        r = requests.request(method, url, headers=headers, **kw)
        for header in r.raw.headers.getlist("Set-Cookie"):
            name, _, value = header.split(";", 1)[0].partition("=")
            if value:
                self.jar[name.strip()] = value.strip()
            else:
                self.jar.pop(name.strip(), None)
        return r

    def get(self, url: str, **kw: Any) -> requests.Response:
        return self._send("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> requests.Response:
        return self._send("POST", url, **kw)


def require_node() -> str:
    import pytest

    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: run scripts/setup.sh")
    if not (OP_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(f"the test OpenID provider's npm packages are missing in {OP_DIR}: run scripts/setup.sh")
    return node


@contextlib.contextmanager
def run_oidc_provider(
    base: Path,
    clock: MovedClock,
    *,
    resources: dict[str, dict[str, Any]],
    clients: list[Client],
    accounts: dict[str, dict[str, Any]],
    keys: ProviderKeys | None = None,
    port: int | None = None,
    access_token_ttl: int = 900,
) -> Iterator[OidcProvider]:
    """Start ``op.mjs`` on 127.0.0.1 on the deployment's clock; stop it afterwards."""
    node = require_node()
    keys = keys or ProviderKeys()
    port = port or free_port()
    issuer = f"http://127.0.0.1:{port}"
    base.mkdir(parents=True, exist_ok=True)
    config = base / f"op-{port}.json"
    config.write_text(
        json.dumps(
            {
                "issuer": issuer,
                "port": port,
                "jwks": keys.jwks(),
                "resources": resources,
                "clients": [c.metadata() for c in clients],
                "accounts": accounts,
                "access_token_ttl": access_token_ttl,
            }
        )
    )
    config.chmod(0o600)
    log = (base / f"op-{port}.log").open("w")
    process = subprocess.Popen(
        [node, str(OP_DIR / "op.mjs"), str(config)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=clock.env(),
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("ready"):
            process.wait(10)
            raise RuntimeError(
                f"the OpenID provider did not start: {(base / f'op-{port}.log').read_text()[-2000:]}"
            )
        wait_for_port(port)
        yield OidcProvider(issuer, keys, {c.client_id: c for c in clients}, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
