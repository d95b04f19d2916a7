"""Helpers and fixtures for the CA tests.

Not a conftest.py: without packages every conftest is the module ``conftest``, and a second one
in tests/ca would shadow tests/conftest.py for ``from conftest import ...``. Test modules import
the fixtures they use from here.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from thaisign.ca import Authority, CaProfile, OfficerProfile

CA_PASSPHRASE = "รหัสผ่าน-CA-ทดสอบ"
SOMCHAI = OfficerProfile(
    name_th="นายสมชาย ใจดี",
    given_name="สมชาย",
    surname="ใจดี",
    position="ผู้อำนวยการกอง",
    ou="กองกลาง",
    email="somchai@dla.go.th",
    employee_id="E0042",
)
counter = itertools.count()


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``thaisign`` in a subprocess, with no terminal and no secrets but those given."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("THAISIGN_")}
    return subprocess.run(
        [sys.executable, "-m", "thaisign", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        timeout=120,
    )


def assert_one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode != 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("thaisign: error:")]
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n.lower() in r.stderr.lower(), r.stderr


def make_csr(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None, *, ask_ca: bool = False
) -> tuple[bytes, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Evil CA")])
    )
    if ask_ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    from cryptography.hazmat.primitives.asymmetric import ed25519

    csr = b.sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM), key


def openssl_attime(t: dt.datetime) -> str:
    return str(int(t.timestamp()))


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run the README test command, which installs it")
    return path


_DB_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(name="db_kind", scope="session", params=_DB_KINDS)
def db_kind_fixture(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(name="new_db_url", scope="session")
def new_db_url_fixture(request: pytest.FixtureRequest) -> Callable[[str], str | None]:
    """``new_db_url(kind)``: None (SQLite in the CA folder) or a fresh PostgreSQL database URL."""

    def make(kind: str) -> str | None:
        if kind == "sqlite":
            return None
        pg = request.getfixturevalue("postgres")
        return str(pg.new_database(f"ca_{os.getpid()}_{next(counter)}"))

    return make


@pytest.fixture(name="authority", scope="module")
def authority_fixture(
    tmp_path_factory: pytest.TempPathFactory,
    db_kind: str,
    new_db_url: Callable[[str], str | None],
    fixed_time: dt.datetime,
) -> Iterator[Authority]:
    """A P-384 agency root CA on SQLite or PostgreSQL, created at the fixed test time."""
    d = tmp_path_factory.mktemp(f"ca-{db_kind}") / "ca"
    profile = CaProfile(
        name_th="กรมส่งเสริมการปกครองท้องถิ่น",
        name_en="Department of Local Administration",
        org_id="NTRTH-0994000000000",
        base_url="http://127.0.0.1:8765",
        policy_oid="2.16.764.1.2.3.4",
        db=new_db_url(db_kind),
    )
    ca = Authority.init(d, profile, passphrase=CA_PASSPHRASE, now=fixed_time - dt.timedelta(days=30))
    yield ca
    ca.close()
