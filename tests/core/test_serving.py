"""thaisign.serving: uvicorn workers with deadlines and limits, against real sockets on 127.0.0.1.

Each test drives a real server (two spawned workers) with raw sockets: a client that says nothing,
sends its headers or body slowly, sends huge headers, or opens too many connections must be cut
off; ordinary clients keep working. Error bodies never repeat what the client sent."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.servers import free_port, wait_for_port

TESTS = Path(__file__).resolve().parents[1]
LIMITS = (
    "ServerLimits(idle_timeout=1, header_timeout=2, body_timeout=2, max_connections=6, max_header_bytes=4096)"
)
SCRIPT = f"""
import functools
from thaisign.serving import ServerLimits, serve
from support.asgi_apps import echo_length_app
serve(functools.partial(echo_length_app), port=int(__import__("sys").argv[1]), workers=2, limits={LIMITS})
"""


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    p = free_port()
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(p)], env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(p, timeout=30)
        _wait_answering(p)
        yield p
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def _wait_answering(p: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _request(p, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(
                b"HTTP/1.1 200"
            ):
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError("the server did not answer")


def _request(p: int, data: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", p), timeout=timeout) as s:
        s.sendall(data)
        return _read_all(s, timeout)


def _read_all(s: socket.socket, timeout: float) -> bytes:
    s.settimeout(timeout)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


def _closed_within(s: socket.socket, seconds: float) -> tuple[float, bytes]:
    start = time.monotonic()
    data = _read_all(s, seconds + 5)
    return time.monotonic() - start, data


def test_silent_connection_is_closed(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        took, data = _closed_within(s, 1)
    assert data == b"" and took < 8  # 1 s idle limit; generous for a busy machine


def test_slow_headers_get_408(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        start = time.monotonic()
        request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40
        try:
            for byte in request:  # one byte every 0.2 s: never done within the 2 s header deadline
                s.sendall(bytes([byte]))
                time.sleep(0.2)
        except OSError:
            pass  # closed under our feet: what we want
        data = _read_all(s, 10)
    assert data.startswith(b"HTTP/1.1 408") and time.monotonic() - start < 12


def test_slow_body_gets_408(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
        took, data = _closed_within(s, 2)
    assert data.startswith(b"HTTP/1.1 408") and took < 10


def test_keep_alive_connection_is_closed_when_idle(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(10)
        first = b""
        while not first.endswith(b"\r\n\r\nok\n"):  # the whole response (it may come in parts)
            first += s.recv(65536)
        took, rest = _closed_within(s, 1)
    assert first.startswith(b"HTTP/1.1 200") and rest == b"" and took < 8


def test_huge_headers_get_431(port: int) -> None:
    data = _request(port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 8000 + b"\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 431")


def test_too_many_connections_are_refused_and_service_goes_on(port: int) -> None:
    # six per worker, two workers: open plenty, keep them open, the excess is refused at once
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    try:
        refused = 0
        for s in held:
            s.settimeout(0.5)
            try:
                if s.recv(100).startswith(b"HTTP/1.1 503"):
                    refused += 1
            except TimeoutError:
                pass
        assert refused >= 8
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    assert _request(port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 200"
    )


def test_health_is_get_or_head_and_errors_do_not_echo(port: int) -> None:
    post = _request(
        port, b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    assert post.startswith(b"HTTP/1.1 405") and b"allow: get, head" in post.lower()
    head = _request(port, b"HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")
    missing = _request(port, b"GET /%1b%5b31mEVIL%e2%80%ae HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert missing.startswith(b"HTTP/1.1 404")
    assert b"EVIL" not in missing and b"\x1b" not in missing and b"%1b" not in missing.lower()


def test_each_worker_moves_what_it_built_out_of_the_collectors_way(port: int) -> None:
    """serve() freezes a worker's start-up objects (gc.freeze) in the worker, after its app is built."""
    for _ in range(4):  # either worker may answer
        answer = _request(port, b"GET /frozen HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200")
        assert int(answer.split(b"\r\n\r\n", 1)[1]) > 10_000


def test_a_busy_port_is_one_clear_error(port: int) -> None:
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(port)], env={**os.environ, "PYTHONPATH": str(TESTS)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode != 0 and f"cannot listen on 127.0.0.1:{port}" in r.stderr
