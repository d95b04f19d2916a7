"""Constants and the enrollment flow of the signing-service tests (a module of its own: ``from
conftest import`` resolves to whichever conftest pytest imported first)."""

from __future__ import annotations

import datetime as dt

from support.csc_deployment import AUDIENCE, Infrastructure, officer_fields, post
from support.pki import FIXED_TIME

#: every signature made by the deployment is checked at this time (the deployment starts at FIXED_TIME)
VERIFY_AT = FIXED_TIME + dt.timedelta(hours=3)
OFFICER_PINS = {"somchai": "918273", "somsri": "605142", "wichai": "771930"}


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
