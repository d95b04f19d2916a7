"""``ca serve`` and ``tsa serve`` fail safe: a database deleted, replaced by an older copy, or changed
outside thaisign gets tryLater / refusals and /health 503, never answers from the wrong data; TSA
serials are never handed out twice across a restore. OpenSSL's OCSP client and the cryptography
OCSP parser read the answers; the servers run as the real CLI (two spawned workers)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import core, tsp
from asn1crypto import ocsp as asn1_ocsp
from ca_helpers import CA_PASSPHRASE, SOMCHAI, run_cli
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from support.servers import free_port, serve_wsgi, wait_for_port

from thaisign.ca import Authority, CaProfile
from thaisign.ca.server import CaServiceConfig, build_ca_app

ENV = {"THAISIGN_CA_PASSPHRASE": CA_PASSPHRASE}


@dataclass
class Served:
    dir: Path
    base: str
    officer: x509.Certificate
    ca_cert: x509.Certificate


def _env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("THAISIGN_")}, **extra}


def _make_ca(d: Path, port: int, fixed_time: dt.datetime) -> tuple[x509.Certificate, x509.Certificate]:
    profile = CaProfile(name_th="กรมทดสอบ", key="ec-p256", base_url=f"http://127.0.0.1:{port}")
    with Authority.init(d, profile, passphrase=CA_PASSPHRASE, now=fixed_time - dt.timedelta(days=30)) as ca:
        issued = ca.issue_officer(SOMCHAI, new_key="ec-p256", now=fixed_time - dt.timedelta(days=1))
        assert ca.certificate is not None
        return issued.certificate, ca.certificate


@pytest.fixture()
def served(tmp_path: Path, fixed_time: dt.datetime) -> Iterator[Served]:
    port = free_port()
    officer, ca_cert = _make_ca(tmp_path / "ca", port, fixed_time)
    proc = subprocess.Popen(
        [sys.executable, "-m", "thaisign", "ca", "serve", str(tmp_path / "ca"), "--signer", "ca",
         "--port", str(port), "--workers", "2", "--check-interval", "10"],
        env=_env(**ENV), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=60)
        served = Served(tmp_path / "ca", f"http://127.0.0.1:{port}", officer, ca_cert)
        _until(lambda: _health(served)[0] == 200, "the service to answer")
        yield served
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _until(condition: Callable[[], bool], what: str, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _health(s: Served) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"{s.base}/health", timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _ocsp(s: Served) -> str:
    """good / revoked / unknown, or the response status (try_later, ...)."""
    body = (
        ocsp.OCSPRequestBuilder().add_certificate(s.officer, s.ca_cert, hashes.SHA1()).build()
        .public_bytes(serialization.Encoding.DER)
    )  # fmt: skip
    req = urllib.request.Request(
        f"{s.base}/ocsp", data=body, headers={"Content-Type": "application/ocsp-request"}
    )
    with urllib.request.urlopen(req, timeout=20) as r:
        der = r.read()
    status = asn1_ocsp.OCSPResponse.load(der)["response_status"].native
    if status != "successful":
        return str(status)
    return ocsp.load_der_ocsp_response(der).certificate_status.name.lower()


def _backup(db: Path, to: Path) -> None:
    """A consistent copy, as an operator's backup tool makes it (SQLite online backup)."""
    src, dst = sqlite3.connect(db), sqlite3.connect(to)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()


def _delete_db(d: Path) -> None:
    for name in ("ca.db", "ca.db-wal", "ca.db-shm"):
        (d / name).unlink(missing_ok=True)


def test_deleted_then_restored_database_is_noticed_and_revocation_is_answered(
    served: Served, tmp_path: Path
) -> None:
    """The issue's scenario: delete ca.db, restore the backup (new inode), revoke: OCSP must say revoked."""
    assert _ocsp(served) == "good"
    _backup(served.dir / "ca.db", tmp_path / "backup.db")
    _delete_db(served.dir)
    assert _ocsp(served) == "try_later"
    code, body = _health(served)
    assert code == 503 and ("deleted or replaced" in json.dumps(body) or "missing" in json.dumps(body))
    shutil.copyfile(tmp_path / "backup.db", served.dir / "ca.db")  # the restore: a new file
    # each worker checks the restored file on its own: wait until answers from both say good
    _until(lambda: all(_ocsp(served) == "good" for _ in range(10)), "the restored store to be checked")
    r = run_cli("ca", "revoke", str(served.dir), format(served.officer.serial_number, "x"), env=ENV)
    assert r.returncode == 0, r.stderr
    assert _ocsp(served) == "revoked"  # from the restored file, not the deleted one
    assert _health(served)[0] == 200


def test_a_restore_from_an_older_copy_is_refused(served: Served, tmp_path: Path) -> None:
    _backup(served.dir / "ca.db", tmp_path / "before-revocation.db")
    r = run_cli("ca", "revoke", str(served.dir), format(served.officer.serial_number, "x"), env=ENV)
    assert r.returncode == 0, r.stderr
    _until(lambda: _ocsp(served) == "revoked", "the revocation")
    time.sleep(2)  # the guards take note of the new head (every second)
    _delete_db(served.dir)
    shutil.copyfile(tmp_path / "before-revocation.db", served.dir / "ca.db")
    _until(
        lambda: _health(served)[0] == 503 and "older copy" in json.dumps(_health(served)[1]), "the refusal"
    )
    assert _ocsp(served) == "try_later"  # never "good" from the older copy


def test_a_store_changed_outside_thaisign_is_refused_at_start(
    tmp_path: Path, fixed_time: dt.datetime
) -> None:
    port = free_port()
    officer, ca_cert = _make_ca(tmp_path / "ca", port, fixed_time)
    serial = format(officer.serial_number, "x")
    assert run_cli("ca", "revoke", str(tmp_path / "ca"), serial, env=ENV).returncode == 0
    con = sqlite3.connect(tmp_path / "ca" / "ca.db")
    con.execute("DELETE FROM revocations")  # an insider un-revokes the officer
    con.commit()
    con.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "thaisign", "ca", "serve", str(tmp_path / "ca"), "--signer", "ca",
         "--port", str(port)],
        env=_env(**ENV), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=60)
        s = Served(tmp_path / "ca", f"http://127.0.0.1:{port}", officer, ca_cert)
        _until(lambda: _health(s)[0] in (200, 503), "the service")
        code, body = _health(s)
        assert code == 503 and body["store"]["status"] == "tampered"  # type: ignore[index]
        assert f"revocations: row {serial} was deleted" in json.dumps(body, ensure_ascii=False)
        assert _ocsp(s) == "try_later"  # not "good"
        with urllib.request.urlopen(f"{s.base}/ca.cer", timeout=20) as r:
            assert r.status == 200  # what does not depend on the store still works
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{s.base}/crl/ca.crl", timeout=20)
        assert err.value.code == 503
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert "store checked against its audit chain: tampered" in stderr.decode()


def test_a_store_changed_while_serving_is_refused_on_the_timer(
    tmp_path: Path, fixed_time: dt.datetime, db_url_for: Callable[[str], str | None], db_kind: str
) -> None:
    """In process (a real HTTP server), on SQLite and PostgreSQL: the guard's timer finds the change."""
    profile = CaProfile(
        name_th="กรมทดสอบ", key="ec-p256", base_url="http://127.0.0.1:9", db=db_url_for(db_kind)
    )
    with Authority.init(
        tmp_path / "ca", profile, passphrase=CA_PASSPHRASE, now=fixed_time - dt.timedelta(days=3)
    ) as ca:
        issued = ca.issue_officer(SOMCHAI, new_key="ec-p256", now=fixed_time - dt.timedelta(days=1))
        ca.revoke(issued.serial, "keyCompromise", at=fixed_time - dt.timedelta(hours=1))
        url, ca_cert = ca.store.url, ca.certificate
    assert ca_cert is not None
    config = CaServiceConfig(
        tmp_path / "ca", signer="ca", ca_passphrase=CA_PASSPHRASE, clock=lambda: fixed_time, check_interval=1
    )
    app = build_ca_app(config)
    try:
        with serve_wsgi(app) as base:
            s = Served(tmp_path / "ca", base, issued.certificate, ca_cert)
            assert _ocsp(s) == "revoked" and _health(s)[0] == 200
            _sql(url, "DELETE FROM revocations")
            _until(lambda: _health(s)[0] == 503, "the timer to find the deleted revocation", timeout=20)
            assert _ocsp(s) == "try_later"
    finally:
        app.close()


def _sql(url: str, statement: str) -> None:
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        con.execute(statement)
        con.commit()
        con.close()
        return
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as con:
        con.execute(statement)


@pytest.fixture(name="db_kind", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def _db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def db_url_for(request: pytest.FixtureRequest) -> Callable[[str], str | None]:
    def make(kind: str) -> str | None:
        if kind == "sqlite":
            return None
        pg = request.getfixturevalue("postgres")
        return str(pg.new_database(f"guard_{os.getpid()}_{time.monotonic_ns()}"))

    return make


def test_ca_serve_closes_silent_connections_and_keeps_health_to_get(served: Served) -> None:
    port = int(served.base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(15)
        start = time.monotonic()
        assert sock.recv(100) == b""  # closed by the server (default: 5 s without a request)
        assert time.monotonic() - start < 10
    req = urllib.request.Request(f"{served.base}/health", method="DELETE")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=20)
    assert err.value.code == 405
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{served.base}/%1b%5b2J<script>", timeout=20)
    assert err.value.code == 404 and err.value.read() == b"not found\n"


# --- the TSA ---------------------------------------------------------------------------------------

TSA_PASS = "รหัสผ่าน-TSA-ทดสอบ"


def _token_serial(url: str) -> int | str:
    import hashlib

    req = tsp.TimeStampReq(
        {"version": "v1", "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                                              "hashed_message": hashlib.sha256(os.urandom(8)).digest()}}
    ).dump()  # fmt: skip
    http = urllib.request.Request(url, data=req, headers={"Content-Type": "application/timestamp-query"})
    with urllib.request.urlopen(http, timeout=20) as r:
        der = r.read()
    # asn1crypto's TimeStampResp wrongly requires a token, so read PKIStatusInfo on its own
    info = tsp.PKIStatusInfo.load(core.Sequence.load(der).contents)
    if info["status"].native not in ("granted", "granted_with_mods"):
        return ",".join(sorted(info["fail_info"].native or ()))
    resp = tsp.TimeStampResp.load(der)
    return int(
        resp["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed["serial_number"].native
    )


def test_tsa_refuses_without_its_log_and_never_reuses_a_serial_after_a_restore(tmp_path: Path) -> None:
    r = run_cli("tsa", "init", str(tmp_path / "tsa"), env={"THAISIGN_PASSPHRASE": TSA_PASS})
    assert r.returncode == 0, r.stderr
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "thaisign", "tsa", "serve", str(tmp_path / "tsa"), "--port", str(port),
         "--workers", "2"],
        env=_env(THAISIGN_PASSPHRASE=TSA_PASS), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    db = tmp_path / "tsa" / "tsa.db"
    try:
        wait_for_port(port, timeout=60)
        _until(lambda: isinstance(_token_serial(f"{base}/tsa"), int), "the TSA")
        _backup(db, tmp_path / "backup.db")
        seen = [_token_serial(f"{base}/tsa") for _ in range(150)]  # more than one block per worker
        assert all(isinstance(x, int) for x in seen) and len(set(seen)) == len(seen)
        for name in ("tsa.db", "tsa.db-wal", "tsa.db-shm"):
            (tmp_path / "tsa" / name).unlink(missing_ok=True)
        assert {_token_serial(f"{base}/tsa") for _ in range(4)} == {"system_failure"}
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/health", timeout=20)
        assert err.value.code == 503
        assert not db.exists()  # refused without making a new, empty log
        shutil.copyfile(tmp_path / "backup.db", db)  # restored: the log and the counter go back
        after = [_token_serial(f"{base}/tsa") for _ in range(150)]
        assert all(isinstance(x, int) for x in after)
        assert not set(after) & set(seen), "a serial was handed out twice"
        with urllib.request.urlopen(f"{base}/health", timeout=20) as resp:
            assert resp.status == 200
        req = urllib.request.Request(f"{base}/health", method="POST", data=b"")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=20)
        assert err.value.code == 405
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
