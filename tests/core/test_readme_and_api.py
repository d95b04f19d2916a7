"""The README's Python example runs as written; the public objects read well (reprs, one path)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.pki import TestPKI

ROOT = Path(__file__).resolve().parents[2]


def test_readme_python_example_runs_as_written(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "the README has one Python example"
    env = {
        **os.environ,
        "THAISIGN_CA_PASSPHRASE": "ca-ทดสอบ-passphrase",
        "THAISIGN_PASSPHRASE": "officer-ทดสอบ",
    }
    result = subprocess.run(
        [sys.executable, "-c", blocks[0]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "TOTAL_PASSED นายสมชาย ใจดี"
    assert (tmp_path / "somchai.p12").exists() and (tmp_path / "signed.pdf").exists()


def test_trust_store_from_one_path_never_iterates_a_string(pki: TestPKI, tmp_path: Path) -> None:
    from thaisign.verify import TrustStore

    one = TrustStore.from_paths(str(pki.root_pem), include_nrca=False)
    assert len(one) == 1
    assert len(TrustStore.from_paths(pki.root_pem, include_nrca=False)) == 1  # a Path
    assert len(TrustStore.from_paths([pki.root_pem, str(pki.ca.cert_pem)], include_nrca=False)) == 2
    with pytest.raises(TypeError):
        TrustStore.from_paths([b"/etc"], include_nrca=False)  # type: ignore[list-item]
    assert "Thaisign Test Root CA" in repr(one) and "1 anchors" in repr(one)
    assert "Thaisign Test Root CA" in repr(one.anchors[0])


def test_public_objects_have_readable_reprs(pki: TestPKI, tmp_path: Path) -> None:
    from support.pki import PASSPHRASE

    from thaisign import Authority, CaProfile, OfficerProfile, Signer
    from thaisign.verify.report import VerificationReport

    signer = Signer.from_pkcs12(pki.officer_ec.p12, PASSPHRASE)
    assert repr(signer) == "<SoftwareSigner ec-p256 'นายสมชาย ใจดี'>"
    with Authority.init(tmp_path / "ca", CaProfile(name_th="กรมทดสอบ"), passphrase="ca-pass-ทดสอบ") as ca:
        assert repr(ca).startswith("<Authority 'กรมทดสอบ' at ") and "with key" in repr(ca)
        issued = ca.issue_officer(
            OfficerProfile(name_th="นายสมชาย ใจดี", position="นักวิชาการ"), new_key="ec-p256"
        )
    text = repr(issued)
    assert text.startswith("<IssuedOfficer serial=") and "'นายสมชาย ใจดี' with key>" in text
    assert "\\x" not in text and len(text) < 120  # no raw certificate bytes
    assert repr(VerificationReport("a.pdf", error="x")) == "<VerificationReport 'a.pdf' ERROR error='x'>"
    for obj in (VerificationReport, Authority, Signer):
        for name in ("verdict", "passed", "get", "status_of", "audit_entries", "key_spec", "key_type"):
            member = getattr(obj, name, None)
            if member is not None:
                assert (member.__doc__ or "").strip(), f"{obj.__name__}.{name} has no docstring"
