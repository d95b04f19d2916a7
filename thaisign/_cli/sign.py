"""``thaisign sign``, ``thaisign fields`` and ``thaisign ltv``: a thin layer over :mod:`thaisign.pades`."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from thaisign._cli._options import secret_file_option, signing_time_options
from thaisign._secrets import PASSPHRASE_ENV, PIN_ENV, resolve_secret
from thaisign.errors import UsageError

PDF_PASSWORD_ENV = "THAISIGN_PDF_PASSWORD"


def _quiet_libraries() -> None:
    """pyHanko and fontTools log warnings (with tracebacks) about oddities in other people's
    signatures; a user of the CLI gets one clear line from thaisign instead."""
    import logging
    import os

    if os.environ.get("THAISIGN_DEBUG", "") in ("", "0"):
        for name in ("pyhanko", "pyhanko_certvalidator", "fontTools", "pypdf"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _rect(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        parts = tuple(float(v) for v in value.replace(" ", "").split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4:
        raise UsageError(f"--rect {value!r} is not X1,Y1,X2,Y2", hint="e.g. --rect 330,120,530,190 (points)")
    return (parts[0], parts[1], parts[2], parts[3])


def _pair(value: str | None, option: str, default: tuple[float, float]) -> tuple[float, float]:
    if value is None:
        return default
    try:
        a, b = (float(v) for v in value.replace(" ", "").split(","))
    except ValueError:
        raise UsageError(f"{option} {value!r} is not two numbers", hint=f"e.g. {option} 170,52") from None
    return (a, b)


def _time(value: str | None, option: str = "--signing-time") -> dt.datetime | None:
    if value is None:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option} {value!r} is not an ISO time", hint="e.g. 2026-11-21T10:42+07:00"
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _expand_inputs(paths: tuple[Path, ...]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(x for x in p.iterdir() if x.suffix.lower() == ".pdf" and x.is_file())
        else:
            out.append(p)
    if not out:
        raise UsageError("no PDF files given (the folders hold no .pdf files)")
    return out


def _pdf_password(flag: bool, file: Path | None) -> str | None:
    if file is not None or flag:
        return resolve_secret(file=file, env=PDF_PASSWORD_ENV, prompt="PDF password")
    import os

    return os.environ.get(PDF_PASSWORD_ENV)


def _trust(paths: tuple[Path, ...]) -> tuple[Any, ...]:
    from thaisign.keys import load_certificates_file

    certs: list[Any] = []
    for p in paths:
        if p.is_dir():
            for f in sorted(p.iterdir()):
                if f.suffix.lower() in (".pem", ".crt", ".cer", ".der"):
                    certs += load_certificates_file(f)
        else:
            certs += load_certificates_file(p)
    return tuple(certs)


def _key_source(
    p12: Path | None,
    key: Path | None,
    cert: Path | None,
    chain: Path | None,
    key_uri: str | None,
    module: str | None,
    passphrase_file: Path | None,
    pin_file: Path | None,
) -> Any:
    from thaisign.pades.batch import KeySource

    if sum(x is not None for x in (p12, key, key_uri)) != 1:
        raise UsageError("give exactly one key: --p12 FILE, --key FILE --cert FILE, or --key-uri URI")
    if key is not None and cert is None:
        raise UsageError("--key needs --cert (and usually --chain)")
    if key_uri is not None:
        pin = None
        if "pin-source" not in key_uri and "pin-value" not in key_uri:
            pin = resolve_secret(file=pin_file, env=PIN_ENV, prompt="Token PIN")
        return KeySource(key_uri=key_uri, pkcs11_module=module, pin=pin)
    secret = resolve_secret(file=passphrase_file, env=PASSPHRASE_ENV, prompt="Key passphrase", required=False)
    return KeySource(
        p12=str(p12) if p12 else None,
        key=str(key) if key else None,
        cert=str(cert) if cert else None,
        chain=str(chain) if chain else None,
        passphrase=secret,
    )


def _key_options(f: Any) -> Any:
    options = [
        click.option(
            "--p12", type=click.Path(dir_okay=False, path_type=Path), help="PKCS#12 file (encrypted)."
        ),
        click.option(
            "--key", type=click.Path(dir_okay=False, path_type=Path), help="PEM private key (encrypted)."
        ),
        click.option(
            "--cert", type=click.Path(dir_okay=False, path_type=Path), help="Certificate for --key."
        ),
        click.option(
            "--chain", type=click.Path(dir_okay=False, path_type=Path), help="Issuer certificates (PEM)."
        ),
        click.option("--key-uri", metavar="URI", help="Key in a PKCS#11 token: pkcs11:token=...;object=..."),
        click.option("--pkcs11-module", "module", metavar="PATH", help="PKCS#11 module (.so) for --key-uri."),
        secret_file_option("--passphrase-file", "the key passphrase", PASSPHRASE_ENV),
        secret_file_option("--pin-file", "the token PIN", PIN_ENV),
    ]
    for option in reversed(options):
        f = option(f)
    return f


CSC_TOKEN_ENV = "THAISIGN_CSC_TOKEN"
CSC_PIN_ENV = "THAISIGN_CSC_PIN"
CSC_OTP_ENV = "THAISIGN_CSC_OTP"


def _csc_options(f: Any) -> Any:
    options = [
        click.option("--csc", metavar="URL", help="Sign with a key in a remote CSC signing service."),
        click.option("--credential", metavar="ID", help="The CSC credential (default: your only one)."),
        secret_file_option("--csc-token-file", "the OAuth2 access token for --csc", CSC_TOKEN_ENV),
        secret_file_option("--csc-pin-file", "the signing PIN for --csc", CSC_PIN_ENV),
        secret_file_option("--otp-file", "the one-time code for --csc", CSC_OTP_ENV),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _csc_signer(
    url: str, credential: str | None, token_file: Path | None, pin_file: Path | None, otp_file: Path | None
) -> Any:
    """A signer whose key is in a CSC service; the PIN or one-time code is asked per signature."""
    from thaisign.csc_client import CscClient, CscSigner

    token = resolve_secret(file=token_file, env=CSC_TOKEN_ENV, prompt="Access token")
    client = CscClient(url, token)
    if credential is None:
        ids = client.credentials()
        if len(ids) != 1:
            raise UsageError(
                "you have no credential in that service" if not ids else "you have several credentials there",
                hint="give --credential ID" if ids else "ask the agency operator to approve your enrollment",
            )
        credential = ids[0]
    info = client.credential_info(credential)
    needs_pin = str(info.get("PIN", {}).get("presence", "false")) == "true"

    def second_factor() -> dict[str, str]:
        if needs_pin:
            return {"PIN": resolve_secret(file=pin_file, env=CSC_PIN_ENV, prompt="Signing PIN") or ""}
        return {"OTP": resolve_secret(file=otp_file, env=CSC_OTP_ENV, prompt="One-time code (OTP)") or ""}

    return CscSigner(client, credential, second_factor=second_factor)


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Signed PDF (one input)."
)
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), help="Folder for signed PDFs.")
@click.option("--in-place", is_flag=True, help="Replace each input atomically with its signed version.")
@_key_options
@click.option(
    "--level",
    type=click.Choice(["B-B", "B-T", "B-LT", "B-LTA"]),
    help="PAdES level (default B-T with --tsa, else B-B).",
)
@click.option("--tsa", metavar="URL", help="RFC 3161 time-stamping authority.")
@click.option(
    "--subfilter",
    type=click.Choice(["pades", "adbe"]),
    default="pades",
    show_default=True,
    help="ETSI.CAdES.detached (pades) or adbe.pkcs7.detached.",
)
@click.option(
    "--trust", multiple=True, type=click.Path(path_type=Path), help="Root certificate(s) for B-LT/B-LTA."
)
@click.option("--visible", is_flag=True, help="Visible signature (default box: bottom right of --page).")
@click.option("--page", type=int, default=1, show_default=True, help="Page (1 = first, -1 = last).")
@click.option(
    "--rect", metavar="X1,Y1,X2,Y2", help="Signature box in points from the page's lower-left corner."
)
@click.option("--field", metavar="NAME", help="Sign into this (empty) field, or create it.")
@click.option(
    "--anchor-text",
    metavar="TEXT",
    help="Put the box in the free space above this text's line (ลงชื่อ, or the typed name); never over text.",
)
@click.option(
    "--anchor-box",
    metavar="W,H",
    help="Box size for --anchor-text in points (default 170,52; lower if need be).",
)
@click.option(
    "--anchor-offset", metavar="DX,DY", help="Move the placed box right/up by DX,DY points (default 0,0)."
)
@click.option(
    "--certify",
    type=click.Choice(["no-changes", "form-filling", "annotations"]),
    help="Certification signature (DocMDP) with these permitted changes.",
)
@click.option("--lock", metavar="all|F1,F2", help="Lock fields once signed (FieldMDP).")
@click.option("--reason", metavar="TEXT", help="Reason, e.g. อนุมัติ.")
@click.option("--location", metavar="TEXT", help="Location, e.g. กรุงเทพมหานคร.")
@click.option(
    "--font", type=click.Path(dir_okay=False, path_type=Path), help="TrueType font (default Sarabun)."
)
@click.option("--image", type=click.Path(dir_okay=False, path_type=Path), help="Handwritten signature PNG.")
@click.option("--qr", metavar="PAYLOAD", help="Add a QR code with this payload (document ID or URL).")
@click.option("--name", metavar="TEXT", help="Name line (default: certificate CN).")
@click.option("--position", metavar="TEXT", help="Position line (default: certificate title).")
@click.option("--agency", metavar="TEXT", help="Agency line (default: certificate O).")
@click.option("--line", "lines", multiple=True, metavar="TEXT", help="Replace all lines (repeatable).")
@click.option("--digits", type=click.Choice(["thai", "arabic"]), default="thai", show_default=True)
@click.option("--no-date", is_flag=True, help="Leave out the ลงนามเมื่อ line.")
@click.option("--border", is_flag=True, help="Draw a thin frame round the box.")
@signing_time_options
@click.option(
    "--pdf-password",
    "ask_pdf_password",
    is_flag=True,
    help=f"The PDF is password-protected: read the password from {PDF_PASSWORD_ENV} or a prompt.",
)
@click.option(
    "--pdf-password-file", type=click.Path(dir_okay=False, path_type=Path), help="File with the PDF password."
)
@click.option("--workers", type=int, help="Processes for several files (default: all cores).")
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse to sign when the signer's certificate is revoked or does not chain to a trusted "
    "root (default: sign and warn).",
)
@_csc_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def sign(
    inputs: tuple[Path, ...],
    output: Path | None,
    out_dir: Path | None,
    in_place: bool,
    p12: Path | None,
    key: Path | None,
    cert: Path | None,
    chain: Path | None,
    key_uri: str | None,
    module: str | None,
    passphrase_file: Path | None,
    pin_file: Path | None,
    level: str | None,
    tsa: str | None,
    subfilter: str,
    trust: tuple[Path, ...],
    visible: bool,
    page: int,
    rect: str | None,
    field: str | None,
    anchor_text: str | None,
    anchor_box: str | None,
    anchor_offset: str | None,
    certify: str | None,
    lock: str | None,
    reason: str | None,
    location: str | None,
    font: Path | None,
    image: Path | None,
    qr: str | None,
    name: str | None,
    position: str | None,
    agency: str | None,
    lines: tuple[str, ...],
    digits: str,
    no_date: bool,
    border: bool,
    signing_time: str | None,
    validation_time: str | None,
    ask_pdf_password: bool,
    pdf_password_file: Path | None,
    workers: int | None,
    strict: bool,
    csc: str | None,
    credential: str | None,
    csc_token_file: Path | None,
    csc_pin_file: Path | None,
    otp_file: Path | None,
    as_json: bool,
) -> None:
    """Sign PDF letters (PAdES), with a Thai visible signature if asked.

    Before signing, the certificate is checked (its path to the trust roots, --trust or the
    trust store, and its OCSP/CRL): a revoked or untrusted certificate gets a warning, or with
    --strict no signature. Output folders are created as needed.

    \b
    Examples:
      export THAISIGN_PASSPHRASE=...            # or --passphrase-file, or be asked
      thaisign sign letter.pdf -o signed.pdf --p12 somchai.p12 --visible --page 1 --rect 330,120,530,190
      thaisign sign letter.pdf -o signed.pdf --p12 somchai.p12 --anchor-text ลงชื่อ --qr https://saraban.example.go.th/d/123
      thaisign sign letter.pdf -o signed.pdf --key somchai.key --cert somchai.pem --chain chain.pem \\
          --level B-LTA --tsa http://tsa.example.go.th/tsa
      thaisign sign inbox/ --out-dir signed/ --p12 somchai.p12 --json
      thaisign sign letter.pdf -o signed.pdf --key-uri 'pkcs11:token=Agency;object=somchai' --field ผู้ลงนาม1
      export THAISIGN_CSC_TOKEN=...             # an access token from the agency's OpenID provider
      thaisign sign letter.pdf -o signed.pdf --csc https://sign.example.go.th --visible   # asks for the OTP
    """
    _quiet_libraries()
    from thaisign._progress import progress
    from thaisign.pades.appearance import SignatureAppearance
    from thaisign.pades.batch import sign_many
    from thaisign.pades.signer import SigningOptions

    files = _expand_inputs(inputs)
    modes = sum(bool(x) for x in (output, out_dir, in_place))
    if modes != 1:
        raise UsageError("give exactly one of -o OUT.pdf, --out-dir DIR or --in-place")
    if output is not None and len(files) != 1:
        raise UsageError("-o takes one input; use --out-dir DIR for several files")
    box = _rect(rect)
    if visible and box is None and field is None and anchor_text is None:
        box = (390.0, 40.0, 570.0, 120.0)
    locks: Any = None
    if lock:
        locks = "all" if lock.strip() == "all" else tuple(x.strip() for x in lock.split(",") if x.strip())
    appearance = SignatureAppearance(
        lines=lines or None,
        name=name,
        position=position,
        agency=agency,
        show_date=not no_date,
        digits=digits,  # type: ignore[arg-type]
        font=font,
        image=image,
        qr=qr,
        border=border,
    )
    options = SigningOptions(
        level=level,  # type: ignore[arg-type]
        subfilter=subfilter,  # type: ignore[arg-type]
        tsa=tsa,
        field=field,
        page=page,
        rect=box,
        anchor_text=anchor_text,
        anchor_box=_pair(anchor_box, "--anchor-box", (170.0, 52.0)),
        anchor_offset=_pair(anchor_offset, "--anchor-offset", (0.0, 0.0)),
        appearance=appearance,
        certify=certify,  # type: ignore[arg-type]
        lock_fields=locks,
        reason=reason,
        location=location,
        signing_time=_time(signing_time),
        at=_time(validation_time, "--at"),
        pdf_password=_pdf_password(ask_pdf_password, pdf_password_file),
        trust_roots=_trust(trust),
        signer_check="strict" if strict else "warn",
    )
    options.effective_level()  # a usage error before any key is opened
    if tsa is not None:
        from thaisign.pades.tsa_client import check_tsa_url

        check_tsa_url(tsa)
    if csc is not None:
        if any(x is not None for x in (p12, key, key_uri)):
            raise UsageError("give either --csc URL or a local key (--p12, --key, --key-uri), not both")
        if output is None or len(files) != 1:
            raise UsageError("with --csc, sign one letter at a time (-o OUT.pdf): each needs your OTP or PIN")
    source = None if csc else _key_source(p12, key, cert, chain, key_uri, module, passphrase_file, pin_file)
    if output is not None:
        from thaisign.pades.signer import sign_pdf

        if source is None:
            assert csc is not None
            signer = _csc_signer(csc, credential, csc_token_file, csc_pin_file, otp_file)
        else:
            signer = source.load()
        try:
            result = sign_pdf(files[0], output, signer, options)
        finally:
            signer.close()
        if as_json:
            entry = {"input": str(files[0]), "output": str(result.output), "ok": True, "error": None}
            entry |= {"field": result.field, "level": result.level, "warnings": list(result.warnings)}
            click.echo(json.dumps({"files": [entry]}, ensure_ascii=False, indent=2))
        else:
            click.echo(f"signed {files[0]} -> {result.output} ({result.level}, field {result.field})")
        for warning in result.warnings:
            click.echo(f"thaisign: warning: {warning}", err=True)
        return
    assert source is not None
    with progress(len(files), "signing", enabled=not as_json) as bar:
        items = sign_many(
            files,
            out_dir,
            source,
            options,
            workers=workers,
            in_place=in_place,
            on_done=lambda _: bar.advance(),
        )
    failed = [i for i in items if not i.ok]
    for warning in dict.fromkeys(w for i in items for w in i.warnings):  # once, not once per letter
        click.echo(f"thaisign: warning: {warning}", err=True)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "files": [i.as_dict() for i in items],
                    "signed": len(items) - len(failed),
                    "failed": len(failed),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for i in items:
            if i.ok:
                click.echo(f"ok      {i.input} -> {i.output}")
            else:
                click.echo(f"FAILED  {i.input}: {i.error}")
        click.echo(f"{len(items) - len(failed)} signed, {len(failed)} failed")
    if failed:
        sys.exit(1)


@click.group()
def fields() -> None:
    """Empty signature fields, so several officers can sign one letter in turn.

    \b
    Example:
      thaisign fields add letter.pdf -o letter-2.pdf --name ผู้ลงนาม1 --page 1 --rect 60,120,260,190
      thaisign fields add letter-2.pdf -o letter-3.pdf --name ผู้ลงนาม2 --page 1 --rect 330,120,530,190
      thaisign fields list letter-3.pdf
      thaisign sign letter-3.pdf -o signed-1.pdf --p12 somchai.p12 --field ผู้ลงนาม1 --certify form-filling
    """


@fields.command("add")
@click.argument("input", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="Field name, e.g. ผู้ลงนาม1.")
@click.option("--page", type=int, default=1, show_default=True, help="Page (1 = first, -1 = last).")
@click.option("--rect", metavar="X1,Y1,X2,Y2", help="Box in points (omit for an invisible field).")
@click.option("--lock", metavar="all|F1,F2", help="When signed, lock these fields (FieldMDP).")
@click.option("--pdf-password-file", type=click.Path(dir_okay=False, path_type=Path))
def fields_add(
    input: Path,
    output: Path,
    name: str,
    page: int,
    rect: str | None,
    lock: str | None,
    pdf_password_file: Path | None,
) -> None:
    """Add an empty signature field.

    \b
    Example:
      thaisign fields add letter.pdf -o out.pdf --name ผู้ลงนาม1 --page 1 --rect 330,120,530,190 --lock all
    """
    _quiet_libraries()
    from thaisign.pades.fields import add_signature_field

    locks: Any = None
    if lock:
        locks = "all" if lock.strip() == "all" else tuple(x.strip() for x in lock.split(",") if x.strip())
    info = add_signature_field(
        input,
        output,
        name,
        page=page,
        rect=_rect(rect),
        lock=locks,
        pdf_password=_pdf_password(False, pdf_password_file),
    )
    click.echo(f"added field {info.name} on page {info.page} -> {output}")


@fields.command("list")
@click.argument("input", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def fields_list(input: Path, as_json: bool) -> None:
    """List signature fields and whether they are signed.

    \b
    Example:
      thaisign fields list letter.pdf --json
    """
    _quiet_libraries()
    from thaisign.pades.fields import list_signature_fields

    infos = list_signature_fields(input)
    if as_json:
        rows = [{"name": i.name, "signed": i.signed, "page": i.page, "rect": i.rect} for i in infos]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for i in infos:
        where = f"page {i.page} {','.join(f'{v:g}' for v in i.rect)}" if i.rect else "invisible"
        click.echo(f"{i.name}\t{'signed' if i.signed else 'empty'}\t{where}")


@click.command()
@click.argument("input", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--level", type=click.Choice(["B-LT", "B-LTA"]), default="B-LTA", show_default=True)
@click.option("--tsa", metavar="URL", help="Time-stamping authority for the document timestamp (B-LTA).")
@click.option("--trust", multiple=True, type=click.Path(path_type=Path), help="Root certificate(s).")
@click.option(
    "--at",
    "validation_time",
    metavar="ISO",
    help="Validate chains and OCSP/CRL as of this time (default: now).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ltv(
    input: Path,
    output: Path,
    level: str,
    tsa: str | None,
    trust: tuple[Path, ...],
    validation_time: str | None,
    as_json: bool,
) -> None:
    """Extend signed letters for long-term validation: B-T -> B-LT -> B-LTA.

    \b
    Adds certificates and OCSP/CRL answers for every signature to the /DSS, and (B-LTA)
    a document timestamp, as incremental updates: earlier signatures stay valid.
    \b
    Example:
      thaisign ltv signed.pdf -o signed-lta.pdf --level B-LTA --tsa http://tsa.example.go.th/tsa
    """
    _quiet_libraries()
    from thaisign.pades.ltv import extend_ltv

    result = extend_ltv(
        input,
        output,
        level=level,  # type: ignore[arg-type]
        tsa=tsa,
        trust_roots=_trust(trust),
        at=_time(validation_time, "--at"),
    )
    if as_json:
        data = {"output": str(result.output), "level": result.level, "signatures": result.signatures}
        click.echo(json.dumps(data | {"document_timestamp": result.document_timestamp_added}))
    else:
        click.echo(f"extended {result.signatures} signature(s) to {result.level} -> {result.output}")
