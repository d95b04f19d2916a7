"""What an authenticated operator does on the platform — and nothing else.

>>> with platform.session(ApiToken(os.environ["THAISIGN_PLATFORM_TOKEN"])) as s:
...     issued = s.issue("dla", OfficerProfile(name_th="นายสมชาย ใจดี", position="ผู้อำนวยการกอง"), csr=csr)
...     s.revoke("dla", issued.serial, "keyCompromise")

Every method checks the operator's role and agency first. An agency outside the operator's scope
is answered exactly like one that does not exist (:class:`~thaisign.errors.AgencyNotFoundError`),
and a certificate of another agency like an unknown serial. Every change is recorded in the audit
chain it belongs to (the agency CA's, the issuing CA's, the platform's) with the operator's
identity: name, operator id, role, agency, and the credential used (token id or OIDC subject).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from sqlalchemy import select

from thaisign.ca.audit import AuditEntry
from thaisign.ca.authority import IssuedOfficer, load_csr
from thaisign.ca.profiles import OfficerProfile
from thaisign.ca.store import (
    CertificateStatus,
    GuardFailed,
    IssuedCertificate,
    NewCertificate,
    parse_serial,
    serial_hex,
)
from thaisign.errors import AccessDenied, AgencyNotFoundError, CAError, SerialNotFoundError, UsageError
from thaisign.platform import _tables as T
from thaisign.platform.access import (
    ROLES,
    ApiToken,
    Credential,
    OidcToken,
    Operator,
    Principal,
    Role,
    digest_matches,
    new_token,
)
from thaisign.platform.profile import Agency, AgencyProfile, CaKey
from thaisign.platform.store import PlatformActor, PlatformCheck

if TYPE_CHECKING:
    from thaisign.ca.integrity import IntegrityReport
    from thaisign.platform.core import IssuingState, Platform, PlatformCa
    from thaisign.platform.figures import Figures

__all__ = ["Session", "authenticate"]

#: issuing transactions guarded by the kept state before one as without it (read anew, unguarded)
_GUARDED_TRIES = 3


def authenticate(platform: Platform, credential: Credential) -> Principal:
    """The operator a credential names, or :class:`~thaisign.errors.AccessDenied`."""
    if isinstance(credential, ApiToken):
        return _by_token(platform, credential)
    if isinstance(credential, OidcToken):
        return _by_oidc(platform, credential)
    raise AccessDenied("give an ApiToken or an OidcToken")


_BAD_TOKEN = "the API token is unknown, revoked or expired"


def _by_token(platform: Platform, credential: ApiToken) -> Principal:
    token_id, secret = credential.parts()
    now = platform.clock()
    with platform.db.read() as conn:
        row = conn.execute(select(T.tokens).where(T.tokens.c.id == token_id)).mappings().first()
    if row is None or not digest_matches(secret, row["secret_sha256"]) or row["revoked_at"] is not None:
        raise AccessDenied(_BAD_TOKEN, hint="ask a platform administrator for a new one")
    expires = row["expires_at"]
    if expires is not None and now >= expires.replace(tzinfo=dt.UTC):
        raise AccessDenied(_BAD_TOKEN, hint="ask a platform administrator for a new one")
    return _principal(platform, int(row["operator_id"]), f"token:{token_id}")


def _by_oidc(platform: Platform, credential: OidcToken) -> Principal:
    from thaisign.service.oidc import ProviderUnavailable, TokenRejected, TokenVerifier

    settings = platform.config.oidc
    if settings is None:
        raise AccessDenied("this platform takes no OpenID Connect logins", hint="use an API token")
    if platform._verifier is None:
        platform._verifier = TokenVerifier(settings, clock=platform.clock)
    try:
        caller = platform._verifier.verify(credential.value.strip())
    except TokenRejected as exc:
        raise AccessDenied(f"login refused: {exc}") from None
    except ProviderUnavailable as exc:
        raise AccessDenied(f"the OpenID provider cannot be reached: {exc.message}") from None
    with platform.db.read() as conn:
        row = conn.execute(
            select(T.operators.c.id).where(T.operators.c.oidc_subject == caller.subject)
        ).first()
    if row is None:
        raise AccessDenied(
            "this login is no operator of the platform", hint="a platform administrator appoints operators"
        )
    return _principal(platform, int(row[0]), f"oidc:{caller.subject}")


def resume(platform: Platform, operator_id: int, via: str) -> Principal:
    """The operator of a login made before (a web page's session): still enabled, and a token
    it came with still neither revoked nor expired."""
    if via.startswith("token:"):
        with platform.db.read() as conn:
            row = conn.execute(select(T.tokens).where(T.tokens.c.id == via[6:])).mappings().first()
        expires = row["expires_at"] if row is not None else None
        if (
            row is None
            or int(row["operator_id"]) != operator_id
            or row["revoked_at"] is not None
            or (expires is not None and platform.clock() >= expires.replace(tzinfo=dt.UTC))
        ):
            raise AccessDenied(_BAD_TOKEN)
    elif not via.startswith("oidc:"):
        raise AccessDenied("not a login of this platform")
    return _principal(platform, operator_id, via)


def _principal(platform: Platform, operator_id: int, via: str) -> Principal:
    with platform.db.read() as conn:
        row = conn.execute(select(T.operators).where(T.operators.c.id == operator_id)).mappings().first()
    if row is None or row["disabled_at"] is not None:
        raise AccessDenied("this operator is disabled", hint="ask a platform administrator")
    slug = None
    if row["agency_id"] is not None:
        agency = platform.db.agency_by_id(int(row["agency_id"]))
        slug = agency.slug if agency else None
    return Principal(int(row["id"]), str(row["name"]), row["role"], row["agency_id"], slug, via)


class Session:
    """An operator's session (see the module docstring)."""

    def __init__(self, platform: Platform, principal: Principal) -> None:
        self.platform = platform
        self.principal = principal
        name, details = principal.audit_identity()
        self.actor = PlatformActor(name, details)

    def __repr__(self) -> str:
        p = self.principal
        return f"<Session {p.name!r} {p.role}{' of ' + p.agency_slug if p.agency_slug else ''}>"

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    # --- checks --------------------------------------------------------------------------------

    def _need(self, permission: str) -> None:
        if not self.principal.may(permission):
            raise AccessDenied(
                f"a platform {self.principal.role} may not do this ({permission})",
                hint="ask a platform administrator",
            )

    def _need_platform_wide(self, permission: str) -> None:
        """A permission over the platform itself: never for an operator of one agency."""
        self._need(permission)
        if self.principal.agency_id is not None:
            raise AccessDenied(
                f"this needs a platform-wide {self.principal.role}, "
                f"not one of agency {self.principal.agency_slug}"
            )

    def _agency(self, slug: str, permission: str) -> Agency:
        self._need(permission)
        agency = self.platform.db.agency(slug) if isinstance(slug, str) else None
        if agency is None or not self.principal.covers(agency.id):
            raise AgencyNotFoundError(f"no agency {slug!r} on this platform")
        return agency

    def _cas(self, agency: Agency) -> list[CaKey]:
        return self.platform.db.ca_keys_of(agency.id)

    def _find(self, agency: Agency, serial: int | str) -> tuple[CaKey, IssuedCertificate]:
        n = parse_serial(serial)
        for key in reversed(self._cas(agency)):
            try:
                return key, self.platform.db.ca_store(key.ca_id).get(n)
            except SerialNotFoundError:
                continue
        raise SerialNotFoundError(f"no certificate with serial {serial_hex(n)} in agency {agency.slug}")

    def check(self, permission: str, slug: str | None = None) -> None:
        """Raise as the action itself would if this operator may not do ``permission`` (in agency
        ``slug``): front ends call it before they even read a request's body."""
        if slug is None:
            self._need(permission)
        else:
            self._agency(slug, permission)

    # --- who am I --------------------------------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        return self.principal.to_json()

    # --- agencies (administrators) -------------------------------------------------------------

    def create_agency(
        self,
        slug: str,
        name_th: str,
        *,
        name_en: str | None = None,
        org_id: str | None = None,
        profile: AgencyProfile | None = None,
        hsm: str | None = None,
        key_uri: str | None = None,
    ) -> Agency:
        """A new agency with its CA under the platform's issuing CA (key in a file, in ``hsm``,
        a ``pkcs11:token=...`` URI, or the existing token key ``key_uri``)."""
        from thaisign.platform.agencies import create_agency

        self._need("agency.create")
        return create_agency(
            self.platform,
            self.actor,
            slug,
            name_th,
            name_en=name_en,
            org_id=org_id,
            profile=profile,
            hsm=hsm,
            key_uri=key_uri,
        )

    def import_agency(
        self,
        slug: str,
        folder: str | Path,
        *,
        folder_passphrase: str | None = None,
        folder_pin: str | None = None,
    ) -> Agency:
        """Move a CA folder (``thaisign ca init``) into the platform as agency ``slug``."""
        from thaisign.platform.agencies import import_folder

        self._need("agency.create")
        return import_folder(
            self.platform,
            self.actor,
            slug,
            folder,
            folder_passphrase=folder_passphrase,
            folder_pin=folder_pin,
        )

    def rollover(
        self, slug: str, *, key: str | None = None, hsm: str | None = None, key_uri: str | None = None
    ) -> CaKey:
        """A new CA key for the agency; the old one retires and keeps answering for its letters."""
        from thaisign.platform.agencies import rollover

        return rollover(
            self.platform, self.actor, self._agency(slug, "agency.change"), key=key, hsm=hsm, key_uri=key_uri
        )

    def renew(self, slug: str, *, years: int | None = None) -> x509.Certificate:
        """A new certificate for the agency's CA key (same key, same name)."""
        from thaisign.platform.agencies import renew

        return renew(self.platform, self.actor, self._agency(slug, "agency.change"), years=years)

    def set_profile(self, slug: str, profile: AgencyProfile) -> Agency:
        """Change how the agency issues from now on (policy OID, validity, key types, fields)."""
        agency = self._agency(slug, "agency.change")
        profile = profile.validated()
        with self.platform.db.write(self.actor) as w:
            w.at = self.platform.clock()
            w.update("agency-profile", "agencies", agency.id, {"profile": profile.dumps()})
        return self.platform.db.agency(slug) or agency

    def agencies(self) -> list[Agency]:
        """The agencies this operator may see."""
        self._need("agency.read")
        if self.principal.agency_id is None:
            return self.platform.db.agencies()
        return self.platform.db.agencies([self.principal.agency_id])

    def agency(self, slug: str) -> Agency:
        return self._agency(slug, "agency.read")

    def ca_keys(self, slug: str) -> list[CaKey]:
        """The agency's CA keys, oldest generation first."""
        return self._cas(self._agency(slug, "agency.read"))

    def ca_certificates(self, slug: str) -> list[x509.Certificate]:
        """Every certificate the agency's CA keys have had, oldest first."""
        agency = self._agency(slug, "agency.read")
        out = []
        for key in self._cas(agency):
            out += [
                x509.load_der_x509_certificate(der) for _, der in self.platform.db.ca_certificates(key.ca_id)
            ]
        return out

    def maintain(self, *, responders_within: int = 30) -> dict[str, int]:
        """Every CA's CRL made anew when it is older than half its lifetime (or lacks a revocation),
        and every OCSP certificate renewed that ends within ``responders_within`` days (for cron)."""
        self._need_platform_wide("agency.change")
        now = self.platform.clock()
        done = {"crls": 0, "responders": 0}
        for key in self.platform.db.all_ca_keys():
            ca = self.platform.authority(key.ca_id, self.actor, key=False)
            if ca.certificate is None or ca.certificate.not_valid_after_utc <= now:
                continue
            before = self.platform.db.responder(key.ca_id)
            signing = self.platform.authority(key.ca_id, self.actor)
            self.platform._complete(key.ca_id, self.actor, renew_within=responders_within)
            if self.platform.db.responder(key.ca_id) != before:
                done["responders"] += 1
            der = signing.store.latest_crl()
            if der is None or _stale(x509.load_der_x509_crl(der), now, signing.store.counts()["revocations"]):
                signing.crl(now=now)
                done["crls"] += 1
        return done

    def install_issuing_certificate(
        self, cert_data: bytes, chain_data: bytes | None = None
    ) -> x509.Certificate:
        """The national root's answer to ``issuing-ca.csr`` (platforms made with ``csr_only``)."""
        self._need_platform_wide("agency.change")
        return self.platform.install_issuing_certificate(self.actor, cert_data, chain_data)

    # --- operators and tokens (administrators) --------------------------------------------------

    def appoint(
        self, name: str, role: Role, *, agency: str | None = None, oidc_subject: str | None = None
    ) -> Operator:
        """A new operator: ``operator`` of an agency, ``auditor`` of an agency or of the whole
        platform (no ``agency``), or another ``admin``."""
        from thaisign.ca.profiles import check_text

        self._need("operator.manage")
        if role not in ROLES:
            raise UsageError(f"role {role!r} is none of {', '.join(ROLES)}")
        name = check_text(name, "the operator's name", required=True, limit=128) or ""
        agency_id = None
        if agency is not None:
            found = self.platform.db.agency(agency)
            if found is None:
                raise AgencyNotFoundError(f"no agency {agency!r} on this platform")
            agency_id = found.id
        if role == "operator" and agency_id is None:
            raise UsageError("an agency operator needs --agency")
        if role == "admin" and agency_id is not None:
            raise UsageError("a platform administrator belongs to no agency")
        if oidc_subject is not None and not 1 <= len(oidc_subject) <= 255:
            raise UsageError("an OpenID subject has 1 to 255 characters")
        now = self.platform.clock()
        with self.platform.db.write(self.actor) as w:
            w.at = now
            if oidc_subject is not None:
                taken = w.conn.execute(
                    select(T.operators.c.id).where(T.operators.c.oidc_subject == oidc_subject)
                ).first()
                if taken is not None:
                    raise UsageError(f"the OpenID subject {oidc_subject!r} is operator {taken[0]} already")
            operator_id = w.db.next_id(w.conn, T.operators)
            w.insert(
                "operator-appoint",
                "operators",
                {
                    "id": operator_id,
                    "name": name,
                    "role": role,
                    "agency_id": agency_id,
                    "oidc_subject": oidc_subject,
                    "created_at": _naive(now),
                    "disabled_at": None,
                },
            )
        return self._operator(operator_id)

    def operators(self) -> list[Operator]:
        self._need("operator.manage")
        with self.platform.db.read() as conn:
            ids = [int(r[0]) for r in conn.execute(select(T.operators.c.id).order_by(T.operators.c.id))]
        return [self._operator(i) for i in ids]

    def _operator(self, operator_id: int) -> Operator:
        with self.platform.db.read() as conn:
            r = conn.execute(select(T.operators).where(T.operators.c.id == operator_id)).mappings().first()
        if r is None:
            raise UsageError(f"no operator {operator_id}")
        agency = self.platform.db.agency_by_id(int(r["agency_id"])) if r["agency_id"] is not None else None
        return Operator(
            int(r["id"]),
            str(r["name"]),
            r["role"],
            agency.slug if agency else None,
            r["oidc_subject"],
            r["created_at"].replace(tzinfo=dt.UTC),
            r["disabled_at"].replace(tzinfo=dt.UTC) if r["disabled_at"] else None,
        )

    def disable_operator(self, operator_id: int) -> Operator:
        """The operator's tokens and logins stop working at once."""
        self._need("operator.manage")
        if operator_id == self.principal.operator_id:
            raise UsageError("an administrator cannot disable themselves")
        self._operator(operator_id)
        with self.platform.db.write(self.actor) as w:
            w.at = self.platform.clock()
            w.update(
                "operator-disable", "operators", operator_id, {"disabled_at": _naive(self.platform.clock())}
            )
        return self._operator(operator_id)

    def create_token(self, operator_id: int, *, label: str | None = None, days: int | None = None) -> str:
        """A new API token for an operator, returned once (the platform keeps its hash only)."""
        from thaisign.ca.profiles import check_text

        self._need("operator.manage")
        operator = self._operator(operator_id)
        if operator.disabled_at is not None:
            raise UsageError(f"operator {operator_id} is disabled")
        if days is not None and not 1 <= days <= 3650:
            raise UsageError("a token lasts 1 to 3650 days")
        label = check_text(label, "the token's label", limit=128)
        now = self.platform.clock()
        token_id, token, digest = new_token()
        with self.platform.db.write(self.actor) as w:
            w.at = now
            w.insert(
                "token-create",
                "tokens",
                {
                    "id": token_id,
                    "operator_id": operator_id,
                    "secret_sha256": digest,
                    "label": label,
                    "created_at": _naive(now),
                    "expires_at": _naive(now + dt.timedelta(days=days)) if days else None,
                    "revoked_at": None,
                },
            )
        return token

    def revoke_token(self, token_id: str) -> None:
        """The token stops working at once."""
        self._need("operator.manage")
        with self.platform.db.write(self.actor) as w:
            w.at = self.platform.clock()
            w.update("token-revoke", "tokens", token_id, {"revoked_at": _naive(self.platform.clock())})

    # --- officer certificates (agency operators) -------------------------------------------------

    def _issuing(self, slug: str, state: IssuingState | None) -> IssuingState:
        """``state`` (the agency's, kept by the platform) after the checks :meth:`_agency` makes —
        made on every call: the platform keeps rows, never a decision."""
        if state is None or not self.principal.covers(state.agency.id):
            raise AgencyNotFoundError(f"no agency {slug!r} on this platform")
        if state.agency.status != "active":
            raise UsageError(f"agency {slug} is {state.agency.status}: it issues nothing")
        if state.ca is None:
            raise CAError(f"agency {slug} has no active CA key")
        return state

    def _issue(
        self, slug: str, make: Callable[[PlatformCa], list[NewCertificate]], now: dt.datetime
    ) -> list[NewCertificate]:
        """Sign (``make``) and record certificates of the agency's active CA in one transaction.

        The CA comes from the platform's kept state; the transaction that records checks, after
        the CA's lock, that the platform chain has not moved since that state was read. When it
        has (a rollover, a renewal, a profile change), the state is read anew — and the
        certificates signed anew unless their CA, certificate and profile are unchanged."""
        self._need("cert.issue")
        valid = isinstance(slug, str)
        state = self._issuing(slug, self.platform.issuing_state(slug) if valid else None)
        prepared: list[NewCertificate] | None = None
        for attempt in range(_GUARDED_TRIES + 1):
            # the last try as before any state was kept: read anew, recorded without a guard
            ca = state.authority(self.actor, guarded=attempt < _GUARDED_TRIES)
            if prepared is None:
                prepared = make(ca)
            try:
                return ca.record(prepared, now=now)
            except GuardFailed:
                fresh = self._issuing(slug, self.platform.reload_issuing_state(slug))
                if fresh.material != state.material:
                    prepared = None
                state = fresh
        raise AssertionError("unreachable: the last try has no guard")

    def issue(
        self,
        slug: str,
        officer: OfficerProfile,
        *,
        csr: bytes | x509.CertificateSigningRequest | None = None,
        new_key: str | None = None,
        public_key: Any = None,
    ) -> IssuedOfficer:
        """An officer certificate from the agency's active CA (its profile applies)."""
        now = self.platform.clock()
        private: list[Any] = []

        def make(ca: PlatformCa) -> list[NewCertificate]:
            cert, key = ca.prepare_issue(officer, csr=csr, new_key=new_key, public_key=public_key, now=now)
            private[:] = [key]
            return [cert]

        recorded = self._issue(slug, make, now)[0]
        return IssuedOfficer(recorded.serial, recorded.der, private[0])

    def issue_many(self, slug: str, requests: Sequence[tuple[OfficerProfile, Any]]) -> list[IssuedOfficer]:
        """Many officer certificates in one transaction: (officer, CSR bytes or public key) each."""
        now = self.platform.clock()

        def make(ca: PlatformCa) -> list[NewCertificate]:
            prepared = []
            for officer, key in requests:
                is_csr = isinstance(key, bytes | x509.CertificateSigningRequest)
                public = load_csr(key).public_key() if is_csr else key
                source = "csr" if is_csr else "token"
                prepared.append(ca.prepare_officer(officer, public, source=source, now=now))  # type: ignore[arg-type]
            return prepared

        return [IssuedOfficer(r.serial, r.der) for r in self._issue(slug, make, now)]

    def revoke(self, slug: str, serial: int | str, reason: str = "unspecified") -> CertificateStatus:
        """Revoke an officer certificate of the agency (any of its CA generations); the CA's CRL
        is published anew at once."""
        agency = self._agency(slug, "cert.revoke")
        key, _ = self._find(agency, serial)
        ca = self.platform.authority(key.ca_id, self.actor)
        status = ca.revoke(serial, reason, at=self.platform.clock())
        ca.crl(now=self.platform.clock())
        return status

    def publish_crl(self, slug: str) -> dict[int, bytes]:
        """A new CRL for each of the agency's CA keys whose certificate is still valid."""
        agency = self._agency(slug, "crl.publish")
        now = self.platform.clock()
        out = {}
        for key in self._cas(agency):
            ca = self.platform.authority(key.ca_id, self.actor)
            if ca.certificate is not None and ca.certificate.not_valid_after_utc > now:
                out[key.generation] = ca.crl(now=now)
        return out

    def certificates(self, slug: str, status: str | None = None) -> list[IssuedCertificate]:
        """The agency's officer certificates, every CA generation, in issue order."""
        agency = self._agency(slug, "cert.read")
        out: list[IssuedCertificate] = []
        for key in self._cas(agency):
            out += self.platform.db.ca_store(key.ca_id).certificates(status=status, at=self.platform.clock())
        return out

    def certificate(self, slug: str, serial: int | str) -> IssuedCertificate:
        return self._find(self._agency(slug, "cert.read"), serial)[1]

    def crl(self, slug: str, generation: int | None = None) -> bytes:
        """The latest CRL of the agency's CA (its active generation unless one is named)."""
        agency = self._agency(slug, "agency.read")
        keys = self._cas(agency)
        key = next((k for k in keys if k.generation == generation), None) if generation else keys[-1]
        if key is None:
            raise UsageError(f"agency {slug} has no CA generation {generation}")
        der = self.platform.db.ca_store(key.ca_id).latest_crl()
        if der is None:
            raise UsageError(f"agency {slug} has published no CRL yet")
        return der

    # --- audit ------------------------------------------------------------------------------------

    def audit(self, slug: str) -> dict[int, list[AuditEntry]]:
        """The audit chain of each of the agency's CA generations."""
        agency = self._agency(slug, "audit.read")
        return {k.generation: self.platform.db.ca_store(k.ca_id).audit_entries() for k in self._cas(agency)}

    def verify(self, slug: str) -> dict[int, IntegrityReport]:
        """Each of the agency's CA stores checked against its chain and newest signed checkpoint."""
        agency = self._agency(slug, "audit.read")
        return {
            k.generation: self.platform.authority(k.ca_id, key=False).check_integrity()
            for k in self._cas(agency)
        }

    def verify_issuing(self) -> IntegrityReport:
        """The issuing CA's store (agency CA certificates) checked against its chain."""
        self._need_platform_wide("platform.audit")
        return self.platform.issuing(key=False).check_integrity()

    def verify_platform(self) -> PlatformCheck:
        """The platform's own chain and tables (agencies, CA keys, operators, tokens)."""
        self._need_platform_wide("platform.audit")
        return self.platform.db.check()

    def platform_audit(self) -> list[AuditEntry]:
        """The platform's own chain: agencies, CA keys, operators, tokens, settings."""
        self._need_platform_wide("platform.audit")
        return self.platform.db.base.audit_entries()

    # --- figures ------------------------------------------------------------------------------------

    def figures(self, *, at: dt.datetime | None = None) -> Figures:
        """Officers, active/revoked certificates, signatures and expiring certificates per agency
        this operator may see, and their totals."""
        from thaisign.platform.figures import compute_figures

        self._need("figures.read")
        scope = None if self.principal.agency_id is None else [self.principal.agency_id]
        return compute_figures(self.platform, agency_ids=scope, at=at or self.platform.clock())


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None)


def _stale(crl: x509.CertificateRevocationList, now: dt.datetime, revocations: int) -> bool:
    """Older than half its lifetime, or missing a revocation."""
    if crl.next_update_utc is None:
        return True
    half = (crl.next_update_utc - crl.last_update_utc) / 2
    return now >= crl.last_update_utc + half or len(crl) != revocations
