"""Enrollment: an officer asks for a signing certificate, an agency operator approves, the key is
made in the token, the agency CA issues the certificate, and the credential appears in
``credentials/list``. Each step is appended to the service's audit chain.

>>> req = request_enrollment(service, caller, {"name_th": "นายสมชาย ใจดี", "position": "นักวิชาการ"})
>>> approved = approve(service, req.id, operator="op:somsri")
>>> approved.credential_id, approved.serial
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import insert, update

from thaisign.ca import OfficerProfile, serial_hex
from thaisign.errors import ProfileError, ThaisignError
from thaisign.service import factors
from thaisign.service.core import CscService
from thaisign.service.model import CscError, bad_request
from thaisign.service.oidc import Caller
from thaisign.service.store import aware, credentials, enrollments, naive

PROFILE_FIELDS = ("name_th", "position", "name_en", "given_name", "surname", "ou", "email", "employee_id")


@dataclass(frozen=True)
class Enrollment:
    """One enrollment request as stored (never with the PIN hash)."""

    id: str
    subject: str
    status: str
    details: dict[str, Any]
    requested_at: dt.datetime
    decided_at: dt.datetime | None
    decided_by: str | None
    reason: str | None
    credential_id: str | None
    secret_delivered: bool

    @classmethod
    def from_row(cls, row: Any) -> Enrollment:
        return cls(
            id=row.id,
            subject=row.subject,
            status=row.status,
            details=json.loads(row.details),
            requested_at=aware(row.requested_at),  # type: ignore[arg-type]
            decided_at=aware(row.decided_at),
            decided_by=row.decided_by,
            reason=row.reason,
            credential_id=row.credential_id,
            secret_delivered=bool(row.secret_delivered),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "requestID": self.id,
            "subject": self.subject,
            "status": self.status,
            "officer": self.details,
            "requestedAt": self.requested_at.isoformat(),
            "decidedAt": self.decided_at.isoformat() if self.decided_at else None,
            "decidedBy": self.decided_by,
            "reason": self.reason,
            "credentialID": self.credential_id,
        }


@dataclass(frozen=True)
class Approved:
    request_id: str
    credential_id: str
    serial: str
    key_uri: str


def _profile(fields: dict[str, Any]) -> OfficerProfile:
    unknown = sorted(set(fields) - set(PROFILE_FIELDS))
    if unknown:
        raise bad_request(f"unknown officer field(s): {', '.join(u[:40] for u in unknown[:5])}")
    values: dict[str, Any] = {}
    for name in PROFILE_FIELDS:
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            raise bad_request(f"{name} must be a string")
        if isinstance(value, str) and any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
            raise bad_request(f"{name} contains control characters or invisible formatting (bidi) characters")
        values[name] = value
    try:
        return OfficerProfile(**values).validated()
    except ProfileError as exc:
        raise bad_request(exc.message) from None
    except TypeError:
        raise bad_request("name_th and position are required") from None


def request_enrollment(
    service: CscService,
    caller: Caller,
    fields: dict[str, Any],
    *,
    pin: object = None,
    peer: str | None = None,
) -> Enrollment:
    """Record an officer's request for a signing certificate (pending until an operator decides)."""
    if caller.backend:
        raise CscError(
            403, "access_denied", "an officer requests a certificate with their own login, not a back end"
        )
    profile = _profile(fields)
    pin_hash = None
    if service.config.auth.factor == "pin":
        if not isinstance(pin, str):
            raise bad_request("this agency signs with a PIN: choose one (PIN) when you ask for a certificate")
        problem = factors.check_pin_format(pin, service.config.auth.pin_min_length)
        if problem:
            raise bad_request(problem)
        pin_hash = factors.hash_pin(pin)
    elif pin is not None:
        raise bad_request("this agency signs with one-time codes: send no PIN")
    details = {k: v for k, v in vars(profile).items() if k in PROFILE_FIELDS and v is not None}
    now = service.clock()
    request_id = "r-" + secrets.token_hex(8)
    with service.store.write() as conn:
        pending = conn.execute(
            enrollments.select().where(
                enrollments.c.subject == caller.subject, enrollments.c.status == "pending"
            )
        ).first()
        if pending is not None:
            raise CscError(409, "invalid_request", f"request {pending.id} is still waiting for the operator")
        conn.execute(
            insert(enrollments).values(
                id=request_id,
                subject=caller.subject,
                client_id=caller.client_id,
                status="pending",
                details=json.dumps(details, ensure_ascii=False),
                pin_hash=pin_hash,
                requested_at=naive(now),
                secret_delivered=False,
            )
        )
        audit = {
            "request": request_id,
            "officer": caller.subject,
            "client": caller.client_id,
            "peer": peer,
        } | details
        service.store.append_audit(conn, [("enroll-request", None, audit)], now)
        row = service.store.enrollment(conn, request_id)
    return Enrollment.from_row(row)


def get_enrollment(service: CscService, request_id: str) -> Enrollment:
    with service.store.read() as conn:
        row = service.store.enrollment(conn, request_id)
    if row is None:
        raise CscError(404, "invalid_request", "no such enrollment request")
    return Enrollment.from_row(row)


def list_enrollments(
    service: CscService, subject: str | None = None, status: str | None = None
) -> list[Enrollment]:
    return [Enrollment.from_row(r) for r in service.store.enrollments_of(subject, status)]


#: an approval that has not finished after this long was interrupted; another may take it over
STALE_APPROVAL = dt.timedelta(minutes=10)


def _claim(service: CscService, request_id: str, operator: str) -> Any:
    """Move a pending request to ``approving`` (only one operator or replica can)."""
    now = service.clock()
    with service.store.write() as conn:
        row = service.store.enrollment(conn, request_id, lock=True)
        if row is None:
            raise CscError(404, "invalid_request", "no such enrollment request")
        stale = row.status == "approving" and (aware(row.decided_at) or now) <= now - STALE_APPROVAL
        if row.status != "pending" and not stale:
            raise CscError(409, "invalid_request", f"request {request_id} is {row.status}, not pending")
        conn.execute(
            update(enrollments)
            .where(enrollments.c.id == request_id, enrollments.c.status == row.status)
            .values(status="approving", decided_by=operator[:255], decided_at=naive(now))
        )
        return row


def approve(service: CscService, request_id: str, *, operator: str) -> Approved:
    """Make the officer's key in the token, have the agency CA certify it, create the credential."""
    row = _claim(service, request_id, operator)
    now = service.clock()
    details = json.loads(row.details)
    credential_id = secrets.token_hex(8)
    key_uri: str | None = None
    try:
        ca = service.authority()
        made = service.keys.generate(credential_id, service.config.key)
        key_uri = str(made.uri)
        issued = ca.issue_officer(OfficerProfile(**details), public_key=made.public_key, now=now)
        chain_pem = b"".join(c.public_bytes(Encoding.PEM) for c in ca.chain).decode("ascii")
        sealed = None
        if service.config.auth.factor == "totp":
            sealed = service.box.seal(factors.new_totp_secret(), credential_id)
        with service.store.write() as conn:
            conn.execute(
                insert(credentials).values(
                    id=credential_id,
                    subject=row.subject,
                    enrollment_id=request_id,
                    key_uri=key_uri,
                    key_spec=str(made.key_spec),
                    certificate=issued.der,
                    chain_pem=chain_pem,
                    serial=serial_hex(issued.serial),
                    status="active",
                    factor=service.config.auth.factor,
                    pin_hash=row.pin_hash,
                    totp_secret=sealed,
                    totp_last_step=0,
                    failures=0,
                    created_at=naive(now),
                    description=details.get("name_th"),
                )
            )
            conn.execute(
                update(enrollments)
                .where(enrollments.c.id == request_id)
                .values(status="approved", decided_at=naive(now), credential_id=credential_id, pin_hash=None)
            )
            event = {
                "request": request_id,
                "officer": row.subject,
                "operator": operator,
                "credential": credential_id,
                "key_uri": key_uri,
                "key": str(made.key_spec),
                "certificate_sha256": issued.certificate.fingerprint(_sha256()).hex(),
            }
            service.store.append_audit(conn, [("enroll-approve", serial_hex(issued.serial), event)], now)
    except BaseException as exc:
        _undo(service, request_id, key_uri, operator, exc, now)
        raise
    return Approved(request_id, credential_id, serial_hex(issued.serial), key_uri)


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def _undo(
    service: CscService,
    request_id: str,
    key_uri: str | None,
    operator: str,
    exc: BaseException,
    now: dt.datetime,
) -> None:
    """Put a failed approval back to pending, remove a key made for it, and audit the failure."""
    if key_uri is not None:
        with contextlib.suppress(Exception):  # the failure below is what the operator must see
            service.keys.destroy(key_uri)
    reason = (
        exc.message
        if isinstance(exc, ThaisignError)
        else (exc.description if isinstance(exc, CscError) else type(exc).__name__)
    )
    try:
        with service.store.write() as conn:
            conn.execute(
                update(enrollments)
                .where(enrollments.c.id == request_id, enrollments.c.status == "approving")
                .values(status="pending", decided_by=None, decided_at=None)
            )
            service.store.append_audit(
                conn,
                [
                    (
                        "enroll-failed",
                        None,
                        {"request": request_id, "operator": operator, "reason": reason[:300]},
                    )
                ],
                now,
            )
    except ThaisignError:
        pass


def reject(service: CscService, request_id: str, *, operator: str, reason: str) -> Enrollment:
    """Refuse a pending request, saying why."""
    reason = " ".join(str(reason).split())[:500]
    if not reason:
        raise bad_request("say why the request is rejected (reason)")
    now = service.clock()
    with service.store.write() as conn:
        row = service.store.enrollment(conn, request_id, lock=True)
        if row is None:
            raise CscError(404, "invalid_request", "no such enrollment request")
        if row.status != "pending":
            raise CscError(409, "invalid_request", f"request {request_id} is {row.status}, not pending")
        conn.execute(
            update(enrollments)
            .where(enrollments.c.id == request_id)
            .values(
                status="rejected",
                decided_at=naive(now),
                decided_by=operator[:255],
                reason=reason,
                pin_hash=None,
            )
        )
        event = {"request": request_id, "officer": row.subject, "operator": operator, "reason": reason}
        service.store.append_audit(conn, [("enroll-reject", None, event)], now)
        row = service.store.enrollment(conn, request_id)
    return Enrollment.from_row(row)


def deliver_totp(service: CscService, caller: Caller, request_id: str) -> str | None:
    """The ``otpauth://`` URI for the officer's authenticator, handed out once after approval."""
    now = service.clock()
    with service.store.write() as conn:
        row = service.store.enrollment(conn, request_id, lock=True)
        if row is None or row.subject != caller.subject:
            raise CscError(404, "invalid_request", "no such enrollment request")
        if row.status != "approved" or row.secret_delivered or service.config.auth.factor != "totp":
            return None
        cred = service.store.credential(row.credential_id, conn)
        seed = service.box.open(cred.totp_secret, cred.id)
        conn.execute(update(enrollments).where(enrollments.c.id == request_id).values(secret_delivered=True))
        event = {
            "request": request_id,
            "officer": caller.subject,
            "credential": cred.id,
            "client": caller.client_id,
        }
        service.store.append_audit(conn, [("totp-delivered", cred.serial, event)], now)
    a = service.config.auth
    account = json.loads(row.details).get("name_th") or caller.subject
    return factors.totp_uri(
        seed, account=account, issuer=service.config.name, digits=a.totp_digits, period=a.totp_period
    )


def unlock(service: CscService, credential_id: str, *, operator: str) -> None:
    """Clear a credential's lock-out after wrong PINs or codes."""
    now = service.clock()
    with service.store.write() as conn:
        cred = service.store.credential(credential_id, conn)
        if cred is None:
            raise CscError(404, "invalid_request", "unknown credentialID")
        service.store.update_credential(conn, credential_id, failures=0, locked_at=None)
        event = {"credential": credential_id, "operator": operator, "failures": int(cred.failures or 0)}
        service.store.append_audit(conn, [("credential-unlocked", cred.serial, event)], now)


def set_status(service: CscService, credential_id: str, status: str, *, operator: str) -> None:
    """Enable (``active``) or disable (``disabled``) a credential."""
    if status not in ("active", "disabled"):
        raise bad_request("status must be active or disabled")
    now = service.clock()
    with service.store.write() as conn:
        cred = service.store.credential(credential_id, conn)
        if cred is None:
            raise CscError(404, "invalid_request", "unknown credentialID")
        service.store.update_credential(conn, credential_id, status=status)
        event = {"credential": credential_id, "operator": operator, "status": status}
        service.store.append_audit(
            conn,
            [("credential-" + ("enabled" if status == "active" else "disabled"), cred.serial, event)],
            now,
        )
    service.keys.forget(credential_id)
