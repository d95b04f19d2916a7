"""Checking uploaded letters away from the web server: a pool of worker processes.

Each letter is verified with :func:`thaisign.verify.verify_pdf` (the same verifier as the CLI)
in a worker's main thread, so its time budget holds, and a letter that crashes a parser takes
down a worker, not the desk. The worker returns the report, the register row and a picture of
the signed page; the letter's bytes are not kept anywhere.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
from dataclasses import dataclass
from datetime import UTC, datetime

from thaisign.verify.register import RegisterRow
from thaisign.verify.report import VerificationReport

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckedLetter:
    """What the desk shows of one uploaded letter."""

    report: VerificationReport
    row: RegisterRow
    picture: bytes | None  # PNG of the signed page, boxes marked
    picture_page: int | None  # 1-based
    boxes: int  # visible signature boxes on that page


_STATE: dict[str, object] = {}


def _init(anchors: list[bytes], revocation: str, timeout: float) -> None:
    from thaisign.verify.trust import TrustStore

    logging.disable(logging.WARNING)
    _STATE.update(trust=TrustStore.from_certificates(anchors), revocation=revocation, timeout=timeout)


def _check(items: list[tuple[str, bytes]], at: datetime | None) -> list[CheckedLetter]:
    from thaisign.desk.picture import signed_page_picture
    from thaisign.verify.cache import BatchCache
    from thaisign.verify.pdf import verify_pdf
    from thaisign.verify.trust import TrustStore

    trust = _STATE["trust"]
    assert isinstance(trust, TrustStore)
    revocation = str(_STATE["revocation"])
    moment = at or datetime.now(UTC)
    cache = BatchCache(trust, at=moment, revocation=revocation)
    out = []
    try:
        for name, data in items:
            report = verify_pdf(
                data,
                trust,
                at=moment,
                revocation=revocation,
                cache=cache,
                name=name,
                timeout=float(_STATE["timeout"]),  # type: ignore[arg-type]
            )
            picture = None
            if report.error is None:
                try:
                    picture = signed_page_picture(data)
                except Exception:  # a page PDFium cannot draw: the verdict stands without a picture
                    logger.debug("no picture for %s", name, exc_info=True)
            out.append(
                CheckedLetter(
                    report,
                    RegisterRow.from_report(report, data=data),
                    picture.png if picture else None,
                    picture.page + 1 if picture else None,
                    len(picture.boxes) if picture else 0,
                )
            )
    finally:
        cache.close()
    return out


class CheckPool:
    """Worker processes that check letters; made once per desk, closed with it."""

    def __init__(self, anchors: list[bytes], *, revocation: str, timeout: float, workers: int = 1) -> None:
        self._args = (anchors, revocation, timeout)
        self._workers = max(1, workers)
        self._timeout = timeout
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init,
                initargs=self._args,
            )
        return self._pool

    def check(self, items: list[tuple[str, bytes]], at: datetime | None) -> list[CheckedLetter]:
        """Check ``items`` (name, bytes), spread over the workers; results in input order."""
        if not items:
            return []
        n = min(self._workers, len(items))
        chunks = [items[i::n] for i in range(n)]
        limit = 30 + (self._timeout + 5) * len(items)
        try:
            futures = [self._executor().submit(_check, chunk, at) for chunk in chunks]
            parts = [f.result(timeout=limit) for f in futures]
        except (concurrent.futures.process.BrokenProcessPool, concurrent.futures.TimeoutError):
            self.close()  # a worker died or hung: start afresh next time
            raise
        out: list[CheckedLetter | None] = [None] * len(items)
        for k, part in enumerate(parts):
            for j, letter in enumerate(part):
                out[k + j * n] = letter
        return [x for x in out if x is not None]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            for proc in list(getattr(self._pool, "_processes", {}).values()):
                proc.kill()
            self._pool = None
