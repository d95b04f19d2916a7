"""Changes after signing, named and judged like EU DSS — plus a visual check of the pages.

>>> from thaisign.verify.changes import analyse_changes
>>> report = analyse_changes(data, reader, signed_revision, covered_end=end, field_name="Signature1")
>>> report.modifications, report.content_changed, [c.to_dict() for c in report.changes]

:mod:`.layout` checks the bytes of every later update (incremental-saving attacks),
:mod:`.snapshot` and :mod:`.findings` compare the signed and final revisions object by object
(:mod:`.compare`), :mod:`.visual` renders both with PDFium, and :mod:`.policy` judges the result
against DocMDP / FieldMDP and thaisign's documented policy.

Names are imported lazily: a signature that covers the whole file needs none of this, and
:mod:`thaisign.verify.discovery` reads object streams with :mod:`._objstm` alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thaisign._exports import lazy_exports

if TYPE_CHECKING:
    from thaisign.verify.changes.analysis import NO_CHANGES, ChangeReport, analyse_changes
    from thaisign.verify.changes.model import Change, ChangeKind

_EXPORTS: dict[str, str] = {
    "NO_CHANGES": "thaisign.verify.changes.analysis",
    "ChangeReport": "thaisign.verify.changes.analysis",
    "analyse_changes": "thaisign.verify.changes.analysis",
    "Change": "thaisign.verify.changes.model",
    "ChangeKind": "thaisign.verify.changes.model",
}

__all__ = ["NO_CHANGES", "Change", "ChangeKind", "ChangeReport", "analyse_changes"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
