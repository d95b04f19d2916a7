"""Algorithm consistency of the CMS signature: verified as declared, refused when declarations disagree.

Issue 11: a signature declared SHA3-256-with-RSA that verifies as declared was reported
SIG_CRYPTO_FAILURE; an RSASSA-PSS signature whose MGF1 hash differs from the message hash was
accepted. Letters are signed by pyHanko with a signer that declares (and really uses) the
algorithm under test; ``openssl cms -verify`` gives an independent view of the mathematics.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import subprocess
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import algos
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from support.pdfs import minimal_pdf
from support.pki import PASSPHRASE, TestPKI
from support.tools import require_tool

from thaisign.verify import TrustStore, verify_pdf
from thaisign.verify.algorithms import cms_algorithm_problem
from thaisign.verify.report import Indication, SubIndication

_HASHES = {
    "sha256": hashes.SHA256,
    "sha512": hashes.SHA512,
    "sha3_256": hashes.SHA3_256,
    "sha3_512": hashes.SHA3_512,
}


def _pss(hash_name: str, mgf_name: str, salt: int) -> algos.SignedDigestAlgorithm:
    return algos.SignedDigestAlgorithm(
        {
            "algorithm": "rsassa_pss",
            "parameters": algos.RSASSAPSSParams(
                {
                    "hash_algorithm": {"algorithm": hash_name},
                    "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": mgf_name}},
                    "salt_length": salt,
                }
            ),
        }
    )


def _signed(pki: TestPKI, md: str, mechanism: algos.SignedDigestAlgorithm, sign: Any) -> bytes:
    """A letter signed by the RSA officer: digest ``md``, declared ``mechanism``, value by ``sign``."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    base = signers.SimpleSigner.load(
        str(pki.officer_rsa.key_pem),
        str(pki.officer_rsa.cert_pem),
        ca_chain_files=(str(pki.chain_pem),),
        key_passphrase=PASSPHRASE.encode(),
    )
    key = serialization.load_pem_private_key(pki.officer_rsa.key_pem.read_bytes(), PASSPHRASE.encode())
    assert isinstance(key, rsa.RSAPrivateKey)

    class Declaring(signers.SimpleSigner):  # type: ignore[misc]
        def get_signature_mechanism_for_digest(self, digest_algorithm: Any) -> Any:
            return mechanism

        async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
            return bytes(256) if dry_run else sign(key, data)

    signer = Declaring(
        signing_cert=base.signing_cert, signing_key=base.signing_key, cert_registry=base.cert_registry
    )
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1", md_algorithm=md, subfilter=fields.SigSeedSubFilter.PADES
    )
    w = IncrementalPdfFileWriter(io.BytesIO(minimal_pdf("Algorithms")))
    return asyncio.run(signers.async_sign_pdf(w, meta, signer=signer)).getvalue()


def _pkcs1(hash_name: str) -> Any:
    return lambda key, data: key.sign(data, padding.PKCS1v15(), _HASHES[hash_name]())


def _pss_sign(hash_name: str, mgf_name: str, salt: int) -> Any:
    return lambda key, data: key.sign(
        data, padding.PSS(mgf=padding.MGF1(_HASHES[mgf_name]()), salt_length=salt), _HASHES[hash_name]()
    )


CASES = {
    # name: (digest, declared mechanism, signing function, expected)
    "sha3-256-with-rsa": (
        "sha3_256",
        algos.SignedDigestAlgorithm({"algorithm": "2.16.840.1.101.3.4.3.14"}),
        _pkcs1("sha3_256"),
        "valid",
    ),
    "rsassa-pss-sha3-256": (
        "sha3_256",
        _pss("sha3_256", "sha3_256", 32),
        _pss_sign("sha3_256", "sha3_256", 32),
        "valid",
    ),
    "rsassa-pss-sha256": ("sha256", _pss("sha256", "sha256", 32), _pss_sign("sha256", "sha256", 32), "valid"),
    "pss-mgf1-hash-differs": (
        "sha256",
        _pss("sha256", "sha512", 32),
        _pss_sign("sha256", "sha512", 32),
        "MGF1",
    ),
    # pyHanko refuses to make these two: they are signed consistently with SHA-512, then the
    # CMS's (unsigned) digest algorithm fields are rewritten to SHA-256 (see _declare_sha256)
    "pss-hash-differs-from-digest": (
        "sha512",
        _pss("sha512", "sha512", 64),
        _pss_sign("sha512", "sha512", 64),
        "RSASSA-PSS hash",
    ),
    "sha512-rsa-with-sha256-digest": (
        "sha512",
        algos.SignedDigestAlgorithm({"algorithm": "sha512_rsa"}),
        _pkcs1("sha512"),
        "declared digest",
    ),
}
_REWRITTEN = {"pss-hash-differs-from-digest", "sha512-rsa-with-sha256-digest"}


def _declare_sha256(pdf: bytes) -> bytes:
    """The signature's digest algorithm fields (SignedData and SignerInfo, outside the signed
    attributes) rewritten from SHA-512 to SHA-256 in place; /Contents is not in the byte range."""
    import binascii
    import re

    from asn1crypto import cms

    match = re.search(rb"/Contents\s*<([0-9A-Fa-f]+)>", pdf)
    assert match is not None
    raw = binascii.unhexlify(match.group(1))
    info = cms.ContentInfo.load(raw, strict=False)  # the zero padding after the DER is ignored; stripping
    # zeros would also cut a signature value that happens to end in 0x00 (one run in 256)
    signed_data = info["content"]
    signed_data["digest_algorithms"] = [{"algorithm": "sha256"}]
    signed_data["signer_infos"][0]["digest_algorithm"] = {"algorithm": "sha256"}
    der = info.dump(force=False)
    assert len(der) <= len(raw)
    patched = binascii.hexlify(der + bytes(len(raw) - len(der)))
    if match.group(1).isupper():
        patched = patched.upper()
    return pdf[: match.start(1)] + patched + pdf[match.end(1) :]


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_signature_verifies_as_declared_or_is_refused(
    name: str, pki: TestPKI, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    md, mechanism, sign, expected = CASES[name]
    signed = _signed(pki, md, mechanism, sign)
    if name in _REWRITTEN:
        signed = _declare_sha256(signed)
    (sig,) = verify_pdf(signed, trust, at=fixed_time, revocation="off").signatures
    if expected == "valid":
        assert sig.indication is Indication.TOTAL_PASSED, sig.messages.en
        assert sig.intact
    else:
        assert (sig.indication, sig.sub_indication) == (
            Indication.TOTAL_FAILED,
            SubIndication.SIG_CRYPTO_FAILURE,
        )
        assert expected in sig.messages.en[0] and "disagree" in sig.messages.en[0]
        assert "อัลกอริทึม" in sig.messages.th[0]


def _cms_and_content(pdf: bytes) -> tuple[bytes, bytes]:
    from asn1crypto import cms
    from pyhanko.pdf_utils.reader import PdfFileReader

    emb = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures[0]
    br = [int(x) for x in emb.byte_range]
    content = pdf[br[0] : br[0] + br[1]] + pdf[br[2] : br[2] + br[3]]
    return cms.ContentInfo({"content_type": "signed_data", "content": emb.signed_data}).dump(), content


@pytest.mark.parametrize("name", ["sha3-256-with-rsa", "rsassa-pss-sha3-256", "pss-mgf1-hash-differs"])
def test_openssl_sees_the_same_mathematics(name: str, pki: TestPKI, tmp_path: Path) -> None:
    """OpenSSL verifies each of these signatures cryptographically; the MGF1 case is refused by
    thaisign's policy (RFC 4055/8702: the MGF1 hash is the message hash), not by the mathematics."""
    md, mechanism, sign, _ = CASES[name]
    der, content = _cms_and_content(_signed(pki, md, mechanism, sign))
    (tmp_path / "sig.der").write_bytes(der)
    (tmp_path / "content.bin").write_bytes(content)
    proc = subprocess.run(
        [
            require_tool("openssl"),
            "cms",
            "-verify",
            "-noverify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "sig.der"),
            "-content",
            str(tmp_path / "content.bin"),
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_consistency_rules_in_isolation() -> None:
    from asn1crypto import cms

    def info(digest: str, mech: algos.SignedDigestAlgorithm) -> cms.SignerInfo:
        return cms.SignerInfo({"digest_algorithm": {"algorithm": digest}, "signature_algorithm": mech})

    assert (
        cms_algorithm_problem(info("sha256", algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"})))
        is None
    )
    assert (
        cms_algorithm_problem(info("sha512", algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"})))
        is None
    )
    ed = cms_algorithm_problem(info("sha256", algos.SignedDigestAlgorithm({"algorithm": "ed25519"})))
    assert ed is not None and "Ed25519" in ed[0] and "SHA-512" in ed[1]
    unknown = cms_algorithm_problem(info("sha256", algos.SignedDigestAlgorithm({"algorithm": "1.2.3.4"})))
    assert unknown is not None and "not supported" in unknown[0] and "ไม่รองรับ" in unknown[1]
