"""``thaisign demo``: the whole story (CA, TSA, B-LT Thai letter, report), checked by outside tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from support.tools import require_tool

from thaisign.ca import CertificateStore
from thaisign.keys import Signer


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thaisign", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "LANG": "C.UTF-8"},
        timeout=120,
    )


def test_demo_tells_the_whole_story_then_reuses(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    r = run_cli("demo", "--dir", str(demo), "--lang", "en")
    assert r.returncode == 0, r.stderr
    assert "created" in r.stdout and "นายสมชาย ใจดี" in r.stdout
    assert "Verdict: VALID [TOTAL_PASSED]" in r.stdout and "PAdES level: B-LT" in r.stdout
    for name in ("ca-passphrase.txt", "officer-passphrase.txt", "somchai.p12"):
        assert (demo / name).stat().st_mode & 0o777 == 0o600

    # The officer certificate: Thai name, chains to the demo CA by openssl.
    signer = Signer.from_pkcs12(demo / "somchai.p12", (demo / "officer-passphrase.txt").read_text().strip())
    assert signer.certificate is not None
    cn = signer.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == "นายสมชาย ใจดี"
    openssl = require_tool("openssl")
    v = subprocess.run(
        [openssl, "verify", "-CAfile", str(demo / "ca" / "ca.pem"), str(demo / "somchai.pem")],
        capture_output=True,
        text=True,
    )
    assert v.returncode == 0, v.stderr

    # The signed letter, by tools nobody here wrote.
    signed = demo / "letter-signed.pdf"
    q = subprocess.run([require_tool("qpdf"), "--check", str(signed)], capture_output=True, text=True)
    assert q.returncode == 0, q.stdout + q.stderr
    p = subprocess.run([require_tool("pdfsig"), "-nocert", str(signed)], capture_output=True, text=True)
    assert "Signature is Valid" in p.stdout, p.stdout + p.stderr
    text = subprocess.run(
        [require_tool("pdftotext"), "-l", "1", str(signed), "-"], capture_output=True, text=True
    ).stdout
    assert "ขอเชิญประชุม" in text and "ผู้อำนวยการกองกลาง" in text

    # The report files agree with the printed verdict.
    doc = json.loads((demo / "report.json").read_text(encoding="utf-8"))
    (entry,) = doc["files"]
    assert entry["verdict"] == "TOTAL_PASSED"
    (sig,) = entry["signatures"]
    assert sig["signer"]["name"] == "นายสมชาย ใจดี" and sig["signer"]["position"] == "ผู้อำนวยการกองกลาง"
    assert sig["signing_time_source"] == "timestamp" and sig["level"] == "B-LT"
    assert sig["revocation"]["status"] == "good"
    assert "<html" in (demo / "report.html").read_text(encoding="utf-8").lower()

    # A clerk's own check of the letter, offline, trusting only the demo CA.
    r2 = run_cli("verify", str(signed), "--trust", str(demo / "ca" / "ca.pem"), "--offline", "--json")
    assert r2.returncode == 0, r2.stdout + r2.stderr
    assert json.loads(r2.stdout)["files"][0]["verdict"] == "TOTAL_PASSED"

    # Re-running reuses the CA and officer; the store and its audit chain stay sound.
    r3 = run_cli("demo", "--dir", str(demo), "--lang", "th")
    assert r3.returncode == 0 and "ใช้ของเดิม" in r3.stdout, r3.stderr
    assert "TOTAL_PASSED" in r3.stdout
    # Thai mode is all Thai: the steps and the report (identifiers, paths and commands aside)
    for english in ("demo CA", "officer ", "letter:", "signed at", "the clerk's report", "next:", "Verdict"):
        assert english not in r3.stdout, english
    with CertificateStore.open(demo / "ca") as store:
        assert store.verify_audit().entries >= 3  # CA created, officer and TSA issued (raises if broken)
        issued = store.certificates()
    assert sum(1 for c in issued if c.employee_id == "DEMO-0001") == 1  # the officer was not issued twice
