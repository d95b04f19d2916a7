"""Letters signed by several officers: named empty fields, certification (DocMDP), field locks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pades_checks import CLI_ENV, assert_pdfsig_valid, pyhanko_status, qpdf_check, run_cli
from support.pki import FIXED_TIME, PASSPHRASE, TestPKI

from thaisign.errors import SigningError, UsageError
from thaisign.keys import Signer, SoftwareSigner
from thaisign.pades import add_signature_field, list_signature_fields, sign_pdf

F1, F2 = "ผู้ลงนาม1", "ผู้ลงนาม2"
R1, R2 = (60.0, 40.0, 280.0, 140.0), (320.0, 40.0, 560.0, 140.0)


@pytest.fixture(scope="module")
def two_fields(tmp_path_factory: pytest.TempPathFactory, letter: Path) -> Path:
    d = tmp_path_factory.mktemp("fields")
    add_signature_field(letter, d / "one.pdf", F1, page=1, rect=R1)
    add_signature_field(d / "one.pdf", d / "two.pdf", F2, page=-1, rect=R2)
    return d / "two.pdf"


def test_fields_added_and_listed(two_fields: Path) -> None:
    qpdf_check(two_fields)
    infos = {i.name: i for i in list_signature_fields(two_fields)}
    assert set(infos) == {F1, F2}
    assert infos[F1].page == 1 and infos[F1].rect == R1 and not infos[F1].signed
    with pytest.raises(UsageError, match="already has a field"):
        add_signature_field(two_fields, two_fields.with_name("x.pdf"), F1)


def test_certify_then_second_signer(
    tmp_path: Path,
    two_fields: Path,
    ec_signer: SoftwareSigner,
    rsa_signer: SoftwareSigner,
    pki: TestPKI,
    nssdb: str,
) -> None:
    first = tmp_path / "first.pdf"
    r1 = sign_pdf(two_fields, first, ec_signer, field=F1, certify="form-filling", signing_time=FIXED_TIME)
    assert r1.certified and r1.visible and r1.field == F1
    second = tmp_path / "second.pdf"
    sign_pdf(first, second, rsa_signer, field=F2, signing_time=FIXED_TIME)
    out = assert_pdfsig_valid(second, nssdb, count=2)
    assert "Total document signed" not in out.signatures[0]  # the first covers its own revision only
    qpdf_check(second)
    s1 = pyhanko_status(second, pki, 0)
    assert s1.intact and s1.valid and s1.trusted and s1.docmdp_ok
    assert s1.coverage.name == "ENTIRE_REVISION"
    assert s1.modification_level.name == "FORM_FILLING"  # a second signature is allowed form filling
    s2 = pyhanko_status(second, pki, 1)
    assert s2.intact and s2.trusted and s2.coverage.name == "ENTIRE_FILE"
    infos = {i.name: i.signed for i in list_signature_fields(second)}
    assert infos == {F1: True, F2: True}
    with pytest.raises(SigningError, match="already signed"):
        sign_pdf(second, tmp_path / "third.pdf", ec_signer, field=F1, signing_time=FIXED_TIME)


def test_no_changes_certification_refuses_more_signatures(
    tmp_path: Path, two_fields: Path, ec_signer: SoftwareSigner, rsa_signer: SoftwareSigner, pki: TestPKI
) -> None:
    first = tmp_path / "first.pdf"
    sign_pdf(two_fields, first, ec_signer, field=F1, certify="no-changes", signing_time=FIXED_TIME)
    status = pyhanko_status(first, pki, 0)
    assert status.modification_level.name == "NONE" and status.docmdp_ok
    from pyhanko.pdf_utils.reader import PdfFileReader

    with first.open("rb") as fh:
        assert PdfFileReader(fh).embedded_regular_signatures[0].docmdp_level.name == "NO_CHANGES"
    with pytest.raises(SigningError, match="no changes"):
        sign_pdf(first, tmp_path / "second.pdf", rsa_signer, field=F2, signing_time=FIXED_TIME)
    assert not (tmp_path / "second.pdf").exists()


def test_field_lock(
    tmp_path: Path, letter: Path, ec_signer: SoftwareSigner, rsa_signer: SoftwareSigner, pki: TestPKI
) -> None:
    a = tmp_path / "a.pdf"
    add_signature_field(letter, a, "หัวหน้า", rect=R1)
    b = tmp_path / "b.pdf"
    add_signature_field(a, b, "ผู้อำนวยการ", rect=R2, lock=("หัวหน้า",))
    signed = tmp_path / "signed.pdf"
    sign_pdf(b, signed, ec_signer, field="ผู้อำนวยการ", signing_time=FIXED_TIME)
    status = pyhanko_status(signed, pki, 0)
    assert status.intact and status.trusted
    with pytest.raises(SigningError, match="locked"):
        sign_pdf(signed, tmp_path / "late.pdf", rsa_signer, field="หัวหน้า", signing_time=FIXED_TIME)
    # a lock given at signing time (new field) is written into the field too
    locked_all = tmp_path / "all.pdf"
    sign_pdf(
        letter, locked_all, ec_signer, field="ผู้อนุมัติ", rect=R2, lock_fields="all", signing_time=FIXED_TIME
    )
    sig = pyhanko_status(locked_all, pki, 0)
    assert sig.intact and sig.trusted
    signer2 = Signer.from_pkcs12(pki.officer_rsa.p12, PASSPHRASE)
    add_signature_field(locked_all, tmp_path / "all2.pdf", "อื่น", rect=R1)
    with pytest.raises(SigningError, match="locked"):
        sign_pdf(tmp_path / "all2.pdf", tmp_path / "all3.pdf", signer2, field="อื่น", signing_time=FIXED_TIME)


def test_cli_fields_add_list_and_sign(tmp_path: Path, letter: Path, pki: TestPKI, nssdb: str) -> None:
    one = tmp_path / "one.pdf"
    r = run_cli(
        "fields", "add", str(letter), "-o", str(one), "--name", F1, "--page", "1", "--rect", "60,40,280,140"
    )
    assert r.returncode == 0, r.stderr
    r = run_cli("fields", "list", str(one), "--json")
    assert r.returncode == 0 and F1 in r.stdout
    out = tmp_path / "signed.pdf"
    r = run_cli(
        "sign",
        str(one),
        "-o",
        str(out),
        "--p12",
        str(pki.officer_ec.p12),
        "--field",
        F1,
        "--certify",
        "form-filling",
        "--signing-time",
        "2026-11-21T03:42Z",
        env=CLI_ENV,
    )
    assert r.returncode == 0, r.stderr
    assert_pdfsig_valid(out, nssdb, count=1)
    r = run_cli("fields", "list", str(out))
    assert f"{F1}\tsigned" in r.stdout
