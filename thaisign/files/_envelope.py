"""Enveloping CMS of any size, written and read as a stream.

An enveloping signature (``.p7m``) carries the signed file inside ``encapContentInfo.eContent``.
asn1crypto builds and parses whole structures in memory, which a 2 GB file cannot afford, so
the enveloping form is assembled here around the detached one: the signature is made over
the file's digest (the signed attributes do not depend on where the content lies), then the
output is written as headers + the file's bytes (copied in chunks, hashed again on the way to
prove the file did not change meanwhile) + the rest of the SignedData, all DER with definite
lengths. Reading does the reverse: the content's offset and length are found by walking the
outer headers, and a detached SignedData is spliced from the bytes around it.

Hand-written DER on a measured hot path: tests compare every byte with asn1crypto's encoding.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from asn1crypto import cms, core

from thaisign.errors import InputError
from thaisign.files._digest import CHUNK, new_hash

_SIGNED_DATA_OID = cms.ContentType("signed_data").dump()
_DATA_OID = cms.ContentType("data").dump()


def header(tag: int, length: int) -> bytes:
    """A DER tag and definite length."""
    if length < 0x80:
        return bytes([tag, length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw


def _parts(detached: cms.ContentInfo) -> tuple[bytes, bytes]:
    """The SignedData's encodings before and after encapContentInfo."""
    sd = detached["content"]
    before = sd["version"].dump() + sd["digest_algorithms"].dump()
    after = b""
    for name in ("certificates", "crls"):
        if not isinstance(sd[name], core.Void):
            after += sd[name].dump()
    after += sd["signer_infos"].dump()
    return before, after


def enveloping_prefix(detached: cms.ContentInfo, size: int) -> tuple[bytes, bytes]:
    """(everything before the content, everything after it) of the enveloping form of
    ``detached`` for content of ``size`` bytes."""
    before, after = _parts(detached)
    octets = header(0x04, size)
    explicit = header(0xA0, len(octets) + size)
    eci_len = len(_DATA_OID) + len(explicit) + len(octets) + size
    eci = header(0x30, eci_len)
    sd_len = len(before) + len(eci) + eci_len + len(after)
    sd = header(0x30, sd_len)
    outer = header(0xA0, len(sd) + sd_len)
    ci_len = len(_SIGNED_DATA_OID) + len(outer) + len(sd) + sd_len
    prefix = (
        header(0x30, ci_len) + _SIGNED_DATA_OID + outer + sd + before + eci + _DATA_OID + explicit + octets
    )
    return prefix, after


def write_enveloping(
    out: IO[bytes], detached: cms.ContentInfo, source: Path, digest: bytes, hash_name: str
) -> None:
    """Write the enveloping form of ``detached`` with the file at ``source`` as its content.

    Raises :class:`InputError` when the file's bytes no longer have ``digest`` (it changed
    between hashing and copying).
    """
    size = os.stat(source).st_size
    prefix, suffix = enveloping_prefix(detached, size)
    h = new_hash(hash_name)
    out.write(prefix)
    copied = 0
    with source.open("rb", buffering=0) as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            copied += len(chunk)
            h.update(chunk)
            out.write(chunk)
    if copied != size or not hmac.compare_digest(h.digest(), digest):
        raise InputError(
            f"{source} changed while it was being signed", hint="sign it again when it is complete"
        )
    out.write(suffix)


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentSpan:
    """Where an enveloping signature's content lies in its file, and the detached rest."""

    offset: int
    length: int
    detached: bytes  # the ContentInfo DER without eContent


def _read_header(fh: IO[bytes], end: int) -> tuple[int, int, int]:
    """(tag, header length, content length) at the current position; ValueError on BER or junk."""
    start = fh.tell()
    head = fh.read(2)
    if len(head) < 2:
        raise ValueError("truncated")
    tag, first = head[0], head[1]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags are not expected here")
    if first < 0x80:
        length, hlen = first, 2
    else:
        n = first & 0x7F
        if n == 0 or n > 8:
            raise ValueError("indefinite or oversized length")
        raw = fh.read(n)
        if len(raw) < n:
            raise ValueError("truncated")
        length, hlen = int.from_bytes(raw, "big"), 2 + n
    if start + hlen + length > end:
        raise ValueError("length beyond the end of the file")
    return tag, hlen, length


def locate_content(fh: IO[bytes], size: int) -> ContentSpan | None:
    """The content span of a DER enveloping ``ContentInfo`` read from ``fh``; None when the file
    is not one (BER, detached, or something else: parse it in memory instead)."""
    try:
        fh.seek(0)
        tag, hlen, length = _read_header(fh, size)  # ContentInfo
        if tag != 0x30 or hlen + length != size:
            return None
        if fh.read(len(_SIGNED_DATA_OID)) != _SIGNED_DATA_OID:
            return None
        tag, _, _ = _read_header(fh, size)  # [0] EXPLICIT
        if tag != 0xA0:
            return None
        tag, _, sd_len = _read_header(fh, size)  # SignedData
        if tag != 0x30:
            return None
        sd_end = fh.tell() + sd_len
        before_start = fh.tell()
        for expected in (0x02, 0x31):  # version, digestAlgorithms
            tag, h, n = _read_header(fh, size)
            if tag != expected:
                return None
            fh.seek(n, os.SEEK_CUR)
        before = _slice(fh, before_start, fh.tell())
        eci_start = fh.tell()
        tag, h, eci_len = _read_header(fh, size)
        if tag != 0x30:
            return None
        eci_end = eci_start + h + eci_len
        tag, h, n = _read_header(fh, size)  # eContentType
        if tag != 0x06:
            return None
        oid = _slice(fh, fh.tell() - h, fh.tell() + n)
        fh.seek(n, os.SEEK_CUR)
        if fh.tell() == eci_end:
            return None  # detached
        tag, _, _ = _read_header(fh, size)  # [0] EXPLICIT
        if tag != 0xA0:
            return None
        tag, _, content_len = _read_header(fh, size)
        if tag != 0x04:
            return None  # constructed (BER) octets: not streamed
        offset = fh.tell()
        if offset + content_len != eci_end:
            return None
        after = _slice(fh, eci_end, sd_end)
    except (ValueError, OSError):
        return None
    eci = header(0x30, len(oid)) + oid
    sd_body = before + eci + after
    sd = header(0x30, len(sd_body)) + sd_body
    outer = header(0xA0, len(sd)) + sd
    body = _SIGNED_DATA_OID + outer
    return ContentSpan(offset, content_len, header(0x30, len(body)) + body)


def _slice(fh: IO[bytes], start: int, end: int) -> bytes:
    here = fh.tell()
    fh.seek(start)
    data = fh.read(end - start)
    fh.seek(here)
    if len(data) != end - start:
        raise ValueError("truncated")
    return data
