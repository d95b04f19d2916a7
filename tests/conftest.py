"""Shared fixtures: a fixed time, a test PKI, and real servers (PostgreSQL, SoftHSM2) started here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.pki import FIXED_TIME, PASSPHRASE, TestPKI, build_test_pki
from support.servers import PostgresServer, SoftHSM, free_port, run_postgres, softhsm
from support.tools import require_tool  # noqa: F401 - re-exported for old imports


@pytest.fixture(scope="session")
def fixed_time():
    """The one time tests validate at (2026-11-21T03:42Z); never the wall clock."""
    return FIXED_TIME


@pytest.fixture(scope="session")
def passphrase() -> str:
    return PASSPHRASE


@pytest.fixture(scope="session")
def pki_port() -> int:
    """The 127.0.0.1 port the test PKI's CRL/OCSP/caIssuers URLs point at."""
    return free_port()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory, pki_port: int) -> TestPKI:
    """Root -> agency CA -> officers / TSA / OCSP, built with cryptography at test time."""
    return build_test_pki(tmp_path_factory.mktemp("pki"), f"http://127.0.0.1:{pki_port}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on a free port, for the whole session."""
    if os.environ.get("THAISIGN_SKIP_POSTGRES"):
        pytest.skip("THAISIGN_SKIP_POSTGRES is set")
    with run_postgres() as server:
        yield server


@pytest.fixture()
def softhsm2(tmp_path: Path) -> Iterator[SoftHSM]:
    """A private SoftHSM2 token directory (SOFTHSM2_CONF set), removed afterwards."""
    with softhsm(tmp_path / "softhsm") as hsm:
        yield hsm


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start with no passphrase/PIN in the environment unless they set one."""
    for name in ("THAISIGN_PASSPHRASE", "THAISIGN_CA_PASSPHRASE", "THAISIGN_PIN", "THAISIGN_PKCS11_MODULE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def pki_services(pki: TestPKI, pki_port: int):
    """Real OCSP, CRL, CA-certificate and RFC 3161 TSA services for ``pki`` on 127.0.0.1:pki_port.

    Paths (the URLs in the test PKI's certificates): ``{base_url}/ocsp`` (POST and GET/base64),
    ``/crl/agency.crl``, ``/crl/root.crl``, ``/certs/agency.cer``, ``/certs/root.cer``, and the
    TSA at ``.tsa_url`` (``{base_url}/tsa``, TSA certificate ``pki.tsa``, policy
    ``support.services.TEST_TSA_POLICY``). OCSP for officer certificates is signed by the
    delegated responder ``pki.ocsp``; certificates from ``pki.issue_officer`` are known too.

    ``.revoke(cert_or_issued, reason="key_compromise", when=None)`` revokes at once in OCSP and
    the CRLs (default time: one day before ``.now``); ``.unrevoke_all()`` undoes every
    revocation — a test that revokes must call it when done (session-wide fixture).
    All services answer at ``.now`` (default FIXED_TIME); ``with pki_services.at(t):`` moves it.
    ``.tokens`` lists issued timestamps, ``.hits`` counts requests per kind.
    """
    from support.services import run_pki_services

    with run_pki_services(pki, pki_port) as services:
        yield services
