"""Traps an operator walked into: ca init guessing the public URLs, short passphrases, passphrases typed
once, hints naming options that do not exist. Prompts are driven through a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from ca_helpers import CA_PASSPHRASE, assert_one_line_error, require_tool, run_cli

ENV = {"THAISIGN_CA_PASSPHRASE": CA_PASSPHRASE}


class Terminal:
    """``thaisign`` running on a pseudo-terminal (stdin is a tty, so it prompts)."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.master, slave = pty.openpty()
        base = {k: v for k, v in os.environ.items() if not k.startswith("THAISIGN_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "thaisign", *args],
            stdin=slave, stdout=slave, stderr=slave, env={**base, **(env or {})}, cwd=cwd, close_fds=True,
        )  # fmt: skip
        os.close(slave)
        self.seen = ""
        self._pos = 0  # expect() looks after its previous match: a prompt shown again is a new one

    def expect(self, text: str, timeout: float = 60) -> None:
        """Wait for ``text``; answer only after the prompt shows (getpass flushes earlier input)."""
        deadline = time.monotonic() + timeout
        while text not in self.seen[self._pos :]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"did not see {text!r} in {self.seen!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"ended before {text!r}: {self.seen!r}")
                self.seen += chunk.decode("utf-8", "replace")
        self._pos = self.seen.index(text, self._pos) + len(text)

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode("utf-8"))

    def finish(self, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096).decode("utf-8", "replace")
                except OSError:
                    break
        code = self.proc.wait(timeout=10)
        os.close(self.master)
        return code


def test_init_without_base_url_is_refused_and_nothing_is_made(tmp_path: Path) -> None:
    r = run_cli("ca", "init", str(tmp_path / "ca"), "--name-th", "กรมทดสอบ", env=ENV)
    assert_one_line_error(r, "give --base-url", "--local")
    assert not (tmp_path / "ca").exists()
    r = run_cli(
        "ca",
        "init",
        str(tmp_path / "ca"),
        "--name-th",
        "กรมทดสอบ",
        "--local",
        "--base-url",
        "http://x",
        env=ENV,
    )
    assert_one_line_error(r, "either --base-url or --local")


def test_init_prints_the_urls_it_writes_into_certificates(tmp_path: Path) -> None:
    r = run_cli(
        "ca", "init", str(tmp_path / "ca"), "--name-th", "กรมทดสอบ",
        "--base-url", "http://ca.dla.example/", env=ENV,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "CRL:            http://ca.dla.example/crl/ca.crl" in r.stdout
    assert "OCSP:           http://ca.dla.example/ocsp" in r.stdout
    assert "CA certificate: http://ca.dla.example/ca.cer" in r.stdout
    env = {**ENV, "THAISIGN_PASSPHRASE": "p12-passphrase-test"}
    r = run_cli(
        "ca", "issue", str(tmp_path / "ca"), "--name-th", "นายสมชาย ใจดี", "--position", "นิติกร",
        "--out-p12", str(tmp_path / "o.p12"), "--out-cert", str(tmp_path / "o.pem"), env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    text = subprocess.run(
        [require_tool("openssl"), "x509", "-in", str(tmp_path / "o.pem"), "-noout", "-ext",
         "crlDistributionPoints,authorityInfoAccess"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "URI:http://ca.dla.example/crl/ca.crl" in text and "OCSP - URI:http://ca.dla.example/ocsp" in text
    r = run_cli("ca", "init", str(tmp_path / "trial"), "--name-th", "กรมทดสอบ", "--local", env=ENV)
    assert r.returncode == 0 and "http://127.0.0.1:8080/ocsp" in r.stdout and "--local" in r.stdout


def test_short_ca_passphrase_is_refused(tmp_path: Path) -> None:
    r = run_cli(
        "ca", "init", str(tmp_path / "ca"), "--name-th", "กรมทดสอบ", "--local",
        env={"THAISIGN_CA_PASSPHRASE": "abc"},
    )  # fmt: skip
    assert_one_line_error(r, "new CA passphrase is too short (3 characters); use at least 12")
    assert "abc" not in r.stderr.replace("characters", "")
    assert not (tmp_path / "ca").exists()
    r = run_cli(
        "ca", "init", str(tmp_path / "ca"), "--name-th", "กรมทดสอบ", "--local",
        env={"THAISIGN_CA_PASSPHRASE": "a" * 20},
    )  # fmt: skip
    assert_one_line_error(r, "one character repeated")


def test_pkcs12_without_passphrase_hints_the_option_that_exists(tmp_path: Path) -> None:
    assert (
        run_cli("ca", "init", str(tmp_path / "ca"), "--name-th", "กรมทดสอบ", "--local", env=ENV).returncode
        == 0
    )
    r = run_cli(
        "ca", "issue", str(tmp_path / "ca"), "--name-th", "นายสมชาย ใจดี", "--position", "นิติกร",
        "--out-p12", str(tmp_path / "o.p12"), env=ENV,
    )  # fmt: skip
    assert_one_line_error(r, "no passphrase for the new PKCS#12 given")
    assert "pass --p12-passphrase-file" in r.stderr and "THAISIGN_PASSPHRASE" in r.stderr
    assert not (tmp_path / "o.p12").exists()


def test_new_passphrases_are_asked_twice_at_a_prompt_including_the_batch(tmp_path: Path) -> None:
    t = Terminal("ca", "init", str(tmp_path / "ca"), "--name-th", "กรมทดสอบ", "--local")
    t.expect("New CA passphrase:")
    t.send(CA_PASSPHRASE)
    t.expect("Repeat for confirmation:")
    t.send(CA_PASSPHRASE + "x")
    t.expect("do not match")
    t.expect("New CA passphrase:")
    t.send(CA_PASSPHRASE)
    t.expect("Repeat for confirmation:")
    t.send(CA_PASSPHRASE)
    assert t.finish() == 0, t.seen
    (tmp_path / "o.csv").write_text("employee_id,name_th,position\nE1,นายหนึ่ง ทดสอบ,นิติกร\n", encoding="utf-8")
    t = Terminal(
        "ca", "issue-batch", str(tmp_path / "ca"), str(tmp_path / "o.csv"),
        "--out-dir", str(tmp_path / "out"), env=ENV,
    )  # fmt: skip
    t.expect("Passphrase for new PKCS#12 files:")
    t.send("p12-passphrase-test")
    t.expect("Repeat for confirmation:")
    t.send("p12-passphrase-test")
    assert t.finish() == 0, t.seen
    assert (tmp_path / "out" / "E1.p12").exists()
