"""CAdES archive time-stamps v3 (ETSI EN 319 122-1, clause 5.5.2–5.5.3): the hash index and the
message imprint, for making one (B-LTA) and for checking one.

An ``archive-time-stamp-v3`` is an unsigned attribute of the SignerInfo holding an RFC 3161
token. The token's own SignerInfo carries an ``ats-hash-index-v3`` unsigned attribute listing
the hash of every certificate (``SignedData.certificates``), every revocation entry
(``SignedData.crls``) and every unsigned attribute value of the signature as they were when the
time-stamp was requested. The token's message imprint is the hash of, in order:

1. the DER of ``SignedData.encapContentInfo.eContentType``;
2. the hash of the signed content (the detached file, or the eContent octets);
3. the SignerInfo's ``version``, ``sid``, ``digestAlgorithm``, ``signedAttrs``,
   ``signatureAlgorithm`` and ``signature`` as they are encoded;
4. the DER of the ats-hash-index-v3 value.

Older indexes (``ats-hash-index`` of TS 101 733, ``ats-hash-index-v2`` of EN 319 122-1 V1.0.0)
hash each unsigned attribute whole; v3 hashes attribute type plus each value separately.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asn1crypto import algos, cms, core

from thaisign.files._digest import new_hash

ARCHIVE_TIMESTAMP_V3 = "0.4.0.1733.2.4"
ARCHIVE_TIMESTAMP_V2 = "1.2.840.113549.1.9.16.2.48"
HASH_INDEX_V3 = "0.4.0.19122.1.5"
HASH_INDEX_V2 = "0.4.0.19122.1.4"
HASH_INDEX_V1 = "0.4.0.1733.2.5"
_INDEX_OIDS = (HASH_INDEX_V3, HASH_INDEX_V2, HASH_INDEX_V1)


def digest_of(algorithm: str, *parts: bytes) -> bytes:
    """The ``algorithm`` digest of ``parts`` concatenated."""
    h = new_hash(algorithm)
    for p in parts:
        h.update(p)
    return bytes(h.digest())


def present(value: Any) -> list[Any]:
    """The elements of an optional SET OF, none when it is absent (never parsed to native values:
    attributes of unknown types cannot be)."""
    return [] if isinstance(value, core.Void) else list(value)


def attribute_octets(attr: cms.CMSAttribute, version: str) -> list[bytes]:
    """What the index hashes for one unsigned attribute (per value for v3, whole before)."""
    if version == HASH_INDEX_V3:
        type_der = attr["type"].dump()
        return [type_der + value.dump() for value in attr["values"]]
    return [attr.dump()]


def _certificate_entries(signed_data: cms.SignedData) -> list[bytes]:
    return [c.dump() for c in present(signed_data["certificates"])]


def _crl_entries(signed_data: cms.SignedData) -> list[bytes]:
    return [c.dump() for c in present(signed_data["crls"])]


def _unsigned_attrs(signer_info: cms.SignerInfo) -> list[cms.CMSAttribute]:
    return present(signer_info["unsigned_attrs"])


def build_hash_index(
    signed_data: cms.SignedData, signer_info: cms.SignerInfo, algorithm: str = "sha256"
) -> bytes:
    """The DER of an ATSHashIndexV3 over the signature as it is now (hashes made with ``algorithm``)."""
    parts = [
        algos.DigestAlgorithm({"algorithm": algorithm}).dump(),
        _octets([digest_of(algorithm, e) for e in _certificate_entries(signed_data)]).dump(),
        _octets([digest_of(algorithm, e) for e in _crl_entries(signed_data)]).dump(),
        _octets(
            [
                digest_of(algorithm, o)
                for a in _unsigned_attrs(signer_info)
                for o in attribute_octets(a, HASH_INDEX_V3)
            ]
        ).dump(),
    ]
    return bytes(core.Sequence(contents=b"".join(parts)).dump())


class _AnySequence(core.SequenceOf):
    _child_spec = core.Any


class _OctetStrings(core.SequenceOf):
    _child_spec = core.OctetString


def _octets(values: list[bytes]) -> _OctetStrings:
    return _OctetStrings([core.OctetString(v) for v in values])


def signed_fields(signer_info: cms.SignerInfo) -> bytes:
    """Item 3 of the imprint: version, sid, digestAlgorithm, signedAttrs, signatureAlgorithm,
    signature, as encoded in the SignerInfo."""
    return b"".join(
        signer_info[name].dump()
        for name in ("version", "sid", "digest_algorithm", "signed_attrs", "signature_algorithm", "signature")
    )


def imprint_v3(
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    content_digest: bytes,
    index_der: bytes,
    algorithm: str,
    fields: bytes | None = None,
) -> bytes:
    """The message imprint of an archive-time-stamp-v3 (``content_digest`` made with ``algorithm``)."""
    content_type = signed_data["encap_content_info"]["content_type"].dump()
    return digest_of(algorithm, content_type, content_digest, fields or signed_fields(signer_info), index_der)


def index_attribute(index_der: bytes) -> cms.CMSAttribute:
    """The ``ats-hash-index-v3`` attribute for a time-stamp token's unsigned attributes."""
    return cms.CMSAttribute({"type": HASH_INDEX_V3, "values": [core.Any.load(index_der)]})


def archive_attribute(token: cms.ContentInfo) -> cms.CMSAttribute:
    """The ``archive-time-stamp-v3`` unsigned attribute holding ``token``."""
    return cms.CMSAttribute({"type": ARCHIVE_TIMESTAMP_V3, "values": [core.Any.load(token.dump())]})


# --- checking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HashIndex:
    """A parsed ats-hash-index of some version, with its original encoding."""

    version: str
    algorithm: str
    certificates: tuple[bytes, ...]
    crls: tuple[bytes, ...]
    unsigned_attrs: tuple[bytes, ...]
    der: bytes


def read_hash_index(token_signer_info: cms.SignerInfo) -> HashIndex | None:
    """The ats-hash-index of an archive time-stamp token, or None (absent or unreadable)."""
    for attr in _unsigned_attrs(token_signer_info):
        oid = attr["type"].dotted
        if oid not in _INDEX_OIDS:
            continue
        try:
            der = attr["values"][0].dump()
            items = list(_AnySequence.load(der, strict=False))
        except (ValueError, TypeError, IndexError):
            return None
        algorithm = "sha256"
        if len(items) == 4:
            algo = algos.DigestAlgorithm.load(items[0].dump())
            algorithm = str(algo["algorithm"].native)
            items = items[1:]
        if len(items) != 3:
            return None
        try:
            lists = [tuple(bytes(o.native) for o in _OctetStrings.load(i.dump())) for i in items]
        except (ValueError, TypeError):
            return None
        return HashIndex(oid, algorithm, lists[0], lists[1], lists[2], der)
    return None


@dataclass(frozen=True)
class IndexCheck:
    """What an archive time-stamp's hash index covers of the signature, and what it lacks."""

    certificates: frozenset[bytes]  # DER of the SignedData.certificates entries it covers
    crls: frozenset[bytes]  # DER of the SignedData.crls entries it covers
    missing: int  # index entries that match nothing in the signature (the index is then invalid)


def check_hash_index(
    index: HashIndex, signed_data: cms.SignedData, signer_info: cms.SignerInfo
) -> IndexCheck:
    """Match ``index`` against the signature: which entries it covers, how many it lacks."""
    algorithm = index.algorithm
    missing = 0
    covered: list[frozenset[bytes]] = []
    for wanted, entries in (
        (index.certificates, _certificate_entries(signed_data)),
        (index.crls, _crl_entries(signed_data)),
    ):
        by_hash = {digest_of(algorithm, e): e for e in entries}
        found = {by_hash[w] for w in wanted if w in by_hash}
        missing += sum(1 for w in wanted if w not in by_hash)
        covered.append(frozenset(found))
    attr_hashes = {
        digest_of(algorithm, o)
        for a in _unsigned_attrs(signer_info)
        for o in attribute_octets(a, index.version)
    }
    missing += sum(1 for w in index.unsigned_attrs if w not in attr_hashes)
    return IndexCheck(covered[0], covered[1], missing)


def archive_tokens(signer_info: cms.SignerInfo) -> list[tuple[str, cms.SignedData]]:
    """The archive time-stamp tokens of a SignerInfo, in order: (attribute OID, token SignedData)."""
    out = []
    for attr in _unsigned_attrs(signer_info):
        oid = attr["type"].dotted
        if oid not in (ARCHIVE_TIMESTAMP_V3, ARCHIVE_TIMESTAMP_V2):
            continue
        for value in attr["values"]:
            try:
                info = cms.ContentInfo.load(value.dump())
                out.append((oid, info["content"]))
            except (ValueError, TypeError, KeyError):
                continue
    return out


Digester = Callable[[str], bytes]
