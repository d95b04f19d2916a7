"""``thaisign verify``: verify incoming signed letters (a thin layer over thaisign.verify)."""

from __future__ import annotations

import gc
import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

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
@click.option(
    "--data",
    "data_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The signed file of a detached signature (.p7s) given alone (default: the file beside it, "
    "x.pdf for x.pdf.p7s).",
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
    data_file: Path | None,
) -> None:
    """Verify signed letters and files and explain the verdict (ตรวจสอบลายมือชื่อ).

    A FILE is a PDF letter, a CAdES signature (.p7s beside its data, or .p7m with the data
    inside) or an ASiC container (.asice, .asics). A folder or a ZIP is a filing bundle: every
    file in it is listed in one register — who signed it, when, what covers it, the verdict —
    and what is not signed at all is named. Trusted roots: --trust files/folders,
    $THAISIGN_TRUST, ~/.config/thaisign/trust/ and the bundled Thai National Root CA G3. Exit
    code 0 only when every file is TOTAL_PASSED, its pages still show what was signed and every
    file of a bundle is signed; 1 otherwise, 2 for usage errors.

    \b
    Examples:
      thaisign verify letter.pdf --trust agency-root.pem --lang th
      thaisign verify inbox/ --offline --html report.html
      thaisign verify evidence.mp4.p7s --trust agency-root.pem        # evidence.mp4 beside it
      thaisign verify photo.sig --data photo.jpg --at 2036-11-21T10:00+07:00
      thaisign verify คดี-123.asice --json
      thaisign verify letter.pdf --network private     # intranet OCSP only
    """
    # Start-up time is most of one letter's verification: import only what this run needs
    # (tests/verify/test_cli_startup.py checks that a PDF letter loads no bundle, CAdES, ASiC,
    # HTML, change-analysis, signing or web module).
    collector = _Collector()
    ctx.call_on_close(collector.restore)
    from thaisign.verify._lazy import defer_pyhanko_sign_init

    defer_pyhanko_sign_init()
    from thaisign._progress import progress
    from thaisign.verify.kinds import CADES, OTHER, PDF
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
    if lang is None and (not as_json or html_out is not None):
        from thaisign.verify.render_text import default_lang

        lang = default_lang()
    singles, bundle_paths = _sort_inputs(inputs)
    if data_file is not None and (len(inputs) != 1 or len(singles) != 1 or singles[0][1] != CADES):
        raise UsageError("--data goes with exactly one detached signature (.p7s)")
    if html_out is not None:
        from thaisign._fs import refuse_overwrite_input

        refuse_overwrite_input(tuple(inputs), html_out)
    trust = TrustStore.default(trust_paths)
    mode = "offline" if offline else "online"
    pdf_count = sum(1 for _, kind in singles if kind in (PDF, OTHER))
    workers = min(os.cpu_count() or 1, 4) if pdf_count >= 16 or bundle_paths else 1
    with progress(len(singles) + _estimate(bundle_paths), "verify", enabled=not as_json) as bar:

        def advance(_report: Any) -> None:
            bar.advance()
            collector.resume()

        reports, bundles = _verify_all(
            singles, bundle_paths, trust, at, mode, policy, workers, data_file, advance
        )
    if not reports and not any(b.rows for b in bundles):
        raise UsageError("no files found", hint="give signed files, or folders or ZIP bundles that hold some")
    if as_json:
        from thaisign.verify.render_json import reports_json

        text = reports_json(reports)
        if bundles:
            import json as _json

            doc = _json.loads(text)
            doc["bundles"] = [b.to_dict() for b in bundles]
            from thaisign.inert import json_text

            text = json_text(_json.dumps(doc, ensure_ascii=False, indent=2))
        click.echo(text)
    else:
        from thaisign.verify.render_text import report_text, summary_table

        assert lang is not None
        for r in reports:
            click.echo(report_text(r, lang))
        if len(reports) > 1:
            click.echo(summary_table(reports, lang))
        if bundles:
            from thaisign.verify.render_bundle import bundle_text

            for b in bundles:
                click.echo(bundle_text(b, lang))
    if html_out is not None:
        from thaisign._fs import atomic_write
        from thaisign.verify.render_html import reports_html

        assert lang is not None

        atomic_write(
            html_out, reports_html([*reports, *_unsigned_entries(reports, bundles)], lang).encode("utf-8")
        )
    passed = all(r.accepted for r in reports) and all(b.passed for b in bundles)
    from thaisign.cli import allow_quick_exit

    allow_quick_exit()  # everything is written; no worker, server or temporary file remains
    # sys.exit, not ctx.exit: the exit code must survive click's standalone_mode=False
    sys.exit(0 if passed else 1)


class _Collector:
    """The cyclic garbage collector, paused while the command starts.

    Start-up makes ~45k long-lived objects (modules, classes, functions); the collector's passes
    over them while they are made were ~10% of one letter's CPU. After the first file it runs
    again, with what exists then moved to the permanent generation (``gc.freeze``): later
    collections of a batch, and of its forked workers (copy-on-write), do not walk it again.
    When the command ends, the caller's state comes back (``main()`` may run in-process).
    """

    def __init__(self) -> None:
        self.paused = gc.isenabled()
        self.froze = False
        if self.paused:
            gc.disable()

    def resume(self) -> None:
        if self.paused and not gc.isenabled():
            if gc.get_freeze_count() == 0:  # never undo a freeze of the caller's
                gc.freeze()
                self.froze = True
            gc.enable()

    def restore(self) -> None:
        if self.paused:
            if self.froze:
                gc.unfreeze()
            gc.enable()


def _unsigned_entries(reports: list[Any], bundles: list[Any]) -> list[Any]:
    """A NOT SIGNED entry for each bundle file that has no report of its own (a note, a photo
    without its .p7s), so that the printed page names what is not signed at all."""
    from thaisign.verify.report import VerificationReport

    known = {r.file for r in reports}
    out = []
    for b in bundles:
        for name in b.unsigned:
            label = f"{b.source.rstrip('/')}/{name}"
            container = next((r for r in reports if label.startswith(r.file + "/")), None)
            if label not in known and container is None:
                out.append(VerificationReport(label, format="other"))
    return out


def _sort_inputs(inputs: tuple[Path, ...]) -> tuple[list[tuple[Path, str]], list[Path]]:
    """(single files with their kind, bundles: folders and plain ZIPs), in the order given."""
    from thaisign.errors import InputError
    from thaisign.verify.kinds import ZIP, kind_of

    singles: list[tuple[Path, str]] = []
    bundles: list[Path] = []
    for p in inputs:
        if p.is_dir():
            bundles.append(p)
        elif not p.exists():
            raise InputError(f"file or folder not found: {p}", hint="check the path")
        else:
            try:
                with p.open("rb") as fh:
                    head = fh.read(1024)
            except OSError:
                head = b""
            kind = kind_of(p.name, head)
            if kind == ZIP:
                bundles.append(p)
            else:
                singles.append((p, kind))
    return singles, bundles


def _estimate(bundles: list[Path]) -> int:
    total = 0
    for b in bundles:
        if b.is_dir():
            total += sum(1 for f in b.rglob("*") if f.is_file())
        else:
            total += 1
    return total


def _verify_all(
    singles: list[tuple[Path, str]],
    bundle_paths: list[Path],
    trust: Any,
    at: datetime | None,
    mode: str,
    policy: Any,
    workers: int,
    data_file: Path | None,
    advance: Any,
) -> tuple[list[Any], list[Any]]:
    """Every report (in input order; a bundle's after it) and the bundles' results."""
    from thaisign.verify.batch import verify_many
    from thaisign.verify.kinds import OTHER, PDF

    pdfs = [p for p, kind in singles if kind in (PDF, OTHER)]
    by_path = dict(
        zip(
            pdfs,
            verify_many(
                pdfs, trust, at=at, revocation=mode, workers=workers, on_result=advance, policy=policy
            ),
            strict=True,
        )
    )
    others = [p for p, _kind in singles if p not in by_path]
    if others:  # CAdES signatures and ASiC containers
        from thaisign.verify.bundle import verify_file
        from thaisign.verify.cache import BatchCache

        cache = BatchCache(trust, at=at, revocation=mode, policy=policy)
        try:
            for p in others:
                if p not in by_path:
                    by_path[p] = verify_file(
                        p, trust, data=data_file, at=at, revocation=mode, cache=cache, policy=policy
                    )
                    advance(by_path[p])
        finally:
            cache.close()
    reports = [by_path[p] for p, _ in singles]
    bundles = []
    if bundle_paths:
        from thaisign.verify.bundle import verify_bundle
    for b in bundle_paths:
        result = verify_bundle(
            b, trust, at=at, revocation=mode, policy=policy, workers=workers, on_result=advance
        )
        bundles.append(result)
        reports.extend(result.reports)
    return reports, bundles
