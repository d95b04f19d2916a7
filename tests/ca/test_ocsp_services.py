"""The pki_services fixture's OCSP, CRL and caIssuers endpoints, checked with openssl over HTTP."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import urllib.request
from pathlib import Path

from cryptography import x509
from support.tools import require_tool


def _openssl_ocsp(pki, services, cert_pem: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    openssl = require_tool("openssl")
    return subprocess.run(
        [
            openssl, "ocsp", "-issuer", str(pki.ca.cert_pem), "-cert", str(cert_pem),
            "-url", services.ocsp_url, "-CAfile", str(pki.chain_pem),
            # the services answer at FIXED_TIME; accept that against the wall clock
            "-validity_period", "315360000", *extra,
        ],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_openssl_ocsp_good_then_revoked(pki, pki_services):
    r = _openssl_ocsp(pki, pki_services, pki.officer_ec.cert_pem)
    assert r.returncode == 0, r.stderr
    assert "Response verify OK" in r.stderr
    assert f"{pki.officer_ec.cert_pem}: good" in r.stdout
    when = dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC)
    pki_services.revoke(pki.officer_ec, "keyCompromise", when)
    try:
        r = _openssl_ocsp(pki, pki_services, pki.officer_ec.cert_pem)
        assert r.returncode == 0, r.stderr
        assert "Response verify OK" in r.stderr
        assert f"{pki.officer_ec.cert_pem}: revoked" in r.stdout
        assert "Reason: keyCompromise" in r.stdout
        assert "Revocation Time: Nov  1 08:30:00 2026 GMT" in r.stdout
    finally:
        pki_services.unrevoke_all()
    r = _openssl_ocsp(pki, pki_services, pki.officer_ec.cert_pem, "-no_nonce")
    assert f"{pki.officer_ec.cert_pem}: good" in r.stdout, r.stdout + r.stderr


def test_crl_from_url_verifies_with_openssl(pki, pki_services, tmp_path):
    pki_services.revoke(pki.officer_rsa, "superseded")
    try:
        url = pki.officer_rsa.cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value[0]
        crl_url = url.full_name[0].value
        with urllib.request.urlopen(crl_url, timeout=10) as resp:
            der = resp.read()
    finally:
        pki_services.unrevoke_all()
    (tmp_path / "agency.crl").write_bytes(der)
    r = subprocess.run(
        [require_tool("openssl"), "crl", "-inform", "DER", "-in", str(tmp_path / "agency.crl"),
         "-CAfile", str(pki.chain_pem), "-noout", "-text"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert "verify OK" in r.stderr, r.stderr
    # openssl prints whole bytes: an odd number of hex digits gets a leading 0, so compare numbers
    serials = {int(m, 16) for m in re.findall(r"Serial Number: ([0-9A-F]+)", r.stdout)}
    assert pki.officer_rsa.cert.serial_number in serials, r.stdout
    assert "Superseded" in r.stdout
