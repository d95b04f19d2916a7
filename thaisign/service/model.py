"""What the CSC operations work with: the service's refusal, a credential as stored, a document
for signDoc, a checked signHash request, and the algorithm identifiers of the API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from thaisign.keys import KeySpec
from thaisign.service.oidc import Caller
from thaisign.service.store import aware

HASH_OIDS = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
OID_OF_HASH = {name: oid for oid, name in HASH_OIDS.items()}
HASH_BY_LENGTH = {32: "sha256", 48: "sha384", 64: "sha512"}
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
ECDSA = {"1.2.840.10045.4.3.2": "sha256", "1.2.840.10045.4.3.3": "sha384", "1.2.840.10045.4.3.4": "sha512"}
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
RSA_PSS = "1.2.840.113549.1.1.10"
RSA_PKCS1 = {
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
}
CURVE_OIDS = {256: "1.2.840.10045.3.1.7", 384: "1.3.132.0.34", 521: "1.3.132.0.35"}


class CscError(Exception):
    """A refused request: HTTP ``status``, ``error`` code and a one-line ``description``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def bad_request(description: str) -> CscError:
    return CscError(400, "invalid_request", description)


@dataclass(frozen=True)
class Credential:
    """One officer key in the token with its certificate, as the database holds it."""

    id: str
    subject: str
    key_uri: str
    key_spec: KeySpec
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    serial: str
    status: str
    factor: str
    pin_hash: str | None
    totp_secret: bytes | None
    totp_last_step: int
    failures: int
    locked_at: dt.datetime | None
    created_at: dt.datetime
    description: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Credential:
        chain = tuple(x509.load_pem_x509_certificates(row.chain_pem.encode())) if row.chain_pem else ()
        return cls(
            id=row.id,
            subject=row.subject,
            key_uri=row.key_uri,
            key_spec=KeySpec.parse(row.key_spec),
            certificate=x509.load_der_x509_certificate(row.certificate),
            chain=chain,
            serial=row.serial,
            status=row.status,
            factor=row.factor,
            pin_hash=row.pin_hash,
            totp_secret=row.totp_secret,
            totp_last_step=int(row.totp_last_step or 0),
            failures=int(row.failures or 0),
            locked_at=aware(row.locked_at),
            created_at=aware(row.created_at),  # type: ignore[arg-type]
            description=row.description,
        )

    def certificates_der(self, which: str = "chain") -> list[bytes]:
        """``none``, ``single`` (the officer's) or ``chain`` (officer first, up to the root)."""
        if which == "none":
            return []
        certs = [self.certificate] if which == "single" else [self.certificate, *self.chain]
        return [c.public_bytes(Encoding.DER) for c in certs]

    def sign_algorithms(self) -> list[str]:
        """The OIDs of the signature algorithms this key can produce (``key/algo``)."""
        if self.key_spec.kind == "ec":
            return [*ECDSA, EC_PUBLIC_KEY]
        return [*RSA_PKCS1, RSA_ENCRYPTION, RSA_PSS]


@dataclass(frozen=True)
class DocumentToSign:
    """One PDF for signDoc, with the PAdES level and where the visible signature goes."""

    data: bytes
    level: str = "B-B"
    certify: bool = False
    page: int = 1
    rect: tuple[float, float, float, float] | None = None
    field: str | None = None
    anchor_text: str | None = None
    reason: str | None = None
    location: str | None = None


@dataclass(frozen=True)
class SignJob:
    """One checked signHash request, waiting for its SAD to be consumed."""

    credential: Credential
    caller: Caller
    sad_hash: str
    digests: list[str]
    algo: str  # the digests' hash algorithm
    hash: str  # the signature's hash algorithm (the same, checked)
    sign_algo: str
    signer: Any
    details: dict[str, Any]
