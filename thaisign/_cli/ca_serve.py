"""``thaisign ca serve``: OCSP, CRL and CA-certificate publication for a CA folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from thaisign._cli._options import secret_file_option
from thaisign._secrets import CA_PASSPHRASE_ENV, PASSPHRASE_ENV, PIN_ENV, resolve_secret


@click.command("serve")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes (uvicorn)."
)
@click.option(
    "--signer",
    "signer_choice",
    type=click.Choice(["auto", "ca", "delegated"]),
    default="auto",
    show_default=True,
    help="Who signs OCSP responses: the CA key, or the delegated responder in DIR/ocsp-responder.*; "
    "auto = delegated when it exists.",
)
@click.option(
    "--issue-responder",
    is_flag=True,
    help="First have the CA issue a new delegated OCSP responder certificate (needs the CA key once).",
)
@click.option(
    "--responder-days", default=90, show_default=True, type=click.IntRange(1, 1096), help="Its validity."
)
@click.option(
    "--next-update",
    "next_update_minutes",
    default=60,
    show_default=True,
    type=click.IntRange(1, 7 * 24 * 60),
    help="OCSP nextUpdate - thisUpdate, in minutes (also the HTTP cache lifetime).",
)
@click.option(
    "--check-interval",
    default=600,
    show_default=True,
    type=click.IntRange(10, 86400),
    help="Seconds between full checks of the store against its audit chain and checkpoint.",
)
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A checkpoint you kept (X.checkpoint.p7m from 'ca crl'); the store must hold it. Repeatable.",
)
@secret_file_option("--passphrase-file", "the CA key passphrase", CA_PASSPHRASE_ENV)
@secret_file_option("--responder-passphrase-file", "the responder key passphrase", PASSPHRASE_ENV)
@secret_file_option("--pin-file", "the token PIN when the CA key is in a token", PIN_ENV)
def serve(
    directory: Path,
    host: str,
    port: int,
    workers: int,
    signer_choice: str,
    issue_responder: bool,
    responder_days: int,
    next_update_minutes: int,
    check_interval: int,
    checkpoint_files: tuple[Path, ...],
    passphrase_file: Path | None,
    responder_passphrase_file: Path | None,
    pin_file: Path | None,
) -> None:
    """Serve OCSP (RFC 6960/5019), the CRL and the CA certificate for a CA folder.

    Paths: POST /ocsp, GET /ocsp/<base64>, GET /crl/ca.crl, GET /ca.cer, GET /health —
    the URLs written into every certificate the CA issues. The store is read live: a
    'thaisign ca revoke' is answered by OCSP at once. The store is checked against its audit
    chain and the newest signed checkpoint at start and every --check-interval seconds; while
    it fails that check, is unreachable, or its file was deleted or replaced by an older copy,
    OCSP answers tryLater and /health 503 (service resumes when it is sound again).
    Connections are closed after 5 s idle, 10 s for the request headers, 20 s for the body.

    \b
    Example (delegated responder: the CA key is needed only once):
      export THAISIGN_CA_PASSPHRASE=...  THAISIGN_PASSPHRASE=...
      thaisign ca serve ./dopa-ca --issue-responder --port 8080 --workers 2
    \b
    Check it with OpenSSL:
      openssl ocsp -issuer dopa-ca/ca.pem -cert somchai.pem \\
          -url http://127.0.0.1:8080/ocsp -CAfile dopa-ca/chain.pem
    """
    import dataclasses
    import functools

    from thaisign._fs import read_input
    from thaisign._text import visible
    from thaisign.ca._guard import initial_state
    from thaisign.ca.authority import Authority
    from thaisign.ca.profiles import PROFILE_FILE, CaProfile
    from thaisign.ca.server import (
        CaServiceConfig,
        build_ca_app,
        build_ca_asgi,
        check_store_state,
        has_responder,
    )
    from thaisign.ca.server import issue_responder as do_issue_responder
    from thaisign.errors import CANotFoundError
    from thaisign.serving import serve as run

    if not (directory / PROFILE_FILE).exists():
        raise CANotFoundError(
            f"{directory} is not a thaisign CA folder (no {PROFILE_FILE})",
            hint="create one with 'thaisign ca init'",
        )
    profile = CaProfile.load(directory / PROFILE_FILE)
    in_token = profile.key_uri is not None

    def ca_secrets() -> tuple[str | None, str | None]:
        if in_token:
            return None, resolve_secret(file=pin_file, env=PIN_ENV, prompt="Token PIN")
        return resolve_secret(file=passphrase_file, env=CA_PASSPHRASE_ENV, prompt="CA key passphrase"), None

    def responder_secret(new: bool = False) -> str | None:
        return resolve_secret(
            file=responder_passphrase_file,
            env=PASSPHRASE_ENV,
            prompt="OCSP responder key passphrase",
            flag="--responder-passphrase-file",
            new=new,
        )

    ca_passphrase = pin = responder_passphrase = None
    if issue_responder:
        ca_passphrase, pin = ca_secrets()
        responder_passphrase = responder_secret(new=True)
        path = do_issue_responder(
            directory,
            ca_passphrase=ca_passphrase,
            responder_passphrase=responder_passphrase or "",
            pin=pin,
            days=responder_days,
        )
        click.echo(f"thaisign: issued delegated OCSP responder certificate {path}", err=True)
        signer_choice = "delegated"
    mode = signer_choice
    if mode == "auto":
        mode = "delegated" if has_responder(directory) else "ca"
    if mode == "ca" and ca_passphrase is None and pin is None:
        ca_passphrase, pin = ca_secrets()
    if mode == "delegated" and responder_passphrase is None:
        responder_passphrase = responder_secret()
    config = CaServiceConfig(
        directory=directory,
        signer=mode,  # type: ignore[arg-type]
        ca_passphrase=ca_passphrase,
        responder_passphrase=responder_passphrase,
        pin=pin,
        ocsp_validity=dt.timedelta(minutes=next_update_minutes),
        check_interval=float(check_interval),
        checkpoints=tuple((str(f), read_input(f, "checkpoint file")) for f in checkpoint_files),
    )
    # The store is checked once here (workers start from this result, then check on their timer),
    # and the app built once to fail fast (wrong passphrase, missing files). Workers are spawned
    # processes that build their own: database connections and token sessions are per process.
    with Authority.open(directory, load_key=False) as read_only:
        config = dataclasses.replace(
            config, initial_state=initial_state(check_store_state(read_only, config))
        )
    first = build_ca_app(config)
    if workers > 1:
        first.close()

    def ready(url: str) -> None:
        signer_text = "the delegated responder" if mode == "delegated" else "the CA key"
        click.echo(
            f"thaisign: serving {directory} on {url} (OCSP signed by {signer_text}, {workers} worker(s))",
            err=True,
        )
        for note in first.notes:
            click.echo(f"thaisign: {visible(note, 400)}", err=True)

    factory = functools.partial(build_ca_asgi, config)
    run(
        (lambda: first.asgi) if workers == 1 else factory,
        host=host,
        port=port,
        workers=workers,
        on_ready=ready,
    )
