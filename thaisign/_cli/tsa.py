"""``thaisign tsa``: create and run an RFC 3161 time-stamping authority."""

from __future__ import annotations

from pathlib import Path

import click

from thaisign._cli._options import secret_file_option
from thaisign._secrets import CA_PASSPHRASE_ENV, PASSPHRASE_ENV, PIN_ENV, resolve_secret


@click.group()
def tsa() -> None:
    """RFC 3161 time-stamping authority (หน่วยประทับรับรองเวลา) for B-T and above.

    \b
    Example:
      thaisign tsa init ./tsa --ca ./dopa-ca
      thaisign tsa serve ./tsa --port 8318
    """


@tsa.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--ca",
    "ca_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Agency CA folder that issues the TSA certificate (else self-contained, for tests).",
)
@click.option("--name-th", "name", help="Common name of the TSA certificate (at most 64 characters).")
@click.option(
    "--key",
    "key_type",
    default="ec-p256",
    show_default=True,
    type=click.Choice(["ec-p256", "ec-p384", "rsa-2048", "rsa-3072"]),
    help="Key type of a new software key.",
)
@click.option("--key-uri", help="Use this PKCS#11 key (RFC 7512 URI) instead of a key file.")
@click.option(
    "--pkcs11-module",
    help="PKCS#11 module for --key-uri (else the URI's module-path or THAISIGN_PKCS11_MODULE).",
)
@click.option(
    "--days",
    default=3 * 365,
    show_default=True,
    type=click.IntRange(1, 3660),
    help="Validity of the TSA certificate.",
)
@click.option(
    "--policy-oid", help="TSA policy OID put in every token (default: the CA's policy OID + .3161)."
)
@click.option("--db", help="SQLAlchemy URL of the serial/token-log database (default: DIR/tsa.db).")
@secret_file_option("--passphrase-file", "the passphrase for the new TSA key", PASSPHRASE_ENV)
@secret_file_option("--ca-passphrase-file", "the CA key passphrase", CA_PASSPHRASE_ENV)
@secret_file_option("--pin-file", "the token PIN for --key-uri or a CA key in a token", PIN_ENV)
def init(
    directory: Path,
    ca_dir: Path | None,
    name: str | None,
    key_type: str,
    key_uri: str | None,
    pkcs11_module: str | None,
    days: int,
    policy_oid: str | None,
    db: str | None,
    passphrase_file: Path | None,
    ca_passphrase_file: Path | None,
    pin_file: Path | None,
) -> None:
    """Create a TSA folder: key, TSA certificate (critical EKU id-kp-timeStamping), store.

    Writes DIR/tsa.pem, DIR/chain.pem (its issuers up to the root), DIR/tsa.key (encrypted,
    0600) unless --key-uri, DIR/tsa.toml and DIR/tsa.db.

    \b
    Example (issued by the agency CA):
      export THAISIGN_CA_PASSPHRASE=...  THAISIGN_PASSPHRASE=...
      thaisign tsa init ./tsa --ca ./dopa-ca --name-th "TSA กรมส่งเสริมการปกครองท้องถิ่น"
    \b
    Example (self-contained, for tests):
      thaisign tsa init ./test-tsa
    """
    from thaisign.ca.profiles import PROFILE_FILE, CaProfile
    from thaisign.tsa.setup import init_tsa

    ca_passphrase = ca_pin = pin = passphrase = None
    if ca_dir is not None and (ca_dir / PROFILE_FILE).exists():
        if CaProfile.load(ca_dir / PROFILE_FILE).key_uri is not None:
            ca_pin = resolve_secret(file=pin_file, env=PIN_ENV, prompt="CA token PIN")
        else:
            ca_passphrase = resolve_secret(
                file=ca_passphrase_file,
                env=CA_PASSPHRASE_ENV,
                prompt="CA key passphrase",
                flag="--ca-passphrase-file",
            )
    if key_uri is not None:
        pin = resolve_secret(file=pin_file, env=PIN_ENV, prompt="Token PIN")
    else:
        passphrase = resolve_secret(
            file=passphrase_file, env=PASSPHRASE_ENV, prompt="New TSA key passphrase", new=True
        )
    config = init_tsa(
        directory,
        passphrase=passphrase,
        ca_dir=ca_dir,
        ca_passphrase=ca_passphrase,
        ca_pin=ca_pin,
        name=name,
        key=key_type,
        key_uri=key_uri,
        pin=pin,
        pkcs11_module=pkcs11_module,
        days=days,
        policy_oid=policy_oid,
        db=db,
    )
    click.echo(f"TSA created in {directory} (policy {config.policy_oid})")
    click.echo(f"serve it with: thaisign tsa serve {directory}")


@tsa.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8318, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes (uvicorn)."
)
@secret_file_option("--passphrase-file", "the TSA key passphrase", PASSPHRASE_ENV)
@secret_file_option("--pin-file", "the token PIN when the key is in a token", PIN_ENV)
def serve(
    directory: Path, host: str, port: int, workers: int, passphrase_file: Path | None, pin_file: Path | None
) -> None:
    """Serve RFC 3161 over HTTP: POST application/timestamp-query to / or /tsa.

    Every token gets a unique serial from the store and is logged before it is returned;
    malformed or oversized requests get a TimeStampResp refusal (badDataFormat, badAlg, ...).

    \b
    Example:
      thaisign tsa serve ./tsa --port 8318 --workers 2
      openssl ts -query -data letter.pdf -sha256 -cert -out q.tsq
      curl -s -H 'Content-Type: application/timestamp-query' --data-binary @q.tsq \\
          http://127.0.0.1:8318/tsa -o reply.tsr
      openssl ts -verify -data letter.pdf -in reply.tsr -CAfile root.pem -untrusted tsa/chain.pem
    """
    import functools

    from thaisign.errors import CANotFoundError
    from thaisign.serving import serve as run
    from thaisign.tsa.server import build_tsa_asgi, build_tsa_service
    from thaisign.tsa.setup import CONFIG_FILE, TsaConfig

    if not (directory / CONFIG_FILE).exists():
        raise CANotFoundError(
            f"{directory} is not a thaisign TSA folder (no {CONFIG_FILE})",
            hint="create one with 'thaisign tsa init'",
        )
    config = TsaConfig.load(directory / CONFIG_FILE)
    passphrase = pin = None
    if config.key_uri is not None:
        pin = resolve_secret(file=pin_file, env=PIN_ENV, prompt="Token PIN")
    else:
        passphrase = resolve_secret(file=passphrase_file, env=PASSPHRASE_ENV, prompt="TSA key passphrase")
    # Built here first to fail fast (wrong passphrase, missing files); workers are spawned
    # processes that build their own (database connections and token sessions are per process).
    first = build_tsa_service(directory, passphrase, pin)
    if workers > 1:
        first.close()

    def ready(url: str) -> None:
        click.echo(f"thaisign: TSA {directory} serving on {url}/tsa ({workers} worker(s))", err=True)

    factory = functools.partial(build_tsa_asgi, str(directory), passphrase, pin)
    run(
        (lambda: first.asgi) if workers == 1 else factory,
        host=host,
        port=port,
        workers=workers,
        on_ready=ready,
    )
