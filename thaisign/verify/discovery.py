"""Finding the signatures of a PDF the way EU DSS does, and reading them with pyHanko.

* Every filled signature field of the final revision — and of every earlier revision: a
  signature whose field a later update dropped from ``/AcroForm`` is still a signature of the
  letter (its removal is then reported as a change after signing, not as "not signed").
* One signature dictionary referenced from several fields is one signature.
* A dictionary with ``/SubFilter /ETSI.RFC3161`` is a document time-stamp whatever its
  ``/Type`` says (or lacks), as DSS treats it.
* pyHanko's reader of an embedded signature is kept, made tolerant of an indirect ``/Contents``
  string and of a signature dictionary written directly into its field (ISO 32000 allows both).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

#: revisions whose form is searched for dropped signature fields (bounded work on hostile files)
MAX_REVISIONS_SEARCHED = 500


@dataclass(frozen=True)
class FoundSignature:
    """A filled signature field: its name, value and field dictionary, and where it was found."""

    name: str
    value: Any  # the raw /V: a reference to the signature dictionary (or the dictionary itself)
    field: Any  # the field dictionary (of the revision it was found in)
    removed: bool = False  # the field is no longer in the final revision's form


def find_signatures(reader: Any, data: bytes | None = None) -> list[FoundSignature]:
    """Every signature of the document, the final form's first, then dropped ones (oldest first).

    With ``data`` (the file's bytes), earlier revisions are searched only when the file holds a
    signature dictionary that the final form does not reach.
    """
    from pyhanko.sign.fields import enumerate_sig_fields

    from thaisign.verify.changes import _objstm

    _objstm.install(reader)
    found: list[FoundSignature] = []
    seen: set[Any] = set()
    for name, value, field in enumerate_sig_fields(reader, filled_status=True):
        key = _identity(value)
        if key in seen:
            continue  # a second field pointing at the same signature (DSS counts it once)
        seen.add(key)
        found.append(FoundSignature(str(name), value, field))
    total = reader.xrefs.total_revisions
    if total < 2:
        return found
    known = {k[1:] for k in seen if k[0] == "ref"}
    if data is not None:
        # only revisions that wrote a signature dictionary the final form does not reach
        revisions = set()
        for ref in sorted(_signature_objects(data) - known):
            try:
                revisions.add(reader.xrefs.get_last_change(_reference(reader, ref)))
            except KeyError:
                continue
        candidates = sorted(r for r in revisions if r < total - 1)
    else:
        candidates = list(range(max(0, total - 1 - MAX_REVISIONS_SEARCHED), total - 1))
    for rev in candidates[-MAX_REVISIONS_SEARCHED:]:
        try:
            resolver = reader.get_historical_resolver(rev)
            fields = list(enumerate_sig_fields(resolver, filled_status=True))
        except Exception:
            logger.debug("signature fields of revision %d unreadable", rev, exc_info=True)
            continue
        for name, value, field in fields:
            key = _identity(value)
            if key in seen:
                continue
            seen.add(key)
            found.append(FoundSignature(str(name), value, field, removed=True))
    return found


_HEADER = re.compile(rb"(\d{1,10})\s+(\d{1,5})\s+obj\b")


def _signature_objects(data: bytes) -> set[tuple[int, int]]:
    """(idnum, generation) of every object in the file's bytes that holds a /ByteRange."""
    out: set[tuple[int, int]] = set()
    start = 0
    while True:
        pos = data.find(b"/ByteRange", start)
        if pos < 0:
            return out
        start = pos + 10
        obj = data.rfind(b" obj", 0, pos)
        line = data.rfind(b"\n", 0, obj)
        m = _HEADER.search(data, max(0, min(line, obj - 24)), obj + 4)
        if m is not None:
            out.add((int(m.group(1)), int(m.group(2))))


def _reference(reader: Any, ref: tuple[int, int]) -> Any:
    from pyhanko.pdf_utils import generic

    return generic.Reference(ref[0], ref[1], reader)


def _identity(value: Any) -> Any:
    from pyhanko.pdf_utils import generic

    if isinstance(value, generic.IndirectObject):
        return ("ref", value.idnum, value.generation)
    return ("direct", id(value))


def embedded_signature(reader: Any, found: FoundSignature) -> Any:
    """pyHanko's :class:`EmbeddedPdfSignature` for ``found`` (raises for an unreadable one)."""
    return _embedded_class()(reader, found.field, found.name)


_CLASS: Any = None


def _embedded_class() -> Any:
    """The tolerant subclass, made on first use (pyHanko is imported lazily)."""
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    from pyhanko.pdf_utils import generic
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    class _Pinned:
        """Stands for /V: resolves to the given dictionary, names the given reference."""

        def __init__(self, obj: Any, reference: Any) -> None:
            self._obj, self.reference = obj, reference

        def get_object(self) -> Any:
            return self._obj

    class EmbeddedSignature(EmbeddedPdfSignature):
        """pyHanko's reader, also for an indirect /Contents and a direct signature dictionary."""

        contents_ref: tuple[int, int] | None = None

        def __init__(self, reader: Any, sig_field: Any, fq_name: str) -> None:
            if isinstance(sig_field, generic.IndirectObject):
                field_ref = sig_field.reference
                sig_field = sig_field.get_object()
            else:
                field_ref = _container_ref(sig_field)
            raw = sig_field.raw_get("/V")
            sig = raw.get_object()
            contents: Any = sig.raw_get("/Contents") if "/Contents" in sig else None
            direct = not isinstance(raw, generic.IndirectObject)
            indirect_contents = isinstance(contents, generic.IndirectObject)
            if direct or indirect_contents:
                view = generic.DictionaryObject(dict(sig))
                if indirect_contents:
                    value = contents.get_object()
                    if not isinstance(value, generic.ByteStringObject | generic.TextStringObject):
                        raise ValueError("the indirect /Contents is not a string")
                    view[generic.NameObject("/Contents")] = generic.ByteStringObject(value.original_bytes)
                # the revision of a direct dictionary is that of the field holding it
                reference = raw.reference if not direct else field_ref
                if reference is None:
                    raise ValueError("the signature dictionary is in a field that is not an object")
                field_view = generic.DictionaryObject(dict(sig_field))
                dict.__setitem__(field_view, generic.NameObject("/V"), _Pinned(view, reference))
                super().__init__(reader, field_view, fq_name)
                self.sig_field = sig_field
                if indirect_contents:
                    self.contents_ref = (contents.idnum, contents.generation)
                return
            super().__init__(reader, sig_field, fq_name)

        @property
        def sig_object_type(self) -> Any:
            """``/DocTimeStamp`` also for an RFC 3161 token in a /Sig or untyped dictionary (DSS)."""
            if self.sig_object.get("/SubFilter") == "/ETSI.RFC3161":
                return generic.NameObject("/DocTimeStamp")
            return super().sig_object_type

    _CLASS = EmbeddedSignature
    return _CLASS


def _container_ref(obj: Any) -> Any:
    try:
        ref = obj.container_ref
    except AttributeError:
        return None
    return ref if hasattr(ref, "idnum") else None
