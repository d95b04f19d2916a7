"""Changes after signing, named and judged like EU DSS — plus a visual check of the pages.

>>> from thaisign.verify.changes import analyse_changes
>>> report = analyse_changes(data, reader, signed_revision, covered_end=end, field_name="Signature1")
>>> report.modifications, report.content_changed, [c.to_dict() for c in report.changes]

:mod:`.layout` checks the bytes of every later update (incremental-saving attacks),
:mod:`.snapshot` and :mod:`.findings` compare the signed and final revisions object by object
(:mod:`.compare`), :mod:`.visual` renders both with PDFium, and :mod:`.policy` judges the result
against DocMDP / FieldMDP and thaisign's documented policy.
"""

from thaisign.verify.changes.analysis import NO_CHANGES, ChangeReport, analyse_changes
from thaisign.verify.changes.model import Change, ChangeKind

__all__ = ["NO_CHANGES", "Change", "ChangeKind", "ChangeReport", "analyse_changes"]
