"""OCSP and TSA throughput and latency on loopback, against `openssl ocsp -index ... -port`.

Builds a CA holding N certificates (default 100,000; 1% revoked) on SQLite and on PostgreSQL
(a throw-away server started here), serves it with ``thaisign ca serve --workers 2`` and
OpenSSL's responder (``-multi 2``) on the same certificates, and drives each with ``wrk``
(Debian package) for a bounded time. Then a TSA (``thaisign tsa serve --workers 2``) on both
stores. Prints requests/s and p50/p90/p99 latency.

    python benchmarks/services.py [--certs 100000] [--duration 5] [--connections 16] [--no-postgres]

Everything runs on 127.0.0.1 and stops by itself; the load client shares the machine's cores
with the servers (say so when quoting figures).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.servers import free_port, run_postgres, wait_for_port

from thaisign.ca import Authority, CaProfile, OfficerProfile
from thaisign.ca.profiles import PROFILE_FILE
from thaisign.ca.server import issue_responder
from thaisign.ca.store import CertificateStore

warnings.filterwarnings("ignore", message="Attribute's length must be")

CA_PASS = "bench-ca-passphrase"
RESPONDER_PASS = "bench-responder-passphrase"
TSA_PASS = "bench-tsa-passphrase"
LUA_DONE = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d p50=%d p90=%d p99=%d\\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, summary.errors.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


@dataclasses.dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int

    def line(self) -> str:
        return (
            f"{self.name:<62} {self.rps:>7,.0f} req/s  p50 {self.p50_ms:6.2f} ms  "
            f"p90 {self.p90_ms:6.2f} ms   p99 {self.p99_ms:6.2f} ms   errors {self.errors}"
        )


def _lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{b}" for b in data) + '"'


def _wrk_script(path: Path, bodies: list[bytes], content_type: str, url_path: str) -> None:
    items = ",\n".join(_lua_string(b) for b in bodies)
    path.write_text(
        f"local bodies = {{{items}}}\nlocal i = 0\n"
        "request = function()\n  i = i % #bodies + 1\n"
        f'  local headers = {{["Content-Type"] = "{content_type}"}}\n'
        f'  return wrk.format("POST", "{url_path}", headers, bodies[i])\nend\n' + LUA_DONE
    )


def run_wrk(name: str, url: str, script: Path, duration: int, connections: int) -> Result:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"RESULT requests=(\d+) errors=(\d+) non2xx=(\d+) p50=(\d+) p90=(\d+) p99=(\d+)", out)
    assert m, out
    errors = int(m.group(2)) + int(m.group(3))
    return Result(name, rps, int(m.group(4)) / 1000, int(m.group(5)) / 1000, int(m.group(6)) / 1000, errors)


@contextmanager
def process(
    args: list[str], port: int, env: dict[str, str] | None = None, *, own_session: bool = True
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server until the block ends; stop it and its worker processes (by pid)."""
    proc = subprocess.Popen(
        args,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=own_session,  # openssl ocsp -multi makes its own session
    )
    try:
        try:
            wait_for_port(port, timeout=60)
        except TimeoutError:
            _stop(proc, own_session)
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise SystemExit(f"{args[0]} did not start: {err[-2000:]}") from None
        yield proc
    finally:
        _stop(proc, own_session)


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _stop(proc: subprocess.Popen[bytes], own_session: bool) -> None:
    if proc.poll() is not None:
        return
    if own_session:
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        for child in _children(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        proc.kill()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_new_connection_client(
    name: str, port: int, path: str, bodies: list[bytes], content_type: str, duration: float, concurrency: int
) -> Result:
    """One HTTP/1.0 request per connection (all ``openssl ocsp -port`` serves), asyncio, bounded in time.

    Used for both servers in the comparison with OpenSSL, whose responder cannot keep connections
    open for wrk. This Python client itself takes a good part of one core.
    """
    import asyncio
    import itertools

    latencies: list[float] = []
    errors = 0
    counter = itertools.count()

    async def worker(deadline: float) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            body = bodies[next(counter) % len(bodies)]
            head = (
                f"POST {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            start = time.perf_counter()
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
                writer.write(head + body)
                data = await asyncio.wait_for(reader.read(), 5)
                writer.close()
            except (OSError, TimeoutError):
                errors += 1
                continue
            if not data.startswith(b"HTTP/1.") or b" 200 " not in data[:16]:
                errors += 1
                continue
            latencies.append(time.perf_counter() - start)

    async def run() -> float:
        started = time.monotonic()
        deadline = started + duration
        await asyncio.gather(*(worker(deadline) for _ in range(concurrency)))
        return time.monotonic() - started

    elapsed = asyncio.run(run())
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1000 if latencies else 0.0

    return Result(name, len(latencies) / elapsed, pct(50), pct(90), pct(99), errors)


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (MiB)."""
    total = 0
    pids = [pid, *_children(pid)]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


# --- the CA with N certificates ---------------------------------------------------------------


def build_ca(base: Path, n: int) -> tuple[Path, list[int], list[int]]:
    """A CA folder on SQLite with ``n`` officer certificates (1% revoked); returns serials."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    profile = CaProfile(name_th="กรมทดสอบประสิทธิภาพ", key="ec-p256", base_url="http://127.0.0.1:9")
    d = base / "ca-sqlite"
    t0 = time.perf_counter()
    with Authority.init(d, profile, passphrase=CA_PASS, now=now - dt.timedelta(days=1)) as ca:
        officer = OfficerProfile(name_th="นายสมชาย ใจดี", position="ผู้อำนวยการกอง")
        public = ec.generate_private_key(ec.SECP256R1()).public_key()
        serials: list[int] = []
        batch = 5000
        for start in range(0, n, batch):
            certs = [
                ca.prepare_officer(officer, public, source="csr", now=now)
                for _ in range(min(batch, n - start))
            ]
            recorded = ca.record(certs, now=now)
            serials += [c.serial for c in recorded]
            print(f"  issued {len(serials):,}/{n:,}", end="\r", file=sys.stderr)
        revoked = serials[:: max(1, n // max(1, n // 100))][: max(1, n // 100)]
        for s in revoked:
            ca.revoke(s, "keyCompromise", at=now)
    print(
        f"  CA with {n:,} certificates ({len(revoked)} revoked) in {time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
    )
    issue_responder(d, ca_passphrase=CA_PASS, responder_passphrase=RESPONDER_PASS)
    return d, serials, revoked


def copy_ca_to_postgres(src: Path, dst: Path, url: str) -> None:
    """The same CA (same key, same certificates) with its store on PostgreSQL."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("ca.db*"))
    profile = CaProfile.load(src / PROFILE_FILE)
    (dst / PROFILE_FILE).write_text(dataclasses.replace(profile, db=url).to_toml(), encoding="utf-8")
    source = CertificateStore.open(src)
    target = CertificateStore.connect(url)
    from sqlalchemy import insert, select

    from thaisign.ca.store import Base

    Base.metadata.create_all(target._engine)  # empty tables: every row comes from the source

    with source._engine.connect() as rconn, target._engine.begin() as wconn:  # bulk copy, benchmark only
        for table in Base.metadata.sorted_tables:
            rows = [dict(r._mapping) for r in rconn.execute(select(table))]
            for i in range(0, len(rows), 5000):
                wconn.execute(insert(table), rows[i : i + 5000])
    source.close()
    target.close()


def ocsp_requests(ca_dir: Path, serials: list[int], count: int, nonce: bool) -> list[bytes]:
    ca_cert = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    sample = random.Random(6960).sample(serials, min(count, len(serials)))
    out = []
    for s in sample:
        # a CertID needs only issuer name/key and the serial: build it with a stand-in certificate
        b = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
            _issuer_name_hash(ca_cert), _issuer_key_hash(ca_cert), s, hashes.SHA1()
        )
        if nonce:
            b = b.add_extension(x509.OCSPNonce(os.urandom(16)), critical=False)
        out.append(b.build().public_bytes(serialization.Encoding.DER))
    return out


def _issuer_name_hash(cert: x509.Certificate) -> bytes:
    import hashlib

    return hashlib.sha1(cert.subject.public_bytes()).digest()


def _issuer_key_hash(cert: x509.Certificate) -> bytes:
    import hashlib

    from asn1crypto import keys

    spki = keys.PublicKeyInfo.load(
        cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return hashlib.sha1(bytes(spki["public_key"].contents[1:])).digest()


def check_answers(url: str, requests: list[bytes], revoked: set[int], ca_dir: Path) -> None:
    """Spot-check that the server answers correctly before measuring it."""
    import urllib.request

    for body in requests[:20]:
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/ocsp-request"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            parsed = ocsp.load_der_ocsp_response(resp.read())
        serial = ocsp.load_der_ocsp_request(body).serial_number
        want = ocsp.OCSPCertStatus.REVOKED if serial in revoked else ocsp.OCSPCertStatus.GOOD
        if parsed.certificate_status != want:
            raise SystemExit(f"wrong answer from {url} for {serial:x}: {parsed.certificate_status}")


def openssl_index(ca_dir: Path, store_url: str, path: Path) -> None:
    """OpenSSL's index.txt for the same certificates."""
    from sqlalchemy import create_engine, text

    engine = create_engine(store_url)
    lines = []
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.serial, c.not_after, r.revoked_at FROM certificates c "
                "LEFT JOIN revocations r ON r.serial = c.serial"
            )
        ).all()
    for serial, not_after, revoked_at in rows:
        na = not_after if isinstance(not_after, dt.datetime) else dt.datetime.fromisoformat(str(not_after))
        exp = na.strftime("%y%m%d%H%M%SZ")
        if revoked_at is None:
            lines.append(f"V\t{exp}\t\t{int(serial, 16):X}\tunknown\t/CN=officer")
        else:
            ra = (
                revoked_at
                if isinstance(revoked_at, dt.datetime)
                else dt.datetime.fromisoformat(str(revoked_at))
            )
            lines.append(
                f"R\t{exp}\t{ra.strftime('%y%m%d%H%M%SZ')},keyCompromise"
                f"\t{int(serial, 16):X}\tunknown\t/CN=officer"
            )
    path.write_text("\n".join(lines) + "\n")
    engine.dispose()


def bench_ocsp(
    label: str, ca_dir: Path, serials: list[int], revoked: list[int], args: argparse.Namespace, tmp: Path
) -> list[Result]:
    results = []
    plain = ocsp_requests(ca_dir, serials, 1000, nonce=False)
    nonced = ocsp_requests(ca_dir, serials, 1000, nonce=True)
    _wrk_script(tmp / "plain.lua", plain, "application/ocsp-request", "/ocsp")
    _wrk_script(tmp / "nonce.lua", nonced, "application/ocsp-request", "/ocsp")
    port = free_port()
    env = {"THAISIGN_PASSPHRASE": RESPONDER_PASS}
    cmd = [sys.executable, "-m", "thaisign", "ca", "serve", str(ca_dir), "--signer", "delegated",
           "--port", str(port), "--workers", str(args.workers)]  # fmt: skip
    with process(cmd, port, env) as proc:
        url = f"http://127.0.0.1:{port}/ocsp"
        check_answers(url, plain + nonced, set(revoked), ca_dir)
        run_wrk("warm-up", url, tmp / "plain.lua", 2, args.connections)
        results.append(
            run_wrk(
                f"thaisign ca serve ({label}), no nonce",
                url,
                tmp / "plain.lua",
                args.duration,
                args.connections,
            )
        )
        results.append(
            run_wrk(
                f"thaisign ca serve ({label}), nonce", url, tmp / "nonce.lua", args.duration, args.connections
            )
        )
        for tag, bodies in (("no nonce", plain), ("nonce", nonced)):
            results.append(
                run_new_connection_client(
                    f"thaisign ca serve ({label}), {tag}, new conn/request",
                    port, "/ocsp", bodies, "application/ocsp-request", args.duration, 8,
                )
            )  # fmt: skip
        print(
            f"  thaisign ca serve ({label}) memory: {rss_mib(proc.pid):.0f} MiB (all processes)",
            file=sys.stderr,
        )
    return results


def bench_openssl(
    ca_dir: Path, serials: list[int], revoked: list[int], args: argparse.Namespace, tmp: Path
) -> list[Result]:
    index = tmp / "index.txt"
    openssl_index(ca_dir, f"sqlite:///{ca_dir / 'ca.db'}", index)
    (tmp / "index.txt.attr").write_text("unique_subject = no\n")
    key = tmp / "responder.key"
    subprocess.run(["openssl", "pkey", "-in", str(ca_dir / "ocsp-responder.key"),
                    "-passin", f"pass:{RESPONDER_PASS}",
                    "-out", str(key)], check=True, capture_output=True)  # fmt: skip
    port = free_port()
    cmd = ["openssl", "ocsp", "-index", str(index), "-CA", str(ca_dir / "ca.pem"),
           "-rsigner", str(ca_dir / "ocsp-responder.pem"), "-rkey", str(key), "-port", str(port),
           "-nmin", "60", "-multi", str(args.workers)]  # fmt: skip
    results = []
    with process(cmd, port, own_session=False) as proc:
        url = f"http://127.0.0.1:{port}/"
        time.sleep(1.0)
        check_answers(url, ocsp_requests(ca_dir, serials, 20, nonce=False), set(revoked), ca_dir)
        plain = ocsp_requests(ca_dir, serials, 1000, nonce=False)
        nonced = ocsp_requests(ca_dir, serials, 1000, nonce=True)
        for tag, bodies in (("no nonce", plain), ("nonce", nonced)):
            results.append(
                run_new_connection_client(
                    f"openssl ocsp -index -multi {args.workers}, {tag}, new conn/request",
                    port, "/", bodies, "application/ocsp-request", args.duration, 8,
                )
            )  # fmt: skip
        print(f"  openssl ocsp memory: {rss_mib(proc.pid):.0f} MiB (all processes)", file=sys.stderr)
    return results


def bench_tsa(label: str, db: str | None, args: argparse.Namespace, tmp: Path) -> Result:
    from asn1crypto import tsp

    from thaisign.tsa.setup import init_tsa

    d = tmp / f"tsa-{label}"
    init_tsa(d, passphrase=TSA_PASS, db=db)
    rng = random.Random(3161)
    bodies = [
        tsp.TimeStampReq(
            {
                "version": "v1",
                "nonce": rng.getrandbits(64),
                "cert_req": True,
                "message_imprint": {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "hashed_message": rng.randbytes(32),
                },
            }
        ).dump()
        for _ in range(200)
    ]
    _wrk_script(tmp / "tsa.lua", bodies, "application/timestamp-query", "/tsa")
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "thaisign",
        "tsa",
        "serve",
        str(d),
        "--port",
        str(port),
        "--workers",
        str(args.workers),
    ]
    with process(cmd, port, {"THAISIGN_PASSPHRASE": TSA_PASS}):
        url = f"http://127.0.0.1:{port}/tsa"
        run_wrk("warm-up", url, tmp / "tsa.lua", 2, args.connections)
        result = run_wrk(
            f"thaisign tsa serve ({label}), SHA-256 + nonce + certReq",
            url,
            tmp / "tsa.lua",
            args.duration,
            args.connections,
        )
    from thaisign.tsa.store import TsaStore

    store = TsaStore.connect(db or f"sqlite:///{d / 'tsa.db'}")
    logged = store.count()
    store.close()
    print(f"  TSA ({label}): {logged:,} tokens logged", file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--certs", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (scripts/setup.sh does)")
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before the run",
        file=sys.stderr,
    )
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="thaisign-bench-") as tmpname:
        tmp = Path(tmpname)
        ca_dir, serials, revoked = build_ca(tmp, args.certs)
        results += bench_ocsp("SQLite", ca_dir, serials, revoked, args, tmp)
        results += bench_openssl(ca_dir, serials, revoked, args, tmp)
        results.append(bench_tsa("SQLite", None, args, tmp))
        if not args.no_postgres:
            with run_postgres(tmp / "pg") as pg:
                url = pg.new_database("bench_ca")
                copy_ca_to_postgres(ca_dir, tmp / "ca-pg", url)
                results += bench_ocsp("PostgreSQL", tmp / "ca-pg", serials, revoked, args, tmp)
                results.append(bench_tsa("PostgreSQL", pg.new_database("bench_tsa"), args, tmp))
    print(f"\nservices benchmark: {args.certs:,} certificates, {args.workers} server processes, wrk -t1 "
          f"-c{args.connections}, {args.duration} s each, loopback, "
          f"load client on the same {os.cpu_count()} cores")  # fmt: skip
    for r in results:
        print(r.line())


if __name__ == "__main__":
    main()
