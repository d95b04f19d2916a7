"""The platform at a nation's scale on this machine: 10,000 agency CAs and 1,000,000 officer
certificates in one PostgreSQL, loaded from zero; issuance spread over agencies; one agency's CRL
made anew; OCSP from two status replicas under wrk; the figures — written per CPU-second, with the
load average beside them::

    python benchmarks/platform_scale.py                       # the full size (about half an hour)
    python benchmarks/platform_scale.py --agencies 200 --certificates 20000 --duration 5   # a quick look

(Not named platform.py: a script's folder comes first on sys.path, and a benchmarks/platform.py
shadowed the standard library's ``platform`` module for every other benchmark.)
Everything runs on 127.0.0.1 on this machine:
a PostgreSQL started here (fsync on unless --fast), loader processes, two status replicas, wrk.

Phases, each timed by the wall clock and by the CPU seconds of every process involved (the
loaders, the replicas and PostgreSQL; wrk's own CPU is shown apart):

1. load from zero: ``platform init``, N agencies (each with its CA under the issuing CA, its OCSP
   certificate, first CRL, an operator and an API token), then the officer certificates, every
   agency's share issued by its own operator through the library's ``Session.issue_many``;
2. issuance spread over agencies: small requests (10 certificates) to random agencies;
3. CRLs: revocations in many agencies, each publishing its agency's CRL at once (time of the CRL
   alone), and one large agency;
4. OCSP: two ``thaisign platform serve-status`` replicas on the same database, start-up time and
   memory, then wrk (keep-alive) on one replica and on both at once, without and with nonces; and
   OpenSSL's responder on one agency's certificates against a replica (one connection a request);
5. the figures of every agency, as the page and ``platform figures`` compute them.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

CA_PASS = "bench ca passphrase, long enough"
SERVICE_PASS = "bench service passphrase, long"


def _services() -> Any:
    """benchmarks/services.py (wrk and client helpers), loaded by path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_services_bench", HERE / "services.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["_services_bench"] = module
    spec.loader.exec_module(module)
    return module


# --- CPU accounting ------------------------------------------------------------------------------------


def _ticks(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / os.sysconf(
            "SC_CLK_TCK"
        )
    except (OSError, IndexError, ValueError):
        return 0.0


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                with contextlib.suppress(OSError):
                    todo += [int(c) for c in (task / "children").read_text().split()]
    return out


class Cpu:
    """CPU seconds over a block: this process and its reaped children (loaders, wrk), some
    servers (with their workers), and this benchmark's PostgreSQL (the postmaster with the
    backends it reaped, and the live ones) — not the other PostgreSQL servers on the machine."""

    def __init__(self, postmaster: int, *server_pids: int) -> None:
        self.postmaster = postmaster
        self.server_pids = server_pids

    def _sample(self) -> dict[str, float]:
        own = os.times()
        return {
            "self": own.user + own.system + own.children_user + own.children_system,
            "servers": sum(_ticks(p) for pid in self.server_pids for p in _tree(pid)),
            "postgres": sum(_ticks(p) for p in _tree(self.postmaster)),
        }

    def __enter__(self) -> Cpu:
        self.start, self.t0 = self._sample(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._sample()
        self.wall = time.perf_counter() - self.t0
        self.used = {k: end[k] - self.start[k] for k in end}

    @property
    def total(self) -> float:
        return sum(self.used.values())


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def line(text: str) -> None:
    print(text, flush=True)


# --- phase 1: loading -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Setup:
    directory: str
    admin: str
    db_url: str


def _open(setup: Setup) -> Any:
    from thaisign.platform import Platform

    return Platform.open(setup.directory, passphrase=CA_PASS)


def load_agencies(setup: Setup, slugs: list[str], ca_key: str) -> dict[str, str]:
    """One loader process: create these agencies, each with an operator and its token."""
    from thaisign.platform import AgencyProfile, ApiToken

    platform = _open(setup)
    admin = platform.session(ApiToken(setup.admin))
    tokens = {}
    for slug in slugs:
        admin.create_agency(
            slug,
            f"หน่วยงานทดสอบ {slug}",
            profile=AgencyProfile(ca_key=ca_key, policy_oid=f"2.16.764.1.4.1.{sum(map(ord, slug))}"),
        )
        op = admin.appoint(f"เจ้าหน้าที่ {slug}", "operator", agency=slug)
        tokens[slug] = admin.create_token(op.id)
    platform.close()
    return tokens


def _public_keys(n: int) -> list[Any]:
    from cryptography.hazmat.primitives.asymmetric import ec

    return [ec.generate_private_key(ec.SECP256R1()).public_key() for _ in range(n)]


def _officer(i: int) -> Any:
    from thaisign.ca import OfficerProfile

    positions = ("นักวิชาการคอมพิวเตอร์ชำนาญการ", "ผู้อำนวยการกอง", "นักจัดการงานทั่วไป", "เจ้าพนักงานธุรการ")
    return OfficerProfile(name_th=f"นายทดสอบ ลำดับที่ {i}", position=positions[i % 4], employee_id=f"E{i:07d}")


def load_certificates(setup: Setup, work: list[tuple[str, str, int, int]], batch: int) -> int:
    """One loader process: (slug, token, first number, how many) — issued by that agency's operator."""
    from thaisign.platform import ApiToken

    platform = _open(setup)
    keys = _public_keys(64)
    done = 0
    for slug, token, first, count in work:
        s = platform.session(ApiToken(token))
        for start in range(first, first + count, batch):
            n = min(batch, first + count - start)
            s.issue_many(slug, [(_officer(start + k), keys[(start + k) % 64]) for k in range(n)])
            done += n
    platform.close()
    return done


def issue_spread(
    setup: Setup, tokens: list[tuple[str, str]], seconds: float, per_request: int, seed: int
) -> tuple[int, float, float, int, int]:
    """One process: requests of ``per_request`` certificates to random agencies for ``seconds``;
    (certificates, seconds, CPU seconds of this process, requests, agencies) of the issuing loop
    alone. An agency's first request in a process reads its state (agency, CA, key, template);
    the next ones use what the process kept: at 10,000 agencies most requests of a short run are
    first ones."""
    from thaisign.platform import ApiToken

    platform = _open(setup)
    keys = _public_keys(16)
    rnd = random.Random(seed)
    sessions: dict[str, Any] = {}
    done = 0
    cpu0, t0 = time.process_time(), time.monotonic()
    deadline = t0 + seconds
    i = 10_000_000 * (seed + 1)
    requests = 0
    while time.monotonic() < deadline:
        slug, token = rnd.choice(tokens)
        s = sessions.get(slug) or sessions.setdefault(slug, platform.session(ApiToken(token)))
        s.issue_many(slug, [(_officer(i + k), keys[k % 16]) for k in range(per_request)])
        i += per_request
        done += per_request
        requests += 1
    elapsed, cpu = time.monotonic() - t0, time.process_time() - cpu0
    platform.close()
    return done, elapsed, cpu, requests, len(sessions)


def _pool_run(fn: Any, jobs: list[tuple[Any, ...]], processes: int) -> list[Any]:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        return pool.starmap(fn, jobs)


# --- phase 4: OCSP requests -----------------------------------------------------------------------------


def ocsp_requests(
    db_url: str, count: int, nonce: bool, ca_id: int | None = None, seed: int = 7
) -> list[tuple[bytes, str]]:
    """``count`` OCSP requests for random officer certificates (of every agency, or of one CA),
    with the status the database says each should get."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    rnd = random.Random(seed)
    with engine.connect() as conn:
        cas = {
            int(i): x509.load_der_x509_certificate(bytes(d))
            for i, d in conn.execute(
                text("SELECT id, certificate FROM platform_cas WHERE certificate IS NOT NULL")
            )
        }
        where = (
            "WHERE c.ca_id = :ca"
            if ca_id is not None
            else "WHERE c.source NOT IN ('ocsp-service', 'tsa-service')"
        )
        rows = conn.execute(
            text(
                "SELECT c.ca_id, c.der, r.serial IS NOT NULL FROM platform_certificates c "
                "LEFT JOIN platform_revocations r ON r.ca_id = c.ca_id AND r.serial = c.serial "
                f"{where} ORDER BY random() LIMIT :n"
            ),
            {"n": count, "ca": ca_id},
        ).all()
    engine.dispose()
    out = []
    for ca, der, revoked in rows:
        cert = x509.load_der_x509_certificate(bytes(der))
        builder = ocsp.OCSPRequestBuilder().add_certificate(cert, cas[int(ca)], hashes.SHA1())
        if nonce:
            builder = builder.add_extension(x509.OCSPNonce(rnd.randbytes(16)), critical=False)
        out.append(
            (builder.build().public_bytes(serialization.Encoding.DER), "revoked" if revoked else "good")
        )
    rnd.shuffle(out)
    return out


def check_answers(url: str, requests: list[tuple[bytes, str]]) -> None:
    import urllib.request

    from cryptography.x509 import ocsp

    for body, want in requests[:200]:
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/ocsp-request"})
        with urllib.request.urlopen(req, timeout=20) as r:
            answer = ocsp.load_der_ocsp_response(r.read())
        got = answer.certificate_status.name.lower()
        if got != want:
            raise SystemExit(f"wrong OCSP answer: {got} instead of {want}")


# --- the run ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def replica(db_url: str, workers: int = 1) -> Iterator[tuple[subprocess.Popen[bytes], str, float]]:
    """One ``thaisign platform serve-status`` process on a free port: (process, URL, seconds to ready)."""
    from support.servers import free_port

    svc = _services()
    port = free_port()
    cmd = [sys.executable, "-m", "thaisign", "platform", "serve-status", "--db", db_url,
           "--port", str(port), "--workers", str(workers)]  # fmt: skip
    started = time.perf_counter()
    with svc.process(cmd, port, {"THAISIGN_PASSPHRASE": SERVICE_PASS}) as proc:
        yield proc, f"http://127.0.0.1:{port}", time.perf_counter() - started


@dataclasses.dataclass
class Run:
    """What the phases share."""

    args: argparse.Namespace
    tmp: Path
    setup: Setup
    postmaster: int
    slugs: list[str] = dataclasses.field(default_factory=list)
    tokens: dict[str, str] = dataclasses.field(default_factory=dict)
    results: dict[str, Any] = dataclasses.field(default_factory=dict)

    def cpu(self, *server_pids: int) -> Cpu:
        return Cpu(self.postmaster, *server_pids)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def phase_load(run: Run) -> None:
    """1. Agencies (each with CA, OCSP certificate, first CRL, operator, token), then certificates."""
    args, setup = run.args, run.setup
    run.slugs = [f"a{i:05d}" for i in range(args.agencies)] + ["big"]
    shares = [run.slugs[i :: args.loaders] for i in range(args.loaders)]
    with run.cpu() as c:
        for part in _pool_run(load_agencies, [(setup, s, args.agency_key) for s in shares], args.loaders):
            run.tokens.update(part)
    n = len(run.slugs)
    run.results["agencies"] = {"count": n, "wall_s": c.wall, "cpu_s": c.total, "per_s": n / c.wall,
                               "per_cpu_s": n / c.total}  # fmt: skip
    line(
        f"agencies: {n:,} in {c.wall:.0f} s = {n / c.wall:,.1f}/s; {n / c.total:,.1f} per CPU-second "
        f"(CPU: loaders {c.used['self']:.0f} s, PostgreSQL {c.used['postgres']:.0f} s); "
        f"load {load_average()}"
    )
    per_agency = args.certificates // args.agencies
    work = [(s, run.tokens[s], i * per_agency, per_agency) for i, s in enumerate(run.slugs[:-1])]
    work.append(("big", run.tokens["big"], args.agencies * per_agency, args.big_agency))
    random.Random(1).shuffle(work)
    jobs = [(setup, work[i :: args.loaders], args.batch) for i in range(args.loaders)]
    with run.cpu() as c:
        issued = sum(_pool_run(load_certificates, jobs, args.loaders))
    run.results["per_agency"] = per_agency
    run.results["load_certificates"] = {"count": issued, "wall_s": c.wall, "cpu_s": c.total,
                                        "per_s": issued / c.wall, "per_cpu_s": issued / c.total}  # fmt: skip
    line(
        f"certificates: {issued:,} in {c.wall:.0f} s = {issued / c.wall:,.0f}/s; "
        f"{issued / c.total:,.0f} per CPU-second (CPU: loaders {c.used['self']:.0f} s, "
        f"PostgreSQL {c.used['postgres']:.0f} s); load {load_average()}"
    )


def phase_crl(run: Run) -> None:
    """3. Revocations in many agencies, each agency's CRL made anew; one large agency's CRL."""
    from thaisign.platform import ApiToken

    args, tokens = run.args, run.tokens
    platform = _open(run.setup)
    revoking = random.Random(2).sample(run.slugs[:-1], min(args.revoking_agencies, args.agencies))
    crl_times: list[float] = []
    revoke_times: list[float] = []
    for slug in revoking:
        s = platform.session(ApiToken(tokens[slug]))
        victim = s.certificates(slug)[-1]
        t0 = time.perf_counter()
        s.revoke(slug, victim.serial, "affiliationChanged")  # the CRL is made anew inside
        revoke_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        s.publish_crl(slug)
        crl_times.append(time.perf_counter() - t0)
    big = platform.session(ApiToken(tokens["big"]))
    big_certs = big.certificates("big")
    revoked = max(1, len(big_certs) // 100)
    for victim in big_certs[:revoked]:
        big.revoke("big", victim.serial, "superseded")
    big_times = []
    for _ in range(5):
        t0 = time.perf_counter()
        big.publish_crl("big")
        big_times.append(time.perf_counter() - t0)
    platform.close()
    run.results["crl"] = {
        "agencies": len(crl_times), "median_ms": _pct(crl_times, 0.5), "p95_ms": _pct(crl_times, 0.95),
        "revoke_and_crl_median_ms": _pct(revoke_times, 0.5), "big_agency_certificates": len(big_certs),
        "big_agency_revoked": revoked, "big_median_ms": _pct(big_times, 0.5),
    }  # fmt: skip
    line(
        f"CRL of one agency ({run.results['per_agency']} certificates): median "
        f"{_pct(crl_times, 0.5):.1f} ms, p95 {_pct(crl_times, 0.95):.1f} ms over {len(crl_times)} "
        f"agencies (revocation + CRL: median {_pct(revoke_times, 0.5):.1f} ms); the agency of "
        f"{len(big_certs):,} with {revoked} revoked: {_pct(big_times, 0.5):.1f} ms; load {load_average()}"
    )


def phase_spread(run: Run) -> None:
    """2. Issuance spread over agencies: requests of 10 and of 100 certificates to random agencies."""
    args = run.args
    pairs = [(s, run.tokens[s]) for s in run.slugs[:-1]]
    for per_request in (10, 100):
        jobs = [(run.setup, pairs, args.spread_seconds, per_request, k) for k in range(args.loaders)]
        with run.cpu() as c:
            parts = _pool_run(issue_spread, jobs, args.loaders)
        done = sum(p[0] for p in parts)
        rate = sum(p[0] / p[1] for p in parts)  # each issuer's own loop, start-up left out
        issuers, pg = sum(p[2] for p in parts), c.used["postgres"]
        cpu = issuers + pg
        requests, first = sum(p[3] for p in parts), sum(p[4] for p in parts)
        # CPU time a certificate (what a shared machine's load changes least): issuers + PostgreSQL
        run.results[f"spread_{per_request}"] = {"count": done, "per_s": rate, "per_cpu_s": done / cpu,
                                                "cpu_ms_per_cert": cpu / done * 1e3,
                                                "issuer_cpu_ms_per_cert": issuers / done * 1e3,
                                                "postgres_cpu_ms_per_cert": pg / done * 1e3,
                                                "requests": requests, "first_in_process": first}  # fmt: skip
        line(
            f"issuance, {per_request} per request to random agencies: {rate:,.0f}/s; "
            f"{done / cpu:,.0f} per CPU-second = {cpu / done * 1e3:.3f} ms CPU a certificate "
            f"(issuers {issuers / done * 1e3:.3f} ms, PostgreSQL {pg / done * 1e3:.3f} ms; in all "
            f"issuers {issuers:.0f} s, PostgreSQL {pg:.0f} s); {first:,} of {requests:,} requests were "
            f"their agency's first in the process; load {load_average()}"
        )


def phase_figures(run: Run) -> int:
    """5. The figures of every agency; returns the large agency's CA id."""
    from thaisign.platform import ApiToken

    platform = _open(run.setup)
    admin = platform.session(ApiToken(run.setup.admin))
    t0 = time.perf_counter()
    figures = admin.figures()
    run.results["figures_s"] = time.perf_counter() - t0
    line(
        f"figures of {len(figures.agencies):,} agencies ({figures.total.active:,} valid "
        f"certificates): {run.results['figures_s']:.2f} s"
    )
    agency = platform.db.agency("big")
    assert agency is not None
    big_ca = platform.active_ca(agency).ca_id
    platform.close()
    run.results["database_gb"] = size = _database_size(run.setup.db_url)
    line(f"database: {size:.2f} GB")
    return big_ca


def _ocsp_row(run: Run, key: str, label: str, rps: float, p99: float, c: Cpu, errors: int) -> None:
    cpu = max(0.01, c.used["servers"] + c.used["postgres"])
    per_cpu = rps * c.wall / cpu
    run.results[key] = {"rps": rps, "p99_ms": p99, "per_cpu_s": per_cpu, "errors": errors}
    line(
        f"OCSP, {label}: {rps:,.0f}/s, p99 {p99:.2f} ms, errors {errors}; {per_cpu:,.0f} per CPU-second "
        f"of replicas+PostgreSQL (replicas {c.used['servers']:.1f} s, PostgreSQL "
        f"{c.used['postgres']:.1f} s, wrk {c.used['self']:.1f} s); load {load_average()}"
    )


def phase_ocsp(run: Run, big_ca: int) -> None:
    """4. Two status replicas on the database: wrk on one and on both; OpenSSL's responder."""
    args, tmp, db_url = run.args, run.tmp, run.setup.db_url
    svc = _services()
    plain = ocsp_requests(db_url, 5000, nonce=False)
    nonced = ocsp_requests(db_url, 5000, nonce=True, seed=8)
    scripts = {"no nonce": tmp / "plain.lua", "nonce": tmp / "nonce.lua"}
    svc._wrk_script(scripts["no nonce"], [b for b, _ in plain], "application/ocsp-request", "/ocsp")
    svc._wrk_script(scripts["nonce"], [b for b, _ in nonced], "application/ocsp-request", "/ocsp")
    with replica(db_url) as (a, url_a, ready_a), replica(db_url) as (b, url_b, _):
        run.results["replica_start_s"] = ready_a
        run.results["replica_rss_mib"] = mem = svc.rss_mib(a.pid)
        line(f"status replica ready in {ready_a:.0f} s, {mem:.0f} MiB; load {load_average()}")
        for url in (url_a, url_b):
            check_answers(f"{url}/ocsp", plain)
            check_answers(f"{url}/ocsp", nonced)
        for url in (url_a, url_b):
            svc.run_wrk("warm-up", f"{url}/ocsp", scripts["no nonce"], 3, args.connections)
        for tag, script in scripts.items():
            for conns in sorted({args.connections, 4}, reverse=True):
                with run.cpu(a.pid) as c:
                    r = svc.run_wrk(f"one replica, {tag}", f"{url_a}/ocsp", script, args.duration, conns)
                label = f"one replica (1 worker), {tag}, {conns} connections"
                _ocsp_row(run, f"ocsp_one_{tag}_{conns}", label, r.rps, r.p99_ms, c, r.errors)
            with run.cpu(a.pid, b.pid) as c:
                ctx = multiprocessing.get_context("spawn")
                with ctx.Pool(2) as pool:
                    jobs = [
                        (f"{u}/ocsp", str(script), args.duration, args.connections) for u in (url_a, url_b)
                    ]
                    both = pool.starmap(_wrk_job, jobs)
            rps, p99 = sum(x["rps"] for x in both), max(x["p99_ms"] for x in both)
            errors = int(sum(x["errors"] for x in both))
            label = f"two replicas at once, {tag}, {args.connections} connections each (p99: the worse)"
            _ocsp_row(run, f"ocsp_two_{tag}", label, rps, p99, c, errors)
        # the target as stated: a fixed rate over both replicas, latency from each request's due time
        rate = args.ocsp_rate / 2
        with run.cpu(a.pid, b.pid) as c:
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(2) as pool:
                bodies = [body for body, _ in plain]
                fixed_jobs = [(u, bodies, rate, args.duration) for u in (url_a, url_b)]
                fixed = pool.starmap(_open_loop_job, fixed_jobs)
        ok = sum(x["ok"] for x in fixed)
        p50, p99 = max(x["p50_ms"] for x in fixed), max(x["p99_ms"] for x in fixed)
        failures = int(sum(x["failures"] for x in fixed))
        cpu = max(0.01, c.used["servers"] + c.used["postgres"])
        client = sum(x["client_cpu_s"] for x in fixed)
        run.results["ocsp_fixed_rate"] = {"rate": args.ocsp_rate, "ok": ok, "failures": failures,
                                          "p50_ms": p50, "p99_ms": p99, "per_cpu_s": ok / cpu}  # fmt: skip
        line(
            f"OCSP at a fixed {args.ocsp_rate:,}/s over two replicas (open loop, no nonce): {ok:,} ok, "
            f"{failures} failed, p50 {p50:.2f} ms, p99 {p99:.2f} ms (the worse replica); "
            f"{ok / cpu:,.0f} per CPU-second of replicas+PostgreSQL; load client {client:.1f} CPU-s; "
            f"load {load_average()}"
        )
        # the large agency's certificates: our replica and OpenSSL's responder, a connection a request
        one = ocsp_requests(db_url, 1000, nonce=False, ca_id=big_ca, seed=9)
        _openssl_index(db_url, big_ca, tmp / "index.txt")
        port_a = int(url_a.rsplit(":", 1)[1])
        bodies = [b for b, _ in one]
        label = "replica, one agency, new conn/request"
        ours = svc.run_new_connection_client(label, port_a, "/ocsp", bodies, "application/ocsp-request",
                                             args.duration, 8)  # fmt: skip
    theirs = _openssl_responder(svc, tmp, db_url, big_ca, tmp / "index.txt", bodies, args)
    run.results["ocsp_vs_openssl"] = {"thaisign_rps": ours.rps, "thaisign_p99_ms": ours.p99_ms,
                                      "openssl_rps": theirs.rps, "openssl_p99_ms": theirs.p99_ms}  # fmt: skip
    line(
        f"OCSP, one agency, a connection per request: thaisign replica {ours.rps:,.0f}/s "
        f"(p99 {ours.p99_ms:.1f} ms), openssl ocsp -index -multi 2: {theirs.rps:,.0f}/s "
        f"(p99 {theirs.p99_ms:.1f} ms)"
    )


def extrapolate(run: Run) -> None:
    """The full size (10,000 agencies, 1,000,000 certificates) from the measured per-CPU-second rates,
    on this machine's two cores with nothing else running."""
    r = run.results
    cpu = 10_000 / r["agencies"]["per_cpu_s"] + 1_000_000 / r["load_certificates"]["per_cpu_s"]
    r["full_load_cpu_s"] = cpu
    r["full_load_min_on_2_idle_cores"] = cpu / 2 / 60
    line(
        f"extrapolated: 10,000 agencies + 1,000,000 certificates = {cpu:,.0f} CPU-seconds, "
        f"{cpu / 2 / 60:.0f} min on this machine's 2 cores if idle (the target: under 30 min)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agencies", type=int, default=10_000)
    p.add_argument("--certificates", type=int, default=1_000_000)
    p.add_argument("--loaders", type=int, default=2, help="loader processes (default: the 2 cores)")
    p.add_argument("--batch", type=int, default=100, help="certificates per issuing transaction")
    p.add_argument("--agency-key", default="ec-p384", help="agency CA key type (platform default P-384)")
    p.add_argument("--big-agency", type=int, default=20_000, help="officers of one large agency")
    p.add_argument("--revoking-agencies", type=int, default=1_000, help="agencies that revoke once")
    p.add_argument("--spread-seconds", type=float, default=30.0)
    p.add_argument("--duration", type=int, default=10, help="seconds of each wrk run")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--ocsp-rate", type=int, default=5000, help="fixed OCSP rate for the open-loop p99")
    p.add_argument("--fast", action="store_true", help="PostgreSQL without fsync (as the tests run)")
    p.add_argument("--no-ocsp", action="store_true", help="leave out phase 4 (the status replicas)")
    p.add_argument("--keep", type=Path, help="make the platform folder and database in this folder")
    args = p.parse_args()
    now = dt.datetime.now(dt.UTC)
    line(f"# thaisign platform benchmark, {now:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
         f"load average {load_average()}")  # fmt: skip
    line(
        f"# {args.agencies:,} agencies, {args.certificates:,} officer certificates + one agency of "
        f"{args.big_agency:,}; agency CA keys {args.agency_key}; PostgreSQL fsync "
        f"{'off' if args.fast else 'on'}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="thaisign-platform-bench-", dir=args.keep))
    try:
        _run(args, tmp)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


def _run(args: argparse.Namespace, tmp: Path) -> None:
    from support.servers import run_postgres

    from thaisign.platform import Platform

    settings = "-c shared_buffers=512MB -c max_wal_size=4GB -c checkpoint_timeout=30min"
    with run_postgres(tmp / "pg", durable=not args.fast, settings=settings) as pg:
        db_url = pg.new_database("platform")
        postmaster = int((pg.datadir / "postmaster.pid").read_text().split()[0])
        with Cpu(postmaster) as whole:
            platform, admin = Platform.init(
                tmp / "pki", name_th="ศูนย์ทดสอบแพลตฟอร์มแห่งชาติ", name_en="National test platform",
                level="national", base_url="http://127.0.0.1:9", db=db_url, admin_name="ผู้ดูแลระบบ",
                passphrase=CA_PASS, service_passphrase=SERVICE_PASS, key="ec-p384",
                agency_key=args.agency_key,
            )  # fmt: skip
            platform.close()
            assert admin is not None
            run = Run(args, tmp, Setup(str(tmp / "pki"), admin, db_url), postmaster)
            run.results["load_average_start"] = load_average()
            phase_load(run)
            phase_crl(run)
            from _pg import settle

            settled = settle(db_url)
        run.results["load_total_s"] = whole.wall
        run.results["settle_s"] = settled
        line(f"platform loaded from zero in {whole.wall / 60:.1f} min (init, agencies, certificates, "
             f"revocations and CRLs, then VACUUM ANALYZE and a checkpoint: {settled:.0f} s)")  # fmt: skip
        extrapolate(run)
        phase_spread(run)
        big_ca = phase_figures(run)
        if not args.no_ocsp:
            phase_ocsp(run, big_ca)
    run.results["load_average_end"] = load_average()
    line("RESULTS " + json.dumps(run.results, ensure_ascii=False))


def _open_loop_job(url: str, bodies: list[bytes], rate: float, seconds: int) -> dict[str, float]:
    """Open loop on one replica (benchmarks/_openloop.py): request i due at start + i/rate."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from urllib.parse import urlsplit

    from _openloop import http_request, open_loop

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    count = int(rate * seconds)
    headers = {"Content-Type": "application/ocsp-request"}
    requests = [http_request("POST", host, "/ocsp", bodies[i % len(bodies)], headers) for i in range(count)]
    cpu = time.process_time()
    r = open_loop(host, port, requests, rate)
    return {
        "ok": len(r.latencies),
        "failures": r.failures,
        "p50_ms": r.percentile(50) * 1000,
        "p99_ms": r.percentile(99) * 1000,
        "late": r.late_starts,
        "connections": r.connections,
        "client_cpu_s": time.process_time() - cpu,
    }


def _wrk_job(url: str, script: str, duration: int, connections: int) -> dict[str, float]:
    r = _services().run_wrk("both", url, Path(script), duration, connections)
    return {"rps": r.rps, "p99_ms": r.p99_ms, "errors": r.errors}


def _database_size(db_url: str) -> float:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return int(size) / 1e9


def _openssl_index(db_url: str, ca_id: int, path: Path) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    lines = []
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.serial, c.not_after, r.revoked_at FROM platform_certificates c "
                "LEFT JOIN platform_revocations r ON r.ca_id = c.ca_id AND r.serial = c.serial "
                "WHERE c.ca_id = :ca"
            ),
            {"ca": ca_id},
        ).all()
    engine.dispose()
    for serial, not_after, revoked_at in rows:
        exp = not_after.strftime("%y%m%d%H%M%SZ")
        if revoked_at is None:
            lines.append(f"V\t{exp}\t\t{int(serial, 16):X}\tunknown\t/CN=officer")
        else:
            when = revoked_at.strftime("%y%m%d%H%M%SZ")
            lines.append(f"R\t{exp}\t{when},superseded\t{int(serial, 16):X}\tunknown\t/CN=officer")
    path.write_text("\n".join(lines) + "\n")
    (path.parent / "index.txt.attr").write_text("unique_subject = no\n")


def _openssl_responder(
    svc: Any, tmp: Path, db_url: str, ca_id: int, index: Path, bodies: list[bytes], args: Any
) -> Any:
    """OpenSSL's responder for the same agency, signing with a key of the same type as ours."""
    from cryptography.hazmat.primitives import serialization
    from sqlalchemy import create_engine, text
    from support.servers import free_port

    from thaisign.ca.service_certs import issue_service_certificate
    from thaisign.platform import Platform

    engine = create_engine(db_url)
    with engine.connect() as conn:
        ca_der = conn.execute(
            text("SELECT certificate FROM platform_cas WHERE id = :id"), {"id": ca_id}
        ).scalar_one()
    engine.dispose()
    (tmp / "ca.der").write_bytes(bytes(ca_der))
    subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-in", str(tmp / "ca.der"), "-out", str(tmp / "ca.pem")],
        check=True,
    )
    platform = Platform.open(tmp / "pki", passphrase=CA_PASS)
    responder = issue_service_certificate(platform.authority(ca_id), "ocsp", key="ec-p256", days=30)
    platform.close()
    assert responder.private_key is not None
    (tmp / "rsigner.pem").write_bytes(responder.certificate.public_bytes(serialization.Encoding.PEM))
    (tmp / "rkey.pem").write_bytes(
        responder.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    port = free_port()
    cmd = ["openssl", "ocsp", "-index", str(index), "-CA", str(tmp / "ca.pem"),
           "-rsigner", str(tmp / "rsigner.pem"), "-rkey", str(tmp / "rkey.pem"),
           "-port", str(port), "-nmin", "60", "-multi", "2"]  # fmt: skip
    with svc.process(cmd, port, own_session=False):
        time.sleep(1.0)
        return svc.run_new_connection_client(
            "openssl ocsp -index -multi 2, new conn/request",
            port,
            "/",
            bodies,
            "application/ocsp-request",
            args.duration,
            8,
        )


if __name__ == "__main__":
    main()
