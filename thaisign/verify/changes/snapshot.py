"""One revision of a PDF as the things a clerk sees: pages, annotations, form fields.

A :class:`Snapshot` is read through a pyHanko historical resolver, so it shows the document as
it was at that revision. The walks over the page tree and the field tree are iterative, guard
against cycles and stop at fixed limits (hostile files nest and loop).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thaisign.verify.changes.compare import Ref, pdf_get, ref_of, resolve

#: limits on what one revision may hold before the walk stops (and the analysis says so)
MAX_PAGES = 20_000
MAX_FIELDS = 20_000
MAX_ANNOTS_PER_PAGE = 5_000
MAX_TREE_DEPTH = 64
_INHERITED = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")

AnnotKey = tuple[Any, ...]  # ("ref", idnum, gen) or ("direct", page, index)


class SnapshotTooLarge(Exception):
    """The revision has more pages, fields or annotations than the limits allow."""


@dataclass
class Page:
    index: int  # 0-based
    ref: Ref | None
    obj: Any  # the page dictionary
    inherited: dict[str, Any]  # inheritable attributes found on ancestors (raw values)


@dataclass
class Annotation:
    key: AnnotKey
    page: int  # 0-based
    raw: Any  # the entry in /Annots (reference or direct dictionary)
    obj: Any
    subtype: str
    field: str | None = None  # fully qualified name of the form field of a widget


@dataclass
class Field:
    name: str  # fully qualified
    raw: Any
    obj: Any
    field_type: str | None
    value: Any  # raw /V (inherited), None when absent
    flags: int
    nodes: set[Ref] = field(default_factory=set)
    widgets: list[AnnotKey] = field(default_factory=list)

    @property
    def is_signature(self) -> bool:
        return self.field_type == "/Sig"


@dataclass
class Snapshot:
    """Pages, annotations and fields of one revision."""

    resolver: Any
    revision: int
    trailer: Any
    root: Any
    root_ref: Ref | None
    pages: list[Page] = field(default_factory=list)
    page_of_ref: dict[Ref, int] = field(default_factory=dict)
    page_tree_refs: set[Ref] = field(default_factory=set)
    annotations: dict[AnnotKey, Annotation] = field(default_factory=dict)
    fields: dict[str, Field] = field(default_factory=dict)
    field_of_ref: dict[Ref, str] = field(default_factory=dict)
    #: containers walked here rather than compared: the form dictionary, field and annotation arrays
    structural_refs: set[Ref] = field(default_factory=set)

    @classmethod
    def read(cls, reader: Any, revision: int) -> Snapshot:
        from pyhanko.pdf_utils import generic

        from thaisign.verify.changes import _objstm

        _objstm.install(reader)
        resolver = reader.get_historical_resolver(revision)
        # the flattened trailer's references point at the newest revision: bind them to this one
        trailer = generic.DictionaryObject(
            {k: _bind(resolver.trailer_view.raw_get(k), resolver) for k in resolver.trailer_view}
        )
        if "/Root" not in trailer:  # a linearised file's main section: the catalog is the document's
            trailer[generic.NameObject("/Root")] = _bind(reader.trailer.raw_get("/Root"), resolver)
        raw_root = trailer.raw_get("/Root")
        snap = cls(resolver, revision, trailer, resolve(raw_root), ref_of(raw_root))
        snap._read_pages()
        snap._read_fields()
        snap._read_annotations()
        return snap

    # ------------------------------------------------------------------------------------

    def identity(self, ref: Ref) -> Any:
        """What a reference stands for when it is judged on its own (else None)."""
        if ref == self.root_ref:
            return ("catalog",)
        page = self.page_of_ref.get(ref)
        if page is not None:
            return ("page", page)
        if ref in self.page_tree_refs:
            return ("page-tree",)
        name = self.field_of_ref.get(ref)
        if name is not None:
            return ("field", name)
        if ("ref", *ref) in self.annotations:
            return ("annotation", "ref", *ref)
        return None

    def _read_pages(self) -> None:
        from pyhanko.pdf_utils import generic

        raw = self.root.raw_get("/Pages") if isinstance(self.root, generic.DictionaryObject) else None
        stack: list[tuple[Any, dict[str, Any], int]] = [(raw, {}, 0)] if raw is not None else []
        seen: set[Ref] = set()
        while stack:
            raw, inherited, depth = stack.pop()
            ref = ref_of(raw)
            if ref is not None:
                if ref in seen:
                    continue
                seen.add(ref)
            node = resolve(raw)
            if not isinstance(node, generic.DictionaryObject) or depth > MAX_TREE_DEPTH:
                continue
            kids = pdf_get(node, "/Kids") if "/Kids" in node else None
            if isinstance(kids, generic.ArrayObject) and pdf_get(node, "/Type") != "/Page":
                if ref is not None:
                    self.page_tree_refs.add(ref)
                here = dict(inherited)
                for key in _INHERITED:
                    if key in node:
                        here[key] = node.raw_get(key)
                # reversed: the stack pops the first kid first
                stack.extend((kids.raw_get(i), here, depth + 1) for i in reversed(range(len(kids))))
                continue
            if len(self.pages) >= MAX_PAGES:
                raise SnapshotTooLarge(f"more than {MAX_PAGES} pages")
            page = Page(len(self.pages), ref, node, inherited)
            if ref is not None:
                self.page_of_ref.setdefault(ref, page.index)
            self.pages.append(page)

    def _read_fields(self) -> None:
        from pyhanko.pdf_utils import generic

        if not isinstance(self.root, generic.DictionaryObject) or "/AcroForm" not in self.root:
            return
        self._structural(self.root.raw_get("/AcroForm"))
        form = pdf_get(self.root, "/AcroForm")
        if not isinstance(form, generic.DictionaryObject):
            return
        if "/Fields" in form:
            self._structural(form.raw_get("/Fields"))
        fields = pdf_get(form, "/Fields")
        if not isinstance(fields, generic.ArrayObject):
            return
        # (raw node, parent name, inherited FT, inherited V, inherited Ff, depth)
        stack: list[tuple[Any, str, Any, Any, Any, int]] = [
            (fields.raw_get(i), "", None, None, None, 0) for i in reversed(range(len(fields)))
        ]
        seen: set[Ref] = set()
        while stack:
            raw, parent, ft, value, ff, depth = stack.pop()
            ref = ref_of(raw)
            if ref is not None:
                if ref in seen:
                    continue
                seen.add(ref)
            node = resolve(raw)
            if not isinstance(node, generic.DictionaryObject) or depth > MAX_TREE_DEPTH:
                continue
            partial = str(node["/T"]) if "/T" in node else None
            name = partial if not parent else (f"{parent}.{partial}" if partial is not None else parent)
            if name is None:
                name = f"#{ref[0]}" if ref else f"#direct-{len(self.fields)}"
            ft = pdf_get(node, "/FT", ft)
            value = node.raw_get("/V") if "/V" in node else value
            ff = pdf_get(node, "/Ff", ff)
            kids = pdf_get(node, "/Kids") if "/Kids" in node else None
            if kids is not None:
                self._structural(node.raw_get("/Kids"))
            kid_list = (
                [kids.raw_get(i) for i in range(len(kids))] if isinstance(kids, generic.ArrayObject) else []
            )
            field_kids = [k for k in kid_list if _has_name(k)]
            if field_kids:
                if ref is not None:
                    self.field_of_ref[ref] = name
                stack.extend((k, name, ft, value, ff, depth + 1) for k in reversed(field_kids))
                continue
            if len(self.fields) >= MAX_FIELDS:
                raise SnapshotTooLarge(f"more than {MAX_FIELDS} form fields")
            if name in self.fields:  # the same name twice: keep both, the second one marked
                name = f"{name}#{ref[0] if ref else len(self.fields)}"
            try:
                flags = int(ff) if ff is not None else 0
            except (TypeError, ValueError):
                flags = 0
            entry = Field(name, raw, node, str(ft) if ft is not None else None, value, flags)
            if ref is not None:
                entry.nodes.add(ref)
                self.field_of_ref[ref] = name
            for kid in kid_list:
                kref = ref_of(kid)
                if kref is not None:
                    entry.nodes.add(kref)
                    self.field_of_ref.setdefault(kref, name)
            self.fields[name] = entry

    def _read_annotations(self) -> None:
        from pyhanko.pdf_utils import generic

        for page in self.pages:
            annots = pdf_get(page.obj, "/Annots") if "/Annots" in page.obj else None
            if annots is not None:
                self._structural(page.obj.raw_get("/Annots"))
            if not isinstance(annots, generic.ArrayObject):
                continue
            if len(annots) > MAX_ANNOTS_PER_PAGE:
                raise SnapshotTooLarge(f"more than {MAX_ANNOTS_PER_PAGE} annotations on one page")
            for i in range(len(annots)):
                raw = annots.raw_get(i)
                ref = ref_of(raw)
                key: AnnotKey = ("ref", *ref) if ref is not None else ("direct", page.index, i)
                if key in self.annotations:
                    continue
                obj = resolve(raw)
                if not isinstance(obj, generic.DictionaryObject):
                    continue
                subtype = str(pdf_get(obj, "/Subtype", "/Unknown"))
                name = self.field_of_ref.get(ref) if ref is not None else None
                if name is None and subtype == "/Widget":
                    name = self._field_of_widget(obj)
                annot = Annotation(key, page.index, raw, obj, subtype, name)
                self.annotations[key] = annot
                if name is not None and name in self.fields:
                    self.fields[name].widgets.append(key)

    def _structural(self, raw: Any) -> None:
        ref = ref_of(raw)
        if ref is not None:
            self.structural_refs.add(ref)

    def _field_of_widget(self, obj: Any) -> str | None:
        parent = ref_of(obj.raw_get("/Parent")) if "/Parent" in obj else None
        return self.field_of_ref.get(parent) if parent is not None else None


def _bind(raw: Any, resolver: Any) -> Any:
    from pyhanko.pdf_utils import generic

    if isinstance(raw, generic.IndirectObject):
        return generic.IndirectObject(raw.idnum, raw.generation, resolver)
    return raw


def _has_name(raw: Any) -> bool:
    from pyhanko.pdf_utils import generic

    try:
        node = resolve(raw)
    except Exception:
        return False
    return isinstance(node, generic.DictionaryObject) and "/T" in node
