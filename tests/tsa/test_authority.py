"""TimeStampAuthority in-process: every refusal RFC 3161 names, and tokens checked independently."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms, core, tsp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from support.pki import FIXED_TIME
from support.tools import require_tool

from thaisign.errors import CertificateError, StoreError
from thaisign.keys import SoftwareSigner
from thaisign.tsa.authority import CounterSerials, IssuedToken, TimeStampAuthority

POLICY = "1.3.6.1.4.1.60000.3161.7"


@pytest.fixture(scope="module")
def signer(pki) -> SoftwareSigner:
    return SoftwareSigner(pki.tsa.key, pki.tsa.cert, [pki.ca.cert, pki.root.cert])


def _tsa(signer: SoftwareSigner, **kw) -> TimeStampAuthority:
    kw.setdefault("clock", lambda: FIXED_TIME + dt.timedelta(milliseconds=250))
    return TimeStampAuthority(signer, policy_oid=POLICY, **kw)


def _query(digest: bytes = b"\x11" * 32, algorithm: str = "sha256", **fields) -> bytes:
    req = {
        "version": fields.pop("version", "v1"),
        "message_imprint": {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest},
        **fields,
    }
    return tsp.TimeStampReq(req).dump()


def _status(der: bytes) -> tuple[str, set[str] | None]:
    # asn1crypto's TimeStampResp wrongly requires a token, so read PKIStatusInfo on its own
    info = tsp.PKIStatusInfo.load(core.Sequence.load(der).contents)
    fail = info["fail_info"].native
    return info["status"].native, (set(fail) if fail else None)


def test_token_fields_signature_and_ess_binding(signer: SoftwareSigner, pki) -> None:
    logged: list[IssuedToken] = []
    tsa = _tsa(signer, log=logged.append, serials=CounterSerials(1000))
    digest = hashlib.sha384(b"letter").digest()
    der = tsa.respond(_query(digest, "sha384", nonce=2**70 + 5, cert_req=True))
    resp = tsp.TimeStampResp.load(der)
    assert resp["status"]["status"].native == "granted"
    signed = resp["time_stamp_token"]["content"]
    info = signed["encap_content_info"]["content"].parsed
    assert info["policy"].dotted == POLICY
    assert info["serial_number"].native == 1000
    assert info["nonce"].native == 2**70 + 5
    assert info["gen_time"].native == FIXED_TIME + dt.timedelta(milliseconds=250)
    assert info["message_imprint"]["hashed_message"].native == digest
    assert info["accuracy"].native == {"seconds": 1, "millis": None, "micros": None}
    assert info["tsa"].chosen.native["common_name"] == "กรมทดสอบระบบ TSA"
    certs = {c.chosen.dump() for c in signed["certificates"]}
    assert pki.tsa.cert.public_bytes(serialization.Encoding.DER) in certs
    # the signature over the signed attributes, checked with cryptography
    si = signed["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0] for a in si["signed_attrs"]}
    assert attrs["message_digest"].native == hashlib.sha256(info.dump()).digest()
    ess = attrs["signing_certificate_v2"]["certs"][0]
    assert (
        ess["cert_hash"].native
        == hashlib.sha256(pki.tsa.cert.public_bytes(serialization.Encoding.DER)).digest()
    )
    to_verify = cms.CMSAttributes(list(si["signed_attrs"])).dump()
    pki.tsa.cert.public_key().verify(si["signature"].native, to_verify, ec.ECDSA(hashes.SHA256()))
    assert logged and logged[0].serial == 1000 and logged[0].token_der == resp["time_stamp_token"].dump()


@pytest.mark.parametrize(
    ("query", "failure"),
    [
        (b"", "bad_data_format"),
        (b"\x30\x03\x02\x01\x01", "bad_data_format"),
        (random.Random(3161).randbytes(200), "bad_data_format"),
        (b"\x30\x80\x02\x01\x01\x00\x00", "bad_data_format"),  # indefinite length: not DER
        (b"\x30" * 20000, "bad_data_format"),  # oversized
        (_query(hashlib.sha1(b"x").digest(), "sha1"), "bad_alg"),
        (_query(hashlib.md5(b"x").digest(), "md5"), "bad_alg"),
        (_query(b"\x11" * 20), "bad_data_format"),  # wrong digest length
        (_query(version=2), "bad_request"),
        (_query(nonce=2**700), "bad_request"),
        (_query(req_policy="1.2.3.4"), "unaccepted_policy"),
        (
            _query(extensions=[{"extn_id": "1.2.3", "critical": False, "extn_value": b"\x05\x00"}]),
            "unaccepted_extensions",
        ),
    ],
    ids=[
        "empty", "short", "random", "indefinite", "oversized", "sha1", "md5", "digest-length",
        "version", "huge-nonce", "policy", "extension",
    ],
)  # fmt: skip
def test_refusals(signer: SoftwareSigner, query: bytes, failure: str) -> None:
    reply = _tsa(signer).reply(query)
    assert not reply.granted and reply.failure == failure
    assert _status(reply.der) == ("rejection", {failure})


def test_store_failures_refuse_instead_of_issuing_unlogged(signer: SoftwareSigner) -> None:
    def broken_log(token: IssuedToken) -> None:
        raise StoreError("database down")

    def broken_serials() -> int:
        raise StoreError("database down")

    assert _status(_tsa(signer, log=broken_log).respond(_query())) == ("rejection", {"system_failure"})
    assert _status(_tsa(signer, serials=broken_serials).respond(_query())) == (
        "rejection",
        {"system_failure"},
    )


def test_requested_policy_and_no_cert_req(signer: SoftwareSigner) -> None:
    der = _tsa(signer).respond(_query(req_policy=POLICY))
    token = tsp.TimeStampResp.load(der)["time_stamp_token"]["content"]
    assert token["certificates"].native is None


def test_accuracy_in_millis_and_serials_unique(signer: SoftwareSigner) -> None:
    tsa = _tsa(signer, accuracy=dt.timedelta(milliseconds=20))
    serials = set()
    for _ in range(50):
        info = tsp.TimeStampResp.load(tsa.respond(_query()))["time_stamp_token"]["content"]
        info = info["encap_content_info"]["content"].parsed
        serials.add(info["serial_number"].native)
    assert info["accuracy"].native == {"seconds": None, "millis": 20, "micros": None}
    assert len(serials) == 50


def test_tsa_certificate_must_be_timestamping_only(pki) -> None:
    officer = SoftwareSigner(pki.officer_ec.key, pki.officer_ec.cert)
    with pytest.raises(CertificateError, match="id-kp-timeStamping"):
        TimeStampAuthority(officer)


def test_openssl_verifies_in_process_token(signer: SoftwareSigner, pki, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    data = tmp_path / "letter.txt"
    data.write_text("ที่ มท ๐๘๐๘/๑๒๓", encoding="utf-8")
    subprocess.run(
        [openssl, "ts", "-query", "-data", str(data), "-sha512", "-cert", "-out", str(tmp_path / "q")],
        check=True,
    )
    tsa = TimeStampAuthority(signer, policy_oid=POLICY)  # wall clock: openssl checks it
    (tmp_path / "r").write_bytes(tsa.respond((tmp_path / "q").read_bytes()))
    r = subprocess.run(
        [openssl, "ts", "-verify", "-data", str(data), "-in", str(tmp_path / "r"),
         "-CAfile", str(pki.root_pem), "-untrusted", str(pki.ca.cert_pem)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert "Verification: OK" in r.stdout, r.stdout + r.stderr


def test_corrupted_queries_never_raise(signer: SoftwareSigner) -> None:
    tsa = _tsa(signer)
    good = _query(nonce=12345, cert_req=True)
    rng = random.Random(5816)
    outcomes = set()
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        reply = tsa.reply(bytes(data))
        outcomes.add(reply.granted)
        status, _fail = _status(reply.der) if not reply.granted else ("granted", None)
        assert status in {"granted", "rejection"}
    assert False in outcomes  # most corruptions are refused, none crashes
