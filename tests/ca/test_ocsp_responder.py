"""OcspResponder in-process: statuses, CertID hashes, nonces, signers, errors, the pre-signed cache."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pytest
from asn1crypto import keys
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from support.pki import FIXED_TIME

from thaisign.ca.ocsp import CertStatus, OcspResponder, answer_with, normalize_reason
from thaisign.errors import StoreError
from thaisign.keys import SoftwareSigner


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture()
def world(pki):
    statuses: dict[int, CertStatus] = {
        pki.officer_ec.cert.serial_number: CertStatus.good(),
        pki.officer_rsa.cert.serial_number: CertStatus.revoked(
            FIXED_TIME - dt.timedelta(days=2), "keyCompromise"
        ),
    }
    clock = Clock(FIXED_TIME)
    signer = SoftwareSigner(pki.ocsp.key, pki.ocsp.cert, [pki.ca.cert])
    responder = OcspResponder(
        pki.ca.cert, signer, lambda s: statuses.get(s, CertStatus.unknown()), clock=clock
    )
    return responder, statuses, clock


def _req(pki, *certs: x509.Certificate, algo=None, nonce: bytes | None = None) -> bytes:
    b = ocsp.OCSPRequestBuilder()
    for c in certs:
        b = b.add_certificate(c, pki.ca.cert, algo or hashes.SHA1())
    if nonce is not None:
        b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
    return b.build().public_bytes(serialization.Encoding.DER)


def _multi_req(pki, certs: list[x509.Certificate], algo: str = "sha256") -> bytes:
    """A request for several certificates (cryptography builds only one), with asn1crypto."""
    name = pki.ca.cert.subject.public_bytes()
    key_bits = keys.PublicKeyInfo.load(
        pki.ca.cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )["public_key"].contents[1:]
    reqs = [
        {
            "req_cert": {
                "hash_algorithm": {"algorithm": algo},
                "issuer_name_hash": hashlib.new(algo, name).digest(),
                "issuer_key_hash": hashlib.new(algo, key_bits).digest(),
                "serial_number": c.serial_number,
            }
        }
        for c in certs
    ]
    return asn1_ocsp.OCSPRequest({"tbs_request": {"request_list": reqs}}).dump()


def _status_name(der: bytes) -> str:
    return asn1_ocsp.OCSPResponse.load(der)["response_status"].native


def test_good_revoked_unknown_in_one_request_signed_by_delegated_responder(world, pki) -> None:
    responder, _, _ = world
    stranger = pki.issue_officer("stranger-for-ocsp").cert  # issued, but not in this CA's store
    der = responder.respond(_multi_req(pki, [pki.officer_ec.cert, pki.officer_rsa.cert, stranger]))
    resp = asn1_ocsp.OCSPResponse.load(der)
    basic = resp["response_bytes"]["response"].parsed
    singles = basic["tbs_response_data"]["responses"]
    assert [s["cert_status"].name for s in singles] == ["good", "revoked", "unknown"]
    revoked = singles[1]["cert_status"].chosen
    assert revoked["revocation_time"].native == FIXED_TIME - dt.timedelta(days=2)
    assert revoked["revocation_reason"].native == "key_compromise"
    assert singles[0]["this_update"].native == FIXED_TIME
    assert singles[0]["next_update"].native == FIXED_TIME + dt.timedelta(hours=1)
    # responder ID by key hash, the delegated certificate included, the signature valid
    rid = basic["tbs_response_data"]["responder_id"]
    assert rid.name == "by_key"
    parsed = ocsp.load_der_ocsp_response(_single_response_for(responder, pki))
    assert parsed.responder_key_hash == rid.native
    assert [c.serial_number for c in parsed.certificates] == [pki.ocsp.cert.serial_number]
    pki.ocsp.cert.public_key().verify(
        basic["signature"].native, basic["tbs_response_data"].dump(), ec.ECDSA(hashes.SHA256())
    )


def _single_response_for(responder: OcspResponder, pki) -> bytes:
    return responder.respond(_req(pki, pki.officer_ec.cert))


@pytest.mark.parametrize("algo", [hashes.SHA1(), hashes.SHA256(), hashes.SHA384(), hashes.SHA512()])
def test_cert_id_hashes_and_nonce_echo(world, pki, algo) -> None:
    responder, _, _ = world
    nonce = os.urandom(32)
    resp = ocsp.load_der_ocsp_response(
        responder.respond(_req(pki, pki.officer_ec.cert, algo=algo, nonce=nonce))
    )
    assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert resp.hash_algorithm.name == algo.name
    assert resp.serial_number == pki.officer_ec.cert.serial_number
    assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce


def test_ca_key_signs_without_extra_certificate(pki) -> None:
    responder = OcspResponder(
        pki.ca.cert, SoftwareSigner(pki.ca.key), lambda s: CertStatus.good(), clock=lambda: FIXED_TIME
    )
    resp = ocsp.load_der_ocsp_response(responder.respond(_req(pki, pki.officer_ec.cert)))
    assert resp.certificates == []
    pki.ca.cert.public_key().verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))


def test_delegated_signer_needs_its_certificate(pki) -> None:
    with pytest.raises(ValueError, match="certificate"):
        OcspResponder(pki.ca.cert, SoftwareSigner(pki.ocsp.key), lambda s: CertStatus.good())


def test_unauthorized_for_other_issuers(world, pki) -> None:
    responder, _, _ = world
    root_issued = ocsp.OCSPRequestBuilder().add_certificate(pki.ca.cert, pki.root.cert, hashes.SHA1()).build()
    assert (
        _status_name(responder.respond(root_issued.public_bytes(serialization.Encoding.DER)))
        == "unauthorized"
    )
    # one request mixing two issuers is refused as a whole
    mixed = asn1_ocsp.OCSPRequest.load(_multi_req(pki, [pki.officer_ec.cert]))
    other = asn1_ocsp.OCSPRequest.load(root_issued.public_bytes(serialization.Encoding.DER))
    both = asn1_ocsp.OCSPRequest(
        {
            "tbs_request": {
                "request_list": [
                    mixed["tbs_request"]["request_list"][0],
                    other["tbs_request"]["request_list"][0],
                ]
            }
        }
    )
    assert _status_name(responder.respond(both.dump())) == "unauthorized"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x30",
        b"\x30\x00",
        b"\x30\x80\x00\x00",
        b"\x04\x03abc",
        b"\xff" * 64,
    ],
)
def test_malformed(world, body: bytes) -> None:
    responder, _, _ = world
    assert _status_name(responder.respond(body)) == "malformed_request"


def test_malformed_structures(world, pki) -> None:
    responder, _, _ = world
    good = _req(pki, pki.officer_ec.cert)
    assert _status_name(responder.respond(good + b"\x00")) == "malformed_request"  # trailing data
    assert _status_name(responder.respond(good[:-3])) == "malformed_request"  # truncated
    md5 = _multi_req(pki, [pki.officer_ec.cert], algo="md5")
    assert _status_name(responder.respond(md5)) == "malformed_request"
    critical = asn1_ocsp.OCSPRequest.load(_multi_req(pki, [pki.officer_ec.cert]))
    critical["tbs_request"]["request_extensions"] = [
        {"extn_id": "acceptable_responses", "critical": True, "extn_value": ["basic_ocsp_response"]}
    ]
    assert _status_name(responder.respond(critical.dump())) == "malformed_request"
    for _ in range(200):  # random corruption of a valid request never raises
        data = bytearray(good)
        data[os.urandom(1)[0] % len(data)] ^= 1 << (os.urandom(1)[0] % 8)
        assert _status_name(responder.respond(bytes(data))) in {
            "malformed_request",
            "successful",
            "unauthorized",
        }


def test_try_later_while_store_is_down_then_recovers(world, pki) -> None:
    responder, _, _ = world
    down = {"on": True}
    lookup = responder.status_lookup

    def flaky(serial: int) -> CertStatus:
        if down["on"]:
            raise StoreError("database unreachable")
        return lookup(serial)

    responder.status_lookup = flaky
    request = _req(pki, pki.officer_ec.cert)
    assert _status_name(responder.respond(request)) == "try_later"
    down["on"] = False
    assert _status_name(responder.respond(request)) == "successful"
    down["on"] = True  # a cached answer is not served blind while the store is down
    assert _status_name(responder.respond(request)) == "try_later"


def test_pre_signed_cache_follows_revocation_and_refresh(world, pki) -> None:
    responder, statuses, clock = world
    request = _req(pki, pki.officer_ec.cert)
    first = responder.respond(request)
    assert responder.respond(request) == first  # the same pre-signed bytes
    assert responder.answer(request).cacheable
    statuses[pki.officer_ec.cert.serial_number] = CertStatus.revoked(FIXED_TIME, "superseded")
    revoked = ocsp.load_der_ocsp_response(responder.respond(request))
    assert revoked.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert revoked.revocation_reason == x509.ReasonFlags.superseded
    clock.now = FIXED_TIME + dt.timedelta(minutes=11)  # past the refresh interval: signed anew
    fresh = ocsp.load_der_ocsp_response(responder.respond(request))
    assert fresh.this_update_utc == FIXED_TIME + dt.timedelta(minutes=11)
    with_nonce = responder.answer(_req(pki, pki.officer_ec.cert, nonce=b"12345678"))
    assert not with_nonce.cacheable


def test_answer_with_routes_by_issuer(world, pki) -> None:
    responder, _, _ = world
    root = OcspResponder(
        pki.root.cert, SoftwareSigner(pki.root.key), lambda s: CertStatus.good(), clock=lambda: FIXED_TIME
    )
    req = ocsp.OCSPRequestBuilder().add_certificate(pki.ca.cert, pki.root.cert, hashes.SHA256()).build()
    answer = answer_with([responder, root], req.public_bytes(serialization.Encoding.DER))
    parsed = ocsp.load_der_ocsp_response(answer.der)
    assert parsed.certificate_status == ocsp.OCSPCertStatus.GOOD
    pki.root.cert.public_key().verify(parsed.signature, parsed.tbs_response_bytes, ec.ECDSA(hashes.SHA384()))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("keyCompromise", "key_compromise"),
        ("key-compromise", "key_compromise"),
        ("cACompromise", "ca_compromise"),
        (x509.ReasonFlags.superseded, "superseded"),
        ("privilege_withdrawn", "privilege_withdrawn"),
    ],
)
def test_reason_names(given, expected) -> None:
    assert normalize_reason(given) == expected
    with pytest.raises(ValueError):
        normalize_reason("because")
