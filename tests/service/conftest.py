"""One real remote-signing deployment per test worker (see support.csc_deployment): a PIN agency on
PostgreSQL served by two workers, and a TOTP agency on SQLite, sharing token, CA, TSA and OP."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from support.csc_deployment import (
    AUDIENCE,
    Infrastructure,
    ServiceProcess,
    infrastructure,
    officer_fields,
    post,
)
from support.pki import FIXED_TIME
from support.tools import require_tool

#: every signature made by the deployment is checked at this time (the deployment starts at FIXED_TIME)
VERIFY_AT = FIXED_TIME + dt.timedelta(hours=3)
OFFICER_PINS = {"somchai": "918273", "somsri": "605142", "wichai": "771930"}


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


def enroll(
    infra: Infrastructure, agency_url: str, account: str, *, pin: str | None, via_cli: object = None
) -> tuple[str, str | None]:
    """Officer logs in and asks; the operator approves (API, or CLI on ``via_cli``).

    Returns the credential ID and, for a TOTP agency, the seed handed to the officer once."""
    token = infra.op.login(account, AUDIENCE)
    body: dict[str, object] = {"officer": officer_fields(account)}
    if pin is not None:
        body["PIN"] = pin
    r = post(agency_url, "enroll/v1/requests", body, token)
    assert r.status_code == 201, r.text
    request_id = r.json()["requestID"]
    if via_cli is not None:
        done = infra.run("service", "approve", str(via_cli), request_id, "--json")
        import json

        credential = json.loads(done.stdout)["credentialID"]
    else:
        operator = infra.op.login("operator", AUDIENCE)
        r = post(agency_url, f"enroll/v1/requests/{request_id}/approve", {}, operator)
        assert r.status_code == 200, r.text
        credential = r.json()["credentialID"]
    seed = None
    import requests

    r = requests.get(
        f"{agency_url}/enroll/v1/requests/{request_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["credentialID"] == credential
    if "otpauth" in r.json():
        from urllib.parse import parse_qs, urlparse

        seed = parse_qs(urlparse(r.json()["otpauth"]).query)["secret"][0]
    return credential, seed


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
