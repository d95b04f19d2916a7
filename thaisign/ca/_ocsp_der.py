"""Just enough strict DER to read OCSP requests and write OCSP responses quickly.

asn1crypto builds a response in ~2 ms; an OCSP responder answering thousands of requests per
second needs the structure written directly (~20 µs). Everything here is checked against
openssl, cryptography and asn1crypto by the tests. Only definite-length, low-tag-number DER is
accepted; anything else is a :class:`ValueError` (the responder answers ``malformedRequest``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

_SEQUENCE = 0x30
_INTEGER = 0x02
_OCTET_STRING = 0x04
_OID = 0x06
_BOOLEAN = 0x01
_NULL = 0x05

#: DER of the OID 1.3.6.1.5.5.7.48.1.2 (id-pkix-ocsp-nonce), content bytes only
NONCE_OID = bytes.fromhex("2b0601050507300102")
#: id-pkix-ocsp-basic
_BASIC_OID = bytes.fromhex("06092b0601050507300101")

#: CertID hash algorithm OID content -> hashlib name
HASH_OIDS = {
    bytes.fromhex("2b0e03021a"): "sha1",
    bytes.fromhex("608648016503040201"): "sha256",
    bytes.fromhex("608648016503040202"): "sha384",
    bytes.fromhex("608648016503040203"): "sha512",
}

REASON_CODES = {
    "unspecified": 0,
    "key_compromise": 1,
    "ca_compromise": 2,
    "affiliation_changed": 3,
    "superseded": 4,
    "cessation_of_operation": 5,
    "certificate_hold": 6,
    "remove_from_crl": 8,
    "privilege_withdrawn": 9,
    "aa_compromise": 10,
}


# --- reading ------------------------------------------------------------------------------------


def read_tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at ``pos``; ValueError when malformed."""
    if pos + 2 > end:
        raise ValueError("truncated DER")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("high tag numbers are not used in OCSP requests")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4:
            raise ValueError("indefinite or oversized DER length")
        if pos + n > end:
            raise ValueError("truncated DER length")
        length = int.from_bytes(data[pos : pos + n], "big")
        if length < 0x80 or data[pos] == 0:
            raise ValueError("non-minimal DER length")
        pos += n
    if pos + length > end:
        raise ValueError("DER length beyond the data")
    return tag, pos, pos + length


def expect(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    t, start, stop = read_tlv(data, pos, end)
    if t != tag:
        raise ValueError(f"expected tag {tag:#x}, found {t:#x}")
    return start, stop


def children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, tlv start, content start, content end) of each element inside a constructed value."""
    out = []
    pos = start
    while pos < end:
        tag, cstart, cend = read_tlv(data, pos, end)
        out.append((tag, pos, cstart, cend))
        pos = cend
    return out


@dataclass(frozen=True)
class RequestedCert:
    """One CertID of a request, with its DER kept to echo it back unchanged."""

    der: bytes
    hash_algorithm: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int


@dataclass(frozen=True)
class ParsedRequest:
    certs: tuple[RequestedCert, ...]
    nonce_value: bytes | None  # the nonce extension's extnValue contents, echoed verbatim


def _cert_id(data: bytes, tlv_start: int, start: int, end: int) -> RequestedCert:
    parts = children(data, start, end)
    if len(parts) != 4:
        raise ValueError("CertID must have four fields")
    (t0, _, a_start, a_end), (t1, _, n_start, n_end), (t2, _, k_start, k_end), (t3, _, s_start, s_end) = parts
    if (t0, t1, t2, t3) != (_SEQUENCE, _OCTET_STRING, _OCTET_STRING, _INTEGER):
        raise ValueError("malformed CertID")
    oid_start, oid_end = expect(data, a_start, a_end, _OID)
    algorithm = HASH_OIDS.get(data[oid_start:oid_end])
    if algorithm is None:
        raise ValueError("unsupported CertID hash algorithm")
    if s_end == s_start or s_end - s_start > 21:
        raise ValueError("serial number length out of range")
    serial = int.from_bytes(data[s_start:s_end], "big", signed=True)
    return RequestedCert(
        bytes(data[tlv_start:end]),
        algorithm,
        bytes(data[n_start:n_end]),
        bytes(data[k_start:k_end]),
        serial,
    )


def parse_request(data: bytes) -> ParsedRequest:
    """Read a DER OCSPRequest; ValueError when it is malformed or uses something unsupported."""
    start, end = expect(data, 0, len(data), _SEQUENCE)
    if end != len(data):
        raise ValueError("trailing data after the OCSP request")
    top = children(data, start, end)
    if not top or top[0][0] != _SEQUENCE or len(top) > 2 or (len(top) == 2 and top[1][0] != 0xA0):
        raise ValueError("malformed OCSPRequest")
    _, _, t_start, t_end = top[0]
    fields = children(data, t_start, t_end)
    i = 0
    if i < len(fields) and fields[i][0] == 0xA0:  # version [0] EXPLICIT INTEGER
        v_start, v_end = expect(data, fields[i][2], fields[i][3], _INTEGER)
        if data[v_start:v_end] != b"\x00":
            raise ValueError("unsupported OCSP request version")
        i += 1
    if i < len(fields) and fields[i][0] == 0xA1:  # requestorName
        i += 1
    if i >= len(fields) or fields[i][0] != _SEQUENCE:
        raise ValueError("missing requestList")
    certs = []
    for tag, _, r_start, r_end in children(data, fields[i][2], fields[i][3]):
        if tag != _SEQUENCE:
            raise ValueError("malformed Request")
        parts = children(data, r_start, r_end)
        if not parts or parts[0][0] != _SEQUENCE or len(parts) > 2:
            raise ValueError("malformed Request")
        _, c_tlv, c_start, c_end = parts[0]
        certs.append(_cert_id(data, c_tlv, c_start, c_end))
    if not certs:
        raise ValueError("empty requestList")
    if len(certs) > 64:
        raise ValueError("too many certificates in one request")
    i += 1
    nonce: bytes | None = None
    if i < len(fields):
        if fields[i][0] != 0xA2 or i + 1 != len(fields):
            raise ValueError("malformed TBSRequest")
        e_start, e_end = expect(data, fields[i][2], fields[i][3], _SEQUENCE)
        for tag, _, x_start, x_end in children(data, e_start, e_end):
            if tag != _SEQUENCE:
                raise ValueError("malformed Extension")
            ext = children(data, x_start, x_end)
            if len(ext) not in (2, 3) or ext[0][0] != _OID or ext[-1][0] != _OCTET_STRING:
                raise ValueError("malformed Extension")
            critical = len(ext) == 3 and data[ext[1][2] : ext[1][3]] not in (b"", b"\x00")
            if data[ext[0][2] : ext[0][3]] == NONCE_OID:
                nonce = bytes(data[ext[-1][2] : ext[-1][3]])
                if not 1 <= len(nonce) <= 130:
                    raise ValueError("nonce length out of range")
            elif critical:
                raise ValueError("unsupported critical request extension")
    return ParsedRequest(tuple(certs), nonce)


# --- writing ------------------------------------------------------------------------------------


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def seq(*parts: bytes) -> bytes:
    return tlv(_SEQUENCE, b"".join(parts))


def integer(value: int) -> bytes:
    """A DER INTEGER (two's complement, minimal)."""
    size = (value + (value < 0)).bit_length() // 8 + 1
    return tlv(_INTEGER, value.to_bytes(size, "big", signed=True))


def generalized_time(when: dt.datetime) -> bytes:
    return tlv(0x18, when.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ").encode("ascii"))


def single_response(
    cert_id_der: bytes,
    status: str,
    this_update: dt.datetime,
    next_update: dt.datetime,
    revoked_at: dt.datetime | None = None,
    reason: str | None = None,
) -> bytes:
    """One DER SingleResponse."""
    if status == "good":
        cert_status = b"\x80\x00"
    elif status == "revoked":
        assert revoked_at is not None
        info = generalized_time(revoked_at)
        if reason is not None:
            info += tlv(0xA0, bytes((0x0A, 0x01, REASON_CODES[reason])))
        cert_status = tlv(0xA1, info)
    else:
        cert_status = b"\x82\x00"
    return seq(
        cert_id_der, cert_status, generalized_time(this_update), tlv(0xA0, generalized_time(next_update))
    )


def response_data(
    responder_key_hash: bytes, produced_at: dt.datetime, singles: list[bytes], nonce_value: bytes | None
) -> bytes:
    """The DER ResponseData (responder ID by key hash; the nonce extension echoed when given)."""
    parts = [
        tlv(0xA2, tlv(_OCTET_STRING, responder_key_hash)),
        generalized_time(produced_at),
        seq(*singles),
    ]
    if nonce_value is not None:
        ext = seq(tlv(_OID, NONCE_OID), tlv(_OCTET_STRING, nonce_value))
        parts.append(tlv(0xA1, seq(ext)))
    return seq(*parts)


def successful_response(
    tbs: bytes, signature_algorithm_der: bytes, signature: bytes, certs_der: list[bytes]
) -> bytes:
    """The DER OCSPResponse (status successful) around a signed BasicOCSPResponse."""
    basic_parts = [tbs, signature_algorithm_der, tlv(0x03, b"\x00" + signature)]
    if certs_der:
        basic_parts.append(tlv(0xA0, seq(*certs_der)))
    basic = seq(*basic_parts)
    return seq(b"\x0a\x01\x00", tlv(0xA0, seq(_BASIC_OID, tlv(_OCTET_STRING, basic))))
