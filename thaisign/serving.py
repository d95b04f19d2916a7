"""Run an ASGI app the way operators expect: uvicorn, its own worker supervisor, timeouts and limits.

One call serves any ASGI 3 application of the project (the OCSP/CRL responder, the TSA, the CSC
signing service, the clerk's desk)::

    from thaisign.serving import ServerLimits, serve
    serve(functools.partial(build_my_app, settings), host="0.0.0.0", port=8080, workers=2)

``app_factory`` is called in every worker process to build that worker's app (database
connections and PKCS#11 sessions are never shared between processes); with ``workers`` > 1 the
workers are *spawned* by uvicorn's supervisor (which restarts a worker that dies or hangs, and
reacts to SIGHUP/SIGTTIN/SIGTTOU like gunicorn), so the factory must be picklable: a module-level
function, or :func:`functools.partial` of one with picklable settings. Secrets in those settings
travel to the workers through a pipe, never through argv or the environment.

uvicorn closes idle keep-alive connections, but not a client that sends its request line and
headers (or its body) slowly, nor one that connects and says nothing; :class:`ServerLimits` adds
those deadlines, a bound on header size and on connections per worker, in a small subclass of
uvicorn's httptools protocol (``--http`` accepts a protocol class; tested against a real server).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from thaisign.errors import ServiceError

__all__ = ["BuiltOutsideTheLoop", "ServerLimits", "bind_socket", "serve", "uvicorn_config"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerLimits:
    """Deadlines (seconds) and bounds of every connection a worker accepts."""

    #: a connection that has not started a request (first one, or the next on keep-alive) is closed
    idle_timeout: float = 5.0
    #: from a request's first byte to the end of its headers
    header_timeout: float = 10.0
    #: from the end of the headers to the end of the body
    body_timeout: float = 20.0
    #: request line and headers together (431 above)
    max_header_bytes: int = 16 * 1024
    #: open connections per worker; more are answered 503 and closed at once
    max_connections: int = 1000
    #: on SIGTERM, how long requests in flight may take to finish
    graceful_timeout: int = 10


_RESPONSES = {
    408: b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 16\r\nconnection: close\r\n\r\nrequest timeout\n",
    431: b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 22\r\nconnection: close\r\n\r\nrequest header too big\n",
    503: b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 17\r\nconnection: close\r\n\r\ntoo many clients\n",
}


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`ServerLimits` (read from ``config.thaisign_limits``)."""

    def __init__(self, config: Any, server_state: Any, app_state: Any, _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._limits: ServerLimits = getattr(config, "thaisign_limits", None) or ServerLimits()
        self._deadline: asyncio.TimerHandle | None = None
        self._due: float | None = None  # loop time the current phase must end by
        self._phase = "idle"  # idle | headers | body | app
        self._header_bytes = 0
        self._refused = False

    # --- deadlines ---------------------------------------------------------------------------------
    # One timer per connection at most: moving a deadline only records it (a request costs no
    # timer churn); when the timer fires early it re-arms itself for what is left.

    def _arm(self, seconds: float, phase: str) -> None:
        self._phase = phase
        self._due = self.loop.time() + seconds
        if self._deadline is None:
            self._deadline = self.loop.call_at(self._due, self._expired)

    def _disarm(self) -> None:
        self._due = None

    def _cancel(self) -> None:
        self._due = None
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self._due is None or self.transport is None or self.transport.is_closing():
            return
        if self.loop.time() < self._due:
            self._deadline = self.loop.call_at(self._due, self._expired)
            return
        if self._phase in ("headers", "body"):
            self._refuse(408)
        elif self._phase == "idle":
            self.transport.close()

    def _refuse(self, status: int) -> None:
        self._refused = True
        self._cancel()
        if not self.transport.is_closing():
            self.transport.write(_RESPONSES[status])
            self.transport.close()

    # --- connection and parser events ------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections:
            self._refuse(503)
            return
        self._arm(self._limits.idle_timeout, "idle")

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._arm(self._limits.header_timeout, "headers")

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        if not self._refused:
            super().on_header(name, value)

    def _count(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > self._limits.max_header_bytes and not self._refused:
            self._refuse(431)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._arm(self._limits.body_timeout, "body")
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused and self.cycle is not None:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused or self.cycle is None:
            return
        self._disarm()
        self._phase = "app"
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport is not None and not self.transport.is_closing() and self._phase == "app":
            self._arm(self._limits.idle_timeout, "idle")


def bind_socket(host: str, port: int, *, backlog: int = 4096) -> socket.socket:
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
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


class BuiltOutsideTheLoop:
    """A picklable app factory for uvicorn that builds the app in a helper thread.

    uvicorn calls a factory inside its running event loop; building an app may itself need one
    (``asyncio.run``: warming up the signing machinery, pyHanko's fetchers), which cannot run there.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory

    def __call__(self) -> Any:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="thaisign-app-build") as pool:
            app = pool.submit(self.factory).result()
        settle_worker()
        return app


def settle_worker() -> None:
    """Move what a freshly built worker holds out of the collector's way (``gc.freeze``).

    What exists once the app is built (modules, warmed-up machinery, a replica's statuses)
    lives as long as the worker: later full collections, pauses in every request's path, walk
    only what requests allocate. Called by the serving entry points only, in a process that is
    a server's own, never by a library call that may run inside a caller's process.
    """
    import gc

    gc.collect()
    gc.freeze()


def uvicorn_config(
    app: Any,
    *,
    factory: bool = True,
    workers: int = 1,
    limits: ServerLimits | None = None,
    log_level: str = "warning",
) -> Any:
    """The uvicorn ``Config`` :func:`serve` runs (for embedding in another server set-up): ``app`` is
    an ASGI app, or with ``factory`` a picklable callable that builds one in each worker."""
    import uvicorn

    limits = limits or ServerLimits()
    config = uvicorn.Config(
        BuiltOutsideTheLoop(app) if factory else app,
        factory=factory,
        interface="asgi3",
        lifespan="auto",
        access_log=False,
        log_level=log_level,
        http=LimitedHttpProtocol,
        loop="uvloop" if _has("uvloop") else "asyncio",
        workers=workers,
        timeout_keep_alive=max(1, int(limits.idle_timeout)),
        timeout_graceful_shutdown=limits.graceful_timeout,
        backlog=4096,
        server_header=False,
    )
    config.thaisign_limits = limits  # type: ignore[attr-defined]  # read by LimitedHttpProtocol
    return config


def serve(
    app_factory: Callable[[], Any],
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    limits: ServerLimits | None = None,
    on_ready: Callable[[str], None] | None = None,
    log_level: str = "warning",
) -> None:
    """Serve the ASGI app ``app_factory()`` builds until SIGINT/SIGTERM.

    The socket is bound here, once, before any worker starts (a busy port is a one-line
    :class:`ServiceError`); ``on_ready(url)`` is called when it listens.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    sock = bind_socket(host, port)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}"
    try:
        if workers <= 1:  # built here, in this thread, before the event loop starts
            config = uvicorn_config(app_factory(), factory=False, limits=limits, log_level=log_level)
            settle_worker()
            if on_ready is not None:
                on_ready(url)
            uvicorn.Server(config).run(sockets=[sock])
        else:
            config = uvicorn_config(app_factory, workers=workers, limits=limits, log_level=log_level)
            if on_ready is not None:
                on_ready(url)
            Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
