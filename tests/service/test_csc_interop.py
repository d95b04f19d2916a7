"""pyHanko's CSCSigner (a CSC client nobody here wrote) signs through the service; the letters
verify TOTAL_PASSED with thaisign and with pyHanko's validator."""

from __future__ import annotations

import requests
from csc_helpers import pyhanko_csc_sign, pyhanko_status, thaisign_report
from service_helpers import OFFICER_PINS, VERIFY_AT
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
    detailed = post(pin_agency.url, "csc/v2/credentials/list", {"credentialInfo": True}, token).json()
    assert detailed["credentialInfos"][0]["credentialID"] == cred
    assert detailed["credentialInfos"][0]["cert"]["status"] == "valid"
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


def test_thaisign_sign_csc_cli_signs_through_the_service(infra, pin_agency, tmp_path):
    from support.pdfs import minimal_pdf

    letter = tmp_path / "letter.pdf"
    letter.write_bytes(minimal_pdf("Letter signed through CSC"))
    out = tmp_path / "signed.pdf"
    token = infra.op.login("somsri", AUDIENCE)
    env = {**infra.env, "THAISIGN_CSC_TOKEN": token, "THAISIGN_CSC_PIN": OFFICER_PINS["somsri"]}
    result = infra.run("sign", str(letter), "-o", str(out), "--csc", pin_agency.url, "--visible", env=env)
    assert "signed" in result.stdout
    assert token not in result.stdout + result.stderr
    signed = out.read_bytes()
    report = thaisign_report(signed, infra.root_pem, VERIFY_AT)
    assert report.verdict == "TOTAL_PASSED", report
    assert report.signatures[0].signer.name == "นางสาวสมศรี รักงาน"
    assert pyhanko_status(signed, infra.root_pem, VERIFY_AT).bottom_line


def test_thaisign_sign_csc_wrong_pin_is_one_clear_line(infra, pin_agency, tmp_path):
    from support.pdfs import minimal_pdf

    letter = tmp_path / "letter.pdf"
    letter.write_bytes(minimal_pdf())
    token = infra.op.login("wichai", AUDIENCE)  # wichai has no credential in the PIN agency
    env = {**infra.env, "THAISIGN_CSC_TOKEN": token, "THAISIGN_CSC_PIN": "000000"}
    result = infra.run(
        "sign", str(letter), "-o", str(tmp_path / "o.pdf"), "--csc", pin_agency.url, env=env, check=False
    )
    assert result.returncode != 0
    assert "no credential" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o.pdf").exists()


def _certificate(pin_agency, token, credential):
    import base64

    from cryptography import x509

    info = post(
        pin_agency.url,
        "csc/v2/credentials/info",
        {"credentialID": credential, "certificates": "single"},
        token,
    )
    assert info.status_code == 200, info.text
    return x509.load_der_x509_certificate(base64.b64decode(info.json()["cert"]["certificates"][0]))


def test_csc_v2_names_sign_two_hashes_that_verify_with_the_certificate(infra, pin_agency):
    import base64
    import hashlib

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    token = infra.op.login("somchai", AUDIENCE)
    cred = pin_agency.credentials["somchai"]
    digests = [hashlib.sha256(b"first letter").digest(), hashlib.sha256(b"second letter").digest()]
    b64 = [base64.b64encode(d).decode() for d in digests]
    info = post(pin_agency.url, "csc/v2/credentials/info", {"credentialID": cred}, token).json()
    assert info["auth"]["objects"][0]["id"] == "PIN"
    r = post(
        pin_agency.url,
        "csc/v2/credentials/authorize",
        {
            "credentialID": cred,
            "numSignatures": 2,
            "hashes": b64,
            "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
            "authData": [{"id": "PIN", "value": OFFICER_PINS["somchai"]}],
        },
        token,
    )
    assert r.status_code == 200, r.text
    r = post(
        pin_agency.url,
        "csc/v2/signatures/signHash",
        {
            "credentialID": cred,
            "SAD": r.json()["SAD"],
            "hashes": b64,
            "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
            "signAlgo": "1.2.840.10045.4.3.2",
        },
        token,
    )
    assert r.status_code == 200, r.text
    public = _certificate(pin_agency, token, cred).public_key()
    for digest, sig in zip(digests, r.json()["signatures"], strict=True):
        public.verify(base64.b64decode(sig), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    entry = [e for e in _audit(infra, pin_agency) if e["action"] == "sign-hash"][-1]
    assert entry["details"]["hashes"] == b64 and entry["details"]["credential"] == cred
    assert entry["details"]["officer"] == "somchai" and entry["details"]["client"] == "eoffice-web"
    assert entry["time"].startswith("2026-11-21T")  # the deployment's clock


def test_backend_with_client_credentials_signs_for_the_officer_with_the_officers_pin(infra, pin_agency):
    token = infra.op.client_credentials("eoffice-backend", AUDIENCE)
    listed = post(pin_agency.url, "csc/v1/credentials/list", {"userID": "somsri"}, token)
    assert listed.status_code == 200, listed.text
    assert listed.json()["credentialIDs"] == [pin_agency.credentials["somsri"]]
    missing = post(pin_agency.url, "csc/v1/credentials/list", {}, token)
    assert missing.status_code == 400 and "userID" in missing.json()["error_description"]
    at = _service_now(pin_agency.url)
    signed = pyhanko_csc_sign(
        pin_agency.url, token, pin_agency.credentials["somsri"], {"PIN": OFFICER_PINS["somsri"]}, at
    )
    report = thaisign_report(signed, infra.root_pem, VERIFY_AT)
    assert report.verdict == "TOTAL_PASSED", report
    entries = [e for e in _audit(infra, pin_agency) if e["action"] == "sign-hash"]
    assert entries[-1]["details"]["client"] == "eoffice-backend"
    assert entries[-1]["details"]["officer"] == "somsri"


def test_totp_agency_signs_with_a_code_from_oathtool(infra, totp_agency):
    from support.csc_deployment import totp_now

    token = infra.op.login("wichai", AUDIENCE)
    code = totp_now(infra.clock, totp_agency.seeds["wichai"])
    at = _service_now(totp_agency.url)
    signed = pyhanko_csc_sign(totp_agency.url, token, totp_agency.credentials["wichai"], {"OTP": code}, at)
    report = thaisign_report(signed, infra.root_pem, VERIFY_AT)
    assert report.verdict == "TOTAL_PASSED", report
    assert report.signatures[0].signer.name == "นายวิชัย มั่นคง"


def _audit(infra, agency):
    import json

    return json.loads(infra.run("service", "audit", str(agency.directory), "--json").stdout)["entries"]
