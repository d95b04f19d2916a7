"""The OCSP server over a PostgreSQL CA store keeps serving through a database outage:
``tryLater`` while the database is down, correct answers again as soon as it is back."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import ocsp as asn1_ocsp
from ca_helpers import CA_PASSPHRASE, SOMCHAI
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from support.servers import PostgresServer, _pg_bin, run_postgres, serve_wsgi

from thaisign.ca import Authority, CaProfile
from thaisign.ca.server import CaServiceConfig, build_ca_app

pytestmark = pytest.mark.postgres


def _pg_ctl(server: PostgresServer, *args: str) -> None:
    """pg_ctl on this test's own server (as the postgres user when running as root)."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    pg_ctl = _pg_bin("pg_ctl")
    assert pg_ctl is not None
    subprocess.run([*prefix, pg_ctl, "-D", str(server.datadir), *args], check=True, capture_output=True,
                   env={**os.environ, "LC_ALL": "C.UTF-8"}, timeout=60)  # fmt: skip


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module alone: the test stops and restarts it.

    It lives in its own /tmp folder like the session's server: another pytest session starting
    meanwhile makes pytest's basetemp private again, and the postgres user could no longer reach it.
    """
    if os.environ.get("THAISIGN_SKIP_POSTGRES"):
        pytest.skip("THAISIGN_SKIP_POSTGRES is set")
    with run_postgres() as server:
        yield server


def _post(url: str, body: bytes) -> bytes:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/ocsp-request"})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return resp.read()


def test_try_later_during_outage_then_recovery(
    own_postgres: PostgresServer, tmp_path: Path, fixed_time
) -> None:
    url = own_postgres.new_database("outage")
    profile = CaProfile(name_th="กรมทดสอบ", key="ec-p256", db=url)
    with Authority.init(
        tmp_path / "ca", profile, passphrase=CA_PASSPHRASE, now=fixed_time - dt.timedelta(days=1)
    ) as ca:
        issued = ca.issue_officer(SOMCHAI, new_key="ec-p256", now=fixed_time)
        ca_cert = ca.certificate
    assert ca_cert is not None
    req = ocsp.OCSPRequestBuilder().add_certificate(issued.certificate, ca_cert, hashes.SHA1()).build()
    plain = req.public_bytes(serialization.Encoding.DER)
    with_nonce = (
        ocsp.OCSPRequestBuilder().add_certificate(issued.certificate, ca_cert, hashes.SHA1())
        .add_extension(x509.OCSPNonce(b"0123456789abcdef"), critical=False).build()
        .public_bytes(serialization.Encoding.DER)
    )  # fmt: skip

    app = build_ca_app(
        CaServiceConfig(tmp_path / "ca", signer="ca", ca_passphrase=CA_PASSPHRASE, clock=lambda: fixed_time)
    )
    try:
        with serve_wsgi(app) as base:
            assert (
                ocsp.load_der_ocsp_response(_post(f"{base}/ocsp", plain)).certificate_status
                == ocsp.OCSPCertStatus.GOOD
            )
            _pg_ctl(own_postgres, "-m", "immediate", "-w", "stop")
            try:
                for body in (plain, with_nonce):  # the cached answer is not served blind either
                    status = asn1_ocsp.OCSPResponse.load(_post(f"{base}/ocsp", body))[
                        "response_status"
                    ].native
                    assert status == "try_later"
                with pytest.raises(urllib.error.HTTPError) as err:
                    urllib.request.urlopen(f"{base}/health", timeout=20)
                assert err.value.code == 503
            finally:
                sock = own_postgres.datadir.parent / "sock"
                opts = f"-p {own_postgres.port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
                _pg_ctl(
                    own_postgres, "-l", str(own_postgres.datadir.parent / "pg.log"), "-o", opts, "-w", "start"
                )
            # revoked while the responder was cut off: the first answer after recovery says so
            with Authority.open(tmp_path / "ca", passphrase=CA_PASSPHRASE) as ca:
                ca.revoke(issued.serial, "keyCompromise", at=fixed_time - dt.timedelta(hours=1))
            back = ocsp.load_der_ocsp_response(_post(f"{base}/ocsp", plain))
            assert back.certificate_status == ocsp.OCSPCertStatus.REVOKED
            with urllib.request.urlopen(f"{base}/health", timeout=20) as resp:
                assert resp.status == 200
    finally:
        app.close()
