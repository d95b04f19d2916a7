"""``thaisign verify``: verify incoming signed letters (a thin layer over thaisign.verify)."""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime
from pathlib import Path

import click

from thaisign.errors import UsageError


def _parse_at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--at {text!r} is not an ISO date/time", hint="e.g. --at 2026-11-21T10:42+07:00"
        ) from None
    from thaisign.thai_date import BANGKOK

    return t if t.tzinfo is not None else t.replace(tzinfo=BANGKOK)  # a clerk's clock is Bangkok time


def _quiet_libraries(debug: bool) -> None:
    if not debug:
        for name in ("pyhanko", "pyhanko_certvalidator", "thaisign"):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inputs", metavar="FILE_OR_DIR...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--trust",
    "trust_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Extra trust anchor: a PEM/DER root certificate or a folder of them (repeatable).",
)
@click.option(
    "--at", "at_text", metavar="ISO_TIME", help="Validate as of this time (default: now; no zone = UTC+7)."
)
@click.option(
    "--offline", is_flag=True, help="Do not fetch OCSP/CRL; use only revocation data inside the file."
)
@click.option(
    "--network",
    "network",
    metavar="SETTING",
    help="Where online checks may connect: any, none, or a comma list of public, private, loopback, "
    "link-local and CIDR networks (default: public,private,loopback).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document of DESIGN.md instead of text.")
@click.option(
    "--html",
    "html_out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a printable HTML report.",
)
@click.option(
    "--lang",
    type=click.Choice(["th", "en"]),
    default=None,
    help="Language of the report (default: th for a Thai locale).",
)
@click.pass_context
def verify(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    trust_paths: tuple[Path, ...],
    at_text: str | None,
    offline: bool,
    network: str | None,
    as_json: bool,
    html_out: Path | None,
    lang: str | None,
) -> None:
    """Verify the signatures of PDF letters and explain the verdict (ตรวจสอบลายมือชื่อในหนังสือ).

    Folders are searched for *.pdf. Trusted roots: --trust files/folders, $THAISIGN_TRUST,
    ~/.config/thaisign/trust/ and the bundled Thai National Root CA G3. Exit code 0 only when
    every file is TOTAL_PASSED, 1 otherwise, 2 for usage errors.

    \b
    Examples:
      thaisign verify letter.pdf --trust agency-root.pem --lang th
      thaisign verify inbox/ --offline --html report.html
      thaisign verify letter.pdf --at 2026-11-21T10:42+07:00 --json
      thaisign verify letter.pdf --network private     # intranet OCSP only
    """
    from thaisign.verify._lazy import defer_pyhanko_sign_init

    defer_pyhanko_sign_init()
    from thaisign._fs import atomic_write, refuse_overwrite_input
    from thaisign._progress import progress
    from thaisign.verify.batch import iter_pdfs, verify_many
    from thaisign.verify.render_text import default_lang, report_text, summary_table
    from thaisign.verify.trust import TrustStore

    root = ctx.find_root()
    debug = bool(root.params.get("debug")) or os.environ.get("THAISIGN_DEBUG", "") not in ("", "0")
    _quiet_libraries(debug)
    at = _parse_at(at_text)
    policy = None
    if network is not None:
        if offline:
            raise UsageError("--offline and --network do not go together", hint="--offline means no network")
        from thaisign.verify.policy import NetworkPolicy, ValidationPolicy

        policy = ValidationPolicy(network=NetworkPolicy.parse(network))
    lang = lang or default_lang()
    files = iter_pdfs(inputs)
    if not files:
        raise UsageError("no PDF files found", hint="give PDF files or folders that contain *.pdf")
    if html_out is not None:
        refuse_overwrite_input(tuple(files), html_out)
    trust = TrustStore.default(trust_paths)
    workers = min(os.cpu_count() or 1, 4) if len(files) >= 16 else 1
    with progress(len(files), "verify", enabled=not as_json) as bar:
        reports = verify_many(
            files,
            trust,
            at=at,
            revocation="offline" if offline else "online",
            workers=workers,
            on_result=lambda _r: bar.advance(),
            policy=policy,
        )
    if as_json:
        from thaisign.verify.render_json import reports_json

        click.echo(reports_json(reports))
    else:
        for r in reports:
            click.echo(report_text(r, lang))
        if len(reports) > 1:
            click.echo(summary_table(reports, lang))
    if html_out is not None:
        from thaisign.verify.render_html import reports_html

        atomic_write(html_out, reports_html(reports, lang).encode("utf-8"))
    # sys.exit, not ctx.exit: the exit code must survive click's standalone_mode=False
    sys.exit(0 if all(r.passed for r in reports) else 1)
