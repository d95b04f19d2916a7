"""Real servers for tests: free ports, a threaded WSGI server on 127.0.0.1, PostgreSQL, SoftHSM2."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextlib.contextmanager
def serve_wsgi(app: Callable[..., Any], port: int | None = None) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1 in a background thread; yields its base URL."""
    port = port or free_port()
    server = make_server(
        "127.0.0.1", port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


# --- PostgreSQL ------------------------------------------------------------------------------


@dataclass
class PostgresServer:
    url: str  # SQLAlchemy URL of the 'postgres' database
    host: str
    port: int
    datadir: Path

    def new_database(self, name: str) -> str:
        """Create a fresh database and return its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{name}"


def _pg_bin(tool: str) -> str | None:
    found = shutil.which(tool)
    if found:
        return found
    for version in ("17", "16", "15", "14", "13"):
        p = Path(f"/usr/lib/postgresql/{version}/bin/{tool}")
        if p.exists():
            return str(p)
    return None


def _as_postgres_user(base: Path, sockdir: Path) -> tuple[list[str], Any]:
    """(command prefix, passwd entry): the server runs as 'postgres' when we are root."""
    if os.geteuid() != 0:
        return [], None
    user = "postgres"
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", user], check=True)
        pw = pwd.getpwnam(user)
    for p in (base, sockdir):
        os.chown(p, pw.pw_uid, pw.pw_gid)
    os.chmod(base, 0o755)
    base_parent = base.parent
    while base_parent != base_parent.parent:  # make the path traversable
        with contextlib.suppress(PermissionError):
            os.chmod(base_parent, os.stat(base_parent).st_mode | 0o011)
        base_parent = base_parent.parent
    return ["runuser", "-u", user, "--"], pw


def _server_env() -> dict[str, str]:
    # the server keeps the real clock: thaisign passes its times explicitly, and libfaketime (the
    # suite's moved-clock runs) makes the postmaster's timed waits hang or fail at start
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")}
    env["LC_ALL"] = "C.UTF-8"
    return env


@contextlib.contextmanager
def _stopped_after(
    prefix: list[str], pg_ctl: str, datadir: Path, port: int, env: dict[str, str]
) -> Iterator[PostgresServer]:
    """The started server on ``port``, stopped (immediate mode) when the block ends."""
    try:
        yield PostgresServer(
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", "127.0.0.1", port, datadir
        )
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(datadir), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            env=env,
        )


@contextlib.contextmanager
def run_standby(primary: PostgresServer) -> Iterator[PostgresServer]:
    """A streaming read replica of ``primary`` (``pg_basebackup -R``, hot standby) on its own
    port, in its own /tmp folder: what a deployment puts its status replicas on."""
    import tempfile

    basebackup, pg_ctl = _pg_bin("pg_basebackup"), _pg_bin("pg_ctl")
    if not basebackup or not pg_ctl:
        raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")
    with tempfile.TemporaryDirectory(prefix="thaisign-pg-standby-") as tmp:
        base = Path(tmp)
        sockdir = base / "sock"
        sockdir.mkdir()
        prefix, _ = _as_postgres_user(base, sockdir)
        datadir, log = base / "data", base / "pg.log"
        env = _server_env()
        copied = subprocess.run(
            [*prefix, basebackup, "-h", primary.host, "-p", str(primary.port), "-U", "postgres",
             "-D", str(datadir), "-R", "-X", "stream", "-c", "fast", "--no-sync"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        if copied.returncode != 0:
            raise RuntimeError(f"pg_basebackup failed: {copied.stderr.strip()}")
        port = free_port()
        opts = f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1 -c fsync=off -c hot_standby=on"
        started = subprocess.run(
            [*prefix, pg_ctl, "-D", str(datadir), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        if started.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"standby did not start: {started.stderr.strip()}\n{tail}")
        with _stopped_after(prefix, pg_ctl, datadir, port, env) as server:
            yield server


@contextlib.contextmanager
def run_postgres(
    base: Path | None = None, *, durable: bool = False, settings: str = ""
) -> Iterator[PostgresServer]:
    """initdb + pg_ctl a throw-away server on a free port (as the 'postgres' user when root).

    By default it lives in its own ``/tmp`` folder, outside pytest's basetemp (which other pytest
    sessions may clean up or make private under the server's feet), and is removed afterwards.
    ``durable``: fsync on, as in production (tests run with it off); ``settings``: more ``-c`` options.
    """
    if base is None:
        import tempfile

        with (
            tempfile.TemporaryDirectory(prefix="thaisign-pg-") as tmp,
            run_postgres(Path(tmp), durable=durable, settings=settings) as server,
        ):
            yield server
        return
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")
    base.mkdir(parents=True, exist_ok=True)
    datadir, sockdir = base / "data", base / "sock"
    sockdir.mkdir(exist_ok=True)
    port = free_port()
    prefix, pw = _as_postgres_user(base, sockdir)
    env = _server_env()
    made = subprocess.run(
        [*prefix, initdb, "-D", str(datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
        capture_output=True,
        text=True,
        env=env,
    )
    if made.returncode != 0:
        raise RuntimeError(f"initdb failed ({made.returncode}): {made.stderr.strip() or made.stdout.strip()}")
    log = base / "pg.log"
    if pw is not None:
        log.touch()
        os.chown(log, pw.pw_uid, pw.pw_gid)
    for attempt in range(3):  # another process may take the free port before the server binds it
        if attempt:
            port = free_port()
        opts = f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1 -c fsync={'on' if durable else 'off'}"
        opts += f" -c max_connections=100 {settings}".rstrip()
        started = subprocess.run(
            [*prefix, pg_ctl, "-D", str(datadir), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"],
            capture_output=True,
            text=True,
            env=env,
        )
        if started.returncode == 0:
            break
    else:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"pg_ctl start failed ({started.returncode}): {started.stderr.strip()}\n{tail}")
    with _stopped_after(prefix, pg_ctl, datadir, port, env) as server:
        yield server


# --- SoftHSM2 --------------------------------------------------------------------------------

SOFTHSM_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)


def softhsm_module() -> str | None:
    return next((p for p in SOFTHSM_MODULE_CANDIDATES if Path(p).exists()), None)


@dataclass
class SoftHSM:
    module: str
    conf: Path
    tokendir: Path

    def init_token(self, label: str, pin: str = "1234", so_pin: str = "5678") -> None:
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", so_pin],
            check=True,
            capture_output=True,
            env={**os.environ, "SOFTHSM2_CONF": str(self.conf)},
        )


@contextlib.contextmanager
def softhsm(base: Path) -> Iterator[SoftHSM]:
    """A private SoftHSM2 token directory and config; sets SOFTHSM2_CONF while active."""
    module = softhsm_module()
    if module is None:
        raise RuntimeError("SoftHSM2 not installed: apt-get install softhsm2")
    tokendir = base / "tokens"
    tokendir.mkdir(parents=True, exist_ok=True)
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokendir}\nobjectstore.backend = file\nlog.level = ERROR\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        yield SoftHSM(module, conf, tokendir)
    finally:
        if old is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = old
        shutil.rmtree(tokendir, ignore_errors=True)


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")
