"""thaisign's policy for changes after a signature (documented in docs/verify.md).

The rules, in order:

1. Never permitted: pages added or removed, page content changed, a signature removed or its
   dictionary altered, scripts and actions, incremental-saving anomalies, objects added that
   nothing uses, a visual difference no named change explains, and anything unnamed.
2. DocMDP (the certifying signature's /P, or this signature's own /Lock /P) limits the rest:
   P=1 validation data, document time-stamps and bookkeeping only; P=2 also signatures and form
   filling; P=3 also annotations and form fields. Without DocMDP (approval signatures) all of
   these kinds are permitted — as in EU DSS and ISO 32000.
3. FieldMDP (this signature's /Reference or its field's /Lock): a locked field may not change.
4. The visual check: no permitted change may cover or uncover signed page content (shadow
   attacks), a form field may not be redrawn to show something its value does not say, and —
   unless a certifying signature permits it — a value or annotation that was visible when
   signed may not be replaced or removed.

A permitted change that alters what a page shows and is not permitted by a certifying signature
sets ``content_changed``: the letter is no longer exactly what was signed, and the clerk is told
what was added (exit code 1; see docs/verify.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thaisign.verify.changes.compare import pdf_get, resolve
from thaisign.verify.changes.model import ChangeKind

_BOOKKEEPING = frozenset(
    {
        ChangeKind.VALIDATION_DATA,
        ChangeKind.DOCUMENT_TIMESTAMP,
        ChangeKind.FORMAT,
        ChangeKind.METADATA,
        ChangeKind.UNUSED_OBJECTS,
    }
)
PERMITTED: dict[int | None, frozenset[ChangeKind]] = {
    1: _BOOKKEEPING,
    2: _BOOKKEEPING | {ChangeKind.SIGNATURE, ChangeKind.FORM_FILL, ChangeKind.STRUCTURE},
    3: _BOOKKEEPING
    | {
        ChangeKind.SIGNATURE,
        ChangeKind.FORM_FILL,
        ChangeKind.STRUCTURE,
        ChangeKind.ANNOTATION,
        ChangeKind.FORM_FIELD,
    },
    None: _BOOKKEEPING
    | {
        ChangeKind.SIGNATURE,
        ChangeKind.FORM_FILL,
        ChangeKind.STRUCTURE,
        ChangeKind.ANNOTATION,
        ChangeKind.FORM_FIELD,
        ChangeKind.OUTLINE,
    },
}
#: kinds whose visible effect is the letter's content (as opposed to a signature's appearance)
CONTENT_KINDS = frozenset({ChangeKind.FORM_FILL, ChangeKind.ANNOTATION, ChangeKind.FORM_FIELD})
#: signed content pixels a change may cover or uncover before it counts (anti-aliasing)
HIDDEN_PIXELS = 12


@dataclass(frozen=True)
class FieldLock:
    """A FieldMDP lock: ``All``, ``Include`` the listed fields, or ``Exclude`` them."""

    action: str
    fields: frozenset[str]

    def locks(self, name: str | None) -> bool:
        if name is None:
            return False
        if self.action == "/All":
            return True
        listed = name in self.fields or any(name.startswith(f + ".") for f in self.fields)
        return listed if self.action == "/Include" else not listed


@dataclass(frozen=True)
class Permissions:
    """What the signature's document allows after it: DocMDP level and field locks."""

    docmdp: int | None = None
    certified: bool = False
    locks: tuple[FieldLock, ...] = ()

    def locked(self, name: str | None) -> bool:
        return any(lock.locks(name) for lock in self.locks)


def read_permissions(root: Any, field: Any, sig: Any) -> Permissions:
    """DocMDP and FieldMDP in force for changes after this signature, read as it was signed.

    ``root`` is the catalog of the signed revision, ``field`` the signature's field dictionary
    and ``sig`` its signature dictionary (either may be None).
    """
    levels: list[int] = []
    locks: list[FieldLock] = []
    certified = False
    cert = pdf_get(pdf_get(root, "/Perms"), "/DocMDP")
    if cert is not None:
        level = _docmdp_of(cert)
        if level is not None:
            levels.append(level)
            certified = True
    if sig is not None:
        level = _docmdp_of(sig)
        if level is not None:
            levels.append(level)
        for ref in _references(sig):
            if pdf_get(ref, "/TransformMethod") == "/FieldMDP":
                lock = _lock(pdf_get(ref, "/TransformParams"))
                if lock is not None:
                    locks.append(lock)
    lock_dict = pdf_get(field, "/Lock")
    if lock_dict is not None:
        lock = _lock(lock_dict)
        if lock is not None:
            locks.append(lock)
        p = _level(pdf_get(lock_dict, "/P"))
        if p is not None:
            levels.append(p)
    return Permissions(min(levels) if levels else None, certified, tuple(locks))


def _references(sig: Any) -> list[Any]:
    from pyhanko.pdf_utils import generic

    refs = pdf_get(sig, "/Reference")
    if not isinstance(refs, generic.ArrayObject):
        return []
    out = []
    for i in range(len(refs)):
        try:
            out.append(resolve(refs.raw_get(i)))
        except Exception:
            continue
    return out


def _docmdp_of(sig: Any) -> int | None:
    for ref in _references(sig):
        if pdf_get(ref, "/TransformMethod") == "/DocMDP":
            params = pdf_get(ref, "/TransformParams")
            p = _level(pdf_get(params, "/P"))
            return 2 if p is None else p  # ISO 32000: /P defaults to 2
    return None


def _level(value: Any) -> int | None:
    try:
        p = int(value)
    except (TypeError, ValueError):
        return None
    return p if p in (1, 2, 3) else 2


def _lock(params: Any) -> FieldLock | None:
    from pyhanko.pdf_utils import generic

    action = pdf_get(params, "/Action")
    if action not in ("/All", "/Include", "/Exclude"):
        return None
    names = pdf_get(params, "/Fields")
    fields = (
        frozenset(str(resolve(v)) for v in names.iterate())
        if isinstance(names, generic.ArrayObject)
        else frozenset()
    )
    return FieldLock(str(action), fields)
