"""Batch issuance from CSV, eight processes issuing at once, and a batch killed with SIGKILL."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ca_helpers import (  # noqa: F401 - fixtures are used by name
    CA_PASSPHRASE,
    db_kind_fixture,
    make_csr,
    new_db_url_fixture,
    run_cli,
)
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from thaisign.ca import Authority, CaProfile, CertificateStore

ENV = {"THAISIGN_CA_PASSPHRASE": CA_PASSPHRASE, "THAISIGN_PASSPHRASE": "p12-passphrase-test"}


def _new_ca(path: Path, db: str | None) -> Path:
    Authority.init(path, CaProfile(name_th="กรมทดสอบ", db=db), passphrase=CA_PASSPHRASE).close()
    return path


def _write_csv(
    path: Path, rows: list[str], header: str = "employee_id,name_th,position,email,csr,key"
) -> None:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")


def test_batch_in_worker_processes_matches_single_process(tmp_path: Path) -> None:
    from thaisign.ca.batch import CaOpener, issue_batch

    csr, _ = make_csr()
    (tmp_path / "o.csr").write_bytes(csr)
    rows = [f"P{i:04d},นายสมชาย ใจดี,ผู้อำนวยการกอง,,{'o.csr' if i % 7 else ''}," for i in range(40)]
    rows.append("P9999,นายสมชาย ใจดี,,,o.csr,")  # no position: a bad row, found by a worker
    _write_csv(tmp_path / "o.csv", rows)
    ca_dir = _new_ca(tmp_path / "ca", None)
    with Authority.open(ca_dir, passphrase=CA_PASSPHRASE) as ca:
        result = issue_batch(
            ca,
            tmp_path / "o.csv",
            tmp_path / "out",
            passphrase="p12-passphrase-test",
            chunk=8,
            workers=2,
            opener=CaOpener(ca_dir, CA_PASSPHRASE),
        )
        assert [e.line for e in result.errors] == [42]
        assert [line for line, _, _ in result.issued] == list(range(2, 42))  # in CSV order
        assert len(ca.certificates()) == 40
        ca.verify_audit()
    assert len(list((tmp_path / "out").glob("*.pem"))) == 40
    assert len(list((tmp_path / "out").glob("*.p12"))) == 6


def test_batch_reports_bad_rows_and_skips_issued_on_rerun(tmp_path: Path) -> None:
    ca_dir = _new_ca(tmp_path / "ca", None)
    csr, _ = make_csr()
    (tmp_path / "a.csr").write_bytes(csr)
    (tmp_path / "bad.csr").write_bytes(
        b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
    )
    _write_csv(
        tmp_path / "officers.csv",
        [
            "E1,นายสมชาย ใจดี,ผู้อำนวยการกอง,somchai@dla.go.th,a.csr,",
            "E2,นางสาวสมหญิง รักไทย,นักจัดการงานทั่วไป,,,ec-p384",
            ",ไม่มีรหัส,เจ้าหน้าที่,,,",  # line 4: no employee ID
            "E3,นายสมศักดิ์ มั่นคง,,,,",  # line 5: no position
            "E4,นายเอ บี,นิติกร,not-an-email,,",  # line 6
            "E5,นายซี ดี,นิติกร,,bad.csr,",  # line 7: a CSR that is not one
            "E1,ซ้ำ,ซ้ำ,,,",  # line 8: repeats E1
            "E6,นายอี เอฟ,นิติกร,,,ec-p999",  # line 9
            "E7,นายจี เอช,นิติกร,,,,extra",  # line 10: too many fields
        ],
    )
    out = tmp_path / "out"
    r = run_cli(
        "ca", "issue-batch", str(ca_dir), str(tmp_path / "officers.csv"), "--out-dir", str(out), env=ENV
    )
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    for line in (4, 5, 6, 7, 8, 9, 10):
        assert f"officers.csv:{line}:" in r.stderr, r.stderr
    assert "issued 2," in r.stdout
    assert x509.load_pem_x509_certificate((out / "E1.pem").read_bytes())
    key, cert, _ = pkcs12.load_key_and_certificates((out / "E2.p12").read_bytes(), b"p12-passphrase-test")
    assert key is not None and cert is not None
    assert not list(out.glob(".*"))  # no pending or temporary files left
    # re-run: nothing new is issued; a deleted certificate file is rewritten from the store
    (out / "E1.pem").unlink()
    r = run_cli(
        "ca",
        "issue-batch",
        str(ca_dir),
        str(tmp_path / "officers.csv"),
        "--out-dir",
        str(out),
        "--json",
        env=ENV,
    )
    result = json.loads(r.stdout)
    assert result["issued"] == [] and {s["employee_id"] for s in result["skipped"]} == {"E1", "E2"}
    assert result["restored_files"] == 1 and (out / "E1.pem").exists()
    with CertificateStore.open(ca_dir) as store:
        assert store.counts()["certificates"] == 2
        store.verify_audit()


_WORKER = """
import sys
from thaisign.ca import Authority, OfficerProfile
ca = Authority.open(sys.argv[1], passphrase=sys.argv[2])
csr = open(sys.argv[3], "rb").read()
serials = []
for i in range(int(sys.argv[4])):
    issued = ca.issue_officer(OfficerProfile(name_th="นายสมชาย ใจดี", position="ผู้อำนวยการกอง",
                                             employee_id=f"W{sys.argv[5]}-{i}"), csr=csr)
    serials.append(issued.serial)
    if i % 10 == 9:
        ca.revoke(serials[i - 5], "superseded")
    if i % 50 == 49:
        ca.crl()
ca.close()
"""


@pytest.mark.slow
def test_eight_processes_issue_at_once(
    tmp_path: Path, db_kind: str, new_db_url: Callable[[str], str | None]
) -> None:
    ca_dir = _new_ca(tmp_path / "ca", new_db_url(db_kind))
    csr, _ = make_csr()
    (tmp_path / "o.csr").write_bytes(csr)
    (tmp_path / "worker.py").write_text(_WORKER)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(tmp_path / "worker.py"),
                str(ca_dir),
                CA_PASSPHRASE,
                str(tmp_path / "o.csr"),
                "100",
                str(n),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(8)
    ]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    with CertificateStore.open(ca_dir) as store:
        certs = store.certificates()
        assert len(certs) == 800
        assert len({c.serial for c in certs}) == 800
        assert len({c.employee_id for c in certs}) == 800
        for c in certs[::97]:
            assert x509.load_der_x509_certificate(c.der).serial_number == c.serial
        counts = store.counts()
        assert counts["revocations"] == 80 and counts["crls"] == 1 + 16  # the first CRL is from init
        result = store.verify_audit()
        assert result.entries == 1 + 1 + 800 + 80 + 16  # init, first CRL, issues, revocations, CRLs
        # CRL numbers strictly increase with content: each CRL holds at least the previous one's entries
        from sqlalchemy import select

        from thaisign.ca.store import CrlRow

        with store._engine.connect() as conn:
            crls = conn.execute(select(CrlRow.number, CrlRow.entries).order_by(CrlRow.number)).all()
        assert [n for n, _ in crls] == list(range(1, 18))
        assert all(a[1] <= b[1] for a, b in itertools.pairwise(crls))


def test_batch_killed_with_sigkill_leaves_store_consistent(tmp_path: Path) -> None:
    ca_dir = _new_ca(tmp_path / "ca", None)
    csr, _ = make_csr()
    (tmp_path / "o.csr").write_bytes(csr)
    rows = [f"K{i:05d},นายสมชาย ใจดี,ผู้อำนวยการกอง,,{'o.csr' if i % 12 else ''}," for i in range(1200)]
    _write_csv(tmp_path / "big.csv", rows)
    out = tmp_path / "out"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("THAISIGN_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "thaisign",
            "ca",
            "issue-batch",
            str(ca_dir),
            str(tmp_path / "big.csv"),
            "--out-dir",
            str(out),
            "--workers",
            "2",  # signing in two worker processes; the killed parent records and writes
        ],
        env={**base_env, **ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("*.pem"))) < 200:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(list(out.glob("*.pem"))) >= 200, "the batch did not get going"

    def check_consistent() -> set[str]:
        with CertificateStore.open(ca_dir) as store:
            in_store = {c.serial for c in store.certificates()}
            by_employee = {c.employee_id for c in store.certificates()}
        for f in out.iterdir():
            if f.name.startswith("."):
                continue  # pending / temporary files: not outputs
            if f.suffix == ".pem":
                cert = x509.load_pem_x509_certificate(f.read_bytes())  # complete, never half-written
            else:
                _, cert, _ = pkcs12.load_key_and_certificates(f.read_bytes(), b"p12-passphrase-test")
                assert cert is not None
            assert cert.serial_number in in_store, f"{f.name} is on disk but not in the store"
        return {e for e in by_employee if e}

    issued_before = check_consistent()
    assert 0 < len(issued_before) < 1200
    r = run_cli(
        "ca", "issue-batch", str(ca_dir), str(tmp_path / "big.csv"), "--out-dir", str(out), "--json", env=ENV
    )
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert len(result["issued"]) + len(result["skipped"]) == 1200
    assert check_consistent() == {f"K{i:05d}" for i in range(1200)}
    with CertificateStore.open(ca_dir) as store:
        assert store.counts()["certificates"] == 1200  # every employee exactly once
        store.verify_audit()
    assert len(list(out.glob("*.pem"))) == 1200 and len(list(out.glob("*.p12"))) == 100
    assert not list(out.glob(".*"))
