"""The visible signature: Thai lines shaped with HarfBuzz, wrapped and fitted into the box.

Default lines come from the signer's certificate: the full name in parentheses, the position
(``title``), the agency (``O``) and ``ลงนามเมื่อ ๒๑ พฤศจิกายน ๒๕๖๙ ๑๐.๔๒ น.``. An optional
handwritten-signature image (PNG with transparency) sits above the lines and an optional QR
code (drawn as vector squares) at the right.

>>> SignatureAppearance(qr="https://saraban.example.go.th/doc/123", digits="arabic")
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.x509.oid import NameOID

from thaisign.errors import AppearanceError
from thaisign.pades._shaping import FontFace, ShapedText, grapheme_breaks, load_font
from thaisign.thai_date import BANGKOK, Digits, format_thai_date, format_thai_datetime

NBSP = "\u00a0"  # keeps "๒๑ พฤศจิกายน ๒๕๖๙" and "๑๐.๔๒ น." together when a line wraps
LINE_GAP_EM = 0.12  # clearance between the lowest ink of a line and the highest ink of the next
MIN_PITCH_EM = 1.3  # never closer than this, even for lines without stacked marks


@dataclass(frozen=True)
class SignatureAppearance:
    """How a visible signature looks. Every field is optional; the defaults need no configuration.

    ``lines`` replaces all text lines; ``name``/``position``/``agency`` replace one default line
    each (an empty string drops it). ``font`` is a TrueType file (default: Sarabun).
    """

    lines: tuple[str, ...] | None = None
    name: str | None = None
    position: str | None = None
    agency: str | None = None
    show_date: bool = True
    date_label: str = "ลงนามเมื่อ"
    digits: Digits = "thai"
    font: str | os.PathLike[str] | None = None
    max_font_size: float = 14.0
    min_font_size: float = 5.0
    image: str | os.PathLike[str] | bytes | None = None
    qr: str | None = None
    border: bool = False
    color: tuple[float, float, float] = (0.0, 0.0, 0.0)
    align: Literal["center", "left"] = "center"
    timezone: dt.tzinfo = field(default=BANGKOK, compare=False)

    def text_lines(self, certificate: x509.Certificate | None, signing_time: dt.datetime) -> tuple[str, ...]:
        """The lines to show for ``certificate`` signing at ``signing_time``."""
        if self.lines is not None:
            return tuple(line for line in self.lines if line.strip())
        name = self.name if self.name is not None else _full_name(certificate)
        position = self.position if self.position is not None else _attr(certificate, NameOID.TITLE)
        agency = self.agency if self.agency is not None else _attr(certificate, NameOID.ORGANIZATION_NAME)
        out = []
        if name:
            out.append(name if name.startswith("(") else f"({name})")
        out += [x for x in (position, agency) if x]
        if self.show_date:
            date = format_thai_date(signing_time, digits=self.digits, tz=self.timezone).replace(" ", NBSP)
            time = format_thai_datetime(signing_time, digits=self.digits, tz=self.timezone)[len(date) + 1 :]
            out.append(f"{self.date_label} {date} {time.replace(' ', NBSP)}".strip())
        return tuple(out)


def _attr(cert: x509.Certificate | None, oid: x509.ObjectIdentifier) -> str:
    if cert is None:
        return ""
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def _full_name(cert: x509.Certificate | None) -> str:
    cn = _attr(cert, NameOID.COMMON_NAME)
    if cn:
        return cn
    return " ".join(x for x in (_attr(cert, NameOID.GIVEN_NAME), _attr(cert, NameOID.SURNAME)) if x)


# --- text layout ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlacedLine:
    shaped: ShapedText
    x: float  # baseline start, relative to the text area's lower-left corner
    y: float


@dataclass(frozen=True)
class TextLayout:
    size: float
    lines: tuple[PlacedLine, ...]
    height: float


def _break_word(face: FontFace, word: str, width_units: float) -> list[str] | None:
    """``word`` cut at Thai cluster boundaries into pieces that each fit, or None if one cluster
    alone is wider than the box."""
    pieces: list[str] = []
    start = 0
    fits_until: int | None = None
    for cut in [*grapheme_breaks(word), len(word)]:
        if face.shape(word[start:cut]).advance <= width_units:
            fits_until = cut
            continue
        if fits_until is None:
            return None
        pieces.append(word[start:fits_until])
        start = fits_until
        fits_until = cut if face.shape(word[start:cut]).advance <= width_units else None
        if fits_until is None:
            return None
    pieces.append(word[start:])
    return pieces


def _wrap(face: FontFace, text: str, width_units: float, allow_break_words: bool) -> list[str] | None:
    """Greedy wrap at spaces; words wider than the box are split at cluster boundaries if allowed."""
    words = [w for w in text.split(" ") if w]  # split at plain spaces only, never at NBSP
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if face.shape(candidate).advance <= width_units:
            current = candidate
            continue
        if current:
            lines.append(current)
        if face.shape(word).advance <= width_units:
            current = word
            continue
        pieces = _break_word(face, word, width_units) if allow_break_words else None
        if pieces is None:
            return None
        lines += pieces[:-1]
        current = pieces[-1]
    if current:
        lines.append(current)
    return lines


def _stack(face: FontFace, texts: list[str], size: float) -> tuple[list[tuple[ShapedText, float]], float]:
    """Baselines (from the top of the block) for ``texts`` and the block height, at ``size``."""
    em = face.units_per_em
    scale = size / em
    shaped = [face.shape(t) for t in texts]
    out: list[tuple[ShapedText, float]] = []
    y = 0.0
    prev_depth = 0.0
    for i, s in enumerate(shaped):
        top = max(s.ink_top, face.ascender * 0.75) * scale
        if i == 0:
            y = top
        else:
            y += max(prev_depth + top + LINE_GAP_EM * size, MIN_PITCH_EM * size)
        out.append((s, y))
        prev_depth = max(-s.ink_bottom, -face.descender * 0.5) * scale
    return out, y + prev_depth


def layout_text(
    face: FontFace,
    paragraphs: tuple[str, ...],
    width: float,
    height: float,
    *,
    max_size: float,
    min_size: float,
    align: str = "center",
) -> TextLayout:
    """Wrap and shrink ``paragraphs`` until they fit ``width`` x ``height`` points."""
    if not paragraphs:
        return TextLayout(max_size, (), 0.0)
    if not face.has_char(NBSP):
        paragraphs = tuple(p.replace(NBSP, " ") for p in paragraphs)
    if width <= 0 or height <= 0:
        raise AppearanceError("the signature box is too small for any text", hint="give a larger --rect")
    # prefer one line per paragraph at a readable size, then wrapping at spaces, then inside words
    modes = (("whole", max(min_size, 0.6 * max_size)), ("spaces", min_size), ("clusters", min_size))
    for mode, floor in modes:
        size = max_size
        while size >= floor - 1e-9:
            units = width * face.units_per_em / size
            texts: list[str] = []
            ok = True
            for p in paragraphs:
                if mode == "whole":
                    wrapped: list[str] | None = [p] if face.shape(p).advance <= units else None
                else:
                    wrapped = _wrap(face, p, units, mode == "clusters")
                if wrapped is None:
                    ok = False
                    break
                texts += wrapped
            if ok:
                stacked, total = _stack(face, texts, size)
                if total <= height:
                    top_pad = (height - total) / 2
                    placed = []
                    for shaped, baseline in stacked:
                        w = shaped.advance * size / face.units_per_em
                        x = (width - w) / 2 if align == "center" else 0.0
                        placed.append(PlacedLine(shaped, x, height - top_pad - baseline))
                    return TextLayout(size, tuple(placed), total)
            size = round(size * 0.93, 2) if size > floor else floor - 1
    raise AppearanceError(
        f"the signature text does not fit a {width:.0f}x{height:.0f} pt box even at {min_size} pt",
        hint="give a larger --rect or fewer lines",
    )


# --- rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Areas:
    text: tuple[float, float, float, float]  # x, y, w, h
    image: tuple[float, float, float, float] | None
    qr: tuple[float, float, float] | None  # x, y, side


def _areas(w: float, h: float, has_lines: bool, has_image: bool, has_qr: bool) -> _Areas:
    m = max(1.0, min(4.0, 0.05 * min(w, h)))
    x0, y0, x1, y1 = m, m, w - m, h - m
    qr = None
    if has_qr:
        side = min(y1 - y0, 0.4 * (x1 - x0))
        qr = (x1 - side, (h - side) / 2, side)
        x1 -= side + m
    image = None
    if has_image:
        ih = (y1 - y0) * (0.4 if has_lines else 1.0)
        image = (x0, y1 - ih, x1 - x0, ih)
        y1 -= ih
    return _Areas((x0, y0, x1 - x0, y1 - y0), image, qr)


def qr_operators(payload: str, x: float, y: float, side: float) -> bytes:
    """A QR code for ``payload`` as filled squares (vector), ``side`` points wide at (x, y)."""
    import qrcode
    import qrcode.constants

    code = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    n = len(matrix)
    cell = side / n
    ops = ["q 0 g"]
    for row, cells in enumerate(matrix):
        col = 0
        while col < n:
            if cells[col]:
                start = col
                while col < n and cells[col]:
                    col += 1
                ops.append(
                    f"{x + start * cell:.3f} {y + side - (row + 1) * cell:.3f} "
                    f"{(col - start) * cell:.3f} {cell:.3f} re"
                )
            else:
                col += 1
    ops.append("f Q")
    return "\n".join(ops).encode("ascii")


def load_signature_image(source: str | os.PathLike[str] | bytes) -> object:
    """A PIL image from a PNG/JPEG path or bytes (transparency kept)."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        img: Image.Image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else Path(source))
        img.load()
    except FileNotFoundError:
        raise AppearanceError(f"signature image not found: {source!s}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise AppearanceError(f"cannot read the signature image: {exc}", hint="give a PNG file") from None
    if img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = img.convert("RGBA" if "transparency" in img.info or img.mode in ("P", "PA") else "RGB")
    return img


def render_appearance(
    appearance: SignatureAppearance,
    lines: tuple[str, ...],
    width: float,
    height: float,
    writer: object,
) -> tuple[bytes, dict[str, dict[str, object]]]:
    """Content operators for a ``width`` x ``height`` box and the resources they use.

    Resources are returned as ``{"/Font": {name: ref}, "/XObject": {name: ref}}``.
    """
    from pyhanko.pdf_utils.images import pil_image

    from thaisign.pades.thai_text import TextPainter

    face = load_font(appearance.font)
    areas = _areas(width, height, bool(lines), appearance.image is not None, appearance.qr is not None)
    ops: list[bytes] = [b"q"]
    resources: dict[str, dict[str, object]] = {"/Font": {}, "/XObject": {}}
    if appearance.image is not None and areas.image is not None:
        img = load_signature_image(appearance.image)
        iw, ih = img.size  # type: ignore[attr-defined]
        ax, ay, aw, ah = areas.image
        scale = min(aw / iw, ah / ih)
        dw, dh = iw * scale, ih * scale
        ref = pil_image(img, writer)  # type: ignore[arg-type]
        resources["/XObject"]["/ThImg1"] = ref
        ops.append(
            f"q {dw:.3f} 0 0 {dh:.3f} {ax + (aw - dw) / 2:.3f} {ay + (ah - dh) / 2:.3f} cm".encode()
            + b" /ThImg1 Do Q"
        )
    if appearance.qr is not None and areas.qr is not None:
        ops.append(qr_operators(appearance.qr, *areas.qr))
    if lines:
        tx, ty, tw, th = areas.text
        layout = layout_text(
            face,
            lines,
            tw,
            th,
            max_size=appearance.max_font_size,
            min_size=appearance.min_font_size,
            align=appearance.align,
        )
        painter = TextPainter(face)
        r, g, b = appearance.color
        ops.append(f"{r:g} {g:g} {b:g} rg".encode())
        ops += painter.lines([(p.shaped, tx + p.x, ty + p.y) for p in layout.lines], layout.size)
        resources["/Font"][painter.resource_name] = painter.embed(writer)
    if appearance.border:
        ops.append(f"0.5 w 0.4 G 0.25 0.25 {width - 0.5:.3f} {height - 0.5:.3f} re S".encode())
    ops.append(b"Q")
    return b"\n".join(ops), resources


@functools.lru_cache(maxsize=1)
def _stamp_classes() -> tuple[type, type]:
    """pyHanko stamp classes drawing a :class:`SignatureAppearance` (made once, on first use,
    so that importing this module does not import pyHanko)."""
    from pyhanko.pdf_utils import content, generic
    from pyhanko.stamp import BaseStamp, BaseStampStyle

    class ThaiStamp(BaseStamp):
        def _render_inner_content(self) -> list[bytes]:
            style = self.style
            ops, resources = render_appearance(
                style.appearance, style.lines, float(self.box.width), float(self.box.height), self.writer
            )
            for category, entries in resources.items():
                kind = content.ResourceType.FONT if category == "/Font" else content.ResourceType.XOBJECT
                for name, ref in entries.items():
                    self.set_resource(category=kind, name=generic.NameObject(name), value=ref)  # type: ignore[arg-type]
            return [ops]

    @dataclass(frozen=True)
    class ThaiStampStyle(BaseStampStyle):
        border_width: int = 0
        appearance: SignatureAppearance = field(default_factory=SignatureAppearance)
        lines: tuple[str, ...] = ()

        def create_stamp(self, writer, box, text_params):  # type: ignore[no-untyped-def,unused-ignore]
            return ThaiStamp(writer=writer, style=self, box=box)

    return ThaiStamp, ThaiStampStyle


def _stamp_style(appearance: SignatureAppearance, lines: tuple[str, ...]) -> object:
    """A pyHanko stamp style that draws this appearance into the signature field's box."""
    return _stamp_classes()[1](appearance=appearance, lines=lines)
