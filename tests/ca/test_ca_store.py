"""The store on SQLite and PostgreSQL: revocation, CRLs (checked by OpenSSL), audit chain, faults."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from ca_helpers import (  # noqa: F401 - fixtures are used by name
    CA_PASSPHRASE,
    SOMCHAI,
    authority_fixture,
    db_kind_fixture,
    make_csr,
    new_db_url_fixture,
    openssl_attime,
    require_tool,
)
from cryptography import x509
from sqlalchemy import create_engine, text

from thaisign import errors
from thaisign.ca import Authority, CaProfile, CertificateStore
from thaisign.ca.crl import CrlTemplate, revoked_entry


def _openssl_crl_verify(crl_der: bytes, ca_pem: Path, tmp_path: Path) -> str:
    path = tmp_path / "test.crl"
    path.write_bytes(crl_der)
    r = subprocess.run(
        [
            require_tool("openssl"),
            "crl",
            "-inform",
            "DER",
            "-in",
            str(path),
            "-CAfile",
            str(ca_pem),
            "-noout",
            "-text",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and "verify OK" in (r.stdout + r.stderr), r.stdout + r.stderr
    return r.stdout


def test_revoke_status_and_crl(authority: Authority, fixed_time: dt.datetime, tmp_path: Path) -> None:
    a = authority.issue_officer(SOMCHAI, csr=make_csr()[0], now=fixed_time)
    b = authority.issue_officer(SOMCHAI, csr=make_csr()[0], now=fixed_time)
    assert authority.status_of(a.serial).status == "good"
    assert authority.status_of(12345).status == "unknown"
    t = fixed_time + dt.timedelta(hours=1)
    authority.revoke(a.serial, "key-compromise", at=t)
    authority.revoke(format(b.serial, "X"), "unspecified", at=t)  # hex in upper case works too
    st = authority.status_of(a.serial)
    assert (st.status, st.revoked_at, st.reason, st.reason_code) == ("revoked", t, "keyCompromise", 1)
    # a read-only store opened from the folder, without the CA key, sees the same (what OCSP uses)
    with CertificateStore.open(authority.directory) as ro:
        assert ro.status_of(a.serial) == st

    before = authority.store.counts()
    with pytest.raises(errors.AlreadyRevokedError):
        authority.revoke(a.serial, "superseded", at=t)
    with pytest.raises(errors.SerialNotFoundError):
        authority.revoke(0xDEADBEEF, at=t)
    with pytest.raises(errors.StoreError, match="unknown revocation reason"):
        authority.revoke(b.serial, "because")
    assert authority.store.counts() == before

    crl1 = authority.crl(now=t)
    crl2 = authority.crl(now=t + dt.timedelta(minutes=5))
    assert authority.store.latest_crl() == crl2
    p1, p2 = x509.load_der_x509_crl(crl1), x509.load_der_x509_crl(crl2)
    n1 = p1.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    n2 = p2.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert n2 == n1 + 1
    assert p2.next_update_utc == t + dt.timedelta(minutes=5, hours=authority.profile.crl_next_update_hours)
    assert authority.certificate is not None
    assert p2.is_signature_valid(authority.certificate.public_key())  # type: ignore[arg-type]
    entry = p2.get_revoked_certificate_by_serial_number(a.serial)
    assert entry is not None and entry.revocation_date_utc == t
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
    unspecified = p2.get_revoked_certificate_by_serial_number(b.serial)
    assert unspecified is not None and len(unspecified.extensions) == 0  # RFC 5280: omit "unspecified"
    out = _openssl_crl_verify(crl2, authority.directory / "ca.pem", tmp_path)
    assert f"{a.serial:X}" in out and "Key Compromise" in out

    listed = {c.serial: c for c in authority.certificates("revoked")}
    assert {a.serial, b.serial} <= set(listed)
    assert listed[a.serial].status() == "revoked"
    assert a.serial not in {c.serial for c in authority.certificates("valid", at=fixed_time)}
    authority.verify_audit()


def test_big_crl_is_valid_for_openssl(tmp_path: Path, fixed_time: dt.datetime) -> None:
    """The hand-encoded CRL with thousands of entries (long DER lengths) parses and verifies."""
    ca = Authority.init(
        tmp_path / "ca", CaProfile(name_th="กรมทดสอบ"), passphrase=CA_PASSPHRASE, now=fixed_time
    )
    with ca:
        assert ca.certificate is not None
        template = CrlTemplate(
            ca.signer.signature_algorithm(ca.hash_algorithm).dump(),
            ca.certificate.subject.public_bytes(),
            b"\x01" * 20,
            ca.hash_algorithm,
        )
        entries = [revoked_entry((1 << 126) + i * 7919, fixed_time, i % 6) for i in range(5000)]
        der = template.build(ca.signer, 70000, entries, fixed_time, fixed_time + dt.timedelta(days=1))
        parsed = x509.load_der_x509_crl(der)
        assert len(parsed) == 5000
        assert parsed.get_revoked_certificate_by_serial_number((1 << 126) + 4999 * 7919) is not None
        out = _openssl_crl_verify(der, ca.directory / "ca.pem", tmp_path)
        assert "70000" in out


def test_audit_chain_detects_tampering(
    tmp_path: Path, db_kind: str, new_db_url: object, fixed_time: dt.datetime
) -> None:
    url = new_db_url(db_kind)  # type: ignore[operator]
    ca = Authority.init(
        tmp_path / "ca", CaProfile(name_th="กรมทดสอบ", db=url), passphrase=CA_PASSPHRASE, now=fixed_time
    )
    with ca:
        issued = ca.issue_officer(SOMCHAI, csr=make_csr()[0], now=fixed_time)
        ca.revoke(issued.serial, "superseded", at=fixed_time)
        ca.crl(now=fixed_time)
        result = ca.verify_audit()
        assert result.entries == 5  # the first CRL is published at init
        assert [e.action for e in ca.audit_entries()] == ["init", "crl", "issue", "revoke", "crl"]
        engine = create_engine(ca.store.url)
        with engine.begin() as conn:  # an insider edits the log directly in the database
            conn.execute(
                text("UPDATE audit_events SET details = :d WHERE seq = 3"), {"d": '{"name_th": "x"}'}
            )
        engine.dispose()
        with pytest.raises(errors.AuditChainError, match="entry 3"):
            ca.verify_audit()


def test_unreachable_database_is_one_clear_error(tmp_path: Path, fixed_time: dt.datetime) -> None:
    from support.servers import free_port

    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=3"
    with pytest.raises(errors.StoreError, match="cannot use the CA database") as info:
        Authority.init(
            tmp_path / "ca", CaProfile(name_th="กรมทดสอบ", db=url), passphrase=CA_PASSPHRASE, now=fixed_time
        )
    assert "\n" not in str(info.value)
    assert not (tmp_path / "ca").exists()  # nothing left behind


def test_wrong_passphrase_and_read_only_open(authority: Authority) -> None:
    with pytest.raises(errors.SecretError, match="wrong CA passphrase"):
        Authority.open(authority.directory, passphrase="not it")
    ro = Authority.open(authority.directory, load_key=False)
    with ro, pytest.raises(errors.CAError, match="without its key"):
        ro.crl()
