"""The platform: its folder (settings, CA key files), its database, and the CAs in it.

>>> platform, admin_token = Platform.init("/srv/korat-pki", name_th="จังหวัดนครราชสีมา",
...     base_url="http://pki.korat.go.th", db="postgresql+psycopg://pki@db/pki",
...     passphrase=ca_passphrase, service_passphrase=service_passphrase, admin_name="นางสุดา ผู้ดูแล")
>>> platform = Platform.open("/srv/korat-pki", passphrase=ca_passphrase)
>>> with platform.session(ApiToken(token)) as s:        # every action needs a credential
...     s.create_agency("dla", "กรมส่งเสริมการปกครองท้องถิ่น")

Nothing here acts for anybody: :class:`~thaisign.platform.session.Session` checks the
credential and the role, then calls in (``Platform._...`` helpers are not a public API).
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from thaisign._fs import atomic_write
from thaisign._secrets import check_new_passphrase
from thaisign.ca import _tbs
from thaisign.ca.authority import Authority, ensure_new_ca_folder, new_serial
from thaisign.ca.store import WriteGuard, operator_name, utcnow
from thaisign.errors import CAError, CAExistsError, CertificateError, SecretError, StoreError
from thaisign.keys import KeySpec, Signer, key_spec_of, load_certificates
from thaisign.platform import _tables as T
from thaisign.platform.config import (
    ISSUING_CERT_FILE,
    ISSUING_CHAIN_FILE,
    ISSUING_CSR_FILE,
    RESPONDER_FILE,
    PlatformConfig,
    SigningServiceSource,
)
from thaisign.platform.keys import KeyStore
from thaisign.platform.profile import Agency, CaKey, PlatformCaProfile
from thaisign.platform.store import PlatformActor, PlatformDb, PlatformWrite

if TYPE_CHECKING:
    from thaisign.platform.access import Credential
    from thaisign.platform.session import Session
    from thaisign.service.config import OidcSettings

#: secrets the status replicas read from the database
OCSP_KEY = "ocsp-responder-key"  # PKCS#8, encrypted with the service passphrase
OCSP_PUBLIC = "ocsp-responder-public"  # SubjectPublicKeyInfo PEM (for issuing its certificates)
TSA_KEY = "tsa-key"
TSA_PUBLIC = "tsa-public"
TSA_CERT = "tsa-certificate"  # PEM: the TSA certificate and its chain


def _pem(certs: list[x509.Certificate] | tuple[x509.Certificate, ...]) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certs)


def system_actor(what: str) -> PlatformActor:
    """The operator of the machine (at init, before any platform operator exists)."""
    return PlatformActor(operator_name(), {"via": "system", "command": what})


class PlatformCa(Authority):
    """One CA of the platform (the issuing CA, or a generation of an agency's CA): an
    :class:`~thaisign.ca.Authority` without a folder, on the platform's store."""

    def __init__(self, key: CaKey, agency: Agency | None, *args: Any) -> None:
        super().__init__(None, *args)
        self.key = key
        self.agency = agency

    def _audit_hint(self) -> str:
        where = f"--agency {self.agency.slug}" if self.agency else "--issuing"
        return f"see every problem with 'thaisign platform audit DIR {where} --verify'"

    def require_integrity(self, consequence: str) -> Any:
        """Before a CRL: what the CRL depends on (:mod:`thaisign.platform.crl_guard`), in time
        that grows with the revocations rather than with everything the CA issued."""
        from thaisign.platform.crl_guard import problems_before_crl

        problems = problems_before_crl(self.store, self.certificate)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise StoreError(
                f"the CA store was changed outside thaisign: {problems[0]}{more}; {consequence}",
                hint=self._audit_hint(),
            )
        return None

    def __repr__(self) -> str:
        who = self.agency.slug if self.agency else "issuing CA"
        return f"<PlatformCa {who} generation {self.key.generation} (CA {self.key.ca_id})>"


@dataclass(frozen=True)
class IssuingState:
    """What issuing in one agency needs, read in one go and kept while the platform chain's head
    stays ``head`` (:meth:`Platform.issuing_state`): the agency (for the access check, made anew
    on every call), its active CA with the key loaded and the certificate template built. Every
    recording transaction checks ``head`` again after the CA's lock (:meth:`PlatformDb.head_guard`):
    a rollover, renewal or profile change anywhere — in this process or another — makes it stale."""

    head: tuple[int, str] | None
    agency: Agency
    ca: PlatformCa | None  # None: the agency has no active CA key
    guard: WriteGuard  # the platform chain's head is still ``head``
    material: tuple[Any, ...]  # the rows the CA was built from (equal: what was signed still holds)
    writes: int  # PlatformDb.writes when read

    def authority(self, actor: PlatformActor, guarded: bool = True) -> PlatformCa:
        """The CA acting for ``actor`` (its own store view; template and key shared)."""
        assert self.ca is not None
        ca = copy.copy(self.ca)
        ca.store = self.ca.store.acting_as(actor.name, actor.details)
        ca.write_guard = self.guard if guarded else None
        return ca


@dataclass(frozen=True)
class _CaParts:
    """What stays the same between uses of one CA in this process."""

    cert_der: bytes
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    profile: PlatformCaProfile


class Platform:
    """A multi-agency CA platform (see the module docstring)."""

    def __init__(
        self,
        config: PlatformConfig,
        db: PlatformDb,
        keys: KeyStore,
        *,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.keys = keys
        self.clock = clock or utcnow
        self._parts: dict[int, _CaParts] = {}
        self._issuing_states: dict[str, IssuingState] = {}
        self._lock = threading.Lock()
        self._verifier: Any = None

    def __repr__(self) -> str:
        return f"<Platform {self.config.name_th!r} at {str(self.config.directory)!r}>"

    def close(self) -> None:
        self.keys.close()
        self.db.close()

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- creating and opening ----------------------------------------------------------------

    @classmethod
    def init(
        cls,
        directory: str | os.PathLike[str],
        *,
        name_th: str,
        base_url: str,
        admin_name: str,
        service_passphrase: str,
        passphrase: str | None = None,
        name_en: str | None = None,
        level: str = "provincial",
        db: str | None = None,
        key: str = "ec-p384",
        hsm: str | None = None,
        key_uri: str | None = None,
        pin: str | None = None,
        pkcs11_module: str | None = None,
        valid_years: int = 20,
        policy_oid: str | None = None,
        agency_key: str = "ec-p384",
        csr_only: bool = False,
        admin_oidc_subject: str | None = None,
        oidc: OidcSettings | None = None,
        oidc_client_id: str | None = None,
        public_url: str | None = None,
        signing_services: tuple[SigningServiceSource, ...] = (),
        now: dt.datetime | None = None,
    ) -> tuple[Platform, str | None]:
        """Create a platform folder and database with its issuing CA (self-signed, or with
        ``csr_only`` a request for the national root), the status services' keys, and the first
        platform administrator. Returns the platform and that administrator's API token (shown
        once; None when the administrator logs in with OpenID Connect)."""
        d = Path(directory)
        ensure_new_ca_folder(d)
        config = PlatformConfig(
            directory=d,
            name_th=name_th,
            name_en=name_en,
            base_url=base_url,
            level=level,  # type: ignore[arg-type]
            db=db,
            agency_key=agency_key,
            oidc=oidc,
            oidc_client_id=oidc_client_id,
            public_url=public_url,
            signing_services=signing_services,
        ).validated()
        KeySpec.parse(key)
        if hsm is None and key_uri is None:
            if not passphrase:
                raise SecretError(
                    "the platform's CA keys need a passphrase",
                    hint="set THAISIGN_CA_PASSPHRASE or pass --passphrase-file",
                )
            check_new_passphrase(passphrase, "the platform's CA key passphrase")
        check_new_passphrase(service_passphrase, "the status services' key passphrase")
        created = not d.exists()
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o700)
        store = PlatformDb.connect(config.database_url())
        try:
            if store.is_initialised():
                raise CAExistsError(
                    "that database holds a platform already", hint="give the platform its own database"
                )
            store.create_schema()
            keys = KeyStore(config.keys_dir, passphrase=passphrase, pin=pin, module=pkcs11_module)
            platform = cls(config, store, keys, clock=(lambda: now) if now else None)
            token = platform._create(
                key=key,
                hsm=hsm,
                key_uri=key_uri,
                pkcs11_module=pkcs11_module,
                valid_years=valid_years,
                policy_oid=policy_oid or f"2.25.{uuid.uuid4().int}",
                csr_only=csr_only,
                admin_name=admin_name,
                admin_oidc_subject=admin_oidc_subject,
                service_passphrase=service_passphrase,
            )
            atomic_write(d / "platform.toml", config.to_toml().encode("utf-8"), mode=0o600)
        except BaseException:
            store.close()
            import shutil

            if created:
                shutil.rmtree(d, ignore_errors=True)
            else:  # the folder was empty: leave it so
                for child in d.iterdir():
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
            raise
        platform.clock = utcnow if now is None else platform.clock
        return platform, token

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        *,
        passphrase: str | None = None,
        pin: str | None = None,
        pkcs11_module: str | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> Platform:
        """Open a platform folder. The CA passphrase (or PIN) is needed only to sign."""
        config = PlatformConfig.load(directory)
        db = PlatformDb.connect(config.database_url())
        try:
            if not db.is_initialised():
                raise StoreError(
                    f"the platform database of {directory} holds no platform",
                    hint="check db in platform.toml (or THAISIGN_PLATFORM_DB)",
                )
        except BaseException:
            db.close()
            raise
        keys = KeyStore(config.keys_dir, passphrase=passphrase, pin=pin, module=pkcs11_module)
        return cls(config, db, keys, clock=clock)

    def session(self, credential: Credential) -> Session:
        """The operator the credential names, with what their role allows them
        (:class:`~thaisign.errors.AccessDenied` for a bad or disabled credential)."""
        from thaisign.platform.session import Session, authenticate

        return Session(self, authenticate(self, credential))

    # --- the issuing CA, at init ----------------------------------------------------------------

    def _issuing_profile(self, policy_oid: str, key: str, valid_years: int) -> PlatformCaProfile:
        base = self.config.base_url
        return PlatformCaProfile(
            name_th=self.config.name_th,
            name_en=self.config.name_en,
            key=key,
            valid_years=valid_years,
            base_url=f"{base}/issuing",
            policy_oid=policy_oid,
            crl_location=f"{base}/issuing/crl/ca.crl",
            ocsp_location=f"{base}/ocsp",
            issuer_location=f"{base}/issuing/ca.cer",
        ).validated()

    def _create(
        self,
        *,
        key: str,
        hsm: str | None,
        key_uri: str | None,
        pkcs11_module: str | None,
        valid_years: int,
        policy_oid: str,
        csr_only: bool,
        admin_name: str,
        admin_oidc_subject: str | None,
        service_passphrase: str,
    ) -> str | None:
        from thaisign.platform.access import new_token

        now = self.clock().replace(microsecond=0)
        if key_uri is not None:
            ref, signer = key_uri, self.keys.signer(key_uri, pkcs11_module)
        else:
            ref, signer = self.keys.create("issuing-1", key, token=hsm)
        key = str(key_spec_of(signer.public_key))
        profile = self._issuing_profile(policy_oid, key, valid_years)
        h = key_spec_of(signer.public_key).default_hash()
        cert_der: bytes | None = None
        d = self.config.directory
        if csr_only:
            atomic_write(d / ISSUING_CSR_FILE, _csr_pem(_tbs.ca_csr(profile, signer, h, path_len=1)))
        else:
            from thaisign.platform.hierarchy import years_after

            cert_der = _tbs.self_signed_ca(
                profile, signer, new_serial(), now, years_after(now, valid_years), h, path_len=1
            )
        responder_key = KeySpec.parse("ec-p256").generate()
        tsa_key = KeySpec.parse("ec-p256").generate()
        enc = serialization.BestAvailableEncryption(service_passphrase.encode("utf-8"))
        token: str | None = None
        with self.db.write(system_actor("platform init")) as w:
            w.at = now
            w.put_meta("layout", str(T.LAYOUT))
            w.put_meta("name_th", self.config.name_th)
            w.put_meta("base_url", self.config.base_url)
            w.put_meta("issuing_policy_oid", policy_oid)
            w.put_secret(
                OCSP_KEY,
                responder_key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc
                ),
            )
            w.put_secret(OCSP_PUBLIC, _public_pem(responder_key))
            w.put_secret(
                TSA_KEY,
                tsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc),
            )
            w.put_secret(TSA_PUBLIC, _public_pem(tsa_key))
            w.ca(T.ISSUING_CA).record_ca(profile.name_th, cert_der, at=now, conn=w.conn)
            w.insert(
                "ca-key",
                "ca_keys",
                {
                    "ca_id": T.ISSUING_CA,
                    "agency_id": None,
                    "generation": 1,
                    "state": "active",
                    "key_ref": ref,
                    "pkcs11_module": pkcs11_module,
                    "base_url": f"{self.config.base_url}/issuing",
                    "crl_path": "/crl/ca.crl",
                    "cert_path": "/ca.cer",
                    "chain": "",
                    "created_at": now.replace(tzinfo=None),
                },
                key_type=key,
            )
            if cert_der is not None:
                self._add_ca_certificate(w, T.ISSUING_CA, cert_der, now)
            admin_id = 1
            w.insert(
                "operator-appoint",
                "operators",
                {
                    "id": admin_id,
                    "name": admin_name,
                    "role": "admin",
                    "agency_id": None,
                    "oidc_subject": admin_oidc_subject,
                    "created_at": now.replace(tzinfo=None),
                    "disabled_at": None,
                },
            )
            if admin_oidc_subject is None:
                token_id, token, digest = new_token()
                w.insert(
                    "token-create",
                    "tokens",
                    {
                        "id": token_id,
                        "operator_id": admin_id,
                        "secret_sha256": digest,
                        "label": "created with the platform",
                        "created_at": now.replace(tzinfo=None),
                        "expires_at": None,
                        "revoked_at": None,
                    },
                )
        if cert_der is not None:
            cert = x509.load_der_x509_certificate(cert_der)
            atomic_write(d / ISSUING_CERT_FILE, cert.public_bytes(serialization.Encoding.PEM))
            atomic_write(d / ISSUING_CHAIN_FILE, cert.public_bytes(serialization.Encoding.PEM))
            self._complete(T.ISSUING_CA, system_actor("platform init"))
        return token

    def _add_ca_certificate(self, w: PlatformWrite, ca_id: int, der: bytes, now: dt.datetime) -> None:
        import hashlib

        cert = x509.load_der_x509_certificate(der)
        w.insert(
            "ca-certificate",
            "ca_certificates",
            {
                "sha256": hashlib.sha256(der).hexdigest(),
                "ca_id": ca_id,
                "der": der,
                "not_before": cert.not_valid_before_utc.replace(tzinfo=None),
                "not_after": cert.not_valid_after_utc.replace(tzinfo=None),
                "installed_at": now.replace(tzinfo=None),
            },
        )

    def _complete(
        self,
        ca_id: int,
        actor: PlatformActor,
        *,
        service_passphrase: str | None = None,
        renew_within: int = 30,
    ) -> None:
        """Make sure a CA can be answered for: an OCSP responder certificate for the platform's
        responder key (renewed within ``renew_within`` days of its end), a CRL, and for the issuing
        CA the platform's TSA."""
        from thaisign.ca.service_certs import issue_service_certificate

        now = self.clock().replace(microsecond=0)
        ca = self.authority(ca_id, actor)
        if ca.certificate is None:
            return
        current = self.db.responder(ca_id)
        due = current is None or (
            x509.load_der_x509_certificate(current).not_valid_after_utc - now
        ) < dt.timedelta(days=renew_within)
        if due and ca.certificate.not_valid_after_utc > now:
            public = serialization.load_pem_public_key(self._require_secret(OCSP_PUBLIC))
            assert isinstance(public, ec.EllipticCurvePublicKey)
            service = issue_service_certificate(
                ca, "ocsp", public_key=public, days=self.config.responder_days, now=now
            )
            der = service.certificate.public_bytes(serialization.Encoding.DER)
            with self.db.write(actor) as w:
                w.at = now
                values = {
                    "der": der,
                    "not_after": service.certificate.not_valid_after_utc.replace(tzinfo=None),
                }
                if current is None:
                    w.insert("responder", "responders", {"ca_id": ca_id, **values})
                else:
                    w.update("responder", "responders", ca_id, values)
            if ca_id == T.ISSUING_CA:
                atomic_write(
                    self.config.directory / RESPONDER_FILE,
                    service.certificate.public_bytes(serialization.Encoding.PEM),
                )
        if ca.store.latest_crl() is None:
            ca.crl(now=now)
        if ca_id == T.ISSUING_CA and self.db.secret(TSA_CERT) is None:
            self._create_tsa(ca, actor, now)

    def _create_tsa(self, issuing: PlatformCa, actor: PlatformActor, now: dt.datetime) -> None:
        """The TSA certificate for the key made at init (the platform's one TSA), and its log."""
        from thaisign.ca.service_certs import issue_service_certificate
        from thaisign.tsa.store import TsaStore

        public = serialization.load_pem_public_key(self._require_secret(TSA_PUBLIC))
        assert isinstance(public, ec.EllipticCurvePublicKey)
        name = f"TSA {self.config.name_th}"[:64]
        service = issue_service_certificate(
            issuing, "tsa", public_key=public, days=5 * 365, name=name, now=now
        )
        with self.db.write(actor) as w:
            w.at = now
            w.put_secret(TSA_CERT, _pem([service.certificate, *service.chain]).encode("ascii"))
            w.put_meta("tsa_policy_oid", self.config.tsa_policy_oid or f"{issuing.profile.policy_oid}.3161")
        tsa_store = TsaStore.connect(self.config.database_url())
        try:
            tsa_store.create_schema()
        finally:
            tsa_store.close()

    def install_issuing_certificate(
        self, actor: PlatformActor, cert_data: bytes, chain_data: bytes | None = None
    ) -> x509.Certificate:
        """Finish a platform made with ``csr_only``: the national root's certificate for the
        issuing CA (and the chain above it). Internal: :meth:`Session.install_issuing_certificate`."""
        from thaisign.ca.authority import load_csr
        from thaisign.platform.config import ISSUING_CSR_FILE

        issuing = self.issuing(actor)
        if issuing.certificate is not None:
            raise CAExistsError("the platform's issuing CA has its certificate already")
        certs = load_certificates(cert_data)
        cert, chain = certs[0], [*certs[1:], *(load_certificates(chain_data) if chain_data else [])]
        csr = load_csr((self.config.directory / ISSUING_CSR_FILE).read_bytes())
        if cert.public_key() != csr.public_key() or cert.public_key() != issuing.signer.public_key:
            raise CertificateError("that certificate is not for the platform's issuing CA key")
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            bc = None
        if bc is None or not bc.ca or (bc.path_length is not None and bc.path_length < 1):
            raise CertificateError(
                "that certificate cannot issue agency CAs (it needs CA:TRUE and a pathLen of at least 1)"
            )
        if chain:
            try:
                cert.verify_directly_issued_by(chain[0])
            except Exception as exc:
                raise CertificateError(
                    f"the chain does not start with the certificate's issuer: {exc}"
                ) from None
        der = cert.public_bytes(serialization.Encoding.DER)
        now = self.clock().replace(microsecond=0)
        with self.db.write(actor) as w:
            w.at = now
            w.ca(T.ISSUING_CA).record_ca(self.config.name_th, der, at=now, conn=w.conn)
            self._add_ca_certificate(w, T.ISSUING_CA, der, now)
            w.update("ca-chain", "ca_keys", T.ISSUING_CA, {"chain": _pem(chain)})
        d = self.config.directory
        atomic_write(d / ISSUING_CERT_FILE, cert.public_bytes(serialization.Encoding.PEM))
        atomic_write(d / ISSUING_CHAIN_FILE, _pem([cert, *chain]).encode("ascii"))
        self._complete(T.ISSUING_CA, actor)
        return cert

    def _require_secret(self, name: str) -> bytes:
        value = self.db.secret(name)
        if value is None:
            raise StoreError(
                f"the platform database lacks its {name}", hint="was 'thaisign platform init' completed?"
            )
        return value

    # --- the CAs -----------------------------------------------------------------------------------

    def authority(self, ca_id: int, actor: PlatformActor | None = None, *, key: bool = True) -> PlatformCa:
        """CA ``ca_id`` as an :class:`~thaisign.ca.Authority` whose audit entries name ``actor``
        (with its key unless ``key`` is False). Internal: sessions call it after their checks."""
        ca_key = self.db.ca_key(ca_id)
        if ca_key is None:
            raise CAError(f"the platform has no CA {ca_id}")
        agency = self.db.agency_by_id(ca_key.agency_id) if ca_key.agency_id is not None else None
        return self._authority(ca_key, agency, self.db.ca_certificate(ca_id), actor, key=key)

    def _authority(
        self,
        ca_key: CaKey,
        agency: Agency | None,
        der: bytes | None,
        actor: PlatformActor | None,
        *,
        key: bool = True,
    ) -> PlatformCa:
        ca_id = ca_key.ca_id
        parts = self._ca_parts(ca_key, agency, der)
        signer: Signer | None = self.keys.signer(ca_key.key_ref, ca_key.pkcs11_module) if key else None
        if signer is not None and parts is not None and signer.public_key != parts.certificate.public_key():
            raise CertificateError(f"the key of CA {ca_id} ({ca_key.key_ref}) does not match its certificate")
        store = self.db.ca_store(ca_id, actor)
        if parts is None:
            profile = self._profile(ca_key, agency)
            return PlatformCa(ca_key, agency, profile, store, signer, None, ())
        return PlatformCa(ca_key, agency, parts.profile, store, signer, parts.certificate, parts.chain)

    def _ca_parts(self, ca_key: CaKey, agency: Agency | None, der: bytes | None) -> _CaParts | None:
        if der is None:
            return None
        cached = self._parts.get(ca_key.ca_id)
        if cached is not None and cached.cert_der == der and cached.profile == self._profile(ca_key, agency):
            return cached
        cert = x509.load_der_x509_certificate(der)
        above = tuple(load_certificates(ca_key.chain.encode("ascii"))) if ca_key.chain.strip() else ()
        parts = _CaParts(der, cert, (cert, *above), self._profile(ca_key, agency))
        with self._lock:
            self._parts[ca_key.ca_id] = parts
        return parts

    def _profile(self, ca_key: CaKey, agency: Agency | None) -> PlatformCaProfile:
        if agency is None:
            policy = self.db.meta("issuing_policy_oid") or "2.5.29.32.0"
            return self._issuing_profile(policy, "ec-p384", 20)
        p = agency.profile
        return PlatformCaProfile(
            name_th=agency.name_th,
            name_en=agency.name_en,
            org_id=agency.org_id,
            key=p.ca_key,
            valid_years=p.ca_valid_years,
            base_url=ca_key.base_url,
            policy_oid=p.policy_oid,
            officer_default_days=p.officer_default_days,
            officer_max_days=p.officer_max_days,
            allowed_keys=p.allowed_keys,
            required_fields=p.required_fields,
            crl_next_update_hours=p.crl_next_update_hours,
            officer_extra_ekus=p.extra_ekus,
            crl_location=ca_key.crl_url,
            ocsp_location=f"{self.config.base_url}/ocsp",
            issuer_location=ca_key.cert_url,
        ).validated()

    def issuing(self, actor: PlatformActor | None = None, *, key: bool = True) -> PlatformCa:
        return self.authority(T.ISSUING_CA, actor, key=key)

    # --- issuing: what stays the same between requests ------------------------------------------

    #: agencies whose issuing state is kept (the oldest read is dropped first)
    ISSUING_STATES = 16384

    def issuing_state(self, slug: str) -> IssuingState | None:
        """The agency ``slug`` and its active CA, ready to issue (None: no such agency). Kept
        between calls; internal: :class:`~thaisign.platform.session.Session` checks the
        operator's access to the agency on every call, and records under the state's guard."""
        state = self._issuing_states.get(slug)
        if state is not None and state.writes == self.db.writes:
            return state
        return self.reload_issuing_state(slug)

    def reload_issuing_state(self, slug: str) -> IssuingState | None:
        """:meth:`issuing_state` read anew from the database (after its guard failed)."""
        writes = self.db.writes
        found = self.db.issuing_rows(slug)
        if found is None:
            with self._lock:
                self._issuing_states.pop(slug, None)
            return None
        head, agency, ca_key, der = found
        ca = None
        if ca_key is not None and agency.status == "active":
            ca = self._authority(ca_key, agency, der, None)
            if ca.certificate is not None:
                ca._template  # noqa: B018 - built once here, shared by every request
            ca.store.prepare_issuing()
        state = IssuingState(head, agency, ca, self.db.head_guard(head), (agency, ca_key, der), writes)
        with self._lock:
            self._issuing_states.pop(slug, None)
            while len(self._issuing_states) >= self.ISSUING_STATES:
                self._issuing_states.pop(next(iter(self._issuing_states)))
            self._issuing_states[slug] = state
        return state

    def active_ca(self, agency: Agency) -> CaKey:
        keys = [k for k in self.db.ca_keys_of(agency.id) if k.state == "active"]
        if not keys:
            raise CAError(f"agency {agency.slug} has no active CA key")
        return keys[-1]


def _public_pem(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _csr_pem(der: bytes) -> bytes:
    import base64

    b64 = base64.encodebytes(der).replace(b"\n", b"")
    body = b"".join(b64[i : i + 64] + b"\n" for i in range(0, len(b64), 64))
    return b"-----BEGIN CERTIFICATE REQUEST-----\n" + body + b"-----END CERTIFICATE REQUEST-----\n"
