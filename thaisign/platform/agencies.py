"""Agency CAs on the platform: created under the issuing CA, imported from a CA folder, rolled over
to a new key, renewed. Called by :class:`~thaisign.platform.session.Session` after its checks.

- **create**: a new key (file or token), an agency CA certificate from the issuing CA (recorded in
  the issuing CA's store and chain), the agency's own store scope with its chain, a delegated OCSP
  certificate for the platform's responder key, and the first CRL.
- **import**: a folder made by ``thaisign ca init`` moves in as it is — its CA certificate, every
  certificate, revocation, CRL and checkpoint, and its audit chain entry by entry (the hashes stay
  valid); nothing is re-issued. Its key moves into the platform's key folder (re-encrypted with the
  platform's passphrase) or stays in its token. The folder's own URLs keep being answered.
- **rollover**: a new key generation with its own certificate, CRL and responder; the previous one
  retires (no new officers) but keeps its CRL and OCSP answers, so letters signed before stay valid.
- **renew**: a new certificate for the same key (the same subject and key: OCSP and CRLs go on).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import insert, select

from thaisign.ca.audit import StoredEntry, verify_chain
from thaisign.errors import CAError, CAExistsError, CertificateError, StoreError
from thaisign.keys import Signer, key_spec_of
from thaisign.platform import _tables as T
from thaisign.platform.core import Platform, PlatformCa, _pem
from thaisign.platform.hierarchy import agency_certificate, self_signed, sub_ca_record, years_after
from thaisign.platform.profile import Agency, AgencyProfile, CaKey, check_slug
from thaisign.platform.store import PlatformActor, PlatformWrite


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None)


def _key_name(slug: str, generation: int) -> str:
    return f"{slug}-g{generation}-{secrets.token_hex(3)}"


def _paths(generation: int) -> tuple[str, str]:
    """(CRL path, certificate path) of a key generation under the agency's base URL."""
    if generation == 1:
        return "/crl/ca.crl", "/ca.cer"
    return f"/crl/ca-{generation}.crl", f"/ca-{generation}.cer"


def _new_key(
    platform: Platform, slug: str, generation: int, kind: str, hsm: str | None
) -> tuple[str, Signer]:
    return platform.keys.create(_key_name(slug, generation), kind, token=hsm)


def _sub_ca(
    platform: Platform, actor: PlatformActor, agency: Agency, signer: Signer, now: dt.datetime
) -> tuple[x509.Certificate, PlatformCa]:
    """An agency CA certificate for ``signer``'s key from the issuing CA (not yet recorded)."""
    from thaisign.ca.profiles import CaProfile

    issuing = platform.issuing(actor)
    profile = CaProfile(name_th=agency.name_th, org_id=agency.org_id)
    cert = agency_certificate(
        issuing, profile, signer.public_key, now, years_after(now, agency.profile.ca_valid_years)
    )
    return cert, issuing


def _record_sub_ca(
    w: PlatformWrite, issuing: PlatformCa, agency: Agency, cert: x509.Certificate, now: dt.datetime
) -> None:
    w.ca(issuing.key.ca_id).add_certificates(
        [sub_ca_record(cert, agency.name_th, agency.name_en)], at=now, conn=w.conn
    )


def _issuing_chain(issuing: PlatformCa) -> str:
    return _pem(issuing.chain)


def _new_ca_id(w: PlatformWrite) -> int:
    return w.db.next_id(w.conn, T.CA.ca)


def create_agency(
    platform: Platform,
    actor: PlatformActor,
    slug: str,
    name_th: str,
    *,
    name_en: str | None = None,
    org_id: str | None = None,
    profile: AgencyProfile | None = None,
    hsm: str | None = None,
    key_uri: str | None = None,
) -> Agency:
    """A new agency with its CA (generation 1) under the platform's issuing CA."""
    from thaisign.ca.profiles import CaProfile

    check_slug(slug)
    profile = (profile or AgencyProfile(ca_key=platform.config.agency_key)).validated()
    names = CaProfile(name_th=name_th, name_en=name_en, org_id=org_id).validated()
    if platform.db.agency(slug) is not None:
        raise CAExistsError(f"the platform has an agency {slug!r} already")
    now = platform.clock().replace(microsecond=0)
    if key_uri is not None:
        ref, signer = key_uri, platform.keys.signer(key_uri)
    else:
        ref, signer = _new_key(platform, slug, 1, profile.ca_key, hsm)
    agency = Agency(
        0, slug, names.name_th, names.name_en, names.org_id, profile, "active", "created", None, now
    )
    cert, issuing = _sub_ca(platform, actor, agency, signer, now)
    der = cert.public_bytes(serialization.Encoding.DER)
    crl_path, cert_path = _paths(1)
    with platform.db.write(actor) as w:
        w.at = now
        if w.db.agency(slug, w.conn) is not None:
            raise CAExistsError(f"the platform has an agency {slug!r} already")
        agency = dataclasses.replace(agency, id=w.db.next_id(w.conn, T.agencies))  # under the platform's lock
        ca_id = _new_ca_id(w)
        w.insert("agency-create", "agencies", _agency_row(agency))
        _record_sub_ca(w, issuing, agency, cert, now)
        w.ca(ca_id).record_ca(
            names.name_th, der, at=now, conn=w.conn, details={"agency": slug, "generation": 1}
        )
        w.insert(
            "ca-key",
            "ca_keys",
            _ca_key_row(ca_id, agency, 1, ref, platform, crl_path, cert_path, _issuing_chain(issuing), now),
            key_type=str(key_spec_of(signer.public_key)),
        )
        platform._add_ca_certificate(w, ca_id, der, now)
    platform._complete(ca_id, actor)
    return platform.db.agency(slug) or agency


def _agency_row(agency: Agency) -> dict[str, object]:
    return {
        "id": agency.id,
        "slug": agency.slug,
        "name_th": agency.name_th,
        "name_en": agency.name_en,
        "org_id": agency.org_id,
        "profile": agency.profile.dumps(),
        "status": agency.status,
        "origin": agency.origin,
        "legacy_base_url": agency.legacy_base_url,
        "created_at": _naive(agency.created_at),
    }


def _ca_key_row(
    ca_id: int,
    agency: Agency,
    generation: int,
    ref: str,
    platform: Platform,
    crl_path: str,
    cert_path: str,
    chain: str,
    now: dt.datetime,
    module: str | None = None,
) -> dict[str, object]:
    return {
        "ca_id": ca_id,
        "agency_id": agency.id,
        "generation": generation,
        "state": "active",
        "key_ref": ref,
        "pkcs11_module": module,
        "base_url": f"{platform.config.base_url}/a/{agency.slug}",
        "crl_path": crl_path,
        "cert_path": cert_path,
        "chain": chain,
        "created_at": _naive(now),
        "retired_at": None,
    }


# --- rollover and renewal ---------------------------------------------------------------------------


def rollover(
    platform: Platform,
    actor: PlatformActor,
    agency: Agency,
    *,
    key: str | None = None,
    hsm: str | None = None,
    key_uri: str | None = None,
) -> CaKey:
    """A new CA key generation for ``agency``; the current one retires but keeps answering."""
    now = platform.clock().replace(microsecond=0)
    current = platform.active_ca(agency)
    generation = max(k.generation for k in platform.db.ca_keys_of(agency.id)) + 1
    if key_uri is not None:
        ref, signer = key_uri, platform.keys.signer(key_uri)
    else:
        ref, signer = _new_key(platform, agency.slug, generation, key or agency.profile.ca_key, hsm)
    old = platform.authority(current.ca_id, actor, key=False)
    if old.certificate is not None and signer.public_key == old.certificate.public_key():
        raise CertificateError(
            "a rollover needs a new key", hint="to extend the certificate, renew it instead"
        )
    cert, issuing = _sub_ca(platform, actor, agency, signer, now)
    der = cert.public_bytes(serialization.Encoding.DER)
    crl_path, cert_path = _paths(generation)
    with platform.db.write(actor) as w:
        w.at = now
        ca_id = _new_ca_id(w)
        _record_sub_ca(w, issuing, agency, cert, now)
        w.ca(ca_id).record_ca(
            agency.name_th,
            der,
            at=now,
            conn=w.conn,
            details={"agency": agency.slug, "generation": generation},
        )
        w.insert(
            "ca-key",
            "ca_keys",
            _ca_key_row(
                ca_id, agency, generation, ref, platform, crl_path, cert_path, _issuing_chain(issuing), now
            ),
            key_type=str(key_spec_of(signer.public_key)),
            follows=current.ca_id,
        )
        platform._add_ca_certificate(w, ca_id, der, now)
        w.update(
            "ca-retire",
            "ca_keys",
            current.ca_id,
            {"state": "retired", "retired_at": _naive(now)},
            successor=ca_id,
        )
        w.ca(current.ca_id).append_audit(
            w.conn, [("retire", None, {"successor_ca": ca_id, "generation": generation})], now
        )
    platform._complete(ca_id, actor)
    new = platform.db.ca_key(ca_id)
    assert new is not None
    return new


def renew(
    platform: Platform, actor: PlatformActor, agency: Agency, *, years: int | None = None
) -> x509.Certificate:
    """A new certificate for the agency's active CA key (same subject and key)."""
    now = platform.clock().replace(microsecond=0)
    current = platform.active_ca(agency)
    ca = platform.authority(current.ca_id, actor)
    if ca.certificate is None:
        raise CAError(f"agency {agency.slug} has no CA certificate to renew")
    old = ca.certificate
    valid_years = years or agency.profile.ca_valid_years
    issuing = platform.issuing(actor)
    if old.issuer == old.subject:  # an imported agency root: it renews itself
        der = self_signed(ca.profile, ca, now, years_after(now, valid_years))
        cert = x509.load_der_x509_certificate(der)
        issued_by_platform = False
    elif issuing.certificate is not None and old.issuer == issuing.certificate.subject:
        cert, issuing = _sub_ca(platform, actor, agency, ca.signer, now)
        der = cert.public_bytes(serialization.Encoding.DER)
        issued_by_platform = True
    else:
        raise CertificateError(
            f"agency {agency.slug}'s CA certificate was issued outside this platform",
            hint="have its issuer renew it, then install the new certificate",
        )
    # checked under the certificate being replaced, whose checkpoint is the store's newest: the CRL
    # made just after the renewal starts the checkpoints under the new one
    ca.require_integrity("the CA certificate was not renewed")
    with platform.db.write(actor) as w:
        w.at = now
        if issued_by_platform:
            _record_sub_ca(w, issuing, agency, cert, now)
        w.ca(current.ca_id).record_ca(agency.name_th, der, at=now, conn=w.conn, details={"renewal": True})
        platform._add_ca_certificate(w, current.ca_id, der, now)
    platform._complete(current.ca_id, actor)
    # a CRL and its signed checkpoint under the new certificate at once (the store was checked
    # above; until then its newest checkpoint named the old certificate, which every later
    # check of the store would report)
    platform.authority(current.ca_id, actor).crl(now=now, check=False)
    return cert


# --- import ---------------------------------------------------------------------------------------


def import_folder(
    platform: Platform,
    actor: PlatformActor,
    slug: str,
    folder: str | Path,
    *,
    folder_passphrase: str | None = None,
    folder_pin: str | None = None,
) -> Agency:
    """Move a CA folder (``thaisign ca init``) into the platform without re-issuing anything."""
    from thaisign.ca import Authority

    check_slug(slug)
    if platform.db.agency(slug) is not None:
        raise CAExistsError(f"the platform has an agency {slug!r} already")
    now = platform.clock().replace(microsecond=0)
    source = Authority.open(folder, passphrase=folder_passphrase, pin=folder_pin)
    try:
        if source.certificate is None:
            raise CAError(f"{folder} has no CA certificate yet: install it before importing")
        report = source.check_integrity()
        if not report.ok:
            raise StoreError(
                f"{folder}'s store was changed outside thaisign: {report.problems()[0]}; "
                "nothing was imported",
                hint=f"see every problem with 'thaisign ca audit {folder} --verify'",
            )
        ref, module = _move_key(platform, slug, source)
        agency = Agency(
            0,
            slug,
            source.profile.name_th,
            source.profile.name_en,
            source.profile.org_id,
            AgencyProfile.of_folder(source.profile),
            "active",
            "imported",
            source.profile.base_url,
            now,
        )
        chain = _pem(source.chain[1:])
        with platform.db.write(actor) as w:
            w.at = now
            if w.db.agency(slug, w.conn) is not None:
                raise CAExistsError(f"the platform has an agency {slug!r} already")
            agency = dataclasses.replace(agency, id=w.db.next_id(w.conn, T.agencies))
            ca_id = _new_ca_id(w)
            w.insert("agency-import", "agencies", _agency_row(agency), folder=str(Path(folder).resolve()))
            target = w.ca(ca_id)
            copied = _copy_store(w, source, ca_id)
            w.insert(
                "ca-key",
                "ca_keys",
                _ca_key_row(ca_id, agency, 1, ref, platform, "/crl/ca.crl", "/ca.cer", chain, now, module),
                key_type=str(key_spec_of(source.signer.public_key)),
            )
            platform._add_ca_certificate(
                w, ca_id, source.certificate.public_bytes(serialization.Encoding.DER), now
            )
            target.append_audit(
                w.conn,
                [("import", None, {"platform": platform.config.name_th, "agency": slug, **copied})],
                now,
            )
        source.store.record_moved(platform.config.name_th, slug, at=now)
    finally:
        source.close()
    platform._complete(ca_id, actor)
    return platform.db.agency(slug) or agency


def _move_key(platform: Platform, slug: str, source: object) -> tuple[str, str | None]:
    """The folder's CA key as a platform key reference: a token key stays where it is; a key
    file is written anew into the platform's key folder, encrypted with the platform passphrase."""
    from thaisign.ca import Authority
    from thaisign.keys import SoftwareSigner

    assert isinstance(source, Authority)
    if source.profile.key_uri is not None:
        return source.profile.key_uri, source.profile.pkcs11_module
    signer = source.signer
    assert isinstance(signer, SoftwareSigner)
    return platform.keys.adopt(_key_name(slug, 1), signer.private_key), None


def _copy_store(w: PlatformWrite, source: object, ca_id: int) -> dict[str, int]:
    """Every row of the folder's store under ``ca_id``, the audit chain entry by entry."""
    from thaisign.ca import Authority

    assert isinstance(source, Authority)
    t = T.CA
    st = source.store
    counts: dict[str, int] = {}
    with st.snapshot() as src:
        for name, table in (
            ("ca", t.ca),
            ("certificates", t.certificates),
            ("revocations", t.revocations),
            ("crls", t.crls),
            ("checkpoints", t.checkpoints),
        ):
            src_table = getattr(st.t, name)
            batch: list[dict[str, object]] = []
            n = 0
            for row in src.execute(select(*st.row_columns(src_table))).mappings():
                values = dict(row)
                values = {**values, "id": ca_id} if name == "ca" else {**values, "ca_id": ca_id}
                batch.append(values)
                n += 1
                if len(batch) >= 2000:
                    w.conn.execute(insert(table), batch)
                    batch = []
            if batch:
                w.conn.execute(insert(table), batch)
            counts[name] = n
        entries: list[StoredEntry] = []
        batch = []
        for e in st.stored_entries(src):
            entries.append(e)
            batch.append({**e._asdict(), "ca_id": ca_id})
            if len(batch) >= 2000:
                w.conn.execute(insert(t.audit), batch)
                batch = []
        if batch:
            w.conn.execute(insert(t.audit), batch)
    verify_chain(entries)  # the copy is entry for entry what the folder held
    counts["audit_entries"] = len(entries)
    return counts
