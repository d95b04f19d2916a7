"""Strict DER for RFC 3161: read a TimeStampReq, write TSTInfo / SignedData / TimeStampResp.

asn1crypto takes ~15 ms to build a token with its certificates; writing the few variable parts
around pre-encoded constant ones takes well under 0.1 ms. The tests check every output with
openssl ts -verify, asn1crypto and pyHanko.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from thaisign.ca._ocsp_der import children, expect, integer, read_tlv, seq, tlv

#: message-imprint hash OID content -> (name, digest size)
IMPRINT_HASHES = {
    bytes.fromhex("608648016503040201"): ("sha256", 32),
    bytes.fromhex("608648016503040202"): ("sha384", 48),
    bytes.fromhex("608648016503040203"): ("sha512", 64),
}
_KNOWN_WEAK = {
    bytes.fromhex("2b0e03021a"): "sha1",
    bytes.fromhex("2a864886f70d0205"): "md5",
    bytes.fromhex("608648016503040204"): "sha224",
}

_OID_TST_INFO = bytes.fromhex("060b2a864886f70d0109100104")
_OID_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
_OID_CONTENT_TYPE = bytes.fromhex("06092a864886f70d010903")
_OID_MESSAGE_DIGEST = bytes.fromhex("06092a864886f70d010904")


class BadRequest(ValueError):
    """A request RFC 3161 says to refuse, with the PKIFailureInfo name to refuse it with."""

    def __init__(self, failure: str, text: str) -> None:
        super().__init__(text)
        self.failure = failure
        self.text = text


@dataclass(frozen=True)
class TimeStampRequest:
    imprint_der: bytes  # the MessageImprint, echoed verbatim into TSTInfo
    hash_algorithm: str
    digest: bytes
    policy_oid_der: bytes | None  # full TLV of reqPolicy
    nonce_der: bytes | None  # full TLV of the nonce INTEGER, echoed verbatim
    nonce: int | None
    cert_req: bool


def oid_text(content: bytes) -> str:
    """Dotted text of OID content bytes (for messages)."""
    if not content:
        return "?"
    first = content[0]
    parts = [str(min(first // 40, 2)), str(first - 40 * min(first // 40, 2))]
    value = 0
    for b in content[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(str(value))
            value = 0
    return ".".join(parts)


def parse_request(data: bytes, *, max_nonce_bytes: int = 64) -> TimeStampRequest:
    """Read a DER TimeStampReq, or raise :class:`BadRequest`."""
    try:
        start, end = expect(data, 0, len(data), 0x30)
        if end != len(data):
            raise ValueError("trailing data after the request")
        fields = children(data, start, end)
        if len(fields) < 2 or fields[0][0] != 0x02 or fields[1][0] != 0x30:
            raise ValueError("TimeStampReq must start with version and messageImprint")
        version = data[fields[0][2] : fields[0][3]]
        imprint = children(data, fields[1][2], fields[1][3])
        if len(imprint) != 2 or imprint[0][0] != 0x30 or imprint[1][0] != 0x04:
            raise ValueError("malformed MessageImprint")
        alg = children(data, imprint[0][2], imprint[0][3])
        if not alg or alg[0][0] != 0x06 or len(alg) > 2 or (len(alg) == 2 and alg[1][0] != 0x05):
            raise ValueError("malformed hash AlgorithmIdentifier")
        oid = bytes(data[alg[0][2] : alg[0][3]])
        digest = bytes(data[imprint[1][2] : imprint[1][3]])
        policy = nonce_der = None
        nonce: int | None = None
        cert_req = False
        extensions = False
        expected = [0x06, 0x02, 0x01, 0xA0]
        for tag, tlv_start, c_start, c_end in fields[2:]:
            if tag not in expected:
                raise ValueError(f"unexpected field (tag {tag:#x}) in TimeStampReq")
            expected = expected[expected.index(tag) + 1 :]
            if tag == 0x06:
                policy = bytes(data[tlv_start:c_end])
            elif tag == 0x02:
                if c_end == c_start:
                    raise ValueError("empty nonce")
                if c_end - c_start > max_nonce_bytes:
                    raise BadRequest("bad_request", f"nonce longer than {max_nonce_bytes} bytes")
                nonce_der = bytes(data[tlv_start:c_end])
                nonce = int.from_bytes(data[c_start:c_end], "big", signed=True)
            elif tag == 0x01:
                if c_end - c_start != 1:
                    raise ValueError("malformed certReq")
                cert_req = data[c_start] != 0
            else:
                extensions = True
    except BadRequest:
        raise
    except ValueError as exc:
        raise BadRequest("bad_data_format", f"not a DER TimeStampReq: {exc}") from None
    if version != b"\x01":
        raise BadRequest("bad_request", "unsupported TimeStampReq version (only v1)")
    if oid not in IMPRINT_HASHES:
        name = _KNOWN_WEAK.get(oid, oid_text(oid))
        raise BadRequest("bad_alg", f"message imprint algorithm {name} not accepted; use SHA-256/384/512")
    name, size = IMPRINT_HASHES[oid]
    if len(digest) != size:
        raise BadRequest("bad_data_format", f"message imprint is not a {name} digest ({len(digest)} bytes)")
    if extensions:
        raise BadRequest("unaccepted_extensions", "request extensions are not supported")
    imprint_der = bytes(data[fields[1][1] : fields[1][3]])
    return TimeStampRequest(imprint_der, name, digest, policy, nonce_der, nonce, cert_req)


def gen_time(when: dt.datetime) -> bytes:
    """GeneralizedTime with milliseconds, trailing zeros (and a bare dot) removed, as DER requires."""
    when = when.astimezone(dt.UTC)
    text = when.strftime("%Y%m%d%H%M%S")
    millis = when.microsecond // 1000
    if millis:
        text += "." + f"{millis:03d}".rstrip("0")
    return tlv(0x18, (text + "Z").encode("ascii"))


def accuracy(micros: int) -> bytes:
    """An Accuracy SEQUENCE for a total of ``micros`` microseconds (empty when zero)."""
    parts = []
    if micros // 1_000_000:
        parts.append(integer(micros // 1_000_000))
    if (micros // 1000) % 1000:
        parts.append(b"\x80" + integer((micros // 1000) % 1000)[1:])
    if micros % 1000:
        parts.append(b"\x81" + integer(micros % 1000)[1:])
    return seq(*parts) if parts else b""


def tst_info(
    *,
    policy_oid_der: bytes,
    request: TimeStampRequest,
    serial: int,
    when: dt.datetime,
    accuracy_der: bytes,
    tsa_name_der: bytes,
) -> bytes:
    """The DER TSTInfo."""
    parts = [b"\x02\x01\x01", policy_oid_der, request.imprint_der, integer(serial), gen_time(when)]
    if accuracy_der:
        parts.append(accuracy_der)
    if request.nonce_der is not None:
        parts.append(request.nonce_der)
    if tsa_name_der:
        parts.append(tlv(0xA0, tsa_name_der))
    return seq(*parts)


def signed_attributes(digest: bytes, ess_attribute_der: bytes) -> bytes:
    """The signed attributes as a DER SET OF (sorted), ready to be signed."""
    attrs = [
        seq(_OID_CONTENT_TYPE, tlv(0x31, _OID_TST_INFO)),
        seq(_OID_MESSAGE_DIGEST, tlv(0x31, tlv(0x04, digest))),
        ess_attribute_der,
    ]
    return tlv(0x31, b"".join(sorted(attrs)))


def time_stamp_token(
    *,
    tst_info_der: bytes,
    signed_attrs_set: bytes,
    signature: bytes,
    digest_algorithm_der: bytes,
    signature_algorithm_der: bytes,
    sid_der: bytes,
    certificates_der: bytes,
) -> bytes:
    """The DER ContentInfo (SignedData) that is the TimeStampToken."""
    signed_attrs = b"\xa0" + signed_attrs_set[1:]  # [0] IMPLICIT instead of SET
    signer_info = seq(
        b"\x02\x01\x01",
        sid_der,
        digest_algorithm_der,
        signed_attrs,
        signature_algorithm_der,
        tlv(0x04, signature),
    )
    parts = [
        b"\x02\x01\x03",
        tlv(0x31, digest_algorithm_der),
        seq(_OID_TST_INFO, tlv(0xA0, tlv(0x04, tst_info_der))),
    ]
    if certificates_der:
        parts.append(tlv(0xA0, certificates_der))
    parts.append(tlv(0x31, signer_info))
    return seq(_OID_SIGNED_DATA, tlv(0xA0, seq(*parts)))


#: PKIFailureInfo bit numbers (RFC 3161 2.4.2)
FAILURE_BITS = {
    "bad_alg": 0,
    "bad_request": 2,
    "bad_data_format": 5,
    "time_not_available": 14,
    "unaccepted_policy": 15,
    "unaccepted_extensions": 16,
    "add_info_not_available": 17,
    "system_failure": 25,
}


def rejection(failure: str, text: str) -> bytes:
    """TimeStampResp with status rejection, a UTF-8 statusString and the PKIFailureInfo bit."""
    bit = FAILURE_BITS[failure]
    content = bytearray(bit // 8 + 1)
    content[bit // 8] = 0x80 >> (bit % 8)
    bit_string = tlv(0x03, bytes((7 - bit % 8,)) + bytes(content))
    free_text = seq(tlv(0x0C, text.encode("utf-8")))
    return seq(seq(b"\x02\x01\x02", free_text, bit_string))


def granted(token_der: bytes) -> bytes:
    """TimeStampResp with status granted."""
    return seq(seq(b"\x02\x01\x00"), token_der)


__all__ = [
    "BadRequest",
    "TimeStampRequest",
    "accuracy",
    "gen_time",
    "granted",
    "parse_request",
    "read_tlv",
    "signed_attributes",
    "time_stamp_token",
    "tst_info",
]
