"""The signing side tells the officer what matters and leaves nothing behind: a revoked or untrusted
certificate gets a warning (or, with --strict, no signature), a TSA failure names the URL and what
happened, output folders are made, temporary files of killed runs are removed by the next run, and a
batch makes its outputs durable as a group (one file-system sync) with the same crash guarantee.
The test PKI's OCSP responder and real HTTP servers on 127.0.0.1 answer; qpdf checks the outputs."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pades_checks import CLI_ENV, run_cli
from support.pki import FIXED_TIME, PASSPHRASE, TestPKI
from support.servers import free_port, serve_wsgi

from thaisign._fs import sweep_stale_temps
from thaisign._service import Response, ServiceApp
from thaisign.pades.letter import make_letter

AT = ["--signing-time", "2026-11-21T03:42Z"]


def _sign(letter: Path, out: Path, p12: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli("sign", str(letter), "-o", str(out), "--p12", str(p12), *AT, *extra, env=CLI_ENV)


@pytest.fixture()
def revoked_officer(pki: TestPKI, pki_services) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    issued = pki.issue_officer(f"revoked-{os.getpid()}-{time.monotonic_ns()}")
    pki_services.revoke(issued, "key_compromise", FIXED_TIME - dt.timedelta(days=2))
    try:
        yield issued.p12
    finally:
        pki_services.unrevoke_all()


def test_a_revoked_certificate_is_warned_about_and_refused_with_strict(
    letter: Path, tmp_path: Path, pki: TestPKI, revoked_officer: Path
) -> None:
    trust = ["--trust", str(pki.root_pem)]
    r = _sign(letter, tmp_path / "warned.pdf", revoked_officer, *trust)
    assert r.returncode == 0, r.stderr  # B-B: signed, but the officer is told
    assert "thaisign: warning: the signer's certificate" in r.stderr and "is revoked" in r.stderr
    r = _sign(letter, tmp_path / "strict.pdf", revoked_officer, *trust, "--strict")
    assert r.returncode != 0 and "is revoked" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "strict.pdf").exists()
    good = _sign(letter, tmp_path / "good.pdf", pki.officer_ec.p12, *trust, "--strict")
    assert good.returncode == 0, good.stderr
    assert "warning" not in good.stderr


def test_an_untrusted_certificate_is_warned_about_and_refused_with_strict(
    letter: Path, tmp_path: Path, pki: TestPKI, pki_services
) -> None:  # type: ignore[no-untyped-def]
    other_root = tmp_path / "other-root.pem"
    other_root.write_bytes(_foreign_root(tmp_path))  # a root that did not issue this officer's CA
    r = _sign(letter, tmp_path / "w.pdf", pki.officer_ec.p12, "--trust", str(other_root))
    assert r.returncode == 0 and "does not chain to a root in the --trust roots" in r.stderr
    r = _sign(letter, tmp_path / "s.pdf", pki.officer_ec.p12, "--trust", str(other_root), "--strict")
    assert r.returncode != 0 and "does not chain" in r.stderr and not (tmp_path / "s.pdf").exists()


def _foreign_root(tmp_path: Path) -> bytes:
    from support.pki import build_test_pki

    other = build_test_pki(tmp_path / "other-pki", "http://127.0.0.1:9")
    return other.root_pem.read_bytes()


def _tsa_error(letter: Path, tmp_path: Path, pki: TestPKI, url: str) -> str:
    out = tmp_path / "t.pdf"
    r = _sign(letter, out, pki.officer_ec.p12, "--level", "B-T", "--tsa", url)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert "cannot write the signed PDF" not in r.stderr  # it is not a disk problem
    assert not out.exists()
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("thaisign: error:")]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_tsa_errors_name_the_url_and_what_happened(
    letter: Path, tmp_path: Path, pki: TestPKI, pki_services
) -> None:  # type: ignore[no-untyped-def]
    dead = f"http://127.0.0.1:{free_port()}/tsa"
    line = _tsa_error(letter, tmp_path, pki, dead)
    assert f"cannot reach the TSA {dead}" in line and "refused" in line.lower()
    wrong = f"{pki_services.base_url}/no-such-tsa"
    line = _tsa_error(letter, tmp_path, pki, wrong)
    assert f"the TSA {wrong} answered HTTP 404" in line

    html = ServiceApp({"/": lambda r: Response(200, b"<html>login</html>", "text/html")})
    refusing = ServiceApp({"/": lambda r: Response(200, _refusal(), "application/timestamp-reply")})
    with serve_wsgi(html) as base:
        line = _tsa_error(letter, tmp_path, pki, f"{base}/")
        assert (
            f"the TSA {base}/ did not answer with a time-stamp reply (HTTP 200, Content-Type text/html)"
            in line
        )
    with serve_wsgi(refusing) as base:
        line = _tsa_error(letter, tmp_path, pki, f"{base}/")
        assert f"the TSA {base}/ refused the request" in line and "down for maintenance" in line
        assert "system_failure" in line
    r = _sign(letter, tmp_path / "x.pdf", pki.officer_ec.p12, "--level", "B-T", "--tsa", "ftp://tsa.example/")
    assert r.returncode == 2 and "is not an http:// or https:// URL" in r.stderr


def _refusal() -> bytes:
    from thaisign.tsa.authority import rejection

    return rejection("system_failure", "down for maintenance")


def test_output_folders_are_made(letter: Path, tmp_path: Path, pki: TestPKI) -> None:
    out = tmp_path / "ออก" / "2569" / "signed.pdf"
    r = _sign(letter, out, pki.officer_ec.p12)
    assert r.returncode == 0, r.stderr
    subprocess.run(["qpdf", "--check", str(out)], check=True, capture_output=True)


def test_temporary_files_of_killed_runs_are_removed_by_the_next_run(
    letter: Path, tmp_path: Path, pki: TestPKI
) -> None:
    """A sign --in-place of a big letter killed with SIGKILL leaves its temporary file; the next
    run into that folder removes it (and leaves those of processes that still run)."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    big = folder / "big.pdf"
    big.write_bytes(make_letter(1, filler_bytes=40 * 1024 * 1024))  # streamed, not in memory
    original = big.read_bytes()
    proc = subprocess.Popen(
        [sys.executable, "-m", "thaisign", "sign", str(big), "--in-place",
         "--p12", str(pki.officer_ec.p12), *AT],
        env={**os.environ, **CLI_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    temps: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        temps = [p for p in folder.iterdir() if p.name.endswith(".tmp") and p.stat().st_size > 1024 * 1024]
        if temps:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert temps, "the run finished before it could be killed while writing"
    assert all(t.exists() for t in temps)  # what a killed run leaves behind
    assert big.read_bytes() == original  # the input is untouched
    mine = folder / f".other.pdf.thaisign-{os.getpid()}-abc.tmp"  # a live process's: kept
    mine.write_bytes(b"in progress")
    r = _sign(letter, folder / "next.pdf", pki.officer_ec.p12)
    assert r.returncode == 0, r.stderr
    assert not any(t.exists() for t in temps) and mine.exists()
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["big.pdf", "next.pdf"]


def test_sweeping_leaves_foreign_and_live_files(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    (tmp_path / f".a.pdf.thaisign-{pid}-x1.tmp").write_bytes(b"x")
    (tmp_path / f".b.pdf.thaisign-{os.getpid()}-x2.tmp").write_bytes(b"x")
    (tmp_path / ".c.pdf.tmp").write_bytes(b"not ours")
    (tmp_path / "d.pdf").write_bytes(b"output")
    assert sweep_stale_temps(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f".b.pdf.thaisign-{os.getpid()}-x2.tmp", ".c.pdf.tmp", "d.pdf"]
    )


def test_a_batch_syncs_once_per_group_and_killed_batches_leave_only_whole_files(
    letter: Path, tmp_path: Path, pki: TestPKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thaisign import _fs
    from thaisign.pades import KeySource, SigningOptions, sign_many

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    files = []
    for i in range(40):
        p = inbox / f"letter-{i:02d}.pdf"
        p.write_bytes(letter.read_bytes())
        files.append(p)
    calls = {"syncfs": 0, "fsync": 0}
    real_sync_fs, real_fsync = _fs.sync_filesystem, os.fsync

    def counting_sync_fs(d: object) -> None:
        calls["syncfs"] += 1
        real_sync_fs(d)  # type: ignore[arg-type]

    def counting_fsync(fd: int) -> None:
        calls["fsync"] += 1
        real_fsync(fd)

    monkeypatch.setattr(_fs, "sync_filesystem", counting_sync_fs)
    monkeypatch.setattr(os, "fsync", counting_fsync)
    key = KeySource(p12=str(pki.officer_ec.p12), passphrase=PASSPHRASE)
    items = sign_many(files, tmp_path / "out", key, SigningOptions(signing_time=FIXED_TIME), workers=1)
    assert all(i.ok for i in items)
    assert calls["syncfs"] == 3  # 40 letters in groups of 16: three syncs, not forty fsyncs
    assert calls["fsync"] == 3  # and one sync of the folder per group
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]

    # killed mid-batch: whatever is in the output folder is a whole, valid PDF
    out = tmp_path / "out2"
    proc = subprocess.Popen(
        [sys.executable, "-m", "thaisign", "sign", str(inbox), "--out-dir", str(out), "--workers", "2",
         "--p12", str(pki.officer_ec.p12), *AT],
        env={**os.environ, **CLI_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and len(list(out.glob("*.pdf"))) >= 10:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = list(out.glob("*.pdf"))
    assert done, "nothing was signed before the kill"
    for pdf in done:
        subprocess.run(["qpdf", "--check", str(pdf)], check=True, capture_output=True)
    r = run_cli("sign", str(inbox), "--out-dir", str(out), "--p12", str(pki.officer_ec.p12), *AT, env=CLI_ENV)
    assert r.returncode == 0, r.stderr
    assert len(list(out.glob("*.pdf"))) == 40 and not [p for p in out.iterdir() if p.name.startswith(".")]
