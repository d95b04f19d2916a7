"""Benchmark: one letter through the CLI, whole process — start-up included.

    python benchmarks/cli_startup.py [--runs 15] [--letter L.pdf --trust ROOT.pem] [--no-compile]

Each command runs ``--runs`` times, round-robin (so that the other engineers' load on this
shared machine falls on every command alike); the medians of wall time and of CPU time (user +
sys of the child and its own children, e.g. the visual check's forks) are printed with the
load average before and after. Commands:

1. ``python -c pass``: the interpreter's floor in this environment;
2. ``thaisign --help``;
3. ``thaisign verify LETTER --trust ROOT --offline`` (text) and with ``--json``: a signed,
   single-revision letter (the letter of benchmarks/verify.py, made once under
   benchmarks/out/cli-startup/; no revocation data in it, so the verdict is INDETERMINATE
   offline, after all of the checks);
4. pyHanko's CLI on the same letter, ``pyhanko sign validate --no-revocation-check --trust ROOT
   --trust-replace`` (the ``pyhanko-cli`` package, pip install '.[bench]'); without it, a
   minimal pyHanko validation script in a fresh process;
5. for scale: importing alone the pyHanko modules that a verification needs (with
   ``pyhanko.sign``'s and ``pyhanko.sign.validation``'s ``__init__`` deferred as thaisign
   does), click and asyncio — the floor under thaisign's own start-up, no work.

The thaisign package is byte-compiled first (``compileall``), as an installed wheel is: with
PYTHONDONTWRITEBYTECODE set and an editable install, every run would otherwise compile
thaisign's sources again. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

TARGET_MS = 300

_PYHANKO_SCRIPT = """
import sys
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
vc = ValidationContext(trust_roots=[load_cert_from_pemder(sys.argv[2])], revocation_mode="soft-fail")
with open(sys.argv[1], "rb") as fh:
    print(validate_pdf_signature(PdfFileReader(fh).embedded_signatures[0], vc).bottom_line)
"""


#: the pyHanko and certvalidator modules a PDF verification needs, loaded the way thaisign loads
#: them (pyhanko.sign's and pyhanko.sign.validation's __init__ deferred): the floor under
#: thaisign's own start-up (collector paused and teardown skipped, as thaisign verify does)
_FLOOR = """
import gc, os
gc.disable()
from thaisign.verify._lazy import defer_pyhanko_sign_init
defer_pyhanko_sign_init()
import asyncio, click, pyhanko.pdf_utils.reader, pyhanko.sign.validation.pdf_embedded
os._exit(0)
"""


#: ``python -m thaisign`` from another checkout: an editable install's finder would win over
#: PYTHONPATH, so it is dropped first
_FROM_CHECKOUT = (
    "import runpy, sys; "
    "sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in getattr(f, '__module__', '')]; "
    "sys.path.insert(0, sys.argv.pop(1)); runpy.run_module('thaisign', run_name='__main__', alter_sys=True)"
)


def the_letter(out: Path) -> tuple[Path, Path]:
    """A signed single-revision letter and its root (benchmarks/verify.py's maker, one letter)."""
    from verify import make_inbox  # benchmarks/verify.py

    letters, root = make_inbox(out, 1, 2)
    return sorted(letters.glob("*.pdf"))[0], root


def run_once(cmd: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds of the child (and its waited-for children), exit code, first line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    text = (done.stdout or done.stderr).decode("utf-8", "replace").strip().splitlines()
    return wall, cpu, done.returncode, text[0][:70] if text else ""


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--letter", type=Path, help="a signed PDF (default: made once)")
    ap.add_argument("--trust", type=Path, help="its root certificate (with --letter)")
    ap.add_argument("--no-compile", action="store_true", help="do not byte-compile thaisign first")
    ap.add_argument(
        "--checkout",
        type=Path,
        help="measure the thaisign package of another checkout (a folder holding thaisign/, e.g. "
        "'git archive OLD thaisign | tar -x -C DIR'), run as python -m thaisign",
    )
    args = ap.parse_args()
    if args.letter is not None and args.trust is None:
        ap.error("--letter needs --trust")
    if args.letter is None:
        letter, root = the_letter(ROOT / "benchmarks" / "out" / "cli-startup")
    else:
        letter, root = args.letter, args.trust
    if not args.no_compile:
        compileall.compile_dir(str(ROOT / "thaisign"), quiet=1)

    py = sys.executable
    bindir = Path(py).parent
    script = bindir / "thaisign"
    if args.checkout is not None:
        if not args.no_compile:
            compileall.compile_dir(str(args.checkout / "thaisign"), quiet=1)
        thaisign = [py, "-c", _FROM_CHECKOUT, str(args.checkout.resolve())]
    else:
        thaisign = [str(script)] if script.exists() else [py, "-m", "thaisign"]
    verify = [*thaisign, "verify", str(letter), "--trust", str(root), "--offline"]
    pyhanko_cli = shutil.which("pyhanko", path=str(bindir))
    if pyhanko_cli:
        ph_label = "pyhanko sign validate (pyhanko-cli)"
        ph_cmd = [pyhanko_cli, "sign", "validate", "--no-revocation-check", "--trust", str(root)]
        ph_cmd += ["--trust-replace", str(letter)]
    else:
        ph_label = "pyHanko library script (no pyhanko-cli)"
        ph_cmd = [py, "-c", _PYHANKO_SCRIPT, str(letter), str(root)]
    commands: list[tuple[str, list[str]]] = [
        ("python -c pass (floor)", [py, "-c", "pass"]),
        ("thaisign --help", [*thaisign, "--help"]),
        ("thaisign verify (text)", verify),
        ("thaisign verify --json", [*verify, "--json"]),
        (ph_label, ph_cmd),
        ("imports alone: pyHanko modules thaisign uses", [py, "-c", _FLOOR]),
    ]
    print(f"letter: {letter.relative_to(ROOT) if letter.is_relative_to(ROOT) else letter}")
    print(f"thaisign from: {args.checkout or 'this checkout'}")
    print(f"{os.cpu_count()} cores, load average before: {load()}; {args.runs} runs each, round-robin")
    for _, cmd in commands:  # warm the page cache
        run_once(cmd)
    walls: dict[str, list[float]] = {label: [] for label, _ in commands}
    cpus: dict[str, list[float]] = {label: [] for label, _ in commands}
    outcome: dict[str, tuple[int, str]] = {}
    for _ in range(args.runs):
        for label, cmd in commands:
            wall, cpu, code, first = run_once(cmd)
            walls[label].append(wall)
            cpus[label].append(cpu)
            outcome[label] = (code, first)
    print(f"{'command':42} {'wall median':>11} {'(min)':>7} {'CPU median':>11} {'(min)':>7}  exit")
    for label, _ in commands:
        w, c = walls[label], cpus[label]
        code, first = outcome[label]
        print(
            f"{label:42} {1000 * statistics.median(w):8.0f} ms {1000 * min(w):5.0f} ms "
            f"{1000 * statistics.median(c):8.0f} ms {1000 * min(c):5.0f} ms  {code}  {first}"
        )
    print(f"load average after: {load()}")
    one = statistics.median(walls["thaisign verify --json"]) * 1000
    cpu = statistics.median(cpus["thaisign verify --json"]) * 1000
    ph = statistics.median(cpus[ph_label]) * 1000
    print(
        f"thaisign verify --json: {one:.0f} ms wall, {cpu:.0f} ms CPU (target {TARGET_MS} ms; "
        f"{'met' if one < TARGET_MS else 'not met'} in wall time at this load); "
        f"{ph / cpu:.1f}x less CPU than {ph_label}"
    )


if __name__ == "__main__":
    main()
