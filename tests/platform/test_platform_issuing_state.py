"""Issuance keeps each agency's state (agency row, active CA, its key and certificate template)
between requests: what changes it — a key rollover, a renewal, a profile change, in this process or
in another one on the same database — is followed by the very next certificate, a request that
finds the platform changed records nothing twice, and the kept state never widens an operator's
access (on SQLite and on a real PostgreSQL)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from platform_helpers import SOMCHAI, SOMYING, Deployment, make_platform

from thaisign.ca import OfficerProfile
from thaisign.ca.store import GuardFailed, NewCertificate
from thaisign.errors import AccessDenied, AgencyNotFoundError
from thaisign.platform import ApiToken, Platform

_DB_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=_DB_KINDS)
def two(
    request: pytest.FixtureRequest, tmp_path: Path, new_platform_db: Callable[[str], str | None]
) -> Iterator[tuple[Deployment, Platform]]:
    """A platform, and the same platform opened a second time (another process's view)."""
    d = make_platform(tmp_path, new_platform_db(request.param))
    other = d.reopen()
    yield d, other
    other.close()
    d.platform.close()


def _key() -> ec.EllipticCurvePublicKey:
    return ec.generate_private_key(ec.SECP256R1()).public_key()


def _officer(i: int) -> OfficerProfile:
    return dataclasses.replace(SOMCHAI, employee_id=f"E{i:04d}")


def _issuer_of(platform: Platform, cert: x509.Certificate) -> int:
    """The CA id whose key signed ``cert``."""
    for key in platform.db.all_ca_keys():
        ca = platform.authority(key.ca_id, key=False).certificate
        if ca is not None:
            try:
                cert.verify_directly_issued_by(ca)
                return key.ca_id
            except Exception:
                continue
    raise AssertionError("no CA of the platform signed it")


def _officers(platform: Platform, ca_id: int) -> list[int]:
    """The serials of the officer certificates CA ``ca_id`` recorded (not its OCSP certificate)."""
    certs = platform.db.ca_store(ca_id).certificates()
    return [c.serial for c in certs if c.source not in ("ocsp-service", "tsa-service")]


def _policy(cert: x509.Certificate) -> str:
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    return policies[0].policy_identifier.dotted_string


def _all_ok(d: Deployment, slug: str) -> None:
    auditor = d.session("auditor")
    for report in auditor.verify(slug).values():
        assert report.ok
    assert auditor.verify_platform().ok


def test_a_rollover_in_this_process_is_followed_by_the_next_certificate(
    two: tuple[Deployment, Platform],
) -> None:
    d, _ = two
    dla = d.session("dla")
    first = dla.issue_many("dla", [(_officer(1), _key())])[0]
    old_ca = _issuer_of(d.platform, first.certificate)
    new = d.session("admin").rollover("dla")
    after = dla.issue_many("dla", [(_officer(2), _key()), (_officer(3), _key())])
    one = dla.issue("dla", SOMYING, new_key="ec-p256")
    for issued in (*after, one):
        assert _issuer_of(d.platform, issued.certificate) == new.ca_id != old_ca
    keys = dla.ca_keys("dla")
    assert {k.ca_id: len(_officers(d.platform, k.ca_id)) for k in keys} == {
        old_ca: 1,
        new.ca_id: 3,
    }
    _all_ok(d, "dla")


def test_a_rollover_in_another_process_is_followed_and_nothing_is_recorded_twice(
    two: tuple[Deployment, Platform],
) -> None:
    d, other = two
    here = d.platform.session(ApiToken(d.tokens["dla"]))
    before = here.issue_many("dla", [(_officer(1), _key())])[0]
    old_ca = _issuer_of(d.platform, before.certificate)
    state = d.platform.issuing_state("dla")
    assert state is not None and state.ca is not None and state.ca.key.ca_id == old_ca
    new = other.session(ApiToken(d.tokens["admin"])).rollover("dla")  # not seen by d.platform yet
    assert d.platform.issuing_state("dla") is state  # kept: only the recording transaction can tell
    after = here.issue_many("dla", [(_officer(2), _key()), (_officer(3), _key())])
    assert [_issuer_of(d.platform, a.certificate) for a in after] == [new.ca_id, new.ca_id]
    assert len(_officers(d.platform, old_ca)) == 1  # the refused try left nothing
    assert len(_officers(d.platform, new.ca_id)) == 2
    _all_ok(d, "dla")


def test_a_renewal_in_another_process_is_followed(two: tuple[Deployment, Platform]) -> None:
    d, other = two
    here = d.platform.session(ApiToken(d.tokens["pao"]))
    here.issue("pao", SOMCHAI, public_key=_key())
    d.clock.advance(days=2)
    renewed = other.session(ApiToken(d.tokens["admin"])).renew("pao", years=12)
    issued = here.issue("pao", SOMYING, public_key=_key())
    state = d.platform.issuing_state("pao")
    assert state is not None and state.ca is not None and state.ca.certificate == renewed
    issued.certificate.verify_directly_issued_by(renewed)
    assert len(_officers(d.platform, state.ca.key.ca_id)) == 2
    _all_ok(d, "pao")  # renewal publishes a CRL and checkpoint under the new certificate


def test_a_profile_change_in_another_process_is_followed(two: tuple[Deployment, Platform]) -> None:
    d, other = two
    here = d.platform.session(ApiToken(d.tokens["dla"]))
    first = here.issue_many("dla", [(_officer(1), _key())])[0]
    admin = other.session(ApiToken(d.tokens["admin"]))
    profile = admin.agency("dla").profile
    changed = dataclasses.replace(profile, policy_oid="2.16.764.1.4.99.1", officer_default_days=90)
    admin.set_profile("dla", changed)
    second = here.issue_many("dla", [(_officer(2), _key())])[0]
    assert _policy(first.certificate) == profile.policy_oid
    assert _policy(second.certificate) == "2.16.764.1.4.99.1"
    lifetime = second.certificate.not_valid_after_utc - second.certificate.not_valid_before_utc
    assert lifetime.days == 90
    # and back in this process: the next certificate follows at once
    d.session("admin").set_profile("dla", profile)
    third = here.issue("dla", SOMYING, public_key=_key())
    assert _policy(third.certificate) == profile.policy_oid
    _all_ok(d, "dla")


def test_the_kept_state_never_widens_access(two: tuple[Deployment, Platform]) -> None:
    d, _ = two
    dla, pao = d.session("dla"), d.session("pao")
    dla.issue_many("dla", [(_officer(1), _key())])
    pao.issue_many("pao", [(_officer(2), _key())])  # both agencies' states kept in this process
    assert d.platform.issuing_state("pao") is not None
    for action in (
        lambda: dla.issue_many("pao", [(_officer(3), _key())]),
        lambda: dla.issue("pao", SOMYING, public_key=_key()),
        lambda: d.session("dla-auditor").issue_many("dla", [(_officer(4), _key())]),
        lambda: dla.issue_many("nowhere", [(_officer(5), _key())]),
    ):
        with pytest.raises((AgencyNotFoundError, AccessDenied)):
            action()
    for slug in ("dla", "pao"):
        state = d.platform.issuing_state(slug)
        assert state is not None and state.ca is not None
        assert len(_officers(d.platform, state.ca.key.ca_id)) == 1


def test_a_write_guard_that_fails_records_nothing(two: tuple[Deployment, Platform]) -> None:
    d, _ = two
    state = d.platform.issuing_state("dla")
    assert state is not None and state.ca is not None
    ca = state.authority(d.session("dla").actor)
    cert: NewCertificate = ca.prepare_officer(SOMCHAI, _key(), source="token", now=d.clock())
    stale = dataclasses.replace(ca.write_guard, expected=(0, "0" * 64))  # type: ignore[type-var]
    store = ca.store
    head = store.head()
    with pytest.raises(GuardFailed):
        store.add_certificates([cert], at=d.clock(), guard=stale)
    assert store.head() == head and _officers(d.platform, store.ca_id) == []
    store.add_certificates([cert], at=d.clock(), guard=ca.write_guard)
    assert _officers(d.platform, store.ca_id) == [cert.serial]
    _all_ok(d, "dla")
