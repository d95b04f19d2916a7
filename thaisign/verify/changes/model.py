"""What changed after a signature, named for a clerk: small immutable value objects."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class ChangeKind(enum.StrEnum):
    """The kinds of change after signing, from harmless bookkeeping to tampering.

    The first group can be permitted (by DocMDP level, see :mod:`.policy`); the second never is.
    """

    VALIDATION_DATA = "validation-data"  # /DSS and /VRI: certificates, OCSP responses, CRLs
    DOCUMENT_TIMESTAMP = "document-timestamp"
    FORMAT = "format"  # /Version, /Extensions, /SigFlags: bookkeeping that comes with the above
    SIGNATURE = "signature"  # a later signature, or an empty signature field added
    FORM_FILL = "form-fill"  # a form field filled in or changed, its appearance redrawn
    ANNOTATION = "annotation"  # a comment, stamp, link ... added, changed or removed
    FORM_FIELD = "form-field"  # a (non-signature) form field added, removed or reconfigured
    METADATA = "metadata"  # /Info, XMP metadata, language, viewer preferences
    STRUCTURE = "structure"  # tagged structure, page labels
    OUTLINE = "outline"  # bookmarks and named destinations
    UNUSED_OBJECTS = "unused-objects"  # objects written after signing that the document does not use
    # never permitted
    PAGES = "pages"  # pages added or removed
    PAGE_CONTENT = "page-content"  # a page's content, resources or size changed
    SIGNATURE_REMOVED = "signature-removed"
    SIGNATURE_CHANGED = "signature-changed"  # a signature dictionary altered after signing
    ACTIONS = "actions"  # JavaScript, open actions, additional actions
    FILE_STRUCTURE = "file-structure"  # incremental-saving anomalies, unused objects
    VISUAL = "visual"  # the page looks different and no named change explains it
    OTHER = "other"  # anything else thaisign cannot name


#: kinds that never change what a page shows
NOT_VISIBLE = frozenset(
    {
        ChangeKind.VALIDATION_DATA,
        ChangeKind.DOCUMENT_TIMESTAMP,
        ChangeKind.FORMAT,
        ChangeKind.METADATA,
        ChangeKind.STRUCTURE,
        ChangeKind.OUTLINE,
        ChangeKind.UNUSED_OBJECTS,
    }
)


@dataclass(frozen=True)
class Change:
    """One named change made after a signature.

    ``permitted`` is the judgement: allowed by the signature's DocMDP/FieldMDP rules and
    thaisign's policy (docs/verify.md). ``visible`` says the change alters what a page shows
    (found by rendering, or assumed when rendering was not possible). ``note`` names what makes
    a change unacceptable when ``permitted`` is false (e.g. it covers signed text).
    """

    kind: ChangeKind
    action: str  # added | changed | removed
    page: int | None = None  # 1-based
    field: str | None = None
    subtype: str | None = None  # annotation subtype, without the slash
    old: str | None = None
    new: str | None = None
    where: str | None = None  # a PDF path or a short technical detail
    permitted: bool = True
    visible: bool = False
    note: str | None = None
    where_th: str | None = None  # ``where`` in Thai when it is prose (not in the JSON)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "action": self.action}
        for name in ("page", "field", "subtype", "old", "new", "where", "note"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["visible"] = self.visible
        out["permitted"] = self.permitted
        return out
