"""A batch re-run checks every output pair: ``<stem>.pem`` holds the officer's current certificate and,
for a key the CA made, ``<stem>.p12`` holds that certificate's private key.

Certificates are rewritten from the store. A PKCS#12 whose bytes match the SHA-256 recorded in its
issue entry is taken as is; any other is opened with the batch passphrase: an older certificate
beside the right key is replaced, a key found under another name (a file named by an older
thaisign, whose names could collide, or two files swapped) is moved to its owner's name, and a key
found nowhere is reported with what to do. Nothing is deleted that is not kept elsewhere first.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from thaisign._fs import atomic_write
from thaisign.ca.authority import Authority, IssuedOfficer
from thaisign.ca.store import IssuedCertificate

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class OutputCheck:
    """What the check found and did: files restored, repairs and problems as (line, employee, text)."""

    restored_files: int = 0
    repaired: list[tuple[int, str, str]] = field(default_factory=list)
    problems: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Holder:
    """A PKCS#12 file opened with the batch passphrase: its key, and which public key that is."""

    path: Path
    key: PrivateKey
    spki: bytes
    serial: int | None  # the certificate inside


def _spki(public_key: Any) -> bytes:
    return bytes(
        public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _open(path: Path, passphrase: str) -> _Holder | None:
    try:
        key, cert, _ = pkcs12.load_key_and_certificates(path.read_bytes(), passphrase.encode("utf-8"))
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return None
    return _Holder(path, key, _spki(key.public_key()), cert.serial_number if cert is not None else None)


def pem_of(der: bytes) -> bytes:
    """PEM of a DER certificate (the CA made the DER, so no need to parse it again)."""
    import base64

    b64 = base64.b64encode(der)
    lines = b"\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return b"-----BEGIN CERTIFICATE-----\n" + lines + b"\n-----END CERTIFICATE-----\n"


def _pem_state(path: Path, der: bytes) -> str | None:
    """None when ``path`` holds the certificate ``der``, else what is wrong with it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "was missing"
    except OSError:
        return "could not be read"
    if data == pem_of(der):
        return None
    try:
        held = x509.load_pem_x509_certificate(data)
    except ValueError:
        return "was not a certificate"
    if held.public_bytes(serialization.Encoding.DER) == der:
        return None
    return f"held another certificate ({held.serial_number:x})"


def check_outputs(
    ca: Authority,
    out: Path,
    rows: list[tuple[int, str]],
    passphrase: str | None,
    *,
    stem: Callable[[str], str],
    legacy_stem: Callable[[str], str],
) -> OutputCheck:
    """Check (and repair) the outputs of ``rows`` (line, employee ID) that already hold a certificate;
    ``stem`` and ``legacy_stem`` name an employee's files now and as older thaisign named them."""
    result = OutputCheck()
    wanted = {emp for _, emp in rows}
    current: dict[str, IssuedCertificate] = {}
    for c in ca.store.certificates():
        if c.employee_id in wanted and c.revoked_at is None:
            current[c.employee_id] = c  # issue order: the last one wins
    keyed = [c for c in current.values() if c.source == "new-key"]
    recorded = ca.store.issue_details([c.serial_hex for c in keyed], "pkcs12_sha256")
    unsure: list[tuple[int, str, IssuedCertificate]] = []
    for line, emp in rows:
        cert = current.get(emp)
        if cert is None:
            continue
        name = stem(emp)
        state = _pem_state(out / f"{name}.pem", cert.der)
        if state is not None:
            write_quick(out / f"{name}.pem", pem_of(cert.der))
            result.restored_files += 1
            result.repaired.append((line, emp, f"{name}.pem {state}: rewritten from the store"))
        if cert.source != "new-key":
            continue
        p12 = out / f"{name}.p12"
        want_hash = recorded.get(cert.serial_hex)
        if want_hash and p12.exists() and hashlib.sha256(p12.read_bytes()).hexdigest() == want_hash:
            continue
        unsure.append((line, emp, cert))
    if unsure:
        _settle_keys(ca, out, unsure, passphrase, stem, legacy_stem, result)
    elif result.restored_files:
        sync_dir(out)
    return result


def _settle_keys(
    ca: Authority,
    out: Path,
    unsure: list[tuple[int, str, IssuedCertificate]],
    passphrase: str | None,
    stem: Callable[[str], str],
    legacy_stem: Callable[[str], str],
    result: OutputCheck,
) -> None:
    if passphrase is None:
        for line, emp, _ in unsure:
            result.problems.append(
                (line, emp, f"{stem(emp)}.p12 cannot be checked without the batch passphrase")
            )
        return
    # open every file that might hold one of these keys: the officers' own, and old-style names
    candidates = {out / f"{stem(emp)}.p12" for _, emp, _ in unsure}
    candidates |= {out / f"{legacy_stem(emp)}.p12" for _, emp, _ in unsure}
    holders: dict[Path, _Holder] = {}
    unreadable: set[Path] = set()
    for path in sorted(candidates):
        if path.exists():
            held = _open(path, passphrase)
            if held is None:
                unreadable.add(path)
            else:
                holders[path] = held
    by_key = {h.spki: h for h in holders.values()}
    own_names = {out / f"{stem(emp)}.p12" for _, emp, _ in unsure}
    moved_from: set[Path] = set()
    chain = list(ca.chain)
    for line, emp, cert in unsure:
        path = out / f"{stem(emp)}.p12"
        want = _spki(x509.load_der_x509_certificate(cert.der).public_key())
        found = by_key.get(want)
        if found is None:
            if path in unreadable:
                text = f"{path.name} does not open with the batch passphrase (or is damaged)"
            elif path in holders:
                other = holders[path].serial
                text = f"{path.name} holds the key of another certificate ({other:x})" if other else ""
                text = text or f"{path.name} holds another key"
            else:
                text = f"{path.name} is missing"
            result.problems.append(
                (
                    line,
                    emp,
                    f"{text}; the key of certificate {cert.serial_hex} is not in {out}: if it is lost, "
                    f"revoke it (thaisign ca revoke {ca.directory} {cert.serial_hex} --reason superseded) "
                    "and run the batch again to issue a new key",
                )
            )
            continue
        if found.path == path and found.serial == cert.serial:
            continue  # the right key and certificate, written by hand or by an older thaisign
        fresh = IssuedOfficer(cert.serial, cert.der, found.key).pkcs12(passphrase, chain, name=cert.name_th)
        atomic_write(path, fresh, 0o600)
        if found.path == path:
            result.repaired.append((line, emp, f"{path.name} held an older certificate: rewritten"))
        else:
            result.repaired.append(
                (line, emp, f"{path.name} restored with the key found in {found.path.name}")
            )
            moved_from.add(found.path)
    # a file whose key now sits under its owner's name, and which is no one's own file: remove it
    for path in moved_from - own_names:
        path.unlink(missing_ok=True)
    sync_dir(out)


def write_quick(path: Path, data: bytes) -> None:
    """Write a certificate file atomically (temp file + rename), without an fsync per file.

    A killed process leaves either the old state or the whole file; the store was committed
    before. After a power loss a file may come back empty: a re-run rewrites it from the store.
    Call :func:`sync_dir` once after a group of them.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
