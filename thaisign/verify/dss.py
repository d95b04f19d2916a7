"""The file's validation data (/DSS with its /VRI entries), with the revision each item arrived in.

Long-term validation needs to know *when* a certificate, OCSP response or CRL became part of
the document: a document time-stamp proves the existence of everything in the revisions it
covers. The /DSS is cumulative, so each item is looked for in earlier revisions' /DSS too; the
first revision that holds the same bytes is the item's revision. The work is bounded (a file
with very many revisions or items gets the latest revision for the rest: less proof, never
more).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import Any

from thaisign.verify.revocation import EmbeddedRevinfo

logger = logging.getLogger(__name__)

#: at most this many (revision, item) reads to date the items
MAX_READS = 4000
_ARRAYS = (("/Certs", "cert"), ("/OCSPs", "ocsp"), ("/CRLs", "crl"))
_VRI_ARRAYS = (("/Cert", "cert"), ("/OCSP", "ocsp"), ("/CRL", "crl"))


def _stream_bytes(ref: Any) -> bytes | None:
    try:
        obj = ref.get_object()
        return bytes(obj.data)
    except Exception:  # an unreadable item is skipped, never fatal
        return None


def _items(root: Any) -> Iterator[tuple[str, str, Any]]:
    """(kind, location, reference) of every item of a catalog's /DSS (arrays and /VRI)."""
    try:
        dss = root.get("/DSS")
        if dss is None:
            return
        dss = dss.get_object()
    except Exception:
        return
    for key, kind in _ARRAYS:
        try:
            array = dss.get(key)
            for ref in array.get_object() if array is not None else ():
                yield kind, "/DSS", ref
        except Exception:
            continue
    try:
        vri = dss.get("/VRI")
        entries = vri.get_object().values() if vri is not None else ()
    except Exception:
        entries = ()
    for entry in entries:
        try:
            entry = entry.get_object()
        except Exception:
            continue
        for key, kind in _VRI_ARRAYS:
            try:
                array = entry.get(key)
                for ref in array.get_object() if array is not None else ():
                    yield kind, "/VRI", ref
            except Exception:
                continue


def read_dss(reader: Any) -> EmbeddedRevinfo:
    """All /DSS items of the latest revision, each dated by the first revision holding it."""
    from asn1crypto import x509 as asn1_x509

    out = EmbeddedRevinfo()
    total = reader.xrefs.total_revisions
    latest: dict[str, tuple[str, str, bytes]] = {}
    for kind, location, ref in _items(reader.root):
        data = _stream_bytes(ref)
        if data is None:
            out.problems.append(f"unreadable {kind} in the document security store")
            continue
        sha = hashlib.sha256(data).hexdigest()
        if sha not in latest or (latest[sha][1] == "/VRI" and location == "/DSS"):
            latest[sha] = (kind, location, data)
    if not latest:
        return out
    first_seen = {sha: total - 1 for sha in latest}
    reads = 0
    for revision in range(total - 1):
        if reads > MAX_READS:
            break
        try:
            root = reader.get_historical_root(revision)
        except Exception:
            continue
        for _kind, _location, ref in _items(root):
            reads += 1
            if reads > MAX_READS:
                break
            data = _stream_bytes(ref)
            if data is None:
                continue
            sha = hashlib.sha256(data).hexdigest()
            if sha in first_seen and revision < first_seen[sha]:
                first_seen[sha] = revision
    for sha, (kind, location, data) in latest.items():
        revision = first_seen[sha]
        if kind == "cert":
            try:
                cert = asn1_x509.Certificate.load(data)
                _ = cert.subject
            except (ValueError, TypeError):
                out.problems.append("unreadable certificate in the document security store")
                continue
            out.certs.append(cert)
            out.cert_revisions[hashlib.sha256(cert.dump()).hexdigest()] = revision
        else:
            out.add(kind, data, location, revision=revision)
    return out
