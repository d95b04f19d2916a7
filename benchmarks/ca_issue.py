"""CA benchmark: certificates/s from CSRs and CRL generation, thaisign vs ``openssl ca``, same run.

PRINTS figures, asserts nothing. The same CSRs (P-256 officer keys) go to:

* thaisign, one ``issue_officer`` call (one transaction) per certificate, and ``issue_batch``
  from a CSV (chunks of 256 per transaction, certificate files written), with a P-384 CA key
  on SQLite and PostgreSQL, and with an RSA-3072 CA key on SQLite;
* ``openssl ca`` with the same CA key and certificate and an equivalent officer profile: one
  process per certificate (how scripts drive it) and one process for all (``-infiles``).

CRLs: 10,000 and 100,000 revoked entries, thaisign (``Authority.crl()``, read from the store,
signed, stored) vs ``openssl ca -gencrl`` over an index.txt with the same number of entries,
and cryptography's ``CertificateRevocationListBuilder`` for reference.

    python benchmarks/ca_issue.py [--n 2000] [--openssl-n 200] [--no-postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from thaisign.ca import Authority, CaProfile, OfficerProfile, load_csr  # noqa: E402
from thaisign.ca.batch import CaOpener, issue_batch  # noqa: E402
from thaisign.ca.crl import revoked_entry  # noqa: E402
from thaisign.ca.store import CertificateRow, RevocationRow, serial_hex  # noqa: E402

PASS = "bench-ca-passphrase"
OFFICER = OfficerProfile(name_th="นายสมชาย ใจดี", position="ผู้อำนวยการกอง", given_name="สมชาย", surname="ใจดี")
NOW = dt.datetime(2026, 11, 21, 3, 42, tzinfo=dt.UTC)
ROWS: list[tuple[str, str, str]] = []


_last_cpu = 0.0


def report(what: str, n: int, seconds: float, unit: str = "certs/s") -> None:
    """One line: wall-clock figure, and the same per CPU-second of this process and its children
    (the machine is shared, so wall time includes waiting for a core; a PostgreSQL server's own
    CPU is not counted)."""
    rate = n / seconds if seconds else float("inf")
    cpu_rate = n / _last_cpu if _last_cpu else float("inf")
    text = (
        f"{rate:8.0f} {unit}  ({cpu_rate:6.0f} per CPU-s)"
        if unit
        else f"{seconds:8.2f} s  (CPU {_last_cpu:.2f} s)"
    )
    ROWS.append((what, f"{n}", text))
    print(f"  {what:<62} {n:>7}  {text}", flush=True)


def _cpu() -> float:
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of ``fn()``; its CPU seconds go to the next :func:`report`."""
    global _last_cpu
    c, t = _cpu(), time.perf_counter()
    fn()
    wall = time.perf_counter() - t
    _last_cpu = _cpu() - c
    return wall


def make_csrs(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"officer {i}")]))
            .sign(key, hashes.SHA256())
        )
        p = folder / f"{i:06d}.csr"
        p.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
        out.append(p)
    return out


def new_ca(folder: Path, key: str, db: str | None) -> Authority:
    profile = CaProfile(name_th="กรมตัวอย่างดิจิทัล", key=key, db=db, policy_oid="2.16.764.1.2.3.4")
    return Authority.init(folder, profile, passphrase=PASS, now=NOW)


def bench_thaisign(
    label: str,
    base: Path,
    key: str,
    new_db: Callable[[], str | None],
    csrs: list[Path],
    parallel: bool = False,
) -> None:
    data = [p.read_bytes() for p in csrs]
    with new_ca(base / f"{label}-single", key, new_db()) as ca:

        def single() -> None:
            for i, pem in enumerate(data):
                ca.issue_officer(
                    OfficerProfile(OFFICER.name_th, OFFICER.position, employee_id=f"S{i}"), csr=pem, now=NOW
                )

        report(f"thaisign {label}: one issue_officer() per cert", len(data), timed(single))
    with new_ca(base / f"{label}-memory", key, new_db()) as ca:

        def in_memory() -> None:
            for start in range(0, len(data), 256):
                ca.record(
                    [
                        ca.prepare_officer(
                            OfficerProfile(OFFICER.name_th, OFFICER.position, employee_id=f"M{i}"),
                            load_csr(pem).public_key(),  # type: ignore[arg-type]
                            source="csr",
                            now=NOW,
                        )
                        for i, pem in enumerate(data[start : start + 256], start)
                    ],
                    now=NOW,
                )

        report(f"thaisign {label}: batches of 256 per transaction", len(data), timed(in_memory))
        report(
            f"thaisign {label}: check_integrity() of the store ({len(data):,} certificates)",
            len(data),
            timed(ca.check_integrity),
        )
    csv = base / f"{label}.csv"
    csv.write_text(
        "employee_id,name_th,position,csr\n"
        + "".join(
            f"B{i},{OFFICER.name_th},{OFFICER.position},{p.relative_to(base)}\n" for i, p in enumerate(csrs)
        ),
        encoding="utf-8",
    )
    with new_ca(base / f"{label}-batch", key, new_db()) as ca:
        out = base / f"{label}-out"
        seconds = timed(lambda: issue_batch(ca, csv, out, now=NOW))
        report(f"thaisign {label}: issue_batch from CSV (+ cert files)", len(csrs), seconds)
    if parallel:
        workers = os.cpu_count() or 1
        db = new_db()
        with new_ca(base / f"{label}-parallel", key, db) as ca:
            opener = CaOpener(ca.directory, PASS)
            seconds = timed(
                lambda: issue_batch(ca, csv, base / f"{label}-pout", now=NOW, workers=workers, opener=opener)
            )
            report(f"thaisign {label}: issue_batch, {workers} signing processes", len(csrs), seconds)


OPENSSL_CNF = """
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = {cert}
private_key = {key}
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = {md}
default_days = 730
default_crl_days = 3
policy = policy_any
copy_extensions = none
unique_subject = no
x509_extensions = officer_ext
string_mask = utf8only
utf8 = yes
[ policy_any ]
commonName = supplied
[ officer_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = 1.3.6.1.5.5.7.3.36,1.3.6.1.4.1.311.10.3.12
certificatePolicies = 2.16.764.1.2.3.4
crlDistributionPoints = URI:http://127.0.0.1:8080/crl/ca.crl
authorityInfoAccess = OCSP;URI:http://127.0.0.1:8080/ocsp,caIssuers;URI:http://127.0.0.1:8080/ca.cer
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""
SUBJ = "/C=TH/O=กรมตัวอย่างดิจิทัล/title=ผู้อำนวยการกอง/GN=สมชาย/SN=ใจดี/CN=นายสมชาย ใจดี"


def openssl_ca_dir(base: Path, ca: Authority, md: str) -> Path:
    d = base / "openssl-ca"
    shutil.rmtree(d, ignore_errors=True)
    (d / "newcerts").mkdir(parents=True)
    (d / "index.txt").write_text("")
    (d / "serial").write_text("1000\n")
    (d / "crlnumber").write_text("1000\n")
    cfg = OPENSSL_CNF.format(dir=d, cert=ca.directory / "ca.pem", key=ca.directory / "ca-key.pem", md=md)
    (d / "openssl.cnf").write_text(cfg)
    return d


def bench_openssl(base: Path, ca: Authority, csrs: list[Path], per_process_n: int) -> None:
    d = openssl_ca_dir(base, ca, "sha384")
    common = [
        "openssl",
        "ca",
        "-batch",
        "-config",
        str(d / "openssl.cnf"),
        "-passin",
        f"pass:{PASS}",
        "-utf8",
    ]

    def per_process() -> None:
        for i, p in enumerate(csrs[:per_process_n]):
            subprocess.run(
                [*common, "-subj", SUBJ, "-in", str(p), "-out", str(d / f"{i}.pem")],
                check=True,
                capture_output=True,
            )

    report("openssl ca: one process per cert (P-384 CA)", per_process_n, timed(per_process))
    d = openssl_ca_dir(base, ca, "sha384")

    def one_process() -> None:
        subprocess.run(
            [*common, "-subj", SUBJ, "-out", str(d / "all.pem"), "-infiles", *map(str, csrs)],
            check=True,
            capture_output=True,
        )

    report("openssl ca: one process, -infiles (P-384 CA)", len(csrs), timed(one_process))


def fill_revocations(ca: Authority, start: int, count: int) -> None:
    """Insert ``count`` certificates + revocations directly (fast set-up, not what is measured)."""
    from sqlalchemy import insert

    engine = ca.store._engine
    when = NOW.replace(tzinfo=None)
    certs, revs = [], []
    for i in range(start, start + count):
        serial = (1 << 126) | (i * 2654435761)
        s = serial_hex(serial)
        certs.append(
            {
                "serial": s,
                "employee_id": None,
                "name_th": "x",
                "name_en": None,
                "position": None,
                "email": None,
                "subject": "CN=x",
                "key_type": "ec-p256",
                "source": "csr",
                "not_before": when,
                "not_after": when,
                "issued_at": when,
                "sha256": "0" * 64,
                "der": b"",
            }
        )
        revs.append(
            {
                "serial": s,
                "revoked_at": when,
                "reason": "keyCompromise",
                "crl_entry": revoked_entry(serial, NOW, 1),
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(CertificateRow), certs)
        conn.execute(insert(RevocationRow), revs)


def bench_crl(base: Path) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    with new_ca(base / "crl-ca", "ec-p384", None) as ca:
        done = 0
        for target in (10_000, 100_000):
            fill_revocations(ca, done, target - done)
            done = target
            # the rows were inserted directly (no audit entries), so the store check before a CRL
            # (Authority.crl's default) would refuse them: this times the CRL itself
            seconds = timed(lambda: ca.crl(now=NOW, check=False))
            report(
                f"thaisign crl(check=False): {target:,} revoked (store read + sign + store)",
                target,
                seconds,
                unit="",
            )
            # openssl ca -gencrl over an index.txt with the same number of revoked entries
            d = openssl_ca_dir(base, ca, "sha384")
            lines = [
                f"R\t281120034200Z\t261121034200Z,keyCompromise\t{serial:X}\tunknown\t/CN=x\n"
                for serial in ((1 << 126) | (i * 2654435761) for i in range(target))
            ]
            (d / "index.txt").write_text("".join(lines))
            cmd = ["openssl", "ca", "-config", str(d / "openssl.cnf"), "-passin", f"pass:{PASS}", "-gencrl"]
            seconds = timed(
                lambda d=d, cmd=cmd: subprocess.run(
                    [*cmd, "-out", str(d / "o.crl")], check=True, capture_output=True
                )
            )
            report(f"openssl ca -gencrl: {target:,} revoked", target, seconds, unit="")
            # cryptography's builder, same entries (software key)
            key = load_pem_private_key((ca.directory / "ca-key.pem").read_bytes(), PASS.encode())
            assert ca.certificate is not None
            issuer = ca.certificate.subject

            def build(target: int = target, issuer: x509.Name = issuer, key: object = key) -> None:
                b = (
                    x509.CertificateRevocationListBuilder()
                    .issuer_name(issuer)
                    .last_update(NOW)
                    .next_update(NOW + dt.timedelta(days=3))
                )
                for i in range(target):
                    b = b.add_revoked_certificate(
                        x509.RevokedCertificateBuilder()
                        .serial_number((1 << 126) | (i * 2654435761))
                        .revocation_date(NOW)
                        .build()
                    )
                b.sign(key, hashes.SHA384())  # type: ignore[arg-type]

            report(f"cryptography CRL builder: {target:,} revoked", target, timed(build), unit="")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="CSRs per thaisign / openssl -infiles run")
    ap.add_argument("--openssl-n", type=int, default=200, help="CSRs for openssl one-process-per-cert")
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (shared machine: see notes)"
    )
    with tempfile.TemporaryDirectory(prefix="ca-bench-") as tmp:
        base = Path(tmp)
        csrs = make_csrs(base / "csrs", args.n)
        print("issuing from CSRs (P-256 officer keys):")
        bench_thaisign("P-384 CA, SQLite", base, "ec-p384", lambda: None, csrs, parallel=True)
        bench_thaisign("RSA-3072 CA, SQLite", base, "rsa-3072", lambda: None, csrs)
        if not args.no_postgres:
            from support.servers import run_postgres

            with run_postgres(base / "pg") as pg:
                names = iter(range(100))
                bench_thaisign(
                    "P-384 CA, PostgreSQL",
                    base,
                    "ec-p384",
                    lambda: pg.new_database(f"bench{next(names)}"),
                    csrs,
                    parallel=True,
                )
        with new_ca(base / "openssl-src", "ec-p384", None) as ca:
            bench_openssl(base, ca, csrs, args.openssl_n)
        print("CRL generation:")
        bench_crl(base)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
