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
import datetime as dt
import hashlib
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from thaisign.errors import ThaisignError
from thaisign.service import factors
from thaisign.service.config import ServiceConfig
from thaisign.service.model import (
    Credential,
    CscError,
    DocumentToSign,
    SignJob,
    bad_request,
)
from thaisign.service.oidc import Caller, ProviderUnavailable, TokenRejected, TokenVerifier
from thaisign.service.rules import check_sad, parse_hashes, signature_plan
from thaisign.service.store import SadRecord, ServiceStore
from thaisign.service.tokenkeys import OfficerKeys

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class _FactorCheck:
    """The outcome of checking a PIN or a one-time code."""

    ok: bool
    step: int | None  # the TOTP time step the code matched
    replayed: bool = False  # a correct code that was used already


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
        details = self._audit_details(cred, caller, peer) | {"factor": cred.factor}
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

    def _audit_details(self, cred: Credential, caller: Caller, peer: str | None) -> dict[str, Any]:
        """Who did what with which credential, for every audit entry about a signature."""
        return {
            "credential": cred.id,
            "officer": cred.subject,
            "client": caller.client_id,
            "caller": caller.subject,
            "peer": peer,
            "replica": self.replica,
        }

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
        details = self._audit_details(cred, caller, peer)
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
                refusal = check_sad(record, job.credential, job.caller, job.digests, job.algo, now)
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
        details = self._audit_details(cred, caller, peer)
        # B-B needs no network while signing: SAD, signatures and audit in one transaction; B-T and
        # above fetch time-stamps and OCSP answers, which no database transaction should wait for
        local = all(doc.level == "B-B" for doc in documents)
        outcome: tuple[list[bytes], CscError | None, tuple[str, str | None, dict[str, Any]]] | None = None
        with sign_transaction(self.store) as tx:
            consumed = tx.consume_sad(_sad_hash(sad), now, self.replica)
            record, status = consumed if consumed is not None else (None, "active")
            algo = record.hash_algo if record is not None else "sha256"
            digests = [base64.b64encode(hashlib.new(algo, d.data).digest()).decode() for d in documents]
            refusal = check_sad(record, cred, caller, digests, algo, now)
            if refusal is None and status != "active":
                refusal = CscError(400, "invalid_request", "this credential is disabled")
            cert = cred.certificate
            if refusal is None and not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                refusal = CscError(400, "invalid_request", "the credential's certificate is not valid now")
            if refusal is not None:
                tx.append_audit(
                    [("sign-refused", cred.serial, details | {"reason": refusal.description})], now
                )
            elif local:
                outcome = self._sign_documents(cred, documents, digests, details)
                tx.append_audit([outcome[2]], now)
        if refusal is not None:
            raise refusal
        if outcome is None:
            outcome = self._sign_documents(cred, documents, digests, details)
            with sign_transaction(self.store) as tx:
                tx.append_audit([outcome[2]], now)
        signed, failure, _ = outcome
        if failure is not None:
            raise failure
        self.stats.signatures += len(signed)
        return signed

    def _sign_documents(
        self,
        cred: Credential,
        documents: Sequence[DocumentToSign],
        digests: list[str],
        details: dict[str, Any],
    ) -> tuple[list[bytes], CscError | None, tuple[str, str | None, dict[str, Any]]]:
        """(signed PDFs, the failure if one could not be signed, the audit event)."""
        from thaisign.pades.signer import SigningOptions, sign_pdf_bytes

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
                # the service checked the credential itself (status, validity, the CA store's
                # revocations) just before: no second, network-bound check per letter
                signer_check="off",
            )
            try:
                signed.append(sign_pdf_bytes(doc.data, signer, options))
            except ThaisignError as exc:
                failure = CscError(
                    400, "invalid_request", f"cannot sign document {len(signed) + 1}: {exc.message}"
                )
                return signed, failure, ("sign-failed", cred.serial, details | {"reason": exc.message[:300]})
        event = details | {
            "documents": [
                {"sha256_in": digests[i], "sha256_out": _b64sha256(out), "level": documents[i].level}
                for i, out in enumerate(signed)
            ]
        }
        return signed, None, ("sign-doc", cred.serial, event)


# --- helpers ----------------------------------------------------------------------------------


def _sad_hash(sad: str) -> str:
    return hashlib.sha256(sad.encode("utf-8", "replace")).hexdigest()


def _b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()
