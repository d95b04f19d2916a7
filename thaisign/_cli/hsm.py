"""``thaisign hsm``: list tokens and keys, make keys and CSRs inside a token, store certificates there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from thaisign import hsm as _hsm
from thaisign._fs import atomic_write
from thaisign.errors import OutputError
from thaisign.keys import load_certificates_file

_MODULE_HELP = "PKCS#11 module (.so); default: the URI's module-path or THAISIGN_PKCS11_MODULE."
_PIN_FILE_HELP = (
    "File whose first line is the token PIN (else THAISIGN_PIN, the URI's pin-source, or a prompt)."
)


def _module_option(f: Any) -> Any:
    return click.option("--pkcs11-module", "module", metavar="PATH", help=_MODULE_HELP)(f)


def _pin_file_option(f: Any) -> Any:
    return click.option("--pin-file", type=click.Path(dir_okay=False, path_type=Path), help=_PIN_FILE_HELP)(f)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group()
def hsm() -> None:
    """Keys in PKCS#11 tokens and HSMs (SoftHSM2, USB tokens, network HSMs).

    \b
    A key is named by an RFC 7512 URI, e.g.
      pkcs11:token=กรมส่งเสริมการปกครองท้องถิ่น;object=somchai
    The PIN comes from --pin-file, THAISIGN_PIN, the URI's pin-source, or a prompt.

    \b
    Example:
      export THAISIGN_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
      thaisign hsm list
      thaisign hsm keygen 'pkcs11:token=Agency;object=somchai' --key ec-p256
    """


@hsm.command("list")
@click.argument("uri", required=False)
@_module_option
@_pin_file_option
@click.option("--login", is_flag=True, help="Log in (ask for the PIN) to list private keys too.")
@click.option("--mechanisms", is_flag=True, help="Also list each slot's mechanisms.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(
    uri: str | None, module: str | None, pin_file: Path | None, login: bool, mechanisms: bool, as_json: bool
) -> None:
    """List slots, tokens, and the keys and certificates on them, with their URIs.

    Private keys are listed when a PIN is available (--login, --pin-file or THAISIGN_PIN).
    Give a URI (pkcs11:token=...) to list one token only; with object=/id= only those objects.

    \b
    Example:
      thaisign hsm list --pkcs11-module /usr/lib/softhsm/libsofthsm2.so
      THAISIGN_PIN=... thaisign hsm list 'pkcs11:token=Agency' --json
    """
    parsed = _hsm.Pkcs11Uri.parse(uri) if uri else _hsm.Pkcs11Uri()
    slots = _hsm.list_slots(module=module, uri=parsed, mechanisms=mechanisms)
    if parsed.token or parsed.serial:
        wanted = _hsm.find_token_info(parsed, module=module)
        slots = [s for s in slots if s.token is not None and s.token.serial == wanted.serial]
    listing = []
    for slot in slots:
        objects: list[_hsm.ObjectInfo] = []
        logged = False
        if slot.token is not None:
            token_uri = slot.token.uri.replace(module_path=parsed.module_path, module_name=parsed.module_name)
            pin = _hsm.resolve_pin(
                token_uri.replace(pin_source=parsed.pin_source), pin_file=pin_file, required=login
            )
            objects = [
                o
                for o in _hsm.list_objects(token_uri, pin=pin, module=module)
                if (parsed.object is None or o.label == parsed.object)
                and (parsed.id is None or o.id == parsed.id)
            ]
            logged = pin is not None
        listing.append((slot, objects, logged))
    if as_json:
        slots_json = []
        for slot, objs, logged in listing:
            entry = slot.as_dict()
            if entry["token"] is not None:
                entry["token"] = {
                    **entry["token"],
                    "logged_in": logged,
                    "objects": [o.as_dict() for o in objs],
                }
            slots_json.append(entry)
        _echo_json({"slots": slots_json, "tokens": [s["token"] for s in slots_json if s["token"]]})
        return
    if not listing:
        click.echo("the module has no slots")
    for slot, objects, logged in listing:
        click.echo(f"slot {slot.slot_id}: {slot.description}")
        if slot.mechanisms:
            click.echo(f"  mechanisms: {', '.join(slot.mechanisms)}")
        token = slot.token
        if token is None:
            click.echo("  (no initialised token)" if slot.token_present else "  (empty)")
            continue
        click.echo(f"  token {token.label!r}  {token.manufacturer} {token.model}  serial {token.serial}")
        click.echo(f"  PIN: {token.pin_status}{'' if logged else ' (not logged in: private keys hidden)'}")
        click.echo(f"  {token.uri}")
        for o in objects:
            extra = o.key or ""
            if o.kind == "private-key":
                extra += " sensitive" if o.sensitive else " NOT sensitive"
                extra += "" if not o.extractable else " EXTRACTABLE"
            if o.subject:
                extra += f"  {o.subject}  until {o.not_after}"
            click.echo(f"    {o.kind:12} {o.label!r} id={o.id.hex() or '-'} {extra}")
            click.echo(f"                 {o.uri}")


@hsm.command("keygen")
@click.argument("uri")
@click.option(
    "--key",
    "key_type",
    type=click.Choice(list(_hsm.KEY_CHOICES)),
    default="ec-p256",
    show_default=True,
    help="Key type.",
)
@_module_option
@_pin_file_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def keygen_command(uri: str, key_type: str, module: str | None, pin_file: Path | None, as_json: bool) -> None:
    """Make a key pair inside the token (sensitive, never extractable, sign only).

    URI names the new key: object=<label>, optionally id=<bytes>.

    \b
    Example:
      thaisign hsm keygen 'pkcs11:token=Agency;object=somchai-2026' --key ec-p256 --pin-file pin.txt
    """
    parsed = _hsm.Pkcs11Uri.parse(uri)
    pin = _hsm.resolve_pin(parsed, pin_file=pin_file)
    made = _hsm.generate_key(parsed, key_type, pin=pin, module=module)
    if as_json:
        _echo_json(
            {
                "uri": str(made.uri),
                "key": str(made.key_spec),
                "id": made.uri.id.hex() if made.uri.id else None,
            }
        )
    else:
        click.echo(f"made {made.key_spec} key {made.uri}")


@hsm.command("csr")
@click.argument("uri")
@click.option("--name-th", required=True, help="Full name in Thai (CN), e.g. 'นายสมชาย ใจดี'.")
@click.option("--given-name", help="Given name.")
@click.option("--surname", help="Surname.")
@click.option("--position", help="Position (title), e.g. 'ผู้อำนวยการกอง'.")
@click.option("--org", "organization", help="Agency (O), e.g. 'กรมส่งเสริมการปกครองท้องถิ่น'.")
@click.option("--ou", help="Unit (OU).")
@click.option("--email", help="E-mail address (also requested as subjectAltName).")
@click.option("--employee-id", help="Employee or pseudonymous ID (serialNumber); never the citizen ID.")
@click.option(
    "--hash", "hash_name", type=click.Choice(["sha256", "sha384", "sha512"]), help="Hash (default: by key)."
)
@click.option(
    "-o", "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="CSR file."
)
@click.option("--der", is_flag=True, help="Write DER instead of PEM.")
@_module_option
@_pin_file_option
def csr_command(
    uri: str,
    name_th: str,
    given_name: str | None,
    surname: str | None,
    position: str | None,
    organization: str | None,
    ou: str | None,
    email: str | None,
    employee_id: str | None,
    hash_name: str | None,
    out: Path,
    der: bool,
    module: str | None,
    pin_file: Path | None,
) -> None:
    """Write a certificate request for a token key, signed inside the token.

    \b
    Example:
      thaisign hsm csr 'pkcs11:token=Agency;object=somchai-2026' \\
          --name-th 'นายสมชาย ใจดี' --position 'ผู้อำนวยการกอง' \\
          --org 'กรมส่งเสริมการปกครองท้องถิ่น' -o somchai.csr
    """
    from cryptography.hazmat.primitives import serialization

    if out.exists():
        raise OutputError(f"{out} exists already", hint="choose another -o file or remove it first")
    parsed = _hsm.Pkcs11Uri.parse(uri)
    pin = _hsm.resolve_pin(parsed, pin_file=pin_file)
    with _hsm.Pkcs11Signer.open(parsed, pin=pin, module=module) as signer:
        name = _hsm.officer_name(
            name_th,
            organization=organization,
            unit=ou,
            given_name=given_name,
            surname=surname,
            position=position,
            email=email,
            employee_id=employee_id,
        )
        csr = _hsm.build_csr(signer, name, emails=[email] if email else [], hash_algorithm=hash_name)
    encoding = serialization.Encoding.DER if der else serialization.Encoding.PEM
    atomic_write(out, csr.public_bytes(encoding))
    click.echo(f"wrote {out}")


@hsm.command("import-cert")
@click.argument("uri")
@click.argument("cert", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--chain", type=click.Path(dir_okay=False, path_type=Path), help="PEM file of issuer certificates."
)
@click.option("--replace", is_flag=True, help="Replace a certificate already stored for this key.")
@_module_option
@_pin_file_option
def import_cert_command(
    uri: str, cert: Path, chain: Path | None, replace: bool, module: str | None, pin_file: Path | None
) -> None:
    """Store a certificate (and its chain) in the token beside its key.

    \b
    Example:
      thaisign hsm import-cert 'pkcs11:token=Agency;object=somchai-2026' somchai.pem --chain chain.pem
    """
    certs = load_certificates_file(cert)
    extra = load_certificates_file(chain) if chain is not None else []
    parsed = _hsm.Pkcs11Uri.parse(uri)
    pin = _hsm.resolve_pin(parsed, pin_file=pin_file)
    stored = _hsm.import_certificate(
        parsed, certs[0], [*certs[1:], *extra], pin=pin, module=module, replace=replace
    )
    if not stored:
        click.echo("nothing to store: the certificate and chain are on the token already")
    for o in stored:
        click.echo(f"stored {o.kind} {o.label!r} id={o.id.hex()}")
