"""``thaisign ca serve`` over a real CA folder, checked with openssl over HTTP."""

from __future__ import annotations

import base64
import datetime as dt
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import ocsp as asn1_ocsp
from ca_helpers import CA_PASSPHRASE, SOMCHAI, require_tool, run_cli
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as x509_ocsp
from support.servers import free_port, serve_wsgi, wait_for_port

from thaisign.ca import Authority, CaProfile, OfficerProfile
from thaisign.ca.server import CaServiceConfig, build_ca_app, issue_responder

RESPONDER_PASSPHRASE = "รหัสผ่าน-ocsp"


@dataclass
class ServedCa:
    dir: Path
    officer_pem: Path
    officer_serial: int
    other_pem: Path
    other_serial: int


def _officer(
    ca: Authority, d: Path, name: str, profile: OfficerProfile, when: dt.datetime
) -> tuple[Path, int]:
    issued = ca.issue_officer(profile, new_key="ec-p256", now=when)
    path = d / f"{name}.pem"
    path.write_bytes(issued.certificate.public_bytes(serialization.Encoding.PEM))
    return path, issued.serial


def _make_ca(d: Path, fixed_time: dt.datetime, base_url: str) -> ServedCa:
    # created before FIXED_TIME and valid for years: openssl checks against the wall clock
    profile = CaProfile(name_th="กรมส่งเสริมการปกครองท้องถิ่น", key="ec-p256", base_url=base_url)
    with Authority.init(
        d / "ca", profile, passphrase=CA_PASSPHRASE, now=fixed_time - dt.timedelta(days=30)
    ) as ca:
        officer, serial = _officer(ca, d, "somchai", SOMCHAI, fixed_time)
        other, other_serial = _officer(
            ca,
            d,
            "somying",
            OfficerProfile(name_th="นางสาวสมหญิง รักไทย", position="นักจัดการงานทั่วไป"),
            fixed_time,
        )
    return ServedCa(d / "ca", officer, serial, other, other_serial)


@pytest.fixture(scope="module")
def cli_ca(
    tmp_path_factory: pytest.TempPathFactory, fixed_time: dt.datetime
) -> Iterator[tuple[ServedCa, str]]:
    """A CA served by ``thaisign ca serve --issue-responder --workers 2`` in a subprocess."""
    port = free_port()
    served = _make_ca(tmp_path_factory.mktemp("served"), fixed_time, f"http://127.0.0.1:{port}")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("THAISIGN_")},
        "THAISIGN_CA_PASSPHRASE": CA_PASSPHRASE,
        "THAISIGN_PASSPHRASE": RESPONDER_PASSPHRASE,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "thaisign", "ca", "serve", str(served.dir), "--issue-responder",
         "--port", str(port), "--workers", "2"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=30)
        yield served, f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _openssl_ocsp(ca_dir: Path, cert: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("openssl"), "ocsp", "-issuer", str(ca_dir / "ca.pem"), "-cert", str(cert),
         "-url", f"{url}/ocsp", "-CAfile", str(ca_dir / "chain.pem"), *extra],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_cli_serve_openssl_good_then_revoked_by_cli(cli_ca: tuple[ServedCa, str]) -> None:
    served, url = cli_ca
    assert (served.dir / "ocsp-responder.pem").exists()
    assert oct((served.dir / "ocsp-responder.key").stat().st_mode & 0o777) == "0o600"
    r = _openssl_ocsp(served.dir, served.officer_pem, url)
    assert r.returncode == 0 and "Response verify OK" in r.stderr, r.stderr
    assert f"{served.officer_pem}: good" in r.stdout
    # both workers answer: several requests in a row stay good and verified
    for _ in range(4):
        assert ": good" in _openssl_ocsp(served.dir, served.officer_pem, url, "-no_nonce").stdout
    rv = run_cli("ca", "revoke", str(served.dir), f"{served.officer_serial:x}", "--reason", "key-compromise",
                 env={"THAISIGN_CA_PASSPHRASE": CA_PASSPHRASE})  # fmt: skip
    assert rv.returncode == 0, rv.stderr
    for _ in range(4):  # every worker sees it at once, cached pre-signed answers included
        r = _openssl_ocsp(served.dir, served.officer_pem, url, "-no_nonce")
        assert "Response verify OK" in r.stderr, r.stderr
        assert f"{served.officer_pem}: revoked" in r.stdout, r.stdout
        assert "Reason: keyCompromise" in r.stdout
    other = _openssl_ocsp(served.dir, served.other_pem, url)
    assert f"{served.other_pem}: good" in other.stdout


def test_cli_serve_crl_and_ca_cert_verify_with_openssl(cli_ca: tuple[ServedCa, str], tmp_path: Path) -> None:
    served, url = cli_ca
    assert run_cli("ca", "crl", str(served.dir), "-o", str(tmp_path / "made.crl"),
                   env={"THAISIGN_CA_PASSPHRASE": CA_PASSPHRASE}).returncode == 0  # fmt: skip
    with urllib.request.urlopen(f"{url}/crl/ca.crl", timeout=10) as resp:
        assert resp.headers["Content-Type"] == "application/pkix-crl"
        (tmp_path / "ca.crl").write_bytes(resp.read())
    with urllib.request.urlopen(f"{url}/ca.cer", timeout=10) as resp:
        (tmp_path / "ca.cer").write_bytes(resp.read())
    assert x509.load_der_x509_certificate(
        (tmp_path / "ca.cer").read_bytes()
    ) == x509.load_pem_x509_certificate((served.dir / "ca.pem").read_bytes())
    r = subprocess.run(
        [require_tool("openssl"), "crl", "-inform", "DER", "-in", str(tmp_path / "ca.crl"),
         "-CAfile", str(served.dir / "chain.pem"), "-noout"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert "verify OK" in r.stderr, r.stderr


def test_cli_serve_bad_folder_is_one_line(tmp_path: Path) -> None:
    r = run_cli("ca", "serve", str(tmp_path / "nope"), "--port", str(free_port()))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert "not a thaisign CA folder" in r.stderr


# --- in-process: the app over a CA folder, served by a WSGI server ---------------------------------


@pytest.fixture(scope="module")
def app_ca(tmp_path_factory: pytest.TempPathFactory, fixed_time: dt.datetime) -> ServedCa:
    return _make_ca(tmp_path_factory.mktemp("app"), fixed_time, "http://127.0.0.1:9")


def _request(
    cert: Path, issuer: Path, algo: hashes.HashAlgorithm | None = None, nonce: bool = False
) -> bytes:
    c = x509.load_pem_x509_certificate(cert.read_bytes())
    i = x509.load_pem_x509_certificate(issuer.read_bytes())
    b = x509_ocsp.OCSPRequestBuilder().add_certificate(c, i, algo or hashes.SHA1())
    if nonce:
        b = b.add_extension(x509.OCSPNonce(os.urandom(16)), critical=False)
    return b.build().public_bytes(serialization.Encoding.DER)


def _post(url: str, body: bytes) -> tuple[dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/ocsp-request"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return dict(resp.headers), resp.read()


def test_ca_key_mode_get_caching_headers_and_crl_reissue(app_ca: ServedCa, fixed_time: dt.datetime) -> None:
    config = CaServiceConfig(app_ca.dir, signer="ca", ca_passphrase=CA_PASSPHRASE, clock=lambda: fixed_time)
    app = build_ca_app(config)
    try:
        with serve_wsgi(app) as url:
            req = _request(app_ca.other_pem, app_ca.dir / "ca.pem", hashes.SHA256())
            path = urllib.parse.quote(base64.b64encode(req).decode(), safe="")
            with urllib.request.urlopen(f"{url}/ocsp/{path}", timeout=10) as resp:
                headers, body = dict(resp.headers), resp.read()
            parsed = x509_ocsp.load_der_ocsp_response(body)
            assert parsed.certificate_status == x509_ocsp.OCSPCertStatus.GOOD
            assert parsed.this_update_utc == fixed_time
            assert parsed.next_update_utc == fixed_time + dt.timedelta(hours=1)
            assert parsed.certificates == []  # signed by the CA key itself
            assert parsed.responder_key_hash is not None
            assert headers["Content-Type"] == "application/ocsp-response"
            assert headers["Last-Modified"] == "Sat, 21 Nov 2026 03:42:00 GMT"
            assert headers["Expires"] == "Sat, 21 Nov 2026 04:42:00 GMT"
            assert "max-age=3600" in headers["Cache-Control"]
            # a nonce makes the response unique: echoed, and not cacheable
            nreq = _request(app_ca.other_pem, app_ca.dir / "ca.pem", nonce=True)
            nheaders, nbody = _post(f"{url}/ocsp", nreq)
            sent = x509_ocsp.load_der_ocsp_request(nreq).extensions.get_extension_for_class(x509.OCSPNonce)
            got = x509_ocsp.load_der_ocsp_response(nbody).extensions.get_extension_for_class(x509.OCSPNonce)
            assert sent.value.nonce == got.value.nonce
            assert nheaders["Cache-Control"] == "no-store"
            # the CRL is made on demand by the server holding the CA key, and follows revocations
            with urllib.request.urlopen(f"{url}/crl/ca.crl", timeout=10) as resp:
                first = x509.load_der_x509_crl(resp.read())
            with Authority.open(app_ca.dir, passphrase=CA_PASSPHRASE) as ca:
                ca.revoke(app_ca.other_serial, "superseded", at=fixed_time - dt.timedelta(hours=1))
            with urllib.request.urlopen(f"{url}/crl/ca.crl", timeout=10) as resp:
                second = x509.load_der_x509_crl(resp.read())
            assert first.get_revoked_certificate_by_serial_number(app_ca.other_serial) is None
            entry = second.get_revoked_certificate_by_serial_number(app_ca.other_serial)
            assert entry is not None
            assert second.is_signature_valid(
                x509.load_pem_x509_certificate((app_ca.dir / "ca.pem").read_bytes()).public_key()
            )  # type: ignore[arg-type]
            _, body = _post(f"{url}/ocsp", req)
            assert (
                x509_ocsp.load_der_ocsp_response(body).certificate_status == x509_ocsp.OCSPCertStatus.REVOKED
            )
            with urllib.request.urlopen(f"{url}/health", timeout=10) as resp:
                assert b'"ok"' in resp.read()
    finally:
        app.close()


def test_malformed_oversized_and_foreign_requests(app_ca: ServedCa, pki, fixed_time: dt.datetime) -> None:
    config = CaServiceConfig(app_ca.dir, signer="ca", ca_passphrase=CA_PASSPHRASE, clock=lambda: fixed_time)
    app = build_ca_app(config)
    try:
        with serve_wsgi(app) as url:
            for body in (b"", b"\x30\x03\x02\x01\x01", os.urandom(300), b"\x30\x82\xff\xff" + b"\x00" * 10):
                _, resp = _post(f"{url}/ocsp", body)
                assert asn1_ocsp.OCSPResponse.load(resp)["response_status"].native == "malformed_request"
            _, resp = _post(f"{url}/ocsp", b"\x30" * (64 * 1024))
            assert asn1_ocsp.OCSPResponse.load(resp)["response_status"].native == "malformed_request"
            with urllib.request.urlopen(f"{url}/ocsp/not*base64", timeout=10) as r:
                assert asn1_ocsp.OCSPResponse.load(r.read())["response_status"].native == "malformed_request"
            # a certificate from another CA: this responder is not authoritative
            _, resp = _post(f"{url}/ocsp", _request(pki.officer_ec.cert_pem, pki.ca.cert_pem))
            assert asn1_ocsp.OCSPResponse.load(resp)["response_status"].native == "unauthorized"
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(f"{url}/nothing-here", timeout=10)
            assert err.value.code == 404
            # still serving after all of that
            _, resp = _post(f"{url}/ocsp", _request(app_ca.officer_pem, app_ca.dir / "ca.pem"))
            assert (
                x509_ocsp.load_der_ocsp_response(resp).response_status
                == x509_ocsp.OCSPResponseStatus.SUCCESSFUL
            )
    finally:
        app.close()


def test_delegated_responder_wrong_passphrase_fails_clearly(app_ca: ServedCa, tmp_path: Path) -> None:
    issue_responder(app_ca.dir, ca_passphrase=CA_PASSPHRASE, responder_passphrase=RESPONDER_PASSPHRASE)
    r = run_cli("ca", "serve", str(app_ca.dir), "--port", str(free_port()),
                env={"THAISIGN_PASSPHRASE": "wrong"})  # fmt: skip
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert "passphrase" in r.stderr.lower()


def test_expired_delegated_responder_is_refused(app_ca: ServedCa, fixed_time: dt.datetime) -> None:
    from thaisign.errors import ServiceError

    issue_responder(
        app_ca.dir,
        ca_passphrase=CA_PASSPHRASE,
        responder_passphrase=RESPONDER_PASSPHRASE,
        days=30,
        now=fixed_time,
    )
    later = fixed_time + dt.timedelta(days=31)
    config = CaServiceConfig(
        app_ca.dir, signer="delegated", responder_passphrase=RESPONDER_PASSPHRASE, clock=lambda: later
    )
    with pytest.raises(ServiceError, match="expired"):
        build_ca_app(config)


def test_delegated_service_says_whether_it_can_keep_a_current_crl(
    app_ca: ServedCa, fixed_time: dt.datetime
) -> None:
    """A CA publishes its first CRL at init; a service without the CA key says how long that CRL
    lasts and what to run, and says so again once the CRL is out of date."""
    issue_responder(
        app_ca.dir, ca_passphrase=CA_PASSPHRASE, responder_passphrase=RESPONDER_PASSPHRASE, now=fixed_time
    )
    with Authority.open(app_ca.dir, load_key=False) as ca:
        first = ca.store.latest_crl()
    assert first is not None  # from ca init
    next_update = x509.load_der_x509_crl(first).next_update_utc
    assert next_update is not None

    def notes(at: dt.datetime) -> list[str]:
        config = CaServiceConfig(
            app_ca.dir, signer="delegated", responder_passphrase=RESPONDER_PASSPHRASE, clock=lambda: at
        )
        app = build_ca_app(config)
        app.close()
        return [n for n in app.notes if not n.startswith("store checked")]  # the CRL note

    (current,) = notes(next_update - dt.timedelta(hours=1))
    assert f"CRL valid until {next_update:%Y-%m-%d %H:%M} UTC" in current and "thaisign ca crl" in current
    (stale,) = notes(next_update + dt.timedelta(seconds=1))
    assert "out of date" in stale and "thaisign ca crl" in stale
    config = CaServiceConfig(app_ca.dir, signer="ca", ca_passphrase=CA_PASSPHRASE, clock=lambda: fixed_time)
    app = build_ca_app(config)
    app.close()
    assert app.notes[0] == "CRL re-issued with the CA key before it goes stale"
    assert app.notes[1].startswith("store checked against its audit chain: intact")
