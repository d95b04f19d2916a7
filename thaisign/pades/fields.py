"""Signature fields: add named empty fields for several signers, list them, find anchor text.

>>> add_signature_field("letter.pdf", "letter-fields.pdf", "ผู้ลงนาม1", page=1, rect=(330, 120, 530, 190))

:func:`box_near_text` finds a word such as ``ลงชื่อ`` on a page and returns a box beside it. It
reads the page's text with ``pypdf`` (fonts with a ToUnicode map, which letters made by word
processors and by thaisign have): best effort, so check the result once per letter template.
"""

from __future__ import annotations

import io
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from thaisign.errors import AppearanceError, InputError, OutputError, UsageError


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


# --- anchor text ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Chunk:
    text: str
    x: float
    y: float
    size: float


def _page_chunks(reader: Any, page_index: int) -> list[_Chunk]:
    """Text pieces of one page with their positions, read with pypdf (best effort)."""
    import logging

    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    stream = reader.stream
    stream.seek(0)
    data = stream.read()
    try:
        page = pypdf.PdfReader(io.BytesIO(data)).pages[page_index]
    except Exception as exc:  # pypdf raises many kinds
        raise AppearanceError(f"cannot read the page text to find the anchor: {exc}") from None
    chunks: list[_Chunk] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if not text or (text.isspace() and not chunks):
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = abs(tm[0] * cm[0]) or 1.0
        chunks.append(_Chunk(text, x, y, size * scale))

    page.extract_text(visitor_text=visit)
    return chunks


def find_text(reader: Any, needle: str, page_index: int) -> tuple[float, float, float, float] | None:
    """(x_start, baseline_y, x_end, font_size) of the first ``needle`` on the page, or None."""
    chunks = _page_chunks(reader, page_index)
    joined = ""
    owners: list[int] = []
    for i, c in enumerate(chunks):
        joined += c.text
        owners += [i] * len(c.text)
    compact = needle.replace(" ", "")
    pos = joined.find(needle)
    if pos < 0:
        stripped = "".join(ch for ch in joined if ch != " ")
        index_map = [i for i, ch in enumerate(joined) if ch != " "]
        p = stripped.find(compact)
        if p < 0:
            return None
        start, end = index_map[p], index_map[p + len(compact) - 1]
    else:
        start, end = pos, pos + len(needle) - 1
    first, last = chunks[owners[start]], chunks[owners[end]]
    if owners[start] == owners[end]:  # one text run: estimate from the spacing characters
        spacing = sum(1 for ch in needle if unicodedata.category(ch) not in ("Mn", "Me"))
        x_end = first.x + first.size * 0.55 * spacing
    else:
        nxt = owners[end] + 1
        x_end = chunks[nxt].x if nxt < len(chunks) and chunks[nxt].y == last.y else last.x + last.size * 0.55
    return (first.x, first.y, max(x_end, first.x), first.size)


def box_near_text(
    reader: Any,
    needle: str,
    page_index: int | None,
    box: tuple[float, float],
    offset: tuple[float, float],
) -> tuple[int, tuple[float, float, float, float]]:
    """The page and a ``box`` (w, h) placed right of ``needle``: left edge ``offset[0]`` after the
    text, bottom ``offset[1]`` from its baseline. Searches the last page first when no page is given."""
    count = int(reader.root["/Pages"]["/Count"])
    order = [page_index] if page_index is not None else list(range(count - 1, -1, -1))
    for index in order:
        hit = find_text(reader, needle, index)
        if hit is None:
            continue
        _, baseline, x_end, _ = hit
        w, h = box
        x1 = x_end + offset[0]
        y1 = baseline + offset[1]
        media = [float(v) for v in reader.find_page_for_modification(index)[0].get_object()["/MediaBox"]]
        x1 = max(media[0] + 2, min(x1, media[2] - w - 2))
        y1 = max(media[1] + 2, min(y1, media[3] - h - 2))
        return index, (x1, y1, x1 + w, y1 + h)
    where = f"page {page_index + 1}" if page_index is not None else "any page"
    raise AppearanceError(
        f"anchor text {needle!r} not found on {where}",
        hint="check the word in the letter, or place the box with --page/--rect",
    )
