"""A tiny HTTP layer shared by the OCSP/CRL responder and the TSA.

A :class:`ServiceApp` maps paths to handlers ``Request -> Response`` and is at the same time a
WSGI application (``app(environ, start_response)``, for gunicorn or any WSGI server) and, via
``app.asgi``, an ASGI 3 application (for uvicorn). :func:`run_server` runs it with uvicorn on
a socket bound once and shared by ``workers`` forked processes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from thaisign.errors import ServiceError

__all__ = ["Request", "Response", "ServiceApp", "run_server"]

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
            return Response.text(404, f"not found: {request.path}")
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


def _too_large(limit: int) -> Response:
    return Response.text(413, f"request body larger than {limit} bytes")


def _header_list(response: Response) -> list[tuple[str, str]]:
    return [
        ("Content-Type", response.content_type),
        ("Content-Length", str(len(response.body))),
        *response.headers,
    ]


# --- running it ---------------------------------------------------------------------------------


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket, or a one-line :class:`ServiceError`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServiceError(
            f"cannot listen on {host}:{port}: {exc.strerror}", hint="choose another --port or --host"
        ) from None
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


def _run_uvicorn(app: ServiceApp, sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(
        app.asgi,
        interface="asgi3",
        lifespan="off",
        access_log=False,
        log_level="warning",
        http="httptools" if _has("httptools") else "h11",
        loop="uvloop" if _has("uvloop") else "asyncio",
        timeout_keep_alive=30,
        backlog=4096,
    )
    uvicorn.Server(config).run(sockets=[sock])


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def run_server(
    app_factory: Callable[[], ServiceApp],
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the app built by ``app_factory`` with uvicorn until SIGINT/SIGTERM.

    The socket is bound once; with ``workers > 1`` that many processes are forked and each
    builds its own app (database connections and token sessions are not shared across forks).
    """
    sock = bind_socket(host, port)
    url = f"http://{host}:{sock.getsockname()[1]}"
    if workers <= 1:
        app = app_factory()
        if on_ready:
            on_ready(url)
        _run_uvicorn(app, sock)
        return
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _run_uvicorn(app_factory(), sock)
            except BaseException as exc:  # a child reports and exits, never returns into the CLI
                print(f"thaisign: worker {os.getpid()} stopped: {exc}", file=sys.stderr)
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    if on_ready:
        on_ready(url)

    def _stop(signum: int, frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    for child in children:
        while True:
            try:
                os.waitpid(child, 0)
                break
            except ChildProcessError:
                break
            except InterruptedError:
                continue
    sock.close()
