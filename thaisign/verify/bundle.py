"""Any signed file, and filing bundles: a folder or ZIP of signed PDFs, ``.p7s`` files with their
data, and ASiC containers, checked as one register.

>>> report = verify_file("evidence.mp4.p7s", trust)          # PDF, CAdES or ASiC, by what it is
>>> bundle = verify_bundle("case-2569-123/", trust)
>>> [(row.file, row.covered_by, row.verdict) for row in bundle.rows], bundle.unsigned

:func:`verify_file` picks the verifier by the file's name and first bytes. :func:`verify_bundle`
walks a folder (symbolic links are not followed) or reads a ZIP (bounded as every container,
nested ZIPs are not opened) and verifies each item: PDFs (with :func:`verify_many`, in
parallel), each ``.p7s``/``.p7m`` against the file beside it (``x.pdf.p7s`` → ``x.pdf``), each
container. The register has one row per data file: who signed it, when, what covers it (its
own PAdES signature, the ``.p7s`` beside it, or the container and its signature) and the
verdict; files that nothing covers are :attr:`BundleResult.unsigned`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from thaisign.errors import InputError
from thaisign.verify.cache import BatchCache
from thaisign.verify.kinds import (  # noqa: F401 - re-exported: bundle.kind_of, bundle.PDF, ...
    ASIC,
    ASIC_SUFFIXES,
    CADES,
    CADES_SUFFIXES,
    OTHER,
    PDF,
    ZIP,
    kind_of,
)
from thaisign.verify.policy import ValidationPolicy
from thaisign.verify.register import RegisterRow
from thaisign.verify.report import Verdict, VerificationReport
from thaisign.verify.trust import TrustStore

#: at most this many files in one bundle
MAX_BUNDLE_FILES = 20_000
#: items of a ZIP bundle are read into memory up to this size (a PDF or an inner container)
MAX_ITEM = 512 * 1024 * 1024

OnResult = Callable[[VerificationReport], None]


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(1024)
    except OSError:
        return b""


def verify_file(
    source: str | os.PathLike[str],
    trust: TrustStore | None = None,
    *,
    data: str | os.PathLike[str] | None = None,
    at: datetime | None = None,
    revocation: str = "online",
    timeout: float | None = None,
    cache: BatchCache | None = None,
    policy: ValidationPolicy | None = None,
) -> VerificationReport:
    """Verify one signed file of any kind thaisign knows: a PDF letter, a CAdES signature
    (``data`` for a detached one, else the file beside it) or an ASiC container."""
    path = Path(source)
    kind = kind_of(path.name, _head(path))
    kw: dict[str, Any] = {"at": at, "revocation": revocation, "cache": cache, "policy": policy}
    if timeout is not None:
        kw["timeout"] = timeout
    if kind == CADES:
        from thaisign.verify.cades import verify_cades

        return verify_cades(path, trust, data=data, **kw)
    if data is not None:
        raise InputError(f"--data is for a detached signature (.p7s), and {path.name} is not one")
    if kind == ASIC:
        from thaisign.verify.asic import verify_asic

        return verify_asic(path, trust, **kw)
    from thaisign.verify.pdf import verify_pdf

    return verify_pdf(path, trust, **kw)


# --- bundles -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleResult:
    """A filing bundle checked: the reports of its signed items and its register."""

    source: str
    reports: tuple[VerificationReport, ...]
    rows: tuple[RegisterRow, ...]  # one per data file (and per signature whose data is missing)
    unsigned: tuple[str, ...]  # files nothing covers

    @property
    def passed(self) -> bool:
        """True only when every row is TOTAL_PASSED (and so nothing is unsigned)."""
        return bool(self.rows) and all(r.verdict == Verdict.TOTAL_PASSED.value for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bundle": self.source,
            "register": [r.to_dict() for r in self.rows],
            "unsigned": list(self.unsigned),
        }


@dataclass
class _Item:
    """One file of a bundle: its name in the bundle and how to get at it."""

    name: str
    kind: str
    path: Path | None = None  # a folder bundle's file
    entry: Any = None  # a ZIP bundle's entry
    note: str | None = None  # why it is not verified (a link, a nested ZIP)


def _walk(folder: Path) -> Iterator[_Item]:
    count = 0
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            count += 1
            if count > MAX_BUNDLE_FILES:
                raise InputError(f"the folder holds more than {MAX_BUNDLE_FILES} files; check it in parts")
            p = Path(root) / name
            rel = p.relative_to(folder).as_posix()
            if p.is_symlink():
                yield _Item(rel, OTHER, p, note="a symbolic link, not followed")
                continue
            yield _Item(rel, kind_of(name, _head(p)), p)


def data_name_for(signature: str, names: set[str]) -> str | None:
    """The bundle file a detached signature stands beside (``x.pdf.p7s`` → ``x.pdf``)."""
    stem = signature
    for _ in range(5):
        base, dot, _suffix = stem.rpartition(".")
        if not dot or not base or base.endswith("/"):
            return None
        stem = base
        if stem in names:
            return stem
    return None


def verify_bundle(
    source: str | os.PathLike[str],
    trust: TrustStore | None = None,
    *,
    at: datetime | None = None,
    revocation: str = "online",
    policy: ValidationPolicy | None = None,
    workers: int = 1,
    on_result: OnResult | None = None,
) -> BundleResult:
    """Check every file of a folder or a ZIP bundle (see the module docstring)."""
    from thaisign.files.container import ContainerError, open_container

    path = Path(source)
    trust = trust if trust is not None else TrustStore.default()
    if path.is_dir():
        items = list(_walk(path))
        return _check(str(source), items, None, trust, at, revocation, policy, workers, on_result)
    try:
        box = open_container(path, str(source))
    except ContainerError as exc:
        report = VerificationReport(str(source), error=exc.message, error_th=exc.th, format="zip")
        row = RegisterRow.from_report(report)
        return BundleResult(str(source), (report,), (row,), ())
    with box:
        items = []
        for entry in box.entries:
            if entry.is_dir:
                continue
            from thaisign.files.container import entry_label

            head = b""
            if entry.size and kind_of(entry.name) == OTHER:
                with box.open(entry) as fh:
                    head = fh.read(1024)
            kind = kind_of(entry.name, head)
            note = (
                "a ZIP inside the bundle is not opened; unpack it and check it on its own"
                if kind == ZIP
                else None
            )
            items.append(_Item(entry_label(entry), kind, entry=entry, note=note))
        return _check(str(source), items, box, trust, at, revocation, policy, 1, on_result)


def _check(
    label: str,
    items: list[_Item],
    box: Any,
    trust: TrustStore,
    at: datetime | None,
    revocation: str,
    policy: ValidationPolicy | None,
    workers: int,
    on_result: OnResult | None,
) -> BundleResult:
    from thaisign.verify.batch import verify_many
    from thaisign.verify.pdf import verify_pdf

    names = {i.name for i in items}
    by_item: dict[str, VerificationReport] = {}
    pdfs = [i for i in items if i.kind == PDF and i.note is None]
    if box is None and pdfs:  # a folder's PDFs: the batch verifier, in parallel when it pays
        paths = [i.path for i in pdfs if i.path is not None]
        kw: dict[str, Any] = {"at": at, "revocation": revocation, "policy": policy}
        for item, report in zip(
            pdfs, verify_many(paths, trust, workers=workers, on_result=on_result, **kw), strict=True
        ):
            by_item[item.name] = report
    cache = BatchCache(trust, at=at, revocation=revocation, policy=policy)
    try:
        for item in items:
            if item.note is not None or item.name in by_item:
                continue
            if item.kind == PDF:
                data = box.read(item.entry, limit=MAX_ITEM)
                report = verify_pdf(
                    data,
                    trust,
                    at=at,
                    revocation=revocation,
                    cache=cache,
                    name=f"{label}/{item.name}",
                    policy=policy,
                )
            elif item.kind == CADES:
                report = _cades(
                    item,
                    data_name_for(item.name, names),
                    items,
                    box,
                    label,
                    trust,
                    at,
                    revocation,
                    policy,
                    cache,
                )
            elif item.kind == ASIC:
                report = _container(item, box, label, trust, at, revocation, policy, cache)
            else:
                continue
            by_item[item.name] = report
            if on_result is not None:
                on_result(report)
    finally:
        cache.close()
    covered_by: dict[str, str] = {}  # data file -> the signature file beside it
    for item in items:
        if item.kind == CADES and item.name in by_item:
            data = data_name_for(item.name, names)
            if data is not None:
                covered_by.setdefault(data, item.name)
    rows: list[RegisterRow] = []
    for item in items:
        found = by_item.get(item.name)
        if item.name in covered_by:
            signature = covered_by[item.name]
            rows.append(_row(by_item[signature], item.name, signature))
        if found is None:
            if item.name not in covered_by:
                rows.append(RegisterRow(file=item.name, verdict=Verdict.NO_SIGNATURE.value))
        elif item.kind == CADES:
            if data_name_for(item.name, names) is None:  # its data is missing: the signature's own row
                rows.append(_row(found, item.name, item.name))
        elif item.kind == ASIC:
            rows.extend(_container_rows(found, item.name))
        elif found.signatures or item.name not in covered_by:  # a PDF: its own signatures
            rows.append(_row(found, item.name, None))
    unsigned = tuple(r.file for r in rows if r.verdict == Verdict.NO_SIGNATURE.value)
    reports = tuple(by_item[i.name] for i in items if i.name in by_item)
    return BundleResult(label, reports, tuple(rows), unsigned)


def _row(report: VerificationReport, file: str, covered_by: str | None) -> RegisterRow:
    row = RegisterRow.from_report(report)
    return RegisterRow(
        file=file,
        verdict=row.verdict,
        subject=row.subject,
        signer=row.signer,
        position=row.position,
        agency=row.agency,
        signing_time=row.signing_time,
        signatures=row.signatures,
        covered_by=covered_by,
    )


def _cades(
    item: _Item,
    data: str | None,
    items: list[_Item],
    box: Any,
    label: str,
    trust: TrustStore,
    at: datetime | None,
    revocation: str,
    policy: ValidationPolicy | None,
    cache: BatchCache,
) -> VerificationReport:
    from thaisign.verify.cades import verify_cades

    kw: dict[str, Any] = {"at": at, "revocation": revocation, "policy": policy, "cache": cache}
    data_item = next((i for i in items if i.name == data), None) if data else None
    if box is None:
        assert item.path is not None
        data_path = data_item.path if data_item is not None else None
        return verify_cades(item.path, trust, data=data_path, name=f"{label}/{item.name}", **kw)
    signature = box.read(item.entry)
    digests = None
    if data_item is not None:
        entry = data_item.entry

        def digests(algos: list[str]) -> dict[str, bytes]:
            return dict(box.digest(entry, algos).digests)

    return verify_cades(
        signature, trust, name=f"{label}/{item.name}", data_digests=digests, data_name=data, **kw
    )


def _container(
    item: _Item,
    box: Any,
    label: str,
    trust: TrustStore,
    at: datetime | None,
    revocation: str,
    policy: ValidationPolicy | None,
    cache: BatchCache,
) -> VerificationReport:
    from thaisign.files.container import ContainerError, open_container
    from thaisign.verify.asic import verify_asic

    kw: dict[str, Any] = {"at": at, "revocation": revocation, "policy": policy, "cache": cache}
    name = f"{label}/{item.name}"
    if box is None:
        assert item.path is not None
        return verify_asic(item.path, trust, name=name, **kw)
    try:
        inner = open_container(io.BytesIO(box.read(item.entry, limit=MAX_ITEM)), name)
    except ContainerError as exc:
        return VerificationReport(name, error=exc.message, error_th=exc.th, format="asic-e")
    with inner:
        return verify_asic(item.name, trust, name=name, container=inner, **kw)


def _container_rows(report: VerificationReport, name: str) -> list[RegisterRow]:
    """One row per data file of a container: the first signature that covers it, the worst
    verdict of those that do; NO_SIGNATURE for what none covers."""
    if report.error is not None or not report.data:
        return [_row(report, name, None)]
    rows = []
    for data in report.data:
        sigs = [s for s in report.signatures if s.kind == "signature" and data in s.covers]
        if not sigs:
            rows.append(RegisterRow(file=f"{name}/{data}", verdict=Verdict.NO_SIGNATURE.value))
            continue
        part = VerificationReport(report.file, tuple(sigs), format=report.format)
        rows.append(_row(part, f"{name}/{data}", f"{name}: {sigs[0].field}"))
    return rows
