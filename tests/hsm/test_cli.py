"""``thaisign hsm`` end to end in subprocesses, checked with openssl; diagnostics one line each."""

from __future__ import annotations

import ctypes.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hsm_helpers import OTHER_TOKEN, TOKEN, HsmSetup, issue_for
from pkcs11 import exceptions as p11x
from support.pki import TestPKI

from thaisign import errors
from thaisign.hsm import Pkcs11Signer, Pkcs11Uri
from thaisign.hsm.diagnostics import translate


def _one_error_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("thaisign: error:")]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_help_has_examples(hsm_setup: HsmSetup) -> None:
    for cmd in ("list", "keygen", "csr", "import-cert"):
        r = hsm_setup.cli("hsm", cmd, "--help")
        assert r.returncode == 0 and "Example" in r.stdout, r.stderr


def test_keygen_csr_import_list_round_trip(hsm_setup: HsmSetup, pki: TestPKI, tmp_path: Path) -> None:
    uri = hsm_setup.uri("somchai-2026")
    r = hsm_setup.cli("hsm", "keygen", uri, "--key", "ec-p384", "--json", pin=False, THAISIGN_PIN="")
    assert r.returncode != 0  # an empty PIN from the environment is a wrong PIN, one line
    _one_error_line(r)
    r = hsm_setup.cli(
        "hsm", "keygen", uri, "--key", "ec-p384", "--pin-file", str(hsm_setup.pin_file), "--json"
    )
    assert r.returncode == 0, r.stderr
    made = json.loads(r.stdout)
    assert made["key"] == "ec-p384" and made["uri"].startswith("pkcs11:")
    # the same label again is refused: never overwrite a key
    err = _one_error_line(hsm_setup.cli("hsm", "keygen", uri, "--key", "ec-p256"))
    assert "already holds a key" in err

    csr_file = tmp_path / "somchai.csr"
    r = hsm_setup.cli(
        "hsm", "csr", uri, "--name-th", "นายสมชาย ใจดี", "--position", "ผู้อำนวยการกอง",
        "--org", "กรมส่งเสริมการปกครองท้องถิ่น", "--email", "somchai@dla.go.th", "-o", str(csr_file),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    v = subprocess.run(
        ["openssl", "req", "-in", str(csr_file), "-verify", "-noout", "-text", "-nameopt", "utf8"],
        capture_output=True,
        text=True,
    )
    assert v.returncode == 0 and "verify OK" in (v.stdout + v.stderr), v.stderr
    assert "CN=นายสมชาย ใจดี" in v.stdout.replace(" = ", "=")
    assert "ecdsa-with-SHA384" in v.stdout and "email:somchai@dla.go.th" in v.stdout
    assert _one_error_line(hsm_setup.cli("hsm", "csr", uri, "--name-th", "x", "-o", str(csr_file)))

    csr = x509.load_pem_x509_csr(csr_file.read_bytes())
    cert = issue_for(pki, csr.public_key())
    cert_file = tmp_path / "somchai.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    r = hsm_setup.cli("hsm", "import-cert", uri, str(cert_file), "--chain", str(pki.chain_pem))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("stored certificate") == 3
    r = hsm_setup.cli("hsm", "import-cert", uri, str(cert_file), "--chain", str(pki.chain_pem))
    assert r.returncode == 0 and "nothing to store" in r.stdout
    err = _one_error_line(hsm_setup.cli("hsm", "import-cert", uri, str(pki.officer_ec.cert_pem)))
    assert "not for the key" in err

    r = hsm_setup.cli("hsm", "list", "--json")
    assert r.returncode == 0, r.stderr
    tokens = {t["label"]: t for t in json.loads(r.stdout)["tokens"]}
    assert set(tokens) >= {TOKEN, OTHER_TOKEN}
    objs = tokens[TOKEN]["objects"]
    mine = [o for o in objs if o["label"] == "somchai-2026"]
    assert {o["kind"] for o in mine} == {"private-key", "public-key", "certificate"}
    priv = next(o for o in mine if o["kind"] == "private-key")
    assert priv["sensitive"] is True and priv["extractable"] is False
    # the listed URI opens the key, and the signer finds certificate and chain on the token
    signer = Pkcs11Signer.open(priv["uri"], pin=hsm_setup.pin, module=hsm_setup.module)
    assert signer.certificate == cert and signer.chain == (pki.ca.cert, pki.root.cert)
    # without a PIN the listing hides private keys and says so
    r = hsm_setup.cli("hsm", "list", hsm_setup.token_uri, pin=False)
    assert r.returncode == 0 and "private keys hidden" in r.stdout and "private-key" not in r.stdout


def test_module_not_found(hsm_setup: HsmSetup, tmp_path: Path) -> None:
    err = _one_error_line(hsm_setup.cli("hsm", "list", "--pkcs11-module", str(tmp_path / "nope.so")))
    assert "PKCS#11 module not found" in err


def test_not_a_pkcs11_library(hsm_setup: HsmSetup) -> None:
    libz = ctypes.util.find_library("z")
    assert libz
    path = next(
        p for p in (f"/lib/x86_64-linux-gnu/{libz}", f"/usr/lib/x86_64-linux-gnu/{libz}") if Path(p).exists()
    )
    err = _one_error_line(hsm_setup.cli("hsm", "list", "--pkcs11-module", path))
    assert "is not a PKCS#11 library" in err
    err = _one_error_line(hsm_setup.cli("hsm", "list", "--pkcs11-module", "/etc/passwd"))
    assert "is not a PKCS#11 library" in err


def test_no_module_given(hsm_setup: HsmSetup) -> None:
    r = hsm_setup.cli("hsm", "list", THAISIGN_PKCS11_MODULE="")
    assert "no PKCS#11 module given" in _one_error_line(r)
    assert "--pkcs11-module" in r.stderr  # the hint says what to do


def test_no_such_token_lists_tokens(hsm_setup: HsmSetup) -> None:
    err = _one_error_line(hsm_setup.cli("hsm", "keygen", "pkcs11:token=nothing;object=x"))
    assert "no token matches pkcs11:token=nothing" in err
    assert repr(TOKEN) in err and repr(OTHER_TOKEN) in err


def test_no_such_key_lists_keys(hsm_setup: HsmSetup, tmp_path: Path) -> None:
    r = hsm_setup.cli("hsm", "csr", hsm_setup.uri("nobody"), "--name-th", "x", "-o", str(tmp_path / "x.csr"))
    err = _one_error_line(r)
    assert "no private key with label 'nobody'" in err and "'officer-ec-p256'" in err
    assert not (tmp_path / "x.csr").exists()


def test_several_matching_keys_listed(hsm_setup: HsmSetup, tmp_path: Path) -> None:
    # two keys with the same label (different ids), made by pkcs11-tool as a careless admin would
    for key_id in ("a1", "a2"):
        subprocess.run(
            [
                shutil.which("pkcs11-tool") or "pkcs11-tool", "--module", hsm_setup.module, "--token-label",
                TOKEN, "--login", "--pin", hsm_setup.pin, "--keypairgen", "--key-type", "EC:prime256v1",
                "--label", "twin", "--id", key_id,
            ],
            check=True, capture_output=True, env=hsm_setup.env(),
        )  # fmt: skip
    r = hsm_setup.cli("hsm", "csr", hsm_setup.uri("twin"), "--name-th", "x", "-o", str(tmp_path / "x.csr"))
    err = _one_error_line(r)
    assert "2 private keys match label 'twin'" in err and "id a1" in err and "id a2" in err
    assert "id=" in r.stderr  # hint: add id=...
    uri = Pkcs11Uri.parse(hsm_setup.uri("twin")).replace(id=bytes.fromhex("a2"))
    r = hsm_setup.cli("hsm", "csr", str(uri), "--name-th", "นายสมชาย ใจดี", "-o", str(tmp_path / "x.csr"))
    assert r.returncode == 0, r.stderr


def test_wrong_pin(hsm_setup: HsmSetup, tmp_path: Path) -> None:
    r = hsm_setup.cli("hsm", "list", "--login", pin=False, THAISIGN_PIN="999999")
    err = _one_error_line(r)
    assert f"wrong PIN for token {TOKEN!r}" in err or f"wrong PIN for token {OTHER_TOKEN!r}" in err
    # SoftHSM2 raises CKF_USER_PIN_COUNT_LOW after a failure: the message passes that on
    assert "tries left" in err
    assert "999999" not in r.stderr + r.stdout  # the PIN is never echoed


def test_missing_pin_without_terminal(hsm_setup: HsmSetup) -> None:
    r = hsm_setup.cli("hsm", "keygen", hsm_setup.uri("x"), pin=False)
    err = _one_error_line(r)
    assert f"no PIN given for token {TOKEN!r}" in err
    assert "THAISIGN_PIN" in r.stderr


def test_debug_shows_traceback(hsm_setup: HsmSetup) -> None:
    r = hsm_setup.cli("--debug", "hsm", "keygen", "pkcs11:token=nothing;object=x")
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_pin_locked_message() -> None:
    """SoftHSM2 never locks a user PIN, so the token's CKR_PIN_LOCKED answer is translated here."""
    err = translate(p11x.PinLocked(), token=None)
    assert isinstance(err, errors.PinError) and "locked" in err.message
    assert err.hint and "security officer" in err.hint


@pytest.mark.parametrize("bad", ["pkcs11:token=T?pin-value=1234", "token=T", "pkcs11:color=red"])
def test_bad_uri_is_one_line(hsm_setup: HsmSetup, bad: str) -> None:
    r = hsm_setup.cli("hsm", "keygen", bad)
    _one_error_line(r)
    assert "1234" not in r.stderr


def test_list_shows_slots_and_mechanisms(hsm_setup: HsmSetup) -> None:
    r = hsm_setup.cli("hsm", "list", "--mechanisms", "--json", pin=False)
    assert r.returncode == 0, r.stderr
    slots = json.loads(r.stdout)["slots"]
    free = [s for s in slots if s["token"] is None]
    assert free, "SoftHSM2 always offers one slot with an uninitialised token"
    mine = next(s for s in slots if s["token"] and s["token"]["label"] == TOKEN)
    assert "CKM_ECDSA" in mine["mechanisms"] and "CKM_ECDSA_SHA256" not in mine["mechanisms"]
    assert mine["token"]["logged_in"] is False
    assert all(o["kind"] != "private-key" for o in mine["token"]["objects"])
    text = hsm_setup.cli("hsm", "list", pin=False).stdout
    assert "(no initialised token)" in text and f"token {TOKEN!r}" in text


def test_module_that_fails_to_initialise(hsm_setup: HsmSetup, tmp_path: Path) -> None:
    r = hsm_setup.cli("hsm", "list", SOFTHSM2_CONF=str(tmp_path / "missing.conf"))
    err = _one_error_line(r)
    assert "failed to initialise" in err and "SOFTHSM2_CONF" in r.stderr


def test_import_cert_replace_after_renewal(hsm_setup: HsmSetup, pki: TestPKI, tmp_path: Path) -> None:
    from thaisign.hsm import generate_key

    made = generate_key(hsm_setup.uri("renewed"), "ec-p256", pin=hsm_setup.pin, module=hsm_setup.module)
    old, new = tmp_path / "old.pem", tmp_path / "new.pem"
    old.write_bytes(issue_for(pki, made.public_key).public_bytes(serialization.Encoding.PEM))
    new_cert = issue_for(pki, made.public_key)
    new.write_bytes(new_cert.public_bytes(serialization.Encoding.PEM))
    assert hsm_setup.cli("hsm", "import-cert", str(made.uri), str(old)).returncode == 0
    err = _one_error_line(hsm_setup.cli("hsm", "import-cert", str(made.uri), str(new)))
    assert "already holds a certificate" in err
    r = hsm_setup.cli("hsm", "import-cert", str(made.uri), str(new), "--replace")
    assert r.returncode == 0, r.stderr
    signer = Pkcs11Signer.open(str(made.uri), pin=hsm_setup.pin, module=hsm_setup.module)
    assert signer.certificate == new_cert


def test_csr_der_with_chosen_hash(hsm_setup: HsmSetup, tmp_path: Path) -> None:
    out = tmp_path / "r.der"
    r = hsm_setup.cli(
        "hsm", "csr", hsm_setup.keys["rsa-2048"], "--name-th", "นางสาวสมหญิง รักไทย", "--hash", "sha512",
        "--der", "-o", str(out), "--employee-id", "E0042",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    v = subprocess.run(
        ["openssl", "req", "-inform", "DER", "-in", str(out), "-verify", "-noout", "-text"],
        capture_output=True,
        text=True,
    )
    assert v.returncode == 0 and "verify OK" in v.stdout + v.stderr
    assert "sha512WithRSAEncryption" in v.stdout and "serialNumber=E0042" in v.stdout.replace(" = ", "=")


def test_pin_file_beats_pin_source_beats_environment(
    hsm_setup: HsmSetup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thaisign.hsm import resolve_pin

    a, b = tmp_path / "a.pin", tmp_path / "b.pin"
    a.write_text("from-file\n")
    b.write_text("from-uri\n")
    a.chmod(0o600)
    b.chmod(0o600)
    monkeypatch.setenv("THAISIGN_PIN", "from-env")
    uri = Pkcs11Uri(token="T", pin_source=f"file:{b}")
    assert resolve_pin(uri, pin_file=a) == "from-file"
    assert resolve_pin(uri) == "from-uri"
    assert resolve_pin(Pkcs11Uri(token="T")) == "from-env"
    monkeypatch.delenv("THAISIGN_PIN")
    assert resolve_pin(Pkcs11Uri(token="T"), required=False) is None
    with pytest.raises(errors.PinError, match="no PIN given for token 'T'"):
        resolve_pin(Pkcs11Uri(token="T"))


def test_list_one_object(hsm_setup: HsmSetup) -> None:
    r = hsm_setup.cli("hsm", "list", hsm_setup.keys["ec-p384"], "--json")
    assert r.returncode == 0, r.stderr
    (token,) = json.loads(r.stdout)["tokens"]
    assert {o["label"] for o in token["objects"]} == {"officer-ec-p384"}
    assert {o["kind"] for o in token["objects"]} == {"private-key", "public-key"}
