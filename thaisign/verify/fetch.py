"""Fetching OCSP responses and CRLs: http(s) only, bounded, only where the network policy allows.

A URL is fetched only when a certificate that already chains to a configured trust anchor
names it (the caller's duty: :mod:`thaisign.verify.ltv` asks only for certificates of a
validated path). Here every request is checked again: scheme ``http`` or ``https``, no user
info, the host's addresses resolved once and *all* of them permitted by the
:class:`~thaisign.verify.policy.NetworkPolicy` — the connection goes to the address that was
checked (no second lookup to rebind). Answers are bounded in bytes and seconds; redirects are
not followed. Every answer, good or bad, is remembered for the batch.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from thaisign.verify.policy import NetworkPolicy

USER_AGENT = "thaisign-verify"


class FetchError(Exception):
    """A URL could not (or may not) be fetched; the message says which and why, in one line."""


@dataclass(frozen=True)
class Fetched:
    url: str
    data: bytes


def _vetted_address(host: str, port: int, policy: NetworkPolicy, timeout: float) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host}: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise FetchError(f"{host} has no address")
    refused = [a for a in addresses if not policy.permits(a)]
    if refused:
        raise FetchError(f"{host} resolves to {refused[0]}, which the network setting does not allow")
    return addresses[0]


class Fetcher:
    """HTTP GET/POST under a :class:`NetworkPolicy`, with a per-batch memory of answers."""

    def __init__(self, policy: NetworkPolicy) -> None:
        self.policy = policy
        self._memo: dict[str, Fetched | FetchError] = {}
        self._lock = threading.Lock()
        self.requests = 0

    def get(self, url: str) -> Fetched:
        return self._fetch("GET", url, None, None)

    def post(self, url: str, body: bytes, content_type: str) -> Fetched:
        return self._fetch("POST", url, body, content_type)

    def _fetch(self, method: str, url: str, body: bytes | None, content_type: str | None) -> Fetched:
        key = f"{method} {url} {hashlib.sha256(body or b'').hexdigest()}"
        with self._lock:
            hit = self._memo.get(key)
        if hit is None:
            try:
                hit = self._request(method, url, body, content_type)
            except FetchError as exc:
                hit = exc
            with self._lock:
                if len(self._memo) > 10_000:
                    self._memo.clear()
                self._memo[key] = hit
        if isinstance(hit, FetchError):
            raise hit
        return hit

    def _request(self, method: str, url: str, body: bytes | None, content_type: str | None) -> Fetched:
        policy = self.policy
        if not policy.enabled:
            raise FetchError("the network setting allows no connections")
        if len(url) > 2048 or any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in url):
            raise FetchError("the URL is too long or contains spaces or control characters")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError(f"only http and https URLs are fetched, not {scheme or 'this'}:")
        if parts.username is not None or parts.password is not None or not parts.hostname:
            raise FetchError("the URL has user information or no host")
        host = parts.hostname
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise FetchError("the URL has a bad port") from None
        deadline = time.monotonic() + policy.timeout
        address = _vetted_address(host, port, policy, policy.timeout)
        self.requests += 1
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn: http.client.HTTPConnection | None = None
        try:
            sock = socket.create_connection((address, port), timeout=policy.timeout)
            if scheme == "https":
                context = ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=host)
                conn = http.client.HTTPSConnection(host, port, timeout=policy.timeout, context=context)
            else:
                conn = http.client.HTTPConnection(host, port, timeout=policy.timeout)
            conn.sock = sock
            headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close"}
            if content_type:
                headers["Content-Type"] = content_type
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            if response.status != 200:
                raise FetchError(f"{url} answered HTTP {response.status}")
            length = response.getheader("Content-Length")
            if length is not None and length.isdigit() and int(length) > policy.max_bytes:
                raise FetchError(f"{url} announced {int(length)} bytes, more than {policy.max_bytes}")
            chunks: list[bytes] = []
            size = 0
            while True:
                # each read is bounded by the socket timeout; the whole answer by the deadline
                if time.monotonic() > deadline:
                    raise FetchError(f"{url} took longer than {policy.timeout:g} s")
                chunk = response.read(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > policy.max_bytes:
                    raise FetchError(f"{url} sent more than {policy.max_bytes} bytes")
                chunks.append(chunk)
        except FetchError:
            raise
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise FetchError(f"{url}: {text}") from None
        finally:
            if conn is not None:
                conn.close()
        return Fetched(url, b"".join(chunks))
