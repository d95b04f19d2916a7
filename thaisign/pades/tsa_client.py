"""Asking an RFC 3161 time-stamping authority over HTTP, with errors that say what went wrong where.

pyHanko's HTTP time-stampers report every failure as "Error while contacting timestamp service":
no URL, no HTTP status, no network error. :class:`HttpTimeStamper` is a pyHanko ``TimeStamper``
(usable wherever pyHanko takes one) whose failures are one :class:`~thaisign.errors.NetworkError`
line naming the URL and what happened: the connection error, the HTTP status, a reply that is
not a time-stamp reply, or the TSA's own refusal.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.parse
import urllib.request

from asn1crypto import core, tsp
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError

from thaisign._text import visible
from thaisign.errors import NetworkError, UsageError

__all__ = ["HttpTimeStamper", "check_tsa_url"]

#: A time-stamp reply is a few kB (the token and the TSA's certificates).
MAX_REPLY_BYTES = 1024 * 1024
REPLY_TYPE = "application/timestamp-reply"


def check_tsa_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host, else :class:`UsageError`."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"--tsa {visible(url, 200)!r} is not an http:// or https:// URL",
            hint="e.g. --tsa http://tsa.example.go.th/tsa",
        )
    return url


class HttpTimeStamper(TimeStamper):
    """POST ``application/timestamp-query`` to ``url``; see the module docstring."""

    def __init__(self, url: str, *, timeout: float = 20.0) -> None:
        super().__init__()
        self.url = check_tsa_url(url)
        self.timeout = timeout

    def _shown(self) -> str:
        return visible(self.url, 200)

    def _post(self, body: bytes) -> bytes:
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/timestamp-query"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
                data = response.read(MAX_REPLY_BYTES + 1)
                status = response.status
        except urllib.error.HTTPError as exc:
            raise NetworkError(
                f"the TSA {self._shown()} answered HTTP {exc.code} {visible(exc.reason or '', 80)}",
                hint="check the --tsa URL (the path too, e.g. /tsa) and that the service runs",
            ) from None
        except urllib.error.URLError as exc:
            reason = exc.reason if isinstance(exc.reason, str) else str(exc.reason)
            raise NetworkError(
                f"cannot reach the TSA {self._shown()}: {visible(reason, 160)}",
                hint="check the --tsa URL and the network (proxy, firewall)",
            ) from None
        except TimeoutError:
            raise NetworkError(
                f"the TSA {self._shown()} did not answer within {self.timeout:g} s",
                hint="try again later, or use another TSA",
            ) from None
        except OSError as exc:
            raise NetworkError(f"cannot reach the TSA {self._shown()}: {visible(str(exc), 160)}") from None
        if len(data) > MAX_REPLY_BYTES:
            raise NetworkError(f"the TSA {self._shown()} answered with more than {MAX_REPLY_BYTES} bytes")
        if content_type != REPLY_TYPE:
            raise NetworkError(
                f"the TSA {self._shown()} did not answer with a time-stamp reply "
                f"(HTTP {status}, Content-Type {visible(content_type or 'none', 60)})",
                hint="is this URL an RFC 3161 time-stamping service?",
            )
        return data

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        data = await asyncio.to_thread(self._post, req.dump())
        try:
            # the status alone first: asn1crypto's TimeStampResp cannot parse a refusal (no token)
            info = tsp.PKIStatusInfo.load(core.Sequence.load(data).contents, strict=False)
            status = info["status"].native
            texts = [str(t) for t in (info["status_string"].native or [])]
            failures = sorted(str(f) for f in (info["fail_info"].native or []))
        except (ValueError, TypeError, KeyError):
            raise NetworkError(
                f"the TSA {self._shown()} sent a reply that is not a time-stamp response"
            ) from None
        if status not in ("granted", "granted_with_mods"):
            why = "; ".join([*texts, *(f"failInfo {f}" for f in failures)]) or str(status)
            raise NetworkError(
                f"the TSA {self._shown()} refused the request: {visible(why, 200)}",
                hint="check the TSA's policy and the hash algorithm it accepts",
            )
        try:
            response = tsp.TimeStampResp.load(data)
            response["time_stamp_token"]  # parsed now: a garbled token is this TSA's fault
        except (ValueError, TypeError):
            raise NetworkError(
                f"the TSA {self._shown()} sent a time-stamp reply without a usable token"
            ) from None
        return response

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> object:
        try:
            return await super().async_timestamp(message_digest, md_algorithm)
        except TimestampRequestError as exc:  # the TSA refused, or sent back a wrong nonce
            raise NetworkError(
                f"the TSA {self._shown()} gave no timestamp: {visible(str(exc), 200)}",
                hint="check the TSA's policy and the hash algorithm it accepts",
            ) from None
