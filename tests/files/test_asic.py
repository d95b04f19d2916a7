"""ASiC containers: made with real TSA/OCSP/CRL services, opened by ``unzip``, their mimetype entry
first and stored (checked in the raw bytes), a second signature added later without breaking the
first, and every kind of change after signing caught: a file changed, removed, renamed or added,
the manifest altered."""

from __future__ import annotations

import io
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from files_helpers import AT, openssl_cms_verify
from support.pki import FIXED_TIME, TestPKI
from support.tools import require_tool

from thaisign.errors import InputError, UsageError
from thaisign.files import sign_asic
from thaisign.files.container import MIMETYPE_E, MIMETYPE_S
from thaisign.files.manifest import parse_manifest
from thaisign.keys import SoftwareSigner
from thaisign.verify import TrustStore
from thaisign.verify.asic import verify_asic
from thaisign.verify.report import Coverage, Indication, SubIndication, Verdict


def _unzip_ok(path: Path) -> None:
    proc = subprocess.run([require_tool("unzip"), "-t", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0 and "No errors detected" in proc.stdout, proc.stdout + proc.stderr


def _mimetype_first_and_stored(path: Path, mimetype: str) -> None:
    """The first local file header: name 'mimetype', method 0 (stored), no extra field, and
    the media type right after it at offset 38 (what file-type sniffers read)."""
    raw = path.read_bytes()
    sig, _ver, _flags, method, _t, _d, _crc, csize, usize, nlen, xlen = struct.unpack(
        "<IHHHHHIIIHH", raw[:30]
    )
    assert sig == 0x04034B50 and method == 0 and xlen == 0 and csize == usize == len(mimetype)
    assert raw[30 : 30 + nlen] == b"mimetype"
    assert raw[38 : 38 + len(mimetype)] == mimetype.encode()


def _rewrite(
    src: Path, dst: Path, change: dict[str, bytes | None], add: dict[str, bytes] | None = None
) -> None:
    """A copy of the container with entries replaced (bytes) or dropped (None), others kept."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in change:
                if change[info.filename] is None:
                    continue
                zout.writestr(info, change[info.filename])  # type: ignore[arg-type]
            else:
                zout.writestr(info, zin.read(info))
        for name, data in (add or {}).items():
            zout.writestr(name, data)


@pytest.fixture()
def case(tmp_path: Path, evidence: dict[str, Path], ec_signer: SoftwareSigner, pki_services: object) -> Path:
    out = tmp_path / "คดี-๑๒๓.asice"
    files = [evidence["คำสั่งศาล.pdf"], evidence["ภาพถ่ายที่เกิดเหตุ.jpg"], evidence["บันทึกเสียง.m4a"]]
    sign_asic(files, out, ec_signer, level="B-LT", tsa=pki_services.tsa_url, signing_time=FIXED_TIME)  # type: ignore[attr-defined]
    return out


def test_asice_one_signature_over_several_files(
    case: Path, pki: TestPKI, trust: TrustStore, tmp_path: Path
) -> None:
    _unzip_ok(case)
    _mimetype_first_and_stored(case, MIMETYPE_E)
    with zipfile.ZipFile(case) as z:
        names = z.namelist()
        assert names[0] == "mimetype" and "META-INF/ASiCManifest001.xml" in names
        manifest = parse_manifest(z.read("META-INF/ASiCManifest001.xml"))
        assert manifest.sig_uri == "META-INF/signature001.p7s"
        assert sorted(r.name for r in manifest.references) == sorted(
            ["คำสั่งศาล.pdf", "ภาพถ่ายที่เกิดเหตุ.jpg", "บันทึกเสียง.m4a"]
        )
        # the signature is a plain detached CMS over the manifest: openssl agrees
        (tmp_path / "m.xml").write_bytes(z.read("META-INF/ASiCManifest001.xml"))
        (tmp_path / "s.p7s").write_bytes(z.read("META-INF/signature001.p7s"))
    assert openssl_cms_verify(pki, tmp_path / "s.p7s", tmp_path / "m.xml").returncode == 0
    report = verify_asic(case, trust, at=AT, revocation="offline")
    assert report.verdict is Verdict.TOTAL_PASSED, [s.messages.en for s in report.signatures]
    assert report.format == "asic-e" and report.unsigned == ()
    (sig,) = report.signatures
    assert sig.level == "B-LT" and sig.coverage is Coverage.ENTIRE_FILE and len(sig.covers) == 3


def test_a_second_signature_later_keeps_the_first(
    case: Path, tmp_path: Path, evidence: dict[str, Path], rsa_signer: SoftwareSigner, pki_services: object,
    trust: TrustStore,
) -> None:  # fmt: skip
    extra = evidence["บัญชีทรัพย์สิน.xlsx"]
    second = tmp_path / "คดี-๑๒๓-ลงนามเพิ่ม.asice"
    before = case.read_bytes()
    sign_asic([extra], second, rsa_signer, add_to=case, tsa=pki_services.tsa_url, signing_time=FIXED_TIME)  # type: ignore[attr-defined]
    assert case.read_bytes() == before  # the input is never touched
    _unzip_ok(second)
    _mimetype_first_and_stored(second, MIMETYPE_E)
    with zipfile.ZipFile(case) as a, zipfile.ZipFile(second) as b:
        for name in a.namelist():  # every earlier entry, byte for byte
            assert a.read(name) == b.read(name)
    report = verify_asic(second, trust, at=AT, revocation="online")
    assert report.verdict is Verdict.TOTAL_PASSED, [s.messages.en for s in report.signatures]
    first, later = report.signatures
    assert first.coverage is Coverage.PARTIAL and extra.name not in first.covers  # signed before it came
    assert later.coverage is Coverage.ENTIRE_FILE and extra.name in later.covers
    assert later.signer.name == "นางสาวสมหญิง รักไทย"  # type: ignore[union-attr]
    assert report.unsigned == ()


def test_asics_one_file(
    tmp_path: Path,
    evidence: dict[str, Path],
    ec_signer: SoftwareSigner,
    pki_services: object,
    trust: TrustStore,
) -> None:
    out = tmp_path / "order.asics"
    sign_asic(
        [evidence["คำสั่งศาล.pdf"]],
        out,
        ec_signer,
        level="B-LTA",
        tsa=pki_services.tsa_url,
        signing_time=FIXED_TIME,
    )  # type: ignore[attr-defined]
    _unzip_ok(out)
    _mimetype_first_and_stored(out, MIMETYPE_S)
    report = verify_asic(out, trust, at=AT, revocation="offline")
    assert report.verdict is Verdict.TOTAL_PASSED and report.format == "asic-s"
    assert report.signatures[0].level == "B-LTA" and not any(
        "Archive" in m for m in report.signatures[0].messages.en
    )
    with pytest.raises(UsageError):
        sign_asic(list(evidence.values())[:2], tmp_path / "two.asics", ec_signer)
    broken = tmp_path / "extra.asics"
    _rewrite(out, broken, {}, add={"second.txt": b"not signed"})
    sig = verify_asic(broken, trust, at=AT, revocation="off").signatures[0]
    assert (sig.indication, sig.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)


def test_changed_removed_renamed_and_added_files(case: Path, tmp_path: Path, trust: TrustStore) -> None:
    def check(name: str, change: dict[str, bytes | None], add: dict[str, bytes] | None = None):  # type: ignore[no-untyped-def]
        out = tmp_path / name
        _rewrite(case, out, change, add)
        return verify_asic(out, trust, at=AT, revocation="off")

    changed = check("changed.asice", {"ภาพถ่ายที่เกิดเหตุ.jpg": b"another photo"})
    sig = changed.signatures[0]
    assert (sig.indication, sig.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    assert "ภาพถ่ายที่เกิดเหตุ.jpg" in sig.messages.en[0] and "ถูกแก้ไข" in sig.messages.th[0]

    removed = check("removed.asice", {"บันทึกเสียง.m4a": None})
    sig = removed.signatures[0]
    assert (sig.indication, sig.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.SIGNED_DATA_NOT_FOUND,
    )
    assert "บันทึกเสียง.m4a" in sig.messages.en[0]

    with zipfile.ZipFile(case) as z:
        audio = z.read("บันทึกเสียง.m4a")
    renamed = check("renamed.asice", {"บันทึกเสียง.m4a": None}, add={"เสียง.m4a": audio})
    assert renamed.signatures[0].sub_indication is SubIndication.SIGNED_DATA_NOT_FOUND
    assert renamed.unsigned == ("เสียง.m4a",)

    added = check("added.asice", {}, add={"ข้อเท็จจริงเพิ่มเติม.txt": b"unsigned addition"})
    assert added.signatures[0].indication is Indication.TOTAL_PASSED  # what was signed still holds
    assert added.unsigned == ("ข้อเท็จจริงเพิ่มเติม.txt",)
    assert added.verdict is Verdict.INDETERMINATE  # ... but the container is not all signed
    from thaisign.verify.render_text import report_text

    assert "ข้อเท็จจริงเพิ่มเติม.txt" in report_text(added, "th") and "ไม่มีลายมือชื่อใดครอบคลุม" in report_text(
        added, "th"
    )

    with zipfile.ZipFile(case) as z:
        manifest = z.read("META-INF/ASiCManifest001.xml")
    altered = check("altered.asice", {"META-INF/ASiCManifest001.xml": manifest.replace(b"m4a", b"m4b")})
    assert altered.signatures[0].indication is Indication.TOTAL_FAILED
    assert altered.verdict is Verdict.TOTAL_FAILED


def test_add_to_refuses_what_it_cannot_keep(
    case: Path, tmp_path: Path, evidence: dict[str, Path], ec_signer: SoftwareSigner
) -> None:
    with pytest.raises(InputError):  # a file of that name is in the container already
        sign_asic([evidence["คำสั่งศาล.pdf"]], tmp_path / "x.asice", ec_signer, add_to=case)
    with pytest.raises(UsageError):
        sign_asic([], tmp_path / "x.asics", ec_signer, add_to=case)
    assert not (tmp_path / "x.asice").exists()


def test_thousand_small_files(tmp_path: Path, ec_signer: SoftwareSigner, trust: TrustStore) -> None:
    """Functional only (the speed is benchmarks/files.py's business)."""
    folder = tmp_path / "scans"
    folder.mkdir()
    files = []
    for n in range(1000):
        p = folder / f"หน้า-{n:04d}.txt"
        p.write_bytes(f"page {n}\n".encode() * 10)
        files.append(p)
    out = tmp_path / "scans.asice"
    result = sign_asic(files, out, ec_signer, signing_time=FIXED_TIME)
    assert len(result.files) == 1000
    report = verify_asic(out, trust, at=AT, revocation="off")
    assert report.verdict is Verdict.TOTAL_PASSED and len(report.data) == 1000
    with zipfile.ZipFile(io.BytesIO(out.read_bytes())) as z:
        assert z.testzip() is None
