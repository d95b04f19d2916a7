"""The service's pure parts at fixed times: settings, second factors (checked against oathtool),
hash and algorithm parsing, SAD checks, and the token verifier's clock and algorithm rules."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import subprocess
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from support.pki import FIXED_TIME
from support.tools import require_tool

from thaisign.errors import SecretError, ServiceConfigError
from thaisign.service import factors
from thaisign.service.config import OidcSettings, ServiceConfig
from thaisign.service.model import CscError
from thaisign.service.oidc import Caller, TokenRejected, TokenVerifier
from thaisign.service.rules import check_sad, parse_hashes
from thaisign.service.store import SadRecord


def _config(tmp_path: Path, **oidc: object) -> ServiceConfig:
    values: dict[str, object] = {
        "issuer": "https://op.example.go.th",
        "audience": "https://sign.example.go.th",
    }
    settings = OidcSettings(**(values | oidc))  # type: ignore[arg-type]
    return ServiceConfig(tmp_path, "กรมตัวอย่าง", "pkcs11:token=Agency", "../ca", settings).validated()


def test_config_round_trips_through_service_toml(tmp_path):
    config = _config(tmp_path, backend_clients=("eoffice",), operators=("somsri",))
    again = ServiceConfig.from_toml(config.to_toml(), tmp_path)
    assert again == config
    assert "secret" not in config.to_toml().lower().replace("secrets never", "")


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"issuer": "http://op.example.go.th"}, "https"),
        ({"algorithms": ("HS256",)}, "not allowed"),
        ({"algorithms": ("none",)}, "not allowed"),
        ({"audience": " "}, "audience"),
        ({"leeway_seconds": 3600}, "leeway"),
    ],
)
def test_config_refuses_unsafe_oidc_settings(tmp_path, changes, words):
    with pytest.raises(ServiceConfigError, match=words):
        _config(tmp_path, **changes)


def test_plain_http_issuer_only_on_loopback(tmp_path):
    settings = OidcSettings(issuer="http://127.0.0.1:9000", audience="x")
    assert settings.validated().issuer == "http://127.0.0.1:9000"


def test_totp_codes_match_oathtool_and_are_accepted_once():
    seed = factors.new_totp_secret()
    at = FIXED_TIME
    code = subprocess.run(
        [require_tool("oathtool"), "--totp", "-b", seed, "--now", at.strftime("%Y-%m-%d %H:%M:%S UTC")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    step = factors.check_totp(seed, code, at, last_step=0)
    assert step == int(at.timestamp()) // 30
    assert (
        factors.check_totp(seed, code, at + dt.timedelta(seconds=30), last_step=0) == step
    )  # one step late: ok
    assert factors.check_totp(seed, code, at + dt.timedelta(seconds=90), last_step=0) is None  # too late
    assert factors.check_totp(seed, code, at, last_step=step) is None  # used already
    assert factors.check_totp(seed, "12345", at, last_step=0) is None
    assert factors.check_totp(seed, "๑๒๓๔๕๖", at, last_step=0) is None  # Thai digits are not ASCII digits
    uri = factors.totp_uri(seed, account="นายสมชาย ใจดี", issuer="กรมตัวอย่าง")
    assert uri.startswith("otpauth://totp/") and f"secret={seed}" in uri and " " not in uri


def test_pins_are_salted_slow_hashes_and_checked_in_constant_time():
    stored = factors.hash_pin("918273")
    assert stored.startswith("scrypt$") and "918273" not in stored
    assert stored != factors.hash_pin("918273")
    assert factors.check_pin("918273", stored)
    assert not factors.check_pin("918274", stored)
    assert not factors.check_pin("918273", "garbage")
    assert factors.check_pin_format("123456", 6) is not None
    assert factors.check_pin_format("111111", 6) is not None
    assert factors.check_pin_format("12a456", 6) is not None
    assert factors.check_pin_format("918273", 6) is None


def test_sealed_seeds_open_only_for_their_credential(tmp_path):
    box = factors.SecretBox.create(tmp_path / "secret.key")
    assert oct((tmp_path / "secret.key").stat().st_mode & 0o777) == "0o600"
    sealed = box.seal("JBSWY3DPEHPK3PXP", "cred-a")
    assert factors.SecretBox.load(tmp_path / "secret.key").open(sealed, "cred-a") == "JBSWY3DPEHPK3PXP"
    with pytest.raises(SecretError):
        box.open(sealed, "cred-b")
    with pytest.raises(SecretError):
        factors.SecretBox.create(tmp_path / "other.key").open(sealed, "cred-a")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_hashes_are_parsed_strictly():
    d256, d384 = hashlib.sha256(b"a").digest(), hashlib.sha384(b"a").digest()
    assert parse_hashes([_b64(d256)], None, limit=10) == ([_b64(d256)], "sha256")
    assert parse_hashes([_b64(d384)], None, limit=10)[1] == "sha384"
    url_safe = base64.urlsafe_b64encode(d256).decode().rstrip("=")
    assert parse_hashes([url_safe], None, limit=10)[0] == [_b64(d256)]  # canonical form
    for bad, words in [
        ([], "non-empty"),
        ("abc", "non-empty"),
        ([_b64(d256), _b64(d384)], "of one kind"),
        ([_b64(d256)] * 11, "at most 10"),
        ([_b64(b"short")], "SHA-256"),
        ([123], "base64 string"),
    ]:
        with pytest.raises(CscError, match=words):
            parse_hashes(bad, None, limit=10)
    with pytest.raises(CscError, match="sha384 digest"):
        parse_hashes([_b64(d256)], "2.16.840.1.101.3.4.2.2", limit=10)


def test_a_consumed_sad_must_cover_the_request():
    class _Cred:
        id = "cred-1"

    caller = Caller("somchai", "eoffice-web", frozenset(), False, False, 0.0)
    h = [_b64(hashlib.sha256(b"x").digest())]
    record = SadRecord("cred-1", "somchai", "eoffice-web", "sha256", tuple(h), 1, FIXED_TIME)
    before = FIXED_TIME - dt.timedelta(seconds=1)
    assert check_sad(record, _Cred(), caller, h, "sha256", before) is None  # type: ignore[arg-type]
    expired = check_sad(record, _Cred(), caller, h, "sha256", FIXED_TIME)  # type: ignore[arg-type]
    assert expired is not None and "expired" in expired.description
    assert check_sad(None, _Cred(), caller, h, "sha256", before).description.startswith("the SAD is unknown")  # type: ignore[arg-type,union-attr]
    other = Caller("somsri", "eoffice-web", frozenset(), False, False, 0.0)
    assert "another caller" in check_sad(record, _Cred(), other, h, "sha256", before).description  # type: ignore[arg-type,union-attr]


def _verifier(key: ec.EllipticCurvePrivateKey, now: dt.datetime, leeway: int = 30) -> TokenVerifier:
    from jwt.algorithms import ECAlgorithm

    jwk = {**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k", "alg": "ES256", "use": "sig"}
    settings = OidcSettings(issuer="https://op.example.go.th", audience="aud", leeway_seconds=leeway)
    documents = {
        "https://op.example.go.th/.well-known/openid-configuration": {
            "issuer": "https://op.example.go.th",
            "jwks_uri": "https://op.example.go.th/jwks",
        },
        "https://op.example.go.th/jwks": {"keys": [jwk]},
    }
    return TokenVerifier(settings, clock=lambda: now, fetch=documents.__getitem__)


def test_token_times_are_checked_at_the_given_clock_with_leeway():
    key = ec.generate_private_key(ec.SECP256R1())
    exp = int(FIXED_TIME.timestamp())
    claims = {"iss": "https://op.example.go.th", "aud": "aud", "sub": "somchai", "exp": exp, "iat": exp - 600}
    token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k", "typ": "at+jwt"})
    assert _verifier(key, FIXED_TIME + dt.timedelta(seconds=30)).verify(token).subject == "somchai"
    with pytest.raises(TokenRejected, match="expired at 2026-11-21T03:42:00"):
        _verifier(key, FIXED_TIME + dt.timedelta(seconds=31)).verify(token)
    with pytest.raises(TokenRejected, match="in the future"):
        _verifier(key, FIXED_TIME - dt.timedelta(seconds=700)).verify(token)
    es384 = jwt.encode(
        claims, ec.generate_private_key(ec.SECP384R1()), algorithm="ES384", headers={"kid": "k"}
    )
    with pytest.raises(TokenRejected, match="not the one its key is for"):
        _verifier(key, FIXED_TIME).verify(es384)


def test_a_discovery_document_naming_another_jwks_host_is_refused():
    from thaisign.service.oidc import ProviderUnavailable

    settings = OidcSettings(issuer="https://op.example.go.th", audience="aud")
    documents = {
        "https://op.example.go.th/.well-known/openid-configuration": {
            "issuer": "https://op.example.go.th",
            "jwks_uri": "https://attacker.example/jwks",
        }
    }
    with pytest.raises(ProviderUnavailable, match="not on the issuer's host"):
        TokenVerifier(settings, fetch=documents.__getitem__).discover()


def test_the_hand_written_sign_transaction_agrees_with_the_sqlalchemy_store(tmp_path):
    from sqlalchemy import insert

    from thaisign.service._hotpath import sign_transaction
    from thaisign.service.store import ServiceStore, credentials, naive

    store = ServiceStore.connect(f"sqlite:///{tmp_path / 'service.db'}")
    store.create_schema()
    now = FIXED_TIME
    record = SadRecord(
        "c1", "somchai", "eoffice-web", "sha256", ("aGFzaA==",), 1, now + dt.timedelta(minutes=5)
    )
    with store.write() as conn:
        conn.execute(
            insert(credentials).values(
                id="c1", subject="somchai", key_uri="pkcs11:object=c1", key_spec="ec-p256", certificate=b"-",
                chain_pem="", serial="1f", status="disabled", factor="pin", totp_last_step=0, failures=0,
                created_at=naive(now),
            )
        )  # fmt: skip
        store.add_sad(conn, "h1", record, now)
        store.append_audit(conn, [("init", None, {"by": "sqlalchemy"})], now)
    with sign_transaction(store) as tx:
        assert tx.consume_sad("h1", now, "replica-a") == (record, "disabled")
        tx.append_audit([("sign-hash", "1f", {"by": "hot path", "ชื่อ": "สมชาย"})], now)
    with sign_transaction(store) as tx:
        assert tx.consume_sad("h1", now, "replica-b") is None  # spent
    with pytest.raises(RuntimeError), sign_transaction(store) as tx:
        tx.append_audit([("lost", None, {})], now)
        raise RuntimeError("rolled back")
    with store.write() as conn:  # the SQLAlchemy reference appends after the hand-written rows
        store.append_audit(conn, [("after", None, {})], now)
    assert [e.action for e in store.audit_entries()] == ["init", "sign-hash", "after"]
    assert store.verify_audit().entries == 3
    store.close()


def test_rotated_provider_keys_are_fetched_again_over_http(monkeypatch):
    """A real HTTP server publishes discovery and JWKS; a token under a new kid makes the verifier
    fetch the JWKS again (not more often than MIN_REFRESH_SECONDS)."""
    import json

    from jwt.algorithms import ECAlgorithm
    from support.servers import serve_wsgi

    from thaisign.service import oidc

    keys = {"k1": ec.generate_private_key(ec.SECP256R1())}
    hits: list[str] = []
    base: dict[str, str] = {}

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        path = environ["PATH_INFO"]
        hits.append(path)
        if path == "/.well-known/openid-configuration":
            body = {"issuer": base["url"], "jwks_uri": base["url"] + "/jwks"}
        elif path == "/jwks":
            body = {
                "keys": [
                    {
                        **ECAlgorithm.to_jwk(k.public_key(), as_dict=True),
                        "kid": kid,
                        "alg": "ES256",
                        "use": "sig",
                    }
                    for kid, k in keys.items()
                ]
            }
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    with serve_wsgi(app) as url:
        base["url"] = url
        settings = OidcSettings(issuer=url, audience="aud")
        now = FIXED_TIME
        verifier = TokenVerifier(settings, clock=lambda: now)
        exp = int(now.timestamp()) + 300

        def token(kid: str) -> str:
            claims = {"iss": url, "aud": "aud", "sub": "somchai", "exp": exp, "iat": exp - 400}
            return jwt.encode(claims, keys[kid], algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"})

        assert verifier.verify(token("k1")).subject == "somchai"
        assert hits == ["/.well-known/openid-configuration", "/jwks"]
        keys["k2"] = ec.generate_private_key(ec.SECP256R1())  # the provider rotates
        fresh = token("k2")
        with pytest.raises(TokenRejected, match="does not publish"):
            verifier.verify(fresh)  # the JWKS was fetched moments ago: no new fetch yet
        assert hits.count("/jwks") == 1
        monkeypatch.setattr(oidc, "MIN_REFRESH_SECONDS", 0.0)
        assert verifier.verify(fresh).subject == "somchai"
        assert hits.count("/jwks") == 2 and hits.count("/.well-known/openid-configuration") == 1


def test_cli_errors_are_one_line_before_any_secret_is_asked(tmp_path):
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("THAISIGN_")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "thaisign", *args],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
        )

    for args in (("service", str(tmp_path / "none")), ("service", "approve", str(tmp_path / "none"), "r-1")):
        result = run(*args)
        assert result.returncode != 0
        assert (
            result.stderr.startswith("thaisign: error: ") and "not a thaisign service folder" in result.stderr
        )
        assert "Traceback" not in result.stderr and "PIN" not in result.stderr
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("do not touch")
    result = run(
        "service", "init", str(tmp_path / "busy"), "--name", "กรมทดสอบ", "--ca", str(tmp_path), "--token-uri",
        "pkcs11:token=x", "--issuer", "https://op.example.go.th", "--audience", "https://sign.example.go.th",
    )  # fmt: skip
    assert result.returncode != 0 and "is not empty" in result.stderr
    assert (tmp_path / "busy" / "keep.txt").read_text() == "do not touch"
    result = run("sign", str(tmp_path / "x.pdf"), "-o", str(tmp_path / "y.pdf"), "--csc", "ftp://example")
    assert result.returncode != 0 and "Traceback" not in result.stderr
