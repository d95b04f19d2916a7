"""The visual check: render the signed revision and the final file with PDFium and compare pages.

Whatever changes what a page shows is caught here, whatever objects it hides in. Four renders
per page (grey, ~90 dpi): the signed revision with and without annotations (``A_s``, ``C_s``)
and the final file with and without annotations (``A_f``, ``C_f``). Then:

* ``C_s`` vs ``C_f``: the page content itself changed (never permitted);
* ``A_s`` vs ``A_f``: every changed pixel must lie in the box of an annotation or form field
  that the object comparison found changed — otherwise the change is unexplained;
* within such a box, pixels of *signed page content* that are now covered (ink in ``C_s`` and
  ``A_s``, blank in ``A_f``) or now uncovered (ink in ``C_s``, blank in ``A_s``, ink in ``A_f``)
  are counted: a permitted kind of change may add to a page, never hide or reveal what was
  signed (shadow attacks: hide, replace, hide-and-replace).

PDFium runs in a forked child with CPU-time, memory and wall-clock limits, so a hostile file
can neither hang nor crash the verifier; the parent only receives numbers.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import time
from dataclasses import dataclass, field
from typing import Any

Rect = tuple[float, float, float, float]

#: longest side of a rendered page, in pixels (about 85 dpi for A4)
MAX_SIDE = 1000
#: pages rendered per check at most; more changed pages count as not checked
MAX_PAGES = 40
#: address-space limit for the rendering child, on top of what the parent already maps
MEMORY_LIMIT = 1536 * 1024 * 1024
#: a pixel differs when its grey level changes by more than this
DIFF_LEVEL = 48
INK, BLANK = 128, 200
#: fewer changed pixels than this in a region are rendering noise
NOISE = 6


@dataclass(frozen=True)
class Region:
    """A box on a page that one finding may redraw."""

    finding: int
    page: int  # 0-based
    rect: Rect


@dataclass
class VisualResult:
    """Numbers from the renders; ``checked`` is False when rendering was not possible."""

    checked: bool
    reason: str | None = None
    changed: dict[int, int] = field(default_factory=dict)  # finding -> changed pixels in its boxes
    hidden: dict[int, int] = field(default_factory=dict)  # finding -> signed content covered/uncovered
    #: finding -> changed pixels that showed ink when signed (something shown was replaced)
    overwritten: dict[int, int] = field(default_factory=dict)
    #: finding -> pixels of signed page content inside its box (when the box changed at all)
    over_content: dict[int, int] = field(default_factory=dict)
    #: finding -> pixels of its boxes on the rendered pages
    areas: dict[int, int] = field(default_factory=dict)
    unexplained: dict[int, int] = field(default_factory=dict)  # page -> changed pixels outside all boxes
    content: dict[int, int] = field(default_factory=dict)  # page -> changed pixels of the page content
    pages_rendered: int = 0
    seconds: float = 0.0
    #: renders of the final file's pages (page -> (size, with annotations, content only)), which
    #: every signature of the file compares against: kept by the caller and passed back in
    final_pages: dict[int, tuple[tuple[int, int], bytes, bytes]] = field(default_factory=dict)


def compare_revisions(
    data: bytes,
    signed_end: int,
    pages: list[int],
    regions: list[Region],
    *,
    keep_regions: list[tuple[int, Rect]] = (),  # type: ignore[assignment]
    timeout: float = 10.0,
    final_pages: dict[int, tuple[tuple[int, int], bytes, bytes]] | None = None,
) -> VisualResult:
    """Render ``pages`` of ``data[:signed_end]`` and ``data`` and compare them (bounded).

    ``final_pages`` holds renders of the final file from an earlier call for the same file;
    the result's ``final_pages`` has the ones made now.
    """
    started = time.monotonic()
    pages = sorted(set(pages))
    if len(pages) > MAX_PAGES:
        return VisualResult(
            False, f"{len(pages)} changed pages (the visual check renders at most {MAX_PAGES})"
        )
    if not pages:
        return VisualResult(True)
    known = {p: v for p, v in (final_pages or {}).items() if p in pages}
    job = (data, signed_end, pages, regions, list(keep_regions), known)
    if os.name == "posix" and hasattr(os, "fork"):
        result = _in_child(job, timeout)
    else:  # pragma: no cover - no fork: render in this process
        try:
            result = _render_and_compare(*job)
        except Exception as exc:
            result = VisualResult(False, f"the pages could not be rendered ({type(exc).__name__})")
    result.seconds = time.monotonic() - started
    return result


def _in_child(job: tuple[Any, ...], timeout: float) -> VisualResult:
    import pypdfium2  # noqa: F401 - loaded once in the parent, so each child starts warm

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: limits, render, report, exit without cleanup handlers
        try:
            os.close(read_fd)
            _limit_child(timeout)
            result = _render_and_compare(*job)
            payload = pickle.dumps(result)
        except BaseException as exc:
            payload = pickle.dumps(
                VisualResult(False, f"the pages could not be rendered ({type(exc).__name__})")
            )
        try:
            with os.fdopen(write_fd, "wb") as out:
                out.write(payload)
        finally:
            os._exit(0)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    finished = False
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                ready, _, _ = select.select([pipe], [], [], left)
                if not ready:
                    break
                chunk = os.read(pipe.fileno(), 1 << 16)
                if not chunk:
                    finished = True
                    break
                chunks.append(chunk)
    finally:
        if not finished:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    if not finished:
        return VisualResult(False, f"rendering took longer than {timeout:g} s")
    try:
        result = pickle.loads(b"".join(chunks))
    except Exception:
        return VisualResult(False, "the renderer stopped unexpectedly")
    return (
        result
        if isinstance(result, VisualResult)
        else VisualResult(False, "the renderer stopped unexpectedly")
    )


def _limit_child(timeout: float) -> None:
    import faulthandler
    import resource

    faulthandler.disable()  # a crash of the renderer is reported by the parent, in one line
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, 0)
    cpu = max(1, int(timeout) + 1)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    with contextlib.suppress(ValueError, OSError):
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        mapped = _mapped_bytes()
        limit = mapped + MEMORY_LIMIT
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _mapped_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 4 * 1024 * 1024 * 1024


# ------------------------------------------------------------------------------------------


def _render_and_compare(
    data: bytes,
    signed_end: int,
    pages: list[int],
    regions: list[Region],
    keep: list[tuple[int, Rect]],
    known: dict[int, tuple[tuple[int, int], bytes, bytes]],
) -> VisualResult:
    import pypdfium2 as pdfium

    result = VisualResult(True)
    old_doc = pdfium.PdfDocument(data[:signed_end])
    new_doc = pdfium.PdfDocument(data)
    for doc in (old_doc, new_doc):
        with contextlib.suppress(Exception):
            doc.init_forms()
    try:
        for index in pages:
            if index >= len(old_doc) or index >= len(new_doc):
                continue
            _compare_page(old_doc, new_doc, index, regions, keep, known.get(index), result)
            result.pages_rendered += 1
    finally:
        new_doc.close()
        old_doc.close()
    return result


def _compare_page(
    old_doc: Any,
    new_doc: Any,
    index: int,
    regions: list[Region],
    keep: list[tuple[int, Rect]],
    known: tuple[tuple[int, int], bytes, bytes] | None,
    result: VisualResult,
) -> None:
    from PIL import Image, ImageChops, ImageDraw

    old_page, new_page = old_doc[index], new_doc[index]
    try:
        w, h = new_page.get_size()
        scale = min(MAX_SIDE / max(w, h, 1.0), 2.0)
        if known is not None:
            a_f, c_f = Image.frombytes("L", known[0], known[1]), Image.frombytes("L", known[0], known[2])
        else:
            a_f, c_f = _render(new_page, scale), _render(new_page, scale, annots=False)
            result.final_pages[index] = (a_f.size, a_f.tobytes(), c_f.tobytes())
        a_s, c_s = _render(old_page, scale), _render(old_page, scale, annots=False)
        if a_s.size != a_f.size:
            result.content[index] = a_s.size[0] * a_s.size[1]
            return
        size = a_s.size
        result.content[index] = _count(_changed(c_s, c_f))
        changed = _changed(a_s, a_f)
        bbox = changed.getbbox()
        if bbox is None:
            return
        # everything below looks only at the part of the page that changed
        x0, y0 = bbox[0], bbox[1]

        def crop(img: Any) -> Any:
            return img.crop(bbox)

        def box_mask(rects: list[tuple[int, int, int, int]]) -> Any:
            mask = Image.new("L", (bbox[2] - x0, bbox[3] - y0), 0)
            draw = ImageDraw.Draw(mask)
            for r in rects:
                draw.rectangle((r[0] - x0, r[1] - y0, r[2] - x0, r[3] - y0), fill=255)
            return mask

        changed, a_s, c_s, a_f = crop(changed), crop(a_s), crop(c_s), crop(a_f)
        signed_ink, shown_ink = _below(c_s, INK), _below(a_s, INK)
        covered = _and(_and(signed_ink, shown_ink), _above(a_f, BLANK))
        uncovered = _and(_and(signed_ink, _above(a_s, BLANK)), _below(a_f, INK))
        # signed annotations that stay (earlier signatures' appearances...) count as signed content
        kept = box_mask([_box(old_page, rect, size) for page, rect in keep if page == index])
        covered_kept = _and(_and(kept, shown_ink), _above(a_f, BLANK))
        moved = _and(_or(_or(covered, uncovered), covered_kept), changed)
        was_shown = _and(changed, shown_ink)
        boxes: list[tuple[int, int, int, int]] = []
        for region in regions:
            if region.page != index:
                continue
            box = _box(new_page, region.rect, size)
            boxes.append(box)
            mask = box_mask([box])
            n = _count(_and(changed, mask))
            if not n:
                continue
            result.changed[region.finding] = result.changed.get(region.finding, 0) + n
            area = (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
            result.areas[region.finding] = result.areas.get(region.finding, 0) + area
            for target, value in (
                (result.hidden, _count(_and(moved, mask))),
                (result.overwritten, _count(_and(was_shown, mask))),
                (result.over_content, _count(_and(signed_ink, mask))),
            ):
                if value:
                    target[region.finding] = target.get(region.finding, 0) + value
        outside = _and(changed, ImageChops.invert(box_mask(boxes)))
        n = _count(outside)
        if n >= NOISE:
            result.unexplained[index] = n
    finally:
        old_page.close()
        new_page.close()


def _render(page: Any, scale: float, *, annots: bool = True) -> Any:
    bitmap = page.render(
        scale=scale,
        grayscale=True,
        draw_annots=annots,
        may_draw_forms=annots,
        fill_color=(255, 255, 255, 255),
    )
    return bitmap.to_pil().convert("L")


def _box(page: Any, rect: Rect, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A PDF-space rectangle as a pixel box (grown by two pixels for anti-aliasing)."""
    import ctypes

    import pypdfium2.raw as raw

    xs, ys = [], []
    for x, y in ((rect[0], rect[1]), (rect[2], rect[3]), (rect[0], rect[3]), (rect[2], rect[1])):
        dx, dy = ctypes.c_int(), ctypes.c_int()
        raw.FPDF_PageToDevice(page.raw, 0, 0, size[0], size[1], 0, x, y, ctypes.byref(dx), ctypes.byref(dy))
        xs.append(dx.value)
        ys.append(dy.value)
    return (
        max(0, min(xs) - 2),
        max(0, min(ys) - 2),
        min(size[0] - 1, max(xs) + 2),
        min(size[1] - 1, max(ys) + 2),
    )


_DIFF = [255 if v > DIFF_LEVEL else 0 for v in range(256)]
_INK = [255 if v < INK else 0 for v in range(256)]
_BLANK = [255 if v > BLANK else 0 for v in range(256)]


def _changed(a: Any, b: Any) -> Any:
    """A 0/255 mask (mode L) of the pixels whose grey level differs by more than DIFF_LEVEL."""
    from PIL import ImageChops

    return ImageChops.difference(a, b).point(_DIFF)


def _below(img: Any, level: int) -> Any:
    return img.point(_INK if level == INK else [255 if v < level else 0 for v in range(256)])


def _above(img: Any, level: int) -> Any:
    return img.point(_BLANK if level == BLANK else [255 if v > level else 0 for v in range(256)])


def _and(a: Any, b: Any) -> Any:
    from PIL import ImageChops

    return ImageChops.darker(a, b)


def _or(a: Any, b: Any) -> Any:
    from PIL import ImageChops

    return ImageChops.lighter(a, b)


def _count(mask: Any) -> int:
    return int(mask.histogram()[255])
