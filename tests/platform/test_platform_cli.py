"""The platform from the command line: init, isolation through the CLI (an operator's token file
reaches its own agency only), one-line errors, --json, --help with examples, secrets never on argv."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from platform_helpers import CA_PASSPHRASE, SERVICE_PASSPHRASE, SOMYING, Deployment, run_cli
from support.tools import require_tool

pytestmark = pytest.mark.slow

SECRETS = {"THAISIGN_CA_PASSPHRASE": CA_PASSPHRASE}


def _token_file(d: Deployment, who: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{who}.token"
    path.write_text(d.tokens[who] + "\n")
    path.chmod(0o600)
    return path


def _one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("thaisign: error:")]
    assert len(errors) == 1, r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr


def _csr(tmp_path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "officer.csr"
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return path


def test_init_from_the_command_line(tmp_path: Path) -> None:
    token = tmp_path / "admin.token"
    env = {"THAISIGN_CA_PASSPHRASE": CA_PASSPHRASE, "THAISIGN_PASSPHRASE": SERVICE_PASSPHRASE}
    r = run_cli(
        "platform", "init", str(tmp_path / "pki"), "--name-th", "จังหวัดขอนแก่น", "--base-url", "http://pki.khonkaen.go.th",
        "--admin-name", "นายผู้ดูแล ระบบ", "--admin-token-file", str(token), "--key", "ec-p256", "--json",
        env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["ocsp"] == "http://pki.khonkaen.go.th/ocsp"
    assert oct(token.stat().st_mode & 0o777) == "0o600" and token.read_text().startswith("tsp_")
    assert CA_PASSPHRASE not in r.stdout + r.stderr
    again = run_cli(
        "platform", "init", str(tmp_path / "pki"), "--name-th", "ซ้ำ", "--base-url", "http://x.go.th",
        "--admin-name", "x", "--admin-token-file", str(tmp_path / "other.token"), env=env,
    )  # fmt: skip
    _one_line_error(again, "not empty")
    short = run_cli(
        "platform", "init", str(tmp_path / "weak"), "--name-th", "จังหวัด", "--base-url", "http://x.go.th",
        "--admin-name", "x", "--admin-token-file", str(tmp_path / "w.token"),
        env={"THAISIGN_CA_PASSPHRASE": "short", "THAISIGN_PASSPHRASE": SERVICE_PASSPHRASE},
    )  # fmt: skip
    _one_line_error(short, "too short")
    assert not (tmp_path / "weak").exists()


def test_an_operator_token_reaches_its_own_agency_only(deployment: Deployment, tmp_path: Path) -> None:
    d = deployment
    directory = str(d.directory)
    dla = _token_file(d, "dla", tmp_path)
    pao_serial = d.session("pao").issue("pao", SOMYING, new_key="ec-p256").serial_hex
    csr = _csr(tmp_path)
    r = run_cli(
        "platform", "issue", directory, "--agency", "dla", "--csr", str(csr), "--name-th", "นายสมชาย ใจดี",
        "--position", "ผู้อำนวยการกอง", "--out-cert", str(tmp_path / "somchai.pem"),
        "--token-file", str(dla), "--json", env=SECRETS,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    issued = json.loads(r.stdout)
    assert issued["agency"] == "dla" and (tmp_path / "somchai.pem").exists()
    for args in (
        ("list", directory, "--agency", "pao"),
        ("show", directory, "--agency", "pao", pao_serial),
        ("revoke", directory, "--agency", "pao", pao_serial, "--reason", "key-compromise"),
        ("crl", directory, "--agency", "pao"),
        ("audit", directory, "--agency", "pao", "--verify"),
        ("agency", "show", directory, "pao"),
        ("issue", directory, "--agency", "pao", "--csr", str(csr), "--name-th", "นาย ก", "--position", "ข"),
    ):
        _one_line_error(run_cli("platform", *args, "--token-file", str(dla), env=SECRETS), "no agency 'pao'")
    # the certificate of the other agency is not found through its own agency either
    r = run_cli(
        "platform", "revoke", directory, "--agency", "dla", pao_serial, "--token-file", str(dla), env=SECRETS
    )
    _one_line_error(r, "no certificate with serial")
    assert d.session("pao").certificate("pao", pao_serial).revoked_at is None
    r = run_cli("platform", "list", directory, "--agency", "dla", "--token-file", str(dla), "--json")
    assert issued["serial"] in {c["serial"] for c in json.loads(r.stdout)["certificates"]}
    r = run_cli(
        "platform",
        "agency",
        "create",
        directory,
        "mine",
        "--name-th",
        "กรมของฉัน",
        "--token-file",
        str(dla),
        env=SECRETS,
    )
    _one_line_error(r, "may not")
    assert r.returncode == 4


def test_credentials_from_the_command_line(deployment: Deployment, tmp_path: Path) -> None:
    directory = str(deployment.directory)
    _one_line_error(
        run_cli("platform", "agency", "list", directory), "no platform credential", "--token-file"
    )
    loose = _token_file(deployment, "dla", tmp_path)
    loose.chmod(0o644)
    _one_line_error(run_cli("platform", "agency", "list", directory, "--token-file", str(loose)), "chmod 600")
    bad = tmp_path / "bad.token"
    bad.write_text("tsp_0000000000000000_" + "A" * 43)
    bad.chmod(0o600)
    _one_line_error(
        run_cli("platform", "agency", "list", directory, "--token-file", str(bad)),
        "unknown, revoked or expired",
    )
    r = run_cli(
        "platform", "agency", "list", directory, env={"THAISIGN_PLATFORM_TOKEN": deployment.tokens["auditor"]}
    )
    assert r.returncode == 0 and "dla" in r.stdout and "pao" in r.stdout
    _one_line_error(
        run_cli("platform", "agency", "list", str(tmp_path / "none"), "--token-file", str(bad)),
        "not a thaisign platform folder",
    )


def test_audit_figures_and_json(deployment: Deployment, tmp_path: Path) -> None:
    directory = str(deployment.directory)
    auditor = _token_file(deployment, "auditor", tmp_path)
    r = run_cli("platform", "audit", directory, "--platform", "--verify", "--token-file", str(auditor))
    assert r.returncode == 0 and "platform: intact" in r.stdout, r.stderr
    r = run_cli("platform", "audit", directory, "--agency", "dla", "--json", "--token-file", str(auditor))
    chains = json.loads(r.stdout)["chains"]
    assert chains["dla generation 1"][0]["action"] == "init"
    r = run_cli(
        "platform",
        "figures",
        directory,
        "--json",
        "--at",
        "2026-12-31T00:00+07:00",
        "--token-file",
        str(auditor),
    )
    figures = json.loads(r.stdout)
    assert {a["slug"] for a in figures["agencies"]} == {"dla", "pao"} and figures["total"]["agencies"] == 2
    r = run_cli("platform", "figures", directory, "--token-file", str(auditor))
    assert r.returncode == 0 and "รวมทุกหน่วยงาน" in r.stdout and "น." in r.stdout
    assert "Agency" not in r.stdout  # Thai only in Thai
    english = run_cli("platform", "figures", directory, "--lang", "en", "--token-file", str(auditor))
    assert "All agencies" in english.stdout and "รวมทุกหน่วยงาน" not in english.stdout
    _one_line_error(
        run_cli("platform", "figures", directory, "--at", "yesterday", "--token-file", str(auditor)), "--at"
    )


def test_every_command_has_help_with_an_example() -> None:
    groups = {
        "agency": ["create", "import", "list", "show", "rollover", "renew", "profile"],
        "operator": ["add", "list", "disable"],
        "token": ["create", "revoke"],
    }
    commands = [
        ["init"], ["install-cert"], ["issue"], ["revoke"], ["list"], ["show"], ["crl"], ["audit"],
        ["figures"], ["serve"], ["serve-status"], *([g, c] for g, cs in groups.items() for c in cs),
    ]  # fmt: skip
    for command in commands:
        r = run_cli("platform", *command, "--help")
        assert r.returncode == 0 and "Example" in r.stdout, (command, r.stdout)


def test_the_openssl_view_of_a_cli_issued_certificate(deployment: Deployment, tmp_path: Path) -> None:
    d = deployment
    pao = _token_file(d, "pao", tmp_path)
    env = {**SECRETS, "THAISIGN_PASSPHRASE": "รหัสผ่าน ไฟล์กุญแจ เจ้าหน้าที่"}
    r = run_cli(
        "platform", "issue", str(d.directory), "--agency", "pao", "--out-p12", str(tmp_path / "somying.p12"),
        "--name-th", "นางสาวสมหญิง รักไทย", "--position", "นักจัดการงานทั่วไป", "--token-file", str(pao), env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = subprocess.run(
        [
            require_tool("openssl"),
            "pkcs12",
            "-in",
            str(tmp_path / "somying.p12"),
            "-nokeys",
            "-passin",
            "env:P",
        ],
        capture_output=True,
        text=True,
        env={"P": env["THAISIGN_PASSPHRASE"], "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0 and out.stdout.count("BEGIN CERTIFICATE") == 3, (
        out.stderr
    )  # officer, agency CA, root
