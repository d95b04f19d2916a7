"""``thaisign ca ...`` end to end in subprocesses, with OpenSSL checking what it writes."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from ca_helpers import CA_PASSPHRASE, assert_one_line_error, make_csr, openssl_attime, require_tool, run_cli
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from support.pki import TestPKI

from thaisign.ca import CertificateStore

ENV = {"THAISIGN_CA_PASSPHRASE": CA_PASSPHRASE}
OFFICER = [
    "--name-th",
    "นายสมชาย ใจดี",
    "--position",
    "ผู้อำนวยการกอง",
    "--given-name",
    "สมชาย",
    "--surname",
    "ใจดี",
]


def _counts(ca_dir: Path) -> dict[str, int]:
    with CertificateStore.open(ca_dir) as store:
        return store.counts()


@pytest.fixture(scope="module")
def cli_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA made by 'thaisign ca init' with the passphrase from a file."""
    base = tmp_path_factory.mktemp("cli")
    pw = base / "ca-pass.txt"
    pw.write_text(CA_PASSPHRASE + "\n")
    ca_dir = base / "ca"
    r = run_cli(
        "ca",
        "init",
        str(ca_dir),
        "--name-th",
        "กรมส่งเสริมการปกครองท้องถิ่น",
        "--name-en",
        "Department of Local Administration",
        "--org-id",
        "NTRTH-0994000000000",
        "--base-url",
        "http://127.0.0.1:9/",
        "--passphrase-file",
        str(pw),
    )
    assert r.returncode == 0, r.stderr
    assert (ca_dir / "ca-key.pem").stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in (ca_dir / "ca-key.pem").read_bytes()
    for name in ("ca.pem", "chain.pem", "profile.toml", "ca.db"):
        assert (ca_dir / name).exists()
    return ca_dir


def test_issue_list_show_revoke_crl_audit(cli_ca: Path, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    csr, _ = make_csr()
    (tmp_path / "s.csr").write_bytes(csr)
    out = tmp_path / "somchai.pem"
    r = run_cli(
        "ca",
        "issue",
        str(cli_ca),
        "--csr",
        str(tmp_path / "s.csr"),
        *OFFICER,
        "--employee-id",
        "E1",
        "--email",
        "somchai@dla.go.th",
        "--out-cert",
        str(out),
        env=ENV,
    )
    assert r.returncode == 0, r.stderr
    cert = x509.load_pem_x509_certificate(out.read_bytes())
    at = openssl_attime(cert.not_valid_before_utc + dt.timedelta(hours=1))
    v = subprocess.run(
        [openssl, "verify", "-attime", at, "-CAfile", str(cli_ca / "ca.pem"), str(out)],
        capture_output=True,
        text=True,
    )
    assert v.returncode == 0, v.stderr

    p12 = tmp_path / "somying.p12"
    r = run_cli(
        "ca",
        "issue",
        str(cli_ca),
        "--out-p12",
        str(p12),
        "--key",
        "rsa-2048",
        "--name-th",
        "นางสาวสมหญิง รักไทย",
        "--position",
        "นักจัดการงานทั่วไป",
        "--json",
        env={**ENV, "THAISIGN_PASSPHRASE": "p12-รหัสผ่านของนายสมชาย"},
    )
    assert r.returncode == 0, r.stderr
    issued = json.loads(r.stdout)
    assert issued["key_type"] == "rsa-2048" and issued["source"] == "new-key"
    assert p12.stat().st_mode & 0o777 == 0o600
    key, p12_cert, chain = pkcs12.load_key_and_certificates(
        p12.read_bytes(), "p12-รหัสผ่านของนายสมชาย".encode()
    )
    assert (
        key is not None and p12_cert is not None and format(p12_cert.serial_number, "x") == issued["serial"]
    )
    assert [c.subject for c in chain] == [
        x509.load_pem_x509_certificate((cli_ca / "ca.pem").read_bytes()).subject
    ]
    # OpenSSL reads the PKCS#12 too
    o = subprocess.run(
        [openssl, "pkcs12", "-in", str(p12), "-nokeys", "-passin", "pass:p12-รหัสผ่านของนายสมชาย"],
        capture_output=True,
        text=True,
    )
    assert o.returncode == 0 and "BEGIN CERTIFICATE" in o.stdout, o.stderr

    listed = json.loads(run_cli("ca", "list", str(cli_ca), "--json").stdout)
    serial = format(cert.serial_number, "x")
    assert serial in {c["serial"] for c in listed}
    shown = json.loads(run_cli("ca", "show", str(cli_ca), serial, "--json").stdout)
    assert shown["name_th"] == "นายสมชาย ใจดี" and shown["employee_id"] == "E1" and shown["status"] == "valid"
    text = run_cli("ca", "list", str(cli_ca)).stdout
    assert "นายสมชาย ใจดี" in text

    r = run_cli("ca", "revoke", str(cli_ca), serial, "--reason", "key-compromise", env=ENV)
    assert r.returncode == 0, r.stderr
    before = _counts(cli_ca)
    assert_one_line_error(run_cli("ca", "revoke", str(cli_ca), serial, env=ENV), "already revoked")
    assert_one_line_error(
        run_cli("ca", "revoke", str(cli_ca), "abc123", env=ENV), "no certificate with serial"
    )
    assert_one_line_error(run_cli("ca", "revoke", str(cli_ca), serial, "--reason", "nope", env=ENV), "reason")
    assert _counts(cli_ca) == before
    revoked = json.loads(run_cli("ca", "list", str(cli_ca), "--status", "revoked", "--json").stdout)
    assert [c["serial"] for c in revoked] == [serial]

    crl_der, crl_pem = tmp_path / "ca.crl", tmp_path / "ca-crl.pem"
    assert run_cli("ca", "crl", str(cli_ca), "-o", str(crl_der), env=ENV).returncode == 0
    assert run_cli("ca", "crl", str(cli_ca), "-o", str(crl_pem), "--pem", env=ENV).returncode == 0
    c = subprocess.run(
        [
            openssl,
            "crl",
            "-inform",
            "DER",
            "-in",
            str(crl_der),
            "-CAfile",
            str(cli_ca / "ca.pem"),
            "-noout",
            "-text",
        ],
        capture_output=True,
        text=True,
    )
    assert c.returncode == 0 and "verify OK" in c.stdout + c.stderr and serial.upper() in c.stdout
    n1 = x509.load_der_x509_crl(crl_der.read_bytes()).extensions.get_extension_for_class(x509.CRLNumber).value
    n2 = x509.load_pem_x509_crl(crl_pem.read_bytes()).extensions.get_extension_for_class(x509.CRLNumber).value
    assert n2.crl_number == n1.crl_number + 1

    r = run_cli("ca", "audit", str(cli_ca), "--verify")
    assert r.returncode == 0 and "intact" in r.stdout, r.stderr
    exported = json.loads(run_cli("ca", "audit", str(cli_ca), "--verify", "--json").stdout)
    assert exported["verified"] is True
    assert [e["action"] for e in exported["entries"]][:4] == ["init", "crl", "issue", "issue"]
    assert exported["entries"][2]["serial"] == serial


def test_bad_input_is_one_line_without_store_change(cli_ca: Path, tmp_path: Path) -> None:
    before = _counts(cli_ca)
    csr, _ = make_csr()
    (tmp_path / "ok.csr").write_bytes(csr)
    bad = bytearray(x509.load_pem_x509_csr(csr).public_bytes(serialization.Encoding.DER))
    bad[-3] ^= 0x40
    (tmp_path / "bad.csr").write_bytes(bytes(bad))
    issue = ["ca", "issue", str(cli_ca), *OFFICER]
    assert_one_line_error(
        run_cli(*issue, "--csr", str(tmp_path / "ok.csr"), env={"THAISIGN_CA_PASSPHRASE": "wrong"}),
        "wrong CA passphrase",
    )
    assert_one_line_error(
        run_cli(*issue, "--csr", str(tmp_path / "ok.csr")), "passphrase"
    )  # none, no terminal
    assert_one_line_error(run_cli(*issue, "--csr", str(tmp_path / "bad.csr"), env=ENV), "signature")
    assert_one_line_error(run_cli(*issue, "--csr", str(tmp_path / "missing.csr"), env=ENV), "not found")
    assert_one_line_error(
        run_cli(
            "ca",
            "issue",
            str(cli_ca),
            "--csr",
            str(tmp_path / "ok.csr"),
            "--name-th",
            "นายสมชาย ใจดี",
            "--position",
            "ผู้อำนวยการกอง",
            "--employee-id",
            "3100503020129",
            env=ENV,
        ),
        "citizen ID",
    )
    assert _counts(cli_ca) == before
    assert_one_line_error(
        run_cli("ca", "init", str(cli_ca), "--name-th", "ซ้ำ", "--local", env=ENV), "not empty"
    )
    assert_one_line_error(run_cli("ca", "list", str(tmp_path / "nowhere")), "not found")


def test_corrupt_profile_and_unreachable_database(cli_ca: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(cli_ca, broken)
    (broken / "profile.toml").write_text("[ca\nname_th = ")
    assert_one_line_error(run_cli("ca", "list", str(broken)), "corrupt", "profile.toml")
    assert_one_line_error(
        run_cli("ca", "crl", str(broken), "-o", str(tmp_path / "x.crl"), env=ENV), "corrupt"
    )
    # a profile whose PostgreSQL server is gone
    from support.servers import free_port

    text = (cli_ca / "profile.toml").read_text()
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/ca?connect_timeout=3"
    (broken / "profile.toml").write_text(text.replace("[ca]\n", f'[ca]\ndb = "{url}"\n'))
    assert_one_line_error(run_cli("ca", "list", str(broken)), "cannot use the CA database")
    assert_one_line_error(run_cli("ca", "revoke", str(broken), "ab", env=ENV), "cannot use the CA database")


def test_subordinate_ca_via_csr(pki: TestPKI, tmp_path: Path) -> None:
    """--csr-only, then the parent (the test PKI root, built with cryptography) signs, then install-cert."""
    sub = tmp_path / "sub"
    r = run_cli(
        "ca",
        "init",
        str(sub),
        "--name-th",
        "สำนักงานจังหวัดตัวอย่าง",
        "--name-en",
        "Example Provincial Office",
        "--csr-only",
        "--key",
        "ec-p256",
        "--base-url",
        "http://ca.province.example",
        env=ENV,
    )
    assert r.returncode == 0, r.stderr
    assert not (sub / "ca.pem").exists()
    csr = x509.load_pem_x509_csr((sub / "ca.csr").read_bytes())
    assert csr.is_signature_valid
    issue = ["ca", "issue", str(sub), "--out-p12", str(tmp_path / "x.p12"), *OFFICER]
    assert_one_line_error(
        run_cli(*issue, env={**ENV, "THAISIGN_PASSPHRASE": "p12-passphrase-test"}), "no certificate yet"
    )
    now = dt.datetime.now(dt.UTC)
    parent_cert = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(pki.root.cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))  # the CLI issues at the current time
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(pki.root.key, hashes.SHA384())  # type: ignore[arg-type]
    )
    cert_file = tmp_path / "sub-from-parent.pem"
    cert_file.write_bytes(parent_cert.public_bytes(serialization.Encoding.PEM))
    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(pki.officer_ec.cert.public_bytes(serialization.Encoding.PEM))
    assert_one_line_error(run_cli("ca", "install-cert", str(sub), str(wrong)), "not for this CA's key")
    r = run_cli("ca", "install-cert", str(sub), str(cert_file), "--chain", str(pki.root_pem))
    assert r.returncode == 0, r.stderr
    r = run_cli(
        *issue,
        "--out-cert",
        str(tmp_path / "x.pem"),
        env={**ENV, "THAISIGN_PASSPHRASE": "p12-passphrase-test"},
    )
    assert r.returncode == 0, r.stderr
    v = subprocess.run(
        [
            require_tool("openssl"),
            "verify",
            "-attime",
            openssl_attime(now + dt.timedelta(hours=1)),
            "-CAfile",
            str(pki.root_pem),
            "-untrusted",
            str(sub / "chain.pem"),
            str(tmp_path / "x.pem"),
        ],
        capture_output=True,
        text=True,
    )
    assert v.returncode == 0, v.stdout + v.stderr


@pytest.mark.parametrize(
    "command", ["init", "install-cert", "issue", "issue-batch", "list", "show", "revoke", "crl", "audit"]
)
def test_every_command_has_help_with_example(command: str) -> None:
    r = run_cli("ca", command, "--help")
    assert r.returncode == 0 and "Example" in r.stdout, r.stdout + r.stderr


def test_init_refuses_an_existing_folder_before_asking_for_a_passphrase(tmp_path: Path) -> None:
    existing = tmp_path / "ca"
    existing.mkdir()
    (existing / "notes.txt").write_text("ของเดิม")
    r = run_cli("ca", "init", str(existing), "--name-th", "กรมทดสอบ", "--local")  # no passphrase anywhere
    assert_one_line_error(r, "exists and is not empty")
    assert "passphrase" not in r.stderr
    assert [p.name for p in existing.iterdir()] == ["notes.txt"]
