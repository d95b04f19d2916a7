"""Start-up of the CLI, checked by what it loads — never by the clock (benchmarks/cli_startup.py
measures the time).

One letter through ``thaisign verify`` is mostly start-up: these tests pin which modules the
CLI may load for a PDF letter and for ``--help``, that the command list of ``--help`` stays the
commands' own summaries, and that the quick exit keeps every byte of output and the exit code.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import click
import pytest
from support.pki import TestPKI

from thaisign.verify._lazy import DEFERRED

ROOT = Path(__file__).resolve().parents[2]

#: loaded by no ``thaisign verify`` of a PDF letter: other file kinds, other output formats,
#: the change analysis (letters with later revisions only), signing, CA, HSM, web, progress bars
NOT_FOR_A_PDF_LETTER = (
    "thaisign.verify.bundle",
    "thaisign.verify.register",
    "thaisign.verify.cades",
    "thaisign.verify.asic",
    "thaisign.verify.cms",
    "thaisign.verify.render_bundle",
    "thaisign.verify.render_html",
    "thaisign.verify.changes.analysis",
    "thaisign.verify.changes.visual",
    "thaisign._fs",
    "thaisign.keys",
    "thaisign.pades",
    "thaisign.ca",
    "thaisign.tsa",
    "thaisign.hsm",
    "thaisign.desk",
    "thaisign.service",
    "thaisign._cli.sign",
    "thaisign._cli.ca",
    "thaisign._cli.desk",
    "thaisign._cli.service",
    "pyhanko.sign.signers",
    "pyhanko.sign.timestamps",
    "pyhanko.sign.validation.dss",
    "pyhanko.pdf_utils.incremental_writer",
    "aiohttp",
    "requests",
    "rich",
    "jinja2",
    "pypdfium2",
    "starlette",
    "sqlalchemy",
    "uvicorn",
    "pkcs11",
    "uharfbuzz",
    "fontTools",
    "PIL",
    "qrcode",
    "pypdf",
    "importlib.metadata",
    "importlib.resources",
    "multiprocessing",
)

_LOADED = """
import json, os, sys
from thaisign.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
with open(os.environ["MODULES_OUT"], "w") as fh:
    json.dump(sorted(sys.modules), fh)
"""


def _loaded(tmp_path: Path, *args: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``thaisign ARGS``."""
    out = tmp_path / "modules.json"
    env = {**os.environ, "MODULES_OUT": str(out)}
    subprocess.run([sys.executable, "-c", _LOADED, *args], env=env, capture_output=True, check=False)
    return set(json.loads(out.read_text()))


def _offenders(loaded: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in loaded for f in forbidden if m == f or m.startswith(f + "."))


@pytest.fixture(scope="module")
def letter(tmp_path_factory: pytest.TempPathFactory, signed_ec: bytes) -> Path:
    """A signed letter whose signature covers the whole file (no revision after signing)."""
    path = tmp_path_factory.mktemp("startup") / "หนังสือ.pdf"
    path.write_bytes(signed_ec)
    return path


def _verify_args(letter: Path, pki: TestPKI, fixed_time: datetime) -> list[str]:
    return ["verify", str(letter), "--trust", str(pki.root_pem), "--offline", "--at", fixed_time.isoformat()]


@pytest.mark.parametrize("output", [["--json"], ["--lang", "en"]], ids=["json", "text"])
def test_verifying_a_pdf_letter_loads_only_what_it_needs(
    tmp_path: Path, letter: Path, pki: TestPKI, fixed_time: datetime, output: list[str]
) -> None:
    loaded = _loaded(tmp_path, *_verify_args(letter, pki, fixed_time), *output)
    assert "thaisign.verify.pdf" in loaded  # the letter was verified (else this proves nothing)
    assert _offenders(loaded, NOT_FOR_A_PDF_LETTER) == []
    if output == ["--json"]:
        assert "thaisign.verify.render_json" in loaded
        assert "thaisign.verify.render_text" not in loaded
    else:
        assert "thaisign.verify.render_text" in loaded
    # pyHanko's signing stack and DSS writer stay out: their packages' __init__ never ran
    for package in DEFERRED:
        assert package in loaded
    assert "pyhanko.sign.signers" not in loaded


def test_help_loads_no_command(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, "--help")
    assert "thaisign.cli" in loaded
    heavy = ("thaisign._cli", "thaisign.verify", "pyhanko", "cryptography", "asn1crypto")
    assert _offenders(loaded, heavy) == []


def test_help_lists_every_command_with_its_own_summary() -> None:
    """``--help`` lists commands from cli._SUMMARIES without importing them: it must say what
    each command's own help says, cut as click cuts it at any terminal width."""
    from thaisign.cli import _COMMANDS, _SUMMARIES, cli

    assert set(_SUMMARIES) == set(_COMMANDS)
    ctx = click.Context(cli)
    for name in _COMMANDS:
        cmd = cli.get_command(ctx, name)
        assert cmd is not None, name
        listed = click.Command(name, help=_SUMMARIES[name])
        for limit in (20, 45, 58, 80, 120, 1000):
            assert listed.get_short_help_str(limit) == cmd.get_short_help_str(limit), (name, limit)


def test_quick_exit_keeps_the_output_and_the_exit_code(
    letter: Path, pki: TestPKI, fixed_time: datetime
) -> None:
    """``python -m thaisign verify`` ends with os._exit: stdout must be complete and the exit
    code the one ``main()`` gives in-process."""
    from thaisign.cli import main

    args = [*_verify_args(letter, pki, fixed_time), "--json"]
    frozen_before = gc.get_freeze_count()
    with pytest.raises(SystemExit) as in_process:
        main(args)
    # the collector, paused while the command started, is the caller's again, as it was
    assert gc.isenabled() and gc.get_freeze_count() == frozen_before
    done = subprocess.run([sys.executable, "-m", "thaisign", *args], capture_output=True, check=False)
    doc = json.loads(done.stdout)
    assert doc["files"][0]["file"] == str(letter)
    assert doc["files"][0]["verdict"] == "INDETERMINATE"  # no revocation data in the file, offline
    assert done.returncode == in_process.value.code == 1
    assert done.stderr == b""
    # a usage error still exits through Python (no quick exit), with its own code and message
    bad = subprocess.run(
        [sys.executable, "-m", "thaisign", "verify", str(letter.with_name("missing.pdf"))],
        capture_output=True,
        check=False,
    )
    assert bad.returncode != 0 and b"not found" in bad.stderr
