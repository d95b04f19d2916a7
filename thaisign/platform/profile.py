"""What each agency keeps of its own: names, certificate policy, validity, key types, required fields.

>>> profile = AgencyProfile(policy_oid="2.16.764.1.4.100.1", officer_default_days=365,
...                         allowed_keys=("ec-p256", "rsa-3072"),
...                         required_fields=("name_th", "position", "email"))
>>> profile = AgencyProfile.from_toml(open("dla-profile.toml").read())   # [officer] and [crl] of profile.toml
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import tomllib
import uuid
from dataclasses import dataclass, field
from typing import Any

from thaisign.ca.profiles import ALL_KEY_TYPES, EXTRA_EKUS, MAX_OFFICER_DAYS, CaProfile, OfficerProfile
from thaisign.errors import ProfileError
from thaisign.keys import KeySpec

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
#: names the status service uses for itself
RESERVED_SLUGS = frozenset({"issuing", "ocsp", "tsa", "health", "api", "static", "platform"})
_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_OFFICER_FIELDS = {f.name for f in dataclasses.fields(OfficerProfile)} - {"days"}
CA_KEY_TYPES = ("ec-p256", "ec-p384", "rsa-3072", "rsa-4096")


def check_slug(slug: str) -> str:
    """An agency's short name as used in URLs (``dla``, ``korat-pao``), or :class:`ProfileError`."""
    if not SLUG.match(slug or ""):
        raise ProfileError(
            f"agency short name {slug!r} must be 1-40 lower-case letters a-z, digits or '-'",
            hint="e.g. dla or korat-pao: it becomes part of the agency's CRL URL",
        )
    if slug in RESERVED_SLUGS:
        raise ProfileError(f"agency short name {slug!r} is reserved", hint="choose another")
    return slug


@dataclass(frozen=True)
class AgencyProfile:
    """How an agency's CA issues: its policy, validity periods, key types and required fields."""

    policy_oid: str = field(default_factory=lambda: f"2.25.{uuid.uuid4().int}")
    ca_key: str = "ec-p384"
    ca_valid_years: int = 10
    officer_default_days: int = 730
    officer_max_days: int = MAX_OFFICER_DAYS
    allowed_keys: tuple[str, ...] = ALL_KEY_TYPES
    required_fields: tuple[str, ...] = ("name_th", "position")
    crl_next_update_hours: int = 72
    extra_ekus: tuple[str, ...] = ()

    def validated(self) -> AgencyProfile:
        if not _OID.match(self.policy_oid):
            raise ProfileError(f"policy OID {self.policy_oid!r} is not a dotted OID like 2.16.764.1.2.3")
        if self.ca_key not in CA_KEY_TYPES:
            raise ProfileError(f"CA key type {self.ca_key!r}: use {', '.join(CA_KEY_TYPES)}")
        if not 1 <= self.ca_valid_years <= 30:
            raise ProfileError(f"CA validity of {self.ca_valid_years} years is outside 1..30")
        if not 1 <= self.officer_max_days <= MAX_OFFICER_DAYS:
            raise ProfileError(f"officer max_days must be within 1..{MAX_OFFICER_DAYS} (3 years)")
        if not 1 <= self.officer_default_days <= self.officer_max_days:
            raise ProfileError("officer default_days must be within 1..max_days")
        bad = [k for k in self.allowed_keys if k not in ALL_KEY_TYPES]
        if bad or not self.allowed_keys:
            raise ProfileError(f"allowed key types {bad or '[]'}: use {', '.join(ALL_KEY_TYPES)}")
        unknown = [f for f in self.required_fields if f not in _OFFICER_FIELDS]
        if unknown:
            raise ProfileError(
                f"required field(s) {', '.join(unknown)} unknown",
                hint=f"use {', '.join(sorted(_OFFICER_FIELDS))}",
            )
        if not 1 <= self.crl_next_update_hours <= 24 * 365:
            raise ProfileError("crl next_update_hours must be within 1..8760")
        for eku in self.extra_ekus:
            if eku not in EXTRA_EKUS and not _OID.match(eku):
                raise ProfileError(
                    f"unknown extra EKU {eku!r}", hint=f"use a dotted OID or one of {', '.join(EXTRA_EKUS)}"
                )
        KeySpec.parse(self.ca_key)
        return dataclasses.replace(
            self,
            allowed_keys=tuple(self.allowed_keys),
            required_fields=tuple(dict.fromkeys(("name_th", "position", *self.required_fields))),
            extra_ekus=tuple(self.extra_ekus),
        )

    # --- stored as JSON in the platform database --------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
            for f in dataclasses.fields(self)
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgencyProfile:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known}
        return cls(**values).validated()  # type: ignore[arg-type]

    @classmethod
    def loads(cls, text: str) -> AgencyProfile:
        try:
            data = json.loads(text)
        except ValueError:
            raise ProfileError("an agency profile in the platform database is not JSON") from None
        return cls.from_json(data)

    @classmethod
    def from_toml(cls, text: str, source: str = "profile") -> AgencyProfile:
        """A profile file with the ``[ca]``, ``[officer]`` and ``[crl]`` tables of a CA folder's
        ``profile.toml`` (names and URLs in it are ignored: the platform sets them)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(f"{source}: {exc}") from None
        ca, officer, crl = data.get("ca", {}), data.get("officer", {}), data.get("crl", {})
        base = cls()
        try:
            return cls(
                policy_oid=str(ca.get("policy_oid", base.policy_oid)),
                ca_key=str(ca.get("key", base.ca_key)),
                ca_valid_years=int(ca.get("valid_years", base.ca_valid_years)),
                officer_default_days=int(officer.get("default_days", base.officer_default_days)),
                officer_max_days=int(officer.get("max_days", base.officer_max_days)),
                allowed_keys=tuple(officer.get("allowed_keys", base.allowed_keys)),
                required_fields=tuple(officer.get("required_fields", base.required_fields)),
                crl_next_update_hours=int(crl.get("next_update_hours", base.crl_next_update_hours)),
                extra_ekus=tuple(str(e) for e in officer.get("extra_ekus", ())),
            ).validated()
        except (TypeError, ValueError) as exc:
            raise ProfileError(f"{source}: invalid setting: {exc}") from None

    @classmethod
    def of_folder(cls, profile: CaProfile) -> AgencyProfile:
        """The profile of an existing CA folder (``thaisign ca init``), for an import."""
        return cls(
            policy_oid=profile.policy_oid,
            ca_key=profile.key if profile.key in CA_KEY_TYPES else "ec-p384",
            ca_valid_years=profile.valid_years,
            officer_default_days=profile.officer_default_days,
            officer_max_days=profile.officer_max_days,
            allowed_keys=profile.allowed_keys,
            required_fields=profile.required_fields,
            crl_next_update_hours=profile.crl_next_update_hours,
            extra_ekus=profile.officer_extra_ekus,
        ).validated()


@dataclass(frozen=True)
class PlatformCaProfile(CaProfile):
    """A :class:`CaProfile` whose URLs the platform sets: one OCSP URL for every CA, and the CRL
    and certificate of each CA key generation under its agency's base URL."""

    crl_location: str = ""
    ocsp_location: str = ""
    issuer_location: str = ""

    @property
    def crl_url(self) -> str:
        return self.crl_location

    @property
    def ocsp_url(self) -> str:
        return self.ocsp_location

    @property
    def ca_issuers_url(self) -> str:
        return self.issuer_location


@dataclass(frozen=True)
class Agency:
    """An agency of the platform."""

    id: int
    slug: str
    name_th: str
    name_en: str | None
    org_id: str | None
    profile: AgencyProfile
    status: str
    origin: str
    legacy_base_url: str | None
    created_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "name_th": self.name_th,
            "name_en": self.name_en,
            "org_id": self.org_id,
            "status": self.status,
            "origin": self.origin,
            "legacy_base_url": self.legacy_base_url,
            "created_at": self.created_at.isoformat(),
            "profile": self.profile.to_json(),
        }


@dataclass(frozen=True)
class CaKey:
    """One CA key of the platform (the issuing CA, or one generation of an agency's CA)."""

    ca_id: int
    agency_id: int | None
    generation: int
    state: str  # active | retired
    key_ref: str
    pkcs11_module: str | None
    base_url: str
    crl_path: str
    cert_path: str
    chain: str
    created_at: dt.datetime
    retired_at: dt.datetime | None

    @property
    def crl_url(self) -> str:
        return self.base_url + self.crl_path

    @property
    def cert_url(self) -> str:
        return self.base_url + self.cert_path
