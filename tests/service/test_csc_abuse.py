"""What the service must refuse, each with a clear error: forged or misdirected tokens, SAD replay,
a SAD for other hashes or more signatures, another officer's credential, wrong PINs and one-time
codes with lock-out. Tokens are real (from the OpenID provider) except the forged attack tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import jwt
import pytest
import requests
from service_helpers import OFFICER_PINS, enroll
from support.csc_deployment import AUDIENCE, OTHER_AUDIENCE, post, totp_now


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _list(agency, token: str) -> requests.Response:
    return post(agency.url, "csc/v1/credentials/list", {}, token)


def _refused(r: requests.Response, status: int, words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert words in body["error_description"], body
    if status == 401:
        assert r.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


# --- tokens ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_token(infra) -> str:
    return infra.op.login("somchai", AUDIENCE)


def _forge(infra, claims: dict, *, kid_suffix: str = "-es") -> str:
    """A token signed with the provider's own ES256 key (the test made it), with chosen claims."""
    return jwt.encode(
        claims,
        infra.op.keys.ec_key,
        algorithm="ES256",
        headers={"kid": infra.op.keys.prefix + kid_suffix, "typ": "at+jwt"},
    )


def test_no_token_and_not_a_bearer_token(pin_agency):
    _refused(post(pin_agency.url, "csc/v1/credentials/list"), 401, "access token is required")
    r = requests.post(
        f"{pin_agency.url}/csc/v1/credentials/list",
        json={},
        headers={"Authorization": "Basic dXNlcjpwdw=="},
        timeout=10,
    )
    _refused(r, 401, "bearer token")


def test_alg_none_token_is_refused(pin_agency, real_token):
    header = _b64(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    payload = real_token.split(".")[1]
    _refused(_list(pin_agency, f"{header}.{payload}."), 401, "alg none")


def test_key_confusion_hs256_with_the_providers_public_key_is_refused(infra, pin_agency, real_token):
    from cryptography.hazmat.primitives import serialization

    public_pem = infra.op.keys.ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwks_text = requests.get(infra.op.discovery()["jwks_uri"], timeout=10).content
    for secret in (public_pem, jwks_text):
        header = _b64(
            json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": infra.op.keys.prefix + "-es"}).encode()
        )
        payload = real_token.split(".")[1]
        mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        _refused(_list(pin_agency, f"{header}.{payload}.{_b64(mac)}"), 401, "symmetric")


def test_wrong_issuer_is_refused_even_when_signed_with_the_providers_key(infra, pin_agency, real_token):
    claims = _claims(real_token) | {"iss": "https://evil.example.go.th"}
    _refused(_list(pin_agency, _forge(infra, claims)), 401, "issued by another provider")


def test_a_real_token_for_another_service_is_refused(infra, pin_agency):
    token = infra.op.login("somchai", OTHER_AUDIENCE)
    assert _claims(token)["aud"] == OTHER_AUDIENCE
    _refused(_list(pin_agency, token), 401, "meant for another service")


def test_expired_and_not_yet_valid_tokens_are_refused(infra, pin_agency, real_token):
    claims = _claims(real_token)
    expired = claims | {"iat": claims["iat"] - 3600, "exp": claims["iat"] - 600}
    _refused(_list(pin_agency, _forge(infra, expired)), 401, "expired")
    early = claims | {"nbf": claims["iat"] + 3600}
    _refused(_list(pin_agency, _forge(infra, early)), 401, "not valid yet")
    assert _list(pin_agency, _forge(infra, claims)).status_code == 200  # the same claims, in time: accepted


def test_tampered_token_and_unknown_key_are_refused(infra, pin_agency, real_token):
    from cryptography.hazmat.primitives.asymmetric import ec

    header, _payload, sig = real_token.split(".")
    claims = _claims(real_token) | {"sub": "somsri"}
    tampered = f"{header}.{_b64(json.dumps(claims).encode())}.{sig}"
    _refused(_list(pin_agency, tampered), 401, "signature does not verify")
    stranger = jwt.encode(
        claims,
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
        headers={"kid": "stranger", "typ": "at+jwt"},
    )
    _refused(_list(pin_agency, stranger), 401, "does not publish")


def test_id_token_is_not_an_access_token(infra, pin_agency, real_token):
    claims = _claims(real_token) | {"aud": "eoffice-web"}
    token = jwt.encode(
        claims,
        infra.op.keys.ec_key,
        algorithm="ES256",
        headers={"kid": infra.op.keys.prefix + "-es", "typ": "JWT"},
    )
    _refused(_list(pin_agency, token), 401, "another service")


# --- SADs ------------------------------------------------------------------------------------


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _authorize(agency, token, cred, hashes, pin):
    r = post(
        agency.url,
        "csc/v1/credentials/authorize",
        {"credentialID": cred, "numSignatures": len(hashes), "hash": hashes, "PIN": pin},
        token,
    )
    assert r.status_code == 200, r.text
    return r.json()["SAD"]


def _sign(agency, token, cred, sad, hashes):
    return post(
        agency.url,
        "csc/v1/signatures/signHash",
        {
            "credentialID": cred,
            "SAD": sad,
            "hash": hashes,
            "hashAlgo": "2.16.840.1.101.3.4.2.1",
            "signAlgo": "1.2.840.10045.4.3.2",
        },
        token,
    )


def test_sad_replay_is_refused(infra, pin_agency):
    token = infra.op.login("somchai", AUDIENCE)
    cred = pin_agency.credentials["somchai"]
    h = [_digest("replay me")]
    sad = _authorize(pin_agency, token, cred, h, OFFICER_PINS["somchai"])
    assert _sign(pin_agency, token, cred, sad, h).status_code == 200
    _refused(_sign(pin_agency, token, cred, sad, h), 400, "used already")


def test_sad_for_other_hashes_or_more_signatures_is_refused(infra, pin_agency):
    token = infra.op.login("somchai", AUDIENCE)
    cred = pin_agency.credentials["somchai"]
    pin = OFFICER_PINS["somchai"]
    sad = _authorize(pin_agency, token, cred, [_digest("approved")], pin)
    _refused(
        _sign(pin_agency, token, cred, sad, [_digest("something else")]),
        400,
        "does not authorise these hashes",
    )
    sad = _authorize(pin_agency, token, cred, [_digest("one")], pin)
    _refused(
        _sign(pin_agency, token, cred, sad, [_digest("one"), _digest("one")]),
        400,
        "authorises 1 signature(s), not 2",
    )
    sad = _authorize(pin_agency, token, cred, [_digest("a"), _digest("b")], pin)
    _refused(
        _sign(pin_agency, token, cred, sad, [_digest("a"), _digest("c")]),
        400,
        "does not authorise these hashes",
    )
    r = post(
        pin_agency.url,
        "csc/v1/credentials/authorize",
        {"credentialID": cred, "numSignatures": 5, "hash": [_digest("x")], "PIN": pin},
        token,
    )
    _refused(r, 400, "numSignatures must equal the number of hashes")
    r = post(
        pin_agency.url,
        "csc/v1/credentials/authorize",
        {"credentialID": cred, "numSignatures": 1, "PIN": pin},
        token,
    )
    _refused(r, 400, "binds every SAD")


def test_a_sad_is_bound_to_its_credential_and_its_caller(infra, pin_agency):
    backend = infra.op.client_credentials("eoffice-backend", AUDIENCE)
    somchai, somsri = pin_agency.credentials["somchai"], pin_agency.credentials["somsri"]
    h = [_digest("bound")]
    sad = _authorize(pin_agency, backend, somchai, h, OFFICER_PINS["somchai"])
    _refused(_sign(pin_agency, backend, somsri, sad, h), 400, "another credential")
    sad = _authorize(pin_agency, backend, somchai, h, OFFICER_PINS["somchai"])
    officer = infra.op.login("somchai", AUDIENCE)
    _refused(_sign(pin_agency, officer, somchai, sad, h), 400, "another caller")


def test_an_officer_cannot_use_another_officers_credential(infra, pin_agency):
    token = infra.op.login("somchai", AUDIENCE)
    theirs = pin_agency.credentials["somsri"]
    _refused(
        post(pin_agency.url, "csc/v1/credentials/info", {"credentialID": theirs}, token),
        403,
        "another officer",
    )
    r = post(
        pin_agency.url,
        "csc/v1/credentials/authorize",
        {"credentialID": theirs, "hash": [_digest("x")], "PIN": OFFICER_PINS["somsri"]},
        token,
    )
    _refused(r, 403, "another officer")
    _refused(_sign(pin_agency, token, theirs, "x" * 43, [_digest("x")]), 403, "another officer")
    _refused(
        post(pin_agency.url, "csc/v1/credentials/list", {"userID": "somsri"}, token),
        403,
        "only list their own",
    )
    other_app = infra.op.client_credentials("other-app", AUDIENCE)  # a client that is no registered back end
    _refused(
        post(pin_agency.url, "csc/v1/credentials/info", {"credentialID": theirs}, other_app),
        403,
        "another officer",
    )


def test_wrong_pin_locks_the_credential_until_an_operator_unlocks_it(infra, pin_agency):
    cred, _ = enroll(infra, pin_agency.url, "anong", pin="480264")
    token = infra.op.login("anong", AUDIENCE)
    h = [_digest("lock-out")]
    body = {"credentialID": cred, "numSignatures": 1, "hash": h}
    first = post(pin_agency.url, "csc/v1/credentials/authorize", body | {"PIN": "111119"}, token)
    _refused(first, 400, "wrong PIN; 2 tries left")
    assert first.json()["error"] == "invalid_pin" and "111119" not in first.text
    _refused(
        post(pin_agency.url, "csc/v1/credentials/authorize", body | {"PIN": "222229"}, token),
        400,
        "1 tries left",
    )
    _refused(
        post(pin_agency.url, "csc/v1/credentials/authorize", body | {"PIN": "333339"}, token),
        403,
        "locked after 3 wrong tries",
    )
    _refused(
        post(pin_agency.url, "csc/v1/credentials/authorize", body | {"PIN": "480264"}, token), 403, "locked"
    )
    info = post(pin_agency.url, "csc/v1/credentials/info", {"credentialID": cred}, token).json()
    assert info["key"]["status"] == "disabled" and info["locked"] is True
    _refused(
        post(pin_agency.url, f"admin/v1/credentials/{cred}/unlock", {}, token), 403, "only an agency operator"
    )
    infra.run("service", "unlock", str(pin_agency.directory), cred)
    sad = _authorize(pin_agency, token, cred, h, "480264")
    assert _sign(pin_agency, token, cred, sad, h).status_code == 200
    actions = [
        e["action"]
        for e in json.loads(infra.run("service", "audit", str(pin_agency.directory), "--json").stdout)[
            "entries"
        ]
        if e["details"].get("credential") == cred
    ]
    assert actions[-7:] == [
        "authorize-failed",
        "authorize-failed",
        "authorize-failed",
        "credential-locked",
        "credential-unlocked",
        "authorize",
        "sign-hash",
    ]


def test_wrong_and_replayed_one_time_codes_lock_the_credential(infra, totp_agency):
    cred, seed = enroll(infra, totp_agency.url, "preecha", pin=None)
    token = infra.op.login("preecha", AUDIENCE)
    body = {"credentialID": cred, "numSignatures": 1, "hash": [_digest("totp")]}
    code = totp_now(infra.clock, seed)
    r = post(totp_agency.url, "csc/v1/credentials/authorize", body | {"OTP": code}, token)
    assert r.status_code == 200, r.text
    replay = post(totp_agency.url, "csc/v1/credentials/authorize", body | {"OTP": code}, token)
    _refused(replay, 400, "used already")
    assert replay.json()["error"] == "invalid_otp"
    wrong = "000000" if code != "000000" else "111111"
    _refused(
        post(totp_agency.url, "csc/v1/credentials/authorize", body | {"OTP": wrong}, token),
        400,
        "wrong one-time code",
    )
    _refused(
        post(totp_agency.url, "csc/v1/credentials/authorize", body | {"OTP": wrong}, token), 403, "locked"
    )
    later = totp_now(infra.clock, seed, later_steps=1)
    _refused(
        post(totp_agency.url, "csc/v1/credentials/authorize", body | {"OTP": later}, token), 403, "locked"
    )
    operator = infra.op.login("operator", AUDIENCE)
    assert post(totp_agency.url, f"admin/v1/credentials/{cred}/unlock", {}, operator).status_code == 200
    assert (
        post(totp_agency.url, "csc/v1/credentials/authorize", body | {"OTP": later}, token).status_code == 200
    )


# --- hostile requests ------------------------------------------------------------------------


def test_malformed_and_oversized_requests_get_one_clear_line(infra, pin_agency):
    token = infra.op.login("somchai", AUDIENCE)
    cred = pin_agency.credentials["somchai"]
    url = f"{pin_agency.url}/csc/v1/credentials/authorize"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    r = requests.post(url, data=b"{not json", headers=headers, timeout=10)
    _refused(r, 400, "not valid JSON")
    r = requests.post(url, data=b"[1, 2]", headers=headers, timeout=10)
    _refused(r, 400, "JSON object")
    r = requests.post(url, data=b" " * (300 * 1024), headers=headers, timeout=10)
    _refused(r, 413, "larger than")
    r = post(
        pin_agency.url,
        "csc/v1/credentials/authorize",
        {"credentialID": cred, "hash": ["%%%notbase64"], "PIN": "1"},
        token,
    )
    _refused(r, 400, "not valid base64")
    r = post(
        pin_agency.url,
        "csc/v1/credentials/authorize",
        {"credentialID": cred, "hash": [_digest("x")[:-8] + "===="], "PIN": "1"},
        token,
    )
    assert r.status_code == 400
    r = post(pin_agency.url, "csc/v1/credentials/info", {"credentialID": {"$gt": ""}}, token)
    _refused(r, 400, "credentialID")
    r = post(
        pin_agency.url,
        "csc/v1/signatures/signHash",
        {"credentialID": cred, "SAD": "x", "hash": [_digest("x")], "signAlgo": "1.2.840.113549.1.1.11"},
        token,
    )
    _refused(r, 400, "does not fit this credential's EC key")
    wichai = infra.op.login("wichai", AUDIENCE)
    for name in ("นาย\u202eทดสอบ", "นายทดสอบ\u0007", "นาย\u200bทดสอบ"):
        body = {"officer": {"name_th": name, "position": "ทดลอง"}, "PIN": "480264"}
        _refused(post(pin_agency.url, "enroll/v1/requests", body, wichai), 400, "control characters")


def test_a_disabled_credential_cannot_spend_a_sad_it_already_has(infra, pin_agency):
    token = infra.op.login("somsri", AUDIENCE)
    cred = pin_agency.credentials["somsri"]
    h = [_digest("disabled meanwhile")]
    sad = _authorize(pin_agency, token, cred, h, OFFICER_PINS["somsri"])
    infra.run("service", "disable", str(pin_agency.directory), cred)
    try:
        _refused(_sign(pin_agency, token, cred, sad, h), 400, "disabled")
        r = post(
            pin_agency.url,
            "csc/v1/credentials/authorize",
            {"credentialID": cred, "hash": h, "PIN": OFFICER_PINS["somsri"]},
            token,
        )
        _refused(r, 400, "disabled")
    finally:
        infra.run("service", "disable", str(pin_agency.directory), cred, "--enable")
    sad = _authorize(pin_agency, token, cred, h, OFFICER_PINS["somsri"])
    assert _sign(pin_agency, token, cred, sad, h).status_code == 200


def test_secrets_stay_out_of_logs_command_lines_and_the_audit(infra, pin_agency, totp_agency):
    from support.csc_deployment import CA_PASSPHRASE, PIN

    token = infra.op.login("somchai", AUDIENCE)
    cred = pin_agency.credentials["somchai"]
    for pin in ("123459", OFFICER_PINS["somchai"]):  # a wrong one, then the right one
        post(
            pin_agency.url,
            "csc/v1/credentials/authorize",
            {"credentialID": cred, "hash": [_digest("s")], "PIN": pin},
            token,
        )
    secrets_ = [PIN, CA_PASSPHRASE, token, *OFFICER_PINS.values(), *totp_agency.seeds.values()]
    texts = [p.read_text(errors="replace") for p in infra.base.glob("*.log")]
    for process in [pin_agency.service.process, totp_agency.service.process]:
        texts.append(Path(f"/proc/{process.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    texts.append(infra.run("service", "audit", str(pin_agency.directory), "--json").stdout)
    texts.append(infra.run("service", "credentials", str(pin_agency.directory), "--json").stdout)
    texts.append((pin_agency.directory / "service.toml").read_text())
    for text in texts:
        for secret in secrets_:
            assert secret not in text
