"""The ASiCManifest (ETSI EN 319 162-1, Annex A): the signed list of an ASiC-E container's files.

>>> xml = build_manifest("META-INF/signature001.p7s", [DataRef("order.pdf", "application/pdf", digest)])
>>> parse_manifest(xml).references[0].name
'order.pdf'

A manifest names the signature (or time-stamp) that signs it (``SigReference``) and lists each
data object with its digest (``DataObjectReference`` / ``ds:DigestMethod`` / ``ds:DigestValue``).
URIs are percent-encoded relative paths. Parsing refuses DTDs and entities (no entity
expansion, no external fetches) and bounds the size and the number of references.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import urllib.parse
from dataclasses import dataclass
from xml.etree import ElementTree as ET
from xml.parsers import expat

ASIC_NS = "http://uri.etsi.org/02918/v1.2.1#"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
MAX_MANIFEST = 8 * 1024 * 1024
MAX_REFERENCES = 50_000

#: XML digest method URIs <-> hashlib / CMS names
DIGEST_URIS: dict[str, str] = {
    "http://www.w3.org/2000/09/xmldsig#sha1": "sha1",
    "http://www.w3.org/2001/04/xmldsig-more#sha224": "sha224",
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
    "http://www.w3.org/2007/05/xmldsig-more#sha3-224": "sha3_224",
    "http://www.w3.org/2007/05/xmldsig-more#sha3-256": "sha3_256",
    "http://www.w3.org/2007/05/xmldsig-more#sha3-384": "sha3_384",
    "http://www.w3.org/2007/05/xmldsig-more#sha3-512": "sha3_512",
}
URI_OF = {v: k for k, v in DIGEST_URIS.items()}


class ManifestError(ValueError):
    """A manifest that cannot be read (the message says why)."""


@dataclass(frozen=True)
class DataRef:
    """One data object a manifest lists."""

    name: str  # the entry name (URI decoded)
    mime_type: str | None
    digest: bytes
    algorithm: str  # hashlib name; "" when the method is unknown
    uri: str = ""


@dataclass(frozen=True)
class Manifest:
    sig_uri: str  # the signature (or time-stamp) signing this manifest, URI decoded
    sig_mime: str | None
    references: tuple[DataRef, ...]


def mime_type_of(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


def encode_uri(name: str) -> str:
    """A container path as a manifest URI (percent-encoded, slashes kept)."""
    return urllib.parse.quote(name, safe="/")


def build_manifest(
    sig_uri: str, references: list[DataRef], sig_mime: str = "application/pkcs7-signature"
) -> bytes:
    """The manifest XML (UTF-8) naming ``sig_uri`` and listing ``references``."""
    ET.register_namespace("asic", ASIC_NS)
    ET.register_namespace("ds", DS_NS)
    root = ET.Element(f"{{{ASIC_NS}}}ASiCManifest")
    ET.SubElement(root, f"{{{ASIC_NS}}}SigReference", {"URI": encode_uri(sig_uri), "MimeType": sig_mime})
    for ref in references:
        attrs = {"URI": encode_uri(ref.name)}
        if ref.mime_type:
            attrs["MimeType"] = ref.mime_type
        node = ET.SubElement(root, f"{{{ASIC_NS}}}DataObjectReference", attrs)
        ET.SubElement(node, f"{{{DS_NS}}}DigestMethod", {"Algorithm": URI_OF[ref.algorithm]})
        ET.SubElement(node, f"{{{DS_NS}}}DigestValue").text = base64.b64encode(ref.digest).decode("ascii")
    body = ET.tostring(root, encoding="unicode", short_empty_elements=True)
    return ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>' + body).encode("utf-8")


def _refuse_dtd(*_: object) -> None:
    raise ManifestError("it declares a DTD or entities (refused: no entity expansion)")


def _parse_xml(data: bytes) -> ET.Element:
    """The document's root element; DTDs, entity declarations and external entities refused
    by a first expat pass (ElementTree's own parser does not expose those handlers)."""
    scan = expat.ParserCreate()
    scan.StartDoctypeDeclHandler = _refuse_dtd
    scan.EntityDeclHandler = _refuse_dtd
    scan.UnparsedEntityDeclHandler = _refuse_dtd
    scan.ExternalEntityRefHandler = _refuse_dtd  # type: ignore[assignment]
    try:
        scan.Parse(data, True)
        return ET.fromstring(data)
    except ManifestError:
        raise
    except (ET.ParseError, expat.ExpatError, ValueError) as exc:
        raise ManifestError(f"not well-formed XML ({exc})") from None


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def decode_uri(uri: str) -> str:
    return urllib.parse.unquote(uri, errors="strict")


def parse_manifest(data: bytes) -> Manifest:
    """The manifest's signature reference and data references; :class:`ManifestError` if unusable."""
    if len(data) > MAX_MANIFEST:
        raise ManifestError(f"it is larger than {MAX_MANIFEST} bytes")
    root = _parse_xml(data)
    ns, local = _local(root.tag)
    if local != "ASiCManifest" or ns != ASIC_NS:
        raise ManifestError(f"the root element is {local!r}, not an ASiCManifest")
    sig_uri = None
    sig_mime = None
    refs: list[DataRef] = []
    for child in root:
        cns, clocal = _local(child.tag)
        if cns != ASIC_NS:
            continue
        if clocal == "SigReference":
            if sig_uri is not None:
                raise ManifestError("it names more than one signature")
            sig_uri = _uri(child)
            sig_mime = child.get("MimeType")
        elif clocal == "DataObjectReference":
            if len(refs) >= MAX_REFERENCES:
                raise ManifestError(f"it lists more than {MAX_REFERENCES} files")
            refs.append(_reference(child))
    if sig_uri is None:
        raise ManifestError("it names no signature (SigReference)")
    names = [r.name for r in refs]
    if len(set(names)) != len(names):
        raise ManifestError("it lists a file twice")
    return Manifest(sig_uri, sig_mime, tuple(refs))


def _uri(node: ET.Element) -> str:
    uri = node.get("URI")
    if not uri:
        raise ManifestError("a reference has no URI")
    try:
        return decode_uri(uri)
    except UnicodeDecodeError:
        raise ManifestError(f"a reference's URI is not UTF-8: {uri!r}") from None


def _reference(node: ET.Element) -> DataRef:
    uri = node.get("URI") or ""
    name = _uri(node)
    method = value = None
    for child in node:
        cns, clocal = _local(child.tag)
        if cns != DS_NS:
            continue
        if clocal == "DigestMethod":
            method = child.get("Algorithm")
        elif clocal == "DigestValue":
            value = (child.text or "").strip()
    if method is None or value is None:
        raise ManifestError(f"the reference to {name!r} has no digest")
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ManifestError(f"the digest of {name!r} is not base64") from None
    return DataRef(name, node.get("MimeType"), digest, DIGEST_URIS.get(method, ""), uri)
