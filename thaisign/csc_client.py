"""Signing through a remote CSC service: a :class:`~thaisign.keys.Signer` whose key lives in the
service's HSM, so every thaisign signing path (PDF letters, CAdES) works with it.

>>> client = CscClient("https://sign.example.go.th", token=access_token)
>>> signer = CscSigner(client, credential_id, second_factor=lambda: {"OTP": input("OTP: ")})
>>> sign_pdf("letter.pdf", "signed.pdf", signer, level="B-B")

Each signature asks :attr:`CscSigner.second_factor` for the officer's PIN or one-time code,
obtains a SAD bound to exactly that digest (``credentials/authorize``) and spends it at once
(``signatures/signHash``). Secrets never appear in errors or ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from thaisign.errors import RemoteSigningError, UsageError
from thaisign.keys import Signer

HASH_OID = {
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}
ECDSA_OID = {
    "sha256": "1.2.840.10045.4.3.2",
    "sha384": "1.2.840.10045.4.3.3",
    "sha512": "1.2.840.10045.4.3.4",
}
RSA_OID = {
    "sha256": "1.2.840.113549.1.1.11",
    "sha384": "1.2.840.113549.1.1.12",
    "sha512": "1.2.840.113549.1.1.13",
}
MAX_RESPONSE = 64 * 1024 * 1024

SecondFactor = Callable[[], dict[str, str]]


def _clean(text: str, limit: int = 300) -> str:
    """A server's text made safe to print: control and bidi characters shown as escapes."""
    out = []
    for ch in text[:limit]:
        if ch.isprintable() and not ("\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069"):
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04x}")
    return "".join(out)


class CscClient:
    """A small synchronous client of the CSC API (``/csc/v1``), with a bearer token."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 60.0) -> None:
        if not url.startswith(("https://", "http://")):
            raise UsageError(f"the CSC service URL must start with https:// (got {_clean(url, 80)!r})")
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def __repr__(self) -> str:  # never the token
        return f"<CscClient {self.url}>"

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST JSON to ``{url}/{path}`` and return the JSON answer, or :class:`RemoteSigningError`."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return self._send(urllib.request.Request(f"{self.url}/{path}", json.dumps(body).encode(), headers))

    def get(self, path: str) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return self._send(urllib.request.Request(f"{self.url}/{path}", headers=headers))

    def _send(self, request: urllib.request.Request) -> dict[str, Any]:
        path = request.full_url[len(self.url) + 1 :]
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read(MAX_RESPONSE + 1)
        except urllib.error.HTTPError as exc:
            raise RemoteSigningError(f"{path}: {self._reason(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise RemoteSigningError(
                f"cannot reach the signing service {self.url}: {getattr(exc, 'reason', exc)}",
                hint="check the URL and the network",
            ) from None
        if len(raw) > MAX_RESPONSE:
            raise RemoteSigningError(f"{path}: the answer is larger than {MAX_RESPONSE} bytes")
        try:
            data = json.loads(raw)
        except ValueError:
            raise RemoteSigningError(f"{path}: the service did not answer with JSON") from None
        if not isinstance(data, dict):
            raise RemoteSigningError(f"{path}: the service did not answer with a JSON object")
        return data

    @staticmethod
    def _reason(exc: urllib.error.HTTPError) -> str:
        try:
            body = json.loads(exc.read(64 * 1024))
            text = str(body.get("error_description") or body.get("error") or "")
        except (ValueError, AttributeError, OSError):
            text = ""
        return f"HTTP {exc.code}: {_clean(text) or exc.reason}"

    # --- CSC operations -------------------------------------------------------------------

    def credentials(self, user_id: str | None = None) -> list[str]:
        body: dict[str, Any] = {"maxResults": 1000}
        if user_id is not None:
            body["userID"] = user_id
        ids = self.post("csc/v1/credentials/list", body).get("credentialIDs", [])
        return [str(i) for i in ids] if isinstance(ids, list) else []

    def credential_info(self, credential_id: str) -> dict[str, Any]:
        return self.post(
            "csc/v1/credentials/info",
            {"credentialID": credential_id, "certificates": "chain", "certInfo": True, "authInfo": True},
        )

    def authorize(self, credential_id: str, hashes: list[bytes], factor: dict[str, str]) -> str:
        body: dict[str, Any] = {
            "credentialID": credential_id,
            "numSignatures": len(hashes),
            "hash": [base64.b64encode(h).decode() for h in hashes],
        }
        body |= {k: v for k, v in factor.items() if k in ("PIN", "OTP")}
        sad = self.post("csc/v1/credentials/authorize", body).get("SAD")
        if not isinstance(sad, str):
            raise RemoteSigningError("credentials/authorize: no SAD in the answer")
        return sad

    def sign_hash(
        self, credential_id: str, sad: str, hashes: list[bytes], sign_algo: str, hash_algo: str
    ) -> list[bytes]:
        answer = self.post(
            "csc/v1/signatures/signHash",
            {
                "credentialID": credential_id,
                "SAD": sad,
                "hash": [base64.b64encode(h).decode() for h in hashes],
                "hashAlgo": hash_algo,
                "signAlgo": sign_algo,
            },
        )
        sigs = answer.get("signatures")
        if not isinstance(sigs, list) or len(sigs) != len(hashes):
            raise RemoteSigningError("signatures/signHash: the answer does not carry one signature per hash")
        try:
            return [base64.b64decode(s, validate=True) for s in sigs]
        except (ValueError, TypeError):
            raise RemoteSigningError("signatures/signHash: a signature is not base64") from None

    def sign_doc(
        self, credential_id: str, sad: str, documents: list[bytes], *, level: str = "B-B", **appearance: Any
    ) -> list[bytes]:
        docs = [
            {
                "document": base64.b64encode(d).decode(),
                "signature_format": "P",
                "conformance_level": f"Ades-{level}",
                **({"appearance": appearance} if appearance else {}),
            }
            for d in documents
        ]
        answer = self.post(
            "csc/v1/signatures/signDoc", {"credentialID": credential_id, "SAD": sad, "documents": docs}
        )
        out = answer.get("DocumentWithSignature")
        if not isinstance(out, list) or len(out) != len(documents):
            raise RemoteSigningError("signatures/signDoc: the answer does not carry one document per input")
        return [base64.b64decode(o) for o in out]

    def enroll(self, officer: dict[str, str], pin: str | None = None) -> dict[str, Any]:
        """Ask the agency for a signing certificate (the operator approves it later)."""
        body: dict[str, Any] = {"officer": officer}
        if pin is not None:
            body["PIN"] = pin
        return self.post("enroll/v1/requests", body)

    def enrollment(self, request_id: str) -> dict[str, Any]:
        """One request's state; after approval it carries the ``otpauth`` URI once (TOTP agencies)."""
        from urllib.parse import quote

        return self.get(f"enroll/v1/requests/{quote(request_id, safe='')}")


class CscSigner(Signer):
    """A key in a remote CSC service; each signature is authorised with the officer's second factor."""

    def __init__(self, client: CscClient, credential_id: str, *, second_factor: SecondFactor) -> None:
        self.client = client
        self.credential_id = credential_id
        self.second_factor = second_factor
        info = client.credential_info(credential_id)
        try:
            certs = [
                x509.load_der_x509_certificate(base64.b64decode(c)) for c in info["cert"]["certificates"]
            ]
        except (KeyError, TypeError, ValueError):
            raise RemoteSigningError("credentials/info: no usable certificate chain in the answer") from None
        if not certs:
            raise RemoteSigningError("credentials/info: the credential has no certificate")
        public = certs[0].public_key()
        if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise RemoteSigningError("the credential's key is neither RSA nor EC")
        self._cert = certs[0]
        self._chain = tuple(certs[1:])
        self._public = public
        self.info = info

    def __repr__(self) -> str:
        return f"<CscSigner {self.client.url} credential {self.credential_id}>"

    @property
    def public_key(self) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
        return self._public

    @property
    def certificate(self) -> x509.Certificate:
        return self._cert

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        return self._chain

    def sign(self, data: bytes, *, hash_algorithm: str = "sha256") -> bytes:
        h = hash_algorithm.lower()
        if h not in HASH_OID:
            raise ValueError(f"unsupported hash algorithm {hash_algorithm!r}")
        return self.sign_digest(hashlib.new(h, data).digest(), hash_algorithm=h)

    def sign_digest(self, digest: bytes, *, hash_algorithm: str = "sha256") -> bytes:
        return self.sign_digests([digest], hash_algorithm=hash_algorithm)[0]

    def sign_digests(self, digests: list[bytes], *, hash_algorithm: str = "sha256") -> list[bytes]:
        """Several digests under one authorisation (one PIN/OTP entry, one SAD)."""
        h = hash_algorithm.lower()
        if self.pss:
            raise UsageError("RSASSA-PSS through a CSC service is not offered by this client")
        algo = (ECDSA_OID if self.key_type == "ec" else RSA_OID)[h]
        sad = self.client.authorize(self.credential_id, digests, self.second_factor())
        return self.client.sign_hash(self.credential_id, sad, digests, algo, HASH_OID[h])
