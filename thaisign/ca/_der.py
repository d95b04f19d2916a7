"""Minimal DER encoding for the hot paths of the CA (certificates and CRL entries).

asn1crypto builds everything that is made once (the CA certificate, constant extensions); the
parts that change per certificate or per revoked entry are encoded here by concatenation, which
is an order of magnitude faster. Every output is checked in the tests by OpenSSL and by
cryptography's parser.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
IA5_STRING = 0x16


def length(n: int) -> bytes:
    """The DER length octets for a content of ``n`` bytes."""
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element: tag, length, content."""
    n = len(content)
    if n < 0x80:  # most elements of a certificate: one length octet
        return bytes((tag, n)) + content
    return bytes((tag,)) + length(n) + content


def sequence(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def integer(value: int) -> bytes:
    """A DER INTEGER (non-negative values only, as used for serials and versions)."""
    if value < 0:
        raise ValueError("negative INTEGER not supported")
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")  # always room for a 0 sign bit
    if len(body) > 1 and body[0] == 0 and body[1] < 0x80:
        body = body[1:]
    return tlv(0x02, body)


@lru_cache(maxsize=256)
def oid(dotted: str) -> bytes:
    """A DER OBJECT IDENTIFIER from its dotted form."""
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    first = arcs[0] * 40 + arcs[1]
    for arc in [first, *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


def time(value: dt.datetime) -> bytes:
    """RFC 5280 Time: UTCTime before 2050, GeneralizedTime from 2050 on (seconds, Zulu)."""
    v = value.astimezone(dt.UTC)
    if 1950 <= v.year < 2050:
        return tlv(0x17, v.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return tlv(0x18, v.strftime("%Y%m%d%H%M%SZ").encode("ascii"))


def generalized_time(value: dt.datetime) -> bytes:
    return tlv(0x18, value.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ").encode("ascii"))


def name(attributes: list[tuple[str, int, str]]) -> bytes:
    """An X.501 Name: one RDN per (oid, string tag, value), in the order given."""
    rdns = []
    for attr_oid, tag, value in attributes:
        atv = sequence(oid(attr_oid), tlv(tag, value.encode("utf-8")))
        rdns.append(tlv(0x31, atv))
    return sequence(*rdns)


def extension(ext_oid: str, critical: bool, value_der: bytes) -> bytes:
    """One Extension: extnID, critical (only when true), extnValue OCTET STRING."""
    crit = b"\x01\x01\xff" if critical else b""
    return sequence(oid(ext_oid), crit, tlv(0x04, value_der))


def bit_string(data: bytes) -> bytes:
    return tlv(0x03, b"\x00" + data)


def read_tlv(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """(tag, content start, content end) of the element at ``offset``."""
    tag = data[offset]
    first = data[offset + 1]
    if first < 0x80:
        return tag, offset + 2, offset + 2 + first
    n = first & 0x7F
    size = int.from_bytes(data[offset + 2 : offset + 2 + n], "big")
    start = offset + 2 + n
    return tag, start, start + size


def spki_key_bits(spki_der: bytes) -> bytes:
    """The subjectPublicKey bits (without the unused-bits octet) of a SubjectPublicKeyInfo."""
    _, start, _ = read_tlv(spki_der)
    _, _, alg_end = read_tlv(spki_der, start)
    tag, bs_start, bs_end = read_tlv(spki_der, alg_end)
    if tag != 0x03:
        raise ValueError("not a SubjectPublicKeyInfo")
    return spki_der[bs_start + 1 : bs_end]
