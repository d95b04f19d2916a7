"""Folders and batches: ``verify_many`` over files and folders, sharing work across the batch.

>>> reports = verify_many(["inbox/"], TrustStore.default(), revocation="offline")

Files are verified in one process with one :class:`~thaisign.verify.cache.BatchCache` (one
revocation answer per signer certificate, fetched OCSP/CRL reused), or spread over
``workers`` processes, each with its own cache. Every file has its own time budget.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path

from thaisign.errors import InputError
from thaisign.verify.cache import BatchCache
from thaisign.verify.pdf import DEFAULT_TIMEOUT, _check_mode, verify_pdf
from thaisign.verify.policy import ValidationPolicy
from thaisign.verify.report import VerificationReport
from thaisign.verify.trust import TrustStore

OnResult = Callable[[VerificationReport], None]


def iter_pdfs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The PDF files named by ``paths``: files as given, folders searched recursively for *.pdf."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() == ".pdf"))
        elif p.exists():
            out.append(p)
        else:
            raise InputError(f"file or folder not found: {p}", hint="check the path")
    return out


def verify_many(
    paths: Iterable[str | os.PathLike[str]],
    trust: TrustStore | None = None,
    *,
    at: datetime | None = None,
    revocation: str = "online",
    timeout: float | None = DEFAULT_TIMEOUT,
    workers: int = 1,
    on_result: OnResult | None = None,
    policy: ValidationPolicy | None = None,
) -> list[VerificationReport]:
    """Verify every PDF named by ``paths`` (folders recursively); reports in input order."""
    _check_mode(revocation)
    files = iter_pdfs(paths)
    trust = trust if trust is not None else TrustStore.default()
    if workers > 1 and len(files) >= 2 * workers:
        return _parallel(files, trust, at, revocation, timeout, workers, on_result, policy)
    cache = BatchCache(trust, at=at, revocation=revocation, policy=policy)
    reports: list[VerificationReport] = []
    try:
        for f in files:
            report = verify_pdf(f, trust, at=at, revocation=revocation, timeout=timeout, cache=cache)
            reports.append(report)
            if on_result is not None:
                on_result(report)
    finally:
        cache.close()
    return reports


# --- worker processes ------------------------------------------------------------------------

_WORKER: dict[str, object] = {}


def _init_worker(
    anchors: Sequence[bytes],
    at: datetime | None,
    revocation: str,
    timeout: float | None,
    policy: ValidationPolicy | None,
) -> None:
    import logging

    logging.disable(logging.WARNING)
    trust = TrustStore.from_certificates(anchors)
    cache = BatchCache(trust, at=at, revocation=revocation, policy=policy)
    _WORKER.update(trust=trust, cache=cache, at=at)
    _WORKER.update(revocation=revocation, timeout=timeout)


def _work(path: str) -> VerificationReport:
    return verify_pdf(
        path,
        _WORKER["trust"],  # type: ignore[arg-type]
        at=_WORKER["at"],  # type: ignore[arg-type]
        revocation=str(_WORKER["revocation"]),
        timeout=_WORKER["timeout"],  # type: ignore[arg-type]
        cache=_WORKER["cache"],  # type: ignore[arg-type]
    )


def _after_fork() -> None:
    """In a forked worker: keep the parent's warmed-up cache, but not its loop or connections."""
    import logging

    logging.disable(logging.WARNING)
    cache = _WORKER["cache"]
    assert isinstance(cache, BatchCache)
    cache.after_fork()


def _parallel(
    files: list[Path],
    trust: TrustStore,
    at: datetime | None,
    revocation: str,
    timeout: float | None,
    workers: int,
    on_result: OnResult | None,
    policy: ValidationPolicy | None = None,
) -> list[VerificationReport]:
    """Spread ``files`` over worker processes.

    On POSIX the first few files are verified here first, so the workers (forked afterwards)
    inherit a cache that already knows the batch's signers; elsewhere each worker starts its own.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.context import BaseContext

    reports: list[VerificationReport] = []

    def collect(report: VerificationReport) -> None:
        reports.append(report)
        if on_result is not None:
            on_result(report)

    if os.name == "posix":
        cache = BatchCache(trust, at=at, revocation=revocation, policy=policy)
        warm, rest = files[: 4 * workers], files[4 * workers :]
        try:
            for f in warm:
                collect(verify_pdf(f, trust, at=at, revocation=revocation, timeout=timeout, cache=cache))
            cache.reset_loop()
            _WORKER.update(trust=trust, cache=cache, at=cache.moment, revocation=revocation, timeout=timeout)
            ctx: BaseContext = multiprocessing.get_context("fork")
            initializer: Callable[..., None] = _after_fork
            initargs: tuple[object, ...] = ()
            paths = rest
        finally:
            cache.close()
    else:  # pragma: no cover - spawn platforms
        ctx = multiprocessing.get_context("spawn")
        anchors = [a.certificate.dump() for a in trust.anchors]
        initializer, initargs = _init_worker, (anchors, at, revocation, timeout, policy)
        paths = files
    if paths:
        chunk = max(1, min(64, len(paths) // (workers * 4)))
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=initializer, initargs=initargs
        ) as pool:
            for report in pool.map(_work, [str(f) for f in paths], chunksize=chunk):
                collect(report)
    return reports
