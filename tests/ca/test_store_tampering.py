"""A store changed behind thaisign's back is caught: every row is bound into the audit chain and the
chain head is signed at each CRL, so ``ca audit --verify`` names what was added, deleted or changed,
a log cut short is seen against the last checkpoint, and no CRL is made from a tampered store.

Every tampering is done as an insider would: plain SQL on the database (sqlite3 / psycopg), on
SQLite and on a real PostgreSQL. OpenSSL checks the signed checkpoint independently.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ca_helpers import (  # noqa: F401 - fixtures are used by name
    CA_PASSPHRASE,
    SOMCHAI,
    db_kind_fixture,
    make_csr,
    new_db_url_fixture,
    require_tool,
    run_cli,
)

from thaisign.ca import Authority, CaProfile
from thaisign.ca.checkpoint import CHECKPOINT_FILE, load_checkpoint
from thaisign.ca.integrity import check_store
from thaisign.errors import StoreError

ENV = {"THAISIGN_CA_PASSPHRASE": CA_PASSPHRASE}


@dataclasses.dataclass
class Ca:
    dir: Path
    url: str  # SQLAlchemy URL of its store
    serials: list[str]  # three officers, hex
    revoked: str  # the first one, revoked

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run SQL on the store directly, outside thaisign (``?`` placeholders)."""
        if self.url.startswith("sqlite"):
            con = sqlite3.connect(self.url.removeprefix("sqlite:///"))
            try:
                rows = con.execute(statement, params).fetchall()
                con.commit()
            finally:
                con.close()
            return rows
        import psycopg

        with psycopg.connect(self.url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as con:
            cur = con.execute(statement.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []

    def check(self) -> list[str]:
        with Authority.open(self.dir, load_key=False) as ca:
            return ca.check_integrity().problems()


@pytest.fixture()
def ca(
    tmp_path: Path, db_kind: str, new_db_url: Callable[[str], str | None], fixed_time: dt.datetime
) -> Iterator[Ca]:
    """Three officers, the first revoked, the first CRL (made at init) and a second, at fixed times."""
    profile = CaProfile(
        name_th="กรมทดสอบ", key="ec-p256", base_url="http://127.0.0.1:9", db=new_db_url(db_kind)
    )
    t0 = fixed_time - dt.timedelta(days=10)
    with Authority.init(tmp_path / "ca", profile, passphrase=CA_PASSPHRASE, now=t0) as authority:
        serials = []
        for i, name in enumerate(("นายหนึ่ง ทดสอบ", "นายสอง ทดสอบ", "นายสาม ทดสอบ")):
            officer = dataclasses.replace(SOMCHAI, name_th=name, employee_id=f"E{i}")
            issued = authority.issue_officer(officer, csr=make_csr()[0], now=t0 + dt.timedelta(days=1))
            serials.append(issued.serial_hex)
        authority.revoke(serials[0], "keyCompromise", at=t0 + dt.timedelta(days=2))
        authority.crl(now=t0 + dt.timedelta(days=2))
        url = authority.store.url
        assert authority.check_integrity().ok
    yield Ca(tmp_path / "ca", url, serials, serials[0])


def _one(problems: list[str], *needles: str) -> None:
    assert any(all(n in p for n in needles) for p in problems), problems


def test_untouched_store_passes_and_checkpoint_verifies_with_openssl(ca: Ca, tmp_path: Path) -> None:
    r = run_cli("ca", "audit", str(ca.dir), "--verify")
    assert r.returncode == 0, r.stderr
    assert "audit chain intact: 7 entries" in r.stdout  # init, first CRL, 3 issues, revocation, CRL
    assert "tables match the chain: 3 certificates, 1 revocation, 2 CRLs" in r.stdout
    assert "holds the checkpoint of" in r.stdout
    # the checkpoint is a CMS SignedData by the CA key: OpenSSL verifies it and prints its content
    openssl = require_tool("openssl")
    out = subprocess.run(
        [openssl, "cms", "-verify", "-inform", "DER", "-in", str(ca.dir / CHECKPOINT_FILE),
         "-CAfile", str(ca.dir / "ca.pem"), "-purpose", "any", "-binary"],
        capture_output=True,
        check=True,
    )  # fmt: skip
    doc = json.loads(out.stdout)
    assert doc["seq"] == 7 and doc["crl_number"] == 2
    assert doc["head"] == ca.sql("SELECT hash FROM audit_events WHERE seq = 7")[0][0]


def test_deleted_revocation_is_named_and_no_crl_hides_it(ca: Ca) -> None:
    ca.sql("DELETE FROM revocations WHERE serial = ?", (ca.revoked,))
    _one(ca.check(), "revocations", ca.revoked, "deleted")
    r = run_cli("ca", "audit", str(ca.dir), "--verify")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"revocations: row {ca.revoked} was deleted outside thaisign" in r.stderr
    assert "changed outside thaisign: 1 problem(s)" in r.stderr
    r = run_cli("ca", "crl", str(ca.dir), "-o", str(ca.dir.parent / "next.crl"), env=ENV)
    assert r.returncode != 0 and "no CRL was made" in r.stderr
    assert not (ca.dir.parent / "next.crl").exists()
    with Authority.open(ca.dir, passphrase=CA_PASSPHRASE) as authority, pytest.raises(StoreError):
        authority.crl()


def test_back_dated_revocation_is_named(ca: Ca) -> None:
    ca.sql("UPDATE revocations SET revoked_at = ? WHERE serial = ?", ("2030-01-01 00:00:00", ca.revoked))
    _one(ca.check(), "revocations", ca.revoked, "changed", "revoked_at")


def test_changed_reason_is_named(ca: Ca) -> None:
    ca.sql("UPDATE revocations SET reason = 'superseded' WHERE serial = ?", (ca.revoked,))
    _one(ca.check(), "revocations", ca.revoked, "changed", "reason")


def test_edited_certificate_row_is_named(ca: Ca) -> None:
    ca.sql("UPDATE certificates SET name_th = 'นายปลอม แปลงชื่อ' WHERE serial = ?", (ca.serials[1],))
    _one(ca.check(), "certificates", ca.serials[1], "changed", "name_th")


def test_swapped_certificates_are_named(ca: Ca) -> None:
    a, b = ca.serials[1], ca.serials[2]
    rows = {s: ca.sql("SELECT der, sha256 FROM certificates WHERE serial = ?", (s,))[0] for s in (a, b)}
    for s, other in ((a, b), (b, a)):
        ca.sql("UPDATE certificates SET der = ?, sha256 = ? WHERE serial = ?", (*rows[other], s))
    problems = ca.check()
    _one(problems, "certificates", a, "changed", "der")
    _one(problems, "certificates", b, "changed", "der")


def test_der_changed_without_its_hash_is_named(ca: Ca) -> None:
    der = ca.sql("SELECT der FROM certificates WHERE serial = ?", (ca.serials[2],))[0][0]
    forged = bytes(der[:-1]) + bytes([der[-1] ^ 1])
    ca.sql("UPDATE certificates SET der = ? WHERE serial = ?", (forged, ca.serials[2]))
    _one(ca.check(), "certificates", ca.serials[2], "changed", "der")


def test_added_certificate_row_is_named(ca: Ca) -> None:
    columns = "employee_id, name_th, name_en, position, email, subject, key_type, source, not_before, " \
        "not_after, issued_at, sha256, der"  # fmt: skip
    ca.sql(
        f"INSERT INTO certificates (serial, {columns}) SELECT 'abcdef0123', {columns} FROM certificates "
        "WHERE serial = ?",
        (ca.serials[1],),
    )
    _one(ca.check(), "certificates", "abcdef0123", "added")


def test_deleted_certificate_row_is_named(ca: Ca) -> None:
    ca.sql("DELETE FROM certificates WHERE serial = ?", (ca.serials[2],))
    _one(ca.check(), "certificates", ca.serials[2], "deleted")


def test_deleted_crl_row_and_changed_ca_record_are_named(ca: Ca) -> None:
    ca.sql("DELETE FROM crls WHERE number = 1")
    ca.sql("UPDATE ca SET name = 'กรมปลอม' WHERE id = 1")
    problems = ca.check()
    _one(problems, "crls", "row 1", "deleted")
    _one(problems, "ca", "changed", "name")


def test_edited_audit_entry_breaks_the_chain(ca: Ca) -> None:
    details = ca.sql("SELECT details FROM audit_events WHERE seq = 4")[0][0]
    ca.sql("UPDATE audit_events SET details = ? WHERE seq = 4", (details.replace("E1", "E9"),))
    _one(ca.check(), "audit entry 4", "does not match its hash")


def test_deleted_middle_entry_is_seen(ca: Ca) -> None:
    ca.sql("DELETE FROM audit_events WHERE seq = 4")
    problems = ca.check()
    _one(problems, "audit entries 4 are missing")
    _one(problems, "certificates", ca.serials[1], "added")  # the row no entry made any more


def test_cut_tail_is_seen_against_the_checkpoint(ca: Ca) -> None:
    """The newest entries deleted (the chain that is left is intact): only the checkpoint shows it."""
    ca.sql("DELETE FROM checkpoints")  # an insider removes the store's own copies too
    ca.sql("DELETE FROM crls WHERE number = 2")
    ca.sql("DELETE FROM audit_events WHERE seq >= 6")  # the revocation and the second CRL's entries
    ca.sql("DELETE FROM revocations")
    problems = ca.check()
    _one(problems, "cut short", "vouches for 7 entries", "holds 5")
    assert len(problems) == 1, problems  # everything else is consistent: that is the point
    r = run_cli("ca", "audit", str(ca.dir), "--verify", "--json")
    assert r.returncode == 1
    report = json.loads(r.stdout)
    assert report["verified"] is False and report["integrity"]["checkpoint"]["held"] is False


def test_cut_tail_is_seen_against_an_operators_copy(ca: Ca, tmp_path: Path) -> None:
    """The CA folder's copy gone as well: the copy published beside the CRL still shows it."""
    kept = tmp_path / "kept.checkpoint.p7m"
    kept.write_bytes((ca.dir / CHECKPOINT_FILE).read_bytes())
    (ca.dir / CHECKPOINT_FILE).unlink()
    ca.sql("DELETE FROM checkpoints")
    ca.sql("DELETE FROM crls WHERE number = 2")
    ca.sql("DELETE FROM audit_events WHERE seq >= 6")
    ca.sql("DELETE FROM revocations")
    assert ca.check() == []  # nothing inside the store or folder can tell
    r = run_cli("ca", "audit", str(ca.dir), "--verify", "--checkpoint", str(kept))
    assert r.returncode == 1 and "cut short" in r.stderr and "kept.checkpoint.p7m" in r.stderr


def test_rewritten_chain_is_seen_against_the_checkpoint(ca: Ca) -> None:
    """A careful insider deletes the revocation, its entry, and recomputes every later hash."""
    from thaisign.ca.audit import StoredEntry, next_entries

    rows = ca.sql("SELECT seq, time, action, serial, details, prev_hash, hash FROM audit_events ORDER BY seq")
    kept = [StoredEntry(*r) for r in rows if r[2] != "revoke"]
    ca.sql("DELETE FROM audit_events")
    ca.sql("DELETE FROM revocations")
    last = None
    for e in kept:
        new = next_entries(
            last, [(e.action, e.serial, json.loads(e.details))], dt.datetime.fromisoformat(e.time)
        )[0]
        ca.sql(
            "INSERT INTO audit_events (seq, time, action, serial, details, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            tuple(new.values()),
        )
        last = (new["seq"], new["hash"])
    problems = ca.check()
    # the chain is intact and matches the tables: only the CA's signature over the old head tells
    assert len(problems) == 1, problems
    _one(problems, "cut short")


def test_checkpoint_from_another_ca_is_ignored(ca: Ca, tmp_path: Path, fixed_time: dt.datetime) -> None:
    other = Authority.init(
        tmp_path / "other",
        CaProfile(name_th="กรมอื่น", key="ec-p256"),
        passphrase=CA_PASSPHRASE,
        now=fixed_time,
    )
    with other:
        other.crl(now=fixed_time)
        foreign = (other.directory / CHECKPOINT_FILE).read_bytes()
    with Authority.open(ca.dir, load_key=False) as authority:
        assert authority.certificate is not None
        with pytest.raises(StoreError, match=r"names another CA|does not verify"):
            load_checkpoint(foreign, authority.certificate)
        report = check_store(
            authority.store, ca_certificate=authority.certificate, checkpoints=[("foreign", foreign)]
        )
    assert any("ignored" in p and "foreign" in p for p in report.problems())


def test_control_characters_in_a_tampered_serial_are_shown_escaped(ca: Ca) -> None:
    ca.sql("UPDATE certificates SET serial = ? WHERE serial = ?", ("ab\x1b[31mcd", ca.serials[2]))
    r = run_cli("ca", "audit", str(ca.dir), "--verify")
    assert r.returncode == 1
    assert "\x1b" not in r.stderr and "ab\\x1b[31mcd" in r.stderr


def test_listing_a_tampered_store_shows_hostile_text_escaped(ca: Ca) -> None:
    ca.sql("UPDATE certificates SET name_th = ? WHERE serial = ?", ("นาย\x1b[2J\u202eปลอม", ca.serials[1]))
    for r in (run_cli("ca", "list", str(ca.dir)), run_cli("ca", "show", str(ca.dir), ca.serials[1])):
        assert r.returncode == 0, r.stderr
        assert "\x1b" not in r.stdout and "\u202e" not in r.stdout
        assert "\\x1b[2J\\u202eปลอม" in r.stdout
