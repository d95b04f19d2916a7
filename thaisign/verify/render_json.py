"""The ``--json`` document of DESIGN.md: ``{"files": [...]}``, one entry per input file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from thaisign.inert import json_text
from thaisign.verify.report import VerificationReport


def reports_document(reports: Sequence[VerificationReport]) -> dict[str, Any]:
    """The JSON-ready dictionary for a list of reports."""
    return {"files": [r.to_dict() for r in reports]}


def reports_json(reports: Sequence[VerificationReport], *, indent: int | None = 2) -> str:
    """The JSON text: Thai kept readable, control and format characters \\u-escaped (values exact)."""
    return json_text(json.dumps(reports_document(reports), ensure_ascii=False, indent=indent))
