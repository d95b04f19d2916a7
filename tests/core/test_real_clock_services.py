"""B-LT signing against freshly started ``ca serve`` + ``tsa serve`` at the real clock.

The operator's scenario of issue 9: a new CA, an officer, a TSA, the CA's OCSP/CRL service with a
delegated responder and the TSA served over HTTP — then ``thaisign sign --level B-LT`` one run
after another. Every run must succeed: the validation time may not fall before the OCSP response
it judges, and the CA has a CRL from ``ca init`` on.

Nothing here is pinned to a date: the CA, its responder and the TSA are made "now", so the test
holds whatever the clock says (CI also runs it with the clock moved years ahead).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from support.pdfs import minimal_pdf
from support.servers import free_port, wait_for_port

pytestmark = pytest.mark.slow

CA_PASS = "รหัสผ่าน-CA-ทดสอบ"
KEY_PASS = "รหัสผ่าน-เจ้าหน้าที่"
RUNS = 20


def _env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("THAISIGN_")}, **extra}


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thaisign", *args],
        capture_output=True, text=True, env=_env(**env), stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip


def _ok(r: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert r.returncode == 0, f"{r.args}\n{r.stdout}\n{r.stderr}"
    return r


@contextlib.contextmanager
def _serve(args: list[str], port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "thaisign", *args, "--port", str(port)],
        env=_env(**env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=60)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Agency:
    dir: Path
    ca: Path
    p12: Path
    tsa_url: str
    base_url: str
    serve_log: subprocess.Popen[str]


@pytest.fixture(scope="module")
def agency(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agency]:
    base = tmp_path_factory.mktemp("real-clock")
    ca_port, tsa_port = free_port(), free_port()
    base_url = f"http://127.0.0.1:{ca_port}"
    ca = base / "ca"
    _ok(_cli("ca", "init", str(ca), "--name-th", "กรมส่งเสริมการปกครองท้องถิ่น", "--key", "ec-p256",
             "--base-url", base_url, THAISIGN_CA_PASSPHRASE=CA_PASS))  # fmt: skip
    _ok(_cli("ca", "issue", str(ca), "--out-p12", str(base / "somchai.p12"), "--name-th", "นายสมชาย ใจดี",
             "--position", "ผู้อำนวยการกอง", "--key", "ec-p256",
             THAISIGN_CA_PASSPHRASE=CA_PASS, THAISIGN_PASSPHRASE=KEY_PASS))  # fmt: skip
    _ok(_cli("tsa", "init", str(base / "tsa"), "--ca", str(ca), "--name-th", "หน่วยประทับเวลา กรมทดสอบ",
             THAISIGN_CA_PASSPHRASE=CA_PASS, THAISIGN_PASSPHRASE=KEY_PASS))  # fmt: skip
    with (
        _serve(["ca", "serve", str(ca), "--issue-responder"], ca_port,
               {"THAISIGN_CA_PASSPHRASE": CA_PASS, "THAISIGN_PASSPHRASE": KEY_PASS}) as ca_proc,
        _serve(["tsa", "serve", str(base / "tsa")], tsa_port, {"THAISIGN_PASSPHRASE": KEY_PASS}),
    ):  # fmt: skip
        yield Agency(base, ca, base / "somchai.p12", f"http://127.0.0.1:{tsa_port}/tsa", base_url, ca_proc)


def test_the_new_ca_serves_a_crl_from_its_first_moment(agency: Agency) -> None:
    with urllib.request.urlopen(f"{agency.base_url}/crl/ca.crl", timeout=10) as resp:
        assert resp.status == 200
        crl = x509.load_der_x509_crl(resp.read())
    ca_cert = x509.load_pem_x509_certificate((agency.ca / "ca.pem").read_bytes())
    assert crl.is_signature_valid(ca_cert.public_key())
    assert crl.next_update_utc is not None and crl.next_update_utc > crl.last_update_utc
    # openssl agrees that the CA signed it
    der = agency.dir / "first.crl"
    der.write_bytes(crl.public_bytes(serialization.Encoding.DER))
    r = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(der), "-CAfile", str(agency.ca / "ca.pem"), "-noout"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and "verify OK" in r.stderr, r.stderr


def test_b_lt_signing_succeeds_every_time(agency: Agency) -> None:
    letter = agency.dir / "letter.pdf"
    letter.write_bytes(minimal_pdf())
    for i in range(RUNS):
        out = agency.dir / f"signed-{i}.pdf"
        r = _cli("sign", str(letter), "-o", str(out), "--p12", str(agency.p12), "--tsa", agency.tsa_url,
                 "--level", "B-LT", "--trust", str(agency.ca / "ca.pem"), "--json",
                 THAISIGN_PASSPHRASE=KEY_PASS)  # fmt: skip
        assert r.returncode == 0, f"run {i + 1} of {RUNS} failed: {r.stderr}"
        assert out.is_file()
    # the last letter verifies offline from what it carries
    r = _cli("verify", str(out), "--trust", str(agency.ca / "ca.pem"), "--offline", "--json")
    report = json.loads(r.stdout)["files"][0]
    assert report["verdict"] == "TOTAL_PASSED", r.stdout
    assert report["signatures"][0]["level"] == "B-LT"
