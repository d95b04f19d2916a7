"""Object-by-object comparison of one PDF revision with another, by value.

Two values are compared the way EU DSS compares them (``DefaultPdfObjectModificationsFinder``):
from the same starting point in both revisions, key by key and element by element, following
indirect references by *value* — so a writer that renumbers or re-compresses objects (a full
rewrite, object streams) changes nothing, while a changed byte anywhere below shows up with
its path. Unlike DSS, references to objects that are judged on their own (pages, annotations,
form fields) are compared by identity, not followed, so that each change is attributed to the
thing it belongs to; and streams count as equal when their decoded data are equal.

Work is bounded: a pair of objects is compared once (memoised), cycles end the walk, nesting
deeper than :data:`MAX_DEPTH` or more than :data:`MAX_PAIRS` pairs count as a difference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Ref = tuple[int, int]
Path = tuple[str | int, ...]

#: nesting depth beyond which two values are not compared further (and count as different)
MAX_DEPTH = 120
#: object pairs compared per document at most (bounded work on hostile files)
MAX_PAIRS = 400_000
#: stream payloads larger than this (decoded) are compared by their encoded bytes only
MAX_DECODED = 64 * 1024 * 1024
_STREAM_MANAGED = frozenset({"/Length", "/Filter", "/DecodeParms", "/DL"})


class ComparisonTooLarge(Exception):
    """The documents hold more objects than :data:`MAX_PAIRS`: not compared."""


@dataclass(frozen=True)
class Difference:
    """One difference between two values: where (keys below the compared value) and what."""

    path: Path
    action: str  # added | removed | changed
    old: Any = None
    new: Any = None

    def under(self, prefix: Path) -> Difference:
        return Difference(prefix + self.path, self.action, self.old, self.new)

    @property
    def keys(self) -> tuple[str, ...]:
        """The dictionary keys on the path (array positions left out), as DSS's key chain."""
        return tuple(p for p in self.path if isinstance(p, str))


def ref_of(value: Any) -> Ref | None:
    """``(idnum, generation)`` of an indirect reference, else None."""
    from pyhanko.pdf_utils import generic

    if isinstance(value, generic.IndirectObject):
        r = value.reference
        return (r.idnum, r.generation)
    return None


def resolve(value: Any) -> Any:
    from pyhanko.pdf_utils import generic

    if isinstance(value, generic.IndirectObject):
        return value.get_object()
    return value


Identity = Callable[[Ref, bool], Any]


class Comparator:
    """Compares values of an old and a new revision (both read through pyHanko resolvers).

    ``identity(ref, is_new)`` returns a hashable identity for references that are judged
    elsewhere (a page, an annotation, a form field), or None for ordinary objects.
    """

    def __init__(
        self,
        identity: Identity | None = None,
        *,
        unchanged: Callable[[Ref], bool] | None = None,
        old_resolver: Any = None,
    ) -> None:
        self._identity = identity or (lambda ref, new: None)
        #: an object not rewritten after the old revision is the same in both: only what it
        #: refers to needs comparing (``old_resolver`` resolves those references in the old one)
        self._unchanged = unchanged if old_resolver is not None else None
        self._old_resolver = old_resolver
        self._memo: dict[tuple[Ref | None, Ref | None], tuple[Difference, ...]] = {}
        self._active: set[tuple[Ref | None, Ref | None]] = set()
        self.pairs = 0
        #: references of the new revision reached while comparing
        self.seen_new: set[Ref] = set()

    def compare(self, old: Any, new: Any) -> tuple[Difference, ...]:
        """All differences between ``old`` and ``new`` (either may be None: absent)."""
        return self._cmp(old, new, 0)

    # ---------------------------------------------------------------------------------------

    def _cmp(self, old: Any, new: Any, depth: int) -> tuple[Difference, ...]:
        ra, rb = ref_of(old), ref_of(new)
        if ra is None and rb is None:
            return self._values(old, new, depth)
        if rb is not None:
            self.seen_new.add(rb)
        ia = self._identity(ra, False) if ra is not None else None
        ib = self._identity(rb, True) if rb is not None else None
        if ia is not None or ib is not None:
            # something judged on its own: only whether it is the same one matters here
            return () if ia == ib else (Difference((), "changed", old, new),)
        key = (ra, rb)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        if key in self._active:
            return ()  # a cycle: the values meet again further up
        self._active.add(key)
        try:
            if ra is not None and ra == rb and self._unchanged is not None and self._unchanged(ra):
                result = self._same(resolve(new), depth)
            else:
                result = self._values(resolve(old), resolve(new), depth)
        finally:
            self._active.discard(key)
        self._memo[key] = result
        return result

    def _values(self, old: Any, new: Any, depth: int) -> tuple[Difference, ...]:
        from pyhanko.pdf_utils import generic

        self.pairs += 1
        if self.pairs > MAX_PAIRS:
            raise ComparisonTooLarge(f"more than {MAX_PAIRS} object pairs to compare")
        if old is None and new is None:
            return ()
        if old is None or new is None:
            if new is not None:
                self._touch(new, depth)
            return (Difference((), "added" if old is None else "removed", old, new),)
        if depth > MAX_DEPTH:
            return (Difference((), "changed", old, new),)
        if isinstance(old, generic.StreamObject) and isinstance(new, generic.StreamObject):
            return self._streams(old, new, depth)
        if isinstance(old, generic.StreamObject) or isinstance(new, generic.StreamObject):
            return (Difference((), "changed", old, new),)
        if isinstance(old, generic.DictionaryObject) and isinstance(new, generic.DictionaryObject):
            return self._dicts(old, new, depth, ())
        if isinstance(old, generic.ArrayObject) and isinstance(new, generic.ArrayObject):
            return self._arrays(old, new, depth)
        return () if same_scalar(old, new) else (Difference((), "changed", old, new),)

    def _dicts(
        self, old: Any, new: Any, depth: int, skip: frozenset[str] | tuple[()]
    ) -> tuple[Difference, ...]:
        out: list[Difference] = []
        for key in list(old.keys()) + [k for k in new if k not in old]:
            if key in skip:
                continue
            a = old.raw_get(key) if key in old else None
            b = new.raw_get(key) if key in new else None
            if a is None or b is None:
                if b is not None:
                    self._touch(b, depth)
                out.append(Difference((str(key),), "added" if a is None else "removed", a, b))
                continue
            out.extend(d.under((str(key),)) for d in self._cmp(a, b, depth + 1))
        return tuple(out)

    def _arrays(self, old: Any, new: Any, depth: int) -> tuple[Difference, ...]:
        a = [old.raw_get(i) for i in range(len(old))]
        b = [new.raw_get(i) for i in range(len(new))]
        refs_a, refs_b = [ref_of(x) for x in a], [ref_of(x) for x in b]
        if len(a) != len(b) and all(refs_a) and all(refs_b):
            # arrays of references (/Annots, /Fields, /Kids): match by object, as DSS does
            out: list[Difference] = []
            index_b = {r: i for i, r in enumerate(refs_b)}
            for i, r in enumerate(refs_a):
                j = index_b.get(r)
                if j is None:
                    out.append(Difference((i,), "removed", a[i], None))
                else:
                    out.extend(d.under((i,)) for d in self._cmp(a[i], b[j], depth + 1))
            kept = set(refs_a)
            for j, r in enumerate(refs_b):
                if r not in kept:
                    self._touch(b[j], depth)
                    out.append(Difference((j,), "added", None, b[j]))
            return tuple(out)
        if len(a) != len(b):
            for x in b:
                self._touch(x, depth)
            return (Difference((), "changed", old, new),)
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out.extend(d.under((i,)) for d in self._cmp(x, y, depth + 1))
        return tuple(out)

    def _streams(self, old: Any, new: Any, depth: int) -> tuple[Difference, ...]:
        same_data = _same_stream_data(old, new)
        skip = _STREAM_MANAGED if same_data else frozenset({"/Length"})
        out = list(self._dicts(old, new, depth, skip))
        if not same_data:
            out.append(Difference(("#data",), "changed", old, new))
        return tuple(out)

    def _same(self, value: Any, depth: int) -> tuple[Difference, ...]:
        """Differences below a value that is identical in both revisions (only in what it refers to)."""
        from pyhanko.pdf_utils import generic

        self.pairs += 1
        if self.pairs > MAX_PAIRS:
            raise ComparisonTooLarge(f"more than {MAX_PAIRS} object pairs to compare")
        if depth > MAX_DEPTH:
            return ()
        children: list[tuple[str | int, Any]]
        if isinstance(value, generic.DictionaryObject):
            children = [(str(k), value.raw_get(k)) for k in value]
        elif isinstance(value, generic.ArrayObject):
            children = [(i, value.raw_get(i)) for i in range(len(value))]
        else:
            return ()
        out: list[Difference] = []
        for key, raw in children:
            r = ref_of(raw)
            if r is None:
                found = self._same(raw, depth + 1)
            else:
                found = self._cmp(generic.IndirectObject(r[0], r[1], self._old_resolver), raw, depth + 1)
            out.extend(d.under((key,)) for d in found)
        return tuple(out)

    def _touch(self, value: Any, depth: int) -> None:
        """Record the new-revision objects below an added value (for the unused-object check)."""
        from pyhanko.pdf_utils import generic

        stack = [(value, depth)]
        while stack:
            v, d = stack.pop()
            r = ref_of(v)
            if r is not None:
                if r in self.seen_new or self._identity(r, True) is not None:
                    continue
                self.seen_new.add(r)
                self.pairs += 1
                if self.pairs > MAX_PAIRS:
                    raise ComparisonTooLarge(f"more than {MAX_PAIRS} object pairs to compare")
                try:
                    v = v.get_object()
                except Exception:
                    continue
            if d > MAX_DEPTH:
                continue
            if isinstance(v, generic.DictionaryObject):
                stack.extend((v.raw_get(k), d + 1) for k in v)
            elif isinstance(v, generic.ArrayObject):
                stack.extend((v.raw_get(i), d + 1) for i in range(len(v)))


def _same_stream_data(old: Any, new: Any) -> bool:
    try:
        if old.encoded_data == new.encoded_data and pdf_get(old, "/Filter") == pdf_get(new, "/Filter"):
            return True
        if max(len(old.encoded_data), len(new.encoded_data)) > MAX_DECODED:
            return False
        return bool(old.data == new.data)
    except Exception:
        return False


def same_scalar(a: Any, b: Any) -> bool:
    """Equality of two direct PDF values (numbers compared as numbers, strings as bytes)."""
    from pyhanko.pdf_utils import generic

    if isinstance(a, generic.NumberObject | generic.FloatObject) and isinstance(
        b, generic.NumberObject | generic.FloatObject
    ):
        return float(a) == float(b)
    strings = (generic.TextStringObject, generic.ByteStringObject)
    if isinstance(a, strings) and isinstance(b, strings):
        if isinstance(a, generic.TextStringObject) and isinstance(b, generic.TextStringObject):
            return str(a) == str(b)
        return string_bytes(a) == string_bytes(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, generic.NullObject):
        return True
    return bool(a == b)


def string_bytes(value: Any) -> bytes:
    """The bytes of a PDF string as written in the file (as far as they can be recovered)."""
    try:
        return bytes(value.original_bytes)
    except Exception:
        return str(value).encode("utf-16-be")


def pdf_get(d: Any, key: str, default: Any = None) -> Any:
    """``d[key]`` resolved, or ``default`` (pyHanko's ``dict.get`` does not resolve references)."""
    from pyhanko.pdf_utils import generic

    if isinstance(d, generic.DictionaryObject) and key in d:
        try:
            return resolve(d.raw_get(key))
        except Exception:
            return default
    return default
