"""Signatures made by tools nobody here wrote, verified by thaisign: ``openssl cms -sign``
(detached and enveloping), endesive's CMS signer and pyHanko's generic CMS signer — and the
same files changed by one byte, which every verdict must catch."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms
from files_helpers import AT
from support.pki import PASSPHRASE, TestPKI
from support.tools import require_tool

from thaisign.verify import TrustStore
from thaisign.verify.cades import verify_cades
from thaisign.verify.report import Indication, SubIndication, Verdict


def _openssl_sign(pki: TestPKI, data: Path, out: Path, *, detached: bool) -> None:
    key = pki.officer_ec.key_pem
    args = [
        require_tool("openssl"),
        "cms",
        "-sign",
        "-binary",
        "-in",
        str(data),
        "-signer",
        str(pki.officer_ec.cert_pem),
    ]
    args += ["-inkey", str(key), "-passin", "env:KEYPASS", "-certfile", str(pki.chain_pem), "-outform", "DER"]
    args += ["-out", str(out), "-md", "sha256", "-cades"]
    if not detached:
        args.append("-nodetach")
    subprocess.run(
        args, check=True, capture_output=True, env={"KEYPASS": PASSPHRASE, "PATH": "/usr/bin:/bin"}
    )


def _flip(data: Path) -> None:
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    data.write_bytes(bytes(raw))


@pytest.mark.parametrize("detached", [True, False])
def test_openssl_cms_signatures(
    detached: bool, tmp_path: Path, evidence: dict[str, Path], pki: TestPKI, trust: TrustStore
) -> None:
    src = evidence["คำสั่งศาล.pdf"]
    out = tmp_path / (src.name + (".p7s" if detached else ".p7m"))
    _openssl_sign(pki, src, out, detached=detached)
    report = verify_cades(out, trust, at=AT, revocation="off")
    assert report.verdict is Verdict.TOTAL_PASSED, report.signatures[0].messages.en
    assert report.signatures[0].signer.name == "นายสมชาย ใจดี"  # type: ignore[union-attr]
    if detached:
        _flip(src)
    else:
        raw = bytearray(out.read_bytes())
        raw[raw.index(b"a court order")] ^= 0x01
        out.write_bytes(bytes(raw))
    sig = verify_cades(out, trust, at=AT, revocation="off").signatures[0]
    assert (sig.indication, sig.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)


def test_endesive_signature(
    tmp_path: Path, evidence: dict[str, Path], pki: TestPKI, trust: TrustStore
) -> None:
    """endesive's CMS signer (detached: no encapsulated content), with its signed attributes."""
    from endesive import signer as endesive_signer

    src = evidence["บันทึกเสียง.m4a"]
    key = pki.officer_rsa.key
    chain = [pki.ca.cert, pki.root.cert]
    signature = endesive_signer.sign(src.read_bytes(), key, pki.officer_rsa.cert, chain, "sha256", attrs=True)
    info = cms.ContentInfo.load(signature)
    if info["content"]["encap_content_info"]["content"].native is not None:  # endesive may envelop
        pytest.fail("endesive produced an enveloping signature; this test expects a detached one")
    out = tmp_path / (src.name + ".p7s")
    out.write_bytes(signature)
    report = verify_cades(out, trust, at=AT, revocation="off")
    assert report.verdict is Verdict.TOTAL_PASSED, report.signatures[0].messages.en
    assert report.signatures[0].signer.name == "นางสาวสมหญิง รักไทย"  # type: ignore[union-attr]
    _flip(src)
    assert (
        verify_cades(out, trust, at=AT, revocation="off").signatures[0].sub_indication
        is SubIndication.HASH_FAILURE
    )


def test_pyhanko_generic_cms_signature(
    tmp_path: Path, evidence: dict[str, Path], pki: TestPKI, trust: TrustStore
) -> None:
    """pyHanko's own SimpleSigner over arbitrary data (CAdES-style attributes)."""
    from pyhanko.sign import signers

    src = evidence["ภาพถ่ายที่เกิดเหตุ.jpg"]
    simple = signers.SimpleSigner.load_pkcs12(str(pki.officer_ec.p12), passphrase=PASSPHRASE.encode())
    assert simple is not None
    info = asyncio.run(
        simple.async_sign_general_data(src.read_bytes(), "sha256", detached=True, use_cades=True)
    )
    out = tmp_path / (src.name + ".p7s")
    out.write_bytes(info.dump())
    report = verify_cades(out, trust, at=AT, revocation="off")
    assert report.verdict is Verdict.TOTAL_PASSED, report.signatures[0].messages.en
