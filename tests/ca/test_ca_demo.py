"""``thaisign demo``: a demo CA and officer that re-running reuses."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ca_helpers import require_tool, run_cli
from cryptography import x509

from thaisign.ca import CertificateStore
from thaisign.keys import Signer


def test_demo_creates_then_reuses(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    r = run_cli("demo", "--dir", str(demo))
    assert r.returncode == 0, r.stderr
    assert "นายสมชาย ใจดี" in r.stdout and "created" in r.stdout
    for name in ("ca-passphrase.txt", "officer-passphrase.txt", "somchai.p12"):
        assert (demo / name).stat().st_mode & 0o777 == 0o600
    passphrase = (demo / "officer-passphrase.txt").read_text().strip()
    signer = Signer.from_pkcs12(demo / "somchai.p12", passphrase)
    assert signer.certificate is not None
    cn = signer.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == "นายสมชาย ใจดี"
    v = subprocess.run(
        [
            require_tool("openssl"),
            "verify",
            "-CAfile",
            str(demo / "ca" / "ca.pem"),
            str(demo / "somchai.pem"),
        ],
        capture_output=True,
        text=True,
    )
    assert v.returncode == 0, v.stderr

    r = run_cli("demo", "--dir", str(demo))
    assert r.returncode == 0 and "reused" in r.stdout, r.stderr
    with CertificateStore.open(demo / "ca") as store:
        assert store.counts()["certificates"] == 1
        store.verify_audit()
    r = run_cli("ca", "list", str(demo / "ca"))
    assert "DEMO-0001" in r.stdout
