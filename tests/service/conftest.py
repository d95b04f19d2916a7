"""One real remote-signing deployment per test worker (see support.csc_deployment): a PIN agency on
PostgreSQL served by two workers, and a TOTP agency on SQLite, sharing token, CA, TSA and OP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from service_helpers import OFFICER_PINS, enroll
from support.csc_deployment import Infrastructure, ServiceProcess, infrastructure
from support.pki import FIXED_TIME
from support.tools import require_tool


@dataclass
class Agency:
    """A running service and the officers enrolled in it."""

    directory: object
    service: ServiceProcess
    credentials: dict[str, str]  # account -> credential ID
    seeds: dict[str, str]  # account -> TOTP seed (TOTP agencies)
    factor: str

    @property
    def url(self) -> str:
        return self.service.url


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infrastructure]:
    require_tool("oathtool")
    require_tool("softhsm2-util")
    with infrastructure(tmp_path_factory.mktemp("csc"), FIXED_TIME) as deployment:
        yield deployment


@pytest.fixture(scope="session")
def pin_agency(infra: Infrastructure, postgres) -> Iterator[Agency]:
    db = postgres.new_database(f"csc_{os.getpid()}")
    directory = infra.service("pin-agency", factor="pin", db=db)
    service = infra.serve(directory, workers=2)
    creds = {}
    creds["somchai"], _ = enroll(infra, service.url, "somchai", pin=OFFICER_PINS["somchai"])
    creds["somsri"], _ = enroll(infra, service.url, "somsri", pin=OFFICER_PINS["somsri"], via_cli=directory)
    yield Agency(directory, service, creds, {}, "pin")
    service.stop()


@pytest.fixture(scope="session")
def totp_agency(infra: Infrastructure) -> Iterator[Agency]:
    directory = infra.service("totp-agency", factor="totp")
    service = infra.serve(directory, workers=1)
    creds, seeds = {}, {}
    for account in ("somchai", "wichai"):
        creds[account], seed = enroll(infra, service.url, account, pin=None)
        assert seed is not None
        seeds[account] = seed
    yield Agency(directory, service, creds, seeds, "totp")
    service.stop()
