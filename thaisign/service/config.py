"""The remote signing service's settings: ``service.toml`` in the service folder.

>>> config = ServiceConfig.load("/srv/sign")
>>> config.oidc.issuer, config.auth.factor
('https://imauth.bora.dopa.go.th', 'totp')

Secrets are never in this file: the token PIN comes from ``THAISIGN_PIN`` or ``--pin-file``, the
CA passphrase from ``THAISIGN_CA_PASSPHRASE``, a PostgreSQL password from the URL in
``THAISIGN_SERVICE_DB`` (or a ``.pgpass`` file), and the key that seals TOTP seeds lives in
``DIR/secret.key`` (mode 0600).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from thaisign.ca.profiles import _toml_value
from thaisign.errors import ServiceConfigError
from thaisign.keys import KeySpec
from thaisign.levels import LEVELS

CONFIG_FILE = "service.toml"
DB_FILE = "service.db"
SECRET_FILE = "secret.key"
DB_ENV = "THAISIGN_SERVICE_DB"

Factor = Literal["pin", "totp"]

#: JWS algorithms a token may be signed with; symmetric (HS*) and "none" are never accepted
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


def _is_loopback(url: str) -> bool:
    host = re.sub(r"^https?://", "", url).split("/")[0].rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class OidcSettings:
    """The OpenID Connect provider whose access tokens the service accepts (ThaiD, or the agency's)."""

    issuer: str
    audience: str  # the resource indicator tokens must be issued for (``aud``)
    algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256", "ES384", "EdDSA")
    jwks_uri: str | None = None  # None: from discovery; it must then share the issuer's origin
    leeway_seconds: int = 30
    jwks_cache_seconds: int = 3600
    required_scope: str | None = None  # e.g. "csc": tokens without it are refused
    roles_claim: str = "roles"
    operator_role: str = "thaisign-operator"
    operators: tuple[str, ...] = ()  # subjects that are agency operators whatever their roles
    backend_clients: tuple[str, ...] = ()  # client IDs that may act for officers (client credentials)

    def validated(self) -> OidcSettings:
        for name, url in (("issuer", self.issuer), ("jwks_uri", self.jwks_uri)):
            if url is None:
                continue
            if not _URL.match(url):
                raise ServiceConfigError(f"oidc {name} {url!r} is not an http(s) URL")
            if url.startswith("http://") and not _is_loopback(url):
                raise ServiceConfigError(
                    f"oidc {name} must use https:// (plain http only on 127.0.0.1)", hint="fix service.toml"
                )
        if not self.audience.strip():
            raise ServiceConfigError(
                "oidc audience is empty", hint="set the resource indicator of this service"
            )
        bad = [a for a in self.algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if bad or not self.algorithms:
            raise ServiceConfigError(
                f"oidc algorithms {bad or '[]'} not allowed",
                hint="use asymmetric JWS algorithms: " + ", ".join(ASYMMETRIC_ALGORITHMS),
            )
        if not 0 <= self.leeway_seconds <= 300:
            raise ServiceConfigError("oidc leeway_seconds must be within 0..300")
        if not 60 <= self.jwks_cache_seconds <= 7 * 86400:
            raise ServiceConfigError("oidc jwks_cache_seconds must be within 60..604800")
        return self


@dataclass(frozen=True)
class AuthSettings:
    """The second factor that releases a SAD, and how many wrong tries lock a credential."""

    factor: Factor = "totp"
    max_failures: int = 5
    sad_seconds: int = 300
    pin_min_length: int = 6
    totp_period: int = 30
    totp_digits: int = 6

    def validated(self) -> AuthSettings:
        if self.factor not in ("pin", "totp"):
            raise ServiceConfigError(f"auth factor {self.factor!r} is neither 'pin' nor 'totp'")
        if not 1 <= self.max_failures <= 20:
            raise ServiceConfigError("auth max_failures must be within 1..20")
        if not 10 <= self.sad_seconds <= 3600:
            raise ServiceConfigError("auth sad_seconds must be within 10..3600")
        if not 4 <= self.pin_min_length <= 32:
            raise ServiceConfigError("auth pin_min_length must be within 4..32")
        if self.totp_digits not in (6, 8) or self.totp_period not in (30, 60):
            raise ServiceConfigError("auth totp_digits must be 6 or 8 and totp_period 30 or 60")
        return self


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the service needs except secrets. ``directory`` is the service folder."""

    directory: Path
    name: str  # shown in ``info`` and in authenticator apps, e.g. the agency's Thai name
    token_uri: str  # PKCS#11 token that holds the officers' keys, e.g. pkcs11:token=Agency
    ca_dir: str  # the agency CA folder (thaisign ca init) that issues officer certificates
    oidc: OidcSettings
    auth: AuthSettings = field(default_factory=AuthSettings)
    pkcs11_module: str | None = None
    key: str = "ec-p256"
    db: str | None = field(default=None, repr=False)  # None: DIR/service.db (SQLite)
    public_url: str | None = None
    max_batch: int = 100
    max_document_bytes: int = 20 * 1024 * 1024
    tsa: str | None = None
    default_level: str = "B-B"
    lang: str = "th-TH"

    def validated(self) -> ServiceConfig:
        if not self.name.strip():
            raise ServiceConfigError("the service needs a name", hint="pass --name")
        if not self.token_uri.startswith("pkcs11:"):
            raise ServiceConfigError(f"token URI {self.token_uri!r} is not a pkcs11: URI")
        try:
            KeySpec.parse(self.key)
        except ValueError as exc:
            raise ServiceConfigError(str(exc)) from None
        if not 1 <= self.max_batch <= 1000:
            raise ServiceConfigError("max_batch must be within 1..1000")
        if not 1024 <= self.max_document_bytes <= 512 * 1024 * 1024:
            raise ServiceConfigError("max_document_bytes must be within 1 KiB..512 MiB")
        if self.default_level not in LEVELS:
            raise ServiceConfigError(f"default_level must be one of {', '.join(LEVELS)}")
        if self.default_level != "B-B" and not self.tsa:
            raise ServiceConfigError(f"default_level {self.default_level} needs a tsa URL")
        if self.tsa is not None and not _URL.match(self.tsa):
            raise ServiceConfigError(f"tsa {self.tsa!r} is not an http(s) URL")
        return dataclasses.replace(self, oidc=self.oidc.validated(), auth=self.auth.validated())

    # --- paths and URLs -------------------------------------------------------------------

    @property
    def ca_path(self) -> Path:
        p = Path(self.ca_dir)
        return p if p.is_absolute() else (self.directory / p)

    @property
    def secret_path(self) -> Path:
        return self.directory / SECRET_FILE

    def database_url(self) -> str:
        """``THAISIGN_SERVICE_DB``, else ``db`` from the file, else the SQLite file in the folder."""
        return os.environ.get(DB_ENV) or self.db or f"sqlite:///{self.directory.resolve() / DB_FILE}"

    # --- service.toml ---------------------------------------------------------------------

    def to_toml(self) -> str:
        tables: dict[str, dict[str, Any]] = {
            "service": {
                "name": self.name,
                "public_url": self.public_url,
                "db": self.db,
                "max_batch": self.max_batch,
                "max_document_bytes": self.max_document_bytes,
                "lang": self.lang,
            },
            "oidc": {
                "issuer": self.oidc.issuer,
                "audience": self.oidc.audience,
                "algorithms": list(self.oidc.algorithms),
                "jwks_uri": self.oidc.jwks_uri,
                "leeway_seconds": self.oidc.leeway_seconds,
                "jwks_cache_seconds": self.oidc.jwks_cache_seconds,
                "required_scope": self.oidc.required_scope,
                "roles_claim": self.oidc.roles_claim,
                "operator_role": self.oidc.operator_role,
                "operators": list(self.oidc.operators),
                "backend_clients": list(self.oidc.backend_clients),
            },
            "auth": {
                "factor": self.auth.factor,
                "max_failures": self.auth.max_failures,
                "sad_seconds": self.auth.sad_seconds,
                "pin_min_length": self.auth.pin_min_length,
                "totp_period": self.auth.totp_period,
                "totp_digits": self.auth.totp_digits,
            },
            "hsm": {"token_uri": self.token_uri, "pkcs11_module": self.pkcs11_module, "key": self.key},
            "ca": {"directory": self.ca_dir},
            "signing": {"tsa": self.tsa, "default_level": self.default_level},
        }
        out = ["# thaisign remote signing service (CSC API); secrets never go in this file", ""]
        for title, table in tables.items():
            out.append(f"[{title}]")
            out.extend(f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None)
            out.append("")
        return "\n".join(out)

    @classmethod
    def from_toml(cls, text: str, directory: Path, source: str = CONFIG_FILE) -> ServiceConfig:
        try:
            data = tomllib.loads(text)
            svc, oidc, auth = data["service"], data["oidc"], data.get("auth", {})
            hsm, ca, signing = data["hsm"], data["ca"], data.get("signing", {})
            config = cls(
                directory=directory,
                name=str(svc["name"]),
                public_url=svc.get("public_url"),
                db=svc.get("db"),
                max_batch=int(svc.get("max_batch", 100)),
                max_document_bytes=int(svc.get("max_document_bytes", 20 * 1024 * 1024)),
                lang=str(svc.get("lang", "th-TH")),
                oidc=OidcSettings(
                    issuer=str(oidc["issuer"]),
                    audience=str(oidc["audience"]),
                    algorithms=tuple(str(a) for a in oidc.get("algorithms", OidcSettings.algorithms)),
                    jwks_uri=oidc.get("jwks_uri"),
                    leeway_seconds=int(oidc.get("leeway_seconds", 30)),
                    jwks_cache_seconds=int(oidc.get("jwks_cache_seconds", 3600)),
                    required_scope=oidc.get("required_scope"),
                    roles_claim=str(oidc.get("roles_claim", "roles")),
                    operator_role=str(oidc.get("operator_role", "thaisign-operator")),
                    operators=tuple(str(s) for s in oidc.get("operators", ())),
                    backend_clients=tuple(str(s) for s in oidc.get("backend_clients", ())),
                ),
                auth=AuthSettings(
                    factor=str(auth.get("factor", "totp")),  # type: ignore[arg-type]
                    max_failures=int(auth.get("max_failures", 5)),
                    sad_seconds=int(auth.get("sad_seconds", 300)),
                    pin_min_length=int(auth.get("pin_min_length", 6)),
                    totp_period=int(auth.get("totp_period", 30)),
                    totp_digits=int(auth.get("totp_digits", 6)),
                ),
                token_uri=str(hsm["token_uri"]),
                pkcs11_module=hsm.get("pkcs11_module"),
                key=str(hsm.get("key", "ec-p256")),
                ca_dir=str(ca["directory"]),
                tsa=signing.get("tsa"),
                default_level=str(signing.get("default_level", "B-B")),
            )
        except tomllib.TOMLDecodeError as exc:
            raise ServiceConfigError(f"corrupt {source}: {exc}", hint="fix or restore the file") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ServiceConfigError(
                f"{source}: missing or invalid setting {exc}", hint="fix the file"
            ) from None
        return config.validated()

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> ServiceConfig:
        d = Path(directory)
        path = d / CONFIG_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ServiceConfigError(
                f"{d} is not a thaisign service folder (no {CONFIG_FILE})",
                hint="create one with 'thaisign service init'",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ServiceConfigError(f"cannot read {path}: {exc}") from None
        return cls.from_toml(text, d, str(path))
