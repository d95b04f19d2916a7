"""``thaisign platform``: many agency CAs in one deployment (a thin layer over thaisign.platform).

Who acts is the credential's operator: ``--token-file`` (or ``THAISIGN_PLATFORM_TOKEN``), or an
OpenID access token with ``--oidc-token-file`` (or ``THAISIGN_OIDC_TOKEN``). Commands that sign
also need the platform's CA passphrase (``THAISIGN_CA_PASSPHRASE`` / ``--passphrase-file``) or the
token PIN (``THAISIGN_PIN`` / ``--pin-file``) — never on the command line. Sub-commands:
:mod:`.platform_agencies` (agency, operator, token) and :mod:`.platform_officers` (issue, revoke,
list, show, crl, audit, figures).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import click

from thaisign._cli._options import secret_file_option
from thaisign._cli._platform_common import (
    KEYS,
    Run,
    credentials,
    dir_arg,
    dumps,
    json_option,
    passphrase_file_option,
    pin_file_option,
    visible,
)
from thaisign._fs import atomic_write, read_input
from thaisign._secrets import CA_PASSPHRASE_ENV, PASSPHRASE_ENV, PIN_ENV, resolve_secret
from thaisign.errors import OutputError, UsageError


@click.group()
def platform() -> None:
    """One platform for many agencies: agency CAs, operators, one OCSP/CRL/TSA front, figures.

    \b
    Example:
      export THAISIGN_CA_PASSPHRASE=... THAISIGN_PASSPHRASE=...
      thaisign platform init /srv/korat-pki --name-th "จังหวัดนครราชสีมา" \\
        --base-url http://pki.korat.go.th --db postgresql+psycopg://pki@db/pki \\
        --admin-name "นางสุดา ผู้ดูแลระบบ" --admin-token-file admin.token
      thaisign platform agency create /srv/korat-pki dla --name-th "กรมส่งเสริมการปกครองท้องถิ่น" \\
        --token-file admin.token
    """


# --- init -------------------------------------------------------------------------------------------


@platform.command()
@dir_arg
@click.option(
    "--name-th", required=True, help="The province's or the national platform's Thai name (issuing CA)."
)
@click.option("--name-en", help="Its English name.")
@click.option(
    "--level", type=click.Choice(["provincial", "national"]), default="provincial", show_default=True
)
@click.option(
    "--base-url", required=True, help="Where 'platform serve-status' is reached, e.g. http://pki.korat.go.th."
)
@click.option(
    "--db", help="SQLAlchemy URL of the platform database (default: SQLite DIR/platform.db, a trial)."
)
@click.option(
    "--key", "key_type", type=KEYS, default="ec-p384", show_default=True, help="Issuing CA key type."
)
@click.option("--hsm", help="Make the issuing CA key in this token (pkcs11:token=...).")
@click.option(
    "--key-uri", help="Use this existing token key for the issuing CA (pkcs11:token=...;object=...)."
)
@click.option("--pkcs11-module", help="PKCS#11 module for --hsm / --key-uri.")
@click.option("--valid-years", type=click.IntRange(1, 30), default=20, show_default=True)
@click.option("--policy-oid", help="The issuing CA's policy OID (default: a new 2.25.<uuid>).")
@click.option(
    "--agency-key", type=KEYS, default="ec-p384", show_default=True, help="Default agency CA key type."
)
@click.option(
    "--csr-only", is_flag=True, help="Write DIR/issuing-ca.csr for the national root instead of self-signing."
)
@click.option("--admin-name", required=True, help="The first platform administrator's name.")
@click.option(
    "--admin-token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the administrator's API token here (mode 0600).",
)
@click.option(
    "--admin-oidc-subject", help="Or: the administrator logs in with OpenID Connect as this subject."
)
@click.option("--oidc-issuer", help="The OpenID provider operators log in with (e.g. ThaiD).")
@click.option("--oidc-audience", help="The audience (resource) of this platform's access tokens.")
@click.option(
    "--oidc-client-id", help="The figures page's OpenID client (its secret: THAISIGN_OIDC_CLIENT_SECRET)."
)
@click.option("--public-url", help="Where 'platform serve' is reached (for the page's login).")
@click.option(
    "--signing-service",
    "signing_services",
    multiple=True,
    help="NAME=DB_URL of a signing service whose signatures the figures count (repeatable).",
)
@passphrase_file_option
@secret_file_option(
    "--service-passphrase-file", "the passphrase of the status services' keys", PASSPHRASE_ENV
)
@pin_file_option
@json_option
def init(
    directory: Path,
    name_th: str,
    name_en: str | None,
    level: str,
    base_url: str,
    db: str | None,
    key_type: str,
    hsm: str | None,
    key_uri: str | None,
    pkcs11_module: str | None,
    valid_years: int,
    policy_oid: str | None,
    agency_key: str,
    csr_only: bool,
    admin_name: str,
    admin_token_file: Path | None,
    admin_oidc_subject: str | None,
    oidc_issuer: str | None,
    oidc_audience: str | None,
    oidc_client_id: str | None,
    public_url: str | None,
    signing_services: tuple[str, ...],
    passphrase_file: Path | None,
    service_passphrase_file: Path | None,
    pin_file: Path | None,
    as_json: bool,
) -> None:
    """Create a platform: its folder, database, issuing CA and first administrator.

    The issuing CA (provincial or national) signs every agency CA; self-signed here for a trial,
    or with --csr-only a request for the national root (then 'platform install-cert').

    \b
    Example:
      export THAISIGN_CA_PASSPHRASE='...'    # protects the CA keys kept in DIR/keys
      export THAISIGN_PASSPHRASE='...'       # protects the OCSP responder and TSA keys
      thaisign platform init /srv/korat-pki --name-th "จังหวัดนครราชสีมา" \\
        --base-url http://pki.korat.go.th --db postgresql+psycopg://pki@db.korat.go.th/pki \\
        --admin-name "นางสุดา ผู้ดูแลระบบ" --admin-token-file ~/admin.token
    """
    from thaisign.platform import Platform
    from thaisign.platform.config import SigningServiceSource
    from thaisign.service.config import OidcSettings

    if (admin_token_file is None) == (admin_oidc_subject is None):
        raise UsageError("give --admin-token-file FILE or --admin-oidc-subject SUB (one of them)")
    if admin_token_file is not None and admin_token_file.exists():
        raise OutputError(
            f"{admin_token_file} exists already", hint="choose a new file; thaisign never overwrites it"
        )
    if hsm and key_uri:
        raise UsageError("give --hsm or --key-uri, not both")
    if (oidc_issuer is None) != (oidc_audience is None):
        raise UsageError("--oidc-issuer and --oidc-audience go together")
    sources = []
    for item in signing_services:
        name, sep, url = item.partition("=")
        if not sep or not name or not url:
            raise UsageError(f"--signing-service {item.split('=')[0]!r}...: give NAME=DB_URL")
        sources.append(SigningServiceSource(name, url))
    passphrase = None
    pin = None
    if hsm is None and key_uri is None:
        passphrase = resolve_secret(
            file=passphrase_file, env=CA_PASSPHRASE_ENV, prompt="New platform CA passphrase", new=True
        )
    else:
        pin = resolve_secret(file=pin_file, env=PIN_ENV, prompt="Token PIN", required=False)
        passphrase = resolve_secret(
            file=passphrase_file, env=CA_PASSPHRASE_ENV, prompt="New platform CA passphrase", required=False
        )
    service = resolve_secret(
        file=service_passphrase_file,
        env=PASSPHRASE_ENV,
        prompt="New passphrase for the OCSP responder and TSA keys",
        flag="--service-passphrase-file",
        new=True,
    )
    oidc = OidcSettings(issuer=oidc_issuer, audience=oidc_audience) if oidc_issuer and oidc_audience else None
    p, token = Platform.init(
        directory,
        name_th=name_th,
        name_en=name_en,
        level=level,
        base_url=base_url,
        db=db,
        key=key_type,
        hsm=hsm,
        key_uri=key_uri,
        pin=pin,
        pkcs11_module=pkcs11_module,
        valid_years=valid_years,
        policy_oid=policy_oid,
        agency_key=agency_key,
        csr_only=csr_only,
        passphrase=passphrase,
        service_passphrase=service or "",
        admin_name=admin_name,
        admin_oidc_subject=admin_oidc_subject,
        oidc=oidc,
        oidc_client_id=oidc_client_id,
        public_url=public_url,
        signing_services=tuple(sources),
    )
    with p:
        if token is not None and admin_token_file is not None:
            atomic_write(admin_token_file, (token + "\n").encode("ascii"), mode=0o600)
        base = p.config.base_url
        summary = {
            "directory": str(directory),
            "database": p.db.url.split("@")[-1],
            "issuing_ca": str(directory / "issuing-ca.pem") if not csr_only else None,
            "csr": str(directory / "issuing-ca.csr") if csr_only else None,
            "ocsp": f"{base}/ocsp",
            "tsa": f"{base}/tsa",
            "admin_token_file": str(admin_token_file) if admin_token_file else None,
        }
    if as_json:
        click.echo(dumps(summary))
        return
    click.echo(f"platform {visible(name_th)} created in {directory}")
    if csr_only:
        click.echo(
            f"  send {summary['csr']} to the national root CA, then: "
            f"thaisign platform install-cert {directory} CERT.pem"
        )
    else:
        click.echo(f"  issuing CA certificate: {summary['issuing_ca']}")
    click.echo(f"  OCSP for every agency: {summary['ocsp']}   TSA: {summary['tsa']}")
    click.echo(f"  CRLs: {base}/a/<agency>/crl/ca.crl   (serve them with 'thaisign platform serve-status')")
    if admin_token_file:
        click.echo(f"  administrator's API token: {admin_token_file} (keep it private)")


@platform.command("install-cert")
@dir_arg
@click.argument("cert_file", metavar="CERT.pem", type=click.Path(dir_okay=False))
@click.option(
    "--chain", "chain_file", type=click.Path(dir_okay=False), help="The certificates above it (PEM)."
)
@credentials(signing=True)
def install_cert(
    directory: Path,
    cert_file: str,
    chain_file: str | None,
    token_file: Path | None,
    oidc_token_file: Path | None,
    passphrase_file: Path | None,
    pin_file: Path | None,
) -> None:
    """Install the issuing CA's certificate from the national root (platforms made with --csr-only).

    \b
    Example:
      thaisign platform install-cert /srv/korat-pki korat-issuing.pem --chain nrca.pem \\
        --token-file admin.token
    """
    cert_data = read_input(cert_file, "certificate")
    chain_data = read_input(chain_file, "chain") if chain_file else None
    with Run(directory, token_file, oidc_token_file, passphrase_file, pin_file) as s:
        cert = s.install_issuing_certificate(cert_data, chain_data)
    click.echo(f"issuing CA certificate installed, valid until {cert.not_valid_after_utc:%Y-%m-%d}")


# --- services ----------------------------------------------------------------------------------------------


@platform.command("serve-status")
@click.argument(
    "directory", metavar="[DIR]", required=False, type=click.Path(path_type=Path, file_okay=False)
)
@click.option("--db", help="The platform database URL (instead of DIR; else $THAISIGN_PLATFORM_DB).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--next-update",
    "next_update_minutes",
    default=60,
    show_default=True,
    type=click.IntRange(1, 10080),
    help="OCSP validity, minutes.",
)
@click.option("--no-tsa", is_flag=True, help="Do not serve the time-stamping authority here.")
@secret_file_option("--passphrase-file", "the status services' key passphrase", PASSPHRASE_ENV)
def serve_status(
    directory: Path | None,
    db: str | None,
    host: str,
    port: int,
    workers: int,
    next_update_minutes: int,
    no_tsa: bool,
    passphrase_file: Path | None,
) -> None:
    """Serve OCSP, CRLs, CA certificates and the TSA for every CA of the platform (a replica).

    Start as many replicas as you need, on any machines, against the same database: a replica
    needs the database URL and the service passphrase only. Paths: POST /ocsp, GET /ocsp/<b64>,
    GET /a/<agency>/crl/ca.crl, /a/<agency>/ca.cer, /issuing/crl/ca.crl, /issuing/ca.cer,
    POST /tsa, GET /health. Answers come from the audit chains (checked entry by entry); a
    revocation reaches every replica within a fraction of a second.

    \b
    Example:
      export THAISIGN_PASSPHRASE=...   THAISIGN_PLATFORM_DB=postgresql+psycopg://pki@db/pki
      thaisign platform serve-status --host 0.0.0.0 --port 8080 --workers 2
    \b
    Check it with OpenSSL:
      openssl ocsp -issuer dla-ca.pem -cert somchai.pem -url http://pki.korat.go.th/ocsp \\
        -CAfile issuing-ca.pem -verify_other dla-ca.pem
    """
    import functools

    from thaisign.platform.config import DB_ENV, PlatformConfig
    from thaisign.platform.status import StatusConfig, build_status_app, build_status_asgi
    from thaisign.serving import serve as run

    url = db or os.environ.get(DB_ENV)
    if url is None:
        if directory is None:
            raise UsageError("give the platform folder DIR, or --db URL")
        url = PlatformConfig.load(directory).database_url()
    secret = (
        resolve_secret(file=passphrase_file, env=PASSPHRASE_ENV, prompt="Status services' key passphrase")
        or ""
    )
    config = StatusConfig(
        url, secret, ocsp_validity=dt.timedelta(minutes=next_update_minutes), tsa=not no_tsa
    )
    first = build_status_app(config)  # fail fast: wrong passphrase, no platform in that database
    if workers > 1:
        first.close()

    def ready(where: str) -> None:
        click.echo(f"thaisign: platform status service on {where} ({workers} worker(s))", err=True)
        for note in first.notes:
            click.echo(f"thaisign: {visible(note, 400)}", err=True)

    run(
        (lambda: first.asgi) if workers == 1 else functools.partial(build_status_asgi, config),
        host=host,
        port=port,
        workers=workers,
        on_ready=ready,
    )


@platform.command("serve")
@dir_arg
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8443, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@passphrase_file_option
@pin_file_option
@secret_file_option("--client-secret-file", "the page's OpenID client secret", "THAISIGN_OIDC_CLIENT_SECRET")
def serve(
    directory: Path,
    host: str,
    port: int,
    workers: int,
    passphrase_file: Path | None,
    pin_file: Path | None,
    client_secret_file: Path | None,
) -> None:
    """Serve the operators' API and the figures page (it holds the CA keys: keep it inside).

    API: /api/v1/... with 'Authorization: Bearer' (a platform API token or an OpenID access
    token); the page at / logs in with the OpenID provider or an API token. Put a TLS reverse
    proxy in front and set public_url in platform.toml.

    \b
    Example:
      export THAISIGN_CA_PASSPHRASE=... THAISIGN_OIDC_CLIENT_SECRET=...
      thaisign platform serve /srv/korat-pki --port 8443 --workers 2
      curl -H "Authorization: Bearer $(cat dla.token)" http://127.0.0.1:8443/api/v1/agencies/dla/certificates
    """
    import functools

    from thaisign.platform.web import WebConfig
    from thaisign.platform.web_app import build_web_asgi, create_app
    from thaisign.serving import serve as run

    passphrase = (
        resolve_secret(
            file=passphrase_file, env=CA_PASSPHRASE_ENV, prompt="Platform CA passphrase", required=False
        )
        if passphrase_file or os.environ.get(CA_PASSPHRASE_ENV)
        else None
    )
    pin = (
        resolve_secret(file=pin_file, env=PIN_ENV, prompt="Token PIN", required=False)
        if pin_file or os.environ.get(PIN_ENV)
        else None
    )
    client_secret = (
        resolve_secret(
            file=client_secret_file,
            env="THAISIGN_OIDC_CLIENT_SECRET",
            prompt="OpenID client secret",
            flag="--client-secret-file",
            required=False,
        )
        if client_secret_file or os.environ.get("THAISIGN_OIDC_CLIENT_SECRET")
        else None
    )
    config = WebConfig(directory, passphrase=passphrase, pin=pin, client_secret=client_secret)
    first = create_app(config)  # fail fast: no platform there, a wrong passphrase shows at first use
    if workers > 1:
        first.state.web.platform.close()

    def ready(where: str) -> None:
        click.echo(f"thaisign: platform API and figures page on {where} ({workers} worker(s))", err=True)

    run(
        (lambda: first) if workers == 1 else functools.partial(build_web_asgi, config),
        host=host,
        port=port,
        workers=workers,
        on_ready=ready,
    )


def _register() -> None:
    from thaisign._cli import platform_agencies as agencies
    from thaisign._cli import platform_officers as officers

    commands: list[click.Command] = [agencies.agency, agencies.operator, agencies.token]
    commands += [officers.issue, officers.revoke, officers.list_, officers.show, officers.crl]
    commands += [officers.audit, officers.figures]
    for command in commands:
        platform.add_command(command)


_register()
