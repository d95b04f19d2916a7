"""``thaisign tsa init`` / ``tsa serve``: a TSA folder served over HTTP, checked with openssl."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import core, tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from support.servers import free_port, wait_for_port
from support.tools import require_tool

from thaisign.ca import Authority, CaProfile
from thaisign.tsa.setup import init_tsa, open_tsa
from thaisign.tsa.store import TsaStore

CA_PASS = "รหัสผ่าน-CA-ของกรม"
TSA_PASS = "รหัสผ่าน-TSA-ของกรม"


def _env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("THAISIGN_")}, **extra}


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thaisign", *args],
        capture_output=True, text=True, env=_env(**env), stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def tsa_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("tsa-cli")
    profile = CaProfile(name_th="กรมส่งเสริมการปกครองท้องถิ่น", key="ec-p256")
    Authority.init(
        base / "ca", profile, passphrase=CA_PASS, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    ).close()
    name = "หน่วยประทับเวลา กรมทดสอบ"
    r = _cli("tsa", "init", str(base / "tsa"), "--ca", str(base / "ca"), "--name-th", name,
             THAISIGN_CA_PASSPHRASE=CA_PASS, THAISIGN_PASSPHRASE=TSA_PASS)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return base / "tsa"


@pytest.fixture(scope="module")
def served(tsa_dir: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "thaisign", "tsa", "serve", str(tsa_dir),
         "--port", str(port), "--workers", "2"],
        env=_env(THAISIGN_PASSPHRASE=TSA_PASS), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _query(algorithm: str, digest: bytes) -> bytes:
    imprint = {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest}
    return tsp.TimeStampReq({"version": "v1", "message_imprint": imprint}).dump()


def _post(url: str, body: bytes) -> bytes:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/timestamp-query"})
    with urllib.request.urlopen(req, timeout=20) as resp:
        assert resp.headers["Content-Type"] == "application/timestamp-reply"
        return resp.read()


def test_init_writes_a_proper_tsa_folder(tsa_dir: Path) -> None:
    cert = x509.load_pem_x509_certificate((tsa_dir / "tsa.pem").read_bytes())
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "หน่วยประทับเวลา กรมทดสอบ"
    assert oct((tsa_dir / "tsa.key").stat().st_mode & 0o777) == "0o600"
    assert b"ENCRYPTED" in (tsa_dir / "tsa.key").read_bytes()
    chain = x509.load_pem_x509_certificates((tsa_dir / "chain.pem").read_bytes())
    assert chain[0].subject == cert.issuer
    # the CA recorded the TSA certificate in its store and audit log
    with Authority.open(tsa_dir.parent / "ca", load_key=False) as ca:
        assert ca.get(cert.serial_number).sha256
    r = subprocess.run(
        [require_tool("openssl"), "verify", "-purpose", "timestampsign",
         "-CAfile", str(tsa_dir / "chain.pem"), str(tsa_dir / "tsa.pem")], capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr


def test_tsa_certificate_says_where_its_revocation_status_is(tsa_dir: Path) -> None:
    """Years later a time-stamp is judged through its TSA's status: the CA's CRL and OCSP are named."""
    with Authority.open(tsa_dir.parent / "ca", load_key=False) as ca:
        profile = ca.profile
    r = subprocess.run(
        [require_tool("openssl"), "x509", "-noout", "-ext", "crlDistributionPoints,authorityInfoAccess",
         "-in", str(tsa_dir / "tsa.pem")], capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"URI:{profile.crl_url}" in r.stdout
    assert f"OCSP - URI:{profile.ocsp_url}" in r.stdout
    assert f"CA Issuers - URI:{profile.ca_issuers_url}" in r.stdout


def test_openssl_query_curl_verify(served: str, tsa_dir: Path, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    data = tmp_path / "letter.txt"
    data.write_text("บันทึกข้อความ ส่วนราชการ กองกลาง", encoding="utf-8")
    subprocess.run([openssl, "ts", "-query", "-data", str(data), "-sha256", "-cert",
                    "-out", str(tmp_path / "q.tsq")], check=True, capture_output=True)  # fmt: skip
    curl = require_tool("curl")
    subprocess.run(
        [curl, "-sf", "-H", "Content-Type: application/timestamp-query",
         "--data-binary", f"@{tmp_path / 'q.tsq'}", f"{served}/tsa", "-o", str(tmp_path / "reply.tsr")],
        check=True,
    )  # fmt: skip
    root = tmp_path / "root.pem"  # the CA is its own root here: trust exactly that
    chain = x509.load_pem_x509_certificates((tsa_dir / "chain.pem").read_bytes())
    root.write_bytes(chain[-1].public_bytes(serialization.Encoding.PEM))
    r = subprocess.run(
        [openssl, "ts", "-verify", "-data", str(data), "-in", str(tmp_path / "reply.tsr"),
         "-CAfile", str(root), "-untrusted", str(tsa_dir / "chain.pem")], capture_output=True, text=True,
    )  # fmt: skip
    assert "Verification: OK" in r.stdout, r.stdout + r.stderr


def test_concurrent_tokens_unique_and_all_logged(served: str, tsa_dir: Path) -> None:
    def one(i: int) -> int:
        q = tsp.TimeStampReq({"version": "v1", "nonce": i,
                              "message_imprint": {"hash_algorithm": {"algorithm": "sha512"},
                                                  "hashed_message": os.urandom(64)}}).dump()  # fmt: skip
        info = tsp.TimeStampResp.load(_post(f"{served}/tsa", q))["time_stamp_token"]["content"]
        info = info["encap_content_info"]["content"].parsed
        assert info["nonce"].native == i
        return int(info["serial_number"].native)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        serials = list(pool.map(one, range(200)))
    assert len(set(serials)) == 200
    store = TsaStore.connect(f"sqlite:///{tsa_dir / 'tsa.db'}")
    try:
        logged = {t.serial for t in store.tokens()}
    finally:
        store.close()
    assert set(serials) <= logged


def test_bad_and_oversized_requests_get_refusals_and_server_survives(served: str) -> None:
    def status(der: bytes) -> tuple[str, set[str]]:
        info = tsp.PKIStatusInfo.load(core.Sequence.load(der).contents)
        return info["status"].native, set(info["fail_info"].native or ())

    assert status(_post(f"{served}/tsa", b"garbage")) == ("rejection", {"bad_data_format"})
    assert status(_post(f"{served}/tsa", b"\x30" * 100_000)) == ("rejection", {"bad_data_format"})
    sha1 = _query("sha1", b"\x00" * 20)
    assert status(_post(f"{served}/tsa", sha1)) == ("rejection", {"bad_alg"})
    with urllib.request.urlopen(f"{served}/health", timeout=10) as resp:
        assert resp.read() == b"ok\n"


def test_serve_refuses_wrong_passphrase_in_one_line(tsa_dir: Path) -> None:
    r = _cli("tsa", "serve", str(tsa_dir), "--port", str(free_port()), THAISIGN_PASSPHRASE="wrong")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "passphrase" in r.stderr


def test_self_contained_init_and_refusal_to_overwrite(tmp_path: Path) -> None:
    r = _cli("tsa", "init", str(tmp_path / "t"), THAISIGN_PASSPHRASE=TSA_PASS)
    assert r.returncode == 0, r.stderr
    again = _cli("tsa", "init", str(tmp_path / "t"), THAISIGN_PASSPHRASE=TSA_PASS)
    assert again.returncode != 0 and "never overwrites" in again.stderr and "Traceback" not in again.stderr
    nopass = _cli("tsa", "init", str(tmp_path / "u"))
    assert nopass.returncode != 0 and "THAISIGN_PASSPHRASE" in nopass.stderr


@pytest.mark.postgres
def test_store_on_postgresql_same_code(postgres, tmp_path: Path) -> None:
    url = postgres.new_database(f"tsa_{os.getpid()}")
    init_tsa(tmp_path / "pg-tsa", passphrase=TSA_PASS, db=url)
    assert not (tmp_path / "pg-tsa" / "tsa.db").exists()
    tsa, store = open_tsa(tmp_path / "pg-tsa", passphrase=TSA_PASS)
    try:
        q = _query("sha256", b"\x01" * 32)
        replies = [tsa.reply(q) for _ in range(5)]
        assert all(r.granted for r in replies)
        assert store.count() == 5
        assert [t.serial for t in store.tokens()] == sorted(r.token.serial for r in replies if r.token)
    finally:
        store.close()
    # a second process (here: a second store object) never reuses a serial
    tsa2, store2 = open_tsa(tmp_path / "pg-tsa", passphrase=TSA_PASS)
    try:
        reply = tsa2.reply(q)
        assert reply.token is not None and reply.token.serial > max(
            r.token.serial for r in replies if r.token
        )
    finally:
        store2.close()
