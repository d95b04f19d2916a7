"""PKCS#11 benchmark: letters signed through SoftHSM2, thaisign vs pyHanko, and a token-held CA key.

Run directly (``python benchmarks/_pkcs11_bench.py [--letters N] [--batch N] [--certs N]``) or via
``benchmarks/sign.py --pkcs11``, which calls :func:`main`. It builds a private SoftHSM2 token folder
(``SOFTHSM2_CONF``) in a temporary directory, so it must run before anything in the process loads
SoftHSM2. It PRINTS figures; it asserts nothing.

Figures:
  1. one process, one session, P-256 officer key in the token, a one-page Thai letter, PAdES B-B:
     thaisign ``sign_pdf`` vs pyHanko ``PKCS11Signer`` (raw CKM_ECDSA, one session) — ms per letter;
  2. ``sign_many`` with 2 workers (one login per worker) vs the same batch in one process;
  3. certificates issued per second by a CA whose P-384 key is in the token (signing + one DB
     transaction for the batch), and the raw token signature rates.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

MODULE_CANDIDATES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
PIN = "246810"
TOKEN = "bench"


def _module() -> str:
    for m in MODULE_CANDIDATES:
        if Path(m).exists():
            return m
    raise SystemExit("SoftHSM2 is not installed (apt-get install softhsm2)")


def _setup_token(base: Path) -> str:
    tokens = base / "tokens"
    tokens.mkdir(parents=True)
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", "13579"],
        check=True,
        capture_output=True,
    )
    return str(conf)


def _officer_cert(public_key: object, ca_key: object, ca_cert: object) -> object:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID, ObjectIdentifier

    now = dt.datetime.now(dt.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "กรมส่งเสริมการปกครองท้องถิ่น"),
            x509.NameAttribute(NameOID.COMMON_NAME, "นายสมชาย ใจดี"),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)  # type: ignore[attr-defined]
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ObjectIdentifier("1.3.6.1.5.5.7.3.36")]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )


def _self_signed_ca() -> tuple[object, object]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _pdfsig_valid(paths: list[Path]) -> int:
    """How many of ``paths`` pdfsig finds validly signed over the whole file."""
    ok = 0
    for p in paths:
        out = subprocess.run(["pdfsig", "-nocert", str(p)], capture_output=True, text=True).stdout
        ok += "Signature is Valid" in out and "Total document signed" in out
    return ok


def _timed(fn: Callable[[int], None], n: int, warmup: int = 3) -> list[float]:
    for i in range(warmup):
        fn(-1 - i)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:.2f} ms, mean {statistics.mean(samples) * 1000:.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=100, help="letters per one-process run")
    parser.add_argument("--batch", type=int, default=1000, help="letters for the sign_many comparison")
    parser.add_argument("--certs", type=int, default=1000, help="certificates for the CA issuance rate")
    parser.add_argument("--keep", action="store_true", help="keep the temporary token and output folder")
    args = parser.parse_args(argv)

    if "pkcs11" in sys.modules:
        print("note: pkcs11 already imported; SoftHSM2 must not be initialised before this benchmark")
    module = _module()
    work = Path(tempfile.mkdtemp(prefix="thaisign-pkcs11-bench-"))
    _setup_token(work / "softhsm")

    from cryptography.hazmat.primitives import serialization

    from thaisign import hsm
    from thaisign.pades import KeySource, SigningOptions, sign_many, sign_pdf
    from thaisign.pades.letter import make_letter

    token_uri = f"pkcs11:token={TOKEN}"
    made = hsm.generate_key(f"{token_uri};object=somchai", "ec-p256", pin=PIN, module=module)
    ca_key, ca_cert = _self_signed_ca()
    officer_cert = _officer_cert(made.public_key, ca_key, ca_cert)
    hsm.import_certificate(str(made.uri), officer_cert, [ca_cert], pin=PIN, module=module)  # type: ignore[arg-type]

    letter = work / "letter.pdf"
    letter.write_bytes(make_letter())
    out_dir = work / "out"
    out_dir.mkdir()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (1 min)")
    print(f"letter: one page, {letter.stat().st_size} bytes; key: P-256 in SoftHSM2; level B-B, invisible")

    # 1a. thaisign, one process, one session
    signer = hsm.Pkcs11Signer.open(str(made.uri), pin=PIN, module=module)
    opts = SigningOptions(level="B-B")

    def thaisign_one(i: int) -> None:
        sign_pdf(letter, out_dir / f"t{i}.pdf", signer, opts)

    t_samples = _timed(thaisign_one, args.letters)
    # 1c. the same sign_pdf with the same certificate but a software key: isolates the token's share
    from cryptography.hazmat.primitives.asymmetric import ec as _ec

    from thaisign.keys import SoftwareSigner

    soft_key = _ec.generate_private_key(_ec.SECP256R1())
    soft = SoftwareSigner(soft_key, _officer_cert(soft_key.public_key(), ca_key, ca_cert), [ca_cert])  # type: ignore[arg-type]

    def software_one(i: int) -> None:
        sign_pdf(letter, out_dir / f"s{i}.pdf", soft, opts)

    s_samples = _timed(software_one, args.letters)
    # 1b. pyHanko's own PKCS#11 signer on the same token, key and letter
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session

    hsm.forget_sessions()  # log thaisign out, so pyHanko's session can log in (one login per application)
    session = open_pkcs11_session(module, token_criteria=TokenCriteria(label=TOKEN), user_pin=PIN)
    ph_signer = PKCS11Signer(session, key_label="somchai", cert_label="somchai", use_raw_mechanism=True)
    meta = signers.PdfSignatureMetadata(field_name="Signature1", subfilter=SigSeedSubFilter.PADES)
    data = letter.read_bytes()

    def pyhanko_one(i: int) -> None:
        import io

        w = IncrementalPdfFileWriter(io.BytesIO(data))
        with (out_dir / f"p{i}.pdf").open("wb") as fh:
            signers.sign_pdf(w, meta, signer=ph_signer, output=fh)

    p_samples = _timed(pyhanko_one, args.letters)
    session.close()
    print("\n1. one process, one logged-in session, per letter")
    print(f"   thaisign sign_pdf + Pkcs11Signer : {_ms(t_samples)}  (target <= 8 ms)")
    print(f"   pyHanko PKCS11Signer (raw ECDSA) : {_ms(p_samples)}  (issue baseline: 22 ms)")
    print(f"   thaisign sign_pdf, software key  : {_ms(s_samples)}  (same PDF work, no token)")
    sample = [out_dir / f"t{i}.pdf" for i in (0, args.letters // 2, args.letters - 1)]
    print(f"   pdfsig on thaisign outputs       : {_pdfsig_valid(sample)}/{len(sample)} valid")

    # 2. sign_many: 2 workers vs one process
    batch_in = work / "batch"
    batch_in.mkdir()
    inputs = []
    for i in range(args.batch):
        p = batch_in / f"letter-{i:04}.pdf"
        p.write_bytes(data)
        inputs.append(p)
    key = KeySource(key_uri=str(made.uri), pkcs11_module=module, pin=PIN)
    rates = {}
    for workers in (1, 2):
        dest = work / f"batch-out-{workers}"
        dest.mkdir()
        t0 = time.perf_counter()
        items = sign_many(inputs, dest, key, opts, workers=workers)
        elapsed = time.perf_counter() - t0
        ok = sum(i.ok for i in items)
        rates[workers] = ok / elapsed
        print(
            f"\n2. sign_many workers={workers}: {ok}/{len(items)} letters in {elapsed:.2f} s = "
            f"{rates[workers]:.1f} letters/s"
            if workers == 1
            else f"2. sign_many workers={workers}: {ok}/{len(items)} letters in {elapsed:.2f} s = "
            f"{rates[workers]:.1f} letters/s"
        )
    print(f"   speed-up with 2 workers: {rates[2] / rates[1]:.2f}x  (target >= 1.7x)")
    batch_out = sorted((work / "batch-out-2").iterdir())
    sample = batch_out[:: max(1, len(batch_out) // 5)]
    print(f"   pdfsig on sign_many outputs: {_pdfsig_valid(sample)}/{len(sample)} valid")

    # 3. CA with a P-384 key in the token
    from cryptography.hazmat.primitives.asymmetric import ec

    from thaisign.ca import Authority, CaProfile, OfficerProfile

    ca_made = hsm.generate_key(f"{token_uri};object=agency-ca", "ec-p384", pin=PIN, module=module)
    profile = CaProfile(
        name_th="กรมส่งเสริมการปกครองท้องถิ่น",
        name_en="Department of Local Administration",
        key_uri=str(ca_made.uri),
        pkcs11_module=module,
    ).validated()
    ca_dir = work / "ca"
    officer_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    with Authority.init(ca_dir, profile, pin=PIN) as authority:
        officer = OfficerProfile(name_th="นายสมชาย ใจดี", position="ผู้อำนวยการกอง")
        for _ in range(5):
            authority.prepare_officer(officer, officer_key, source="token")
        t0 = time.perf_counter()
        prepared = [
            authority.prepare_officer(officer, officer_key, source="token") for _ in range(args.certs)
        ]
        t_sign = time.perf_counter() - t0
        authority.record(prepared)
        t_all = time.perf_counter() - t0
        one = prepared[0].der
    print(f"\n3. CA key P-384 in SoftHSM2, {args.certs} officer certificates")
    print(f"   built + signed in the token : {args.certs / t_sign:.0f} certificates/s")
    print(f"   + recorded in one DB batch  : {args.certs / t_all:.0f} certificates/s  (target >= 500/s)")
    cert_file = work / "one.der"
    cert_file.write_bytes(one)
    v = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca_dir / "ca.pem"), str(cert_file)],
        capture_output=True,
        text=True,
    )
    if v.returncode != 0:  # openssl verify wants PEM
        from cryptography import x509

        pem = x509.load_der_x509_certificate(one).public_bytes(serialization.Encoding.PEM)
        cert_file.write_bytes(pem)
        v = subprocess.run(
            ["openssl", "verify", "-CAfile", str(ca_dir / "ca.pem"), str(cert_file)],
            capture_output=True,
            text=True,
        )
    print(f"   openssl verify of one       : {v.stdout.strip() or v.stderr.strip()}")

    # raw token signature rates
    print("\n4. raw signatures through Pkcs11Signer (software SHA, CKM_ECDSA / CKM_RSA_PKCS)")
    for spec in ("ec-p256", "ec-p384", "rsa-2048"):
        k = hsm.generate_key(f"{token_uri};object=raw-{spec}", spec, pin=PIN, module=module)
        s = hsm.Pkcs11Signer.open(str(k.uri), pin=PIN, module=module)
        n = 500
        t0 = time.perf_counter()
        for _ in range(n):
            s.sign(b"x" * 1024)
        print(f"   {spec:8}: {n / (time.perf_counter() - t0):8.0f} signatures/s")
    hsm.forget_sessions()
    if args.keep:
        print(f"\nwork folder: {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
