"""From object differences to named changes: what changed, on which page, in which field.

The old (signed) and the new (final) revision are read as :class:`.Snapshot` objects; their
pages are matched by position, annotations by object, form fields by fully qualified name, and
catalog entries by key. Each matched pair is compared with :class:`.Comparator` and every
difference is put in one :class:`.ChangeKind`, the way EU DSS sorts object modifications into
"secure changes", "form fill-in and signature creation", "annotation changes" and "undefined
changes" — but named per field and annotation, with the old and new value, so that a clerk can
be told what was changed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from thaisign.verify.changes.compare import Comparator, Difference, Ref, ref_of, resolve
from thaisign.verify.changes.model import ChangeKind
from thaisign.verify.changes.snapshot import Annotation, Field, Snapshot
from thaisign.verify.changes.values import (
    Rect,
    annotation_rect,
    annotation_text,
    boxes,
    effective_page,
    is_doc_timestamp,
    page_box,
    text_of,
)

#: catalog entries and the kind of change a difference below them is
_CATALOG: dict[str, ChangeKind] = {
    "/Version": ChangeKind.FORMAT,
    "/Extensions": ChangeKind.FORMAT,
    "/DSS": ChangeKind.VALIDATION_DATA,
    "/Metadata": ChangeKind.METADATA,
    "/Lang": ChangeKind.METADATA,
    "/ViewerPreferences": ChangeKind.METADATA,
    "/PageMode": ChangeKind.METADATA,
    "/PageLayout": ChangeKind.METADATA,
    "/PieceInfo": ChangeKind.METADATA,
    "/OutputIntents": ChangeKind.METADATA,
    "/Threads": ChangeKind.METADATA,
    "/StructTreeRoot": ChangeKind.STRUCTURE,
    "/MarkInfo": ChangeKind.STRUCTURE,
    "/PageLabels": ChangeKind.STRUCTURE,
    "/Outlines": ChangeKind.OUTLINE,
    "/Dests": ChangeKind.OUTLINE,
    "/OpenAction": ChangeKind.ACTIONS,
    "/AA": ChangeKind.ACTIONS,
}
_NAMES: dict[str, ChangeKind] = {"/Dests": ChangeKind.OUTLINE, "/JavaScript": ChangeKind.ACTIONS}
_ACROFORM: dict[str, ChangeKind] = {
    "/SigFlags": ChangeKind.FORMAT,
    "/DA": ChangeKind.FORM_FILL,
    "/DR": ChangeKind.FORM_FILL,
    "/NeedAppearances": ChangeKind.FORM_FILL,
    "/Q": ChangeKind.FORM_FILL,
    "/CO": ChangeKind.FORM_FIELD,
}
_PAGE: dict[str, ChangeKind] = {
    "/StructParents": ChangeKind.STRUCTURE,
    "/Tabs": ChangeKind.FORMAT,
    "/PieceInfo": ChangeKind.METADATA,
    "/LastModified": ChangeKind.METADATA,
    "/Metadata": ChangeKind.METADATA,
    "/Thumb": ChangeKind.METADATA,
    "/AA": ChangeKind.ACTIONS,
}
#: keys of a field dictionary (the rest of a merged field/widget dictionary is the widget's)
_FIELD_KEYS = frozenset(
    {
        "/FT",
        "/T",
        "/TU",
        "/TM",
        "/Ff",
        "/V",
        "/DV",
        "/Opt",
        "/TI",
        "/I",
        "/MaxLen",
        "/Q",
        "/DA",
        "/DS",
        "/RV",
        "/Lock",
        "/SV",
        "/Kids",
        "/Parent",
    }
)
#: field keys whose change is part of filling the field in
_FILL_KEYS = frozenset({"/V", "/I", "/DA", "/Q", "/DS", "/RV"})
#: widget keys whose change is a redrawn appearance
_APPEARANCE_KEYS = frozenset({"/AP", "/AS", "/MK"})


@dataclass
class Finding:
    """A change found by the object comparison, with what the visual check needs to judge it."""

    kind: ChangeKind
    action: str
    page: int | None = None  # 0-based
    field: str | None = None
    subtype: str | None = None
    old: str | None = None
    new: str | None = None
    where: str | None = None
    #: (page index, rectangle in PDF user space) that this change may redraw
    rects: list[tuple[int, Rect]] = dataclasses.field(default_factory=list)
    #: a field whose widget was redrawn although its value did not change
    appearance_only: bool = False
    #: the change replaces something that was shown when signed (a value, an annotation)
    replaces_shown: bool = False
    #: a signature field added empty: if it shows anything, that is content nobody signed
    unsigned: bool = False
    #: a field (not just a value) created after signing
    new_field: bool = False
    #: ``where`` in Thai, when it is prose rather than a PDF path
    where_th: str | None = None


class FindingCollector:
    """Compares two snapshots and collects :class:`Finding` objects."""

    def __init__(self, old: Snapshot, new: Snapshot, rewritten: set[Ref] | None = None) -> None:
        """``rewritten``: the objects written by revisions after the old one (None: unknown)."""
        self.old, self.new = old, new
        if rewritten is None:
            self.comparator = Comparator(self._identity)
        else:
            self.comparator = Comparator(
                self._identity, unchanged=lambda ref: ref not in rewritten, old_resolver=old.resolver
            )
        self.findings: list[Finding] = []

    def _identity(self, ref: Ref, is_new: bool) -> Any:
        return (self.new if is_new else self.old).identity(ref)

    def collect(self) -> list[Finding]:
        self._info()
        self._catalog()
        self._pages()
        form_changed = self._acroform()
        self._fields(form_changed)
        self._annotations()
        return self.findings

    def reached_new(self) -> set[Ref]:
        """Objects of the new revision that the comparison walked through (or judged on their own)."""
        new = self.new
        out = set(self.comparator.seen_new)
        out |= set(new.page_of_ref) | new.page_tree_refs | set(new.field_of_ref) | new.structural_refs
        out |= {(k[1], k[2]) for k in new.annotations if k[0] == "ref"}
        names = _raw(_as_dict(new.root), "/Names")
        for raw in (
            new.trailer.raw_get("/Root"),
            _raw(new.trailer, "/Info"),
            _raw(new.trailer, "/Encrypt"),
            names,
        ):
            r = ref_of(raw)
            if r is not None:
                out.add(r)
        return out

    # ------------------------------------------------------------------------------------

    def _add(self, kind: ChangeKind, action: str, **kw: Any) -> Finding:
        f = Finding(kind, action, **kw)
        self.findings.append(f)
        return f

    def _info(self) -> None:
        diffs = self.comparator.compare(_raw(self.old.trailer, "/Info"), _raw(self.new.trailer, "/Info"))
        if diffs:
            keys = sorted({d.keys[0] for d in diffs if d.keys})
            self._add(ChangeKind.METADATA, _action(diffs), where="/Info " + " ".join(keys[:8]))
        diffs = self.comparator.compare(
            _raw(self.old.trailer, "/Encrypt"), _raw(self.new.trailer, "/Encrypt")
        )
        if diffs:
            self._add(ChangeKind.OTHER, _action(diffs), where="trailer /Encrypt")

    def _catalog(self) -> None:
        old, new = _as_dict(self.old.root), _as_dict(self.new.root)
        for key in _keys(old, new):
            if key in ("/Pages", "/AcroForm", "/Type", "/Perms", "/Names"):
                continue
            diffs = self.comparator.compare(_raw(old, key), _raw(new, key))
            if diffs:
                self._add(_CATALOG.get(key, ChangeKind.OTHER), _action(diffs), where=_where(key, diffs))
        self._names(old, new)
        diffs = self.comparator.compare(_raw(old, "/Perms"), _raw(new, "/Perms"))
        if diffs:
            # a document is certified by its first signature; permissions added or changed later
            # are not a certification but an attempt to look like one
            self._add(ChangeKind.OTHER, _action(diffs), where=_where("/Perms", diffs))

    def _names(self, old: Any, new: Any) -> None:
        a, b = _as_dict(resolve(_raw(old, "/Names"))), _as_dict(resolve(_raw(new, "/Names")))
        for key in _keys(a, b):
            diffs = self.comparator.compare(_raw(a, key), _raw(b, key))
            if diffs:
                self._add(
                    _NAMES.get(key, ChangeKind.OTHER), _action(diffs), where=_where(f"/Names{key}", diffs)
                )

    def _pages(self) -> None:
        old, new = self.old.pages, self.new.pages
        if len(old) != len(new):
            self._add(
                ChangeKind.PAGES,
                "added" if len(new) > len(old) else "removed",
                page=min(len(old), len(new)),
                old=str(len(old)),
                new=str(len(new)),
            )
            for p in new[len(old) :]:
                self.comparator.compare(None, p.obj)
        for a, b in zip(old, new, strict=False):
            diffs = self.comparator.compare(effective_page(a), effective_page(b))
            by_kind: dict[ChangeKind, list[Difference]] = {}
            for d in diffs:
                key = d.keys[0] if d.keys else ""
                if key in ("/Annots", "/Parent"):
                    continue
                by_kind.setdefault(_PAGE.get(key, ChangeKind.PAGE_CONTENT), []).append(d)
            for kind, ds in by_kind.items():
                rects = [(b.index, page_box(b))] if kind is ChangeKind.PAGE_CONTENT else []
                self._add(kind, _action(ds), page=b.index, where=_where("", ds), rects=rects)

    def _acroform(self) -> bool:
        old = _as_dict(resolve(_raw(self.old.root, "/AcroForm")))
        new = _as_dict(resolve(_raw(self.new.root, "/AcroForm")))
        changed = False
        for key in _keys(old, new):
            if key == "/Fields":
                continue
            diffs = self.comparator.compare(_raw(old, key), _raw(new, key))
            if diffs:
                kind = _ACROFORM.get(key, ChangeKind.OTHER)
                changed = changed or kind is ChangeKind.FORM_FILL
                self._add(kind, _action(diffs), where=_where(f"/AcroForm{key}", diffs))
        return changed

    def _fields(self, form_changed: bool) -> None:
        old, new = self.old.fields, self.new.fields
        for name in list(old) + [n for n in new if n not in old]:
            a, b = old.get(name), new.get(name)
            if a is None and b is not None:
                self._field_added(b)
            elif b is None and a is not None:
                self._field_removed(a)
            elif a is not None and b is not None:
                self._field_changed(a, b)

    def _field_added(self, f: Field) -> None:
        self.comparator.compare(None, f.obj)
        page, rects = self._widget_boxes(self.new, f)
        if f.is_signature:
            sig = _as_dict(resolve(f.value))
            kind = ChangeKind.DOCUMENT_TIMESTAMP if is_doc_timestamp(sig) else ChangeKind.SIGNATURE
            self._add(kind, "added", page=page, field=f.name, rects=rects, unsigned=not sig, new_field=True)
        else:
            self._add(
                ChangeKind.FORM_FIELD, "added", page=page, field=f.name, new=text_of(f.value), rects=rects
            )

    def _field_removed(self, f: Field) -> None:
        page, rects = self._widget_boxes(self.old, f)
        if f.is_signature and _as_dict(resolve(f.value)):
            self._add(ChangeKind.SIGNATURE_REMOVED, "removed", page=page, field=f.name, rects=rects)
        else:
            self._add(
                ChangeKind.FORM_FIELD,
                "removed",
                page=page,
                field=f.name,
                old=text_of(f.value),
                rects=rects,
                replaces_shown=bool(text_of(f.value)),
            )

    def _field_changed(self, a: Field, b: Field) -> None:
        value = self.comparator.compare(a.value, b.value)
        rest = [
            d for d in _dict_diffs(self.comparator, a.obj, b.obj, keep=_FIELD_KEYS) if d.keys[:1] != ("/V",)
        ]
        page, rects = self._widget_boxes(self.new, b)
        if value:
            if b.is_signature or a.is_signature:
                sig_a, sig_b = _as_dict(resolve(a.value)), _as_dict(resolve(b.value))
                if not sig_a and sig_b:
                    kind = ChangeKind.DOCUMENT_TIMESTAMP if is_doc_timestamp(sig_b) else ChangeKind.SIGNATURE
                    self._add(kind, "added", page=page, field=b.name, rects=rects)
                else:
                    self._add(
                        ChangeKind.SIGNATURE_CHANGED,
                        "removed" if not sig_b else "changed",
                        page=page,
                        field=b.name,
                        where=_where("", value),
                        rects=rects,
                    )
            else:
                old_text, new_text = text_of(a.value), text_of(b.value)
                self._add(
                    ChangeKind.FORM_FILL,
                    "changed" if old_text else "added",
                    page=page,
                    field=b.name,
                    old=old_text,
                    new=new_text,
                    rects=rects,
                    replaces_shown=bool(old_text),
                )
        fill = [d for d in rest if d.keys[:1] and d.keys[0] in _FILL_KEYS]
        other = [d for d in rest if not (d.keys[:1] and d.keys[0] in _FILL_KEYS)]
        if fill and not value:
            self._add(
                ChangeKind.FORM_FILL,
                "changed",
                page=page,
                field=b.name,
                where=_where("", fill),
                rects=rects,
                appearance_only=True,
            )
        if other:
            kind = ChangeKind.ACTIONS if any(d.keys[0] == "/AA" for d in other) else ChangeKind.FORM_FIELD
            self._add(kind, "changed", page=page, field=b.name, where=_where("", other), rects=rects)

    def _widget_boxes(self, snap: Snapshot, f: Field) -> tuple[int | None, list[tuple[int, Rect]]]:
        rects = []
        for key in f.widgets:
            annot = snap.annotations.get(key)
            if annot is not None:
                box = annotation_rect(annot.obj)
                if box is not None:
                    rects.append((annot.page, box))
        page = rects[0][0] if rects else None
        return page, rects

    def _annotations(self) -> None:
        old, new = self.old.annotations, self.new.annotations
        for key in list(old) + [k for k in new if k not in old]:
            a, b = old.get(key), new.get(key)
            if (a is not None and a.subtype == "/Widget") or (b is not None and b.subtype == "/Widget"):
                self._widget(a, b)
                continue
            if a is None and b is not None:
                self.comparator.compare(None, b.obj)
                self._add(
                    ChangeKind.ANNOTATION,
                    "added",
                    page=b.page,
                    subtype=b.subtype[1:],
                    new=annotation_text(b.obj),
                    rects=boxes(b),
                )
            elif b is None and a is not None:
                self._add(
                    ChangeKind.ANNOTATION,
                    "removed",
                    page=a.page,
                    subtype=a.subtype[1:],
                    old=annotation_text(a.obj),
                    rects=boxes(a),
                    replaces_shown=True,
                )
            elif a is not None and b is not None:
                diffs = self.comparator.compare(a.obj, b.obj)
                if diffs or a.page != b.page:
                    self._add(
                        ChangeKind.ANNOTATION,
                        "changed",
                        page=b.page,
                        subtype=b.subtype[1:],
                        old=annotation_text(a.obj),
                        new=annotation_text(b.obj),
                        where=_where("", diffs),
                        rects=boxes(a) + boxes(b),
                        replaces_shown=True,
                    )

    def _widget(self, a: Annotation | None, b: Annotation | None) -> None:
        """A widget's own changes, judged with its field (filled, signed, or untouched)."""
        name = (b.field if b is not None else None) or (a.field if a is not None else None)
        field_kinds = {
            f.kind for f in self.findings if f.field is not None and name is not None and f.field == name
        }
        rects = (boxes(a) if a is not None else []) + (boxes(b) if b is not None else [])
        page = b.page if b is not None else (a.page if a is not None else None)
        if a is None or b is None:
            if b is not None:
                self.comparator.compare(None, b.obj)
            if field_kinds & {
                ChangeKind.SIGNATURE,
                ChangeKind.DOCUMENT_TIMESTAMP,
                ChangeKind.FORM_FIELD,
                ChangeKind.SIGNATURE_REMOVED,
            }:
                return  # the widget came or went with its field, already named
            self._add(
                ChangeKind.FORM_FIELD,
                "added" if a is None else "removed",
                page=page,
                field=name,
                where="widget",
                rects=rects,
                replaces_shown=a is not None,
            )
            return
        diffs = _dict_diffs(self.comparator, a.obj, b.obj, drop=_FIELD_KEYS)
        if not diffs and a.page == b.page:
            return
        if field_kinds & {ChangeKind.SIGNATURE, ChangeKind.DOCUMENT_TIMESTAMP}:
            for f in self.findings:
                if f.field == name and f.kind in (ChangeKind.SIGNATURE, ChangeKind.DOCUMENT_TIMESTAMP):
                    f.rects.extend(r for r in rects if r not in f.rects)
            return
        appearance = [d for d in diffs if d.keys[:1] and d.keys[0] in _APPEARANCE_KEYS]
        other = [d for d in diffs if not (d.keys[:1] and d.keys[0] in _APPEARANCE_KEYS)]
        filled = ChangeKind.FORM_FILL in field_kinds
        if appearance:
            if filled:
                for f in self.findings:
                    if f.field == name and f.kind is ChangeKind.FORM_FILL:
                        f.rects.extend(r for r in rects if r not in f.rects)
            else:
                self._add(
                    ChangeKind.FORM_FILL,
                    "changed",
                    page=page,
                    field=name,
                    where=_where("", appearance),
                    rects=rects,
                    appearance_only=True,
                )
        if other or a.page != b.page:
            kind = ChangeKind.ACTIONS if any(d.keys[:1] == ("/AA",) for d in other) else ChangeKind.FORM_FIELD
            self._add(
                kind,
                "changed",
                page=page,
                field=name,
                where=_where("", other) or "widget moved to another page",
                rects=rects,
                appearance_only=True,
            )


# ------------------------------------------------------------------------------------------


def _raw(d: Any, key: str) -> Any:
    from pyhanko.pdf_utils import generic

    if isinstance(d, generic.DictionaryObject) and key in d:
        return d.raw_get(key)
    return None


def _as_dict(value: Any) -> Any:
    from pyhanko.pdf_utils import generic

    return value if isinstance(value, generic.DictionaryObject) else generic.DictionaryObject()


def _keys(a: Any, b: Any) -> list[str]:
    return [str(k) for k in a] + [str(k) for k in b if k not in a]


def _action(diffs: list[Difference] | tuple[Difference, ...]) -> str:
    actions = {d.action for d in diffs}
    if actions == {"added"} and all(len(d.path) <= 1 for d in diffs):
        return "added"
    if actions == {"removed"} and all(len(d.path) <= 1 for d in diffs):
        return "removed"
    return "changed"


def _where(prefix: str, diffs: list[Difference] | tuple[Difference, ...]) -> str:
    paths = []
    for d in diffs[:4]:
        paths.append(prefix + "".join(p if isinstance(p, str) else f"[{p}]" for p in d.path))
    more = f" (+{len(diffs) - 4})" if len(diffs) > 4 else ""
    return ", ".join(dict.fromkeys(paths)) + more


def _dict_diffs(
    comparator: Comparator,
    a: Any,
    b: Any,
    *,
    keep: frozenset[str] | None = None,
    drop: frozenset[str] = frozenset(),
) -> list[Difference]:
    """Differences between two dictionaries, limited to ``keep`` (or all but ``drop``) keys."""
    out: list[Difference] = []
    for key in _keys(a, b):
        if (keep is not None and key not in keep) or key in drop or key in ("/Kids", "/Parent"):
            continue
        out.extend(d.under((key,)) for d in comparator.compare(_raw(a, key), _raw(b, key)))
    return out
