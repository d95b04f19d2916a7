"""The fast CMS path encodes exactly what pyHanko would; the CLI stays light to import."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from asn1crypto import cms
from pyhanko.sign.signers import pdf_cms
from support.pki import FIXED_TIME, TestPKI

from thaisign.keys import SoftwareSigner
from thaisign.pades._pyhanko import PyHankoSigner, adapter_for


def test_fast_cms_matches_pyhanko_structure(ec_signer: SoftwareSigner, pki: TestPKI) -> None:
    adapter = PyHankoSigner(ec_signer)
    digest = bytes(range(32))
    settings = pdf_cms.PdfCMSSignedAttributes(signing_time=FIXED_TIME)
    fast = asyncio.run(adapter.async_sign(digest, "sha256", use_pades=True, signed_attr_settings=settings))
    # pyHanko's own code path for the same input (the base class method)
    slow = asyncio.run(
        pdf_cms.Signer.async_sign(adapter, digest, "sha256", use_pades=True, signed_attr_settings=settings)
    )
    f, s = fast["content"], slow["content"]
    assert f["signer_infos"][0]["signed_attrs"].dump() == s["signer_infos"][0]["signed_attrs"].dump()
    for key in ("sid", "digest_algorithm", "signature_algorithm"):
        assert f["signer_infos"][0][key].dump() == s["signer_infos"][0][key].dump()
    assert sorted(c.dump() for c in f["certificates"]) == sorted(c.dump() for c in s["certificates"])
    assert f["digest_algorithms"].dump() == s["digest_algorithms"].dump()
    assert f["encap_content_info"].dump() == s["encap_content_info"].dump()
    assert f["version"].native == s["version"].native
    # the fast container re-parses as DER and verifies (cryptography checks the signature)
    reparsed = cms.ContentInfo.load(fast.dump())
    info = reparsed["content"]["signer_infos"][0]
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    tbs = info["signed_attrs"].untag().dump()
    ec_signer.public_key.verify(info["signature"].native, tbs, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr,call-arg]
    assert adapter_for(ec_signer, "sha256") is adapter_for(ec_signer, "sha256")


def test_cli_import_does_not_load_pyhanko() -> None:
    code = "import sys, thaisign.cli, thaisign._cli.sign; print('pyhanko' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


def test_reservation_is_kept_per_signer_and_follows_its_certificates(
    ec_signer: SoftwareSigner, pki: TestPKI
) -> None:
    """The CMS space reserved for a B-B signature is computed once per signer, and again when
    the signer's certificates are other objects (a longer chain needs more room)."""
    from thaisign.pades.signer import _reserve_for, _reserve_without_timestamp

    alone = SoftwareSigner(ec_signer.private_key, ec_signer.certificate)
    assert _reserve_without_timestamp(alone) == _reserve_for(alone)
    assert _reserve_without_timestamp(alone) == _reserve_for(alone)  # from the cache
    chained = SoftwareSigner(ec_signer.private_key, ec_signer.certificate, (pki.ca.cert, pki.root.cert))
    assert _reserve_without_timestamp(chained) == _reserve_for(chained) > _reserve_for(alone)
