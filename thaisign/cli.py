"""The ``thaisign`` command: a thin layer over the library.

Sub-commands live in ``thaisign/_cli/<area>.py`` and are imported only when used, so that
``thaisign --version`` and ``thaisign verify`` start fast. Errors from the library
(:class:`thaisign.errors.ThaisignError`) become one line on stderr and a non-zero exit code;
a traceback is shown only with ``--debug`` (or ``THAISIGN_DEBUG=1``).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from thaisign import __version__
from thaisign.errors import ThaisignError

#: command name -> "module:attribute" of its click command or group
_COMMANDS: dict[str, str] = {
    "demo": "thaisign._cli.demo:demo",
    "ca": "thaisign._cli.ca:ca",
    "tsa": "thaisign._cli.tsa:tsa",
    "sign": "thaisign._cli.sign:sign",
    "fields": "thaisign._cli.sign:fields",
    "ltv": "thaisign._cli.sign:ltv",
    "verify": "thaisign._cli.verify:verify",
    "sign-file": "thaisign._cli.files:sign_file",
    "extend-file": "thaisign._cli.files:extend_file",
    "hsm": "thaisign._cli.hsm:hsm",
    "desk": "thaisign._cli.desk:desk",
    "service": "thaisign._cli.service:service",
    "csc": "thaisign._cli.csc:csc",
    "platform": "thaisign._cli.platform:platform",
}

#: command name -> the first paragraph of its help, so that ``thaisign --help`` lists the
#: commands without importing them (tests/verify/test_cli_startup.py keeps the two in step)
_SUMMARIES: dict[str, str] = {
    "demo": "Run the whole story on a demo: CA, officer, a signed Thai letter, the clerk's report.",
    "ca": "The agency certificate authority: issue, revoke, publish CRLs, audit.",
    "tsa": "RFC 3161 time-stamping authority (หน่วยประทับรับรองเวลา) for B-T and above.",
    "sign": "Sign PDF letters (PAdES), with a Thai visible signature if asked.",
    "fields": "Empty signature fields, so several officers can sign one letter in turn.",
    "ltv": "Extend signed letters for long-term validation: B-T -> B-LT -> B-LTA.",
    "verify": "Verify signed letters and files and explain the verdict (ตรวจสอบลายมือชื่อ).",
    "sign-file": "Sign any file — evidence, images, audio, spreadsheets, archives (ลงนามไฟล์ใด ๆ).",
    "extend-file": "Keep a signed file provable for decades: B-T/B-LT → B-LTA, or a new archive "
    "time-stamp before the last one's TSA certificate expires (ต่ออายุการพิสูจน์ลายมือชื่อ).",
    "hsm": "Keys in PKCS#11 tokens and HSMs (SoftHSM2, USB tokens, network HSMs).",
    "desk": "A web page for clerks on this computer: drop letters, read the verdicts, print the register.",
    "service": "Remote signing service (CSC API): officer keys in the HSM, logins through OpenID Connect.",
    "csc": "Use a remote signing service (CSC API): ask for a certificate, list credentials.",
    "platform": "One platform for many agencies: agency CAs, operators, one OCSP/CRL/TSA front, figures.",
}


class _LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(_COMMANDS) | set(self.commands))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from :data:`_SUMMARIES` (no sub-command is imported)."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            cmd = self.commands.get(name)
            if cmd is None and name in _SUMMARIES:
                cmd = click.Command(name, help=_SUMMARIES[name])
            cmd = cmd or self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = _COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None  # this capability is not built yet
            raise
        command = getattr(module, attr, None)
        return command if isinstance(command, click.Command) else None


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="thaisign")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def cli(debug: bool) -> None:
    """Digital signatures for Thai government letters (หนังสือราชการ).

    \b
    Example:
      thaisign demo --dir ./demo
      thaisign verify letter.pdf --trust agency-root.pem --lang th
    """


#: set by a command that has written all its output and holds nothing the interpreter's teardown
#: must finish (no server, store, temporary folder or worker): :func:`run` then exits at once
_quick_exit = False


def allow_quick_exit() -> None:
    """Let :func:`run` end the process without the interpreter's teardown, which for
    ``thaisign verify`` (some 440 modules loaded) costs ~60 ms of CPU after the verdict is out."""
    global _quick_exit
    _quick_exit = True


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("THAISIGN_DEBUG", "") not in ("", "0")


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_requested(args)
    try:
        result = cli.main(args=args, prog_name="thaisign", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("thaisign: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        from thaisign.inert import visible

        exc.message = visible(exc.message, limit=1000)  # type: ignore[misc]  # may quote a file name
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except ThaisignError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        from thaisign.inert import visible

        # messages quote paths, names and details from hostile files: shown, never obeyed
        click.echo(f"thaisign: error: {visible(exc.message, limit=1000)}", err=True)
        if exc.hint:
            click.echo(f"thaisign: hint: {visible(exc.hint, limit=1000)}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("thaisign: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # an unexpected failure: still one line unless --debug
        if debug:
            raise
        from thaisign.inert import visible

        click.echo(
            f"thaisign: internal error: {type(exc).__name__}: {visible(exc, limit=1000)} "
            "(rerun with --debug and report it)",
            err=True,
        )
        sys.exit(3)
    # Without standalone mode click returns ctx.exit(n)'s code instead of exiting with it.
    if isinstance(result, int) and not isinstance(result, bool):
        sys.exit(result)
    return result


def run() -> None:
    """The ``thaisign`` console script and ``python -m thaisign``: :func:`main`, then, when the
    command allowed it (:func:`allow_quick_exit`), ``os._exit`` once stdout and stderr are flushed.

    Calling :func:`main` (tests, other programs) never exits this way.
    """
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        if not _quick_exit:
            raise
        code = exc.code
    if not _quick_exit:
        return
    if code is None:
        code = 0
    if not isinstance(code, int):
        raise SystemExit(code)  # a message to print: Python's own exit does that
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        raise SystemExit(code) from None  # Python's exit reports the failed write, as before
    os._exit(code)


if __name__ == "__main__":
    run()
