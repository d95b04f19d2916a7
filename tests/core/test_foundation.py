"""The foundation: error handling of the CLI, atomic writes, secrets, software signers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from support.pki import PASSPHRASE, TestPKI

from thaisign import errors
from thaisign._fs import atomic_write, refuse_overwrite_input
from thaisign._secrets import resolve_secret
from thaisign.keys import KeySpec, Signer


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thaisign", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def test_version_and_help() -> None:
    r = run_cli("--version")
    assert r.returncode == 0 and "thaisign" in r.stdout
    r = run_cli("--help")
    assert r.returncode == 0 and "Example" in r.stdout


def test_unknown_command_is_usage_error() -> None:
    r = run_cli("no-such-command")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_pkcs12_signer_signs_verifiably(pki: TestPKI) -> None:
    s = Signer.from_pkcs12(pki.officer_ec.p12, PASSPHRASE)
    sig = s.sign(b"hello", hash_algorithm="sha256")
    pub = s.public_key
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    pub.verify(sig, b"hello", ec.ECDSA(hashes.SHA256()))
    assert s.certificate == pki.officer_ec.cert
    assert s.chain[0] == pki.ca.cert and s.chain[1] == pki.root.cert
    assert s.signature_algorithm("sha256")["algorithm"].native == "sha256_ecdsa"


def test_pem_signer_rsa_and_digest(pki: TestPKI) -> None:
    s = Signer.from_pem(pki.officer_rsa.key_pem, pki.officer_rsa.cert_pem, pki.chain_pem, PASSPHRASE)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"letter")
    sig = s.sign_digest(digest.finalize(), hash_algorithm="sha256")
    s.public_key.verify(sig, b"letter", padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg]
    assert s.key_spec == KeySpec("rsa", 2048)


def test_wrong_passphrase_is_a_secret_error(pki: TestPKI) -> None:
    with pytest.raises(errors.SecretError):
        Signer.from_pkcs12(pki.officer_ec.p12, "wrong")
    with pytest.raises(errors.SecretError):
        Signer.from_pem(pki.officer_ec.key_pem, passphrase="wrong")


def test_mismatched_certificate_refused(pki: TestPKI) -> None:
    with pytest.raises(errors.KeyLoadError, match="does not match"):
        Signer.from_pem(pki.officer_ec.key_pem, pki.officer_rsa.cert_pem, passphrase=PASSPHRASE)


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(errors.InputError, match="not found"):
        Signer.from_pkcs12(tmp_path / "nope.p12", "x")


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    atomic_write(target, b"first", mode=0o600)
    assert target.read_bytes() == b"first" and (target.stat().st_mode & 0o777) == 0o600
    from thaisign._fs import atomic_open

    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write(b"half")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_refuse_overwrite_input(tmp_path: Path) -> None:
    f = tmp_path / "a.pdf"
    f.write_bytes(b"x")
    with pytest.raises(errors.OutputError):
        refuse_overwrite_input([f], tmp_path / "." / "a.pdf")


def test_secret_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "pw"
    f.write_text("จากไฟล์\n")
    assert resolve_secret(file=f, env="THAISIGN_PASSPHRASE", prompt="Passphrase") == "จากไฟล์"
    monkeypatch.setenv("THAISIGN_PASSPHRASE", "from-env")
    assert resolve_secret(env="THAISIGN_PASSPHRASE", prompt="Passphrase") == "from-env"
    monkeypatch.delenv("THAISIGN_PASSPHRASE")
    monkeypatch.setattr("sys.stdin", open(os.devnull))  # noqa: SIM115 - not a terminal
    with pytest.raises(errors.SecretError, match="THAISIGN_PASSPHRASE"):
        resolve_secret(env="THAISIGN_PASSPHRASE", prompt="Passphrase")


def test_key_spec_parse() -> None:
    assert KeySpec.parse("ec-p384") == KeySpec("ec", 384)
    assert str(KeySpec.parse("RSA-3072")) == "rsa-3072"
    with pytest.raises(ValueError):
        KeySpec.parse("dsa-1024")


def test_exit_code_of_ctx_exit_reaches_the_shell() -> None:
    """``python -m thaisign`` and the console script exit with a command's ctx.exit(n) code."""
    import click

    from thaisign.cli import main

    @click.command()
    @click.pass_context
    def failing(ctx: click.Context) -> None:
        ctx.exit(4)

    from thaisign import cli as cli_module

    cli_module.cli.add_command(failing, "failing-for-test")
    try:
        with pytest.raises(SystemExit) as exc:
            main(["failing-for-test"])
        assert exc.value.code == 4
    finally:
        cli_module.cli.commands.pop("failing-for-test", None)


def test_every_command_has_help_with_an_example() -> None:
    """The standard: every command's --help carries a copy-paste example."""
    import click

    from thaisign.cli import cli

    seen: list[str] = []

    def walk(group: click.Group, prefix: list[str]) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            assert cmd is not None, name
            path = [*prefix, name]
            if isinstance(cmd, click.Group):
                walk(cmd, path)
                continue
            text = cmd.get_help(click.Context(cmd, info_name=" ".join(path)))
            assert "Example" in text, f"'thaisign {' '.join(path)} --help' has no example"
            seen.append(" ".join(path))

    walk(cli, [])
    for expected in ("demo", "ca init", "ca issue", "sign", "verify", "hsm keygen", "tsa serve", "ca serve"):
        assert expected in seen
