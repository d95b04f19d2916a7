"""Bulk issuance from a CSV file: one row per officer, idempotent by employee ID.

Columns (header row required; only ``name_th``, ``position`` and ``employee_id`` are needed)::

    employee_id,name_th,position,given_name,surname,name_en,ou,email,days,csr,key

A row with ``csr`` (a path, relative to the CSV file) gets ``OUT/<employee_id>.pem``; a row
without gets a new key (``key``, default ``ec-p256``) in ``OUT/<employee_id>.p12``, encrypted
with the batch passphrase, plus the certificate.

Crash safety: rows are issued in chunks. A new key is first written to a hidden pending file,
then the chunk's certificates are committed to the store in one transaction, then files are
moved/written into place atomically. A re-run skips employee IDs that already hold a valid
certificate, promotes pending key files whose certificate is in the store, discards the others,
and rewrites any missing certificate file from the store.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from thaisign._fs import atomic_write, read_input
from thaisign._secrets import check_new_passphrase
from thaisign._text import visible
from thaisign.ca._batch_outputs import check_outputs, pem_of, sync_dir, write_quick
from thaisign.ca.authority import Authority, IssuedOfficer, load_csr
from thaisign.ca.profiles import OfficerProfile
from thaisign.ca.store import NewCertificate
from thaisign.errors import InputError, SecretError, ThaisignError
from thaisign.keys import KeySpec

CHUNK = 256
COLUMNS = (
    "employee_id",
    "name_th",
    "position",
    "given_name",
    "surname",
    "name_en",
    "ou",
    "email",
    "days",
    "csr",
    "key",
)
_PENDING_SUFFIX = ".p12.pending"


@dataclass(frozen=True)
class BatchRow:
    """One valid CSV row."""

    line: int
    officer: OfficerProfile
    csr_path: Path | None
    key: KeySpec


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


@dataclass
class BatchResult:
    """What a batch did: issued (line, employee ID, serial hex), skipped, bad rows, files restored."""

    issued: list[tuple[int, str, str]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    restored_files: int = 0
    #: output files a re-run put right, and what it could not: (line, employee ID, what)
    repaired: list[tuple[int, str, str]] = field(default_factory=list)
    problems: list[tuple[int, str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "issued": [{"line": ln, "employee_id": e, "serial": s} for ln, e, s in self.issued],
            "skipped": [{"line": ln, "employee_id": e} for ln, e in self.skipped],
            "errors": [{"line": e.line, "error": e.message} for e in self.errors],
            "restored_files": self.restored_files,
            "repaired": [{"line": ln, "employee_id": e, "what": w} for ln, e, w in self.repaired],
            "problems": [{"line": ln, "employee_id": e, "problem": w} for ln, e, w in self.problems],
        }


_SAFE_NAME = re.compile(r"[A-Za-z0-9.-]")


def file_stem(employee_id: str) -> str:
    """The file name (without extension) for an employee ID: injective, safe on any file system.

    Letters, digits, ``-`` and ``.`` (not leading) stay; every other byte becomes ``_XX`` (hex).
    Employee IDs cannot contain ``_``, so two IDs never share a name: ``A/1`` -> ``A_2F1``,
    ``A=1`` -> ``A_3D1``.
    """
    out = []
    for i, ch in enumerate(employee_id):
        if _SAFE_NAME.fullmatch(ch) and not (i == 0 and ch == "."):
            out.append(ch)
        else:
            out.extend(f"_{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def legacy_file_stem(employee_id: str) -> str:
    """The name thaisign gave files before names were injective (``A/1`` and ``A=1`` -> ``A_1``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", employee_id)


#: A CSR is a few kB; a csr column must not make the batch read a big file.
MAX_CSR_BYTES = 64 * 1024


def _csr_path(base: Path, text: str) -> Path:
    """The CSR file a ``csr`` cell names, which must lie inside the CSV's folder."""
    shown = visible(text, 80)
    rel = Path(text)
    if rel.is_absolute():
        raise InputError(
            f"csr path {shown} is absolute", hint="give the CSR's name relative to the CSV's folder"
        )
    root = base.resolve()
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise InputError(
            f"csr path {shown} leads out of the CSV's folder", hint="put the CSR files beside the CSV"
        )
    return target


class _LineCounter:
    """The lines of a text, counting how many have been read (csv.reader's line_num goes stale
    when a row fails to parse)."""

    def __init__(self, text: str) -> None:
        self._lines = iter(text.splitlines(keepends=True))
        self.read = 0

    def __iter__(self) -> _LineCounter:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.read += 1
        return line


def read_rows(csv_path: Path) -> tuple[list[BatchRow], list[RowError]]:
    """Parse and check the CSV; bad rows come back as errors with their line number.

    Raises :class:`InputError` (before anything is issued) when two employee IDs would get file
    names that differ only in letter case (they collide on Windows and macOS file systems).
    """
    data = read_input(csv_path, "CSV file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{csv_path} is not UTF-8 text", hint="save the CSV as UTF-8") from None
    lines = _LineCounter(text)
    reader = csv.DictReader(lines)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("employee_id", "name_th", "position") if c not in header]
    if missing:
        raise InputError(
            f"{csv_path}: the header row lacks column(s) {', '.join(missing)}",
            hint="first line like: employee_id,name_th,position,email,csr",
        )
    unknown = [visible(h, 40) for h in header if h not in COLUMNS]
    if unknown:
        raise InputError(
            f"{csv_path}: unknown column(s) {', '.join(unknown)}", hint="use " + ",".join(COLUMNS)
        )
    rows: list[BatchRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    base = csv_path.parent
    while True:
        start = lines.read + 1  # the row begins on the next line
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(start, f"malformed CSV: {visible(str(exc), 100)}"))
            continue
        line = start
        rec = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if isinstance(v, str | None)}
        if None in raw:
            errors.append(RowError(line, "more fields than the header has columns"))
            continue
        if not any(rec.values()):
            continue  # blank line
        try:
            emp = rec.get("employee_id") or ""
            if not emp:
                raise InputError("employee_id is empty (batch rows need one, so re-runs can skip them)")
            if emp in seen:
                raise InputError(f"employee_id {visible(emp, 64)} repeats line {seen[emp]}")
            days_text = rec.get("days") or ""
            if days_text and not days_text.isdigit():
                raise InputError(f"days must be a whole number, not {visible(days_text, 20)!r}")
            officer = OfficerProfile(
                name_th=rec.get("name_th", ""),
                position=rec.get("position", ""),
                given_name=rec.get("given_name") or None,
                surname=rec.get("surname") or None,
                name_en=rec.get("name_en") or None,
                ou=rec.get("ou") or None,
                email=rec.get("email") or None,
                employee_id=emp,
                days=int(days_text) if days_text else None,
            ).validated()
            try:
                key = KeySpec.parse(rec.get("key") or "ec-p256")
            except ValueError:
                raise InputError(
                    f"unknown key type {visible(rec.get('key') or '', 20)!r}",
                    hint="use ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096",
                ) from None
            csr_path = _csr_path(base, rec["csr"]) if rec.get("csr") else None
            seen[emp] = line
            rows.append(BatchRow(line, officer, csr_path, key))
        except ThaisignError as exc:
            errors.append(RowError(line, exc.message))
    _refuse_name_collisions(csv_path, rows)
    return rows, errors


def _refuse_name_collisions(csv_path: Path, rows: list[BatchRow]) -> None:
    by_name: dict[str, BatchRow] = {}
    clashes = []
    for row in rows:
        name = file_stem(row.officer.employee_id or "").casefold()
        first = by_name.setdefault(name, row)
        if first is not row:
            a, b = first.officer.employee_id, row.officer.employee_id
            clashes.append(f"{a} (line {first.line}) and {b} (line {row.line})")
    if clashes:
        raise InputError(
            f"{csv_path}: employee IDs whose file names differ only in letter case: {'; '.join(clashes[:5])}"
            + (f" and {len(clashes) - 5} more" if len(clashes) > 5 else "")
            + "; nothing was issued",
            hint="their .p12/.pem files would overwrite each other on Windows or macOS: make the IDs differ",
        )


def _recover_pending(ca: Authority, out_dir: Path, passphrase: str | None) -> int:
    """Promote pending key files whose certificate reached the store; drop the others."""
    restored = 0
    # temporary files of writes cut short (atomic_write: ".<name>.<random>.tmp"): never outputs
    for stale in out_dir.glob(".*.tmp"):
        if re.fullmatch(r"\..+\.(pem|p12|p12\.pending)\.[^.]+\.tmp", stale.name):
            stale.unlink()
    for pending in sorted(out_dir.glob(f".*{_PENDING_SUFFIX}")):
        final = out_dir / (pending.name[1 : -len(_PENDING_SUFFIX)] + ".p12")
        keep = False
        if passphrase is not None:
            with contextlib.suppress(ValueError, TypeError):
                _, cert, _ = pkcs12.load_key_and_certificates(pending.read_bytes(), passphrase.encode())
                if cert is not None and ca.store.status_of(cert.serial_number).status == "good":
                    keep = True
        if keep and not final.exists():
            os.replace(pending, final)
            restored += 1
        else:
            pending.unlink()
    return restored


@dataclass(frozen=True)
class Prepared:
    """One row signed and ready to record: the certificate, or the row's error."""

    row: BatchRow
    cert: NewCertificate | None
    error: str | None = None
    p12: bytes | None = None  # the new key with this certificate, encrypted with the batch passphrase


def prepare_rows(
    ca: Authority, rows: list[BatchRow], now: dt.datetime | None, passphrase: str | None
) -> list[Prepared]:
    """Check CSRs / make keys and sign the certificates of ``rows`` (nothing recorded yet)."""
    chain = list(ca.chain)
    out: list[Prepared] = []
    for row in rows:
        try:
            key = None
            if row.csr_path is not None:
                public = load_csr(_read_csr(row.csr_path)).public_key()
                source = "csr"
            else:
                if str(row.key) not in ca.profile.allowed_keys:
                    raise InputError(f"{row.key} keys are not allowed by this CA's profile")
                key = row.key.generate()
                public = key.public_key()
                source = "new-key"
            if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
                raise InputError("the CSR's key is neither RSA nor ECDSA")
            cert = ca.prepare_officer(row.officer, public, source=source, now=now)
            p12 = None
            if key is not None:
                issued = IssuedOfficer(cert.serial, cert.der, key)
                p12 = issued.pkcs12(passphrase or "", chain, name=row.officer.name_th)
                # recorded in the issue entry: a re-run recognises the file without decrypting it
                cert = dataclasses.replace(cert, pkcs12_sha256=hashlib.sha256(p12).hexdigest())
            out.append(Prepared(row, cert, p12=p12))
        except ThaisignError as exc:
            out.append(Prepared(row, None, exc.message))
    return out


def _read_csr(path: Path) -> bytes:
    try:
        info = path.stat()
    except OSError:
        return read_input(path, "CSR")  # the usual one-line "not found"
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"CSR {path.name} is not a regular file")
    if info.st_size > MAX_CSR_BYTES:
        raise InputError(f"CSR {path.name} is {info.st_size} bytes: too big for a certificate request")
    return read_input(path, "CSR")


@dataclass(frozen=True)
class CaOpener:
    """How a worker process opens the same CA (its own key handle and store connection)."""

    directory: Path
    passphrase: str | None = field(default=None, repr=False)
    pin: str | None = field(default=None, repr=False)


_worker_ca: Authority | None = None


def _worker_init(opener: CaOpener) -> None:
    global _worker_ca
    _worker_ca = Authority.open(opener.directory, passphrase=opener.passphrase, pin=opener.pin)


def _worker_prepare(job: tuple[list[BatchRow], dt.datetime | None, str | None]) -> list[Prepared]:
    assert _worker_ca is not None
    rows, now, passphrase = job
    return prepare_rows(_worker_ca, rows, now, passphrase)


def _prepared_chunks(
    ca: Authority,
    todo: list[BatchRow],
    chunk: int,
    now: dt.datetime | None,
    passphrase: str | None,
    workers: int,
    opener: CaOpener | None,
) -> Iterator[list[Prepared]]:
    """Signed chunks in order: in this process, or from ``workers`` processes (spawned, not forked:
    an open database connection must not cross a fork)."""
    jobs = [(todo[i : i + chunk], now, passphrase) for i in range(0, len(todo), chunk)]
    if workers <= 1 or opener is None or len(jobs) < 2:
        for rows, when, pw in jobs:
            yield prepare_rows(ca, rows, when, pw)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(min(workers, len(jobs)), initializer=_worker_init, initargs=(opener,)) as pool:
        yield from pool.imap(_worker_prepare, jobs)


def issue_batch(
    ca: Authority,
    csv_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    passphrase: str | None = None,
    now: dt.datetime | None = None,
    on_progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
    workers: int = 1,
    opener: CaOpener | None = None,
) -> BatchResult:
    """Issue a certificate for every row of ``csv_path`` that does not hold one yet.

    ``passphrase`` encrypts the PKCS#12 files of rows without a CSR (required if there are any).
    With ``workers`` > 1 and an ``opener`` (the CA folder and its passphrase or PIN), that many
    processes sign while this one records and writes files.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, errors = read_rows(Path(csv_path))
    result = BatchResult(errors=list(errors))
    if any(r.csr_path is None for r in rows):
        if not passphrase:
            raise SecretError(
                "rows without a CSR get a new key in a PKCS#12, which needs a passphrase",
                hint="set THAISIGN_PASSPHRASE or pass --p12-passphrase-file",
            )
        check_new_passphrase(passphrase, "the passphrase for new PKCS#12 files")
    result.restored_files += _recover_pending(ca, out, passphrase)
    already = ca.store.issued_employee_ids()
    todo: list[BatchRow] = []
    for row in rows:
        emp = row.officer.employee_id or ""
        if emp in already:
            result.skipped.append((row.line, emp))
        else:
            todo.append(row)
    if result.skipped:  # a re-run: every key <-> certificate pair is checked, and repaired where it can be
        checked = check_outputs(
            ca, out, result.skipped, passphrase, stem=file_stem, legacy_stem=legacy_file_stem
        )
        result.restored_files += checked.restored_files
        result.repaired += checked.repaired
        result.problems += checked.problems
        if on_progress:
            on_progress(len(result.skipped))
    chain = list(ca.chain)
    for part in _prepared_chunks(ca, todo, chunk, now, passphrase, workers, opener):
        result.errors.extend(RowError(p.row.line, p.error) for p in part if p.error is not None)
        ready = [p for p in part if p.cert is not None]
        # 1. keys first, to hidden pending files (nothing a user would take for a finished output)
        for p in ready:
            if p.p12 is not None:
                atomic_write(
                    out / f".{file_stem(p.row.officer.employee_id or '')}{_PENDING_SUFFIX}", p.p12, 0o600
                )
        # 2. the store, in one transaction
        recorded = ca.record([p.cert for p in ready if p.cert is not None], now=now)
        # 3. outputs into place
        for p, cert in zip(ready, recorded, strict=True):
            stem = file_stem(p.row.officer.employee_id or "")
            if p.p12 is not None:
                pending = out / f".{stem}{_PENDING_SUFFIX}"
                if p.cert is not None and cert.serial != p.cert.serial:  # re-drawn after a collision
                    key, _, _ = pkcs12.load_key_and_certificates(p.p12, (passphrase or "").encode())
                    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                        raise InputError("cannot re-read a new key after a serial collision")
                    issued = IssuedOfficer(cert.serial, cert.der, key)
                    atomic_write(
                        pending, issued.pkcs12(passphrase or "", chain, p.row.officer.name_th), 0o600
                    )
                os.replace(pending, out / f"{stem}.p12")
            write_quick(out / f"{stem}.pem", pem_of(cert.der))
            result.issued.append((p.row.line, p.row.officer.employee_id or "", format(cert.serial, "x")))
        sync_dir(out)
        if on_progress:
            on_progress(len(part))
    result.errors.sort(key=lambda e: e.line)
    return result
