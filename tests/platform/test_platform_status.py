"""One status service for every agency CA: two replica processes of ``thaisign platform
serve-status`` (one with two workers) on one PostgreSQL, checked with openssl ocsp / crl / ts.

The platform is driven in this process on a clock set on purpose; the replicas and openssl run
on a moved clock (libfaketime) that reads FIXED_TIME when the module starts."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from platform_helpers import (
    SOMCHAI,
    SOMYING,
    Clock,
    Deployment,
    Replica,
    make_platform,
    start_replica,
    write_pem,
)
from sqlalchemy import delete, update
from support.clock import MovedClock
from support.pki import FIXED_TIME
from support.servers import PostgresServer, _pg_bin, free_port, run_postgres, run_standby
from support.tools import require_tool

from thaisign.platform import _tables as T

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@dataclass
class Status:
    d: Deployment
    a: Replica  # one worker
    b: Replica  # two workers
    clock: MovedClock
    files: Path
    pg: PostgresServer
    db_url: str

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(list(args), capture_output=True, text=True, env=self.clock.env(), timeout=60)
        if check:
            assert r.returncode == 0, r.stdout + r.stderr
        return r

    def ca_pem(self, slug: str) -> Path:
        agency = self.d.platform.db.agency(slug)
        assert agency is not None
        cert = self.d.platform.authority(self.d.platform.active_ca(agency).ca_id, key=False).certificate
        assert cert is not None
        return write_pem(self.files / f"{slug}-ca.pem", cert)

    @property
    def root_pem(self) -> Path:
        return self.d.directory / "issuing-ca.pem"


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    if os.environ.get("THAISIGN_SKIP_POSTGRES"):
        pytest.skip("THAISIGN_SKIP_POSTGRES is set")
    with run_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def status(tmp_path_factory: pytest.TempPathFactory, own_postgres: PostgresServer) -> Iterator[Status]:
    base = tmp_path_factory.mktemp("status")
    db_url = own_postgres.new_database("status")
    port = free_port()
    d = make_platform(
        base,
        db_url,
        clock=Clock(dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)),
        base_url=f"http://127.0.0.1:{port}",
    )
    d.clock.now = FIXED_TIME - dt.timedelta(days=1)
    clock = MovedClock.starting_at(FIXED_TIME)
    env = clock.env()
    a = start_replica(db_url, base, env, port=port)
    b = start_replica(db_url, base, env, workers=2)
    files = base / "files"
    files.mkdir()
    s = Status(d, a, b, clock, files, own_postgres, db_url)
    yield s
    a.stop()
    b.stop()
    d.platform.close()


def _officer(s: Status, slug: str, who: object, name: str) -> tuple[int, Path]:
    issued = s.d.session(slug).issue(slug, who, new_key="ec-p256")  # type: ignore[arg-type]
    return issued.serial, write_pem(s.files / f"{name}.pem", issued.certificate)


def _openssl_ocsp(s: Status, replica: Replica, slug: str, cert: Path, *extra: str) -> str:
    r = s.run(
        require_tool("openssl"), "ocsp", "-issuer", str(s.ca_pem(slug)), "-cert", str(cert),
        "-url", f"{replica.url}/ocsp", "-CAfile", str(s.root_pem),
        "-verify_other", str(s.ca_pem(slug)), *extra,
    )  # fmt: skip
    return r.stdout + r.stderr


def _wait_for(predicate: object, timeout: float = 5.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError("not within the time allowed")


def _ocsp_status(replica: Replica, issuer: x509.Certificate, cert: x509.Certificate) -> str:
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    data = req.public_bytes(serialization.Encoding.DER)
    with urllib.request.urlopen(
        urllib.request.Request(
            f"{replica.url}/ocsp", data=data, headers={"Content-Type": "application/ocsp-request"}
        ),
        timeout=20,
    ) as r:
        answer = ocsp.load_der_ocsp_response(r.read())
    if answer.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return answer.response_status.name
    return answer.certificate_status.name


def test_every_agency_is_answered_by_every_replica(status: Status) -> None:
    _, dla_cert = _officer(status, "dla", SOMCHAI, "somchai")
    _, pao_cert = _officer(status, "pao", SOMYING, "somying")
    for replica in (status.a, status.b):
        for slug, cert in (("dla", dla_cert), ("pao", pao_cert)):
            out = ""
            for _ in range(
                40
            ):  # a certificate issued a moment ago reaches the replicas within the poll interval
                out = _openssl_ocsp(status, replica, slug, cert)
                if ": good" in out:
                    break
                time.sleep(0.1)
            assert f"{cert}: good" in out and "Response verify OK" in out, out


def test_a_revocation_reaches_both_replicas_within_a_second(status: Status) -> None:
    serial, cert_path = _officer(status, "dla", SOMCHAI, "leaver")
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    issuer = x509.load_pem_x509_certificate(status.ca_pem("dla").read_bytes())
    for replica in (status.a, status.b):
        _wait_for(lambda r=replica: _ocsp_status(r, issuer, cert) == "GOOD")
    status.d.session("dla").revoke("dla", serial, "affiliationChanged")
    took = [
        _wait_for(lambda r=r: _ocsp_status(r, issuer, cert) == "REVOKED", 3.0) for r in (status.a, status.b)
    ]
    assert max(took) < 2.0
    out = _openssl_ocsp(status, status.b, "dla", cert_path)
    assert "revoked" in out and "affiliationChanged" in out and "Response verify OK" in out, out


def test_a_replica_on_a_postgresql_read_replica_follows_the_primary(status: Status) -> None:
    """Growing past one machine: a status replica reading a streaming standby of the platform's
    PostgreSQL (hot standby, read-only, without the TSA, which writes) answers OCSP and serves
    CRLs, and a revocation made on the primary reaches it."""
    serial, cert_path = _officer(status, "pao", SOMYING, "standby-reader")
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    issuer = x509.load_pem_x509_certificate(status.ca_pem("pao").read_bytes())
    with run_standby(status.pg) as standby:
        url = status.db_url.replace(f":{status.pg.port}/", f":{standby.port}/")
        assert url != status.db_url
        replica = start_replica(url, status.files, status.clock.env(), extra=("--no-tsa",))
        try:
            _wait_for(lambda: _ocsp_status(replica, issuer, cert) == "GOOD", 10.0)
            status.d.session("pao").revoke("pao", serial, "keyCompromise")
            took = _wait_for(lambda: _ocsp_status(replica, issuer, cert) == "REVOKED", 10.0)
            assert took < 5.0
            out = _openssl_ocsp(status, replica, "pao", cert_path)
            assert "revoked" in out and "keyCompromise" in out and "Response verify OK" in out, out

            def crl_lists_it() -> bool:
                with urllib.request.urlopen(f"{replica.url}/a/pao/crl/ca.crl", timeout=20) as r:
                    crl = x509.load_der_x509_crl(r.read())
                return crl.get_revoked_certificate_by_serial_number(serial) is not None

            _wait_for(crl_lists_it, 10.0)
            with urllib.request.urlopen(f"{replica.url}/health", timeout=20) as r:
                assert r.status == 200
        finally:
            replica.stop()
    assert "read-only transaction" not in replica.log.read_text(errors="replace")


def test_one_request_about_several_agencies(status: Status) -> None:
    _, a = _officer(status, "dla", SOMCHAI, "multi-dla")
    serial_b, b = _officer(status, "pao", SOMYING, "multi-pao")
    status.d.session("pao").revoke("pao", serial_b, "keyCompromise")
    time.sleep(0.5)
    r = status.run(
        require_tool("openssl"), "ocsp",
        "-issuer", str(status.ca_pem("dla")), "-cert", str(a),
        "-issuer", str(status.ca_pem("pao")), "-cert", str(b),
        "-url", f"{status.a.url}/ocsp", "-VAfile", str(status.d.directory / "ocsp-responder.pem"),
    )  # fmt: skip
    out = r.stdout + r.stderr
    assert "Response verify OK" in out, out
    assert f"{a}: good" in out and f"{b}: revoked" in out and "keyCompromise" in out, out


def test_unknown_issuers_and_malformed_requests(status: Status, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    stranger_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "ผู้ออกใบรับรองอื่น")])
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    stranger = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(stranger_key.public_key())
        .serial_number(7).not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
        .sign(stranger_key, hashes.SHA256())
    )  # fmt: skip
    assert _ocsp_status(status.a, stranger, stranger) == "UNAUTHORIZED"
    with urllib.request.urlopen(
        urllib.request.Request(f"{status.a.url}/ocsp", data=b"\x30\x03\x02\x01\x01"), timeout=20
    ) as r:
        assert asn1_ocsp.OCSPResponse.load(r.read())["response_status"].native == "malformed_request"


def test_each_agency_crl_under_its_own_url(status: Status) -> None:
    serial, _ = _officer(status, "pao", SOMYING, "crl-victim")
    status.d.session("pao").revoke("pao", serial, "superseded")
    time.sleep(0.5)
    for slug in ("dla", "pao"):
        out = status.files / f"{slug}.crl"
        with urllib.request.urlopen(f"{status.b.url}/a/{slug}/crl/ca.crl", timeout=20) as r:
            assert r.headers["Content-Type"] == "application/pkix-crl"
            out.write_bytes(r.read())
        text = status.run(
            require_tool("openssl"),
            "crl",
            "-inform",
            "DER",
            "-in",
            str(out),
            "-CAfile",
            str(status.ca_pem(slug)),
            "-noout",
            "-text",
        )
        assert "verify OK" in text.stdout + text.stderr
        assert (format(serial, "X") in text.stdout) == (slug == "pao")
    with urllib.request.urlopen(f"{status.a.url}/issuing/crl/ca.crl", timeout=20) as r:
        issuing_crl = x509.load_der_x509_crl(r.read())
    root = x509.load_pem_x509_certificate(status.root_pem.read_bytes())
    assert issuing_crl.issuer == root.subject and issuing_crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    with urllib.request.urlopen(f"{status.a.url}/a/dla/ca.cer", timeout=20) as r:
        assert x509.load_der_x509_certificate(r.read()) == x509.load_pem_x509_certificate(
            status.ca_pem("dla").read_bytes()
        )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{status.a.url}/a/nowhere/crl/ca.crl", timeout=20)
    assert err.value.code == 404


def test_the_platform_tsa(status: Status, tmp_path: Path) -> None:
    letter = tmp_path / "letter.txt"
    letter.write_text("หนังสือราชการ ที่ นม ๐๐๐๑/๒๕๖๙")
    query, reply = tmp_path / "q.tsq", tmp_path / "r.tsr"
    status.run(
        require_tool("openssl"), "ts", "-query", "-data", str(letter), "-sha256", "-cert", "-out", str(query)
    )
    req = urllib.request.Request(
        f"{status.b.url}/tsa",
        data=query.read_bytes(),
        headers={"Content-Type": "application/timestamp-query"},
    )
    with urllib.request.urlopen(req, timeout=20) as r:
        reply.write_bytes(r.read())
    out = status.run(
        require_tool("openssl"),
        "ts",
        "-verify",
        "-data",
        str(letter),
        "-in",
        str(reply),
        "-CAfile",
        str(status.root_pem),
    )
    assert "Verification: OK" in out.stdout


def test_answers_come_from_the_chain_not_from_the_tables(status: Status) -> None:
    """Deleting a revocation row behind thaisign's back changes no answer, neither in a running
    replica nor in one started afterwards; editing an audit entry stops that CA's answers only."""
    serial, cert_path = _officer(status, "dla", SOMCHAI, "tamper")
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    issuer = x509.load_pem_x509_certificate(status.ca_pem("dla").read_bytes())
    _, pao_path = _officer(status, "pao", SOMYING, "bystander")
    pao_cert = x509.load_pem_x509_certificate(pao_path.read_bytes())
    pao_issuer = x509.load_pem_x509_certificate(status.ca_pem("pao").read_bytes())
    status.d.session("dla").revoke("dla", serial, "keyCompromise")
    _wait_for(lambda: _ocsp_status(status.a, issuer, cert) == "REVOKED")
    dla_ca = status.d.platform.active_ca(status.d.platform.db.agency("dla"))  # type: ignore[arg-type]
    with status.d.platform.db.engine.begin() as conn:
        conn.execute(delete(T.CA.revocations).where(T.CA.revocations.c.ca_id == dla_ca.ca_id))
    time.sleep(0.5)
    assert _ocsp_status(status.a, issuer, cert) == "REVOKED"
    late = start_replica(status.db_url, status.files, status.clock.env())
    try:
        assert _ocsp_status(late, issuer, cert) == "REVOKED"
    finally:
        late.stop()
    # now an entry of DLA's chain is edited: a replica reading the chains anew refuses DLA only
    a = T.CA.audit
    with status.d.platform.db.engine.begin() as conn:
        conn.execute(
            update(a).where(a.c.ca_id == dla_ca.ca_id, a.c.action == "revoke").values(details='{"row":{}}')
        )
    late = start_replica(status.db_url, status.files, status.clock.env())
    try:
        assert _ocsp_status(late, issuer, cert) == "TRY_LATER"
        assert _wait_for(lambda: _ocsp_status(late, pao_issuer, pao_cert) == "GOOD") < 5
        with urllib.request.urlopen(f"{late.url}/health", timeout=20) as r:
            body = r.read().decode()
        assert "does not continue the chain" in body
    finally:
        late.stop()


def _pg_ctl(server: PostgresServer, *args: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    pg_ctl = _pg_bin("pg_ctl")
    assert pg_ctl is not None
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(server.datadir), *args],
        check=True,
        capture_output=True,
        env=env,
        timeout=60,
    )


def test_a_replica_cut_off_from_the_database_says_try_later_then_recovers(status: Status) -> None:
    _, cert_path = _officer(status, "pao", SOMYING, "outage")
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    issuer = x509.load_pem_x509_certificate(status.ca_pem("pao").read_bytes())
    _wait_for(lambda: _ocsp_status(status.a, issuer, cert) == "GOOD")
    _pg_ctl(status.pg, "-m", "immediate", "-w", "stop")
    try:
        # answers from memory for a few seconds, never for longer than the replica may be behind
        took = _wait_for(lambda: _ocsp_status(status.a, issuer, cert) == "TRY_LATER", 15.0)
        assert took <= 8.0
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{status.a.url}/health", timeout=20)
        assert err.value.code == 503
    finally:
        sock = status.pg.datadir.parent / "sock"
        opts = f"-p {status.pg.port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        _pg_ctl(status.pg, "-l", str(status.pg.datadir.parent / "pg.log"), "-o", opts, "-w", "start")
    _wait_for(lambda: _ocsp_status(status.a, issuer, cert) == "GOOD", 15.0)
