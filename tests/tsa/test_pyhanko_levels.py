"""pyHanko (not thaisign) signs B-T and B-LT letters with this TSA and these OCSP/CRL services,
and pyHanko's validator accepts them: the services work with an independent PAdES stack."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from support.pdfs import minimal_pdf
from support.pki import FIXED_TIME, PASSPHRASE
from support.services import TEST_TSA_POLICY


def _context(pki) -> ValidationContext:
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization

    root = asn1_x509.Certificate.load(pki.root.cert.public_bytes(serialization.Encoding.DER))
    ca = asn1_x509.Certificate.load(pki.ca.cert.public_bytes(serialization.Encoding.DER))
    return ValidationContext(
        trust_roots=[root],
        other_certs=[ca],
        allow_fetching=True,
        revocation_mode="hard-fail",
        moment=FIXED_TIME + dt.timedelta(minutes=5),
    )


@pytest.mark.parametrize("level", ["B-T", "B-LT"])
def test_pyhanko_signs_and_validates_with_our_services(pki, pki_services, level: str) -> None:
    signer = signers.SimpleSigner.load(
        str(pki.officer_ec.key_pem),
        str(pki.officer_ec.cert_pem),
        ca_chain_files=(str(pki.chain_pem),),
        key_passphrase=PASSPHRASE.encode(),
    )
    assert signer is not None
    before = len(pki_services.tokens)
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1",
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=level == "B-LT",
        validation_context=_context(pki) if level == "B-LT" else None,
    )
    out = signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(minimal_pdf())),
        meta,
        signer=signer,
        timestamper=timestamps.HTTPTimeStamper(pki_services.tsa_url),
    )
    assert len(pki_services.tokens) > before  # our TSA issued (and logged) the token(s)
    sig = PdfFileReader(out).embedded_signatures[0]
    status = validate_pdf_signature(
        sig, signer_validation_context=_context(pki), ts_validation_context=_context(pki)
    )
    assert status.intact and status.valid, status.pretty_print_details()
    assert status.trusted, status.pretty_print_details()
    ts = status.timestamp_validity
    assert ts is not None and ts.intact and ts.valid and ts.trusted, status.pretty_print_details()
    assert ts.timestamp == FIXED_TIME
    unsigned = {a["type"].native: a["values"][0] for a in sig.signer_info["unsigned_attrs"]}
    token = unsigned["signature_time_stamp_token"]
    token_info = token["content"]["encap_content_info"]["content"].parsed
    assert token_info["policy"].dotted == TEST_TSA_POLICY
    if level == "B-LT":
        dss_ocsp = PdfFileReader(out).root["/DSS"].get("/OCSPs")
        assert dss_ocsp is not None and len(dss_ocsp) >= 1
        assert pki_services.hits["ocsp"] > 0


def test_pyhanko_validator_sees_revocation_from_our_responder(pki, pki_services) -> None:
    officer = pki.issue_officer("revoked-for-pyhanko")
    signer = signers.SimpleSigner.load(
        str(officer.key_pem), str(officer.cert_pem), ca_chain_files=(str(pki.chain_pem),),
        key_passphrase=PASSPHRASE.encode(),
    )  # fmt: skip
    assert signer is not None
    out = signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(minimal_pdf("Revoked"))),
        signers.PdfSignatureMetadata(field_name="Signature1", subfilter=fields.SigSeedSubFilter.PADES),
        signer=signer,
        timestamper=timestamps.HTTPTimeStamper(pki_services.tsa_url),
    )
    pki_services.revoke(officer, "keyCompromise", FIXED_TIME - dt.timedelta(days=3))
    try:
        sig = PdfFileReader(out).embedded_signatures[0]
        status = validate_pdf_signature(sig, signer_validation_context=_context(pki))
    finally:
        pki_services.unrevoke_all()
    assert status.intact and status.valid  # the signature itself is fine ...
    assert status.revoked and not status.bottom_line, status.pretty_print_details()  # ... but revoked
