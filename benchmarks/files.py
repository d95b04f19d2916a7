"""Signing and verifying any file: thaisign against ``openssl cms`` and ``sha256sum`` on the same
files, in the same run.

PRINTS figures, asserts nothing:

1. CAdES over a 100 MB file (random bytes on disk): ``sha256sum`` (the floor: reading and
   hashing), ``openssl cms -sign -binary`` (detached, SHA-256), thaisign's ``sign_file`` in
   process and the ``thaisign sign-file`` command (start-up included); verification by
   ``openssl cms -verify`` and by thaisign.
2. ASiC-E with 1,000 small files (a few kB each): ``sign_asic`` and ``verify_asic``.
3. Bounded memory: a sparse multi-GB file signed detached, enveloping and into an ASiC-E in a
   fresh process each; peak RSS (max resident set size) and time.

    python benchmarks/files.py [--mb 100] [--rounds 3] [--big-gb 2] [--small 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
PY = sys.executable


def _median(fn: Callable[[], object], rounds: int) -> float:
    fn()  # warm the page cache and the imports
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def _run(args: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(args, check=True, capture_output=True, env={**os.environ, **(env or {})})


def _line(label: str, seconds: float, mb: float | None = None) -> None:
    rate = f"  {mb / seconds:7.0f} MB/s" if mb else ""
    print(f"  {label:52} {seconds * 1000:9.1f} ms{rate}")


def hashing_and_signing(pki: object, work: Path, mb: int, rounds: int) -> None:
    from support.pki import FIXED_TIME, PASSPHRASE

    from thaisign.files import sign_file
    from thaisign.keys import Signer
    from thaisign.verify import TrustStore
    from thaisign.verify.cades import verify_cades

    data = work / "evidence.bin"
    with data.open("wb") as fh:
        for _ in range(mb):
            fh.write(os.urandom(1 << 20))
    signer = Signer.from_pkcs12(pki.officer_ec.p12, PASSPHRASE)  # type: ignore[attr-defined]
    off = pki.officer_ec  # type: ignore[attr-defined]
    print(f"\n1. CAdES over a {mb} MB file (P-256 key, SHA-256, detached; median of {rounds})")
    _line("sha256sum", _median(lambda: _run(["sha256sum", str(data)]), rounds), mb)
    openssl_sign = [
        "openssl", "cms", "-sign", "-binary", "-in", str(data), "-signer", str(off.cert_pem), "-inkey",
        str(off.key_pem), "-passin", "env:KEYPASS", "-outform", "DER", "-out", str(work / "o.p7s"),
        "-md", "sha256",
    ]  # fmt: skip
    _line(
        "openssl cms -sign -binary", _median(lambda: _run(openssl_sign, {"KEYPASS": PASSPHRASE}), rounds), mb
    )
    out = work / "t.p7s"
    _line(
        "thaisign sign_file (library)",
        _median(lambda: sign_file(data, out, signer, signing_time=FIXED_TIME), rounds),
        mb,
    )
    cli = [PY, "-m", "thaisign", "sign-file", str(data), "-o", str(out), "--p12", str(off.p12)]
    _line(
        "thaisign sign-file (command, start-up included)",
        _median(lambda: _run(cli, {"THAISIGN_PASSPHRASE": PASSPHRASE}), rounds),
        mb,
    )
    env_out = work / "t.p7m"
    _line(
        "thaisign sign_file enveloping (read twice)",
        _median(lambda: sign_file(data, env_out, signer, signing_time=FIXED_TIME, enveloping=True), rounds),
        mb,
    )
    openssl_verify = [
        "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(out), "-content", str(data),
        "-CAfile", str(pki.root_pem), "-purpose", "any", "-out", "/dev/null",  # type: ignore[attr-defined]
    ]  # fmt: skip
    _line("openssl cms -verify -binary", _median(lambda: _run(openssl_verify), rounds), mb)
    trust = TrustStore.from_paths(pki.root_pem, include_nrca=False)  # type: ignore[attr-defined]
    at = dt.datetime.now(dt.UTC)
    _line(
        "thaisign verify_cades (revocation off)",
        _median(lambda: verify_cades(out, trust, data=data, at=at, revocation="off"), rounds),
        mb,
    )


def many_small_files(pki: object, work: Path, count: int, rounds: int) -> None:
    from support.pki import FIXED_TIME, PASSPHRASE

    from thaisign.files import sign_asic
    from thaisign.keys import Signer
    from thaisign.verify import TrustStore
    from thaisign.verify.asic import verify_asic

    folder = work / "small"
    folder.mkdir()
    files = []
    for n in range(count):
        p = folder / f"หน้า-{n:04d}.txt"
        p.write_bytes(os.urandom(1024) + f"page {n}\n".encode() * 200)
        files.append(p)
    signer = Signer.from_pkcs12(pki.officer_ec.p12, PASSPHRASE)  # type: ignore[attr-defined]
    out = work / "small.asice"
    kb = sum(p.stat().st_size for p in files) // 1024
    print(f"\n2. ASiC-E with {count} small files ({kb} kB; median of {rounds})")
    _line(
        "thaisign sign_asic", _median(lambda: sign_asic(files, out, signer, signing_time=FIXED_TIME), rounds)
    )
    trust = TrustStore.from_paths(pki.root_pem, include_nrca=False)  # type: ignore[attr-defined]
    at = dt.datetime.now(dt.UTC)
    _line(
        "thaisign verify_asic (revocation off)",
        _median(lambda: verify_asic(out, trust, at=at, revocation="off"), rounds),
    )
    _line(
        "zip -q -r (plain ZIP of the same files, for scale)",
        _median(lambda: _run(["zip", "-q", "-r", str(work / "z.zip"), str(folder)]), rounds),
    ) if _has("zip") else None
    _line("unzip -t of the container", _median(lambda: _run(["unzip", "-t", "-qq", str(out)]), rounds))


def _has(tool: str) -> bool:
    import shutil

    return shutil.which(tool) is not None


_CHILD = """
import sys, time, resource
sys.path.insert(0, {tests!r})
from support.pki import FIXED_TIME, PASSPHRASE
from thaisign.keys import Signer
from thaisign.files import sign_file, sign_asic
signer = Signer.from_pkcs12({p12!r}, PASSPHRASE)
t = time.perf_counter()
if {mode!r} == "asic":
    sign_asic([{data!r}], {out!r}, signer, signing_time=FIXED_TIME)
else:
    sign_file({data!r}, {out!r}, signer, signing_time=FIXED_TIME, enveloping={mode!r} == "enveloping")
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def bounded_memory(pki: object, work: Path, gigabytes: float) -> None:
    big = work / "video.mp4"
    size = int(gigabytes * 1024**3)
    with big.open("wb") as fh:  # sparse: the bytes are zeros the file system makes up on reading
        fh.truncate(size)
    print(f"\n3. Bounded memory: a {gigabytes:g} GB file (sparse), one fresh process each")
    baseline = subprocess.run(
        [PY, "-c", "import resource, thaisign.files, thaisign.keys\n"
         "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    print(f"  {'python + thaisign imported, nothing signed':52} peak RSS {int(baseline) / 1024:7.1f} MB")
    for mode, name in (("detached", "v.p7s"), ("enveloping", "v.p7m"), ("asic", "v.asice")):
        code = _CHILD.format(
            tests=str(ROOT / "tests"),
            p12=str(pki.officer_ec.p12),
            data=str(big),
            out=str(work / name),
            mode=mode,  # type: ignore[attr-defined]
        )
        proc = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True)
        seconds, rss_kb = proc.stdout.split()
        print(
            f"  {mode:52} peak RSS {int(rss_kb) / 1024:7.1f} MB, {float(seconds):6.1f} s, "
            f"output {(work / name).stat().st_size / 1024**2:8.1f} MB"
        )
        (work / name).unlink()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--big-gb", type=float, default=2.0)
    args = parser.parse_args()
    from support.pki import build_test_pki

    with tempfile.TemporaryDirectory(prefix="thaisign-bench-files-") as tmp:
        work = Path(tmp)
        pki = build_test_pki(work / "pki", "http://127.0.0.1:9")
        print(f"thaisign files benchmark — {os.cpu_count()} cores, Python {sys.version.split()[0]}")
        hashing_and_signing(pki, work, args.mb, args.rounds)
        many_small_files(pki, work, args.small, args.rounds)
        if args.big_gb > 0:
            bounded_memory(pki, work, args.big_gb)
        print(
            f"\n(max RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
        )


if __name__ == "__main__":
    main()
