"""``thaisign service``: the remote signing service (CSC API) — create, serve, and the operator's steps."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from thaisign._cli._options import secret_file_option
from thaisign._secrets import CA_PASSPHRASE_ENV, PIN_ENV, resolve_secret
from thaisign.errors import ServiceError


class _ServiceGroup(click.Group):
    """``thaisign service DIR ...`` is ``thaisign service serve DIR ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["serve", *args]
        return super().parse_args(ctx, args)


def _operator_name() -> str:
    import getpass
    import os

    name = os.environ.get("THAISIGN_OPERATOR")
    if not name:
        try:
            name = getpass.getuser()
        except Exception:
            name = f"uid {os.getuid()}"
    return f"cli:{name}"


@contextlib.contextmanager
def _opened(
    directory: Path,
    *,
    pin: str | None = None,
    with_ca_key: bool = False,
    ca_passphrase_file: Path | None = None,
) -> Iterator[Any]:
    """The service of a folder, closed afterwards; refusals become one-line errors. ``with_ca_key``
    asks for the CA passphrase (unless the CA key is in the token, which the token PIN opens)."""
    from thaisign.service.config import ServiceConfig
    from thaisign.service.core import CscService
    from thaisign.service.setup import ca_key_in_token

    config = ServiceConfig.load(directory)
    passphrase = ca_pin = None
    if with_ca_key and ca_key_in_token(config):
        ca_pin = pin
    elif with_ca_key:
        passphrase = resolve_secret(
            file=ca_passphrase_file, env=CA_PASSPHRASE_ENV, prompt="CA key passphrase"
        )
    from thaisign.service.model import CscError

    svc = CscService.open(config, pin=pin, ca_passphrase=passphrase, ca_pin=ca_pin)
    try:
        yield svc
    except CscError as exc:  # a refusal from the service core: one line
        raise ServiceError(exc.description) from None
    finally:
        svc.close()


@click.group(cls=_ServiceGroup)
def service() -> None:
    """Remote signing service (CSC API): officer keys in the HSM, logins through OpenID Connect.

    \b
    Example:
      thaisign service init ./sign --name "กรมตัวอย่าง" --ca ./ca --token-uri 'pkcs11:token=Agency' \\
          --issuer https://imauth.bora.dopa.go.th --audience https://sign.example.go.th --factor totp
      export THAISIGN_PIN=...                 # the token PIN (or --pin-file)
      thaisign service ./sign --port 8443 --workers 2
      thaisign service requests ./sign        # then: thaisign service approve ./sign r-...
    """


@service.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", required=True, help="Service name shown to officers, e.g. the agency's Thai name.")
@click.option("--ca", "ca_dir", required=True, type=click.Path(file_okay=False), help="Agency CA folder.")
@click.option("--token-uri", required=True, help="PKCS#11 token for officer keys, e.g. pkcs11:token=Agency.")
@click.option("--pkcs11-module", "module", metavar="PATH", help="PKCS#11 module (.so).")
@click.option(
    "--key",
    default="ec-p256",
    show_default=True,
    type=click.Choice(["ec-p256", "ec-p384", "rsa-2048", "rsa-3072"]),
)
@click.option("--issuer", required=True, help="OpenID provider issuer URL (ThaiD or the agency's).")
@click.option("--audience", required=True, help="The audience (resource indicator) tokens must carry.")
@click.option("--jwks-uri", help="The provider's JWKS URL, if not on the issuer's host.")
@click.option("--scope", "required_scope", help="A scope tokens must carry, e.g. csc.")
@click.option(
    "--operator", "operators", multiple=True, metavar="SUB", help="An operator's subject (repeatable)."
)
@click.option(
    "--operator-role", default="thaisign-operator", show_default=True, help="Role claim value of operators."
)
@click.option(
    "--backend-client",
    "backends",
    multiple=True,
    metavar="CLIENT_ID",
    help="Back end allowed to act for officers.",
)
@click.option(
    "--factor",
    type=click.Choice(["totp", "pin"]),
    default="totp",
    show_default=True,
    help="Second factor for a SAD.",
)
@click.option(
    "--max-failures",
    type=click.IntRange(1, 20),
    default=5,
    show_default=True,
    help="Wrong tries before lock-out.",
)
@click.option(
    "--sad-seconds", type=click.IntRange(10, 3600), default=300, show_default=True, help="SAD lifetime."
)
@click.option(
    "--leeway",
    type=click.IntRange(0, 300),
    default=30,
    show_default=True,
    help="Clock leeway for tokens (s).",
)
@click.option("--db", help="SQLAlchemy URL (PostgreSQL for replicas); default DIR/service.db.")
@click.option("--tsa", metavar="URL", help="RFC 3161 TSA for B-T and above.")
@click.option(
    "--level",
    type=click.Choice(["B-B", "B-T", "B-LT", "B-LTA"]),
    default="B-B",
    show_default=True,
    help="Default signDoc level.",
)
@click.option(
    "--max-batch", type=click.IntRange(1, 1000), default=100, show_default=True, help="Hashes per SAD."
)
@click.option("--public-url", metavar="URL", help="The URL clients use (behind the TLS proxy).")
def init(directory: Path, **o: Any) -> None:
    """Create a service folder (service.toml, secret.key, database tables).

    \b
    Example (PostgreSQL for several replicas):
      thaisign service init ./sign --name "กรมตัวอย่าง" --ca ./ca --token-uri 'pkcs11:token=Agency' \\
          --issuer https://op.example.go.th --audience https://sign.example.go.th \\
          --backend-client eoffice --db postgresql+psycopg://sign@db/sign --factor pin
    """
    from thaisign.service.config import AuthSettings, OidcSettings
    from thaisign.service.setup import init_service

    config = init_service(
        directory,
        name=o["name"],
        token_uri=o["token_uri"],
        pkcs11_module=o["module"],
        key=o["key"],
        ca_dir=str(Path(o["ca_dir"]).resolve()),
        oidc=OidcSettings(
            issuer=o["issuer"],
            audience=o["audience"],
            jwks_uri=o["jwks_uri"],
            required_scope=o["required_scope"],
            operators=tuple(o["operators"]),
            operator_role=o["operator_role"],
            backend_clients=tuple(o["backends"]),
            leeway_seconds=o["leeway"],
        ),
        auth=AuthSettings(factor=o["factor"], max_failures=o["max_failures"], sad_seconds=o["sad_seconds"]),
        db=o["db"],
        tsa=o["tsa"],
        default_level=o["level"],
        max_batch=o["max_batch"],
        public_url=o["public_url"],
    )
    click.echo(
        f"thaisign: created the signing service {config.directory} ({config.auth.factor}, {config.key})",
        err=True,
    )


@service.command("serve")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (put TLS in front)."
)
@click.option("--port", default=8443, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option(
    "--with-ca-key", is_flag=True, help="Hold the CA key, so operators can approve through the API."
)
@secret_file_option("--pin-file", "the token PIN", PIN_ENV)
@secret_file_option("--ca-passphrase-file", "the CA key passphrase (with --with-ca-key)", CA_PASSPHRASE_ENV)
def serve(
    directory: Path,
    host: str,
    port: int,
    workers: int,
    with_ca_key: bool,
    pin_file: Path | None,
    ca_passphrase_file: Path | None,
) -> None:
    """Serve the CSC API (/csc/v1, /csc/v2), enrollment and /openapi.json.

    Replicas share the database (PostgreSQL) and the token; start as many as needed.

    \b
    Example:
      export THAISIGN_PIN=...
      thaisign service ./sign --port 8443 --workers 2
      curl -s -X POST http://127.0.0.1:8443/csc/v1/info
    """
    from thaisign.service.config import ServiceConfig
    from thaisign.service.setup import ca_key_in_token
    from thaisign.service.setup import serve as run

    config = ServiceConfig.load(directory)  # a wrong folder fails before any secret is asked for
    pin = resolve_secret(file=pin_file, env=PIN_ENV, prompt="Token PIN")
    ca_passphrase = None
    if with_ca_key and not ca_key_in_token(config):
        ca_passphrase = resolve_secret(
            file=ca_passphrase_file, env=CA_PASSPHRASE_ENV, prompt="CA key passphrase"
        )

    def ready(url: str) -> None:
        click.echo(
            f"thaisign: serving the signing service {directory} on {url} ({workers} worker(s))", err=True
        )

    run(
        directory,
        host=host,
        port=port,
        workers=workers,
        pin=pin,
        with_ca_key=with_ca_key,
        ca_passphrase=ca_passphrase,
        on_ready=ready,
    )


@service.command("requests")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--status", type=click.Choice(["pending", "approved", "rejected"]), help="Only these.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def requests_(directory: Path, status: str | None, as_json: bool) -> None:
    """List enrollment requests.

    \b
    Example:
      thaisign service requests ./sign --status pending
    """
    from thaisign.service.enroll import list_enrollments

    with _opened(directory) as svc:
        rows = list_enrollments(svc, None, status)
    if as_json:
        click.echo(json.dumps({"requests": [r.to_json() for r in rows]}, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(
            f"{r.id}  {r.status:9}  {r.requested_at:%Y-%m-%d %H:%M}  "
            f"{r.details.get('name_th', '')}  {r.details.get('position', '')}"
        )
    if not rows:
        click.echo("no requests", err=True)


@service.command("approve")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("request_id")
@secret_file_option("--pin-file", "the token PIN", PIN_ENV)
@secret_file_option("--ca-passphrase-file", "the CA key passphrase", CA_PASSPHRASE_ENV)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def approve(
    directory: Path, request_id: str, pin_file: Path | None, ca_passphrase_file: Path | None, as_json: bool
) -> None:
    """Approve a request: key made in the HSM, certificate issued by the agency CA.

    \b
    Example:
      export THAISIGN_PIN=... THAISIGN_CA_PASSPHRASE=...
      thaisign service approve ./sign r-3f2a9c0d1e2b4a5c
    """
    from thaisign.service.config import ServiceConfig
    from thaisign.service.enroll import approve as do_approve

    ServiceConfig.load(directory)  # a wrong folder fails before any secret is asked for
    pin = resolve_secret(file=pin_file, env=PIN_ENV, prompt="Token PIN")
    with _opened(directory, pin=pin, with_ca_key=True, ca_passphrase_file=ca_passphrase_file) as svc:
        done = do_approve(svc, request_id, operator=_operator_name())
    if as_json:
        click.echo(
            json.dumps(
                {
                    "requestID": done.request_id,
                    "credentialID": done.credential_id,
                    "serialNumber": done.serial,
                }
            )
        )
    else:
        click.echo(f"approved {done.request_id}: credential {done.credential_id}, certificate {done.serial}")


@service.command("reject")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("request_id")
@click.option("--reason", required=True, help="Why (the officer sees it).")
def reject(directory: Path, request_id: str, reason: str) -> None:
    """Reject a request.

    \b
    Example:
      thaisign service reject ./sign r-3f2a9c0d1e2b4a5c --reason "ตำแหน่งไม่ตรงกับทะเบียน"
    """
    from thaisign.service.enroll import reject as do_reject

    with _opened(directory) as svc:
        do_reject(svc, request_id, operator=_operator_name(), reason=reason)
    click.echo(f"rejected {request_id}")


@service.command("credentials")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def credentials_(directory: Path, as_json: bool) -> None:
    """List credentials (officer keys and certificates).

    \b
    Example:
      thaisign service credentials ./sign --json
    """
    with _opened(directory) as svc:
        rows = svc.store.all_credentials()
    items = [
        {
            "credentialID": r.id,
            "subject": r.subject,
            "name": r.description,
            "serialNumber": r.serial,
            "key": r.key_spec,
            "status": r.status,
            "factor": r.factor,
            "failures": r.failures,
            "locked": r.locked_at is not None,
        }
        for r in rows
    ]
    if as_json:
        click.echo(json.dumps({"credentials": items}, ensure_ascii=False, indent=2))
        return
    for i in items:
        lock = "  LOCKED" if i["locked"] else ""
        click.echo(
            f"{i['credentialID']}  {i['status']:8}  {i['key']}  {i['factor']}  "
            f"{i['name']}  ({i['subject']}){lock}"
        )


@service.command("unlock")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("credential_id")
def unlock(directory: Path, credential_id: str) -> None:
    """Clear a lock-out after wrong PINs or one-time codes.

    \b
    Example:
      thaisign service unlock ./sign 5d0c1e2f3a4b5c6d
    """
    from thaisign.service.enroll import unlock as do_unlock

    with _opened(directory) as svc:
        do_unlock(svc, credential_id, operator=_operator_name())
    click.echo(f"unlocked {credential_id}")


@service.command("disable")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("credential_id")
@click.option("--enable", is_flag=True, help="Enable it again instead.")
def disable(directory: Path, credential_id: str, enable: bool) -> None:
    """Stop a credential from signing at once (officer left, key suspected); --enable undoes it.

    Revoke the certificate too if the key may be compromised: thaisign ca revoke CA_DIR SERIAL.

    \b
    Example:
      thaisign service disable ./sign 5d0c1e2f3a4b5c6d
    """
    from thaisign.service.enroll import set_status

    with _opened(directory) as svc:
        set_status(svc, credential_id, "active" if enable else "disabled", operator=_operator_name())
    click.echo(f"{'enabled' if enable else 'disabled'} {credential_id}")


@service.command("audit")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--verify", is_flag=True, help="Check the hash chain; exit 1 if it is broken.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def audit(directory: Path, verify: bool, as_json: bool) -> None:
    """Show the service's audit log (every SAD, signature, refusal and enrollment step).

    \b
    Example:
      thaisign service audit ./sign --verify
    """
    from thaisign.errors import AuditChainError

    with _opened(directory) as svc:
        if verify:
            try:
                result = svc.store.verify_audit()
            except AuditChainError as exc:
                click.echo(f"thaisign: audit chain BROKEN: {exc.message}", err=True)
                sys.exit(1)
            click.echo(f"audit chain intact: {result.entries} entries, head {result.head}")
            return
        entries = svc.store.audit_entries()
    if as_json:
        click.echo(json.dumps({"entries": [e.to_json() for e in entries]}, ensure_ascii=False, indent=2))
        return
    for e in entries:
        who = e.details.get("officer") or e.details.get("operator") or ""
        click.echo(f"{e.seq:6}  {e.time}  {e.action:20} {e.serial or '-':34} {who}")
