"""``thaisign desk``: the clerk's local web page for checking letters (a thin layer over thaisign.desk)."""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path

import click

from thaisign.errors import ServiceError, UsageError


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback only by default)."
)
@click.option(
    "--port", default=8470, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free port)."
)
@click.option(
    "--trust",
    "trust_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Extra trust anchor: a PEM/DER root certificate or a folder of them (repeatable).",
)
@click.option(
    "--offline", is_flag=True, help="Do not fetch OCSP/CRL; use only revocation data inside the letters."
)
@click.option(
    "--at", "at_text", metavar="ISO_TIME", help="Validate as of this time (default: the time of each check)."
)
@click.option(
    "--register",
    "register_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="SQLite file of the saved register (default: ~/.local/share/thaisign/desk/register.db).",
)
@click.option(
    "--lang", type=click.Choice(["th", "en"]), default=None, help="First language shown (default: Thai)."
)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 16), help="Checking processes."
)
@click.option(
    "--max-file-mib", default=30, show_default=True, type=click.IntRange(1, 1024), help="Largest letter."
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser.")
def desk(
    host: str,
    port: int,
    trust_paths: tuple[Path, ...],
    offline: bool,
    at_text: str | None,
    register_path: Path | None,
    lang: str | None,
    workers: int,
    max_file_mib: int,
    open_browser: bool,
) -> None:
    """A web page for clerks on this computer: drop letters, read the verdicts, print the register.

    (โต๊ะตรวจหนังสือสำหรับเจ้าหน้าที่สารบรรณ) Letters are checked with the same verifier as
    `thaisign verify`, in separate processes, and are not kept after the check; saving the
    register keeps its rows only. Stop with Ctrl+C.

    \b
    Examples:
      thaisign desk                                   # then open http://127.0.0.1:8470/
      thaisign desk --trust agency-root.pem --offline --port 8080
    """
    import uvicorn

    from thaisign._cli.verify import _parse_at, _quiet_libraries
    from thaisign.desk.app import DeskConfig, MiB, create_app, default_register_path
    from thaisign.verify.trust import TrustStore

    _quiet_libraries(False)
    allowed: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")
    if not _is_loopback(host):
        click.echo(
            f"thaisign desk: warning: listening on {host}: other computers can send letters here", err=True
        )
        allowed = (*allowed, host if ":" not in host else f"[{host}]")
    config = DeskConfig(
        trust=TrustStore.default(trust_paths),
        revocation="offline" if offline else "online",
        at=_parse_at(at_text),
        register_path=register_path or default_register_path(),
        lang=lang,
        workers=workers,
        max_file_bytes=max_file_mib * MiB,
        max_request_bytes=max(200, 4 * max_file_mib) * MiB,
        allowed_hosts=allowed,
    )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ServiceError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="choose another --port (0 = any free port)",
        ) from None
    except (socket.gaierror, UnicodeError):
        raise UsageError(f"--host {host!r} is not an address of this computer") from None
    sock.listen(64)
    bound = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if family == socket.AF_INET6 else host
    url = f"http://{shown}:{bound}/"
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3)
    )
    click.echo(f"thaisign desk: {url}  (Ctrl+C to stop)", err=False)
    sys.stdout.flush()  # a parent process reads the address line
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    server.run(sockets=[sock])
