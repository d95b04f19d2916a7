"""A CA folder made by thaisign before rows were bound into the audit chain keeps working: opening it
upgrades the store forward in the chain (``upgrade`` + ``adopt`` entries), and tampering before or
after the upgrade is still named. The folder in tests/data/ca-v1 was made by that older thaisign."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from ca_helpers import CA_PASSPHRASE, SOMCHAI, run_cli

from thaisign.ca import Authority

LEGACY = Path(__file__).resolve().parents[1] / "data" / "ca-v1"
E0001 = "53277b5e3b74ea0265f7b59c89e2efb1"
E0002 = "6226baf7ca5c7e06b280e26e5fd37645"  # revoked
E0003 = "597c016c8c095070cf06cea1601f085d"


@pytest.fixture()
def legacy(tmp_path: Path) -> Path:
    d = tmp_path / "ca-v1"
    shutil.copytree(LEGACY, d)
    return d


def _sql(ca_dir: Path, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    con = sqlite3.connect(ca_dir / "ca.db")
    try:
        rows = con.execute(statement, params).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def test_old_folder_is_upgraded_in_the_chain_and_keeps_working(legacy: Path, fixed_time: dt.datetime) -> None:
    assert _sql(legacy, "SELECT count(*) FROM audit_events") == [(6,)]
    r = run_cli("ca", "list", str(legacy), "--json")
    assert r.returncode == 0, r.stderr
    listed = {c["serial"]: c for c in json.loads(r.stdout)}
    assert set(listed) == {E0001, E0002, E0003} and listed[E0002]["status"] == "revoked"
    actions = [a for (a,) in _sql(legacy, "SELECT action FROM audit_events ORDER BY seq")]
    assert actions == [
        "init",
        "issue",
        "issue",
        "issue",
        "revoke",
        "crl",
        "upgrade",
        "adopt",
        "adopt",
        "adopt",
        "adopt",
    ]
    assert _sql(legacy, "SELECT value FROM store_meta WHERE name = 'schema'") == [("2",)]
    r = run_cli("ca", "audit", str(legacy), "--verify")
    assert r.returncode == 0, r.stderr
    assert "audit chain intact: 11 entries" in r.stdout and "3 certificates, 1 revocation, 1 CRL" in r.stdout
    # opening again does not upgrade twice
    run_cli("ca", "list", str(legacy))
    assert _sql(legacy, "SELECT count(*) FROM audit_events") == [(11,)]
    # and the old CA goes on: issue, revoke, CRL with its first checkpoint
    with Authority.open(legacy, passphrase=CA_PASSPHRASE) as ca:
        issued = ca.issue_officer(SOMCHAI, new_key="ec-p256", now=fixed_time)
        ca.revoke(issued.serial, "superseded", at=fixed_time)
        ca.crl(now=fixed_time)
        report = ca.check_integrity()
    assert report.ok, report.problems()
    assert report.checkpoint is not None and report.checkpoint.checkpoint.seq == 14


def test_tampering_before_the_upgrade_is_named(legacy: Path) -> None:
    _sql(legacy, "UPDATE certificates SET name_th = 'นายปลอม' WHERE serial = ?", (E0001,))
    _sql(legacy, "DELETE FROM revocations WHERE serial = ?", (E0002,))
    _sql(legacy, "UPDATE crls SET entries = 0 WHERE number = 1")
    r = run_cli("ca", "audit", str(legacy), "--verify")
    assert r.returncode == 1, r.stdout
    assert f"certificates: row {E0001} was changed outside thaisign before the upgrade" in r.stderr
    assert "name_th" in r.stderr
    assert f"revocations: row {E0002} was deleted outside thaisign" in r.stderr
    assert "crls: row 1 was changed outside thaisign" in r.stderr and "entries" in r.stderr


def test_a_certificate_slipped_in_before_the_upgrade_is_named(legacy: Path) -> None:
    columns = "employee_id, name_th, name_en, position, email, subject, key_type, source, not_before, " \
        "not_after, issued_at, sha256, der"  # fmt: skip
    _sql(legacy, f"INSERT INTO certificates (serial, {columns}) SELECT 'f00d', {columns} FROM certificates "
         "WHERE serial = ?", (E0003,))  # fmt: skip
    r = run_cli("ca", "audit", str(legacy), "--verify")
    assert r.returncode == 1
    assert "row f00d was in the store at the upgrade" in r.stderr and "no audit entry issued it" in r.stderr


def test_tampering_after_the_upgrade_is_named(legacy: Path) -> None:
    run_cli("ca", "list", str(legacy))  # upgrade
    _sql(legacy, "UPDATE certificates SET position = 'อธิบดี' WHERE serial = ?", (E0003,))
    _sql(
        legacy, "UPDATE revocations SET revoked_at = '2030-01-01 00:00:00.000000' WHERE serial = ?", (E0002,)
    )
    r = run_cli("ca", "audit", str(legacy), "--verify", "--json")
    assert r.returncode == 1
    found = {
        (d["table"], d["key"], d["kind"], tuple(d["fields"]))
        for d in json.loads(r.stdout)["integrity"]["differences"]
    }
    assert ("certificates", E0003, "changed", ("position",)) in found
    assert ("revocations", E0002, "changed", ("revoked_at",)) in found
