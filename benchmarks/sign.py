"""Signing benchmark: thaisign vs pyHanko vs endesive on the same letters, in the same run.

PRINTS figures, asserts nothing. Letters: a one-page Thai letter, a 20-page letter and a 5 MB
letter (generated here); keys: RSA-2048 and P-256 from a throw-away PKI; invisible and visible
signatures (pyHanko's visible stamp uses Sarabun via its HarfBuzz font engine, endesive draws
its own text stamp; it runs in a process of its own, with a shim for pypdf 7, and appends only
to a classic cross-reference table, hence the "1p table" row). Also: ``sign_many`` on 1 vs 2
workers, ``thaisign --version`` start-up, and peak memory (max RSS of a fresh process) signing a
200 MB PDF.

    python benchmarks/sign.py [--rounds N] [--batch N] [--big-mb 200] [--pkcs11]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

RECT = (300, 45, 560, 145)


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.1f} ms (median of {len(samples)})"


def _timed(fn: Callable[[], object], rounds: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


_ENDESIVE_SCRIPT = r"""
import inspect, os, statistics, sys, time, types
from pathlib import Path
# endesive's verify module needs oscrypto, which cannot parse OpenSSL 3.0.1x version strings;
# signing does not use it
stub = types.ModuleType("endesive.pdf.verify")
stub.PDFVerifier = stub.verify = None
sys.modules["endesive.pdf.verify"] = stub
# endesive 3.0.1 calls pypdf's old write_to_stream(stream, encryption_key): this process only
import pypdf.generic as g
for cls in [c for c in vars(g).values() if inspect.isclass(c) and issubclass(c, g.PdfObject)]:
    own = cls.__dict__.get("write_to_stream")
    if own is not None:
        cls.write_to_stream = lambda self, stream, key=None, _own=own: _own(self, stream)
from cryptography.hazmat.primitives.serialization import pkcs12
from endesive.pdf import cms
src, p12 = sys.argv[1:3]
passphrase = os.environ["BENCH_PASSPHRASE"]  # a secret never rides on argv
visible, rounds = sys.argv[3] == "1", int(sys.argv[4])
data = Path(src).read_bytes()
key, cert, chain = pkcs12.load_key_and_certificates(Path(p12).read_bytes(), passphrase.encode())
udct = {"sigflags": 3, "contact": "saraban@example.go.th", "location": "Bangkok", "sigpage": 0,
        "signingdate": "D:20261121034200+00'00'", "reason": "approve", "signature": "(นายสมชาย ใจดี)"}
if visible:
    udct["signaturebox"] = (300, 45, 560, 145)
try:
    samples = []
    for _ in range(rounds + 2):
        t = time.perf_counter()
        cms.sign(data, udct, key, cert, list(chain), "sha256")
        samples.append(time.perf_counter() - t)
except Exception as exc:
    if b"/XRef" in data:
        print("cannot append to a PDF whose cross-reference is a stream (endesive 3.0.1, pypdf 7)")
    else:
        print(f"failed: {type(exc).__name__}: {str(exc)[:60]}")
else:
    print(f"{statistics.median(samples[2:]) * 1000:7.1f} ms (median of {rounds})")
"""


def _endesive(src: Path, p12: Path, visible: bool, rounds: int) -> str:
    """endesive's PDF signer on the same letter, timed in a process of its own (it needs a shim
    over pypdf that must not touch the other signers' process)."""
    from support.pki import PASSPHRASE

    r = subprocess.run(
        [
            sys.executable,
            "-c",
            _ENDESIVE_SCRIPT,
            str(src),
            str(p12),
            str(int(visible)),
            str(rounds),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BENCH_PASSPHRASE": PASSPHRASE},
    )
    if r.returncode != 0:
        return f"unavailable: {(r.stderr.strip().splitlines() or ['?'])[-1][:80]}"
    return r.stdout.strip()


def _big_pdf(path: Path, megabytes: int) -> None:
    """A letter with an incremental update holding one large stream, written in chunks."""
    from thaisign.pades.letter import make_letter

    base = make_letter(1, xref_stream=False)
    import re

    size = int(re.findall(rb"/Size (\d+)", base)[-1])
    root = re.findall(rb"/Root (\d+ \d+ R)", base)[-1]
    prev = int(re.findall(rb"startxref\s+(\d+)", base)[-1])
    length = megabytes * 1024 * 1024
    with path.open("wb") as f:
        f.write(base)
        offset = f.tell() + 1
        f.write(b"\n%d 0 obj\n<< /Length %d >>\nstream\n" % (size, length))
        chunk = os.urandom(1 << 20)
        for _ in range(megabytes):
            f.write(chunk)
        f.write(b"\nendstream\nendobj\n")
        xref = f.tell()
        f.write(b"xref\n%d 1\n%010d 00000 n \n" % (size, offset))
        f.write(
            b"trailer\n<< /Size %d /Root %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
            % (size + 1, root, prev, xref)
        )


def _compare(
    p12: Path,
    src: Path,
    data: bytes,
    visible: bool,
    tmp: Path,
    rounds: int,
    thai_stamp: object,
) -> str:
    """One line of figures: thaisign, pyHanko (key parsed once / per document), endesive."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from support.pki import PASSPHRASE

    from thaisign.keys import Signer
    from thaisign.pades import SigningOptions, sign_pdf

    signer = Signer.from_pkcs12(p12, PASSPHRASE)
    opts = SigningOptions(rect=RECT if visible else None)
    out = tmp / "out.pdf"
    ours = _timed(lambda: sign_pdf(src, out, signer, opts), rounds)
    meta = signers.PdfSignatureMetadata(field_name="Sig1", subfilter=fields.SigSeedSubFilter.PADES)
    spec = fields.SigFieldSpec("Sig1", box=RECT) if visible else None
    simple = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=PASSPHRASE.encode())

    def pyhanko(load_key: bool) -> None:
        s = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=PASSPHRASE.encode()) if load_key else simple
        w = IncrementalPdfFileWriter(io.BytesIO(data))
        pdf_signer = signers.PdfSigner(meta, s, stamp_style=thai_stamp, new_field_spec=spec)  # type: ignore[arg-type]
        pdf_signer.sign_pdf(w, output=io.BytesIO())

    line = f"thaisign {_ms(ours)} | pyHanko key once {_ms(_timed(lambda: pyhanko(False), rounds))}"
    line += f" | pyHanko key per doc {_ms(_timed(lambda: pyhanko(True), max(5, rounds // 3)))}"
    return line + f" | endesive {_endesive(src, p12, visible, rounds)}"


_MEM_SCRIPT = r"""
import io, os, sys
kind, src, dst, p12 = sys.argv[1:5]
pw = os.environ["BENCH_PASSPHRASE"]
if kind == "thaisign":
    from thaisign.keys import Signer
    from thaisign.pades import sign_pdf
    sign_pdf(src, dst, Signer.from_pkcs12(p12, pw))
else:
    from pyhanko.sign import signers, fields
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    s = signers.SimpleSigner.load_pkcs12(p12, passphrase=pw.encode())
    meta = signers.PdfSignatureMetadata(field_name="Sig1", subfilter=fields.SigSeedSubFilter.PADES)
    with open(src, "rb") as inf, open(dst, "w+b") as out:
        signers.PdfSigner(meta, s).sign_pdf(IncrementalPdfFileWriter(inf), output=out)
# VmHWM is this process's own peak (ru_maxrss would carry the parent's size over fork+exec)
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="signatures per measurement")
    parser.add_argument("--batch", type=int, default=60, help="letters for the sign_many comparison")
    parser.add_argument("--big-mb", type=int, default=200, help="size of the memory-test PDF (0: skip)")
    parser.add_argument("--pkcs11", action="store_true", help="also run benchmarks/_pkcs11_bench.py")
    args = parser.parse_args(argv)

    if args.pkcs11:  # SoftHSM must be configured before anything loads it
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import _pkcs11_bench

        _pkcs11_bench.main([])

    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
    from pyhanko.stamp import TextStampStyle
    from support.pki import PASSPHRASE, build_test_pki

    from thaisign.pades import KeySource, SigningOptions, make_letter, sign_many
    from thaisign.pades._shaping import default_font_path

    tmp = Path(tempfile.mkdtemp(prefix="thaisign-bench-"))
    pki = build_test_pki(tmp / "pki", "http://127.0.0.1:9")
    letters = {
        "1 page": make_letter(1),
        # endesive 3.0.1 with pypdf 7 appends to a classic cross-reference table only: this row
        # compares all three
        "1p table": make_letter(1, xref_stream=False),
        "20 pages": make_letter(20),
        "5 MB": make_letter(1, filler_bytes=5 * 1024 * 1024),
    }
    for name, data in letters.items():
        (tmp / f"{name.replace(' ', '-')}.pdf").write_bytes(data)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; files in {tmp}")
    thai_stamp = TextStampStyle(
        stamp_text="(%(signer)s)\nลงนามเมื่อ %(ts)s",
        text_box_style=__import__("pyhanko.pdf_utils.text", fromlist=["TextBoxStyle"]).TextBoxStyle(
            font=GlyphAccumulatorFactory(str(default_font_path()))
        ),
    )

    for key_name, issued in (("RSA-2048", pki.officer_rsa), ("P-256", pki.officer_ec)):
        for letter_name, data in letters.items():
            for visible in (False, True):
                label = f"{key_name:8} {letter_name:8} {'visible' if visible else 'invisible':9}"
                src = tmp / f"{letter_name.replace(' ', '-')}.pdf"
                print(
                    label + "  " + _compare(issued.p12, src, data, visible, tmp, args.rounds, thai_stamp),
                    flush=True,
                )

    # sign_many: 1 worker vs 2 workers, the same batch
    batch_dir = tmp / "batch"
    batch_dir.mkdir()
    files = []
    for i in range(args.batch):
        p = batch_dir / f"letter-{i:03d}.pdf"
        p.write_bytes(letters["1 page"])
        files.append(p)
    key = KeySource(p12=str(pki.officer_ec.p12), passphrase=PASSPHRASE)
    timings = {}
    for workers in (1, 2):
        out_dir = tmp / f"out-{workers}"
        out_dir.mkdir()
        t = time.perf_counter()
        items = sign_many(files, out_dir, key, SigningOptions(rect=RECT), workers=workers)
        timings[workers] = time.perf_counter() - t
        assert all(i.ok for i in items)
        print(
            f"sign_many {args.batch} visible P-256 letters, {workers} worker(s): {timings[workers]:.2f} s "
            f"({timings[workers] / args.batch * 1000:.1f} ms/letter)"
        )
    print(f"sign_many speed-up 2 workers vs 1: {timings[1] / timings[2]:.2f}x")

    # one letter: the cost of making the output durable (sign_many syncs once per group of 16)
    from thaisign._fs import GroupWriter
    from thaisign.keys import Signer
    from thaisign.pades import sign_pdf, sign_pdf_bytes

    signer = Signer.from_pkcs12(pki.officer_ec.p12, PASSPHRASE)
    one = SigningOptions(rect=RECT)
    src = tmp / "1-page.pdf"
    durable = _timed(lambda: sign_pdf(src, tmp / "durable.pdf", signer, one), args.rounds)

    def grouped() -> None:
        group = GroupWriter()
        sign_pdf(src, tmp / "grouped.pdf", signer, one, group=group)
        group.commit()

    def unsynced() -> None:
        (tmp / "plain.pdf").write_bytes(sign_pdf_bytes(src.read_bytes(), signer, one))

    print(f"one visible P-256 letter, atomic write + fsync:       {_ms(durable)}")
    print(f"one visible P-256 letter, group of one (syncfs):      {_ms(_timed(grouped, args.rounds))}")
    print(f"one visible P-256 letter, written without any sync:   {_ms(_timed(unsynced, args.rounds))}")

    # start-up
    env = {**os.environ}
    startup = _timed(
        lambda: subprocess.run(
            [sys.executable, "-m", "thaisign", "--version"], env=env, capture_output=True, check=True
        ),
        7,
        warmup=1,
    )
    print(f"thaisign --version: {_ms(startup)}")
    cmd = [sys.executable, "-c", "import pyhanko.sign.signers"]
    ph = _timed(lambda: subprocess.run(cmd, capture_output=True, check=True), 5, 1)
    print(f"import pyhanko.sign.signers in a new python (pyHanko CLI not installed here): {_ms(ph)}")

    if args.big_mb:
        big = tmp / "big.pdf"
        _big_pdf(big, args.big_mb)
        size_mb = big.stat().st_size / 2**20
        for kind in ("thaisign", "pyhanko"):
            t = time.perf_counter()
            r = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    _MEM_SCRIPT,
                    kind,
                    str(big),
                    str(tmp / f"big-{kind}.pdf"),
                    str(pki.officer_ec.p12),
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "BENCH_PASSPHRASE": PASSPHRASE},
            )
            if r.returncode != 0:
                print(f"{kind}: {args.big_mb} MB PDF failed: {r.stderr.strip().splitlines()[-1:]}")
                continue
            rss_mb = int(r.stdout.strip().splitlines()[-1]) / 1024
            print(
                f"{kind:8} signing a {size_mb:.0f} MB PDF: peak RSS {rss_mb:.0f} MB "
                f"(target {1.5 * size_mb + 100:.0f} MB), {time.perf_counter() - t:.1f} s"
            )
        for p in tmp.glob("big*.pdf"):
            p.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
