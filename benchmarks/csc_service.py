"""The remote signing service (CSC API) under load, on loopback: signHash (P-256 in SoftHSM2),
signDoc (one-page Thai letters, PAdES B-B with the visible signature), latency at a fixed rate,
and in the same run pyHanko's CSCSigner (client time per letter through the service) and pyHanko
signing locally (software key, one process).

    python benchmarks/csc_service.py [--duration 5] [--connections 64] [--workers 4]

Set-up (not timed): SoftHSM2 token, agency CA, OpenID provider (node), PostgreSQL, and
``thaisign service --workers N`` with one enrolled officer. SADs for the timed runs are minted
straight into the service's database beforehand: each real ``credentials/authorize`` costs a
scrypt PIN check, which is measured on its own. Load comes from ``wrk`` (one thread, closed
loop, every request with its own single-use SAD) and, for the fixed-rate latency runs, from an
asyncio client in this process. The load client shares the machine's cores with the service,
PostgreSQL and SoftHSM2 (say so when quoting figures). Everything stops by itself.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from support.csc_deployment import AUDIENCE, Infrastructure, infrastructure, officer_fields, post
from support.pdfs import minimal_pdf
from support.servers import run_postgres

warnings.filterwarnings("ignore", message="Attribute's length must be")

PIN = "918273"
ECDSA_SHA256 = "1.2.840.10045.4.3.2"
SHA256 = "2.16.840.1.101.3.4.2.1"

LUA = r"""
local path, token = ...
local bodies = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  local f = io.open(args[2]); tok = f:read("*l"); f:close()
end
request = function()
  i = i + 1
  if i > #bodies then return wrk.format("GET", "/health") end
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tok}
  return wrk.format("POST", "%(path)s", headers, bodies[i])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%%d errors=%%d non2xx=%%d p50=%%d p90=%%d p99=%%d\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, summary.errors.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


@dataclass
class Figure:
    name: str
    per_second: float
    unit: str
    p50_ms: float | None = None
    p99_ms: float | None = None
    note: str = ""

    def line(self) -> str:
        lat = ""
        if self.p50_ms is not None and self.p99_ms is not None:
            lat = f"  p50 {self.p50_ms:7.2f} ms  p99 {self.p99_ms:7.2f} ms"
        return f"{self.name:<58} {self.per_second:>8,.1f} {self.unit:<12}{lat}  {self.note}"


# --- set-up -----------------------------------------------------------------------------------


def enroll(infra: Infrastructure, url: str) -> str:
    token = infra.op.login("somchai", AUDIENCE)
    r = post(url, "enroll/v1/requests", {"officer": officer_fields("somchai"), "PIN": PIN}, token)
    r.raise_for_status()
    operator = infra.op.login("operator", AUDIENCE)
    r = post(url, f"enroll/v1/requests/{r.json()['requestID']}/approve", {}, operator)
    r.raise_for_status()
    return str(r.json()["credentialID"])


def mint_sads(
    db_url: str, credential: str, hash_sets: list[list[str]], client: str = "eoffice-web"
) -> list[str]:
    """SADs written straight into the service database (what authorize would store), one per hash set."""
    from sqlalchemy import insert

    from thaisign.service.store import ServiceStore, naive, sads

    now = dt.datetime.now(dt.UTC)
    out, rows = [], []
    for hashes in hash_sets:
        sad = secrets.token_urlsafe(32)
        out.append(sad)
        rows.append(
            {
                "sad_hash": hashlib.sha256(sad.encode()).hexdigest(),
                "credential_id": credential,
                "subject": "somchai",
                "client_id": client,
                "hash_algo": "sha256",
                "hashes": json.dumps(hashes),
                "num_signatures": len(hashes),
                "created_at": naive(now),
                "expires_at": naive(now + dt.timedelta(hours=1)),
            }
        )
    store = ServiceStore.connect(db_url)
    try:
        with store.write() as conn:
            for start in range(0, len(rows), 5000):
                conn.execute(insert(sads), rows[start : start + 5000])
    finally:
        store.close()
    from _pg import settle  # thousands of SADs at once: their autovacuum must not land in a timed run

    settle(db_url, ("csc_sads", "csc_audit"))
    return out


def digest_b64(i: int) -> str:
    return base64.b64encode(hashlib.sha256(f"letter {i} {secrets.token_hex(4)}".encode()).digest()).decode()


# --- CPU accounting ---------------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    out = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for child in children:
        out += _descendants(int(child))
    return out


def cpu_seconds(roots: list[int]) -> float:
    """User + system CPU time of the processes ``roots`` and all their descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for root in roots:
        for pid in _descendants(root):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
    return total / tick


class CpuMeter:
    """CPU spent by the service (workers, SoftHSM2 in them) and by PostgreSQL during a run."""

    def __init__(self, service_pid: int, postgres_pid: int) -> None:
        self.roots = {"service": [service_pid], "postgres": [postgres_pid]}

    def __enter__(self) -> CpuMeter:
        self.start = {k: cpu_seconds(v) for k, v in self.roots.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        self.used = {k: cpu_seconds(v) - self.start[k] for k, v in self.roots.items()}

    def per_unit_ms(self, units: float) -> str:
        service, pg = (self.used[k] / max(units, 1) * 1000 for k in ("service", "postgres"))
        cores = os.cpu_count() or 1
        capacity = cores / max((self.used["service"] + self.used["postgres"]) / max(units, 1), 1e-9)
        return (
            f"CPU {service:.2f} ms service + {pg:.2f} ms PostgreSQL each"
            f" -> {capacity:,.0f}/s on {cores} idle cores"
        )


# --- load -------------------------------------------------------------------------------------


def run_wrk(
    meter: CpuMeter | None,
    name: str,
    url: str,
    path: str,
    bodies: list[str],
    token_file: Path,
    args: argparse.Namespace,
    tmp: Path,
    per_request: int,
    unit: str,
) -> Figure:
    script, data = tmp / f"{name.split()[0]}.lua", tmp / f"{name.split()[0]}.jsonl"
    script.write_text(LUA % {"path": path})
    data.write_text("\n".join(bodies) + "\n")
    with meter or contextlib.nullcontext():
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{args.connections}",
                f"-d{args.duration}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                url,
                "--",
                str(data),
                str(token_file),
            ],
            capture_output=True,
            text=True,
            timeout=args.duration + 120,
            check=True,
        ).stdout
    m = re.search(r"RESULT requests=(\d+) errors=(\d+) non2xx=(\d+) p50=(\d+) p90=(\d+) p99=(\d+)", out)
    assert m, out
    requests_, errors, non2xx = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if requests_ >= len(bodies):
        print(f"  warning: {name}: ran out of SADs ({len(bodies)}), raise the count", file=sys.stderr)
    ok = min(requests_, len(bodies)) - errors - non2xx
    rate = ok * per_request / args.duration
    note = f"{ok:,} requests ok, {errors + non2xx} failed, {args.connections} connections"
    if meter is not None:
        note += "; " + meter.per_unit_ms(ok * per_request)
    return Figure(name, rate, unit, int(m.group(4)) / 1000, int(m.group(6)) / 1000, note)


def fixed_rate(
    name: str,
    url: str,
    path: str,
    bodies: list[str],
    token: str,
    rate: float,
    seconds: float,
    per_request: int,
    unit: str,
    meter: CpuMeter | None = None,
) -> Figure:
    """Open loop (benchmarks/_openloop.py): request i due at start + i/rate, each timed from its
    due time, for ``seconds``."""
    from urllib.parse import urlsplit

    from _openloop import http_request, open_loop

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    count = min(int(rate * seconds), len(bodies))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    requests_ = [http_request("POST", host, path, b.encode(), headers) for b in bodies[:count]]
    client_cpu = time.process_time()
    with meter or contextlib.nullcontext():
        result = open_loop(host, port, requests_, rate)
    client_cpu = time.process_time() - client_cpu
    note = (
        f"open loop, {len(result.latencies):,} ok, {result.failures} failed, {result.connections} connections"
    )
    if meter is not None:
        note += "; " + meter.per_unit_ms(len(result.latencies) * per_request)
    note += f"; load client {client_cpu / max(count, 1) * 1000:.2f} ms CPU/request"
    if result.late_starts > count // 100:
        note += f", {result.late_starts} sent > 1 ms late"
    return Figure(
        name, rate * per_request, unit, result.percentile(50) * 1000, result.percentile(99) * 1000, note
    )


# --- pyHanko ----------------------------------------------------------------------------------


def pyhanko_local(letters: int) -> Figure:
    """pyHanko's own signer with a software P-256 key, one process: the local baseline."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "นายสมชาย ใจดี")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256())
    )  # fmt: skip
    tmp = Path(tempfile.mkdtemp())
    (tmp / "k.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (tmp / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    signer = signers.SimpleSigner.load(str(tmp / "k.pem"), str(tmp / "c.pem"))
    pdf = minimal_pdf("pyHanko local")
    meta = signers.PdfSignatureMetadata(field_name="Signature1", subfilter=fields.SigSeedSubFilter.PADES)
    for _ in range(3):
        signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer)
    started = time.perf_counter()
    for _ in range(letters):
        signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer)
    elapsed = time.perf_counter() - started
    shutil.rmtree(tmp)
    return Figure(
        "pyHanko sign_pdf locally (software P-256, invisible, 1 process)",
        letters / elapsed,
        "letters/s",
        note=f"{elapsed / letters * 1000:.1f} ms/letter",
    )


def thaisign_local(letters: int) -> Figure:
    """thaisign's sign_pdf_bytes with a software P-256 key, the same letter and Thai visible signature
    as signDoc, one process: what signDoc costs without HTTP, JSON, the database and the token."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from thaisign.keys import SoftwareSigner
    from thaisign.pades.signer import SigningOptions, sign_pdf_bytes

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "นายสมชาย ใจดี"),
            x509.NameAttribute(NameOID.TITLE, "นักวิชาการคอมพิวเตอร์ชำนาญการ"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "กรมทดสอบดิจิทัล"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256())
    )  # fmt: skip
    signer = SoftwareSigner(key, cert)
    pdf = minimal_pdf("หนังสือราชการ ทดสอบการลงนาม")
    options = SigningOptions(level="B-B", rect=(330, 80, 560, 170))
    for _ in range(3):
        sign_pdf_bytes(pdf, signer, options)
    started = time.perf_counter()
    for _ in range(letters):
        sign_pdf_bytes(pdf, signer, options)
    elapsed = time.perf_counter() - started
    return Figure(
        "thaisign sign_pdf_bytes locally (software P-256, Thai visible)",
        letters / elapsed,
        "letters/s",
        note=f"{elapsed / letters * 1000:.1f} ms/letter, 1 process",
    )


def pyhanko_csc(url: str, token: str, credential: str, letters: int) -> tuple[Figure, Figure]:
    """pyHanko's CSCSigner through the service: authorize (PIN) + signHash per letter, sequential."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "service"))
    from csc_helpers import pyhanko_csc_sign

    pdf = minimal_pdf("pyHanko CSC")
    pyhanko_csc_sign(url, token, credential, {"PIN": PIN}, dt.datetime.now(dt.UTC), pdf)
    times = []
    for _ in range(letters):
        started = time.perf_counter()
        pyhanko_csc_sign(url, token, credential, {"PIN": PIN}, dt.datetime.now(dt.UTC), pdf)
        times.append(time.perf_counter() - started)
    # authorize alone, same PIN check, for the breakdown
    auth = []
    for i in range(letters):
        h = [digest_b64(i)]
        started = time.perf_counter()
        r = post(
            url,
            "csc/v1/credentials/authorize",
            {"credentialID": credential, "numSignatures": 1, "hash": h, "PIN": PIN},
            token,
        )
        auth.append(time.perf_counter() - started)
        r.raise_for_status()
    mean = statistics.mean(times)
    return (
        Figure(
            "pyHanko CSCSigner through the service (client time, 1 at a time)",
            1 / mean,
            "letters/s",
            note=f"{mean * 1000:.1f} ms/letter incl. authorize",
        ),
        Figure(
            "  of which credentials/authorize (scrypt PIN check)",
            1 / statistics.mean(auth),
            "authorize/s",
            note=f"{statistics.mean(auth) * 1000:.1f} ms each, sequential",
        ),
    )


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 2,
        help="service worker processes (default one per core: larger group commits, less switching)",
    )
    parser.add_argument("--letters", type=int, default=20, help="letters for the pyHanko figures")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian package wrk): run scripts/setup.sh")
    figures: list[Figure] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="thaisign-csc-bench-") as tmp_name, run_postgres() as pg:
        tmp = Path(tmp_name)
        with infrastructure(tmp / "infra", None, token_ttl=3600) as infra:
            db = pg.new_database("csc_bench")
            directory = infra.service("bench", factor="pin", db=db, max_failures=5, sad_seconds=3600)
            service = infra.serve(directory, workers=args.workers)
            try:
                credential = enroll(infra, service.url)
                token = infra.op.login("somchai", AUDIENCE)
                token_file = tmp / "token"
                token_file.write_text(token + "\n")
                token_file.chmod(0o600)
                url = service.url
                postmaster = int((pg.datadir / "postmaster.pid").read_text().split()[0])

                def meter() -> CpuMeter:
                    return CpuMeter(service.process.pid, postmaster)

                def hash_bodies(n: int, batch: int) -> list[str]:
                    sets = [[digest_b64(i * batch + j) for j in range(batch)] for i in range(n)]
                    return [
                        json.dumps(
                            {
                                "credentialID": credential,
                                "SAD": sad,
                                "hash": h,
                                "hashAlgo": SHA256,
                                "signAlgo": ECDSA_SHA256,
                            }
                        )
                        for sad, h in zip(mint_sads(db, credential, sets), sets, strict=True)
                    ]

                # warm-up: open the token key and the PDF machinery in every worker
                run_wrk(
                    None,
                    "warm-up",
                    url,
                    "/csc/v1/signatures/signHash",
                    hash_bodies(2000, 1),
                    token_file,
                    argparse.Namespace(**{**vars(args), "duration": 3}),
                    tmp,
                    1,
                    "sig/s",
                )
                for batch in (1, 8, 32):
                    bodies = hash_bodies(max(4000, args.duration * (5000 if batch == 1 else 1500)), batch)
                    fig = run_wrk(
                        meter(),
                        f"signHash P-256 SoftHSM2, {batch} hash(es)/request",
                        url,
                        "/csc/v1/signatures/signHash",
                        bodies,
                        token_file,
                        args,
                        tmp,
                        batch,
                        "sig/s",
                    )
                    figures.append(fig)
                    print(fig.line(), file=sys.stderr)

                def at_half(
                    what: str,
                    path: str,
                    measured: float,
                    target: float,
                    bodies: Callable[[int], list[str]],
                    unit: str,
                ) -> None:
                    """Fixed-rate runs at half the measured rate, and at half the issue's target when
                    that is lower (the p99 targets are stated at half the rate)."""
                    for label, rate in (("half that rate", measured / 2), ("half the target", target / 2)):
                        if label == "half the target" and rate >= measured / 2:
                            continue
                        fig = fixed_rate(
                            f"{what} at {label}",
                            url,
                            path,
                            bodies(int(rate * 6) + 10),
                            token,
                            rate,
                            5,
                            1,
                            unit,
                            meter(),
                        )
                        figures.append(fig)
                        print(fig.line(), file=sys.stderr)

                at_half(
                    "signHash, 1 hash/request,", "/csc/v1/signatures/signHash", figures[0].per_second, 2000.0,
                    lambda n: hash_bodies(n, 1), "sig/s",
                )  # fmt: skip

                letter = minimal_pdf("หนังสือราชการ ทดสอบการลงนาม")
                b64_letter = base64.b64encode(letter).decode()
                letter_hash = base64.b64encode(hashlib.sha256(letter).digest()).decode()

                def doc_bodies(n: int) -> list[str]:
                    doc = {
                        "document": b64_letter,
                        "signature_format": "P",
                        "conformance_level": "Ades-B-B",
                        "appearance": {"page": 1, "rect": [330, 80, 560, 170]},
                    }
                    return [
                        json.dumps({"credentialID": credential, "SAD": sad, "documents": [doc]})
                        for sad in mint_sads(db, credential, [[letter_hash]] * n)
                    ]

                run_wrk(
                    None,
                    "warm-up",
                    url,
                    "/csc/v1/signatures/signDoc",
                    doc_bodies(400),
                    token_file,
                    argparse.Namespace(**{**vars(args), "duration": 3}),
                    tmp,
                    1,
                    "letters/s",
                )
                fig = run_wrk(
                    meter(),
                    "signDoc one-page letter, B-B, Thai visible signature",
                    url,
                    "/csc/v1/signatures/signDoc",
                    doc_bodies(max(2000, args.duration * 400)),
                    token_file,
                    args,
                    tmp,
                    1,
                    "letters/s",
                )
                figures.append(fig)
                print(fig.line(), file=sys.stderr)
                at_half(
                    "signDoc", "/csc/v1/signatures/signDoc", fig.per_second, 200.0, doc_bodies, "letters/s"
                )

                for f in pyhanko_csc(url, token, credential, args.letters):
                    figures.append(f)
                    print(f.line(), file=sys.stderr)
            finally:
                service.stop()
    figures.append(pyhanko_local(max(50, args.letters * 5)))
    figures.append(thaisign_local(max(50, args.letters * 5)))
    cores = os.cpu_count()
    print(
        f"\nCSC service benchmark: {args.workers} service workers, PostgreSQL, SoftHSM2, "
        f"wrk -t1 -c{args.connections}, {cores} cores shared by all; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other work on the machine)"
    )
    for f in figures:
        print(f.line())


if __name__ == "__main__":
    main()
