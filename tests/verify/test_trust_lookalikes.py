"""Look-alike national roots are refused wherever they come from; a report's chain is the path validated.

Issue 11: a root named like NRCA G1 with an en dash, NBSP, Cyrillic о, a trailing space or two
CNs, given with --trust or in the trust folder, verified TOTAL_PASSED and was shown as the
national root; the JSON chain of a forged chain ended with the real NRCA G3 fingerprint.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support.pdfs import minimal_pdf

from thaisign.errors import TrustError
from thaisign.verify import TrustStore, verify_pdf
from thaisign.verify.report import SubIndication
from thaisign.verify.trust import PINNED_NRCA

G1 = "Thailand National Root Certification Authority - G1"
G3 = "Thailand National Root Certification Authority - G3"

LOOKALIKES = {
    "en-dash": G1.replace("-", "\u2013"),
    "nbsp": G1.replace(" ", "\u00a0"),
    "cyrillic-o": G1.replace("o", "\u043e"),
    "trailing-space": G1 + " ",
    "upper-case": G3.upper(),
    "zero-width-space": G3.replace("Root", "Ro\u200bot"),
    "digit-one-as-ell": G1.replace("G1", "Gl"),
    "fullwidth": G3.replace("G3", "\uff27\uff13"),
}


def _root(*cns: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "TH")]
    attrs += [x509.NameAttribute(NameOID.COMMON_NAME, cn) for cn in cns]
    name = x509.Name(attrs)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2031, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


@pytest.mark.parametrize("variant", list(LOOKALIKES), ids=list(LOOKALIKES))
def test_lookalike_root_is_refused_from_any_source(
    variant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, _ = _root(LOOKALIKES[variant])
    pem = cert.public_bytes(serialization.Encoding.PEM)
    path = tmp_path / "root.pem"
    path.write_bytes(pem)
    with pytest.raises(TrustError, match="pinned") as info:
        TrustStore.from_paths([path])
    assert "\u200b" not in str(info.value) and "\u00a0" not in str(info.value)  # shown visibly
    with pytest.raises(TrustError):
        TrustStore.from_certificates([cert.public_bytes(serialization.Encoding.DER)])
    folder = tmp_path / "config" / "thaisign" / "trust"
    folder.mkdir(parents=True)
    (folder / "root.pem").write_bytes(pem)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with pytest.raises(TrustError):
        TrustStore.default()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("THAISIGN_TRUST", str(path))
    with pytest.raises(TrustError):
        TrustStore.default()


def test_a_second_common_name_cannot_hide_the_claim(tmp_path: Path) -> None:
    cert, _ = _root(G1, "ไม่ใช่รากแห่งชาติ")
    path = tmp_path / "two-cns.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(TrustError, match="pinned"):
        TrustStore.from_paths([path])


def test_ordinary_agency_roots_are_not_mistaken_for_the_national_root(tmp_path: Path) -> None:
    for cn in ("กรมทดสอบ Root CA", "Thailand Agency Root - G1", "National Root of Nowhere"):
        cert, _ = _root(cn)
        path = tmp_path / "ok.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        assert len(TrustStore.from_paths([path], include_nrca=False)) == 1


def test_forged_chain_lists_only_what_was_validated() -> None:
    """A letter whose chain ends in a self-made "NRCA G3": the real G3 is the only anchor, no path
    validates, and the report's chain holds the signer alone — never the real G3's fingerprint."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    fake_root, fake_key = _root(G3)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "นายปลอม ลายมือ")]))
        .issuer_name(fake_root.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2031, 1, 1, tzinfo=dt.UTC))
        .sign(fake_key, hashes.SHA256())
    )
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509

    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(leaf.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            leaf_key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(fake_root.public_bytes(serialization.Encoding.DER))]
        ),
    )
    meta = signers.PdfSignatureMetadata(field_name="Signature1", subfilter=fields.SigSeedSubFilter.PADES)
    signed = signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(minimal_pdf())), meta, signer=signer
    ).getvalue()
    at = dt.datetime(2026, 11, 21, 3, 42, tzinfo=dt.UTC)
    (sig,) = verify_pdf(signed, TrustStore.bundled(), at=at, revocation="off").signatures
    assert sig.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND and not sig.trusted
    assert len(sig.chain) == 1 and sig.chain[0].subject.endswith("นายปลอม ลายมือ")
    assert all(c.sha256.upper() != PINNED_NRCA[G3] for c in sig.chain)
