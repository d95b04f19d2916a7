"""pkcs11-tool (OpenSC) as an independent client of the same SoftHSM2 token."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hsm_helpers import TOKEN, HsmSetup

from thaisign import errors
from thaisign.hsm import Pkcs11Signer, generate_key, list_objects
from thaisign.keys import KeySpec


def _tool(hsm_setup: HsmSetup, *args: str) -> subprocess.CompletedProcess[str]:
    from shutil import which

    tool = which("pkcs11-tool")
    assert tool, "pkcs11-tool (opensc) is not installed: run scripts/setup.sh"
    r = subprocess.run(
        [
            tool,
            "--module",
            hsm_setup.module,
            "--token-label",
            TOKEN,
            "--login",
            "--pin",
            hsm_setup.pin,
            *args,
        ],
        capture_output=True,
        text=True,
        env=hsm_setup.env(),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return r


def test_thaisign_key_is_visible_and_usable_in_pkcs11_tool(hsm_setup: HsmSetup, tmp_path: Path) -> None:
    made = generate_key(
        hsm_setup.uri("made-by-thaisign"), "ec-p256", pin=hsm_setup.pin, module=hsm_setup.module
    )
    assert made.uri.id is not None
    listing = _tool(hsm_setup, "--list-objects").stdout
    assert "label:      made-by-thaisign" in listing
    assert made.uri.id.hex() in listing
    # pkcs11-tool signs a digest with the thaisign-made key; cryptography verifies it
    data = "หนังสือราชการ".encode()
    digest = tmp_path / "digest.bin"
    digest.write_bytes(hashlib.sha256(data).digest())
    sig_file = tmp_path / "sig.bin"
    _tool(
        hsm_setup,
        "--sign",
        "-m",
        "ECDSA",
        "--id",
        made.uri.id.hex(),
        "--input-file",
        str(digest),
        "--output-file",
        str(sig_file),
    )
    raw = sig_file.read_bytes()
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    made.public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]
    # and the attributes pkcs11-tool reads say the key cannot leave the token
    attrs = _tool(hsm_setup, "--list-objects", "--type", "privkey", "--id", made.uri.id.hex()).stdout
    assert "Private Key Object; EC" in attrs
    assert "Usage:      sign\n" in attrs  # sign only: no decrypt, unwrap or derive
    assert "sensitive, always sensitive, never extractable" in attrs


def test_pkcs11_tool_key_is_usable_by_thaisign(hsm_setup: HsmSetup) -> None:
    _tool(
        hsm_setup,
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--label",
        "made-by-pkcs11-tool",
        "--id",
        "01",
    )
    signer = Pkcs11Signer.open(
        hsm_setup.uri("made-by-pkcs11-tool"), pin=hsm_setup.pin, module=hsm_setup.module
    )
    assert signer.key_spec == KeySpec("ec", 256)
    sig = signer.sign(b"letter", hash_algorithm="sha256")
    signer.public_key.verify(sig, b"letter", ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]
    kinds = {
        (o.kind, o.id) for o in list_objects(hsm_setup.token_uri, pin=hsm_setup.pin, module=hsm_setup.module)
    }
    assert ("private-key", b"\x01") in kinds and ("public-key", b"\x01") in kinds


def test_pkcs11_tool_rsa_key_signs_pkcs1_and_pss(hsm_setup: HsmSetup) -> None:
    _tool(hsm_setup, "--keypairgen", "--key-type", "rsa:2048", "--label", "tool-rsa", "--id", "02")
    for pss in (False, True):
        signer = Pkcs11Signer.open(
            hsm_setup.uri("tool-rsa"), pin=hsm_setup.pin, module=hsm_setup.module, pss=pss
        )
        sig = signer.sign(b"letter", hash_algorithm="sha256")
        pub = signer.public_key
        assert isinstance(pub, rsa.RSAPublicKey)
        pad = padding.PSS(padding.MGF1(hashes.SHA256()), 32) if pss else padding.PKCS1v15()
        pub.verify(sig, b"letter", pad, hashes.SHA256())


def test_always_authenticate_key_gets_the_pin_for_each_signature(hsm_setup: HsmSetup) -> None:
    """A key made with CKA_ALWAYS_AUTHENTICATE (like a smart card's non-repudiation key)."""
    _tool(
        hsm_setup, "--keypairgen", "--key-type", "EC:prime256v1", "--label", "always-auth", "--id", "0a",
        "--always-auth",
    )  # fmt: skip
    signer = Pkcs11Signer.open(hsm_setup.uri("always-auth"), pin=hsm_setup.pin, module=hsm_setup.module)
    for i in range(3):
        data = f"letter {i}".encode()
        signer.public_key.verify(signer.sign(data), data, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]


def test_public_key_object_of_another_key_is_refused(hsm_setup: HsmSetup, tmp_path: Path) -> None:
    """A token whose public key object (same id and label) belongs to another key fails at open."""
    _tool(hsm_setup, "--keypairgen", "--key-type", "EC:prime256v1", "--label", "mismatch", "--id", "0b")
    _tool(hsm_setup, "--delete-object", "--type", "pubkey", "--id", "0b")
    foreign = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = tmp_path / "foreign.der"
    der.write_bytes(
        foreign.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    _tool(hsm_setup, "--write-object", str(der), "--type", "pubkey", "--id", "0b", "--label", "mismatch")
    with pytest.raises(errors.KeyLoadError, match="does not belong to its private key"):
        Pkcs11Signer.open(hsm_setup.uri("mismatch"), pin=hsm_setup.pin, module=hsm_setup.module)
