"""PAdES levels B-T, B-LT, B-LTA and adbe.pkcs7.detached against real OCSP/CRL/TSA servers on
127.0.0.1 (the ``pki_services`` fixture), and extending signed letters with ``ltv``."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from pades_checks import (
    CLI_ENV,
    assert_pdfsig_valid,
    pdfsig,
    qpdf_check,
    require_tool,
    run_cli,
    validation_context,
)
from support.pki import FIXED_TIME, PASSPHRASE, TestPKI

from thaisign.errors import CertificateError, UsageError
from thaisign.keys import Signer, SoftwareSigner
from thaisign.pades import sign_pdf
from thaisign.pades.ltv import extend_ltv


def _reader(path: Path) -> Any:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return PdfFileReader(io.BytesIO(path.read_bytes()))


def _offline_dss_status(path: Path, pki: TestPKI, index: int = 0) -> Any:
    """Validate with revocation checking required but no network: only the /DSS can answer."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    reader = _reader(path)
    root = asn1_x509.Certificate.load(pki.root.cert.public_bytes(serialization.Encoding.DER))
    dss = DocumentSecurityStore.read_dss(reader)
    vc = dss.as_validation_context(
        {"trust_roots": [root], "moment": FIXED_TIME, "allow_fetching": False, "revocation_mode": "hard-fail"}
    )
    return dss, validate_pdf_signature(reader.embedded_regular_signatures[index], vc)


def _openssl_ts_verify(path: Path, pki: TestPKI, tmp_path: Path) -> None:
    """Check the document timestamp with openssl ts over its byte ranges."""
    from asn1crypto import cms

    require_tool("openssl")
    reader = _reader(path)
    (ts,) = reader.embedded_timestamp_signatures
    data = path.read_bytes()
    br = [int(v) for v in ts.sig_object["/ByteRange"]]
    contents = data[br[0] + br[1] + 1 : br[2] - 1]
    token = cms.ContentInfo.load(bytes.fromhex(contents.decode()), strict=False).dump()
    (tmp_path / "ts.der").write_bytes(token)
    (tmp_path / "ts-data.bin").write_bytes(data[br[0] : br[0] + br[1]] + data[br[2] : br[2] + br[3]])
    (tmp_path / "untrusted.pem").write_bytes(pki.tsa.cert_pem.read_bytes() + pki.ca.cert_pem.read_bytes())
    r = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-data",
            str(tmp_path / "ts-data.bin"),
            "-in",
            str(tmp_path / "ts.der"),
            "-token_in",
            "-CAfile",
            str(pki.root_pem),
            "-untrusted",
            str(tmp_path / "untrusted.pem"),
            "-attime",
            str(int(FIXED_TIME.timestamp()) + 60),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and "Verification: OK" in r.stdout, r.stdout + r.stderr


def test_b_t(
    tmp_path: Path, letter: Path, ec_signer: SoftwareSigner, pki: TestPKI, pki_services: Any, nssdb: str
) -> None:
    out = tmp_path / "bt.pdf"
    before = len(pki_services.tokens)
    result = sign_pdf(letter, out, ec_signer, tsa=pki_services.tsa_url, signing_time=FIXED_TIME)
    assert result.level == "B-T"  # the default with a TSA
    assert len(pki_services.tokens) > before
    assert_pdfsig_valid(out, nssdb, count=1)
    qpdf_check(out)
    from pyhanko.sign.validation import validate_pdf_signature

    status = validate_pdf_signature(_reader(out).embedded_regular_signatures[0], validation_context(pki))
    assert status.intact and status.trusted and status.coverage.name == "ENTIRE_FILE"
    ts = status.timestamp_validity
    assert ts is not None and ts.intact and ts.valid and ts.trusted
    assert ts.timestamp == FIXED_TIME
    unsigned = _reader(out).embedded_regular_signatures[0].signer_info["unsigned_attrs"]
    assert "signature_time_stamp_token" in {a["type"].native for a in unsigned}


def test_b_lt_and_b_lta(
    tmp_path: Path, letter: Path, rsa_signer: SoftwareSigner, pki: TestPKI, pki_services: Any, nssdb: str
) -> None:
    lt = tmp_path / "lt.pdf"
    sign_pdf(
        letter,
        lt,
        rsa_signer,
        level="B-LT",
        tsa=pki_services.tsa_url,
        signing_time=FIXED_TIME,
        rect=(300, 45, 560, 145),
    )
    out = assert_pdfsig_valid(lt, nssdb, count=1, total_last=False)
    assert "ETSI.CAdES.detached" in out.signatures[0]
    qpdf_check(lt)
    dss, status = _offline_dss_status(lt, pki)
    assert dss.certs and dss.ocsps  # the chain's certificates and OCSP answers for officer and CA
    assert status.intact and status.trusted, status.pretty_print_details()
    assert status.modification_level.name in ("NONE", "LTA_UPDATES")
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted

    lta = tmp_path / "lta.pdf"
    sign_pdf(letter, lta, rsa_signer, level="B-LTA", tsa=pki_services.tsa_url, signing_time=FIXED_TIME)
    out = pdfsig(lta, nssdb)
    assert "Signature is Valid" in out.signatures[0]
    qpdf_check(lta)
    reader = _reader(lta)
    assert len(reader.embedded_timestamp_signatures) == 1
    dss, status = _offline_dss_status(lta, pki)
    assert status.intact and status.trusted and status.modification_level.name == "LTA_UPDATES"
    from pyhanko.sign.validation import validate_pdf_timestamp

    ts_status = validate_pdf_timestamp(reader.embedded_timestamp_signatures[0], validation_context(pki))
    assert ts_status.intact and ts_status.valid and ts_status.trusted
    assert ts_status.coverage.name in ("ENTIRE_FILE", "ENTIRE_REVISION")  # a DSS update may follow
    _openssl_ts_verify(lta, pki, tmp_path)


def test_adbe_subfilter_with_revocation_in_signed_attribute(
    tmp_path: Path, letter: Path, ec_signer: SoftwareSigner, pki: TestPKI, pki_services: Any, nssdb: str
) -> None:
    out = tmp_path / "adbe.pdf"
    sign_pdf(
        letter,
        out,
        ec_signer,
        level="B-LT",
        subfilter="adbe",
        tsa=pki_services.tsa_url,
        signing_time=FIXED_TIME,
    )
    sig = assert_pdfsig_valid(out, nssdb, count=1).signatures[0]
    assert "adbe.pkcs7.detached" in sig
    qpdf_check(out)
    embedded = _reader(out).embedded_regular_signatures[0]
    attrs = {a["type"].native: a for a in embedded.signer_info["signed_attrs"]}
    archival = attrs["adobe_revocation_info_archival"]["values"][0]
    assert len(archival["ocsp"]) >= 1
    from pyhanko.sign.validation import validate_pdf_signature

    # offline, revocation required: the OCSP answers in the signed attribute must suffice
    vc = validation_context(pki, revocation_mode="hard-fail", ocsps=list(archival["ocsp"]), crls=[])
    status = validate_pdf_signature(embedded, vc)
    assert status.intact and status.trusted

    # thaisign's own verifier, offline: the signed attribute alone answers the revocation question
    from thaisign.verify import TrustStore, verify_pdf

    report = verify_pdf(out, TrustStore.from_paths([pki.root_pem]), at=FIXED_TIME, revocation="offline")
    (mine,) = report.signatures
    assert mine.revocation.status == "good" and mine.revocation.source == "embedded", mine.to_dict()
    assert report.verdict.value == "TOTAL_PASSED", mine.to_dict()


def test_ltv_extends_b_t_to_b_lta_keeping_the_signature(
    tmp_path: Path, letter: Path, ec_signer: SoftwareSigner, pki: TestPKI, pki_services: Any, nssdb: str
) -> None:
    bt = tmp_path / "bt.pdf"
    sign_pdf(letter, bt, ec_signer, tsa=pki_services.tsa_url, signing_time=FIXED_TIME)
    lt = tmp_path / "lt.pdf"
    r1 = extend_ltv(bt, lt, level="B-LT", at=FIXED_TIME)
    assert r1.signatures == 1 and not r1.document_timestamp_added
    assert lt.read_bytes().startswith(bt.read_bytes())
    dss, status = _offline_dss_status(lt, pki)
    assert dss.ocsps and status.intact and status.trusted
    r = run_cli(
        "ltv",
        str(lt),
        "-o",
        str(tmp_path / "lta.pdf"),
        "--tsa",
        pki_services.tsa_url,
        "--trust",
        str(pki.root_pem),
        "--at",
        FIXED_TIME.isoformat(),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["document_timestamp"] is True
    lta = tmp_path / "lta.pdf"
    assert "Signature is Valid" in pdfsig(lta, nssdb).signatures[0]
    qpdf_check(lta)
    dss, status = _offline_dss_status(lta, pki)
    assert status.intact and status.trusted and status.modification_level.name == "LTA_UPDATES"
    _openssl_ts_verify(lta, pki, tmp_path)
    with pytest.raises(Exception, match="no signature"):
        extend_ltv(letter, tmp_path / "x.pdf", level="B-LT")
    bb = tmp_path / "bb.pdf"
    sign_pdf(letter, bb, ec_signer, signing_time=FIXED_TIME)
    with pytest.raises(UsageError, match="B-B"):
        extend_ltv(bb, tmp_path / "y.pdf", level="B-LTA", tsa=pki_services.tsa_url)
    assert not (tmp_path / "y.pdf").exists()


def test_cli_b_lta(tmp_path: Path, letter: Path, pki: TestPKI, pki_services: Any, nssdb: str) -> None:
    out = tmp_path / "lta.pdf"
    r = run_cli(
        "sign",
        str(letter),
        "-o",
        str(out),
        "--p12",
        str(pki.officer_ec.p12),
        "--level",
        "B-LTA",
        "--tsa",
        pki_services.tsa_url,
        "--anchor-text",
        "ลงชื่อ",
        "--signing-time",
        "2026-11-21T03:42Z",
        env=CLI_ENV,
    )
    assert r.returncode == 0, r.stderr
    assert "B-LTA" in r.stdout
    assert "Signature is Valid" in pdfsig(out, nssdb).signatures[0]
    assert len(_reader(out).embedded_timestamp_signatures) == 1


def test_revoked_certificate_cannot_reach_b_lt(
    tmp_path: Path, letter: Path, pki: TestPKI, pki_services: Any
) -> None:
    issued = pki.issue_officer("revoked-officer")
    signer = Signer.from_pkcs12(issued.p12, PASSPHRASE)
    pki_services.revoke(issued)
    try:
        with pytest.raises(CertificateError, match="revoked"):
            sign_pdf(
                letter,
                tmp_path / "r.pdf",
                signer,
                level="B-LT",
                tsa=pki_services.tsa_url,
                signing_time=FIXED_TIME,
            )
    finally:
        pki_services.unrevoke_all()
    assert not (tmp_path / "r.pdf").exists()


def test_b_lt_accepts_revocation_data_produced_just_after_the_validation_time(
    tmp_path: Path, letter: Path, pki: TestPKI, pki_services: Any
) -> None:
    """A responder answers with thisUpdate = its own "now", which lies after the moment signing
    began (issue 9: 2 of 5 real-clock runs failed with "OCSP response is too recent")."""
    import datetime as dt

    issued = pki.issue_officer("skew-officer")  # no OCSP answer for it is cached anywhere yet
    signer = Signer.from_pkcs12(issued.p12, PASSPHRASE)
    with pki_services.at(FIXED_TIME + dt.timedelta(seconds=60)):
        result = sign_pdf(
            letter, tmp_path / "lt.pdf", signer, level="B-LT", tsa=pki_services.tsa_url, at=FIXED_TIME
        )
    assert result.level == "B-LT"
    # data from well after the validation time is still refused: it says nothing about "then"
    late = pki.issue_officer("late-officer")
    with (
        pki_services.at(FIXED_TIME + dt.timedelta(minutes=30)),
        pytest.raises(CertificateError, match="too recent"),
    ):
        sign_pdf(
            letter,
            tmp_path / "late.pdf",
            Signer.from_pkcs12(late.p12, PASSPHRASE),
            level="B-LT",
            tsa=pki_services.tsa_url,
            at=FIXED_TIME,
        )
    assert not (tmp_path / "late.pdf").exists()
