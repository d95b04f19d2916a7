"""The CSC operations, independent of HTTP: credentials, authorize (SAD), signHash, signDoc.

>>> service = CscService.open(ServiceConfig.load("/srv/sign"), pin=pin)
>>> caller = service.caller("Bearer eyJ...")
>>> sad, lifetime = service.authorize(caller, credential_id, hashes=[b64], otp="123456")
>>> signatures = service.sign_hash(caller, credential_id, sad=sad, hashes=[b64], sign_algo=ECDSA_SHA256)

Every refusal is a :class:`CscError` with an HTTP status, an OAuth-style error code and a
one-line description that never repeats a secret. Every SAD issued, every signature made and
every refusal of a SAD is appended to the hash-chained audit log.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
import secrets
import socket
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from thaisign.errors import ThaisignError
from thaisign.keys import KeySpec, key_spec_of
from thaisign.service import factors
from thaisign.service.config import ServiceConfig
from thaisign.service.oidc import Caller, ProviderUnavailable, TokenRejected, TokenVerifier
from thaisign.service.store import SadRecord, ServiceStore, aware
from thaisign.service.tokenkeys import OfficerKeys

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

Clock = Callable[[], dt.datetime]


class CscError(Exception):
    """A refused request: HTTP ``status``, ``error`` code and a one-line ``description``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def bad_request(description: str) -> CscError:
    return CscError(400, "invalid_request", description)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
class _FactorCheck:
    """The outcome of checking a PIN or a one-time code."""

    ok: bool
    step: int | None  # the TOTP time step the code matched
    replayed: bool = False  # a correct code that was used already


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


@dataclass
class _Stats:
    authorizations: int = 0
    signatures: int = field(default=0)


class CscService:
    """The signing service of one agency: configuration, database, token keys, OIDC verifier."""

    def __init__(
        self,
        config: ServiceConfig,
        store: ServiceStore,
        verifier: TokenVerifier,
        keys: OfficerKeys,
        box: factors.SecretBox,
        *,
        clock: Clock = _utcnow,
        ca_passphrase: str | None = None,
        ca_pin: str | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.verifier = verifier
        self.keys = keys
        self.box = box
        self.clock = clock
        self.replica = f"{socket.gethostname()}:{os.getpid()}"
        self._ca_passphrase = ca_passphrase
        self._ca_pin = ca_pin
        self._ca: Any = None
        self._ca_store: Any = None
        self._known: dict[str, Credential] = {}
        self.stats = _Stats()

    @classmethod
    def open(
        cls,
        config: ServiceConfig,
        *,
        pin: str | None,
        ca_passphrase: str | None = None,
        ca_pin: str | None = None,
        clock: Clock = _utcnow,
    ) -> CscService:
        """Connect to the database and set up (lazily) the token and the OIDC verifier.

        ``ca_passphrase`` (a CA key in a file) or ``ca_pin`` (a CA key in a token) lets this process
        approve enrollments; without either, approvals go through ``thaisign service approve``.
        """
        store = ServiceStore.connect(config.database_url())
        return cls(
            config,
            store,
            TokenVerifier(config.oidc, clock=clock),
            OfficerKeys(config.token_uri, config.pkcs11_module, pin),
            factors.SecretBox.load(config.secret_path),
            clock=clock,
            ca_passphrase=ca_passphrase,
            ca_pin=ca_pin,
        )

    def close(self) -> None:
        self.store.close()
        if self._ca is not None:
            self._ca.close()
        if self._ca_store is not None:
            self._ca_store.close()

    # --- the agency CA (enrollment) and its status answers ---------------------------------

    def authority(self) -> Any:
        """The agency CA with its key (for approving enrollments), opened on first use."""
        if self._ca is None:
            from thaisign.ca import Authority

            if self._ca_passphrase is None and self._ca_pin is None:
                raise CscError(
                    503,
                    "temporarily_unavailable",
                    "this replica holds no CA key: approve the request with 'thaisign service approve'",
                )
            self._ca = Authority.open(self.config.ca_path, passphrase=self._ca_passphrase, pin=self._ca_pin)
        return self._ca

    def revoked(self, serial: str) -> bool:
        """Whether the agency CA has revoked the certificate with this serial."""
        if self._ca_store is None:
            from thaisign.ca import CertificateStore

            self._ca_store = CertificateStore.open(self.config.ca_path)
        return bool(self._ca_store.status_of(int(serial, 16)).status == "revoked")

    # --- callers ---------------------------------------------------------------------------

    def caller(self, authorization: str | None) -> Caller:
        """The caller named by an ``Authorization: Bearer`` header, else a 401 :class:`CscError`."""
        if not authorization:
            raise CscError(401, "invalid_token", "an access token is required (Authorization: Bearer ...)")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CscError(401, "invalid_token", "use an OAuth2 bearer token (Authorization: Bearer ...)")
        try:
            return self.verifier.verify(token.strip())
        except TokenRejected as exc:
            raise CscError(401, "invalid_token", str(exc)) from None
        except ProviderUnavailable as exc:
            raise CscError(
                503, "temporarily_unavailable", f"cannot check tokens now: {exc.message}"
            ) from None

    # --- credentials -----------------------------------------------------------------------

    def credential_ids(
        self, caller: Caller, user_id: str | None, *, offset: int = 0, limit: int = 100
    ) -> list[str]:
        """The credentials of the caller (an officer), or of ``user_id`` for a back end."""
        subject = self._subject_for(caller, user_id)
        return self.store.credential_ids(subject, offset=offset, limit=limit)

    def _subject_for(self, caller: Caller, user_id: str | None) -> str:
        if caller.backend:
            if not user_id:
                raise bad_request("a back end with client credentials must name the officer (userID)")
            return user_id
        if user_id and user_id != caller.subject:
            raise CscError(403, "access_denied", "an officer may only list their own credentials")
        return caller.subject

    def credential(self, caller: Caller, credential_id: object) -> Credential:
        """The credential, if the caller may use it."""
        if not isinstance(credential_id, str) or not 0 < len(credential_id) <= 64:
            raise bad_request("missing or invalid credentialID")
        row = self.store.credential(credential_id)
        if row is None:
            raise bad_request("unknown credentialID")
        cred = Credential.from_row(row)
        if not caller.backend and cred.subject != caller.subject:
            raise CscError(403, "access_denied", "this credential belongs to another officer")
        return cred

    def certificate_status(self, cred: Credential, now: dt.datetime) -> str:
        """``valid``, ``expired``, ``revoked`` or ``suspended`` (not yet valid) at ``now``."""
        cert = cred.certificate
        if now > cert.not_valid_after_utc:
            return "expired"
        if now < cert.not_valid_before_utc:
            return "suspended"
        return "revoked" if self.revoked(cred.serial) else "valid"

    def _usable(self, cred: Credential, now: dt.datetime) -> None:
        if cred.status != "active":
            raise CscError(400, "invalid_request", "this credential is disabled")
        status = self.certificate_status(cred, now)
        if status != "valid":
            raise CscError(
                400, "invalid_request", f"the credential's certificate is {status}: it cannot sign"
            )

    # --- authorize -------------------------------------------------------------------------

    def authorize(
        self,
        caller: Caller,
        credential_id: object,
        *,
        hashes: object,
        num_signatures: object = None,
        hash_algo: object = None,
        pin: object = None,
        otp: object = None,
        description: object = None,
        peer: str | None = None,
    ) -> tuple[str, int]:
        """Check the second factor and issue a SAD bound to ``hashes`` (base64 digests)."""
        cred = self.credential(caller, credential_id)
        now = self.clock()
        digests, algo = parse_hashes(hashes, hash_algo, limit=self.config.max_batch)
        count = len(digests) if num_signatures is None else num_signatures
        if not isinstance(count, int) or isinstance(count, bool) or count != len(digests):
            raise bad_request(
                "numSignatures must equal the number of hashes: this service binds every SAD to its hashes"
            )
        self._usable(cred, now)
        if cred.locked_at is not None:
            raise CscError(403, "access_denied", self._locked_text())
        check = self._check_factor(cred, pin, otp, now)  # slow (scrypt): outside any transaction
        details: dict[str, Any] = {
            "credential": cred.id,
            "officer": cred.subject,
            "client": caller.client_id,
            "caller": caller.subject,
            "peer": peer,
            "factor": cred.factor,
        }
        sad = secrets.token_urlsafe(32)
        expires = now + dt.timedelta(seconds=self.config.auth.sad_seconds)
        refusal: CscError | None = None
        with self.store.write() as conn:
            fresh = Credential.from_row(self.store.credential(cred.id, conn, lock=True))
            if fresh.locked_at is not None:
                refusal = CscError(403, "access_denied", self._locked_text())
            elif check.ok and check.step is not None and check.step <= fresh.totp_last_step:
                check = _FactorCheck(False, None, replayed=True)  # the same code raced in elsewhere
            if refusal is None and check.ok:
                values: dict[str, Any] = {"failures": 0}
                if check.step is not None:
                    values["totp_last_step"] = check.step
                self.store.update_credential(conn, cred.id, **values)
                record = SadRecord(
                    cred.id, caller.subject, caller.client_id, algo, tuple(digests), len(digests), expires
                )
                self.store.add_sad(conn, _sad_hash(sad), record, now)
                details |= {"hashes": list(digests), "hash_algo": algo, "expires": expires.isoformat()}
                self.store.append_audit(conn, [("authorize", cred.serial, details)], now)
            elif refusal is None:
                failures = self.store.add_failure(conn, cred.id)
                events: list[tuple[str, str | None, dict[str, Any]]] = [
                    (
                        "authorize-failed",
                        cred.serial,
                        details | {"failures": failures, "replayed": check.replayed},
                    )
                ]
                refusal = self._wrong_factor(cred.factor, failures, check.replayed)
                if failures >= self.config.auth.max_failures:
                    self.store.update_credential(
                        conn, cred.id, locked_at=now.astimezone(dt.UTC).replace(tzinfo=None)
                    )
                    events.append(
                        ("credential-locked", cred.serial, {"credential": cred.id, "failures": failures})
                    )
                    refusal = CscError(403, "access_denied", self._locked_text())
                self.store.append_audit(conn, events, now)
        if refusal is not None:
            raise refusal
        self.stats.authorizations += 1
        return sad, self.config.auth.sad_seconds

    def _locked_text(self) -> str:
        return (
            f"this credential is locked after {self.config.auth.max_failures} wrong tries: "
            "ask the agency operator to unlock it"
        )

    def _wrong_factor(self, factor: str, failures: int, replayed: bool) -> CscError:
        left = max(self.config.auth.max_failures - failures, 0)
        if factor == "pin":
            return CscError(400, "invalid_pin", f"wrong PIN; {left} tries left before the credential locks")
        what = "this one-time code was used already" if replayed else "wrong one-time code (OTP)"
        return CscError(400, "invalid_otp", f"{what}; {left} tries left before the credential locks")

    def _check_factor(self, cred: Credential, pin: object, otp: object, now: dt.datetime) -> _FactorCheck:
        if cred.factor == "pin":
            if not isinstance(pin, str) or not pin:
                raise bad_request("this credential needs its PIN (PIN)")
            ok = len(pin) <= factors.MAX_SECRET_CHARS and factors.check_pin(pin, cred.pin_hash or "")
            return _FactorCheck(ok, None)
        if not isinstance(otp, str) or not otp:
            raise bad_request("this credential needs a one-time code from the officer's authenticator (OTP)")
        if cred.totp_secret is None:
            raise CscError(500, "server_error", "the credential has no TOTP seed")
        seed = self.box.open(cred.totp_secret, cred.id)
        a = self.config.auth
        code = otp[: factors.MAX_SECRET_CHARS]
        step = factors.check_totp(
            seed, code, now, last_step=cred.totp_last_step, digits=a.totp_digits, period=a.totp_period
        )
        if step is not None:
            return _FactorCheck(True, step)
        used = factors.check_totp(seed, code, now, last_step=-1, digits=a.totp_digits, period=a.totp_period)
        return _FactorCheck(False, None, replayed=used is not None)

    # --- signHash --------------------------------------------------------------------------

    def sign_hash(
        self,
        caller: Caller,
        credential_id: object,
        *,
        sad: object,
        hashes: object,
        sign_algo: object,
        hash_algo: object = None,
        sign_algo_params: object = None,
        peer: str | None = None,
    ) -> list[bytes]:
        """Sign the digests a SAD authorised; the SAD is used up whatever the outcome."""
        job = self.prepare_sign_hash(
            caller,
            credential_id,
            sad=sad,
            hashes=hashes,
            sign_algo=sign_algo,
            hash_algo=hash_algo,
            sign_algo_params=sign_algo_params,
            peer=peer,
        )
        result = self.run_sign_jobs([job])[0]
        if isinstance(result, CscError):
            raise result
        return result

    def prepare_sign_hash(
        self,
        caller: Caller,
        credential_id: object,
        *,
        sad: object,
        hashes: object,
        sign_algo: object,
        hash_algo: object = None,
        sign_algo_params: object = None,
        peer: str | None = None,
    ) -> SignJob:
        """Check a signHash request as far as it can be checked without the database."""
        cred = self.known_credential(caller, credential_id)
        digests, algo = parse_hashes(hashes, hash_algo, limit=self.config.max_batch)
        h, pss = signature_plan(cred, sign_algo, hash_algo, sign_algo_params, algo)
        if not isinstance(sad, str) or not 0 < len(sad) <= 512:
            raise bad_request("missing or invalid SAD")
        signer = self.keys.signer(cred.id, cred.key_uri, cred.certificate, cred.chain, pss=pss)
        details: dict[str, Any] = {
            "credential": cred.id,
            "officer": cred.subject,
            "client": caller.client_id,
            "caller": caller.subject,
            "peer": peer,
            "replica": self.replica,
        }
        return SignJob(cred, caller, _sad_hash(sad), digests, algo, h, str(sign_algo), signer, details)

    def run_sign_jobs(self, jobs: Sequence[SignJob]) -> list[list[bytes] | CscError]:
        """Carry out signHash requests together: one transaction consumes their SADs, the token
        signs, and one audit append records them all (group commit; see :mod:`._hotpath`).

        Revocation was checked when each SAD was issued, which bounds the window to its lifetime.
        """
        from thaisign.service._hotpath import sign_transaction

        now = self.clock()
        results: list[list[bytes] | CscError] = []
        events: list[tuple[str, str | None, dict[str, Any]]] = []
        with sign_transaction(self.store) as tx:
            consumed = tx.consume_sads(list(dict.fromkeys(j.sad_hash for j in jobs)), now, self.replica)
            for job in jobs:
                record, status = consumed.pop(job.sad_hash, (None, "active"))  # a SAD twice: only once
                refusal = _check_sad(record, job.credential, job.caller, job.digests, job.algo, now)
                cert = job.credential.certificate
                if refusal is None and status != "active":
                    refusal = CscError(400, "invalid_request", "this credential is disabled")
                if refusal is None and not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                    refusal = CscError(
                        400, "invalid_request", "the credential's certificate is not valid now"
                    )
                if refusal is not None:
                    events.append(
                        ("sign-refused", job.credential.serial, job.details | {"reason": refusal.description})
                    )
                    results.append(refusal)
                    continue
                try:
                    signatures = [
                        job.signer.sign_digest(base64.b64decode(d), hash_algorithm=job.hash)
                        for d in job.digests
                    ]
                except ThaisignError as exc:
                    events.append(
                        ("sign-failed", job.credential.serial, job.details | {"reason": exc.message[:300]})
                    )
                    results.append(
                        CscError(503, "temporarily_unavailable", f"the HSM did not sign: {exc.message}")
                    )
                    continue
                event = job.details | {
                    "hashes": list(job.digests),
                    "hash_algo": job.hash,
                    "sign_algo": job.sign_algo,
                }
                events.append(("sign-hash", job.credential.serial, event))
                results.append(signatures)
                self.stats.signatures += len(signatures)
            tx.append_audit(events, now)
        return results

    def known_credential(self, caller: Caller, credential_id: object) -> Credential:
        """The credential's certificate, chain and owner (never change) from a per-process cache;
        its status, lock and factor state are read where they matter."""
        if isinstance(credential_id, str):
            cached = self._known.get(credential_id)
            if cached is not None:
                if not caller.backend and cached.subject != caller.subject:
                    raise CscError(403, "access_denied", "this credential belongs to another officer")
                return cached
        cred = self.credential(caller, credential_id)
        if len(self._known) >= 10000:
            self._known.clear()
        self._known[cred.id] = cred
        return cred

    # --- signDoc ---------------------------------------------------------------------------

    def sign_doc(
        self,
        caller: Caller,
        credential_id: object,
        *,
        sad: object,
        documents: Sequence[DocumentToSign],
        peer: str | None = None,
    ) -> list[bytes]:
        """Sign whole PDFs (PAdES) whose digests a SAD authorised (revocation checked at authorize)."""
        from thaisign.pades.signer import SigningOptions, sign_pdf_bytes
        from thaisign.service._hotpath import sign_transaction

        cred = self.known_credential(caller, credential_id)
        if not documents or len(documents) > self.config.max_batch:
            raise bad_request(f"send 1 to {self.config.max_batch} documents")
        if not isinstance(sad, str) or not 0 < len(sad) <= 512:
            raise bad_request("missing or invalid SAD")
        for doc in documents:
            if doc.level != "B-B" and not self.config.tsa:
                raise bad_request(
                    f"level {doc.level} needs a time-stamping authority, and this service has none"
                )
        now = self.clock()
        details: dict[str, Any] = {
            "credential": cred.id,
            "officer": cred.subject,
            "client": caller.client_id,
            "caller": caller.subject,
            "peer": peer,
            "replica": self.replica,
        }
        with sign_transaction(self.store) as tx:
            consumed = tx.consume_sad(_sad_hash(sad), now, self.replica)
            record, status = consumed if consumed is not None else (None, "active")
            algo = record.hash_algo if record is not None else "sha256"
            digests = [base64.b64encode(hashlib.new(algo, d.data).digest()).decode() for d in documents]
            refusal = _check_sad(record, cred, caller, digests, algo, now)
            if refusal is None and status != "active":
                refusal = CscError(400, "invalid_request", "this credential is disabled")
            cert = cred.certificate
            if refusal is None and not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                refusal = CscError(400, "invalid_request", "the credential's certificate is not valid now")
            if refusal is not None:
                tx.append_audit(
                    [("sign-refused", cred.serial, details | {"reason": refusal.description})], now
                )
        if refusal is not None:
            raise refusal
        signer = self.keys.signer(cred.id, cred.key_uri, cred.certificate, cred.chain)
        roots = tuple(c for c in cred.chain if c.subject == c.issuer)
        signed: list[bytes] = []
        for doc in documents:
            options = SigningOptions(
                level=doc.level,  # type: ignore[arg-type]
                tsa=self.config.tsa,
                page=doc.page,
                rect=doc.rect,
                field=doc.field,
                anchor_text=doc.anchor_text,
                reason=doc.reason,
                location=doc.location,
                certify="form-filling" if doc.certify else None,
                # taken per letter, just before signing: B-LT/B-LTA validate the chain at this
                # time with OCSP answers fetched a moment later, which must not look "too recent"
                signing_time=self.clock(),
                trust_roots=roots,
            )
            try:
                signed.append(sign_pdf_bytes(doc.data, signer, options))
            except ThaisignError as exc:
                with sign_transaction(self.store) as tx:
                    tx.append_audit(
                        [("sign-failed", cred.serial, details | {"reason": exc.message[:300]})], now
                    )
                raise CscError(
                    400, "invalid_request", f"cannot sign document {len(signed) + 1}: {exc.message}"
                ) from None
        event = details | {
            "documents": [
                {"sha256_in": digests[i], "sha256_out": _b64sha256(out), "level": documents[i].level}
                for i, out in enumerate(signed)
            ]
        }
        with sign_transaction(self.store) as tx:
            tx.append_audit([("sign-doc", cred.serial, event)], now)
        self.stats.signatures += len(signed)
        return signed


# --- helpers ----------------------------------------------------------------------------------


def _sad_hash(sad: str) -> str:
    return hashlib.sha256(sad.encode("utf-8", "replace")).hexdigest()


def _b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def parse_hashes(hashes: object, hash_algo: object, *, limit: int) -> tuple[list[str], str]:
    """Canonical base64 digests and the hash algorithm name; a 400 :class:`CscError` if malformed."""
    if not isinstance(hashes, list) or not hashes:
        raise bad_request("hash must be a non-empty list of base64 digests (this service binds every SAD)")
    if len(hashes) > limit:
        raise bad_request(f"at most {limit} hashes per request")
    raw: list[bytes] = []
    for h in hashes:
        if not isinstance(h, str) or len(h) > 200:
            raise bad_request("every hash must be a base64 string")
        try:
            raw.append(
                base64.b64decode(h.replace("-", "+").replace("_", "/") + "=" * (-len(h) % 4), validate=True)
            )
        except (binascii.Error, ValueError):
            raise bad_request("a hash is not valid base64") from None
    lengths = {len(r) for r in raw}
    if hash_algo is not None:
        if not isinstance(hash_algo, str) or hash_algo not in HASH_OIDS:
            raise bad_request("hashAlgo must be the OID of SHA-256, SHA-384 or SHA-512")
        algo = HASH_OIDS[hash_algo]
    elif len(lengths) == 1 and next(iter(lengths)) in HASH_BY_LENGTH:
        algo = HASH_BY_LENGTH[next(iter(lengths))]
    else:
        raise bad_request("hashes must all be SHA-256, SHA-384 or SHA-512 digests of one kind")
    size = hashlib.new(algo).digest_size
    if lengths != {size}:
        raise bad_request(f"every hash must be a {algo} digest ({size} bytes)")
    return [base64.b64encode(r).decode() for r in raw], algo


def signature_plan(
    cred: Credential, sign_algo: object, hash_algo: object, params: object, digest_algo: str
) -> tuple[str, bool]:
    """(hash name, PSS?) for a ``signAlgo`` (+ ``hashAlgo``/``signAlgoParams``) on this key."""
    if not isinstance(sign_algo, str):
        raise bad_request("signAlgo (an OID) is required")
    if cred.key_spec.kind == "ec":
        if sign_algo in ECDSA:
            h = ECDSA[sign_algo]
        elif sign_algo == EC_PUBLIC_KEY and hash_algo is not None:
            h = digest_algo
        else:
            raise bad_request(f"signAlgo {sign_algo[:60]} does not fit this credential's EC key")
        pss = False
    elif sign_algo in RSA_PKCS1:
        h, pss = RSA_PKCS1[sign_algo], False
    elif sign_algo == RSA_ENCRYPTION and hash_algo is not None:
        h, pss = digest_algo, False
    elif sign_algo == RSA_PSS:
        h, pss = _pss_hash(params), True
    else:
        raise bad_request(f"signAlgo {sign_algo[:60]} does not fit this credential's RSA key")
    if h != digest_algo:
        raise bad_request(f"signAlgo uses {h} but the hashes are {digest_algo} digests")
    return h, pss


def _pss_hash(params: object) -> str:
    from asn1crypto.algos import RSASSAPSSParams

    if not isinstance(params, str):
        raise bad_request("RSASSA-PSS needs signAlgoParams (base64 DER RSASSA-PSS-params)")
    try:
        parsed = RSASSAPSSParams.load(base64.b64decode(params, validate=True))
        h = parsed["hash_algorithm"]["algorithm"].native
        mgf = parsed["mask_gen_algorithm"]["parameters"]["algorithm"].native
        salt = parsed["salt_length"].native
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise bad_request("signAlgoParams is not a valid RSASSA-PSS-params structure") from None
    if h not in OID_OF_HASH or mgf != h or salt != hashlib.new(h).digest_size:
        raise bad_request(
            "RSASSA-PSS is supported with MGF1 over the same hash and a salt of the hash's length"
        )
    return str(h)


def _check_sad(
    record: SadRecord | None,
    cred: Credential,
    caller: Caller,
    digests: list[str],
    algo: str,
    now: dt.datetime,
) -> CscError | None:
    """Why a consumed SAD does not cover this request, or None when it does."""
    if record is None:
        return CscError(400, "invalid_request", "the SAD is unknown or was used already: authorize again")
    if now >= record.expires_at:
        return CscError(400, "invalid_request", "the SAD expired: authorize again")
    if record.credential_id != cred.id:
        return CscError(400, "invalid_request", "the SAD was issued for another credential")
    if record.subject != caller.subject or record.client_id != caller.client_id:
        return CscError(400, "invalid_request", "the SAD was issued to another caller")
    if len(digests) > record.num_signatures:
        return CscError(
            400,
            "invalid_request",
            f"the SAD authorises {record.num_signatures} signature(s), not {len(digests)}",
        )
    if record.hash_algo != algo:
        return CscError(400, "invalid_request", f"the SAD authorises {record.hash_algo} digests, not {algo}")
    if Counter(digests) - Counter(record.hashes):
        return CscError(400, "invalid_request", "the SAD does not authorise these hashes")
    return None


def key_description(cred: Credential) -> dict[str, Any]:
    """The ``key`` object of credentials/info."""
    spec = key_spec_of(cred.certificate.public_key())
    key: dict[str, Any] = {
        "status": "enabled" if cred.status == "active" and cred.locked_at is None else "disabled",
        "algo": cred.sign_algorithms(),
        "len": spec.size,
    }
    if spec.kind == "ec":
        key["curve"] = CURVE_OIDS.get(spec.size, "")
    return key
