"""Any file signed with a key held by the remote CSC signing service: ``thaisign sign-file --csc``
makes a CAdES signature and an ASiC-E through the same Signer interface as local keys; thaisign
and ``openssl cms -verify`` check them."""

from __future__ import annotations

import subprocess
import zipfile

from service_helpers import OFFICER_PINS, VERIFY_AT
from support.csc_deployment import AUDIENCE
from support.tools import require_tool

from thaisign.verify import TrustStore
from thaisign.verify.asic import verify_asic
from thaisign.verify.cades import verify_cades


def _openssl_ok(root_pem, signature, content) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.run(
        [require_tool("openssl"), "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature),
         "-content", str(content), "-CAfile", str(root_pem), "-purpose", "any",
         "-attime", str(int(VERIFY_AT.timestamp())), "-out", "/dev/null"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_sign_file_through_the_signing_service(infra, pin_agency, tmp_path):  # type: ignore[no-untyped-def]
    evidence = tmp_path / "ภาพถ่ายที่เกิดเหตุ.jpg"
    evidence.write_bytes(b"\xff\xd8 a photo " * 500)
    note = tmp_path / "บันทึก.txt"
    note.write_text("บันทึกประกอบ", encoding="utf-8")
    token = infra.op.login("somsri", AUDIENCE)
    env = {**infra.env, "THAISIGN_CSC_TOKEN": token, "THAISIGN_CSC_PIN": OFFICER_PINS["somsri"]}
    p7s = tmp_path / "photo.p7s"
    made = infra.run("sign-file", str(evidence), "-o", str(p7s), "--csc", pin_agency.url, env=env)
    assert "cades-detached" in made.stdout and token not in made.stdout + made.stderr
    box = tmp_path / "case.asice"
    infra.run("sign-file", str(evidence), str(note), "--asic", str(box), "--csc", pin_agency.url, env=env)
    trust = TrustStore.from_paths(infra.root_pem, include_nrca=False)
    report = verify_cades(p7s, trust, data=evidence, at=VERIFY_AT, revocation="off")
    assert report.verdict.value == "TOTAL_PASSED", report.signatures[0].messages.en
    assert report.signatures[0].signer.name == "นางสาวสมศรี รักงาน"
    _openssl_ok(infra.root_pem, p7s, evidence)
    container = verify_asic(box, trust, at=VERIFY_AT, revocation="off")
    assert container.verdict.value == "TOTAL_PASSED" and len(container.signatures[0].covers) == 2
    with zipfile.ZipFile(box) as z:
        (tmp_path / "m.xml").write_bytes(z.read("META-INF/ASiCManifest001.xml"))
        (tmp_path / "s.p7s").write_bytes(z.read("META-INF/signature001.p7s"))
    _openssl_ok(infra.root_pem, tmp_path / "s.p7s", tmp_path / "m.xml")
