"""HTTP publication of a CA's status: OCSP (RFC 6960 POST, RFC 5019 GET), the CRL, the CA cert.

:func:`ocsp_handler` and :func:`static_handler` are the building blocks; :func:`ca_app` puts
them together over a thaisign CA folder at the paths written into every certificate the CA
issues (``/ocsp``, ``/crl/ca.crl``, ``/ca.cer``) plus ``/health``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import urllib.parse
from collections.abc import Callable, Sequence
from email.utils import format_datetime

from thaisign._service import Handler, Request, Response
from thaisign.ca.ocsp import OcspAnswer, OcspResponder, answer_with, error_response

__all__ = ["MAX_OCSP_REQUEST_BYTES", "ocsp_handler", "ocsp_too_large", "static_handler"]

OCSP_RESPONSE_TYPE = "application/ocsp-response"
#: An OCSP request for a handful of certificates is a few hundred bytes.
MAX_OCSP_REQUEST_BYTES = 16 * 1024


def _http_date(when: dt.datetime) -> str:
    return format_datetime(when.astimezone(dt.UTC), usegmt=True)


def _ocsp_response(answer: OcspAnswer, now: dt.datetime) -> Response:
    headers: list[tuple[str, str]] = []
    if answer.cacheable and answer.this_update and answer.next_update:
        max_age = max(0, int((answer.next_update - now).total_seconds()))
        headers += [
            ("Last-Modified", _http_date(answer.this_update)),
            ("Expires", _http_date(answer.next_update)),
            ("Cache-Control", f"max-age={max_age}, public, no-transform, must-revalidate"),
            ("ETag", '"' + hashlib.sha1(answer.der).hexdigest() + '"'),
        ]
    else:
        headers.append(("Cache-Control", "no-store"))
    return Response(200, answer.der, OCSP_RESPONSE_TYPE, tuple(headers))


def ocsp_too_large(limit: int) -> Response:
    """An oversized OCSP request: ``malformedRequest``, not a bare HTTP error."""
    return Response(
        200, error_response("malformed_request"), OCSP_RESPONSE_TYPE, (("Cache-Control", "no-store"),)
    )


def ocsp_handler(
    responders: Sequence[OcspResponder] | Callable[[], Sequence[OcspResponder]],
    *,
    clock: Callable[[], dt.datetime] | None = None,
) -> Handler:
    """A handler for ``POST /ocsp`` (DER body) and ``GET /ocsp/<base64 DER>`` (RFC 5019).

    ``responders`` may be a callable, e.g. to build them lazily on first use.
    """

    def now() -> dt.datetime:
        return (clock or (lambda: dt.datetime.now(dt.UTC)))()

    def handle(request: Request) -> Response:
        active = responders() if callable(responders) else responders
        if request.method == "POST":
            body = request.body
        elif request.method == "GET":
            encoded = request.path.split("/ocsp/", 1)[1] if "/ocsp/" in request.path else ""
            try:
                body = base64.b64decode(urllib.parse.unquote(encoded), validate=True)
            except (binascii.Error, ValueError):
                body = b""
        else:
            return Response(
                405, b"use POST or GET (RFC 6960 / RFC 5019)\n", headers=(("Allow", "GET, POST"),)
            )
        return _ocsp_response(answer_with(active, body), now())

    return handle


def static_handler(content: Callable[[], bytes], content_type: str, *, max_age: int | None = None) -> Handler:
    """Serve the bytes ``content()`` returns (a CRL, a certificate) on GET/HEAD."""

    def handle(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"use GET\n", headers=(("Allow", "GET"),))
        headers: tuple[tuple[str, str], ...] = ()
        if max_age is not None:
            headers = (("Cache-Control", f"max-age={max_age}, public"),)
        return Response(200, content(), content_type, headers)

    return handle
