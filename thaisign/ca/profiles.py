"""What a CA issues: the agency's :class:`CaProfile` (its ``profile.toml``) and :class:`OfficerProfile`.

>>> officer = OfficerProfile(name_th="นายสมชาย ใจดี", position="ผู้อำนวยการกอง", employee_id="E1234")
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from thaisign.errors import ProfileError
from thaisign.keys import KeySpec

ALL_KEY_TYPES = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096")
MAX_OFFICER_DAYS = 3 * 365 + 1  # three years, leap day included
DEFAULT_BASE_URL = "http://127.0.0.1:8080"

#: Extra EKUs an agency may add to officer certificates. NSS (poppler's pdfsig, Evince, Okular,
#: Firefox) trusts a signing certificate only if its EKU includes emailProtection; Adobe Reader
#: accepts the Microsoft document-signing EKU every officer certificate carries already.
EXTRA_EKUS: dict[str, str] = {
    "email-protection": "1.3.6.1.5.5.7.3.4",
    "adobe-authentic-documents": "1.2.840.113583.1.1.5",
}
PROFILE_FILE = "profile.toml"

# attribute OIDs used in officer and CA names
OID_C = "2.5.4.6"
OID_O = "2.5.4.10"
OID_OU = "2.5.4.11"
OID_CN = "2.5.4.3"
OID_GIVEN_NAME = "2.5.4.42"
OID_SURNAME = "2.5.4.4"
OID_TITLE = "2.5.4.12"
OID_SERIAL_NUMBER = "2.5.4.5"
OID_ORGANIZATION_IDENTIFIER = "2.5.4.97"
OID_EMAIL = "1.2.840.113549.1.9.1"

_PRINTABLE = re.compile(r"^[A-Za-z0-9 '()+,\-./:=?]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")


def is_thai_citizen_id(text: str) -> bool:
    """True when ``text`` is 13 digits with a valid Thai national-ID check digit."""
    if not (len(text) == 13 and text.isdigit()):
        return False
    total = sum(int(d) * (13 - i) for i, d in enumerate(text[:12]))
    return (11 - total % 11) % 10 == int(text[12])


def contains_citizen_id(text: str) -> bool:
    """True when the digits of ``text`` hold a Thai citizen ID, whatever separates or precedes them.

    ``3-1017-00123-45-2``, ``3.1017.00123.45.2``, ``3/1017/00123/45/2``, ``TH3101700123452`` and
    ``3101700123452-01`` all do: consecutive groups of digits (split by anything else) that
    together make 13 digits with a valid check digit.
    """
    groups = re.findall(r"[0-9]+", text)
    for start in range(len(groups)):
        digits = ""
        for group in groups[start:]:
            digits += group
            if len(digits) >= 13:
                break
        if len(digits) == 13 and is_thai_citizen_id(digits):
            return True
    return False


def _describe_char(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def _forbidden_char(text: str) -> tuple[int, str] | None:
    """(position, character) of the first control, format (bidi, zero-width) or unassigned character."""
    if text.isprintable():  # no "Other" (Cc Cf Cs Co Cn) nor separator but the space: none forbidden
        return None
    for i, ch in enumerate(text):
        if ch == " ":
            continue
        if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES:
            return i, ch
    return None


#: Cc controls (C0, DEL, C1), Cf format characters (bidi overrides and marks, zero-width
#: characters, BOM), line/paragraph separators, private-use, surrogates and unassigned code points:
#: invisible in a signer's name, they can make one name look like another or reorder what is shown.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})


def check_text(value: str | None, what: str, *, required: bool = False, limit: int = 128) -> str | None:
    """``value`` with runs of spaces collapsed, or :class:`ProfileError` saying what is wrong.

    Refuses control and invisible formatting characters (C0/C1 controls, DEL, bidi overrides
    such as U+202E, zero-width characters) and more than ``limit`` characters (RFC 5280's upper
    bounds count characters, not bytes: a 64-character Thai agency name is fine).
    """
    if value is None or not value.strip():
        if required:
            raise ProfileError(f"{what} is required", hint=f"give the {what}")
        return None
    bad = _forbidden_char(value)
    if bad is not None:
        pos, ch = bad
        raise ProfileError(
            f"{what} contains the invisible character {_describe_char(ch)} at character {pos + 1}",
            hint="type the text again without it: control and direction characters can make a name "
            "look like another one",
        )
    text = " ".join(value.split())
    if len(text) > limit:
        raise ProfileError(
            f"{what} has {len(text)} characters; at most {limit} are allowed", hint="shorten it"
        )
    return text


@dataclass(frozen=True)
class OfficerProfile:
    """The person a certificate is issued to. Thai names go into the certificate as UTF8String."""

    name_th: str
    position: str
    given_name: str | None = None
    surname: str | None = None
    name_en: str | None = None  # kept in the store (for search and listings), not in the certificate
    ou: str | None = None
    email: str | None = None
    employee_id: str | None = None  # an employee or pseudonymous ID: never the 13-digit citizen ID
    days: int | None = None

    def validated(self) -> OfficerProfile:
        """A normalised copy, or :class:`ProfileError` saying what is wrong."""
        name_th = check_text(self.name_th, "Thai full name (--name-th)", required=True, limit=64)
        position = check_text(self.position, "position (--position)", required=True, limit=64)
        employee_id = check_text(self.employee_id, "employee ID", limit=64)
        if employee_id is not None:
            if contains_citizen_id(employee_id):
                raise ProfileError(
                    "the employee ID looks like a 13-digit Thai citizen ID, never allowed in a certificate",
                    hint="use the agency's employee number or a pseudonymous ID instead",
                )
            if not _PRINTABLE.match(employee_id):
                raise ProfileError(
                    f"employee ID {employee_id!r} may only hold letters A-Z, digits and ' ( ) + , - . / : = ?"
                )
        email = check_text(self.email, "email", limit=128)
        if email is not None and (not _EMAIL.match(email) or not email.isascii()):
            raise ProfileError(f"not an email address: {email!r}")
        if self.days is not None and not 1 <= self.days <= MAX_OFFICER_DAYS:
            raise ProfileError(f"validity of {self.days} days is outside 1..{MAX_OFFICER_DAYS} (3 years)")
        return dataclasses.replace(
            self,
            name_th=name_th or "",
            position=position or "",
            given_name=check_text(self.given_name, "given name"),
            surname=check_text(self.surname, "surname"),
            name_en=check_text(self.name_en, "English name"),
            ou=check_text(self.ou, "organisational unit", limit=64),
            email=email,
            employee_id=employee_id,
        )


@dataclass(frozen=True)
class CaProfile:
    """An agency CA's settings, stored as ``profile.toml`` in the CA folder."""

    name_th: str
    name_en: str | None = None
    org_id: str | None = None  # organizationIdentifier of the agency, e.g. "NTRTH-0994000000000"
    key: str = "ec-p384"
    key_uri: str | None = None  # the CA key lives in a PKCS#11 token
    pkcs11_module: str | None = None
    valid_years: int = 10
    base_url: str = DEFAULT_BASE_URL
    policy_oid: str = field(default_factory=lambda: f"2.25.{uuid.uuid4().int}")
    # SQLAlchemy URL (may carry a password: kept out of repr); None: the SQLite file ca.db in the CA folder
    db: str | None = field(default=None, repr=False)
    officer_default_days: int = 730
    officer_max_days: int = MAX_OFFICER_DAYS
    allowed_keys: tuple[str, ...] = ALL_KEY_TYPES
    required_fields: tuple[str, ...] = ("name_th", "position")
    crl_next_update_hours: int = 72
    #: EKUs added to every officer certificate beside the two document-signing ones, by name
    #: (see :data:`EXTRA_EKUS`) or dotted OID; e.g. ``("email-protection",)`` for NSS-based viewers.
    officer_extra_ekus: tuple[str, ...] = ()

    def validated(self) -> Self:
        """Check the settings, or raise :class:`ProfileError`."""
        if not self.name_th or not self.name_th.strip():
            raise ProfileError("the CA needs a Thai name", hint="pass --name-th")
        # X.520 upper bounds (ub-organization-name, ub-common-name): 64 characters
        name_th = check_text(self.name_th, "the agency's Thai name (--name-th)", required=True, limit=64)
        name_en = check_text(self.name_en, "the agency's English name (--name-en)", limit=64)
        org_id = check_text(self.org_id, "the organization identifier (--org-id)", limit=64)
        try:
            KeySpec.parse(self.key)
        except ValueError as exc:
            raise ProfileError(str(exc)) from None
        for k in self.allowed_keys:
            if k not in ALL_KEY_TYPES:
                raise ProfileError(f"unknown key type {k!r} in allowed_keys; use {', '.join(ALL_KEY_TYPES)}")
        if not 1 <= self.valid_years <= 30:
            raise ProfileError(f"CA validity of {self.valid_years} years is outside 1..30")
        if not _OID.match(self.policy_oid):
            raise ProfileError(f"policy OID {self.policy_oid!r} is not a dotted OID like 2.16.764.1.2.3")
        if not re.match(r"^https?://[^\s/]+", self.base_url):
            raise ProfileError(f"base URL {self.base_url!r} must start with http:// or https://")
        if not 1 <= self.officer_max_days <= MAX_OFFICER_DAYS:
            raise ProfileError(f"officer max_days must be within 1..{MAX_OFFICER_DAYS} (3 years)")
        if not 1 <= self.officer_default_days <= self.officer_max_days:
            raise ProfileError("officer default_days must be within 1..max_days")
        if not 1 <= self.crl_next_update_hours <= 24 * 365:
            raise ProfileError("crl next_update_hours must be within 1..8760")
        for eku in self.officer_extra_ekus:
            if eku not in EXTRA_EKUS and not _OID.match(eku):
                raise ProfileError(
                    f"unknown extra EKU {eku!r}", hint=f"use a dotted OID or one of {', '.join(EXTRA_EKUS)}"
                )
        return dataclasses.replace(
            self, name_th=name_th or "", name_en=name_en, org_id=org_id, base_url=self.base_url.rstrip("/")
        )

    @property
    def key_spec(self) -> KeySpec:
        return KeySpec.parse(self.key)

    @property
    def officer_extra_eku_oids(self) -> tuple[str, ...]:
        """The dotted OIDs of :attr:`officer_extra_ekus`."""
        return tuple(EXTRA_EKUS.get(e, e) for e in self.officer_extra_ekus)

    @property
    def crl_url(self) -> str:
        return f"{self.base_url}/crl/ca.crl"

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}/ocsp"

    @property
    def ca_issuers_url(self) -> str:
        return f"{self.base_url}/ca.cer"

    # --- profile.toml ---------------------------------------------------------------------

    def to_toml(self) -> str:
        ca: dict[str, Any] = {
            "name_th": self.name_th,
            "name_en": self.name_en,
            "org_id": self.org_id,
            "key": self.key,
            "key_uri": self.key_uri,
            "pkcs11_module": self.pkcs11_module,
            "valid_years": self.valid_years,
            "base_url": self.base_url,
            "policy_oid": self.policy_oid,
            "db": self.db,
        }
        officer = {
            "default_days": self.officer_default_days,
            "max_days": self.officer_max_days,
            "allowed_keys": list(self.allowed_keys),
            "required_fields": list(self.required_fields),
            "extra_ekus": list(self.officer_extra_ekus) or None,
        }
        crl = {"next_update_hours": self.crl_next_update_hours}
        out = ["# thaisign agency CA profile", ""]
        for title, table in (("ca", ca), ("officer", officer), ("crl", crl)):
            out.append(f"[{title}]")
            out.extend(f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None)
            out.append("")
        return "\n".join(out)

    @classmethod
    def from_toml(cls, text: str, source: str = PROFILE_FILE) -> CaProfile:
        try:
            data = tomllib.loads(text)
            ca, officer, crl = data["ca"], data.get("officer", {}), data.get("crl", {})
            profile = cls(
                name_th=str(ca["name_th"]),
                name_en=ca.get("name_en"),
                org_id=ca.get("org_id"),
                key=str(ca.get("key", "ec-p384")),
                key_uri=ca.get("key_uri"),
                pkcs11_module=ca.get("pkcs11_module"),
                valid_years=int(ca.get("valid_years", 10)),
                base_url=str(ca.get("base_url", DEFAULT_BASE_URL)),
                policy_oid=str(ca["policy_oid"]),
                db=ca.get("db"),
                officer_default_days=int(officer.get("default_days", 730)),
                officer_max_days=int(officer.get("max_days", MAX_OFFICER_DAYS)),
                allowed_keys=tuple(officer.get("allowed_keys", ALL_KEY_TYPES)),
                required_fields=tuple(officer.get("required_fields", ("name_th", "position"))),
                crl_next_update_hours=int(crl.get("next_update_hours", 72)),
                officer_extra_ekus=tuple(str(e) for e in officer.get("extra_ekus", ())),
            )
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(f"corrupt {source}: {exc}", hint="restore it from your backup") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(
                f"corrupt {source}: missing or invalid setting {exc}", hint="restore it from your backup"
            ) from None
        return profile.validated()

    @classmethod
    def load(cls, path: str | Path) -> CaProfile:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ProfileError(f"no {p.name} in {p.parent}", hint="is this a thaisign CA folder?") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(f"cannot read {p}: {exc}") from None
        return cls.from_toml(text, str(p))


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'
