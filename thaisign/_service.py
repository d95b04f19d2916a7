"""A tiny HTTP layer shared by the OCSP/CRL responder and the TSA.

A :class:`ServiceApp` maps paths to handlers ``Request -> Response`` and is at the same time a
WSGI application (``app(environ, start_response)``, for any WSGI server) and, via ``app.asgi``,
an ASGI 3 application: :func:`thaisign.serving.serve` runs it with uvicorn workers, timeouts and
limits. Error bodies never repeat what the client sent.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Request", "Response", "ServiceApp", "health_handler"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, (text + "\n").encode("utf-8"))


Handler = Callable[[Request], Response]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ServiceApp:
    """Routes by exact path, then by the longest matching prefix (ending in ``/``)."""

    def __init__(
        self,
        routes: Mapping[str, Handler],
        *,
        max_body: int = 64 * 1024,
        too_large: Callable[[int], Response] | None = None,
    ) -> None:
        self.routes = dict(routes)
        self.max_body = max_body
        self._too_large = too_large or _too_large
        #: called by :meth:`close` (database engines, token sessions)
        self.closers: list[Callable[[], None]] = []
        #: lines for the operator at start-up (what the service can and cannot do)
        self.notes: list[str] = []
        self._prefixes = sorted((p for p in self.routes if p.endswith("/")), key=len, reverse=True)

    def close(self) -> None:
        """Release what the handlers hold (call before forking workers, or at shutdown)."""
        for closer in self.closers:
            with contextlib.suppress(Exception):
                closer()

    def handle(self, request: Request) -> Response:
        handler = self.routes.get(request.path)
        if handler is None:
            handler = next((self.routes[p] for p in self._prefixes if request.path.startswith(p)), None)
        if handler is None:
            return Response.text(404, "not found")  # never the path: it is the client's text
        try:
            return handler(request)
        except Exception:
            _log.exception("internal error answering %s %s", request.method, request.path)
            return Response.text(500, "internal error")

    # --- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "/") or "/"
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        body = b""
        if method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or -1)
            except ValueError:
                length = -1
            if length > self.max_body:
                return self._wsgi_send(start_response, self._too_large(self.max_body))
            stream = environ["wsgi.input"]
            body = stream.read(length) if length >= 0 else stream.read(self.max_body + 1)
            if len(body) > self.max_body:
                return self._wsgi_send(start_response, self._too_large(self.max_body))
        response = self.handle(Request(method, path, body, headers))
        return self._wsgi_send(start_response, response, head=method == "HEAD")

    @staticmethod
    def _wsgi_send(
        start_response: Callable[..., Any], response: Response, *, head: bool = False
    ) -> list[bytes]:
        status = f"{response.status} {_REASONS.get(response.status, 'Unknown')}"
        start_response(status, _header_list(response))
        return [] if head else [response.body]

    # --- ASGI ---------------------------------------------------------------------------------

    async def asgi(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        """The ASGI 3 entry point (``uvicorn`` runs this)."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method = scope["method"].upper()
        response: Response | None = None
        chunks: list[bytes] = []
        size = 0
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            response = self._too_large(self.max_body)
        else:
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body:
                    response = self._too_large(self.max_body)
                    break
                chunks.append(chunk)
                more = message.get("more_body", False)
        if response is None:
            response = self.handle(Request(method, scope["path"], b"".join(chunks), headers))
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in _header_list(response)],
            }
        )
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else response.body})


def health_handler(check: Callable[[], Response]) -> Handler:
    """``/health``: ``check()`` answers GET (and HEAD, without the body); other methods get 405."""

    def handle(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"use GET or HEAD\n", headers=(("Allow", "GET, HEAD"),))
        return check()

    return handle


def _too_large(limit: int) -> Response:
    return Response.text(413, f"request body larger than {limit} bytes")


def _header_list(response: Response) -> list[tuple[str, str]]:
    return [
        ("Content-Type", response.content_type),
        ("Content-Length", str(len(response.body))),
        *response.headers,
    ]
