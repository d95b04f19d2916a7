"""Fetching: http(s) only, bounded in bytes and seconds, only where the network setting allows,
and only for certificates that chain to a configured anchor (issue 11, item 6)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.pdfs import minimal_pdf
from support.pki import TestPKI
from support.servers import serve_wsgi

from thaisign.errors import UsageError
from thaisign.verify import TrustStore, verify_pdf
from thaisign.verify.fetch import Fetcher, FetchError
from thaisign.verify.policy import NetworkPolicy, ValidationPolicy
from thaisign.verify.report import Indication, SubIndication


def test_network_settings() -> None:
    default = NetworkPolicy()
    assert default.permits("127.0.0.1") and default.permits("10.1.2.3") and default.permits("8.8.8.8")
    assert not default.permits("169.254.169.254")  # cloud metadata: link-local
    assert not default.permits("224.0.0.1") and not default.permits("0.0.0.0")
    assert not default.permits("::ffff:169.254.169.254")
    private = NetworkPolicy.parse("private")
    assert private.permits("192.168.1.10") and private.permits("fd00::1")
    assert not private.permits("127.0.0.1") and not private.permits("8.8.8.8")
    cidr = NetworkPolicy.parse("203.0.113.0/24,loopback")
    assert cidr.permits("203.0.113.7") and cidr.permits("::1") and not cidr.permits("203.0.114.7")
    none = NetworkPolicy.parse("none")
    assert not none.enabled and not none.permits("127.0.0.1")
    assert NetworkPolicy.parse("any").permits("169.254.1.1")
    for bad in ("", "intranet", "10.0.0.0/33", "none,private"):
        with pytest.raises(UsageError):
            NetworkPolicy.parse(bad)


@pytest.fixture()
def server() -> Iterator[tuple[str, dict[str, int], list[Callable[..., Any]]]]:
    """A WSGI server on 127.0.0.1 whose behaviour a test picks; counts the requests it gets."""
    hits = {"n": 0}
    behaviour: list[Callable[..., Any]] = [lambda env, start: _ok(start, b"ok")]

    def app(environ: dict, start_response: Callable[..., Any]) -> Any:
        hits["n"] += 1
        return behaviour[0](environ, start_response)

    with serve_wsgi(app) as url:
        yield url, hits, behaviour


def _ok(start: Callable[..., Any], body: bytes, headers: list | None = None) -> list[bytes]:
    start("200 OK", headers or [("Content-Type", "application/octet-stream")])
    return [body]


def test_only_http_and_https_and_no_tricks_in_urls(server) -> None:
    url, hits, _ = server
    fetcher = Fetcher(NetworkPolicy())
    for bad in (
        "file:///etc/passwd",
        "ftp://127.0.0.1/crl",
        "ldap://127.0.0.1/cn=crl",
        url.replace("http://", "http://user:pw@") + "/x",
        url + "/a b",
        url + "/\x1b[2J",
        "http:///nohost",
    ):
        with pytest.raises(FetchError):
            fetcher.get(bad)
    assert hits["n"] == 0
    assert fetcher.get(url + "/fine").data == b"ok" and hits["n"] == 1


def test_addresses_outside_the_setting_are_never_contacted(server) -> None:
    url, hits, _ = server
    for setting in ("private", "public", "none", "10.0.0.0/8"):
        with pytest.raises(FetchError, match="network setting"):
            Fetcher(NetworkPolicy.parse(setting)).get(url + "/crl")
    assert hits["n"] == 0
    assert Fetcher(NetworkPolicy.parse("loopback")).get(url + "/crl").data == b"ok"


def test_answers_are_bounded_in_size_and_time_and_redirects_not_followed(server) -> None:
    url, _hits, behaviour = server
    policy = NetworkPolicy(max_bytes=100_000, timeout=1.0)
    behaviour[0] = lambda env, start: _ok(start, b"x" * 300_000)
    with pytest.raises(FetchError, match=r"announced|more than"):
        Fetcher(policy).get(url + "/big")

    def chunked(env: dict, start: Callable[..., Any]) -> Any:
        start("200 OK", [("Content-Type", "application/octet-stream")])
        return iter([b"y" * 50_000] * 10)  # no Content-Length: counted while reading

    behaviour[0] = chunked
    with pytest.raises(FetchError, match="more than"):
        Fetcher(policy).get(url + "/stream")

    def slow(env: dict, start: Callable[..., Any]) -> Any:
        time.sleep(3)
        return _ok(start, b"late")

    behaviour[0] = slow
    started = time.monotonic()
    with pytest.raises(FetchError):
        Fetcher(policy).get(url + "/slow")
    assert time.monotonic() - started < 2.5

    def redirect(env: dict, start: Callable[..., Any]) -> Any:
        start("302 Found", [("Location", "http://169.254.169.254/latest/meta-data/")])
        return [b""]

    behaviour[0] = redirect
    with pytest.raises(FetchError, match="302"):
        Fetcher(policy).get(url + "/moved")


def test_untrusted_signers_trigger_no_fetching_at_all(
    signed_ec: bytes, pki: TestPKI, pki_services, fixed_time: dt.datetime
) -> None:
    """The signer's certificate names OCSP, CRL and caIssuers URLs on 127.0.0.1; with only the
    national root trusted nothing leads to an anchor, so nothing is fetched (no read receipt)."""
    before = dict(pki_services.hits)
    (sig,) = verify_pdf(signed_ec, TrustStore.bundled(), at=fixed_time, revocation="online").signatures
    assert sig.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert pki_services.hits == before


def test_trusted_signers_fetch_revocation_but_never_ca_issuers(
    signed_ec: bytes, pki_services, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    before = dict(pki_services.hits)
    (sig,) = verify_pdf(signed_ec, trust, at=fixed_time, revocation="online").signatures
    assert sig.indication is Indication.TOTAL_PASSED
    assert pki_services.hits["ocsp"] > before["ocsp"] and pki_services.hits["cert"] == before["cert"]


def test_network_setting_through_library_and_cli(
    signed_ec: bytes, pki: TestPKI, pki_services, trust: TrustStore, fixed_time: dt.datetime, tmp_path: Path
) -> None:
    before = dict(pki_services.hits)
    intranet_only = ValidationPolicy(network=NetworkPolicy.parse("private"))
    (sig,) = verify_pdf(signed_ec, trust, at=fixed_time, revocation="online", policy=intranet_only).signatures
    assert sig.sub_indication is SubIndication.TRY_LATER and pki_services.hits == before
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(signed_ec)
    base = [sys.executable, "-m", "thaisign", "verify", str(letter), "--trust", str(pki.root_pem), "--json"]
    at = ["--at", fixed_time.isoformat()]
    none = subprocess.run([*base, *at, "--network", "none"], capture_output=True, text=True)
    assert none.returncode == 1 and '"TRY_LATER"' in none.stdout and pki_services.hits == before
    loop = subprocess.run([*base, *at, "--network", "loopback"], capture_output=True, text=True)
    assert loop.returncode == 0, loop.stdout + loop.stderr
    bad = subprocess.run([*base, "--network", "intranet"], capture_output=True, text=True)
    assert bad.returncode == 2 and "network" in bad.stderr and "Traceback" not in bad.stderr
    both = subprocess.run([*base, "--network", "private", "--offline"], capture_output=True, text=True)
    assert both.returncode == 2


def test_fetched_answers_are_remembered_for_the_batch(
    pki: TestPKI, pki_services, trust: TrustStore, fixed_time: dt.datetime
) -> None:
    from verify_pdfs import PdfFactory

    from thaisign.verify.cache import BatchCache

    factory = PdfFactory(pki)
    letters = [factory.sign(minimal_pdf(f"Letter {n}")) for n in range(4)]
    before = dict(pki_services.hits)
    cache = BatchCache(trust, at=fixed_time, revocation="online")
    try:
        for data in letters:
            assert verify_pdf(data, trust, at=fixed_time, revocation="online", cache=cache).passed
    finally:
        cache.close()
    fetched = sum(pki_services.hits.values()) - sum(before.values())
    assert fetched <= 4, pki_services.hits  # OCSP + CRL for the officer and for the agency CA, once
