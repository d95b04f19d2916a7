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
   minimal pyHanko validation script as a process for comparison;
5. ``--multi N`` letters with a later revision (a receipt stamp added after signing): pyHanko
   (whose difference analysis runs) against thaisign (change analysis + visual check), and the
   cost of the visual check alone (the same analysis with and without rendering).

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


def make_multi(files: list[Path], out: Path) -> list[Path]:
    """Each letter plus a later revision: a FreeText receipt stamp with an appearance (made once)."""
    done = out / "DONE"
    made = [out / f.name for f in files]
    if done.exists() and all(p.exists() for p in made):
        return made
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    out.mkdir(parents=True, exist_ok=True)
    for src, dst in zip(files, made, strict=True):
        w = IncrementalPdfFileWriter(io.BytesIO(src.read_bytes()))
        page = w.root["/Pages"]["/Kids"][0].get_object()
        font = w.add_object(
            generic.DictionaryObject(
                {
                    generic.NameObject("/Type"): generic.NameObject("/Font"),
                    generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
                    generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
                }
            )
        )
        ap = generic.StreamObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/XObject"),
                generic.NameObject("/Subtype"): generic.NameObject("/Form"),
                generic.NameObject("/BBox"): generic.ArrayObject(
                    [generic.NumberObject(n) for n in (0, 0, 200, 24)]
                ),
                generic.NameObject("/Resources"): generic.DictionaryObject(
                    {
                        generic.NameObject("/Font"): generic.DictionaryObject(
                            {generic.NameObject("/Helv"): font}
                        )
                    }
                ),
            },
            stream_data=b"BT /Helv 12 Tf 0 g 4 8 Td (RECEIVED No. 123) Tj ET",
        )
        annot = generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
                generic.NameObject("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(n) for n in (330, 60, 530, 84)]
                ),
                generic.NameObject("/Contents"): generic.TextStringObject("RECEIVED No. 123"),
                generic.NameObject("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g"),
                generic.NameObject("/AP"): generic.DictionaryObject(
                    {generic.NameObject("/N"): w.add_object(ap)}
                ),
            }
        )
        page["/Annots"] = generic.ArrayObject(
            [*list(page.get("/Annots", generic.ArrayObject())), w.add_object(annot)]
        )
        w.update_container(page)
        buf = io.BytesIO()
        w.write(buf)
        dst.write_bytes(buf.getvalue())
    done.write_text("ok\n")
    return made


def visual_cost(files: list[Path]) -> tuple[float, float]:
    """Seconds for thaisign's change analysis over ``files``, with and without the visual check."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    from thaisign.verify import _speedups
    from thaisign.verify.changes import analyse_changes

    _speedups.install()
    out = []
    for render in (True, False):
        started = time.perf_counter()
        for f in files:
            data = f.read_bytes()
            reader = PdfFileReader(io.BytesIO(data), strict=False)
            emb = reader.embedded_signatures[0]
            end = int(emb.byte_range[2]) + int(emb.byte_range[3])
            analyse_changes(
                data, reader, emb.signed_revision, covered_end=end, field_name=emb.field_name, render=render
            )
        out.append(time.perf_counter() - started)
    return out[0], out[1]


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
    ap.add_argument("--multi", type=int, default=50, help="letters with a later revision (0: skip)")
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
    if args.multi:
        multi = make_multi(files[: args.multi], out / "multi")
        print(f"\n{len(multi)} letters with a later revision (a receipt stamp added after signing):")
        t_phm, _, v_phm = pyhanko_per_file(multi, root_pem)
        n = len(multi)
        row_m = f"{1000 * t_phm / n:6.2f} ms/letter"
        print(f"{'pyHanko validate_pdf_signature (+ its diff)':42}: {t_phm:7.2f} s  {row_m}")
        t_tm, _, v_tm = thaisign_batch(multi, root_pem, 1)
        row_m = f"{1000 * t_tm / n:6.2f} ms/letter  ({t_phm / t_tm:.1f}x wall)"
        print(f"{'thaisign verify_many, 1 process':42}: {t_tm:7.2f} s  {row_m}")
        with_render, without = visual_cost(multi)
        rendering = 1000 * (with_render - without) / n
        print(
            f"  thaisign change analysis alone: {1000 * without / n:.1f} ms/letter; with the visual check "
            f"{1000 * with_render / n:.1f} ms/letter (rendering: {rendering:.1f} ms/letter)"
        )
        print(f"  passed: pyHanko {sum(v_phm)}, thaisign {sum(v_tm)} (TOTAL_PASSED; plus content_changed)")


if __name__ == "__main__":
    main()
