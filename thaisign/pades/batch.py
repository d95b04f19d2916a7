"""``sign_many``: sign many letters on all cores, the key loaded once per worker process.

>>> key = KeySource(p12="somchai.p12", passphrase=passphrase)
>>> for item in sign_many(["a.pdf", "b.pdf"], "signed/", key, SigningOptions(level="B-B")):
...     print(item.input, "ok" if item.ok else item.error)

One bad file does not stop the others: each result says what happened to its file.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thaisign._fs import GroupWriter, ensure_folder
from thaisign.errors import ThaisignError, UsageError
from thaisign.keys import Signer
from thaisign.pades.signer import SigningOptions, sign_pdf, signer_warnings


@dataclass(frozen=True)
class KeySource:
    """Where a worker finds the signing key: PKCS#12, PEM key + certificate, or a PKCS#11 URI.

    Secrets are kept out of ``repr`` so they are never logged.
    """

    p12: str | None = None
    key: str | None = None
    cert: str | None = None
    chain: str | None = None
    key_uri: str | None = None
    pkcs11_module: str | None = None
    passphrase: str | None = dataclasses.field(default=None, repr=False)
    pin: str | None = dataclasses.field(default=None, repr=False)

    def load(self) -> Signer:
        """Open the key (parse the file or log in to the token)."""
        chosen = [x for x in (self.p12, self.key, self.key_uri) if x]
        if len(chosen) != 1:
            raise UsageError("give exactly one key: --p12 FILE, --key FILE --cert FILE, or --key-uri URI")
        if self.p12:
            return Signer.from_pkcs12(self.p12, self.passphrase)
        if self.key:
            if not self.cert:
                raise UsageError("--key needs --cert (and usually --chain)")
            return Signer.from_pem(self.key, self.cert, self.chain, self.passphrase)
        assert self.key_uri is not None
        return Signer.from_pkcs11(self.key_uri, pin=self.pin, module=self.pkcs11_module)


@dataclass(frozen=True)
class BatchItem:
    """The outcome for one input file."""

    input: Path
    output: Path | None
    ok: bool
    error: str | None = None
    field: str | None = None
    level: str | None = None
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": str(self.input),
            "output": str(self.output) if self.output else None,
            "ok": self.ok,
            "error": self.error,
            "field": self.field,
            "level": self.level,
            "seconds": round(self.seconds, 4),
            "warnings": list(self.warnings),
        }


#: letters made durable together (one sync per group; see sign_group)
_GROUP = 16


def _refuse_early(signer: Signer, options: SigningOptions) -> None:
    """Check the signer once for the whole batch (the answer is cached, and inherited by forked
    workers); with ``signer_check="strict"`` a revoked or untrusted signer refuses it at once."""
    import datetime as dt

    if options.signer_check != "off":
        signer_warnings(signer, options, options.signing_time or dt.datetime.now(dt.UTC))


_worker_signer: Signer | None = None
_worker_options: SigningOptions | None = None


def _init_worker(source: KeySource | None, options: SigningOptions) -> None:
    """Open the key in a new worker, or (``source`` None) keep the one inherited by fork."""
    global _worker_signer, _worker_options
    if source is not None:
        _worker_signer = source.load()
    _worker_options = options


def _sign_one(
    signer: Signer, src: Path, dst: Path, options: SigningOptions, in_place: bool, group: GroupWriter
) -> BatchItem:
    start = time.perf_counter()
    try:
        result = sign_pdf(src, dst, signer, options, in_place=in_place, group=group)
    except ThaisignError as exc:
        return BatchItem(src, None, False, str(exc), seconds=time.perf_counter() - start)
    except Exception as exc:  # one broken file must not stop the batch
        return BatchItem(src, None, False, f"internal error: {type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    return BatchItem(src, dst, True, None, result.field, result.level, seconds, result.warnings)


def sign_group(
    signer: Signer, pairs: list[tuple[Path, Path]], options: SigningOptions, in_place: bool
) -> list[BatchItem]:
    """Sign ``pairs`` and make the outputs durable together: each written to a temporary file, one
    file-system sync, then all renamed into place and the folder synced (``GroupWriter``). A killed
    run leaves complete outputs or none, as one fsync per file would; it costs one sync, not N."""
    group = GroupWriter()
    items = [_sign_one(signer, src, dst, options, in_place, group) for src, dst in pairs]
    try:
        group.commit()
    except OSError as exc:
        error = f"cannot write the signed PDFs: {exc.strerror or exc}"
        return [dataclasses.replace(i, ok=False, output=None, error=error) if i.ok else i for i in items]
    return items


def _worker_sign(
    pairs: list[tuple[Path, Path]], in_place: bool
) -> tuple[list[BatchItem], list[tuple[str, Path]]]:
    """Sign a chunk of files in a worker (the key and options were set up once per worker). The
    outputs stay in their temporary files: the parent makes them durable and moves them into
    place (one sync for what several workers wrote, while they go on signing)."""
    assert _worker_signer is not None and _worker_options is not None
    group = GroupWriter()
    items = [_sign_one(_worker_signer, src, dst, _worker_options, in_place, group) for src, dst in pairs]
    return items, group.hand_over()


def plan_outputs(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str] | None,
    *,
    in_place: bool = False,
) -> list[tuple[Path, Path]]:
    """(input, output) pairs: ``out_dir/<name>``, or the input itself with ``in_place``."""
    pairs: list[tuple[Path, Path]] = []
    if in_place:
        return [(Path(i), Path(i)) for i in inputs]
    if out_dir is None:
        raise UsageError("give --out-dir DIR for several files (or --in-place)")
    out = ensure_folder(out_dir)
    seen: dict[str, Path] = {}
    for i in inputs:
        src = Path(i)
        if src.name in seen:
            raise UsageError(f"two inputs are both named {src.name}: {seen[src.name]} and {src}")
        seen[src.name] = src
        pairs.append((src, out / src.name))
    return pairs


def sign_many(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str] | None,
    key: KeySource | Signer,
    options: SigningOptions | None = None,
    *,
    workers: int | None = None,
    in_place: bool = False,
    on_done: Callable[[BatchItem], None] | None = None,
) -> list[BatchItem]:
    """Sign every file in ``inputs`` into ``out_dir`` (same file names), in input order.

    ``key`` is a :class:`KeySource` (each worker process opens the key once) or an open
    :class:`Signer` (signs in this process). ``workers`` defaults to the number of CPUs.
    ``on_done`` is called as each file finishes (e.g. to advance a progress bar).
    """
    opts = options or SigningOptions()
    pairs = plan_outputs(inputs, out_dir, in_place=in_place)
    results: dict[int, BatchItem] = {}
    n = workers or os.cpu_count() or 1
    n = max(1, min(n, len(pairs)))

    def done(index: int, item: BatchItem) -> None:
        results[index] = item
        if on_done is not None:
            on_done(item)

    if isinstance(key, Signer) or n == 1:
        signer = key if isinstance(key, Signer) else key.load()
        try:
            _refuse_early(signer, opts)
            for start in range(0, len(pairs), _GROUP):
                part = pairs[start : start + _GROUP]
                for offset, item in enumerate(sign_group(signer, part, opts, in_place)):
                    done(start + offset, item)
        finally:
            if not isinstance(key, Signer):
                signer.close()
        return [results[i] for i in range(len(pairs))]
    global _worker_signer
    # A software key is opened here once and inherited by the forked workers, after signing the
    # first letter here to warm every cache (CMS template, font subset, shaping) for them too.
    # A token key is opened by each worker itself: PKCS#11 sessions do not survive fork.
    inherit = key.key_uri is None
    first = 0
    if inherit:
        _worker_signer = key.load()
        _refuse_early(_worker_signer, opts)
        done(0, sign_group(_worker_signer, [pairs[0]], opts, in_place)[0])
        first = 1
    else:
        with key.load() as opened:  # fail fast, with one clear error, on a wrong PIN
            _refuse_early(opened, opts)  # (and the answer is cached for the forked workers)
    import multiprocessing

    context = multiprocessing.get_context("fork")
    # small chunks: little inter-process traffic, yet an even load and a lively progress bar
    size = max(1, min(_GROUP, (len(pairs) - first) // (n * 4)))
    chunks = [list(range(start, min(start + size, len(pairs)))) for start in range(first, len(pairs), size)]
    group = GroupWriter()
    waiting: list[tuple[int, BatchItem]] = []  # signed, not yet durable and in place

    def commit() -> None:
        try:
            group.commit()
            settled = waiting
        except OSError as exc:
            error = f"cannot write the signed PDFs: {exc.strerror or exc}"
            settled = [
                (i, dataclasses.replace(item, ok=False, output=None, error=error) if item.ok else item)
                for i, item in waiting
            ]
        for index, item in settled:
            done(index, item)
        waiting.clear()

    try:
        with ProcessPoolExecutor(
            max_workers=n,
            mp_context=context,
            initializer=_init_worker,
            initargs=(None if inherit else key, opts),
        ) as pool:
            futures = {
                pool.submit(_worker_sign, [pairs[i] for i in chunk], in_place): chunk for chunk in chunks
            }
            for future in as_completed(futures):
                chunk = futures[future]
                try:
                    items, written = future.result()
                    group.adopt(written)
                except Exception as exc:  # a worker died
                    error = f"worker failed: {type(exc).__name__}: {exc}"
                    items = [BatchItem(pairs[i][0], None, False, error) for i in chunk]
                waiting.extend(zip(chunk, items, strict=True))
                if len(group) >= _GROUP:
                    commit()
            commit()
    finally:
        _worker_signer = None
        group.discard()
    return [results[i] for i in range(len(pairs))]
