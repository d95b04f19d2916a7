"""A store keyed by CA: several CAs in one database (SQLite and PostgreSQL), each with its own rows,
chain, CRLs, lock and integrity check — what thaisign.platform builds on."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ca_helpers import SOMCHAI, db_kind_fixture, new_db_url_fixture  # noqa: F401 - fixtures
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import MetaData, delete, update

from thaisign.ca import Authority, CaProfile, OfficerProfile, _tbs
from thaisign.ca.store import CertificateStore, scoped_tables
from thaisign.errors import SerialNotFoundError
from thaisign.keys import SoftwareSigner


def _make_ca(store: CertificateStore, name: str, when: dt.datetime) -> Authority:
    """A self-signed CA recorded in ``store`` (a scoped view), without a folder."""
    profile = CaProfile(name_th=name, base_url=f"http://127.0.0.1:9/{store.scope}", key="ec-p256").validated()
    signer = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
    der = _tbs.self_signed_ca(
        profile, signer, 1000 + int(store.scope or 0), when, when.replace(year=2046), "sha256"
    )
    store.record_ca(name, der, at=when)
    cert = x509.load_der_x509_certificate(der)
    ca = Authority(None, profile, store, signer, cert, (cert,))
    ca.crl(now=when)
    return ca


@pytest.fixture()
def two_cas(
    tmp_path: Path, db_kind: str, new_db_url: Callable[[str], str | None], fixed_time: dt.datetime
) -> Iterator[tuple[Authority, Authority, CertificateStore]]:
    url = new_db_url(db_kind) or f"sqlite:///{tmp_path / 'shared.db'}"
    tables = scoped_tables(MetaData(), "t_")
    base = CertificateStore.connect(url, tables=tables, scope=0)
    base.create_schema()
    when = fixed_time - dt.timedelta(days=10)
    a = _make_ca(base.scoped(7), "กรมทดสอบหนึ่ง", when)
    b = _make_ca(base.scoped(8).acting_as("นางสุดา ผู้ดูแล", {"role": "operator"}), "กรมทดสอบสอง", when)
    yield a, b, base
    base.close()


def test_each_ca_sees_only_its_own_rows(two_cas: tuple[Authority, Authority, CertificateStore]) -> None:
    a, b, _ = two_cas
    when = a.certificate.not_valid_before_utc + dt.timedelta(days=1)  # type: ignore[union-attr]
    mine = a.issue_officer(SOMCHAI, new_key="ec-p256", now=when)
    theirs = b.issue_officer(
        OfficerProfile(name_th="นางสาวสมหญิง รักไทย", position="นักจัดการงานทั่วไป"), new_key="ec-p256", now=when
    )
    assert [c.serial for c in a.certificates()] == [mine.serial]
    assert [c.serial for c in b.certificates()] == [theirs.serial]
    assert a.status_of(theirs.serial).status == "unknown"
    with pytest.raises(SerialNotFoundError):
        a.get(theirs.serial)
    with pytest.raises(SerialNotFoundError):
        a.revoke(theirs.serial, "keyCompromise", at=when)
    b.revoke(theirs.serial, "keyCompromise", at=when)
    assert b.status_of(theirs.serial).status == "revoked"
    assert a.status_of(mine.serial).status == "good"
    crl_a = x509.load_der_x509_crl(a.crl(now=when))
    crl_b = x509.load_der_x509_crl(b.crl(now=when))
    assert len(crl_a) == 0 and [e.serial_number for e in crl_b] == [theirs.serial]
    assert crl_a.is_signature_valid(a.certificate.public_key())  # type: ignore[union-attr, arg-type]
    # each chain starts at 1, carries its own rows and names who acted
    entries_a, entries_b = a.audit_entries(), b.audit_entries()
    assert [e.seq for e in entries_a] == list(range(1, len(entries_a) + 1))
    assert [e.action for e in entries_b] == ["init", "crl", "issue", "revoke", "crl"]
    assert entries_b[3].details["operator"] == "นางสุดา ผู้ดูแล"
    assert entries_b[3].details["actor"] == {"role": "operator"}
    assert a.check_integrity().ok and b.check_integrity().ok
    assert a.store.counts()["certificates"] == 1


def test_tampering_shows_in_the_ca_it_touched_only(
    two_cas: tuple[Authority, Authority, CertificateStore],
) -> None:
    a, b, base = two_cas
    when = a.certificate.not_valid_before_utc + dt.timedelta(days=1)  # type: ignore[union-attr]
    a.issue_officer(SOMCHAI, new_key="ec-p256", now=when)
    victim = b.issue_officer(SOMCHAI, new_key="ec-p256", now=when)
    b.revoke(victim.serial, "keyCompromise", at=when)
    t = base.t
    with base._engine.begin() as conn:  # behind thaisign's back
        conn.execute(delete(t.revocations).where(t.revocations.c.ca_id == 8))
        conn.execute(update(t.certificates).where(t.certificates.c.ca_id == 8).values(name_th="นายปลอม"))
    report_b = b.check_integrity()
    assert not report_b.ok
    problems = " | ".join(report_b.problems())
    assert f"revocations: row {victim.serial_hex.lower()} was deleted" in problems
    assert "name_th" in problems
    assert a.check_integrity().ok
    with pytest.raises(Exception, match="changed outside thaisign"):
        b.crl(now=when)


@pytest.mark.slow
def test_writers_of_different_cas_run_side_by_side(
    two_cas: tuple[Authority, Authority, CertificateStore],
) -> None:
    a, b, _ = two_cas
    when = a.certificate.not_valid_before_utc + dt.timedelta(days=1)  # type: ignore[union-attr]
    errors: list[BaseException] = []
    key = ec.generate_private_key(ec.SECP256R1()).public_key()

    def issue(ca: Authority) -> None:
        try:
            for i in range(40):
                ca.issue_officer(
                    OfficerProfile(name_th=f"นายทดสอบ {i}", position="นักทดสอบ"), public_key=key, now=when
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=issue, args=(ca,)) for ca in (a, b, a, b)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    for ca in (a, b):
        assert len(ca.certificates()) == 80
        report = ca.check_integrity()
        assert report.ok, report.problems()
        assert report.entries == 82  # init, crl, 80 issues
