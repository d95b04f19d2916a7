"""Benchmark: verifying an inbox of signed one-page letters, thaisign vs pyHanko per file.

    python benchmarks/verify.py [--letters 1000] [--signers 10] [--workers 2]

Letters are made once (a thaisign one-page Thai letter signed with pyHanko by officers of a
test PKI) and cached under benchmarks/out/verify-<letters>x<signers>/. Then, in the same run:

1. pyHanko per file: ``validate_pdf_signature`` with a ValidationContext trusting the test
   root, no fetching (the documented baseline), one file after another;
2. thaisign ``verify_many`` in one process (shared BatchCache), revocation "off" so that both
   judge the same things (pyHanko's default soft-fail without fetching checks nothing);
3. thaisign ``verify_many`` over ``--workers`` processes;
4. one ``thaisign verify`` process for a single letter (whole process, wall clock), and a
   minimal pyHanko validation script as a process for comparison.

Verdicts are compared letter by letter (pyHanko ``bottom_line`` vs thaisign TOTAL_PASSED).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

AT = dt.datetime(2026, 11, 21, 3, 42, tzinfo=dt.UTC)


def make_inbox(out: Path, letters: int, signers: int) -> tuple[Path, Path]:
    """Signed letters in ``out/letters`` and the test root in ``out/pki/root.pem`` (made once)."""
    done = out / "DONE"
    if done.exists():
        return out / "letters", out / "pki" / "root.pem"
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields
    from pyhanko.sign import signers as ph_signers
    from support.pki import PASSPHRASE, build_test_pki

    from thaisign.pades import make_letter

    out.mkdir(parents=True, exist_ok=True)
    pki = build_test_pki(out / "pki", "http://127.0.0.1:9")
    officers = [pki.officer_ec, pki.officer_rsa]
    officers += [pki.issue_officer(f"officer-{n}", cn=f"เจ้าหน้าที่ ทดสอบ {n}") for n in range(signers - 2)]
    keys = [
        ph_signers.SimpleSigner.load(
            str(o.key_pem),
            str(o.cert_pem),
            ca_chain_files=(str(pki.chain_pem),),
            key_passphrase=PASSPHRASE.encode(),
        )
        for o in officers[:signers]
    ]
    letter = make_letter()
    (out / "letters").mkdir(exist_ok=True)
    meta = ph_signers.PdfSignatureMetadata(field_name="Signature1", subfilter=fields.SigSeedSubFilter.PADES)
    started = time.perf_counter()
    for n in range(letters):
        w = IncrementalPdfFileWriter(io.BytesIO(letter))
        signed = ph_signers.sign_pdf(w, meta, signer=keys[n % len(keys)]).getvalue()
        (out / "letters" / f"letter-{n:04}.pdf").write_bytes(signed)
    print(f"made {letters} letters from {len(keys)} signers in {time.perf_counter() - started:.1f} s")
    done.write_text("ok\n")
    return out / "letters", out / "pki" / "root.pem"


def pyhanko_per_file(files: list[Path], root_pem: Path) -> tuple[float, float, list[bool]]:
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    root = load_cert_from_pemder(str(root_pem))
    verdicts = []
    started, cpu = time.perf_counter(), time.process_time()
    for f in files:
        with f.open("rb") as fh:
            r = PdfFileReader(fh)
            vc = ValidationContext(trust_roots=[root], moment=AT)
            status = validate_pdf_signature(r.embedded_signatures[0], vc)
            verdicts.append(bool(status.bottom_line))
    return time.perf_counter() - started, time.process_time() - cpu, verdicts


def thaisign_batch(files: list[Path], root_pem: Path, workers: int) -> tuple[float, float, list[bool]]:
    from thaisign.verify import TrustStore, verify_many

    trust = TrustStore.from_paths([root_pem])
    started, cpu = time.perf_counter(), time.process_time()
    reports = verify_many(files, trust, at=AT, revocation="off", workers=workers)
    return time.perf_counter() - started, time.process_time() - cpu, [r.passed for r in reports]


def single_process(file: Path, root_pem: Path, runs: int = 5) -> list[float]:
    times = []
    cmd = [
        sys.executable,
        "-m",
        "thaisign",
        "verify",
        str(file),
        "--trust",
        str(root_pem),
        "--offline",
        "--json",
    ]
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return times


_PYHANKO_SCRIPT = """
import sys, datetime as dt
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
vc = ValidationContext(trust_roots=[load_cert_from_pemder(sys.argv[2])],
                       moment=dt.datetime(2026, 11, 21, 3, 42, tzinfo=dt.timezone.utc))
with open(sys.argv[1], "rb") as fh:
    print(validate_pdf_signature(PdfFileReader(fh).embedded_signatures[0], vc).bottom_line)
"""


def pyhanko_process(file: Path, root_pem: Path, runs: int = 5) -> list[float]:
    """A minimal pyHanko validation script as a whole process (pyhanko-cli is not installed)."""
    times = []
    cmd = [sys.executable, "-c", _PYHANKO_SCRIPT, str(file), str(root_pem)]
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--letters", type=int, default=1000)
    ap.add_argument("--signers", type=int, default=10)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    out = ROOT / "benchmarks" / "out" / f"verify-{args.letters}x{args.signers}"
    letters_dir, root_pem = make_inbox(out, args.letters, args.signers)
    files = sorted(letters_dir.glob("*.pdf"))
    load = os.getloadavg()[0]
    print(f"{len(files)} letters, {args.signers} signers, load average {load:.2f}, {os.cpu_count()} cores")

    def row(label: str, seconds: float, cpu: float | None, base: float | None = None) -> None:
        per = 1000 * seconds / len(files)
        speed = f"  ({base / seconds:.1f}x wall)" if base else ""
        cpu_text = f"  cpu {1000 * cpu / len(files):6.2f} ms/letter" if cpu is not None else ""
        print(f"{label:42}: {seconds:7.2f} s  {per:6.2f} ms/letter{speed}{cpu_text}")

    # warm-up (imports, one-off set-up) for both. pyHanko runs first, before thaisign is imported:
    # thaisign's speed-ups patch pyHanko/asn1crypto in-process and would speed pyHanko up too.
    pyhanko_per_file(files[:20], root_pem)
    t_ph, c_ph, v_ph = pyhanko_per_file(files, root_pem)
    row("pyHanko validate_pdf_signature per file", t_ph, c_ph)
    thaisign_batch(files[:20], root_pem, 1)  # its batch cache starts empty again below
    t_one, c_one, v_one = thaisign_batch(files, root_pem, 1)
    row("thaisign verify_many, 1 process", t_one, c_one, t_ph)
    print(f"  (CPU time ratio, insensitive to other load: {c_ph / c_one:.1f}x)")
    t_par, _, v_par = thaisign_batch(files, root_pem, args.workers)
    row(f"thaisign verify_many, {args.workers} processes", t_par, None, t_ph)
    same = v_ph == v_one == v_par
    print(f"identical verdicts: {same} (passed: pyHanko {sum(v_ph)}, thaisign {sum(v_one)}/{sum(v_par)})")
    single = single_process(files[0], root_pem)
    med, low = 1000 * statistics.median(single), 1000 * min(single)
    print(f"one 'thaisign verify' process: median {med:.0f} ms (min {low:.0f})")
    ph = pyhanko_process(files[0], root_pem)
    print(f"one minimal pyHanko validation process: median {1000 * statistics.median(ph):.0f} ms")


if __name__ == "__main__":
    main()
