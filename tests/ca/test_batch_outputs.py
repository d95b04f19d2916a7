"""Batch outputs: one file name per employee ID (never shared), collisions refused before anything is
issued, and a re-run that checks every key <-> certificate pair, repairs what it can and says what it
cannot. OpenSSL checks that each PKCS#12's key belongs to the certificate beside it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from ca_helpers import CA_PASSPHRASE, make_csr, require_tool, run_cli
from cryptography.hazmat.primitives.serialization import pkcs12

from thaisign.ca import Authority, CaProfile, CertificateStore
from thaisign.ca.batch import file_stem, legacy_file_stem

P12_PASS = "p12-passphrase-test"
ENV = {"THAISIGN_CA_PASSPHRASE": CA_PASSPHRASE, "THAISIGN_PASSPHRASE": P12_PASS}
HEADER = "employee_id,name_th,position,csr"


@pytest.fixture()
def ca_dir(tmp_path: Path) -> Path:
    profile = CaProfile(name_th="กรมทดสอบ", key="ec-p256", base_url="http://127.0.0.1:9")
    Authority.init(tmp_path / "ca", profile, passphrase=CA_PASSPHRASE).close()
    return tmp_path / "ca"


def _csv(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _batch(ca_dir: Path, csv_file: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli("ca", "issue-batch", str(ca_dir), str(csv_file), "--out-dir", str(out), *extra, env=ENV)


def _pair_matches(p12: Path, pem: Path) -> bool:
    """OpenSSL: the public key of the PKCS#12's private key is the certificate's public key."""
    openssl = require_tool("openssl")
    key = subprocess.run(
        [openssl, "pkcs12", "-in", str(p12), "-nocerts", "-nodes", "-passin", f"pass:{P12_PASS}"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    from_key = subprocess.run([openssl, "pkey", "-pubout"], input=key, capture_output=True, check=True).stdout
    from_cert = subprocess.run(
        [openssl, "x509", "-in", str(pem), "-noout", "-pubkey"], capture_output=True, check=True
    ).stdout
    return from_key == from_cert


def test_file_names_are_injective() -> None:
    ids = ["A/1", "A=1", "A 1", "A:1", "A.1", "A-1", "A1", ".hidden", "x/../y", "(A)+1,2?"]
    stems = [file_stem(i) for i in ids]
    assert len(set(stems)) == len(ids)
    assert stems[:2] == ["A_2F1", "A_3D1"] and file_stem("E0042") == "E0042"
    assert all("/" not in s and not s.startswith(".") for s in stems)
    assert legacy_file_stem("A/1") == legacy_file_stem("A=1") == "A_1"  # what used to collide


def test_ids_that_shared_a_file_name_get_their_own_files(ca_dir: Path, tmp_path: Path) -> None:
    csv_file = _csv(
        tmp_path / "o.csv", "A/1,นายหนึ่ง ทดสอบ,นิติกร,", "A=1,นายสอง ทดสอบ,นิติกร,", "E3,นายสาม ทดสอบ,นิติกร,"
    )
    out = tmp_path / "out"
    r = _batch(ca_dir, csv_file, out)
    assert r.returncode == 0, r.stderr
    assert "internal error" not in r.stderr and "issued 3," in r.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "A_2F1.p12", "A_2F1.pem", "A_3D1.p12", "A_3D1.pem", "E3.p12", "E3.pem",
    ]  # fmt: skip
    for stem in ("A_2F1", "A_3D1", "E3"):
        assert _pair_matches(out / f"{stem}.p12", out / f"{stem}.pem"), stem
    r = _batch(ca_dir, csv_file, out, "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert len(result["skipped"]) == 3 and result["repaired"] == [] and result["problems"] == []


def test_names_differing_only_in_case_are_refused_before_anything_is_issued(
    ca_dir: Path, tmp_path: Path
) -> None:
    csv_file = _csv(tmp_path / "o.csv", "E1,นายหนึ่ง ทดสอบ,นิติกร,", "e1,นายสอง ทดสอบ,นิติกร,")
    r = _batch(ca_dir, csv_file, tmp_path / "out")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "differ only in letter case" in r.stderr and "line 2" in r.stderr and "line 3" in r.stderr
    with CertificateStore.open(ca_dir) as store:
        assert store.counts()["certificates"] == 0


def test_rerun_repairs_swapped_keys_and_broken_certificates(ca_dir: Path, tmp_path: Path) -> None:
    csv_file = _csv(
        tmp_path / "o.csv", "A/1,นายหนึ่ง ทดสอบ,นิติกร,", "A=1,นายสอง ทดสอบ,นิติกร,", "E3,นายสาม ทดสอบ,นิติกร,"
    )
    out = tmp_path / "out"
    assert _batch(ca_dir, csv_file, out).returncode == 0
    a, b = out / "A_2F1.p12", out / "A_3D1.p12"
    a_bytes, b_bytes = a.read_bytes(), b.read_bytes()
    a.write_bytes(b_bytes)
    b.write_bytes(a_bytes)
    (out / "E3.pem").unlink()
    (out / "A_2F1.pem").write_text("not a certificate")
    r = _batch(ca_dir, csv_file, out, "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    repaired = {(x["employee_id"], x["what"].split(":")[0]) for x in result["repaired"]}
    assert ("A/1", "A_2F1.pem was not a certificate") in repaired
    assert ("E3", "E3.pem was missing") in repaired
    assert {
        x["employee_id"] for x in result["repaired"] if "restored with the key found in" in x["what"]
    } == {"A/1", "A=1"}
    assert result["problems"] == []
    for stem in ("A_2F1", "A_3D1", "E3"):
        assert _pair_matches(out / f"{stem}.p12", out / f"{stem}.pem"), stem


def test_a_lost_key_is_reported_then_replaced_after_revocation(ca_dir: Path, tmp_path: Path) -> None:
    csv_file = _csv(tmp_path / "o.csv", "E1,นายหนึ่ง ทดสอบ,นิติกร,", "E2,นายสอง ทดสอบ,นิติกร,")
    out = tmp_path / "out"
    assert _batch(ca_dir, csv_file, out).returncode == 0
    (out / "E2.p12").unlink()
    r = _batch(ca_dir, csv_file, out)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "o.csv:3: E2: E2.p12 is missing" in r.stderr and "thaisign ca revoke" in r.stderr
    assert "1 output problem(s)" in r.stdout
    serial = r.stderr.split("thaisign ca revoke ")[1].split()[1]
    assert run_cli("ca", "revoke", str(ca_dir), serial, "--reason", "superseded", env=ENV).returncode == 0
    r = _batch(ca_dir, csv_file, out)
    assert r.returncode == 0, r.stderr
    assert "issued 1, skipped 1" in r.stdout
    assert _pair_matches(out / "E2.p12", out / "E2.pem")


def test_outputs_named_by_older_thaisign_are_sorted_out(ca_dir: Path, tmp_path: Path) -> None:
    """What the old collision left: A_1.p12 held A=1's key, A/1's key was lost, A_1.pem held A/1's cert."""
    csv_file = _csv(tmp_path / "o.csv", "A/1,นายหนึ่ง ทดสอบ,นิติกร,", "A=1,นายสอง ทดสอบ,นิติกร,")
    out = tmp_path / "out"
    assert _batch(ca_dir, csv_file, out).returncode == 0
    (out / "A_3D1.p12").rename(out / "A_1.p12")
    (out / "A_2F1.pem").rename(out / "A_1.pem")
    (out / "A_2F1.p12").unlink()
    (out / "A_3D1.pem").unlink()
    r = _batch(ca_dir, csv_file, out)
    assert r.returncode == 1
    assert "A=1: repaired: A_3D1.p12 restored with the key found in A_1.p12" in r.stderr
    assert "A/1: A_2F1.p12 is missing" in r.stderr
    assert not (out / "A_1.p12").exists()  # its key now lives under its owner's name
    assert _pair_matches(out / "A_3D1.p12", out / "A_3D1.pem")
    assert (out / "A_2F1.pem").exists()


def test_csr_paths_stay_in_the_csv_folder(ca_dir: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    outside = tmp_path / "outside.csr"
    outside.write_bytes(make_csr()[0])
    (inbox / "inside.csr").write_bytes(make_csr()[0])
    (inbox / "link.csr").symlink_to(outside)
    (inbox / "big.csr").write_bytes(b"-" * (70 * 1024))
    csv_file = _csv(
        inbox / "o.csv",
        "E1,นายหนึ่ง ทดสอบ,นิติกร,/etc/shadow",
        "E2,นายสอง ทดสอบ,นิติกร,../outside.csr",
        "E3,นายสาม ทดสอบ,นิติกร,link.csr",
        "E4,นายสี่ ทดสอบ,นิติกร,inside.csr",
        "E5,นายห้า ทดสอบ,นิติกร,big.csr",
        "E6,นายหก ทดสอบ,นิติกร,sub/../inside.csr",
    )
    r = _batch(ca_dir, csv_file, tmp_path / "out")
    assert r.returncode == 1
    assert "o.csv:2: csr path /etc/shadow is absolute" in r.stderr
    assert "o.csv:3: csr path ../outside.csr leads out of the CSV's folder" in r.stderr
    assert "o.csv:4: csr path link.csr leads out of the CSV's folder" in r.stderr
    assert "o.csv:6: CSR big.csr is" in r.stderr and "too big" in r.stderr
    assert "not a valid certificate signing request" not in r.stderr  # nothing outside was parsed
    assert "issued 2," in r.stdout  # E4 and E6 (a path that stays inside)


def test_bad_rows_are_reported_at_their_own_lines(ca_dir: Path, tmp_path: Path) -> None:
    big = "ก" * (1 << 20)
    text = (
        HEADER + "\n"
        'E1,"นายหนึ่ง\nทดสอบ",นิติกร,\n'  # lines 2-3: a quoted field over two lines (a bad name)
        f"E2,{big},นิติกร,\n"  # line 4: 1 MB
        "E3,นายสาม ทดสอบ,,\n"  # line 5: no position
        f"E4,{big},นิติกร,\n"  # line 6: 1 MB
        "E5,นายห้า ทดสอบ,นิติกร,\n"  # line 7: fine
    )
    (tmp_path / "o.csv").write_text(text, encoding="utf-8")
    r = _batch(ca_dir, tmp_path / "o.csv", tmp_path / "out", "--json")
    errors = {e["line"]: e["error"] for e in json.loads(r.stdout)["errors"]}
    assert sorted(errors) == [2, 4, 5, 6], errors
    assert "field larger than field limit" in errors[4] and "field larger than field limit" in errors[6]
    assert "position" in errors[5]
    assert len(r.stdout) < 10_000  # the 1 MB rows are not echoed


def test_a_short_batch_passphrase_is_refused_before_anything_is_issued(ca_dir: Path, tmp_path: Path) -> None:
    csv_file = _csv(tmp_path / "o.csv", "E1,นายหนึ่ง ทดสอบ,นิติกร,")
    r = run_cli(
        "ca", "issue-batch", str(ca_dir), str(csv_file), "--out-dir", str(tmp_path / "out"),
        env={"THAISIGN_CA_PASSPHRASE": CA_PASSPHRASE, "THAISIGN_PASSPHRASE": "abc"},
    )  # fmt: skip
    assert r.returncode != 0 and "too short (3 characters); use at least 12" in r.stderr
    assert "abc" not in r.stderr
    with CertificateStore.open(ca_dir) as store:
        assert store.counts()["certificates"] == 0


def test_p12_digest_is_recorded_in_the_issue_entry(ca_dir: Path, tmp_path: Path) -> None:
    import hashlib

    csv_file = _csv(tmp_path / "o.csv", "E1,นายหนึ่ง ทดสอบ,นิติกร,")
    assert _batch(ca_dir, csv_file, tmp_path / "out").returncode == 0
    p12 = tmp_path / "out" / "E1.p12"
    _, cert, _ = pkcs12.load_key_and_certificates(p12.read_bytes(), P12_PASS.encode())
    assert cert is not None
    with CertificateStore.open(ca_dir) as store:
        recorded = store.issue_details([format(cert.serial_number, "x")], "pkcs12_sha256")
    assert recorded == {format(cert.serial_number, "x"): hashlib.sha256(p12.read_bytes()).hexdigest()}
    assert os.stat(p12).st_mode & 0o777 == 0o600
