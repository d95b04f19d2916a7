"""Changes after one signature, judged: the object comparison, the file layout and the visual check.

>>> report = analyse_changes(data, reader, signed_revision=1, covered_end=br_end, field_name="Signature1")
>>> report.modifications, report.content_changed, [c.to_dict() for c in report.changes]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from thaisign.verify.changes import messages as msg
from thaisign.verify.changes.compare import pdf_get
from thaisign.verify.changes.findings import Finding, FindingCollector
from thaisign.verify.changes.model import NOT_VISIBLE, Change, ChangeKind
from thaisign.verify.changes.policy import (
    CONTENT_KINDS,
    HIDDEN_PIXELS,
    PERMITTED,
    Permissions,
    read_permissions,
)
from thaisign.verify.changes.snapshot import Snapshot

logger = logging.getLogger(__name__)

#: kinds that are not permitted whatever the signature allows
_NEVER = frozenset(
    {
        ChangeKind.PAGES,
        ChangeKind.PAGE_CONTENT,
        ChangeKind.SIGNATURE_REMOVED,
        ChangeKind.SIGNATURE_CHANGED,
        ChangeKind.ACTIONS,
        ChangeKind.FILE_STRUCTURE,
        ChangeKind.VISUAL,
        ChangeKind.OTHER,
    }
)
_LOCKABLE = frozenset(
    {
        ChangeKind.FORM_FILL,
        ChangeKind.FORM_FIELD,
        ChangeKind.SIGNATURE,
        ChangeKind.SIGNATURE_CHANGED,
        ChangeKind.SIGNATURE_REMOVED,
    }
)
#: kinds that need no rendering to judge (they cannot change a page, or are refused anyway)
_NO_RENDER = NOT_VISIBLE | {ChangeKind.PAGES, ChangeKind.FILE_STRUCTURE}
#: share of a new signature box's pixels that are certified ink before the box counts as
#: drawn over the text (text is ~7 %, a dotted signature line ~1 %)
DENSE_CONTENT = 0.03
#: seconds the renderer may take for one signature
RENDER_TIMEOUT = 15.0
_CACHE = "_thaisign_changes_cache"


@dataclass(frozen=True)
class ChangeReport:
    """The judgement of everything that changed after one signature."""

    modifications: str  # NONE | ALLOWED | DISALLOWED (DESIGN.md meaning)
    changes: tuple[Change, ...] = ()
    content_changed: bool = False
    messages: tuple[tuple[str, str], ...] = ()
    visual: str = "not-needed"  # not-needed | checked | the reason it could not be done
    pages_rendered: int = 0
    render_seconds: float = 0.0


NO_CHANGES = ChangeReport("NONE")


def effective_revision(reader: Any, signed_revision: int, covered_end: int | None) -> int:
    """The last revision whose cross-reference section the signature's bytes cover.

    pyHanko names the revision that wrote the signature dictionary; in a linearised file the
    first-page cross-reference that follows it in pyHanko's numbering lies inside the signed
    bytes all the same, and belongs to the signed document.
    """
    if covered_end is None:
        return signed_revision
    rev = signed_revision
    for r in range(signed_revision + 1, reader.xrefs.total_revisions):
        info = reader.xrefs.get_xref_container_info(r)
        if info.end_location <= covered_end:
            rev = r
    return rev


def analyse_changes(
    data: bytes,
    reader: Any,
    signed_revision: int,
    *,
    covered_end: int | None = None,
    field_name: str | None = None,
    render: bool = True,
    timeout: float = RENDER_TIMEOUT,
) -> ChangeReport:
    """Name and judge every change made after the signature's revision (never raises)."""
    rev = effective_revision(reader, signed_revision, covered_end)
    if rev >= reader.xrefs.total_revisions - 1:
        return NO_CHANGES
    try:
        return _Analysis(data, reader, rev, field_name, render, timeout).run()
    except RecursionError:
        reason = "the document is nested too deeply"
    except Exception as exc:
        logger.debug("change analysis failed", exc_info=True)
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
    change = Change(ChangeKind.OTHER, "changed", where=reason, permitted=False)
    return ChangeReport("DISALLOWED", (change,), False, (msg.not_analysed(reason),), visual="not-analysed")


class _Analysis:
    def __init__(
        self, data: bytes, reader: Any, rev: int, field_name: str | None, render: bool, timeout: float
    ):
        self.data, self.reader, self.rev = data, reader, rev
        self.field_name, self.render, self.timeout = field_name, render, timeout

    def _cached(self, key: str, make: Any) -> Any:
        cache = getattr(self.reader, _CACHE, None)
        if cache is None:
            cache = {}
            setattr(self.reader, _CACHE, cache)
        if key not in cache:
            cache[key] = make()
        return cache[key]

    def run(self) -> ChangeReport:
        from thaisign.verify.changes.layout import revision_ends, scan_updates

        reader = self.reader
        last = reader.xrefs.total_revisions - 1
        old = Snapshot.read(reader, self.rev)
        new = self._cached("final", lambda: Snapshot.read(reader, last))
        collector = FindingCollector(old, new, _rewritten_after(reader, self.rev))
        findings = collector.collect()
        findings += self._unused_objects(collector)
        layout = scan_updates(self.data, reader, self.rev, self._cached("updates", dict))
        for a in layout.anomalies:
            findings.append(
                Finding(
                    ChangeKind.FILE_STRUCTURE,
                    "added",
                    where=f"update {a.revision + 1}: {a.detail}",
                    where_th=f"การปรับปรุงครั้งที่ {a.revision + 1}: {msg.anomaly_th(a.kind, a.numbers)}",
                )
            )
        ends = self._cached("ends", lambda: revision_ends(self.data, reader))
        field = old.fields.get(self.field_name) if self.field_name else None
        sig = None
        if field is not None:
            from thaisign.verify.changes.compare import resolve

            sig = resolve(field.value)
        perms = read_permissions(old.root, field.obj if field is not None else None, sig)
        # a linearised file lists its first-page section (near the start) after the main one
        return _judge(
            self.data,
            max(ends[: self.rev + 1]),
            old,
            findings,
            perms,
            self.render,
            self.timeout,
            self._cached("final-pages", dict),
        )

    def _unused_objects(self, collector: FindingCollector) -> list[Finding]:
        """Objects written after signing that the final document does not use."""
        from pyhanko.pdf_utils import generic

        xrefs = self.reader.xrefs
        written: set[tuple[int, int]] = set()
        containers: set[tuple[int, int]] = set()
        for r in range(self.rev + 1, xrefs.total_revisions):
            written |= {(x.idnum, x.generation) for x in xrefs.explicit_refs_in_revision(r)}
            written -= {(x.idnum, x.generation) for x in xrefs.refs_freed_in_revision(r)}
            containers |= {(x.idnum, x.generation) for x in xrefs.object_streams_used_in(r)}
            info = xrefs.get_xref_container_info(r)
            for stream_ref in (info.stream_ref, getattr(xrefs.get_xref_data(r).hybrid, "meta_info", None)):
                ref = getattr(stream_ref, "stream_ref", stream_ref)
                if isinstance(ref, generic.Reference):
                    containers.add((ref.idnum, ref.generation))
        unused = sorted(written - containers - collector.reached_new())
        # a null or free slot is not an object
        unused = [r for r in unused if not _is_null(self.reader, r)]
        if not unused:
            return []
        shown = ", ".join(f"{n} {g}" for n, g in unused[:5]) + (" …" if len(unused) > 5 else "")
        return [Finding(ChangeKind.UNUSED_OBJECTS, "added", where=f"{len(unused)}: {shown}")]


def _rewritten_after(reader: Any, rev: int) -> set[tuple[int, int]]:
    """Objects (re)defined or freed by the revisions after ``rev``: all others are unchanged."""
    out: set[tuple[int, int]] = set()
    for r in range(rev + 1, reader.xrefs.total_revisions):
        out |= {(x.idnum, x.generation) for x in reader.xrefs.explicit_refs_in_revision(r)}
        out |= {(x.idnum, x.generation) for x in reader.xrefs.refs_freed_in_revision(r)}
    return out


def _is_null(reader: Any, ref: tuple[int, int]) -> bool:
    """A null, or a cross-reference stream (it is part of the file's structure, not of the document)."""
    from pyhanko.pdf_utils import generic

    try:
        obj = reader.get_object(generic.Reference(ref[0], ref[1], reader))
    except Exception:
        return False
    return isinstance(obj, generic.NullObject) or (
        isinstance(obj, generic.StreamObject) and pdf_get(obj, "/Type") in ("/XRef", "/ObjStm")
    )


def _judge(
    data: bytes,
    signed_end: int,
    old: Snapshot,
    findings: list[Finding],
    perms: Permissions,
    render: bool,
    timeout: float,
    final_pages: dict[int, Any],
) -> ChangeReport:
    from thaisign.verify.changes.visual import Region, VisualResult, compare_revisions

    allowed = PERMITTED[perms.docmdp]
    permitted: list[bool] = []
    notes: list[str | None] = []
    for f in findings:
        ok, note = f.kind in allowed and f.kind not in _NEVER, None
        if not ok and f.kind in PERMITTED[None]:
            note = "docmdp"
        if ok and f.kind in _LOCKABLE and f.field in old.fields and perms.locked(f.field):
            ok, note = False, "locked"
        permitted.append(ok)
        notes.append(note)

    regions: list[Region] = []
    pages: set[int] = set()
    for i, f in enumerate(findings):
        if f.kind in _NO_RENDER:
            continue
        for page, rect in f.rects:
            if rect[2] - rect[0] > 0.5 and rect[3] - rect[1] > 0.5:
                regions.append(Region(i, page, rect))
                pages.add(page)
    visual = VisualResult(True)
    state = "not-needed"
    if pages and all(permitted):
        if render:
            keep = _kept_annotations(old, findings, pages)
            visual = compare_revisions(
                data,
                signed_end,
                sorted(pages),
                regions,
                keep_regions=keep,
                timeout=timeout,
                final_pages=final_pages,
            )
            final_pages.update(visual.final_pages)
            state = "checked" if visual.checked else (visual.reason or "not checked")
        else:
            visual, state = VisualResult(False, "rendering is switched off"), "rendering is switched off"
    elif pages:
        visual, state = VisualResult(False, "already not permitted"), "not-needed"

    rendered_regions = {r.finding for r in regions}
    changes: list[Change] = []
    for i, f in enumerate(findings):
        ok, note = permitted[i], notes[i]
        kind = f.kind
        if visual.checked and state == "checked":
            visible = visual.changed.get(i, 0) >= 6 or (
                f.kind is ChangeKind.PAGE_CONTENT and visual.content.get(f.page or 0, 0) > 0
            )
        else:
            visible = i in rendered_regions or f.kind is ChangeKind.PAGE_CONTENT
        if f.unsigned and visible:
            # an empty signature field that shows something: content nobody signed (the
            # "sneaky signature" of the certification attacks), judged as a form field
            kind = ChangeKind.FORM_FIELD
            ok = kind in allowed and not (f.field in old.fields and perms.locked(f.field))
            note = None if ok else "docmdp"
        if ok and visual.hidden.get(i, 0) >= HIDDEN_PIXELS:
            # a later signer's own appearance over the page is that signer's (verified, named)
            # act: the content changed, but nothing anonymous happened — unless the document is
            # certified, whose content no later signature may hide (sneaky signature attack)
            hides_ok = kind is ChangeKind.SIGNATURE and not perms.certified
            ok, note = hides_ok, "hides-signed-content"
        if (
            ok
            and perms.certified
            and f.new_field
            and kind is ChangeKind.SIGNATURE
            and visual.over_content.get(i, 0) >= max(HIDDEN_PIXELS, DENSE_CONTENT * visual.areas.get(i, 0))
        ):
            # a signature box the certifier did not place, drawn over certified text (a box over
            # a dotted signature line covers a little ink: that is where signatures belong)
            ok, note = False, "hides-signed-content"
        if ok and f.appearance_only and visible:
            ok, note = False, "appearance-without-value"
        replaced = visual.overwritten.get(i, 0) >= HIDDEN_PIXELS if state == "checked" else f.replaces_shown
        if ok and f.replaces_shown and replaced and visible and kind in CONTENT_KINDS and not perms.certified:
            ok, note = False, "replaces-signed"
        changes.append(
            Change(
                kind,
                f.action,
                page=None if f.page is None else f.page + 1,
                field=f.field,
                subtype=f.subtype,
                old=f.old,
                new=f.new,
                where=f.where,
                where_th=f.where_th,
                permitted=ok,
                visible=visible,
                note=note,
            )
        )
    explained_content = {f.page for f in findings if f.kind is ChangeKind.PAGE_CONTENT}
    for page, n in sorted(visual.unexplained.items()):
        changes.append(
            Change(
                ChangeKind.VISUAL,
                "changed",
                page=page + 1,
                where=f"{n} pixels",
                permitted=False,
                visible=True,
            )
        )
    for page, n in sorted(visual.content.items()):
        if n and page not in explained_content:
            changes.append(
                Change(
                    ChangeKind.VISUAL,
                    "changed",
                    page=page + 1,
                    where="page content",
                    permitted=False,
                    visible=True,
                )
            )

    def certified_permits(c: Change) -> bool:
        return perms.certified and c.kind in allowed

    def shows_change(c: Change) -> bool:
        return c.visible and (
            not c.permitted
            or c.note == "hides-signed-content"
            or (c.kind in CONTENT_KINDS and not certified_permits(c))
        )

    content_changed = any(shows_change(c) for c in changes)
    refused = [c for c in changes if not c.permitted]
    messages: list[tuple[str, str]] = []
    if refused:
        messages.append(msg.sentence(msg.NOT_PERMITTED, refused))
    else:
        shown = [c for c in changes if shows_change(c)]
        rest = [c for c in changes if not shows_change(c)]
        if content_changed and shown:
            messages.append(msg.sentence(msg.CONTENT_CHANGED, shown))
            if rest:
                messages.append(msg.sentence(msg.OTHER_PERMITTED, rest))
        elif changes:
            messages.append(msg.sentence(msg.PERMITTED_CHANGES, changes))
    if state not in ("checked", "not-needed"):
        messages.append(msg.not_rendered(state))
    return ChangeReport(
        "DISALLOWED" if refused else "ALLOWED",
        tuple(changes),
        content_changed,
        tuple(messages),
        state,
        visual.pages_rendered,
        visual.seconds,
    )


def _kept_annotations(
    old: Snapshot, findings: list[Finding], pages: set[int]
) -> list[tuple[int, tuple[float, float, float, float]]]:
    """Boxes of annotations that were on the signed pages and that no finding touches."""
    from thaisign.verify.changes.values import annotation_rect

    touched = {(p, r) for f in findings for p, r in f.rects}
    out = []
    for annot in old.annotations.values():
        if annot.page not in pages:
            continue
        box = annotation_rect(annot.obj)
        if box is None or (annot.page, box) in touched or box[2] - box[0] <= 0.5 or box[3] - box[1] <= 0.5:
            continue
        out.append((annot.page, box))
    return out


__all__ = ["NO_CHANGES", "ChangeReport", "analyse_changes", "effective_revision"]
