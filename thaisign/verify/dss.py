"""The file's validation data (/DSS with its /VRI entries), with the revision each item arrived in.

Long-term validation needs to know *when* a certificate, OCSP response or CRL became part of
the document: a document time-stamp proves the existence of everything in the revisions it
covers. The /DSS is cumulative, so each item is looked for in earlier revisions' /DSS too; the
first revision that holds the same bytes is the item's revision. Items an earlier revision had
and a later one dropped are kept. The work is bounded (past the bound, items keep the latest
revision they were seen in: less proof, never more).
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
    """Every item any revision's /DSS ever held, each dated by the first revision holding it.

    An item a later revision dropped from the /DSS is still part of the file, signed by whoever
    issued it: it stays evidence (a revocation cannot be hidden by deleting its CRL from the
    /DSS).
    """
    from asn1crypto import x509 as asn1_x509

    out = EmbeddedRevinfo()
    total = reader.xrefs.total_revisions
    found: dict[str, tuple[str, str, bytes, int]] = {}  # sha -> kind, location, bytes, revision
    reads = 0
    # the latest revision first (all of it), then the earlier ones, to date items and to find
    # those a later revision dropped; past the read bound, items keep their later revision
    for revision in (total - 1, *range(total - 1)):
        try:
            root = reader.root if revision == total - 1 else reader.get_historical_root(revision)
        except Exception:  # a revision that cannot be read proves nothing
            continue
        for kind, location, ref in _items(root):
            reads += 1
            if reads > MAX_READS:
                break
            data = _stream_bytes(ref)
            if data is None:
                out.problems.append(f"unreadable {kind} in the document security store")
                continue
            sha = hashlib.sha256(data).hexdigest()
            known = found.get(sha)
            earlier = known is None or revision < known[3]
            better_place = (
                known is not None and known[3] == revision and (known[1], location) == ("/VRI", "/DSS")
            )
            if earlier or better_place:
                found[sha] = (kind, location, data, revision)
        if reads > MAX_READS:
            out.problems.append("the document security store is very large; part of it was not dated")
            break
    for kind, location, data, revision in found.values():
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
