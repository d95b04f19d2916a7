"""The agency certificate authority: init, issue, revoke, CRL, lookup.

>>> ca = Authority.init("/srv/ca", CaProfile(name_th="กรมส่งเสริมการปกครองท้องถิ่น"), passphrase="...")
>>> issued = ca.issue_officer(OfficerProfile(name_th="นายสมชาย ใจดี", position="ผู้อำนวยการกอง"),
...                          csr=open("somchai.csr", "rb").read())
>>> ca.revoke(issued.serial, "keyCompromise"); crl_der = ca.crl()
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from thaisign._fs import atomic_write, read_input
from thaisign._secrets import check_new_passphrase
from thaisign.ca import _der, _tbs
from thaisign.ca.audit import AuditEntry, AuditVerification
from thaisign.ca.crl import CrlTemplate, revoked_entry
from thaisign.ca.profiles import PROFILE_FILE, CaProfile, OfficerProfile
from thaisign.ca.store import (
    REVOCATION_REASONS,
    CertificateStatus,
    CertificateStore,
    DuplicateSerialError,
    IssuedCertificate,
    NewCertificate,
    WriteGuard,
    normalize_reason,
    parse_serial,
    serial_hex,
    utcnow,
)
from thaisign.errors import (
    CAError,
    CAExistsError,
    CANotFoundError,
    CertificateError,
    CsrError,
    KeyLoadError,
    ProfileError,
    SecretError,
    StoreError,
)
from thaisign.keys import KeySpec, Signer, SoftwareSigner, key_spec_of, load_certificates, load_private_key

if TYPE_CHECKING:
    from thaisign.ca.integrity import IntegrityReport

KEY_FILE = "ca-key.pem"
CERT_FILE = "ca.pem"
CHAIN_FILE = "chain.pem"
CSR_FILE = "ca.csr"
_SERIAL_TRIES = 5

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def new_serial() -> int:
    """A positive serial number with 127 random bits (RFC 5280 allows up to 20 octets)."""
    return secrets.randbits(127) | (1 << 126)  # fixed length: 16 octets, never a sign problem


@dataclass(frozen=True)
class IssuedOfficer:
    """A newly issued officer certificate, with its private key when the CA generated it."""

    serial: int
    der: bytes
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None

    @property
    def serial_hex(self) -> str:
        """The serial number in upper-case hex, as `thaisign ca list` shows it."""
        return serial_hex(self.serial)

    @cached_property
    def certificate(self) -> x509.Certificate:
        """The issued certificate."""
        return x509.load_der_x509_certificate(self.der)

    def pem(self) -> bytes:
        """The certificate in PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def __repr__(self) -> str:
        cns = self.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        name = str(cns[0].value) if cns else self.certificate.subject.rfc4514_string()
        key = "with key" if self.private_key is not None else "no key"
        return f"<IssuedOfficer serial={self.serial_hex} {name!r} {key}>"

    def pkcs12(
        self, passphrase: str, chain: Sequence[x509.Certificate] = (), name: str | None = None
    ) -> bytes:
        """The key, certificate and chain as an encrypted PKCS#12 (AES-256, PBKDF2)."""
        if self.private_key is None:
            raise CAError("this certificate was issued for a key the CA never held: there is no PKCS#12")
        if not passphrase:
            raise SecretError("a PKCS#12 needs a non-empty passphrase", hint="set THAISIGN_PASSPHRASE")
        check_new_passphrase(passphrase, "the PKCS#12 passphrase")
        enc = serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
        label = (name or self.serial_hex).encode("utf-8")
        return pkcs12.serialize_key_and_certificates(
            label, self.private_key, self.certificate, list(chain), enc
        )


def _spki(public_key: object) -> bytes:
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise CertificateError(f"unsupported key type {type(public_key).__name__}; use RSA or ECDSA")
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_csr(data: bytes | x509.CertificateSigningRequest) -> x509.CertificateSigningRequest:
    """A CSR from PEM/DER bytes whose self-signature verifies, else :class:`CsrError`."""
    if isinstance(data, x509.CertificateSigningRequest):
        csr = data
    else:
        try:
            csr = (
                x509.load_pem_x509_csr(data)
                if data.lstrip().startswith(b"-----")
                else x509.load_der_x509_csr(data)
            )
        except ValueError as exc:
            raise CsrError(f"not a valid certificate signing request: {exc}") from None
    try:
        valid = csr.is_signature_valid
    except Exception as exc:  # unsupported key or algorithm
        raise CsrError(f"cannot check the CSR signature: {exc}") from None
    if not valid:
        raise CsrError(
            "the CSR's signature does not verify: it was altered or not made with its own key",
            hint="make a new CSR with the officer's key",
        )
    return csr


def ensure_new_ca_folder(directory: str | os.PathLike[str]) -> None:
    """Raise :class:`CAExistsError` unless ``directory`` is absent or an empty folder."""
    d = Path(directory)
    if d.exists() and (not d.is_dir() or any(d.iterdir())):
        raise CAExistsError(
            f"{d} exists and is not empty: thaisign never touches an existing CA folder",
            hint="choose a new folder",
        )


class Authority:
    """An agency CA: its folder, profile, store, certificate and (unless opened read-only) its key.

    ``directory`` is None for a CA that lives in a shared store without a folder of its own
    (:mod:`thaisign.platform`): everything works the same, minus the files.
    """

    def __init__(
        self,
        directory: Path | None,
        profile: CaProfile,
        store: CertificateStore,
        signer: Signer | None,
        certificate: x509.Certificate | None,
        chain: tuple[x509.Certificate, ...],
    ) -> None:
        self.directory = directory
        self.profile = profile
        self.store = store
        self._signer = signer
        self.certificate = certificate
        self.chain = chain
        #: the checkpoint signed with the latest CRL this object made (DER CMS), if any
        self.last_checkpoint: bytes | None = None
        #: checked in the transaction that records issued certificates (see :meth:`record`)
        self.write_guard: WriteGuard | None = None

    # --- creating and opening ---------------------------------------------------------------

    @classmethod
    def init(
        cls,
        directory: str | os.PathLike[str],
        profile: CaProfile,
        *,
        passphrase: str | None = None,
        pin: str | None = None,
        csr_only: bool = False,
        now: dt.datetime | None = None,
    ) -> Authority:
        """Create a CA folder: a self-signed root, or (``csr_only``) a key and ``ca.csr`` for a parent CA.

        The key is generated and written encrypted with ``passphrase`` to ``ca-key.pem`` (mode
        0600), unless ``profile.key_uri`` names an existing key in a PKCS#11 token.
        """
        profile = profile.validated()
        d = Path(directory)
        ensure_new_ca_folder(d)
        if profile.key_uri is None:
            if not passphrase:
                raise SecretError(
                    "the CA key needs a passphrase",
                    hint="set THAISIGN_CA_PASSPHRASE or pass --passphrase-file",
                )
            check_new_passphrase(passphrase, "the new CA passphrase")
        store = CertificateStore.connect(CertificateStore.url_for(d, profile.db))
        if profile.db is not None and not store.is_empty():
            raise CAExistsError(
                "that database already holds a CA", hint="give each CA its own database (--db)"
            )
        created_dir = not d.exists()
        try:
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o700)
            if profile.key_uri is not None:
                signer = Signer.from_pkcs11(profile.key_uri, pin=pin, module=profile.pkcs11_module)
            else:
                key = profile.key_spec.generate()
                enc = serialization.BestAvailableEncryption(passphrase.encode("utf-8"))  # type: ignore[union-attr]
                atomic_write(
                    d / KEY_FILE,
                    key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc),
                    mode=0o600,
                )
                signer = SoftwareSigner(key)
            h = key_spec_of(signer.public_key).default_hash()
            when = (now or utcnow()).replace(microsecond=0)
            cert: x509.Certificate | None = None
            if csr_only:
                atomic_write(d / CSR_FILE, _pem("CERTIFICATE REQUEST", _tbs.ca_csr(profile, signer, h)))
            else:
                not_after = (
                    when.replace(year=when.year + profile.valid_years)
                    if not (when.month == 2 and when.day == 29)
                    else when + dt.timedelta(days=365 * profile.valid_years)
                )
                der = _tbs.self_signed_ca(profile, signer, new_serial(), when, not_after, h)
                cert = x509.load_der_x509_certificate(der)
                pem = cert.public_bytes(serialization.Encoding.PEM)
                atomic_write(d / CERT_FILE, pem)
                atomic_write(d / CHAIN_FILE, pem)
            store.create_schema()
            store.record_ca(
                profile.name_th, cert.public_bytes(serialization.Encoding.DER) if cert else None, at=now
            )
            atomic_write(d / PROFILE_FILE, profile.to_toml().encode("utf-8"), mode=0o600)
            authority = cls(d, profile, store, signer, cert, (cert,) if cert else ())
            if cert is not None:
                authority.crl(now=when)  # relying parties find a CRL from the first moment on
        except BaseException:
            store.close()
            if created_dir:
                shutil.rmtree(d, ignore_errors=True)
            else:
                for name in (
                    KEY_FILE,
                    CERT_FILE,
                    CHAIN_FILE,
                    CSR_FILE,
                    PROFILE_FILE,
                    "ca.db",
                    "ca.db-wal",
                    "ca.db-shm",
                ):
                    with contextlib.suppress(FileNotFoundError):
                        (d / name).unlink()
            raise
        return authority

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        *,
        passphrase: str | None = None,
        pin: str | None = None,
        load_key: bool = True,
    ) -> Authority:
        """Open a CA folder. ``load_key=False`` opens it read-only (no passphrase needed)."""
        d = Path(directory)
        if not d.is_dir():
            raise CANotFoundError(f"CA folder not found: {d}", hint="create one with 'thaisign ca init'")
        if not (d / PROFILE_FILE).exists():
            raise CANotFoundError(f"{d} is not a thaisign CA folder (no {PROFILE_FILE})")
        profile = CaProfile.load(d / PROFILE_FILE)
        cert: x509.Certificate | None = None
        chain: tuple[x509.Certificate, ...] = ()
        if (d / CERT_FILE).exists():
            cert = load_certificates(read_input(d / CERT_FILE, "CA certificate"))[0]
            chain = (
                tuple(load_certificates(read_input(d / CHAIN_FILE, "CA chain")))
                if (d / CHAIN_FILE).exists()
                else (cert,)
            )
        signer: Signer | None = None
        if load_key:
            signer = cls._load_signer(d, profile, passphrase, pin)
            if cert is not None and cert.public_key() != signer.public_key:
                raise KeyLoadError(
                    f"{d / CERT_FILE} does not belong to the CA key", hint="restore the CA folder"
                )
        store = CertificateStore.open(d, profile)
        if load_key:
            moved = store.moved_to()
            if moved is not None:
                store.close()
                if signer is not None:
                    signer.close()
                raise CAError(
                    f"this CA moved into the platform {moved.get('platform')!r} as agency "
                    f"{moved.get('agency')!r}: it issues and revokes there now",
                    hint="use 'thaisign platform' (this folder stays readable: ca list, show, audit)",
                )
        return cls(d, profile, store, signer, cert, chain)

    @staticmethod
    def _load_signer(d: Path, profile: CaProfile, passphrase: str | None, pin: str | None) -> Signer:
        if profile.key_uri is not None:
            return Signer.from_pkcs11(profile.key_uri, pin=pin, module=profile.pkcs11_module)
        if not passphrase:
            raise SecretError(
                "the CA key needs its passphrase", hint="set THAISIGN_CA_PASSPHRASE or pass --passphrase-file"
            )
        data = read_input(d / KEY_FILE, "CA key file")
        try:
            return SoftwareSigner(load_private_key(data, passphrase))
        except SecretError:
            raise SecretError(
                "wrong CA passphrase", hint="check THAISIGN_CA_PASSPHRASE or the --passphrase-file"
            ) from None

    def close(self) -> None:
        """Close the store and release the CA key (token sessions)."""
        self.store.close()
        if self._signer is not None:
            self._signer.close()

    def __enter__(self) -> Authority:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        key = "with key" if self._signer is not None else "read-only"
        name = getattr(self.profile, "name_th", None) or (self.directory.name if self.directory else "?")
        where = f"at {str(self.directory)!r}" if self.directory else f"in {self.store.url.split('://')[0]}"
        return f"<Authority {name!r} {where} {key}>"

    @property
    def signer(self) -> Signer:
        """The CA's own key (a file or a token); :class:`~thaisign.errors.CAError` if opened read-only."""
        if self._signer is None:
            raise CAError("the CA was opened without its key", hint="open it with the CA passphrase or PIN")
        return self._signer

    def _require_certificate(self) -> x509.Certificate:
        if self.certificate is None:
            raise CAError(
                "the CA has no certificate yet: its CSR awaits the parent CA",
                hint=f"install the parent's answer with 'thaisign ca install-cert {self.directory} CERT.pem'",
            )
        return self.certificate

    @property
    def hash_algorithm(self) -> str:
        return key_spec_of(self.signer.public_key).default_hash()

    # --- subordinate CA: install the parent's certificate -----------------------------------

    def install_certificate(
        self, cert_data: bytes, chain_data: bytes | None = None, *, now: dt.datetime | None = None
    ) -> x509.Certificate:
        """Finish a ``csr_only`` CA with the certificate the parent CA issued (and its chain)."""
        if self.certificate is not None:
            raise CAExistsError(f"the CA in {self.directory} has its certificate already")
        if self.directory is None:
            raise CAError("this CA has no folder: install its certificate where it was created")
        certs = load_certificates(cert_data)
        cert = certs[0]
        chain = list(certs[1:]) + (load_certificates(chain_data) if chain_data else [])
        csr = load_csr(read_input(self.directory / CSR_FILE, "CA request"))
        if cert.public_key() != csr.public_key():
            raise CertificateError(
                "that certificate is not for this CA's key",
                hint=f"give the certificate issued for {CSR_FILE}",
            )
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            bc = None
        if bc is None or not bc.ca:
            raise CertificateError(
                "that certificate is not a CA certificate (basicConstraints CA:TRUE missing)"
            )
        if chain:
            try:
                cert.verify_directly_issued_by(chain[0])
            except (ValueError, TypeError, Exception) as exc:
                raise CertificateError(
                    f"the chain does not start with the issuer of the certificate: {exc}",
                    hint="give the parent CA's certificate first in --chain",
                ) from None
        pem_cert = cert.public_bytes(serialization.Encoding.PEM)
        self.store.record_ca(self.profile.name_th, cert.public_bytes(serialization.Encoding.DER), at=now)
        atomic_write(
            self.directory / CHAIN_FILE,
            pem_cert + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain),
        )
        atomic_write(self.directory / CERT_FILE, pem_cert)
        self.certificate = cert
        self.chain = (cert, *chain)
        if self._signer is not None and self.store.latest_crl() is None:
            self.crl(now=now)  # the first CRL, as soon as the CA can sign one
        return cert

    # --- issuing ---------------------------------------------------------------------------

    @cached_property
    def _template(self) -> _tbs.OfficerTemplate:
        cert = self._require_certificate()
        issuer = _subject_der(cert)
        return _tbs.OfficerTemplate.for_ca(
            self.profile, issuer, _spki(cert.public_key()), self.signer, self.hash_algorithm
        )

    def _check_key(self, public_key: object) -> str:
        try:
            spec = key_spec_of(public_key)
        except KeyLoadError as exc:
            raise ProfileError(exc.message) from None
        if str(spec) not in self.profile.allowed_keys:
            raise ProfileError(
                f"{spec} keys are not allowed by this CA's profile",
                hint="allowed: " + ", ".join(self.profile.allowed_keys),
            )
        return str(spec)

    def prepare_officer(
        self,
        officer: OfficerProfile,
        public_key: PublicKey,
        *,
        source: str,
        now: dt.datetime | None = None,
    ) -> NewCertificate:
        """Build and sign one officer certificate (not yet recorded: see :meth:`record`)."""
        ca_cert = self._require_certificate()
        officer = officer.validated()
        for required in self.profile.required_fields:
            if not getattr(officer, required, None):
                raise ProfileError(f"this CA's profile requires the officer's {required.replace('_', ' ')}")
        key_type = self._check_key(public_key)
        when = (now or utcnow()).replace(microsecond=0)
        days = officer.days or self.profile.officer_default_days
        if days > self.profile.officer_max_days:
            raise ProfileError(
                f"validity of {days} days exceeds this CA's maximum of {self.profile.officer_max_days}"
            )
        not_after = min(when + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
        if when < ca_cert.not_valid_before_utc or when >= ca_cert.not_valid_after_utc:
            raise CertificateError("the CA certificate is not valid now: it cannot issue")
        attrs = _tbs.officer_name_attributes(officer, self.profile)
        subject = _der.name(attrs)
        serial = new_serial()
        template = self._template
        tbs = template.tbs(serial, subject, _spki(public_key), when, not_after, officer.email)
        return NewCertificate(
            serial=serial,
            name_th=officer.name_th,
            name_en=officer.name_en,
            position=officer.position,
            email=officer.email,
            employee_id=officer.employee_id,
            subject=_tbs.name_text(attrs),
            key_type=key_type,
            source=source,
            not_before=when,
            not_after=not_after,
            der=template.certificate(tbs, self.signer),
        )

    def _resign(self, cert: NewCertificate) -> NewCertificate:
        """The same certificate with a fresh serial (after a serial collision)."""
        parsed = x509.load_der_x509_certificate(cert.der)
        serial = new_serial()
        subject = _subject_der(parsed)
        email = cert.email
        tbs = self._template.tbs(
            serial,
            subject,
            _spki(parsed.public_key()),
            cert.not_before,
            cert.not_after,
            email,
        )
        from dataclasses import replace

        return replace(cert, serial=serial, der=self._template.certificate(tbs, self.signer))

    def record(
        self, certs: Sequence[NewCertificate], *, now: dt.datetime | None = None
    ) -> list[NewCertificate]:
        """Record signed certificates in one transaction, re-drawing serials on a collision
        (:class:`~thaisign.ca.store.GuardFailed` if :attr:`write_guard` finds the store changed)."""
        pending = list(certs)
        for _ in range(_SERIAL_TRIES):
            try:
                self.store.add_certificates(pending, at=now, guard=self.write_guard)
                return pending
            except DuplicateSerialError:
                pending = [self._resign(c) for c in pending]
        raise StoreError("could not draw an unused serial number", hint="check the random number source")

    def issue_officer(
        self,
        officer: OfficerProfile,
        *,
        csr: bytes | x509.CertificateSigningRequest | None = None,
        new_key: KeySpec | str | None = None,
        public_key: PublicKey | None = None,
        now: dt.datetime | None = None,
    ) -> IssuedOfficer:
        """Issue one officer certificate for a CSR, a new key (returned), or a known public key.

        From a CSR only the public key is used: names and extensions come from ``officer`` and
        the CA profile (a CSR asking for CA:TRUE gets an ordinary officer certificate).
        """
        prepared, private_key = self.prepare_issue(
            officer, csr=csr, new_key=new_key, public_key=public_key, now=now
        )
        recorded = self.record([prepared], now=now)[0]
        return IssuedOfficer(recorded.serial, recorded.der, private_key)

    def prepare_issue(
        self,
        officer: OfficerProfile,
        *,
        csr: bytes | x509.CertificateSigningRequest | None = None,
        new_key: KeySpec | str | None = None,
        public_key: PublicKey | None = None,
        now: dt.datetime | None = None,
    ) -> tuple[NewCertificate, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None]:
        """:meth:`issue_officer` up to recording: the signed certificate and the new key, if any."""
        given = sum(x is not None for x in (csr, new_key, public_key))
        if given != 1:
            raise CAError("give exactly one of csr=, new_key= or public_key=")
        private_key = None
        if csr is not None:
            key = load_csr(csr).public_key()
            source = "csr"
        elif new_key is not None:
            spec = KeySpec.parse(new_key) if isinstance(new_key, str) else new_key
            if str(spec) not in self.profile.allowed_keys:
                raise ProfileError(f"{spec} keys are not allowed by this CA's profile")
            private_key = spec.generate()
            key = private_key.public_key()
            source = "new-key"
        else:
            key = public_key  # type: ignore[assignment]
            source = "token"
        if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise ProfileError(f"unsupported key type {type(key).__name__}; use RSA or ECDSA")
        return self.prepare_officer(officer, key, source=source, now=now), private_key

    # --- revocation, CRL, lookup -----------------------------------------------------------

    def revoke(
        self, serial: int | str, reason: str = "unspecified", *, at: dt.datetime | None = None
    ) -> CertificateStatus:
        """Revoke a certificate (RFC 5280 reason name, e.g. ``keyCompromise`` or ``key-compromise``)."""
        n = parse_serial(serial)
        name = normalize_reason(reason)
        when = (at or utcnow()).replace(microsecond=0)
        self.store.revoke(n, name, when, revoked_entry(n, when, REVOCATION_REASONS[name]))
        return CertificateStatus("revoked", when, name)

    @cached_property
    def _crl_template(self) -> CrlTemplate:
        cert = self._require_certificate()
        return CrlTemplate(
            signature_algorithm=self.signer.signature_algorithm(self.hash_algorithm).dump(),
            issuer=_subject_der(cert),
            authority_key_id=_tbs.key_identifier(_spki(cert.public_key())),
            hash_algorithm=self.hash_algorithm,
        )

    def crl(self, *, now: dt.datetime | None = None, check: bool = True) -> bytes:
        """A new DER CRL with the next CRL number; nextUpdate from the profile.

        First the store is checked against its audit chain (``check``): a revocation deleted or
        changed outside thaisign must not vanish from the CRL, so a store that fails the check
        gets no CRL (:class:`StoreError`). With the CRL the CA signs a checkpoint of the chain
        head, kept in the store, in ``DIR/checkpoint.p7m`` and in :attr:`last_checkpoint`.
        """
        from thaisign.ca.checkpoint import CHECKPOINT_FILE, sign_checkpoint

        cert = self._require_certificate()
        if check:
            self.require_integrity("no CRL was made")
        this_update = (now or utcnow()).replace(microsecond=0)
        next_update = this_update + dt.timedelta(hours=self.profile.crl_next_update_hours)
        template = self._crl_template

        def build(number: int, entries: list[bytes]) -> bytes:
            return template.build(self.signer, number, entries, this_update, next_update)

        def checkpoint(seq: int, head: str, number: int) -> bytes:
            return sign_checkpoint(
                self.signer,
                cert,
                seq=seq,
                head=head,
                time=this_update,
                crl_number=number,
                hash_name=self.hash_algorithm,
            )

        _, der = self.store.record_crl(
            build, this_update=this_update, next_update=next_update, checkpoint=checkpoint
        )
        latest = self.store.checkpoints(latest_only=True)
        if latest:
            self.last_checkpoint = latest[0]
            if self.directory is not None:
                atomic_write(self.directory / CHECKPOINT_FILE, latest[0])
        return der

    def check_integrity(self, checkpoints: Sequence[tuple[str, bytes]] = ()) -> IntegrityReport:
        """The store checked against its audit chain and the newest signed checkpoint (the CA
        folder's ``checkpoint.p7m``, the store's copies, and ``checkpoints``: (source, DER))."""
        from thaisign.ca.checkpoint import CHECKPOINT_FILE
        from thaisign.ca.integrity import check_store

        candidates = list(checkpoints)
        folder_copy = self.directory / CHECKPOINT_FILE if self.directory is not None else None
        if folder_copy is not None and folder_copy.exists():
            candidates.append((str(folder_copy), read_input(folder_copy, "checkpoint")))
        return check_store(self.store, ca_certificate=self.certificate, checkpoints=candidates)

    def require_integrity(self, consequence: str) -> IntegrityReport:
        """:meth:`check_integrity`, raising :class:`StoreError` (saying ``consequence``) on a problem."""
        report = self.check_integrity()
        if not report.ok:
            problems = report.problems()
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise StoreError(
                f"the CA store was changed outside thaisign: {problems[0]}{more}; {consequence}",
                hint=self._audit_hint(),
            )
        return report

    def _audit_hint(self) -> str:
        """Where the operator sees every problem of the store (the command to run)."""
        return f"see every problem with 'thaisign ca audit {self.directory} --verify'"

    def certificates(
        self, status: str | None = None, *, at: dt.datetime | None = None
    ) -> list[IssuedCertificate]:
        """Issued certificates, optionally only ``valid`` / ``revoked`` / ``expired`` ones."""
        return self.store.certificates(status=status, at=at)

    def get(self, serial: int | str) -> IssuedCertificate:
        """The issued certificate with this serial (int, or hex as `ca list` shows it);
        :class:`~thaisign.errors.SerialNotFoundError` if none."""
        return self.store.get(serial)

    def status_of(self, serial: int) -> CertificateStatus:
        """The certificate's status in the store (good or revoked, when and why), as OCSP answers it."""
        return self.store.status_of(serial)

    def audit_entries(self) -> list[AuditEntry]:
        """Every entry of the CA's audit log (hash-chained), oldest first."""
        return self.store.audit_entries()

    def verify_audit(self) -> AuditVerification:
        return self.store.verify_audit()


def _subject_der(cert: x509.Certificate) -> bytes:
    """The subject Name exactly as encoded (read with asn1crypto: cryptography warns about long
    Thai names, measuring RFC 5280's 64-character limit in UTF-8 bytes)."""
    from asn1crypto import x509 as asn1_x509

    der = cert.public_bytes(serialization.Encoding.DER)
    return bytes(asn1_x509.Certificate.load(der)["tbs_certificate"]["subject"].dump())


def _pem(label: str, der: bytes) -> bytes:
    import base64

    b64 = base64.encodebytes(der).replace(b"\n", b"")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return b"".join(
        [
            f"-----BEGIN {label}-----\n".encode(),
            *(line + b"\n" for line in lines),
            f"-----END {label}-----\n".encode(),
        ]
    )
