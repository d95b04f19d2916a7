"""The platform's settings: ``platform.toml`` in the platform folder (no secrets in it).

>>> config = PlatformConfig.load("/srv/korat-pki")
>>> config.base_url, config.database_url()
('http://pki.korat.go.th', 'postgresql+psycopg://pki@db.korat.go.th/pki')

The folder also holds the CA keys kept in files (``keys/``, encrypted with the platform's CA
passphrase) and the issuing CA's certificate and chain. Status replicas need none of it: the
database URL and the service passphrase are enough (:mod:`thaisign.platform.status`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from thaisign.ca.profiles import _toml_value, check_text
from thaisign.errors import ProfileError
from thaisign.service.config import OidcSettings

CONFIG_FILE = "platform.toml"
DB_FILE = "platform.db"
KEYS_DIR = "keys"
DB_ENV = "THAISIGN_PLATFORM_DB"
ISSUING_CERT_FILE = "issuing-ca.pem"
ISSUING_CHAIN_FILE = "chain.pem"
ISSUING_CSR_FILE = "issuing-ca.csr"
RESPONDER_FILE = "ocsp-responder.pem"

Level = Literal["provincial", "national"]
_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


@dataclass(frozen=True)
class SigningServiceSource:
    """A signing service (``thaisign service``) whose signatures the figures count."""

    name: str
    db: str = field(repr=False)  # its database URL (may carry a password: kept out of repr)


@dataclass(frozen=True)
class PlatformConfig:
    """Everything the platform needs except secrets. ``directory`` is the platform folder."""

    directory: Path
    name_th: str
    base_url: str  # the status service: {base}/ocsp, {base}/a/<agency>/crl/ca.crl, {base}/tsa
    name_en: str | None = None
    level: Level = "provincial"
    db: str | None = field(default=None, repr=False)  # None: DIR/platform.db (SQLite, for a trial)
    agency_key: str = "ec-p384"  # default key type of new agency CAs
    oidc: OidcSettings | None = None  # operators' logins (the provider the signing service uses)
    public_url: str | None = None  # where 'thaisign platform serve' is reached (OIDC redirects)
    oidc_client_id: str | None = None  # the page's OIDC client (its secret: THAISIGN_OIDC_CLIENT_SECRET)
    signing_services: tuple[SigningServiceSource, ...] = ()
    responder_days: int = 365
    tsa_policy_oid: str | None = None

    def validated(self) -> PlatformConfig:
        name_th = check_text(self.name_th, "the platform's Thai name (--name-th)", required=True, limit=64)
        name_en = check_text(self.name_en, "the platform's English name (--name-en)", limit=64)
        base = self.base_url.rstrip("/")
        if not _URL.match(base):
            raise ProfileError(
                f"base URL {self.base_url!r} must be an http(s) URL", hint="e.g. http://pki.korat.go.th"
            )
        if self.level not in ("provincial", "national"):
            raise ProfileError(f"level {self.level!r} is neither provincial nor national")
        if self.public_url is not None and not _URL.match(self.public_url):
            raise ProfileError(f"public URL {self.public_url!r} is not an http(s) URL")
        if not 7 <= self.responder_days <= 3 * 365:
            raise ProfileError("responder_days must be within 7..1095")
        return dataclasses.replace(
            self,
            name_th=name_th or "",
            name_en=name_en,
            base_url=base,
            oidc=self.oidc.validated() if self.oidc else None,
        )

    # --- paths -----------------------------------------------------------------------------

    @property
    def keys_dir(self) -> Path:
        return self.directory / KEYS_DIR

    def database_url(self) -> str:
        """``THAISIGN_PLATFORM_DB``, else ``db`` from the file, else the SQLite file in the folder."""
        return os.environ.get(DB_ENV) or self.db or f"sqlite:///{self.directory.resolve() / DB_FILE}"

    # --- platform.toml -----------------------------------------------------------------------

    def to_toml(self) -> str:
        platform: dict[str, Any] = {
            "name_th": self.name_th,
            "name_en": self.name_en,
            "level": self.level,
            "base_url": self.base_url,
            "db": self.db,
            "agency_key": self.agency_key,
            "public_url": self.public_url,
            "responder_days": self.responder_days,
            "tsa_policy_oid": self.tsa_policy_oid,
        }
        out = ["# thaisign platform: many agency CAs in one deployment; secrets never go in this file", ""]
        out.append("[platform]")
        out.extend(f"{k} = {_toml_value(v)}" for k, v in platform.items() if v is not None)
        out.append("")
        if self.oidc is not None:
            o = self.oidc
            oidc = {
                "issuer": o.issuer,
                "audience": o.audience,
                "algorithms": list(o.algorithms),
                "jwks_uri": o.jwks_uri,
                "leeway_seconds": o.leeway_seconds,
                "required_scope": o.required_scope,
                "client_id": self.oidc_client_id,
            }
            out.append("[oidc]")
            out.extend(f"{k} = {_toml_value(v)}" for k, v in oidc.items() if v is not None)
            out.append("")
        for source in self.signing_services:
            out += [
                "[[signing_services]]",
                f"name = {_toml_value(source.name)}",
                f"db = {_toml_value(source.db)}",
                "",
            ]
        return "\n".join(out)

    @classmethod
    def from_toml(cls, text: str, directory: Path, source: str = CONFIG_FILE) -> PlatformConfig:
        try:
            data = tomllib.loads(text)
            p = data["platform"]
            oidc = None
            client_id = None
            if "oidc" in data:
                o = data["oidc"]
                oidc = OidcSettings(
                    issuer=str(o["issuer"]),
                    audience=str(o["audience"]),
                    algorithms=tuple(str(a) for a in o.get("algorithms", OidcSettings.algorithms)),
                    jwks_uri=o.get("jwks_uri"),
                    leeway_seconds=int(o.get("leeway_seconds", 30)),
                    required_scope=o.get("required_scope"),
                )
                client_id = o.get("client_id")
            config = cls(
                directory=directory,
                name_th=str(p["name_th"]),
                name_en=p.get("name_en"),
                level=str(p.get("level", "provincial")),  # type: ignore[arg-type]
                base_url=str(p["base_url"]),
                db=p.get("db"),
                agency_key=str(p.get("agency_key", "ec-p384")),
                public_url=p.get("public_url"),
                responder_days=int(p.get("responder_days", 365)),
                tsa_policy_oid=p.get("tsa_policy_oid"),
                oidc=oidc,
                oidc_client_id=client_id,
                signing_services=tuple(
                    SigningServiceSource(str(s["name"]), str(s["db"]))
                    for s in data.get("signing_services", [])
                ),
            )
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(f"corrupt {source}: {exc}", hint="fix or restore the file") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(f"{source}: missing or invalid setting {exc}", hint="fix the file") from None
        return config.validated()

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> PlatformConfig:
        d = Path(directory)
        path = d / CONFIG_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ProfileError(
                f"{d} is not a thaisign platform folder (no {CONFIG_FILE})",
                hint="create one with 'thaisign platform init'",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(f"cannot read {path}: {exc}") from None
        return cls.from_toml(text, d, str(path))
