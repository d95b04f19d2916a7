"""Signature fields: add named empty fields for several signers, list them, find anchor text.

>>> add_signature_field("letter.pdf", "letter-fields.pdf", "ผู้ลงนาม1", page=1, rect=(330, 120, 530, 190))

Placing a box by a word of the letter (``anchor_text``, e.g. ``ลงชื่อ``) is
:mod:`thaisign.pades.placement`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from thaisign.errors import InputError, OutputError, UsageError


@dataclass(frozen=True)
class FieldInfo:
    """A signature field in a PDF."""

    name: str
    signed: bool
    page: int | None  # 1-based, None when the field has no widget on a page
    rect: tuple[float, float, float, float] | None


def list_signature_fields(input: str | os.PathLike[str]) -> list[FieldInfo]:
    """The signature fields of a PDF, signed or empty."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    from thaisign.pades._document import open_writer

    with Path(input).open("rb") as fh:
        writer = open_writer(fh, None)
        reader: PdfFileReader = writer.prev
        pages = {ref.idnum: i + 1 for i, ref in enumerate(_page_refs(reader))}
        out = []
        for name, value, ref in enumerate_sig_fields(reader):
            obj = ref.get_object()
            widget = obj["/Kids"][0].get_object() if "/Kids" in obj else obj
            rect = tuple(float(v) for v in widget["/Rect"]) if "/Rect" in widget else None
            page_ref = widget.get_value_as_reference("/P") if "/P" in widget else None
            out.append(
                FieldInfo(
                    name,
                    value is not None,
                    pages.get(page_ref.idnum) if page_ref is not None else None,
                    rect if rect and rect[2] - rect[0] > 0 else None,  # type: ignore[arg-type]
                )
            )
        return out


def _page_refs(reader: Any) -> list[Any]:
    count = int(reader.root["/Pages"]["/Count"])
    return [reader.find_page_for_modification(i)[0] for i in range(count)]


def add_signature_field(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    name: str,
    *,
    page: int = 1,
    rect: tuple[float, float, float, float] | None = None,
    lock: tuple[str, ...] | Literal["all"] | None = None,
    pdf_password: str | None = None,
) -> FieldInfo:
    """Add an empty signature field ``name`` (visible when ``rect`` is given) as an incremental update.

    ``lock`` makes the field lock other fields once signed (FieldMDP): ``"all"`` or field names.
    """
    from pyhanko.sign import fields as pf

    from thaisign.pades._document import atomic_rw, open_writer, page_count, to_page_index, validated_rect

    src, dst = Path(input), Path(output)
    if not src.is_file():
        raise InputError(f"PDF not found: {src}")
    if dst.exists() and os.path.samefile(src, dst):
        raise OutputError(f"output {dst} is the input file", hint="choose another output")
    if not name.strip() or "." in name:
        raise UsageError(f"invalid field name {name!r}", hint="a field name must not be empty or contain '.'")
    with src.open("rb") as fh:
        writer = open_writer(fh, pdf_password)
        existing = [n for n, _, _ in pf.enumerate_sig_fields(writer.prev)]
        if name in existing:
            raise UsageError(f"the PDF already has a field named {name!r}")
        index = to_page_index(page, page_count(writer))
        box = validated_rect(rect, writer, index) if rect is not None else None
        field_mdp = None
        if lock is not None:
            field_mdp = (
                pf.FieldMDPSpec(pf.FieldMDPAction.ALL)
                if lock == "all"
                else pf.FieldMDPSpec(pf.FieldMDPAction.INCLUDE, fields=list(lock))
            )
        spec = pf.SigFieldSpec(
            sig_field_name=name,
            on_page=index,
            box=tuple(round(v) for v in box) if box else None,  # type: ignore[arg-type]
            field_mdp_spec=field_mdp,
        )
        pf.append_signature_field(writer, spec)
        with atomic_rw(dst) as out:
            writer.write(out)
    return FieldInfo(name, False, index + 1, box)
