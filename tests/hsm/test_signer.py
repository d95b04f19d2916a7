"""Pkcs11Signer through SoftHSM2: every key type and scheme, sessions, pickling, dropped sessions."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hsm_helpers import HsmSetup, issue_for
from pkcs11 import Mechanism
from support.pki import TestPKI

from thaisign import errors
from thaisign.hsm import Pkcs11Signer, Pkcs11Uri, TokenSession, import_certificate
from thaisign.keys import KeySpec, Signer

_H = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}


def _verify(signer: Signer, sig: bytes, data: bytes, h: str, pss: bool = False) -> None:
    pub = signer.public_key
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(sig, data, ec.ECDSA(_H[h]))
    elif pss:
        assert isinstance(pub, rsa.RSAPublicKey)
        pub.verify(sig, data, padding.PSS(padding.MGF1(_H[h]), _H[h].digest_size), _H[h])
    else:
        assert isinstance(pub, rsa.RSAPublicKey)
        pub.verify(sig, data, padding.PKCS1v15(), _H[h])


@pytest.mark.parametrize("spec", ["ec-p256", "ec-p384", "rsa-2048"])
@pytest.mark.parametrize("h", ["sha256", "sha384", "sha512"])
def test_sign_and_sign_digest_verify(hsm_setup: HsmSetup, spec: str, h: str) -> None:
    signer = Signer.from_pkcs11(hsm_setup.keys[spec], pin=hsm_setup.pin, module=hsm_setup.module)
    assert isinstance(signer, Pkcs11Signer)
    assert signer.key_spec == KeySpec.parse(spec)
    data = "หนังสือราชการ ที่ มท ๐๘๐๑/๑๒๓".encode() * 50
    sig = signer.sign(data, hash_algorithm=h)
    _verify(signer, sig, data, h)
    sig2 = signer.sign_digest(hashlib.new(h, data).digest(), hash_algorithm=h)
    _verify(signer, sig2, data, h)
    if spec.startswith("ec"):
        r, s = decode_dss_signature(sig)  # DER ECDSA-Sig-Value, not raw r||s
        assert r > 0 and s > 0
        assert signer.signature_algorithm(h)["algorithm"].native == f"{h}_ecdsa"
    else:
        assert signer.signature_algorithm(h)["algorithm"].native == f"{h}_rsa"


@pytest.mark.parametrize("h", ["sha256", "sha512"])
def test_rsa_pss(hsm_setup: HsmSetup, h: str) -> None:
    signer = Pkcs11Signer.open(
        hsm_setup.keys["rsa-2048"], pin=hsm_setup.pin, module=hsm_setup.module, pss=True
    )
    sig = signer.sign(b"letter", hash_algorithm=h)
    _verify(signer, sig, b"letter", h, pss=True)
    alg = signer.signature_algorithm(h)
    assert alg["algorithm"].native == "rsassa_pss"
    assert alg["parameters"]["salt_length"].native == _H[h].digest_size


def test_wrong_digest_length_refused(hsm_setup: HsmSetup) -> None:
    signer = Pkcs11Signer.open(hsm_setup.keys["ec-p256"], pin=hsm_setup.pin, module=hsm_setup.module)
    with pytest.raises(ValueError, match="32 bytes"):
        signer.sign_digest(b"short", hash_algorithm="sha256")


def test_module_from_env_pin_from_uri_pin_source(
    hsm_setup: HsmSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THAISIGN_PKCS11_MODULE", hsm_setup.module)
    uri = Pkcs11Uri.parse(hsm_setup.keys["ec-p256"]).replace(pin_source=f"file:{hsm_setup.pin_file}")
    signer = Signer.from_pkcs11(str(uri))
    _verify(signer, signer.sign(b"x"), b"x", "sha256")
    assert "pin-source" not in str(signer.uri)  # the signer does not carry the PIN file name on


def test_module_path_in_uri(hsm_setup: HsmSetup) -> None:
    uri = Pkcs11Uri.parse(hsm_setup.keys["ec-p256"]).replace(module_path=hsm_setup.module)
    signer = Signer.from_pkcs11(str(uri), pin=hsm_setup.pin)
    _verify(signer, signer.sign(b"x"), b"x", "sha256")


def test_no_pin_anywhere_is_a_pin_error(hsm_setup: HsmSetup) -> None:
    with pytest.raises(errors.PinError, match="no PIN given") as info:
        Signer.from_pkcs11(hsm_setup.keys["ec-p256"], module=hsm_setup.module)
    assert info.value.hint and "THAISIGN_PIN" in info.value.hint


def test_signers_share_one_logged_in_session(hsm_setup: HsmSetup) -> None:
    a = Pkcs11Signer.open(hsm_setup.keys["ec-p256"], pin=hsm_setup.pin, module=hsm_setup.module)
    b = Pkcs11Signer.open(hsm_setup.keys["rsa-2048"], pin=hsm_setup.pin, module=hsm_setup.module)
    assert a.token_session is b.token_session
    before = a.token_session.generation
    for _ in range(20):
        a.sign(b"a")
        b.sign(b"b")
    assert a.token_session.generation == before  # no re-login per signature


def test_dropped_session_is_reopened_and_retried_once(hsm_setup: HsmSetup) -> None:
    signer = Pkcs11Signer.open(hsm_setup.keys["ec-p384"], pin=hsm_setup.pin, module=hsm_setup.module)
    ts = signer.token_session
    signer.sign(b"warm")
    reconnects = ts.reconnects
    ts.session().close()  # the token drops the session behind our back (C_CloseSession)
    sig = signer.sign(b"after the drop", hash_algorithm="sha384")
    _verify(signer, sig, b"after the drop", "sha384")
    assert ts.reconnects == reconnects + 1
    # the module restarts (as after a token is unplugged and back): every handle is invalid
    from thaisign.hsm import load_module

    load_module(hsm_setup.module).reinitialize()
    _verify(signer, signer.sign(b"again"), b"again", "sha256")
    assert ts.reconnects == reconnects + 2


def test_certificate_and_chain_read_from_token(hsm_setup: HsmSetup, pki: TestPKI) -> None:
    uri = hsm_setup.uri("officer-with-cert")
    from thaisign.hsm import generate_key

    made = generate_key(uri, "ec-p256", pin=hsm_setup.pin, module=hsm_setup.module)
    cert = issue_for(pki, made.public_key)
    import_certificate(
        str(made.uri), cert, [pki.ca.cert, pki.root.cert], pin=hsm_setup.pin, module=hsm_setup.module
    )
    signer = Pkcs11Signer.open(uri, pin=hsm_setup.pin, module=hsm_setup.module)
    assert signer.certificate == cert
    assert signer.chain == (pki.ca.cert, pki.root.cert)
    # a mismatching certificate is refused with the key
    with pytest.raises(errors.KeyLoadError, match="does not match"):
        Pkcs11Signer.open(uri, pin=hsm_setup.pin, module=hsm_setup.module, certificate=pki.officer_ec.cert)


def _sign_in_worker(signer: Pkcs11Signer, data: bytes) -> tuple[int, int, bytes, str]:
    sig = signer.sign(data)
    ts = signer.token_session
    return os.getpid(), id(ts), sig, str(signer.certificate.subject if signer.certificate else "")


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_pickled_signer_logs_in_once_per_worker(hsm_setup: HsmSetup, method: str) -> None:
    signer = Pkcs11Signer.open(hsm_setup.keys["ec-p256"], pin=hsm_setup.pin, module=hsm_setup.module)
    signer.sign(b"parent uses the module before forking")
    state = pickle.dumps(signer)
    assert hsm_setup.pin.encode() in state  # the recipe carries the PIN to workers (never a session)
    assert b"TokenSession" not in state
    docs = [f"letter {i}".encode() for i in range(40)]
    ctx = multiprocessing.get_context(method)
    with ProcessPoolExecutor(2, mp_context=ctx) as pool:
        results = list(pool.map(_sign_in_worker, [signer] * len(docs), docs))
    for (_, _, sig, _), doc in zip(results, docs, strict=True):
        _verify(signer, sig, doc, "sha256")
    sessions_per_pid: dict[int, set[int]] = {}
    for pid, ts_id, _, _ in results:
        sessions_per_pid.setdefault(pid, set()).add(ts_id)
    assert os.getpid() not in sessions_per_pid
    assert all(len(s) == 1 for s in sessions_per_pid.values())  # one session per worker


def test_reopen_spec(hsm_setup: HsmSetup) -> None:
    signer = Pkcs11Signer.open(
        hsm_setup.keys["rsa-2048"], pin=hsm_setup.pin, module=hsm_setup.module, pss=True
    )
    spec = signer.reopen_spec()
    assert hsm_setup.pin not in repr(spec)
    again = spec.open()
    assert again.pss and again.public_key == signer.public_key


def test_token_refuses_a_mechanism_it_lacks(hsm_setup: HsmSetup) -> None:
    """SoftHSM2 lacks CKM_ECDSA_SHA256: its real refusal becomes a MechanismError naming what it has."""
    signer = Pkcs11Signer.open(hsm_setup.keys["ec-p256"], pin=hsm_setup.pin, module=hsm_setup.module)
    ts: TokenSession = signer.token_session
    assert Mechanism.ECDSA_SHA256 not in ts.token.slot.get_mechanisms()
    with pytest.raises(errors.MechanismError, match="CKM_ECDSA") as info:
        ts.run(lambda s: signer._key(s).sign(b"x", mechanism=Mechanism.ECDSA_SHA256), action="sign")
    assert "refused the mechanism" in info.value.message


def test_signer_is_usable_as_context_manager(hsm_setup: HsmSetup) -> None:
    with Pkcs11Signer.open(hsm_setup.keys["ec-p256"], pin=hsm_setup.pin, module=hsm_setup.module) as s:
        s.sign(b"x")
    # closed: the next use re-opens the shared session with the PIN it was given
    _verify(s, s.sign(b"y"), b"y", "sha256")
    assert isinstance(s.public_key, ec.EllipticCurvePublicKey)


def test_wrong_pin_then_right_pin_in_one_process(hsm_setup: HsmSetup) -> None:
    from thaisign.hsm import forget_sessions

    forget_sessions()  # no other session of this process is logged in
    with pytest.raises(errors.PinError, match="wrong PIN"):
        Pkcs11Signer.open(hsm_setup.keys["ec-p256"], pin="000000", module=hsm_setup.module)
    signer = Pkcs11Signer.open(hsm_setup.keys["ec-p256"], pin=hsm_setup.pin, module=hsm_setup.module)
    _verify(signer, signer.sign(b"x"), b"x", "sha256")


def test_token_created_after_module_load_is_found(hsm_setup: HsmSetup) -> None:
    """SoftHSM2 scans its token folder at C_Initialize: a token made later is found after one refresh."""
    from thaisign.hsm import generate_key

    Pkcs11Signer.open(hsm_setup.keys["ec-p256"], pin=hsm_setup.pin, module=hsm_setup.module)  # module loaded
    hsm_setup.softhsm.init_token("late-token", hsm_setup.pin, "13579")
    made = generate_key(
        "pkcs11:token=late-token;object=k", "ec-p256", pin=hsm_setup.pin, module=hsm_setup.module
    )
    signer = Pkcs11Signer.open(made.uri, pin=hsm_setup.pin, module=hsm_setup.module)
    _verify(signer, signer.sign(b"x"), b"x", "sha256")
