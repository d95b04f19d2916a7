"""ASiC containers with CAdES signatures (ETSI EN 319 162-1): ASiC-E for a bundle of files,
ASiC-S for one file; further signatures added to an ASiC-E later without touching earlier ones.

>>> sign_asic(["order.pdf", "photo.jpg"], "case-123.asice", signer, level="B-LT", tsa=tsa_url)
>>> sign_asic(["minutes.docx"], "case-123-v2.asice", other_signer, add_to="case-123.asice")

An ASiC-E holds ``mimetype`` (first, stored, no extra field), the data files, and per
signature an ``META-INF/ASiCManifestNNN.xml`` listing every data file with its digest plus the
detached CAdES ``META-INF/signatureNNN.p7s`` over that manifest. An ASiC-S holds one data file
and ``META-INF/signature.p7s`` over it. Data files are streamed into the ZIP and hashed on the
way (any size, bounded memory; already-compressed media are stored, not deflated). Adding a
signature copies every existing entry unchanged, adds the new files, and signs a new manifest
that lists them all; the result is written atomically, never over the input.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from thaisign.errors import InputError, OutputError, UsageError
from thaisign.files._digest import CHUNK, new_hash
from thaisign.files.cades import (
    FileSigningOptions,
    FileSignResult,
    hash_name_for,
    sign_digest,
    signing_time,
)
from thaisign.files.container import MIMETYPE_E, MIMETYPE_S, ContainerError, open_container, unsafe_name
from thaisign.files.manifest import DataRef, build_manifest, mime_type_of

#: file types whose bytes are compressed already: stored in the ZIP, not deflated again
_STORED_SUFFIXES = frozenset(
    [
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".webp",
        ".heic",
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".avi",
        ".webm",
        ".mp3",
        ".m4a",
        ".aac",
        ".ogg",
        ".opus",
        ".flac",
        ".zip",
        ".asice",
        ".asics",
        ".sce",
        ".scs",
        ".gz",
        ".bz2",
        ".xz",
        ".zst",
        ".7z",
        ".rar",
        ".docx",
        ".xlsx",
        ".pptx",
        ".odt",
        ".ods",
        ".odp",
    ]
)
#: data files larger than this are stored whatever their type (deflating gigabytes costs minutes)
STORE_ABOVE = 256 * 1024 * 1024
_NUMBERED = re.compile(r"META-INF/(?:ASiCManifest|signature)(\d+)\.(?:xml|p7s)", re.IGNORECASE)


def container_kind(output: str | os.PathLike[str]) -> str:
    """``asic-e`` for .asice/.sce, ``asic-s`` for .asics/.scs."""
    suffix = Path(output).suffix.lower()
    if suffix in (".asice", ".sce"):
        return "asic-e"
    if suffix in (".asics", ".scs"):
        return "asic-s"
    raise UsageError(
        "an ASiC container's name ends in .asice (several files) or .asics (one file), "
        f"not {suffix or 'nothing'}"
    )


def _zip_time(at: dt.datetime) -> tuple[int, int, int, int, int, int]:
    t = at.astimezone(dt.UTC)
    return (max(t.year, 1980), t.month, t.day, t.hour, t.minute, t.second)


def _member_name(path: Path) -> str:
    name = path.name
    problem = unsafe_name(name)
    if problem is not None or name == "mimetype" or name.upper().startswith("META-INF"):
        raise InputError(f"cannot put {name!r} into a container: {problem or 'a reserved name'}")
    return name


def _write_file(
    zf: zipfile.ZipFile, name: str, source: Path, algorithms: list[str], when: tuple[int, ...]
) -> dict[str, bytes]:
    """Stream ``source`` into the ZIP as ``name``; its digests with each of ``algorithms``."""
    size = source.stat().st_size
    info = zipfile.ZipInfo(name, date_time=when)  # type: ignore[arg-type]
    stored = source.suffix.lower() in _STORED_SUFFIXES or size > STORE_ABOVE
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    info.file_size = size
    info.external_attr = 0o644 << 16
    hashers = [new_hash(a) for a in algorithms]
    copied = 0
    with source.open("rb", buffering=0) as src, zf.open(info, "w", force_zip64=size > 0x7FFFFFFF) as dst:
        while True:
            chunk = src.read(CHUNK)
            if not chunk:
                break
            copied += len(chunk)
            for h in hashers:
                h.update(chunk)
            dst.write(chunk)
    if copied != size:
        raise InputError(
            f"{source} changed while it was being added", hint="sign it again when it is complete"
        )
    return {a: h.digest() for a, h in zip(algorithms, hashers, strict=True)}


def _write_bytes(
    zf: zipfile.ZipFile, name: str, data: bytes, when: tuple[int, ...], *, stored: bool = False
) -> None:
    info = zipfile.ZipInfo(name, date_time=when)  # type: ignore[arg-type]
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _write_mimetype(zf: zipfile.ZipFile, mimetype: str, when: tuple[int, ...]) -> None:
    """The first entry: stored, no extra field, so that its bytes sit at a fixed offset (EN 319 162-1)."""
    _write_bytes(zf, "mimetype", mimetype.encode("ascii"), when, stored=True)


def sign_asic(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    signer: Any,
    options: FileSigningOptions | None = None,
    *,
    add_to: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> FileSignResult:
    """Sign ``inputs`` into a new ASiC container at ``output`` (kind by its suffix), or, with
    ``add_to``, add a signature over all of that ASiC-E's files plus ``inputs`` (which may be
    none) and write the result to ``output``. ``options``/``overrides`` as for
    :func:`~thaisign.files.sign_file` (``enveloping`` does not apply)."""
    from thaisign._fs import atomic_open, same_file

    opts = replace(options or FileSigningOptions(), **overrides)
    if opts.enveloping:
        raise UsageError("an ASiC container holds detached signatures; --enveloping does not apply")
    dst = Path(output)
    kind = container_kind(dst)
    sources = [Path(p) for p in inputs]
    for src in sources:
        if not src.is_file():
            raise InputError(f"file not found: {src}" if not src.exists() else f"not a file: {src}")
        if same_file(src, dst):
            raise OutputError(f"output {dst} is one of the inputs", hint="choose another output")
    if add_to is not None and same_file(add_to, dst):
        raise OutputError(f"output {dst} is the container being added to", hint="choose another output")
    names = [_member_name(p) for p in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"two input files are named {dupes[0]!r}; a container holds one file per name")
    if kind == "asic-s" and (add_to is not None or len(sources) != 1):
        raise UsageError(
            "an ASiC-S container holds exactly one file and one signature",
            hint="use an .asice container for several files or signatures",
        )
    level = opts.effective_level()
    at = signing_time(opts)
    if opts.check_certificate:
        from thaisign.pades.signer import check_certificate

        check_certificate(signer, at)
    hash_name = hash_name_for(signer, opts)
    when = _zip_time(at)
    with atomic_open(dst) as out:
        if kind == "asic-s":
            covered = _write_asic_s(out, sources[0], names[0], signer, opts, hash_name, when)
        else:
            covered = _write_asic_e(out, sources, names, signer, opts, hash_name, when, add_to)
        out.flush()
        size = os.fstat(out.fileno()).st_size
    return FileSignResult(dst, kind, level, at, tuple(covered), size)


def _write_asic_s(
    out: IO[bytes],
    source: Path,
    name: str,
    signer: Any,
    opts: FileSigningOptions,
    hash_name: str,
    when: tuple[int, ...],
) -> list[str]:
    with zipfile.ZipFile(out, "w") as zf:
        _write_mimetype(zf, MIMETYPE_S, when)
        digests = _write_file(zf, name, source, [hash_name], when)
        signature = sign_digest(digests[hash_name], signer, opts, hash_algorithm=hash_name)
        _write_bytes(zf, "META-INF/signature.p7s", signature.dump(), when)
    return [name]


def _write_asic_e(
    out: IO[bytes],
    sources: list[Path],
    names: list[str],
    signer: Any,
    opts: FileSigningOptions,
    hash_name: str,
    when: tuple[int, ...],
    add_to: str | os.PathLike[str] | None,
) -> list[str]:
    refs: list[DataRef] = []
    number = 1
    with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        if add_to is None:
            _write_mimetype(zf, MIMETYPE_E, when)
        else:
            old_refs, number = _copy_existing(zf, Path(add_to), hash_name, set(names))
            refs.extend(old_refs)
        for src, name in zip(sources, names, strict=True):
            digest = _write_file(zf, name, src, [hash_name], when)[hash_name]
            refs.append(DataRef(name, mime_type_of(name), digest, hash_name))
        if not refs:
            raise InputError("nothing to sign: the container holds no files and none were given")
        sig_name = f"META-INF/signature{number:03d}.p7s"
        manifest = build_manifest(sig_name, refs)
        signature = sign_digest(new_digest(hash_name, manifest), signer, opts, hash_algorithm=hash_name)
        _write_bytes(zf, f"META-INF/ASiCManifest{number:03d}.xml", manifest, when)
        _write_bytes(zf, sig_name, signature.dump(), when)
    return [r.name for r in refs]


def new_digest(algorithm: str, data: bytes) -> bytes:
    h = new_hash(algorithm)
    h.update(data)
    return bytes(h.digest())


def _copy_existing(
    zf: zipfile.ZipFile, source: Path, hash_name: str, new_names: set[str]
) -> tuple[list[DataRef], int]:
    """Copy every entry of the ASiC-E at ``source`` (mimetype first, as it was); the data files'
    references for the new manifest and the next free signature number."""
    with open_container(source) as box:
        if box.kind != "asic-e":
            raise ContainerError(
                f"{source} is not an ASiC-E container; only an .asice takes further signatures"
            )
        if any(not e.utf8 for e in box.entries):
            raise ContainerError(
                f"{source} holds a file name that is not UTF-8; it cannot be copied unchanged",
                hint="make a new container for the further signature",
            )
        clash = sorted(n for n in new_names if box.get(n) is not None)
        if clash:
            raise InputError(
                f"the container holds {clash[0]!r} already; a changed file needs a new container"
            )
        ordered = sorted(box.entries, key=lambda e: e.name != "mimetype")
        if not ordered or ordered[0].name != "mimetype":
            raise ContainerError(f"{source} has no mimetype entry; it cannot take a further signature")
        refs: list[DataRef] = []
        highest = 0
        for entry in ordered:
            match = _NUMBERED.fullmatch(entry.name)
            if match:
                highest = max(highest, int(match.group(1)))
            info = zipfile.ZipInfo(entry.info.filename, date_time=entry.info.date_time)
            info.compress_type = zipfile.ZIP_STORED if entry.stored else zipfile.ZIP_DEFLATED
            info.external_attr = entry.info.external_attr
            info.file_size = entry.size
            hasher = new_hash(hash_name)
            with box.open(entry) as src, zf.open(info, "w", force_zip64=entry.size > 0x7FFFFFFF) as dst:
                while True:
                    chunk = src.read(CHUNK)
                    if not chunk:
                        break
                    hasher.update(chunk)
                    dst.write(chunk)
            if not entry.is_dir and not entry.meta and entry.name != "mimetype":
                refs.append(DataRef(entry.name, mime_type_of(entry.name), hasher.digest(), hash_name))
    return refs, highest + 1
