"""Hostile containers: zip bombs, lying headers, huge entry counts, path-traversal, absolute and
control-character names, duplicate names (also by case only), non-UTF-8 names, nested
containers, entity-expanding manifests. Each gives one clear line — never a traceback, never a
file written anywhere — through the library and the real command."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from files_helpers import AT
from support.pki import FIXED_TIME

from thaisign.files import sign_asic
from thaisign.files.container import MIMETYPE_E, ContainerError, open_container
from thaisign.keys import SoftwareSigner
from thaisign.verify import TrustStore
from thaisign.verify.asic import verify_asic
from thaisign.verify.report import Indication, SubIndication, Verdict


def _asic(path: Path, entries: list[tuple[str, bytes]], *, compress: int = zipfile.ZIP_STORED) -> Path:
    import warnings

    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as z:
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names: that is the point
        z.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE_E)
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = compress
            z.writestr(info, data)
    return path


@pytest.fixture()
def hostile(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "hostile"
    d.mkdir()
    out = {
        "bomb": _asic(
            d / "bomb.asice", [("zeros.bin", bytes(20 * 1024 * 1024))], compress=zipfile.ZIP_DEFLATED
        ),
        "traversal": _asic(d / "traversal.asice", [("../../evil.txt", b"x")]),
        "absolute": _asic(d / "absolute.asice", [("/etc/passwd", b"x")]),
        "drive": _asic(d / "drive.asice", [("C:/Windows/evil.txt", b"x")]),
        "backslash": _asic(d / "backslash.asice", [("..\\..\\evil.txt", b"x")]),
        "control": _asic(d / "control.asice", [("name\x1b[2J\u202eevil.txt", b"x")]),
        "duplicate": _asic(d / "duplicate.asice", [("order.pdf", b"signed"), ("order.pdf", b"swapped")]),
        "case": _asic(d / "case.asice", [("Order.pdf", b"signed"), ("order.PDF", b"swapped")]),
        "notzip": d / "notzip.asice",
        "truncated": d / "truncated.asice",
    }
    out["notzip"].write_bytes(b"this is not a zip container at all")
    good = _asic(d / "good.asice", [("a.txt", b"hello" * 100)])
    out["truncated"].write_bytes(good.read_bytes()[:-30])
    good.unlink()
    with zipfile.ZipFile(d / "many.asice", "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE_E)
        for n in range(20_001):
            z.writestr(zipfile.ZipInfo(f"f{n}"), b"")
    out["many"] = d / "many.asice"
    return out


def test_each_hostile_container_is_one_clear_error(hostile: dict[str, Path], trust: TrustStore) -> None:
    expected = {
        "bomb": "zip bomb",
        "traversal": "unsafe file name",
        "absolute": "unsafe file name",
        "drive": "unsafe file name",
        "backslash": "unsafe file name",
        "control": "unsafe file name",
        "duplicate": "two entries named",
        "case": "two entries named",
        "notzip": "not a readable ZIP",
        "truncated": "not a readable ZIP",
        "many": "more than the 20000",
    }
    for key, path in hostile.items():
        report = verify_asic(path, trust, at=AT, revocation="off")
        assert report.verdict is Verdict.ERROR, key
        assert expected[key] in (report.error or ""), (key, report.error)
        assert report.error_th and "\n" not in report.error  # one line, and a Thai one


def test_a_lying_header_is_caught_when_read(
    tmp_path: Path, ec_signer: SoftwareSigner, trust: TrustStore
) -> None:
    """An entry whose bytes differ from its CRC (a header that lies) fails as damaged."""
    src = tmp_path / "a.txt"
    src.write_bytes(b"A" * 4000)
    box = tmp_path / "box.asice"
    sign_asic([src], box, ec_signer, signing_time=FIXED_TIME)
    raw = bytearray(box.read_bytes())
    i = raw.index(b"a.txt") + len(b"a.txt")
    # the data of a.txt is deflated: flip a byte inside it, leaving every header as it was
    raw[i + 5] ^= 0xFF
    box.write_bytes(bytes(raw))
    report = verify_asic(box, trust, at=AT, revocation="off")
    assert report.verdict in (Verdict.ERROR, Verdict.TOTAL_FAILED)
    assert report.verdict is not Verdict.TOTAL_PASSED


def test_non_utf8_names_are_shown_as_bytes_and_never_signed(
    tmp_path: Path, ec_signer: SoftwareSigner, trust: TrustStore
) -> None:
    src = tmp_path / "a.txt"
    src.write_bytes(b"signed")
    box = tmp_path / "box.asice"
    sign_asic([src], box, ec_signer, signing_time=FIXED_TIME)
    with zipfile.ZipFile(box, "a") as z:
        z.writestr(zipfile.ZipInfo("rozhodnuti-AAAA.pdf"), b"added later")
    raw = box.read_bytes().replace(b"rozhodnuti-AAAA.pdf", b"rozhodnut\x82-\xa0\x8b\xfb\x9f.pdf")
    box.write_bytes(raw)
    report = verify_asic(box, trust, at=AT, revocation="off")
    assert report.signatures[0].indication is Indication.TOTAL_PASSED
    (name,) = report.unsigned
    assert "\\x82" in name and "\\xa0" in name  # the raw bytes, made visible
    assert report.verdict is Verdict.INDETERMINATE


def test_nested_container_is_data(tmp_path: Path, ec_signer: SoftwareSigner, trust: TrustStore) -> None:
    inner_src = tmp_path / "inner.txt"
    inner_src.write_bytes(b"inner")
    inner = tmp_path / "inner.asice"
    sign_asic([inner_src], inner, ec_signer, signing_time=FIXED_TIME)
    outer = tmp_path / "outer.asice"
    sign_asic([inner], outer, ec_signer, signing_time=FIXED_TIME)
    report = verify_asic(outer, trust, at=AT, revocation="off")
    assert report.verdict is Verdict.TOTAL_PASSED and report.data == ("inner.asice",)


def test_manifest_with_entities_is_refused_unexpanded(
    tmp_path: Path, ec_signer: SoftwareSigner, trust: TrustStore
) -> None:
    src = tmp_path / "a.txt"
    src.write_bytes(b"x")
    box = tmp_path / "box.asice"
    sign_asic([src], box, ec_signer, signing_time=FIXED_TIME)
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9))
        + b']><asic:ASiCManifest xmlns:asic="http://uri.etsi.org/02918/v1.2.1#">&j;</asic:ASiCManifest>'
    )
    bad = tmp_path / "laughs.asice"
    with zipfile.ZipFile(box) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            data = laughs if info.filename.endswith(".xml") else zin.read(info)
            zout.writestr(info, data)
    report = verify_asic(bad, trust, at=AT, revocation="off")
    (sig, *_rest) = report.signatures
    assert (sig.indication, sig.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert "DTD" in sig.messages.en[0]


def test_container_reader_refuses_before_reading(hostile: dict[str, Path]) -> None:
    with pytest.raises(ContainerError):
        open_container(hostile["traversal"])
    with pytest.raises(ContainerError):
        open_container(hostile["bomb"])


def test_cli_over_every_hostile_container(hostile: dict[str, Path], tmp_path: Path, pki: object) -> None:
    """The real command: exit 1, one line per file, no traceback, nothing written anywhere."""
    work = tmp_path / "cwd"
    work.mkdir()
    before = {p: set(os.listdir(p)) for p in (work, hostile["bomb"].parent, Path("/tmp"))}
    proc = subprocess.run(
        [sys.executable, "-m", "thaisign", "verify", *map(str, hostile.values()), "--offline", "--lang", "en",
         "--trust", str(pki.root_pem), "--at", AT.isoformat()],  # type: ignore[attr-defined]
        capture_output=True, text=True, timeout=300, cwd=work,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout.count("Verdict: ERROR") == len(hostile)
    assert "\x1b" not in proc.stdout and "\u202e" not in proc.stdout  # the control name made visible
    after = {p: set(os.listdir(p)) for p in before}
    assert after[work] == before[work] and after[hostile["bomb"].parent] == before[hostile["bomb"].parent]
    assert not any("evil" in n for n in after[Path("/tmp")] - before[Path("/tmp")])
