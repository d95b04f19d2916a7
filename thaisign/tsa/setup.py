"""Creating and opening a TSA folder (``thaisign tsa init`` / ``thaisign tsa serve``).

A TSA folder holds ``tsa.pem`` (the TSA certificate: critical EKU id-kp-timeStamping),
``chain.pem`` (its issuers, nearest first, up to the root), ``tsa.key`` (encrypted, 0600;
absent when the key lives in a PKCS#11 token), ``tsa.toml`` (policy OID, accuracy, database,
key URI) and, with the default store, ``tsa.db``.

>>> init_tsa("/srv/tsa", ca_dir="/srv/ca", ca_passphrase=..., passphrase=...)
>>> tsa, store = open_tsa("/srv/tsa", passphrase=...)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from thaisign._fs import atomic_write, read_input
from thaisign._secrets import check_new_passphrase
from thaisign.ca.service_certs import (
    ServiceCertificate,
    build_certificate,
    save_service_key,
    service_extensions,
    service_subject,
)
from thaisign.errors import CAExistsError, CANotFoundError, ProfileError
from thaisign.keys import KeySpec, Signer, SoftwareSigner, load_certificates, load_private_key
from thaisign.tsa.authority import DEFAULT_POLICY_OID, TimeStampAuthority, check_tsa_certificate
from thaisign.tsa.store import TsaStore

__all__ = ["CONFIG_FILE", "TsaConfig", "init_tsa", "open_tsa"]

CONFIG_FILE = "tsa.toml"
CERT_FILE = "tsa.pem"
CHAIN_FILE = "chain.pem"
KEY_FILE = "tsa.key"
DB_FILE = "tsa.db"


@dataclass(frozen=True)
class TsaConfig:
    """A TSA folder's ``tsa.toml``."""

    policy_oid: str = DEFAULT_POLICY_OID
    accuracy_ms: int = 1000
    db: str | None = None  # SQLAlchemy URL; None: DIR/tsa.db
    key_uri: str | None = None
    pkcs11_module: str | None = None

    def to_toml(self) -> str:
        lines = ["[tsa]"]
        for name in ("policy_oid", "accuracy_ms", "db", "key_uri", "pkcs11_module"):
            value = getattr(self, name)
            if value is not None:
                lines.append(f"{name} = {json.dumps(value, ensure_ascii=False)}")
        return "\n".join(lines) + "\n"

    @classmethod
    def load(cls, path: Path) -> TsaConfig:
        try:
            data = tomllib.loads(read_input(path, "TSA configuration").decode("utf-8")).get("tsa", {})
            return cls(
                policy_oid=str(data.get("policy_oid", DEFAULT_POLICY_OID)),
                accuracy_ms=int(data.get("accuracy_ms", 1000)),
                db=data.get("db"),
                key_uri=data.get("key_uri"),
                pkcs11_module=data.get("pkcs11_module"),
            )
        except (tomllib.TOMLDecodeError, ValueError, TypeError) as exc:
            raise ProfileError(f"{path} is not a valid TSA configuration: {exc}") from None

    def db_url(self, directory: Path) -> str:
        return self.db or f"sqlite:///{directory.resolve() / DB_FILE}"


def _self_contained(public_key: object, name: str | None, days: int, now: dt.datetime) -> ServiceCertificate:
    """A local root made for this TSA alone (tests, demos): root key discarded after signing."""
    root_key = KeySpec.parse("ec-p256").generate()
    root_signer = SoftwareSigner(root_key)
    root_subject = service_subject("thaisign", "tsa", "thaisign local TSA root")
    root = build_certificate(
        subject=root_subject,
        public_key=root_key.public_key(),
        issuer_signer=root_signer,
        issuer_cert=None,
        not_before=now,
        not_after=now + dt.timedelta(days=days + 1),
        extensions=[
            {
                "extn_id": "basic_constraints",
                "critical": True,
                "extn_value": {"ca": True, "path_len_constraint": 0},
            },
            {"extn_id": "key_usage", "critical": True, "extn_value": {"key_cert_sign", "crl_sign"}},
        ],
    )
    cert = build_certificate(
        subject=service_subject("thaisign", "tsa", name),
        public_key=public_key,  # type: ignore[arg-type]
        issuer_signer=root_signer,
        issuer_cert=root,
        not_before=now,
        not_after=now + dt.timedelta(days=days),
        extensions=service_extensions("tsa"),
    )
    return ServiceCertificate(cert, None, (root,))


def init_tsa(
    directory: str | os.PathLike[str],
    *,
    passphrase: str | None = None,
    ca_dir: str | os.PathLike[str] | None = None,
    ca_passphrase: str | None = None,
    ca_pin: str | None = None,
    name: str | None = None,
    key: str = "ec-p256",
    key_uri: str | None = None,
    pin: str | None = None,
    pkcs11_module: str | None = None,
    days: int = 3 * 365,
    policy_oid: str | None = None,
    db: str | None = None,
    now: dt.datetime | None = None,
) -> TsaConfig:
    """Create a TSA folder: a key (file or token), a TSA certificate, the config and the store.

    With ``ca_dir`` the agency CA issues the certificate (recorded in its store and audit
    log); without it a throw-away local root signs it (self-contained, for tests and demos).
    """
    d = Path(directory)
    if d.exists() and (not d.is_dir() or any(d.iterdir())):
        raise CAExistsError(
            f"{d} exists and is not empty: thaisign never overwrites a TSA", hint="choose a new folder"
        )
    if key_uri is None:
        if not passphrase:
            raise ProfileError(
                "the TSA key needs a passphrase", hint="set THAISIGN_PASSPHRASE or pass --passphrase-file"
            )
        check_new_passphrase(passphrase, "the new TSA key passphrase")
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    token_signer: Signer | None = None
    private_key = None
    if key_uri is not None:
        token_signer = Signer.from_pkcs11(key_uri, pin=pin, module=pkcs11_module)
        public_key = token_signer.public_key
    else:
        private_key = KeySpec.parse(key).generate()
        public_key = private_key.public_key()
    created = not d.exists()
    try:
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o700)
        if ca_dir is not None:
            from thaisign.ca.authority import Authority
            from thaisign.ca.service_certs import issue_service_certificate

            if not (Path(ca_dir) / "profile.toml").exists():
                raise CANotFoundError(
                    f"{ca_dir} is not a thaisign CA folder", hint="give --ca the CA's folder"
                )
            with Authority.open(ca_dir, passphrase=ca_passphrase, pin=ca_pin) as ca:
                service = issue_service_certificate(
                    ca, "tsa", public_key=public_key, days=days, name=name, now=when
                )
                default_policy = f"{ca.profile.policy_oid}.3161"
        else:
            service = _self_contained(public_key, name, days, when)
            default_policy = DEFAULT_POLICY_OID
        service = ServiceCertificate(service.certificate, private_key, service.chain)
        config = TsaConfig(
            policy_oid=policy_oid or default_policy, db=db, key_uri=key_uri, pkcs11_module=pkcs11_module
        )
        if private_key is not None:
            save_service_key(service, d, "tsa", passphrase=passphrase or "")
            (d / "tsa-chain.pem").unlink()
        else:
            atomic_write(d / CERT_FILE, service.certificate.public_bytes(serialization.Encoding.PEM))
        atomic_write(
            d / CHAIN_FILE, b"".join(c.public_bytes(serialization.Encoding.PEM) for c in service.chain)
        )
        atomic_write(d / CONFIG_FILE, config.to_toml().encode("utf-8"), mode=0o600)
        store = TsaStore.connect(config.db_url(d))
        try:
            store.create_schema()
        finally:
            store.close()
    except BaseException:
        if created:
            shutil.rmtree(d, ignore_errors=True)
        raise
    finally:
        if token_signer is not None:
            token_signer.close()
    return config


def open_tsa(
    directory: str | os.PathLike[str],
    *,
    passphrase: str | None = None,
    pin: str | None = None,
    clock: object = None,
) -> tuple[TimeStampAuthority, TsaStore]:
    """The :class:`TimeStampAuthority` of a TSA folder wired to its store."""
    d = Path(directory)
    if not (d / CONFIG_FILE).exists():
        raise CANotFoundError(
            f"{d} is not a thaisign TSA folder (no {CONFIG_FILE})", hint="create one with 'thaisign tsa init'"
        )
    config = TsaConfig.load(d / CONFIG_FILE)
    cert = load_certificates(read_input(d / CERT_FILE, "TSA certificate"))[0]
    chain = load_certificates(read_input(d / CHAIN_FILE, "TSA chain")) if (d / CHAIN_FILE).exists() else []
    check_tsa_certificate(cert)
    signer: Signer
    if config.key_uri is not None:
        signer = _token_signer(config, pin, cert, chain)
    else:
        signer = SoftwareSigner(
            load_private_key(read_input(d / KEY_FILE, "TSA key"), passphrase), cert, chain
        )
    store = TsaStore.connect(config.db_url(d))
    kwargs: dict[str, object] = {}
    if clock is not None:
        kwargs["clock"] = clock
    tsa = TimeStampAuthority(
        signer,
        policy_oid=config.policy_oid,
        serials=store.next_serial,
        log=store.log_token,
        accuracy=dt.timedelta(milliseconds=config.accuracy_ms),
        **kwargs,  # type: ignore[arg-type]
    )
    return tsa, store


def _token_signer(
    config: TsaConfig, pin: str | None, cert: x509.Certificate, chain: list[x509.Certificate]
) -> Signer:
    """A PKCS#11 signer presenting the TSA certificate from the folder."""
    inner = Signer.from_pkcs11(config.key_uri or "", pin=pin, module=config.pkcs11_module)
    if inner.public_key != cert.public_key():
        raise ProfileError("the token key does not match tsa.pem", hint="check key_uri in tsa.toml")
    return _WithCertificate(inner, cert, tuple(chain))


class _WithCertificate(Signer):
    """A signer whose certificate comes from a file rather than the token."""

    def __init__(self, inner: Signer, cert: x509.Certificate, chain: tuple[x509.Certificate, ...]) -> None:
        self._inner, self._cert, self._chain = inner, cert, chain
        self.pss = inner.pss

    @property
    def public_key(self) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
        return self._inner.public_key

    @property
    def certificate(self) -> x509.Certificate:
        return self._cert

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        return self._chain

    def sign(self, data: bytes, *, hash_algorithm: str = "sha256") -> bytes:
        return self._inner.sign(data, hash_algorithm=hash_algorithm)

    def close(self) -> None:
        self._inner.close()
