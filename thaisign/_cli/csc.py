"""``thaisign csc``: an officer (or a back end) talking to a remote signing service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from thaisign._cli._options import secret_file_option
from thaisign._secrets import resolve_secret

TOKEN_ENV = "THAISIGN_CSC_TOKEN"
PIN_ENV = "THAISIGN_CSC_PIN"


def _client(url: str, token_file: Path | None) -> Any:
    from thaisign.csc_client import CscClient

    return CscClient(url, resolve_secret(file=token_file, env=TOKEN_ENV, prompt="Access token"))


@click.group()
def csc() -> None:
    """Use a remote signing service (CSC API): ask for a certificate, list credentials.

    The access token (from the agency's OpenID provider, e.g. ThaiD) comes from
    $THAISIGN_CSC_TOKEN or --token-file, never from the command line.

    \b
    Example:
      export THAISIGN_CSC_TOKEN=...
      thaisign csc enroll https://sign.example.go.th --name-th "นายสมชาย ใจดี" --position "นักวิชาการ"
      thaisign csc status https://sign.example.go.th r-3f2a9c0d1e2b4a5c
      thaisign sign letter.pdf -o signed.pdf --csc https://sign.example.go.th
    """


@csc.command("enroll")
@click.argument("url")
@click.option("--name-th", required=True, help="Full name in Thai, as in the certificate.")
@click.option("--position", required=True, help="Position (ตำแหน่ง).")
@click.option("--name-en", help="Name in English.")
@click.option("--given-name", help="Given name.")
@click.option("--surname", help="Surname.")
@click.option("--ou", help="Division (OU).")
@click.option("--email", help="Email address.")
@click.option("--employee-id", help="Employee number (never the citizen ID).")
@click.option("--with-pin", is_flag=True, help="The agency signs with a PIN: choose it now (prompt or file).")
@secret_file_option("--pin-file", "the new signing PIN (with --with-pin)", PIN_ENV)
@secret_file_option("--token-file", "the access token", TOKEN_ENV)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def enroll(
    url: str, with_pin: bool, pin_file: Path | None, token_file: Path | None, as_json: bool, **officer: Any
) -> None:
    """Ask the agency for a signing certificate; an operator approves it.

    \b
    Example:
      thaisign csc enroll https://sign.example.go.th --name-th "นางสาวสมศรี รักงาน" \\
          --position "ผู้อำนวยการกองกลาง" --employee-id E1002 --with-pin
    """
    client = _client(url, token_file)
    pin = None
    if with_pin or pin_file is not None:
        pin = resolve_secret(file=pin_file, env=PIN_ENV, prompt="New signing PIN", confirm=True)
    fields = {k: v for k, v in officer.items() if v is not None}
    made = client.enroll(fields, pin)
    if as_json:
        click.echo(json.dumps(made, ensure_ascii=False, indent=2))
    else:
        click.echo(
            f"request {made.get('requestID')} is {made.get('status')}: the agency operator will decide"
        )


@csc.command("status")
@click.argument("url")
@click.argument("request_id")
@secret_file_option("--token-file", "the access token", TOKEN_ENV)
@click.option("--json", "as_json", is_flag=True, help="JSON output (carries the otpauth URI once).")
def status(url: str, request_id: str, token_file: Path | None, as_json: bool) -> None:
    """Where a request stands. After approval, a TOTP agency hands out the authenticator QR code once.

    \b
    Example:
      thaisign csc status https://sign.example.go.th r-3f2a9c0d1e2b4a5c
    """
    found = _client(url, token_file).enrollment(request_id)
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    click.echo(f"request {found.get('requestID')}: {found.get('status')}")
    if found.get("credentialID"):
        click.echo(f"credential {found['credentialID']}")
    if found.get("reason"):
        click.echo(f"reason: {found['reason']}")
    uri = found.get("otpauth")
    if isinstance(uri, str) and uri.startswith("otpauth://"):
        import qrcode

        click.echo("scan this with the authenticator app now — it is shown only once:")
        code = qrcode.QRCode(border=1)
        code.add_data(uri)
        code.print_ascii(invert=True)


@csc.command("credentials")
@click.argument("url")
@click.option("--user-id", help="The officer (a back end with client credentials only).")
@secret_file_option("--token-file", "the access token", TOKEN_ENV)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def credentials(url: str, user_id: str | None, token_file: Path | None, as_json: bool) -> None:
    """List the credentials you may sign with, with their certificates' status.

    \b
    Example:
      thaisign csc credentials https://sign.example.go.th
    """
    client = _client(url, token_file)
    rows = []
    for cid in client.credentials(user_id):
        info = client.credential_info(cid)
        cert = info.get("cert", {})
        rows.append(
            {
                "credentialID": cid,
                "status": cert.get("status"),
                "subject": cert.get("subjectDN"),
                "validTo": cert.get("validTo"),
            }
        )
    if as_json:
        click.echo(json.dumps({"credentials": rows}, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r['credentialID']}  {r['status']}  until {r['validTo']}  {r['subject']}")
    if not rows:
        click.echo("no credentials yet", err=True)
