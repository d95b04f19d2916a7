"""The TSA answers real openssl ts queries over HTTP, and openssl verifies the replies."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import pytest
from asn1crypto import tsp
from support.pki import FIXED_TIME
from support.services import TEST_TSA_POLICY
from support.tools import require_tool


def _post(url: str, body: bytes) -> tuple[str, bytes]:
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/timestamp-query"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers["Content-Type"], resp.read()


@pytest.mark.parametrize("digest", ["sha256", "sha384", "sha512"])
@pytest.mark.parametrize("cert_req", [True, False])
def test_openssl_ts_verify(pki, pki_services, tmp_path: Path, digest: str, cert_req: bool):
    openssl = require_tool("openssl")
    data = tmp_path / "letter.txt"
    data.write_text("หนังสือราชการ ที่ มท ๐๘๐๘.๒/ว ๑๒๓๔\n", encoding="utf-8")
    query = tmp_path / "q.tsq"
    args = [openssl, "ts", "-query", "-data", str(data), f"-{digest}", "-out", str(query)]
    subprocess.run([*args, *(["-cert"] if cert_req else [])], check=True, timeout=30)
    ctype, reply = _post(pki_services.tsa_url, query.read_bytes())
    assert ctype == "application/timestamp-reply"
    (tmp_path / "r.tsr").write_bytes(reply)
    verify = [
        openssl, "ts", "-verify", "-data", str(data), "-in", str(tmp_path / "r.tsr"),
        "-CAfile", str(pki.root_pem), "-untrusted", str(pki.ca.cert_pem),
    ]  # fmt: skip
    if not cert_req:
        # the token carries no certificate: give openssl the TSA's own, with the intermediate
        both = tmp_path / "untrusted.pem"
        both.write_bytes(pki.tsa.cert_pem.read_bytes() + pki.ca.cert_pem.read_bytes())
        verify[-1] = str(both)
    r = subprocess.run(verify, capture_output=True, text=True, timeout=30)
    assert "Verification: OK" in r.stdout, r.stdout + r.stderr
    text = subprocess.run(
        [openssl, "ts", "-reply", "-in", str(tmp_path / "r.tsr"), "-text"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    assert "Status: Granted." in text
    assert f"Policy OID: {TEST_TSA_POLICY}" in text
    assert f"Hash Algorithm: {digest}" in text
    assert "Accuracy: 0x01 seconds" in text
    assert "Nonce: 0x" in text
    token = tsp.TimeStampResp.load(reply)["time_stamp_token"]["content"]
    info = token["encap_content_info"]["content"].parsed
    assert info["gen_time"].native == FIXED_TIME
    assert ("certificates" in token and token["certificates"].native is not None) == cert_req
    assert pki_services.tokens[-1].serial == info["serial_number"].native
