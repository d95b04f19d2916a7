"""OCSP responses and timestamps signed by keys in a PKCS#11 token (SoftHSM2), through Signer."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from asn1crypto import keys, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from support.pki import FIXED_TIME
from support.servers import free_port, wait_for_port
from support.tools import require_tool

from thaisign import hsm
from thaisign.ca.ocsp import CertStatus, OcspResponder
from thaisign.ca.service_certs import build_certificate, service_subject
from thaisign.keys import Signer
from thaisign.tsa.setup import init_tsa, open_tsa

pytestmark = pytest.mark.softhsm
PIN = "4321"


def test_ocsp_and_tsa_with_token_keys(softhsm2, tmp_path: Path) -> None:
    softhsm2.init_token("services", PIN, "87654321")
    hsm.unload_module(softhsm2.module)  # read this test's token folder
    try:
        token = str(hsm.Pkcs11Uri(token="services"))
        ca_uri = str(hsm.generate_key(f"{token};object=ca", "ec-p256", pin=PIN, module=softhsm2.module).uri)
        tsa_uri = str(hsm.generate_key(f"{token};object=tsa", "ec-p384", pin=PIN, module=softhsm2.module).uri)
        ca_signer = Signer.from_pkcs11(ca_uri, pin=PIN, module=softhsm2.module)
        now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        ca_cert = build_certificate(  # a CA certificate self-signed inside the token
            subject=service_subject("กรมทดสอบ", "tsa", "Token CA"),
            public_key=ca_signer.public_key,
            issuer_signer=ca_signer,
            issuer_cert=None,
            not_before=now,
            not_after=now + dt.timedelta(days=30),
            extensions=[
                {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": True}},
                {"extn_id": "key_usage", "critical": True, "extn_value": {"key_cert_sign", "crl_sign"}},
            ],
        )
        ca_cert.public_key().verify(  # type: ignore[call-arg]
            ca_cert.signature, ca_cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256())
        )
        # OCSP signed by the CA key in the token
        responder = OcspResponder(
            ca_cert,
            ca_signer,
            lambda s: CertStatus.revoked(FIXED_TIME, "keyCompromise"),
            clock=lambda: FIXED_TIME,
        )
        bits = keys.PublicKeyInfo.load(
            ca_cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )["public_key"].contents[1:]
        req = (
            ocsp.OCSPRequestBuilder()
            .add_certificate_by_hash(
                hashlib.sha1(ca_cert.subject.public_bytes()).digest(),
                hashlib.sha1(bits).digest(),
                42,
                hashes.SHA1(),
            )
            .build()
        )
        resp = ocsp.load_der_ocsp_response(responder.respond(req.public_bytes(serialization.Encoding.DER)))
        assert resp.certificate_status == ocsp.OCSPCertStatus.REVOKED
        ca_cert.public_key().verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]
        ca_signer.close()
        # a TSA whose key is in the token (tsa init --key-uri), self-contained certificate
        init_tsa(tmp_path / "tsa", key_uri=tsa_uri, pin=PIN, pkcs11_module=softhsm2.module)
        assert not (tmp_path / "tsa" / "tsa.key").exists()
        tsa, store = open_tsa(tmp_path / "tsa", pin=PIN)
        try:
            openssl = require_tool("openssl")
            data = tmp_path / "letter.txt"
            data.write_text("คำสั่ง กรมทดสอบ ที่ ๑/๒๕๖๙", encoding="utf-8")
            q = tmp_path / "q.tsq"
            subprocess.run([openssl, "ts", "-query", "-data", str(data), "-sha256", "-cert", "-out", str(q)],
                           check=True, capture_output=True)  # fmt: skip
            (tmp_path / "r.tsr").write_bytes(tsa.respond(q.read_bytes()))
            chain = tmp_path / "tsa" / "chain.pem"
            r = subprocess.run(
                [openssl, "ts", "-verify", "-data", str(data), "-in", str(tmp_path / "r.tsr"),
                 "-CAfile", str(chain)],
                capture_output=True, text=True,
            )  # fmt: skip
            assert "Verification: OK" in r.stdout, r.stdout + r.stderr
            assert store.count() == 1
            assert x509.load_pem_x509_certificate(
                (tmp_path / "tsa" / "tsa.pem").read_bytes()
            ).public_key() == (tsa.signer.public_key)
        finally:
            store.close()
            tsa.signer.close()
        # tsa serve with the token key in two worker processes (each opens the token after fork)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("THAISIGN_")}
        env.update(THAISIGN_PIN=PIN, SOFTHSM2_CONF=str(softhsm2.conf))
        proc = subprocess.Popen(
            [sys.executable, "-m", "thaisign", "tsa", "serve", str(tmp_path / "tsa"), "--port", str(port),
             "--workers", "2"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            wait_for_port(port, timeout=30)
            for _ in range(6):
                req = urllib.request.Request(f"http://127.0.0.1:{port}/tsa", data=q.read_bytes())
                with urllib.request.urlopen(req, timeout=20) as resp:
                    reply = tsp.TimeStampResp.load(resp.read())
                assert reply["status"]["status"].native == "granted"
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    finally:
        hsm.unload_module(softhsm2.module)
