"""Enrollment: officer logs in and asks, operator approves (API or CLI), key made non-extractable in
the token, certificate issued by the agency CA, credential listed; every step in the audit chain."""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess

import requests
from support.csc_deployment import AUDIENCE, TOKEN, officer_fields, post
from support.tools import require_tool


def _audit(infra, agency) -> list[dict]:
    return json.loads(infra.run("service", "audit", str(agency.directory), "--json").stdout)["entries"]


def test_enrolled_key_is_in_the_token_never_extractable(infra, pin_agency):
    cred = pin_agency.credentials["somchai"]
    out = subprocess.run(
        [
            require_tool("pkcs11-tool"),
            "--module",
            infra.env["THAISIGN_PKCS11_MODULE"],
            "--token-label",
            TOKEN,
            "--login",
            "--pin",
            infra.env["THAISIGN_PIN"],
            "--list-objects",
            "--type",
            "privkey",
        ],
        capture_output=True,
        text=True,
        env=infra.env,
        check=True,
    ).stdout
    block = out[out.index(f"label:      {cred}") :].split("Private Key Object")[0]
    assert "EC" in out and "never extractable" in block and "sensitive" in block, block
    assert "sign" in block


def test_certificate_chains_to_the_agency_ca_with_openssl(infra, pin_agency, tmp_path):
    token = infra.op.login("somsri", AUDIENCE)
    info = post(
        pin_agency.url,
        "csc/v1/credentials/info",
        {"credentialID": pin_agency.credentials["somsri"], "certificates": "chain", "certInfo": True},
        token,
    ).json()
    leaf = tmp_path / "leaf.der"
    leaf.write_bytes(base64.b64decode(info["cert"]["certificates"][0]))
    pem = tmp_path / "leaf.pem"
    subprocess.run(
        [require_tool("openssl"), "x509", "-inform", "DER", "-in", str(leaf), "-out", str(pem)], check=True
    )
    at = "1795232640"  # 2026-11-21T03:44Z, inside the deployment's first minutes
    verify = subprocess.run(
        ["openssl", "verify", "-attime", at, "-CAfile", str(infra.root_pem), "-purpose", "any", str(pem)],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    text = subprocess.run(
        ["openssl", "x509", "-in", str(pem), "-noout", "-text"], capture_output=True, text=True
    ).stdout
    assert "Digital Signature, Non Repudiation" in text
    assert info["cert"]["serialNumber"] in text.replace(":", "").lower()
    assert info["cert"]["status"] == "valid"
    listed = json.loads(infra.run("ca", "list", str(infra.ca_dir), "--json").stdout)
    assert any(int(c["serial"], 16) == int(info["cert"]["serialNumber"], 16) for c in listed), listed


def test_every_enrollment_step_is_in_the_audit_chain(infra, pin_agency):
    verified = infra.run("service", "audit", str(pin_agency.directory), "--verify")
    assert "intact" in verified.stdout
    entries = _audit(infra, pin_agency)
    somchai = [e for e in entries if e["details"].get("officer") == "somchai"]
    actions = [e["action"] for e in somchai]
    assert actions[:2] == ["enroll-request", "enroll-approve"]
    approve = somchai[1]
    assert approve["details"]["operator"] == "oidc:operator"
    assert approve["details"]["credential"] == pin_agency.credentials["somchai"]
    by_cli = next(
        e for e in entries if e["action"] == "enroll-approve" and e["details"]["officer"] == "somsri"
    )
    assert by_cli["details"]["operator"] == "cli:ผู้ดูแลระบบ"
    assert all("PIN" not in json.dumps(e) and "918273" not in json.dumps(e) for e in entries)


def test_operator_only_approves_and_one_request_at_a_time(infra, totp_agency):
    officer = infra.op.login("somsri", AUDIENCE)
    r = post(totp_agency.url, "enroll/v1/requests", {"officer": officer_fields("somsri")}, officer)
    assert r.status_code == 201, r.text
    request_id = r.json()["requestID"]
    again = post(totp_agency.url, "enroll/v1/requests", {"officer": officer_fields("somsri")}, officer)
    assert again.status_code == 409 and request_id in again.json()["error_description"]
    denied = post(totp_agency.url, f"enroll/v1/requests/{request_id}/approve", {}, officer)
    assert denied.status_code == 403 and "operator" in denied.json()["error_description"]
    backend = infra.op.client_credentials("eoffice-backend", AUDIENCE)
    r = post(totp_agency.url, "enroll/v1/requests", {"officer": officer_fields("somsri")}, backend)
    assert r.status_code == 403
    listed = json.loads(
        infra.run("service", "requests", str(totp_agency.directory), "--status", "pending", "--json").stdout
    )
    assert [x["requestID"] for x in listed["requests"]] == [request_id]
    rejected = infra.run(
        "service", "reject", str(totp_agency.directory), request_id, "--reason", "ตำแหน่งไม่ตรงทะเบียน"
    )
    assert "rejected" in rejected.stdout
    seen = requests.get(
        f"{totp_agency.url}/enroll/v1/requests/{request_id}",
        headers={"Authorization": f"Bearer {officer}"},
        timeout=10,
    ).json()
    assert seen["status"] == "rejected" and seen["reason"] == "ตำแหน่งไม่ตรงทะเบียน" and "otpauth" not in seen
    twice = infra.run("service", "approve", str(totp_agency.directory), request_id, check=False)
    assert twice.returncode != 0 and "rejected, not pending" in twice.stderr


def test_the_totp_seed_is_handed_out_once(infra, totp_agency):
    token = infra.op.login("somchai", AUDIENCE)
    mine = requests.get(
        f"{totp_agency.url}/enroll/v1/requests", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    approved = [r for r in mine.json()["requests"] if r["status"] == "approved"]
    assert approved and all(r["subject"] == "somchai" for r in mine.json()["requests"])
    again = requests.get(
        f"{totp_agency.url}/enroll/v1/requests/{approved[0]['requestID']}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    assert "otpauth" not in again  # delivered at enrollment, never again
    db = sqlite3.connect(totp_agency.directory / "service.db")
    sealed = db.execute("SELECT totp_secret FROM csc_credentials").fetchall()
    seed = totp_agency.seeds["somchai"]
    assert all(seed.encode() not in row[0] for row in sealed)  # sealed, never stored in clear


def test_a_tampered_audit_log_is_detected(infra, totp_agency, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(totp_agency.directory, copy)
    db = sqlite3.connect(copy / "service.db")
    db.execute("UPDATE csc_audit SET details = replace(details, 'somchai', 'somsri') WHERE seq = 2")
    db.commit()
    db.close()
    result = infra.run("service", "audit", str(copy), "--verify", check=False)
    assert result.returncode == 1 and "BROKEN" in result.stderr and "entry 2" in result.stderr


def test_openapi_document_is_served_and_valid(pin_agency):
    from openapi_spec_validator import validate

    doc = requests.get(f"{pin_agency.url}/openapi.json", timeout=10).json()
    validate(doc)
    for version in ("v1", "v2"):
        for path in ("info", "credentials/list", "credentials/info", "credentials/authorize"):
            assert f"/csc/{version}/{path}" in doc["paths"]
        assert f"/csc/{version}/signatures/signHash" in doc["paths"]
        assert f"/csc/{version}/signatures/signDoc" in doc["paths"]
    info = requests.post(f"{pin_agency.url}/csc/v1/info", json={}, timeout=10).json()
    assert info["specs"] == "1.0.4.0" and "signatures/signHash" in info["methods"]
    v2 = requests.post(f"{pin_agency.url}/csc/v2/info", json={}, timeout=10).json()
    assert v2["specs"].startswith("2.") and v2["oauth2Issuer"] == info["oauth2"]


def test_officer_enrolls_with_the_csc_cli_and_sees_the_qr_code_once(infra, totp_agency):
    token = infra.op.login("kanya", AUDIENCE)
    env = {**infra.env, "THAISIGN_CSC_TOKEN": token}
    made = infra.run(
        "csc", "enroll", totp_agency.url, "--name-th", "นางกัญญา ศรีสุข", "--position", "นักวิเคราะห์นโยบายและแผน",
        "--employee-id", "E1006", "--json", env=env,
    )  # fmt: skip
    request_id = json.loads(made.stdout)["requestID"]
    pending = infra.run("csc", "status", totp_agency.url, request_id, env=env)
    assert "pending" in pending.stdout
    infra.run("service", "approve", str(totp_agency.directory), request_id)
    first = infra.run("csc", "status", totp_agency.url, request_id, env=env)
    assert "approved" in first.stdout and "shown only once" in first.stdout and "█" in first.stdout
    second = infra.run("csc", "status", totp_agency.url, request_id, env=env)
    assert "approved" in second.stdout and "shown only once" not in second.stdout
    listed = infra.run("csc", "credentials", totp_agency.url, "--json", env=env)
    (cred,) = json.loads(listed.stdout)["credentials"]
    assert cred["status"] == "valid" and "กัญญา" in cred["subject"]
    assert token not in first.stdout + first.stderr + listed.stdout
