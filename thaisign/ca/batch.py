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

import base64
import contextlib
import csv
import datetime as dt
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from thaisign._fs import atomic_write, read_input
from thaisign._secrets import check_new_passphrase
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

    def to_json(self) -> dict[str, object]:
        return {
            "issued": [{"line": ln, "employee_id": e, "serial": s} for ln, e, s in self.issued],
            "skipped": [{"line": ln, "employee_id": e} for ln, e in self.skipped],
            "errors": [{"line": e.line, "error": e.message} for e in self.errors],
            "restored_files": self.restored_files,
        }


def file_stem(employee_id: str) -> str:
    """A safe file name for an employee ID."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", employee_id)


def read_rows(csv_path: Path) -> tuple[list[BatchRow], list[RowError]]:
    """Parse and check the CSV; bad rows come back as errors with their line number."""
    data = read_input(csv_path, "CSV file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{csv_path} is not UTF-8 text", hint="save the CSV as UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("employee_id", "name_th", "position") if c not in header]
    if missing:
        raise InputError(
            f"{csv_path}: the header row lacks column(s) {', '.join(missing)}",
            hint="first line like: employee_id,name_th,position,email,csr",
        )
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise InputError(
            f"{csv_path}: unknown column(s) {', '.join(unknown)}", hint="use " + ",".join(COLUMNS)
        )
    rows: list[BatchRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    base = csv_path.parent
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(reader.line_num, f"malformed CSV: {exc}"))
            continue
        line = reader.line_num
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
                raise InputError(f"employee_id {emp} repeats line {seen[emp]}")
            days_text = rec.get("days") or ""
            if days_text and not days_text.isdigit():
                raise InputError(f"days must be a whole number, not {days_text!r}")
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
            except ValueError as exc:
                raise InputError(str(exc)) from None
            csr_path = (base / rec["csr"]) if rec.get("csr") else None
            seen[emp] = line
            rows.append(BatchRow(line, officer, csr_path, key))
        except ThaisignError as exc:
            errors.append(RowError(line, exc.message))
    return rows, errors


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
                public = load_csr(read_input(row.csr_path, "CSR")).public_key()
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
            out.append(Prepared(row, cert, p12=p12))
        except ThaisignError as exc:
            out.append(Prepared(row, None, exc.message))
    return out


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
            result.restored_files += _restore_cert_file(ca, out, emp)
            if on_progress:
                on_progress(1)
        else:
            todo.append(row)
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
            _write_quick(out / f"{stem}.pem", _pem(cert.der))
            result.issued.append((p.row.line, p.row.officer.employee_id or "", format(cert.serial, "x")))
        _sync_dir(out)
        if on_progress:
            on_progress(len(part))
    result.errors.sort(key=lambda e: e.line)
    return result


def _pem(der: bytes) -> bytes:
    """PEM of a DER certificate (the CA made the DER, so no need to parse it again)."""
    b64 = base64.b64encode(der)
    lines = b"\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return b"-----BEGIN CERTIFICATE-----\n" + lines + b"\n-----END CERTIFICATE-----\n"


def _write_quick(path: Path, data: bytes) -> None:
    """Write a certificate file atomically (temp file + rename), without an fsync per file.

    A killed process leaves either the old state or the whole file; the store was committed
    before. After a power loss a file may come back empty: a re-run rewrites it from the store.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _cert_file_ok(path: Path) -> bool:
    try:
        x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return False
    return True


def _restore_cert_file(ca: Authority, out: Path, employee_id: str) -> int:
    target = out / f"{file_stem(employee_id)}.pem"
    if _cert_file_ok(target):
        return 0
    valid = [c for c in ca.store.certificates(employee_id=employee_id) if c.revoked_at is None]
    if not valid:
        return 0
    _write_quick(target, _pem(valid[-1].der))
    return 1
