"""A whole remote-signing deployment of real processes on 127.0.0.1, for the service tests and
the benchmark: SoftHSM2 token, agency CA (``thaisign ca init`` + ``ca serve`` for OCSP/CRL),
TSA (``thaisign tsa init/serve``), the OpenID provider (``op.mjs``) and signing services
(``thaisign service init/serve``), every process on one moved clock (:mod:`support.clock`).

Nothing here talks to the service except over HTTP, as e-Office would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from support.clock import MovedClock
from support.oidc_provider import Client, OidcProvider, ProviderKeys, run_oidc_provider
from support.servers import free_port, softhsm_module, wait_for_port

PIN = "246810"  # the token user PIN
SO_PIN = "13579"
TOKEN = "officers"
CA_PASSPHRASE = "ca-ทดสอบ-passphrase"
TSA_PASSPHRASE = "tsa-ทดสอบ-passphrase"
AUDIENCE = "https://sign.test.go.th/csc"
OTHER_AUDIENCE = "https://other.test.go.th/api"
OPERATOR_ROLE = "thaisign-operator"

CLIENTS = [
    Client("eoffice-web", "web-secret-0123456789abcdef", "authorization_code"),
    Client("eoffice-backend", "backend-secret-0123456789abcdef", "client_credentials"),
    Client("other-app", "other-secret-0123456789abcdef", "client_credentials"),
]
ACCOUNTS: dict[str, dict[str, Any]] = {
    "somchai": {"name": "นายสมชาย ใจดี"},
    "somsri": {"name": "นางสาวสมศรี รักงาน"},
    "wichai": {"name": "นายวิชัย มั่นคง"},
    "anong": {"name": "นางอนงค์ ทองดี"},
    "preecha": {"name": "นายปรีชา ชาญชัย"},
    "kanya": {"name": "นางกัญญา ศรีสุข"},
    "operator": {"name": "นางสุดา ผู้ดูแล", "roles": [OPERATOR_ROLE]},
}


def thaisign_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "thaisign", *args]


@dataclass
class ServiceProcess:
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


@dataclass
class Infrastructure:
    """The parts every service shares: token, CA (+ OCSP/CRL), TSA and the OpenID provider."""

    base: Path
    clock: MovedClock
    env: dict[str, str]  # for child processes: moved clock, SoftHSM2 folder, secrets
    ca_dir: Path
    tsa_url: str
    op: OidcProvider
    processes: list[Any] = field(default_factory=list)

    @property
    def root_pem(self) -> Path:
        return self.ca_dir / "ca.pem"

    def run(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """``thaisign ARGS`` on the deployment's clock."""
        result = subprocess.run(
            thaisign_cmd(*args),
            capture_output=True,
            text=True,
            env=env or self.env,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"thaisign {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def start(
        self, *args: str, port: int, log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            thaisign_cmd(*args),
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
            env=env or self.env,
            stdin=subprocess.DEVNULL,
        )
        self.processes.append(process)
        try:
            wait_for_port(port, timeout=30)
        except TimeoutError:
            process.kill()
            raise RuntimeError(
                f"thaisign {args[0]} {args[1]} did not start: {log.read_text()[-3000:]}"
            ) from None
        return process

    def service(
        self,
        name: str,
        *,
        factor: str,
        db: str | None = None,
        max_failures: int = 3,
        leeway: int = 5,
        sad_seconds: int = 120,
    ) -> Path:
        """``thaisign service init`` a new service folder."""
        directory = self.base / name
        args = [
            "service", "init", str(directory),
            "--name", "กรมทดสอบดิจิทัล",
            "--ca", str(self.ca_dir),
            "--token-uri", f"pkcs11:token={TOKEN}",
            "--issuer", self.op.issuer,
            "--audience", AUDIENCE,
            "--scope", "csc",
            "--backend-client", "eoffice-backend",
            "--operator-role", OPERATOR_ROLE,
            "--factor", factor,
            "--max-failures", str(max_failures),
            "--leeway", str(leeway),
            "--sad-seconds", str(sad_seconds),
            "--tsa", self.tsa_url,
            "--max-batch", "64",
        ]  # fmt: skip
        if db:
            args += ["--db", db]
        self.run(*args)
        return directory

    def serve(
        self, directory: Path, *, workers: int = 1, with_ca_key: bool = True, port: int | None = None
    ) -> ServiceProcess:
        port = port or free_port()
        log = self.base / f"service-{directory.name}-{port}.log"
        args = ["service", str(directory), "--port", str(port), "--workers", str(workers)]
        if with_ca_key:
            args.append("--with-ca-key")
        process = self.start(*args, port=port, log=log)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            time.sleep(0.1)
        return ServiceProcess(url, process, log)

    def close(self) -> None:
        for p in reversed(self.processes):
            if p.poll() is None:
                p.terminate()
        for p in self.processes:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


@contextlib.contextmanager
def infrastructure(
    base: Path, start: dt.datetime | None, *, keys: ProviderKeys | None = None, token_ttl: int = 900
) -> Iterator[Infrastructure]:
    """Token, CA with its OCSP/CRL server, TSA and OpenID provider, all on a clock starting at ``start``
    (None: the real clock, as the benchmark runs)."""
    module = softhsm_module()
    if module is None:
        raise RuntimeError("SoftHSM2 not installed: apt-get install softhsm2")
    base.mkdir(parents=True, exist_ok=True)
    clock = MovedClock.starting_at(start) if start is not None else MovedClock(0)
    tokens = base / "tokens"
    tokens.mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = clock.env(
        SOFTHSM2_CONF=str(conf),
        THAISIGN_PKCS11_MODULE=module,
        THAISIGN_PIN=PIN,
        THAISIGN_CA_PASSPHRASE=CA_PASSPHRASE,
        THAISIGN_OPERATOR="ผู้ดูแลระบบ",
    )
    for name in ("THAISIGN_PASSPHRASE", "THAISIGN_SERVICE_DB", "THAISIGN_DEBUG"):
        env.pop(name, None)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
        env=env,
    )
    ca_port, tsa_port = free_port(), free_port()
    ca_dir, tsa_dir = base / "ca", base / "tsa"
    resources = {AUDIENCE: {"scope": "csc", "alg": "ES256"}, OTHER_AUDIENCE: {"scope": "csc", "alg": "RS256"}}
    with run_oidc_provider(
        base / "op",
        clock,
        resources=resources,
        clients=CLIENTS,
        accounts=ACCOUNTS,
        keys=keys,
        access_token_ttl=token_ttl,
    ) as op:
        infra = Infrastructure(base, clock, env, ca_dir, f"http://127.0.0.1:{tsa_port}/tsa", op)
        try:
            infra.run(
                "ca", "init", str(ca_dir), "--name-th", "กรมทดสอบดิจิทัล",
                "--name-en", "Department of Digital Testing",
                "--key", "ec-p256", "--base-url", f"http://127.0.0.1:{ca_port}",
                # a national-root-like lifetime: letters are checked ten years on (B-LTA)
                "--valid-years", "20",
            )  # fmt: skip
            infra.start(
                # OCSP answers valid for a day, as many responders give: the letters are checked at
                # VERIFY_AT, hours after the deployment's clock started
                "ca", "serve", str(ca_dir), "--port", str(ca_port), "--next-update", "1440",
                port=ca_port, log=base / "ca-serve.log",
            )  # fmt: skip
            tsa_env = {**env, "THAISIGN_PASSPHRASE": TSA_PASSPHRASE}
            infra.run(
                # the TSA certificate outlives the ten-year check, as the archive's renewal plan assumes
                "tsa", "init", str(tsa_dir), "--ca", str(ca_dir), "--name-th", "TSA กรมทดสอบดิจิทัล",
                "--days", "3660", env=tsa_env,
            )  # fmt: skip
            infra.start(
                "tsa",
                "serve",
                str(tsa_dir),
                "--port",
                str(tsa_port),
                port=tsa_port,
                log=base / "tsa.log",
                env=tsa_env,
            )
            yield infra
        finally:
            infra.close()


def totp_now(clock: MovedClock, seed: str, *, later_steps: int = 0) -> str:
    """The current TOTP code by ``oathtool`` (an independent implementation), on the deployment's clock."""
    args = ["oathtool", "--totp", "-b", seed]
    if later_steps:
        args += ["-N", f"now + {30 * later_steps} seconds"]
    out = subprocess.run(args, capture_output=True, text=True, env=clock.env(), check=True)
    return out.stdout.strip()


def officer_fields(account: str) -> dict[str, str]:
    names = {
        "somchai": ("นายสมชาย ใจดี", "Somchai Jaidee", "นักวิชาการคอมพิวเตอร์ชำนาญการ", "E1001"),
        "somsri": ("นางสาวสมศรี รักงาน", "Somsri Rakngan", "ผู้อำนวยการกองกลาง", "E1002"),
        "wichai": ("นายวิชัย มั่นคง", "Wichai Mankong", "นิติกรปฏิบัติการ", "E1003"),
        "anong": ("นางอนงค์ ทองดี", "Anong Thongdee", "เจ้าพนักงานธุรการ", "E1004"),
        "preecha": ("นายปรีชา ชาญชัย", "Preecha Chanchai", "นักจัดการงานทั่วไป", "E1005"),
        "kanya": ("นางกัญญา ศรีสุข", "Kanya Srisuk", "นักวิเคราะห์นโยบายและแผน", "E1006"),
    }
    th, en, position, employee = names[account]
    return {"name_th": th, "name_en": en, "position": position, "employee_id": employee}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post(
    url: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
) -> requests.Response:
    return requests.post(f"{url}/{path}", json=body or {}, headers=bearer(token) if token else {}, timeout=60)


def environment_without_faketime() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FAKETIME") and k != "LD_PRELOAD"}


def enroll_officer(
    infra: Infrastructure, agency_url: str, account: str, *, pin: str | None, via_cli: object = None
) -> tuple[str, str | None]:
    """Officer logs in and asks; the operator approves (API, or CLI on ``via_cli``).

    Returns the credential ID and, for a TOTP agency, the seed handed to the officer once."""
    token = infra.op.login(account, AUDIENCE)
    body: dict[str, object] = {"officer": officer_fields(account)}
    if pin is not None:
        body["PIN"] = pin
    r = post(agency_url, "enroll/v1/requests", body, token)
    assert r.status_code == 201, r.text
    request_id = r.json()["requestID"]
    if via_cli is not None:
        done = infra.run("service", "approve", str(via_cli), request_id, "--json")
        import json

        credential = json.loads(done.stdout)["credentialID"]
    else:
        operator = infra.op.login("operator", AUDIENCE)
        r = post(agency_url, f"enroll/v1/requests/{request_id}/approve", {}, operator)
        assert r.status_code == 200, r.text
        credential = r.json()["credentialID"]
    seed = None
    import requests

    r = requests.get(
        f"{agency_url}/enroll/v1/requests/{request_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["credentialID"] == credential
    if "otpauth" in r.json():
        from urllib.parse import parse_qs, urlparse

        seed = parse_qs(urlparse(r.json()["otpauth"]).query)["secret"][0]
    return credential, seed
