"""Helpers for the platform tests: a small platform (issuing CA, two or three agencies, operators of
every role with their API tokens) on SQLite or on the session's real PostgreSQL, on a clock the
test moves on purpose (never the wall clock)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from thaisign.ca import OfficerProfile
from thaisign.platform import AgencyProfile, ApiToken, Platform, Session

CA_PASSPHRASE = "รหัสผ่าน กุญแจ CA แพลตฟอร์ม ทดสอบ"
SERVICE_PASSPHRASE = "รหัสผ่าน บริการสถานะ ทดสอบ"
START = dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)  # the platform is created a little before FIXED_TIME

DLA = "กรมส่งเสริมการปกครองท้องถิ่น"
PAO = "องค์การบริหารส่วนจังหวัดนครราชสีมา"
SOMCHAI = OfficerProfile(name_th="นายสมชาย ใจดี", position="ผู้อำนวยการกอง", employee_id="E0042")
SOMYING = OfficerProfile(name_th="นางสาวสมหญิง รักไทย", position="นักจัดการงานทั่วไป", employee_id="P0007")


class Clock:
    """A clock the test moves on purpose."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now = self.now + dt.timedelta(**delta)
        return self.now


@dataclass
class Deployment:
    """A platform and the tokens of its operators: ``admin``, ``dla`` / ``pao`` (agency
    operators), ``auditor`` (platform-wide), ``dla-auditor``."""

    directory: Path
    db_url: str | None
    platform: Platform
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)

    def session(self, who: str) -> Session:
        return self.platform.session(ApiToken(self.tokens[who]))

    def reopen(self) -> Platform:
        return Platform.open(self.directory, passphrase=CA_PASSPHRASE, clock=self.clock)


def make_platform(
    base: Path,
    db_url: str | None,
    *,
    clock: Clock | None = None,
    agencies: tuple[str, ...] = ("dla", "pao"),
    base_url: str = "http://127.0.0.1:9",
    pao_profile: AgencyProfile | None = None,
) -> Deployment:
    clock = clock or Clock(START)
    directory = base / "pki"
    platform, admin = Platform.init(
        directory,
        name_th="จังหวัดนครราชสีมา",
        name_en="Nakhon Ratchasima Province",
        base_url=base_url,
        db=db_url,
        admin_name="นางสุดา ผู้ดูแลระบบ",
        passphrase=CA_PASSPHRASE,
        service_passphrase=SERVICE_PASSPHRASE,
        key="ec-p256",
        agency_key="ec-p256",
        now=clock(),
    )
    platform.clock = clock
    assert admin is not None
    deployment = Deployment(directory, db_url, platform, clock, {"admin": admin})
    s = deployment.session("admin")
    names = {"dla": DLA, "pao": PAO, "moe": "สำนักงานศึกษาธิการจังหวัดนครราชสีมา"}
    for slug in agencies:
        profile = AgencyProfile(ca_key="ec-p256", policy_oid=f"2.16.764.1.4.{len(slug)}.{ord(slug[0])}")
        if slug == "pao" and pao_profile is not None:
            profile = pao_profile
        s.create_agency(slug, names[slug], profile=profile)
        op = s.appoint(f"เจ้าหน้าที่ {slug}", "operator", agency=slug)
        deployment.tokens[slug] = s.create_token(op.id, label=f"{slug} operator")
    auditor = s.appoint("นายตรวจ สอบทาน", "auditor")
    deployment.tokens["auditor"] = s.create_token(auditor.id)
    if "dla" in agencies:
        dla_auditor = s.appoint("นางตรวจ เฉพาะกรม", "auditor", agency="dla")
        deployment.tokens["dla-auditor"] = s.create_token(dla_auditor.id)
    return deployment


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """``thaisign ARGS`` in a subprocess without a terminal and with no secrets but those given."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("THAISIGN_")}
    return subprocess.run(
        [sys.executable, "-m", "thaisign", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(pem(c) for c in certs))
    return path


def new_db(postgres_fixture: Callable[[], object] | None, name: str) -> str | None:
    """None (SQLite in the platform folder) or a fresh PostgreSQL database URL."""
    if postgres_fixture is None:
        return None
    server = postgres_fixture()
    return str(server.new_database(name))  # type: ignore[attr-defined]


# --- status replicas: real 'thaisign platform serve-status' processes ---------------------------------


@dataclass
class Replica:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_replica(
    db_url: str,
    base: Path,
    env: dict[str, str],
    *,
    workers: int = 1,
    port: int | None = None,
    extra: tuple[str, ...] = (),
) -> Replica:
    """``thaisign platform serve-status --db URL`` on 127.0.0.1, ready when /health answers 200."""
    import time
    import urllib.error
    import urllib.request

    from support.servers import free_port

    port = port or free_port()
    log = base / f"status-{port}.log"
    args = [sys.executable, "-m", "thaisign", "platform", "serve-status", "--db", db_url, "--port", str(port)]
    args += ["--workers", str(workers), *extra]
    process = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        env={**env, "THAISIGN_PASSPHRASE": SERVICE_PASSPHRASE},
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve-status stopped: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                if r.status == 200:
                    return Replica(url, process, log)
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"serve-status did not become ready: {log.read_text()[-3000:]}")
