"""pyHanko's CSCSigner (a CSC client nobody here wrote) signs through the service; the letters
verify TOTAL_PASSED with thaisign and with pyHanko's validator."""

from __future__ import annotations

import requests
from conftest import OFFICER_PINS, VERIFY_AT
from csc_helpers import pyhanko_csc_sign, pyhanko_status, thaisign_report
from support.csc_deployment import AUDIENCE, post


def _service_now(url: str):
    import datetime as dt

    return dt.datetime.fromisoformat(requests.get(f"{url}/health", timeout=10).json()["time"])


def test_pyhanko_csc_signer_signs_and_both_verifiers_pass(infra, pin_agency):
    token = infra.op.login("somchai", AUDIENCE)
    at = _service_now(pin_agency.url)
    signed = pyhanko_csc_sign(
        pin_agency.url, token, pin_agency.credentials["somchai"], {"PIN": OFFICER_PINS["somchai"]}, at
    )
    status = pyhanko_status(signed, infra.root_pem, VERIFY_AT)
    assert status.bottom_line, status.pretty_print_details()
    assert status.intact and status.valid and status.trusted
    report = thaisign_report(signed, infra.root_pem, VERIFY_AT)
    assert report.verdict == "TOTAL_PASSED", report
    sig = report.signatures[0]
    assert sig.signer.name == "นายสมชาย ใจดี"


def test_credentials_info_matches_pyhanko_expectations(infra, pin_agency):
    token = infra.op.login("somchai", AUDIENCE)
    cred = pin_agency.credentials["somchai"]
    listed = post(pin_agency.url, "csc/v1/credentials/list", {}, token).json()
    assert listed["credentialIDs"] == [cred]
    info = post(
        pin_agency.url,
        "csc/v1/credentials/info",
        {"credentialID": cred, "certificates": "chain", "authInfo": True},
        token,
    ).json()
    assert info["key"]["algo"][0] == "1.2.840.10045.4.3.2"
    assert info["key"]["curve"] == "1.2.840.10045.3.1.7"
    assert info["SCAL"] == "2"
    assert info["PIN"]["presence"] == "true"
    assert len(info["cert"]["certificates"]) == 2  # officer, agency CA (root)
