"""Who may do what on the platform: operators, their roles, and the credentials they present.

Roles:

- ``admin`` — platform administrator: creates and imports agencies, rolls CA keys over, renews
  CA certificates, appoints operators and auditors, hands out API tokens. Issues nothing itself.
- ``operator`` — agency operator: issues and revokes officer certificates of one agency, publishes
  its CRL, reads and verifies its records.
- ``auditor`` — read-only: lists and verifies the records (audit chains) of one agency, or of the
  whole platform when appointed without an agency.

Credentials: an :class:`ApiToken` (``tsp_<id>_<secret>``; the platform keeps only the secret's
SHA-256) or an :class:`OidcToken` (an access token from the OpenID provider the signing service
uses, e.g. ThaiD; the operator is found by the token's subject).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from thaisign.errors import AccessDenied

Role = Literal["admin", "operator", "auditor"]
ROLES: tuple[Role, ...] = ("admin", "operator", "auditor")
TOKEN_PREFIX = "tsp_"
_TOKEN = re.compile(r"^tsp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")

#: what each role may do (the agency scope is checked separately)
PERMISSIONS: dict[Role, frozenset[str]] = {
    "admin": frozenset(
        {"agency.create", "agency.change", "operator.manage", "agency.read", "figures.read", "platform.audit"}
    ),
    "operator": frozenset(
        {"agency.read", "cert.read", "cert.issue", "cert.revoke", "crl.publish", "audit.read", "figures.read"}
    ),
    "auditor": frozenset({"agency.read", "cert.read", "audit.read", "figures.read", "platform.audit"}),
}


@dataclass(frozen=True)
class ApiToken:
    """A platform API token, as handed out once (``thaisign platform token create``)."""

    value: str = ""

    def __repr__(self) -> str:
        return "ApiToken(****)"

    def parts(self) -> tuple[str, str]:
        m = _TOKEN.match(self.value.strip())
        if m is None:
            raise AccessDenied(
                "that is not a thaisign platform API token", hint="tokens look like tsp_<id>_<secret>"
            )
        return m.group(1), m.group(2)


@dataclass(frozen=True)
class OidcToken:
    """An OAuth2 access token (a JWT) from the platform's OpenID Connect provider."""

    value: str = ""

    def __repr__(self) -> str:
        return "OidcToken(****)"


Credential = ApiToken | OidcToken


def new_token() -> tuple[str, str, str]:
    """(token id, full token shown once, SHA-256 of its secret to keep)."""
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)[:43].ljust(43, "A")
    return token_id, f"{TOKEN_PREFIX}{token_id}_{secret}", secret_digest(secret)


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def digest_matches(secret: str, stored: str) -> bool:
    return hmac.compare_digest(secret_digest(secret), stored)


@dataclass(frozen=True)
class Principal:
    """An authenticated operator."""

    operator_id: int
    name: str
    role: Role
    agency_id: int | None  # None: platform-wide (admins, platform auditors)
    agency_slug: str | None
    via: str  # token:<id> | oidc:<subject>

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS[self.role]

    def covers(self, agency_id: int | None) -> bool:
        """Whether this operator's scope includes the agency (every agency for platform-wide ones)."""
        return self.agency_id is None or self.agency_id == agency_id

    def audit_identity(self) -> tuple[str, dict[str, Any]]:
        """(operator name, details) as the audit entries of this operator's actions carry them."""
        details = {"operator_id": self.operator_id, "role": self.role, "via": self.via}
        if self.agency_slug is not None:
            details["agency"] = self.agency_slug
        return self.name, details

    def to_json(self) -> dict[str, Any]:
        return {
            "operator_id": self.operator_id,
            "name": self.name,
            "role": self.role,
            "agency": self.agency_slug,
            "via": self.via,
        }


@dataclass(frozen=True)
class Operator:
    id: int
    name: str
    role: Role
    agency_slug: str | None
    oidc_subject: str | None
    created_at: dt.datetime
    disabled_at: dt.datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "agency": self.agency_slug,
            "oidc_subject": self.oidc_subject,
            "created_at": self.created_at.isoformat(),
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
        }
