"""``thaisign sign-file``: sign any file as CAdES (.p7s/.p7m) or into an ASiC container (a thin
layer over :mod:`thaisign.files`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from thaisign._cli._options import signing_time_options
from thaisign._cli.sign import (
    _csc_options,
    _csc_signer,
    _key_options,
    _key_source,
    _quiet_libraries,
    _time,
    _trust,
)
from thaisign.errors import UsageError


@click.command("sign-file")
@click.argument("inputs", metavar="FILE...", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The signature for one FILE (default: FILE.p7s beside it, FILE.p7m with --enveloping).",
)
@click.option(
    "--asic",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Put FILE(s) and one signature over all of them into this container (.asice; .asics: one file).",
)
@click.option(
    "--add-to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --asic: add a signature over every file of this .asice (and FILEs, if any).",
)
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), help="One .p7s per FILE here.")
@click.option(
    "--enveloping", is_flag=True, help="Put the file inside the signature (.p7m) instead of beside it."
)
@_key_options
@_csc_options
@click.option(
    "--level",
    type=click.Choice(["B-B", "B-T", "B-LT", "B-LTA"]),
    help="CAdES level (default B-T with --tsa, else B-B).",
)
@click.option("--tsa", metavar="URL", help="RFC 3161 time-stamping authority.")
@click.option(
    "--trust", multiple=True, type=click.Path(path_type=Path), help="Root certificate(s) for B-LT/B-LTA."
)
@click.option(
    "--hash", "hash_name", type=click.Choice(["sha256", "sha384", "sha512"]), help="Digest algorithm."
)
@signing_time_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def sign_file(
    inputs: tuple[Path, ...],
    output: Path | None,
    asic: Path | None,
    add_to: Path | None,
    out_dir: Path | None,
    enveloping: bool,
    p12: Path | None,
    key: Path | None,
    cert: Path | None,
    chain: Path | None,
    key_uri: str | None,
    module: str | None,
    passphrase_file: Path | None,
    pin_file: Path | None,
    csc: str | None,
    credential: str | None,
    csc_token_file: Path | None,
    csc_pin_file: Path | None,
    otp_file: Path | None,
    level: str | None,
    tsa: str | None,
    trust: tuple[Path, ...],
    hash_name: str | None,
    signing_time: str | None,
    validation_time: str | None,
    as_json: bool,
) -> None:
    """Sign any file — evidence, images, audio, spreadsheets, archives (ลงนามไฟล์ใด ๆ).

    A detached CAdES signature (.p7s) goes beside each file; --asic puts several files and one
    signature over all of them into an ASiC-E container (.asice), or one file into an ASiC-S
    (.asics). Files of any size are streamed. Check the result with `thaisign verify`.

    \b
    Examples:
      export THAISIGN_PASSPHRASE=...            # or --passphrase-file, or be asked
      thaisign sign-file video.mp4 --p12 somchai.p12 --tsa http://tsa.example.go.th/tsa
      thaisign sign-file คำสั่งศาล.pdf ภาพถ่าย.jpg --asic คดี-123.asice --p12 somchai.p12 \\
          --level B-LT --tsa http://tsa.example.go.th/tsa
      thaisign sign-file --asic คดี-123-2.asice --add-to คดี-123.asice --p12 somying.p12
      thaisign sign-file report.xlsx -o report.xlsx.p7s --key-uri 'pkcs11:token=Agency;object=somchai'
      thaisign sign-file photo.jpg --csc https://sign.example.go.th     # a key in the signing service
    """
    _quiet_libraries()
    from thaisign.files.cades import FileSigningOptions

    modes = sum(x is not None for x in (output, asic, out_dir))
    if modes > 1:
        raise UsageError("give one of -o OUT.p7s, --asic OUT.asice or --out-dir DIR")
    if add_to is not None and asic is None:
        raise UsageError("--add-to adds a signature to a container: give the new one with --asic OUT.asice")
    if not inputs and add_to is None:
        raise UsageError("no file to sign", hint="e.g. thaisign sign-file evidence.pdf --p12 somchai.p12")
    if asic is None and len(inputs) > 1 and out_dir is None:
        raise UsageError(
            "several files: put them into one container with --asic OUT.asice, or use --out-dir DIR"
        )
    options = FileSigningOptions(
        level=level,  # type: ignore[arg-type]
        tsa=tsa,
        enveloping=enveloping,
        hash_algorithm=hash_name,
        signing_time=_time(signing_time),
        at=_time(validation_time, "--at"),
        trust_roots=_trust(trust),
    )
    options.effective_level()  # a usage error before any key is opened
    if csc is not None:
        if any(x is not None for x in (p12, key, key_uri)):
            raise UsageError("give either --csc URL or a local key (--p12, --key, --key-uri), not both")
        if out_dir is not None:
            raise UsageError("with --csc, make one signature at a time (each needs your OTP or PIN)")
        signer = _csc_signer(csc, credential, csc_token_file, csc_pin_file, otp_file)
    else:
        signer = _key_source(p12, key, cert, chain, key_uri, module, passphrase_file, pin_file).load()
    try:
        results = _sign(inputs, output, asic, add_to, out_dir, signer, options)
    finally:
        signer.close()
    if as_json:
        entries = [
            {
                "output": str(r.output),
                "format": r.format,
                "level": r.level,
                "covers": list(r.files),
                "size": r.size,
                "signing_time": r.signing_time.isoformat().replace("+00:00", "Z"),
            }
            for r in results
        ]
        click.echo(json.dumps({"files": entries}, ensure_ascii=False, indent=2))
        return
    for r in results:
        covers = ", ".join(r.files[:5]) + (f" … (+{len(r.files) - 5})" if len(r.files) > 5 else "")
        click.echo(f"signed {covers} -> {r.output} ({r.format}, {r.level})")


def _sign(
    inputs: tuple[Path, ...],
    output: Path | None,
    asic: Path | None,
    add_to: Path | None,
    out_dir: Path | None,
    signer: Any,
    options: Any,
) -> list[Any]:
    from thaisign.files import sign_asic, sign_file

    if asic is not None:
        return [sign_asic(list(inputs), asic, signer, options, add_to=add_to)]
    suffix = ".p7m" if options.enveloping else ".p7s"
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        return [sign_file(p, out_dir / (p.name + suffix), signer, options) for p in inputs]
    (source,) = inputs
    return [sign_file(source, output or source.with_name(source.name + suffix), signer, options)]


@click.command("extend-file")
@click.argument("signature", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The result."
)
@click.option(
    "--tsa", required=True, metavar="URL", help="RFC 3161 time-stamping authority for the archive time-stamp."
)
@click.option(
    "--data",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The signed file (default: beside the signature).",
)
@click.option(
    "--trust",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Root certificate(s) of the chains (default: those in it).",
)
@click.option(
    "--at", "validation_time", metavar="ISO", help="Validate the chains and their OCSP/CRL as of this time."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def extend_file(
    signature: Path,
    output: Path,
    tsa: str,
    data: Path | None,
    trust: tuple[Path, ...],
    validation_time: str | None,
    as_json: bool,
) -> None:
    """Keep a signed file provable for decades: B-T/B-LT → B-LTA, or a new archive time-stamp
    before the last one's TSA certificate expires (ต่ออายุการพิสูจน์ลายมือชื่อ).

    \b
    Examples:
      thaisign extend-file evidence.mp4.p7s -o evidence.mp4.lta.p7s --tsa http://tsa.example.go.th/tsa
      thaisign extend-file photo.sig --data photo.jpg -o photo.lta.sig --tsa http://tsa.example.go.th/tsa
    """
    _quiet_libraries()
    from thaisign.files.cades import extend_signature

    result = extend_signature(
        signature, output, tsa=tsa, data=data, at=_time(validation_time, "--at"), trust_roots=_trust(trust)
    )
    if as_json:
        entry = {
            "output": str(result.output),
            "format": result.format,
            "level": result.level,
            "covers": list(result.files),
        }
        click.echo(json.dumps({"files": [entry]}, ensure_ascii=False, indent=2))
    else:
        click.echo(f"extended {signature} -> {result.output} ({result.level})")
