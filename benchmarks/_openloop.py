"""An open-loop HTTP/1.1 load generator for the latency figures: request i is due at
``start + i / rate`` whatever happened to the ones before it, and its latency is measured from
that due time (so a stalled server is charged for the requests it made wait: no coordinated
omission). Requests go out on keep-alive connections taken from an idle pool; a new connection
is opened when none is idle. Written on asyncio's protocol layer, not an HTTP client library, so
the client's own cost (a few tens of microseconds per request) stays small beside the server's:
the benchmarks share two cores between client and server.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass
class OpenLoopResult:
    latencies: list[float]  # seconds, from each request's due time to its whole response
    failures: int  # non-2xx answers and broken connections
    late_starts: int  # requests sent more than 5 ms after their due time (client or server overloaded)
    connections: int  # connections the run needed

    def percentile(self, p: float) -> float:
        data = sorted(self.latencies)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, max(0, int(len(data) * p / 100 + 0.5) - 1))]


class _Connection(asyncio.Protocol):
    def __init__(self, done: asyncio.Future[None]) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.on_response: object = None
        self.closed = done
        self.alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = bytes(self.buffer[:head_end]).lower()
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            status = int(head[9:12])
            del self.buffer[:end]
            callback, self.on_response = self.on_response, None
            if callable(callback):
                callback(200 <= status < 300)

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        callback, self.on_response = self.on_response, None
        if callable(callback):
            callback(False)
        if not self.closed.done():
            self.closed.set_result(None)


async def _run(
    host: str, port: int, requests: list[bytes], rate: float, max_connections: int
) -> OpenLoopResult:
    loop = asyncio.get_running_loop()
    idle: list[_Connection] = []
    waiting: list[tuple[bytes, float]] = []  # due, but every connection busy and no more allowed
    latencies: list[float] = []
    failures = late = opened = most = 0
    pending = len(requests)
    finished = loop.create_future()

    async def connection() -> _Connection:
        nonlocal opened, most
        opened += 1
        most = max(most, opened)
        _, protocol = await loop.create_connection(lambda: _Connection(loop.create_future()), host, port)
        return protocol

    def send(conn: _Connection, request: bytes, due: float) -> None:
        def answered(ok: bool) -> None:
            nonlocal failures, pending
            nonlocal opened
            if ok:
                latencies.append(time.perf_counter() - due)
                if waiting:
                    send(conn, *waiting.pop(0))
                else:
                    idle.append(conn)
            else:
                failures += 1
                opened -= 1
                if waiting:
                    task = loop.create_task(send_new(*waiting.pop(0)))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            pending -= 1
            if pending == 0 and not finished.done():
                finished.set_result(None)

        conn.on_response = answered
        assert conn.transport is not None
        conn.transport.write(request)

    async def send_new(request: bytes, due: float) -> None:
        nonlocal failures, pending
        nonlocal opened
        try:
            conn = await connection()
        except OSError:
            opened -= 1
            failures += 1
            pending -= 1
            if pending == 0 and not finished.done():
                finished.set_result(None)
            return
        send(conn, request, due)

    tasks = set()
    start = time.perf_counter() + 0.1
    for i, request in enumerate(requests):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        if time.perf_counter() - due > 0.005:
            late += 1
        while idle and not idle[-1].alive:  # closed by the server while idle
            idle.pop()
            opened -= 1
        if idle:
            send(idle.pop(), request, due)
        elif opened >= max_connections:
            waiting.append((request, due))
        else:
            task = loop.create_task(send_new(request, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    await asyncio.wait_for(finished, timeout=60)
    return OpenLoopResult(latencies, failures, late, most)


def open_loop(
    host: str, port: int, requests: list[bytes], rate: float, max_connections: int = 256
) -> OpenLoopResult:
    """Send ``requests`` (whole HTTP/1.1 requests, keep-alive) at ``rate`` per second; when
    ``max_connections`` are all busy, due requests wait (and their latency counts the wait)."""
    return asyncio.run(_run(host, port, requests, rate, max_connections))


def http_request(method: str, host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 request as bytes."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
