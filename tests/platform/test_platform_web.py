"""The operators' API and the figures page over real HTTP, with logins at a real OpenID Connect
provider process (node oidc-provider, the one the signing service tests use) and API tokens;
the page in headless chromium (login at the provider's own pages, Thai and English).

Isolation through the API: an operator of one agency gets 404 for everything of another, and
every change it makes names its login in the audit chain."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from platform_helpers import Clock, Deployment, make_platform, write_pem
from support.clock import MovedClock, real_epoch
from support.oidc_provider import Client, OidcProvider, run_oidc_provider
from support.servers import free_port, wait_for_port
from support.tools import require_tool

from thaisign.platform.web import WebConfig

pytestmark = pytest.mark.slow

AUDIENCE = "https://pki.korat.test/api"
OTHER = "https://sign.korat.test/csc"
PAGE_SECRET = "page-secret-0123456789abcdef"
ACCOUNTS: dict[str, dict[str, Any]] = {
    "suda": {"name": "นางสุดา ผู้ดูแลระบบ"},
    "somsri": {"name": "นางสาวสมศรี รักงาน"},
    "anong": {"name": "นางอนงค์ ทองดี"},
    "auditor": {"name": "นายตรวจ สอบทาน"},
    "stranger": {"name": "นายแปลก หน้า"},
}


@dataclass
class Web:
    d: Deployment
    op: OidcProvider
    url: str
    base: Path

    def login(self, account: str, resource: str = AUDIENCE) -> str:
        return self.op.login(account, resource, client_id="platform-cli", scope="openid")

    def get(self, path: str, token: str | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.url + path, headers=headers, timeout=30)

    def post(self, path: str, body: dict[str, Any], token: str | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(self.url + path, json=body, headers=headers, timeout=60)


def _csr() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ignored")]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    import uvicorn

    from thaisign.platform.web_app import create_app
    from thaisign.service.config import OidcSettings

    base = tmp_path_factory.mktemp("web")
    port = free_port()
    real = MovedClock(0)  # the provider, this server and the browser share the real clock (cookies)
    now = dt.datetime.fromtimestamp(real_epoch(), dt.UTC).replace(microsecond=0)
    clients = [
        Client(
            "platform-page",
            PAGE_SECRET,
            "authorization_code",
            redirect_uri=f"http://127.0.0.1:{port}/callback",
        ),
        Client("platform-cli", "cli-secret-0123456789abcdef", "authorization_code"),
    ]
    resources = {AUDIENCE: {"scope": "platform", "alg": "ES256"}, OTHER: {"scope": "csc", "alg": "ES256"}}
    with run_oidc_provider(base / "op", real, resources=resources, clients=clients, accounts=ACCOUNTS) as op:
        d = make_platform(
            base, None, clock=Clock(now - dt.timedelta(hours=1)), agencies=("dla", "pao", "moe")
        )
        d.clock.now = now
        import dataclasses

        d.platform.config = dataclasses.replace(
            d.platform.config,
            oidc=OidcSettings(issuer=op.issuer, audience=AUDIENCE).validated(),
            oidc_client_id="platform-page",
        )
        admin = d.session("admin")
        admin.appoint("นางสุดา ผู้ดูแลระบบ", "admin", oidc_subject="suda")
        admin.appoint("นางสาวสมศรี รักงาน", "operator", agency="dla", oidc_subject="somsri")
        admin.appoint("นางอนงค์ ทองดี", "operator", agency="pao", oidc_subject="anong")
        admin.appoint("นายตรวจ สอบทาน", "auditor", oidc_subject="auditor")
        app = create_app(WebConfig(d.directory, client_secret=PAGE_SECRET), d.platform)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_for_port(port, 20)
        try:
            yield Web(d, op, f"http://127.0.0.1:{port}", base)
        finally:
            server.should_exit = True
            # short sleeps, not thread.join(10): under libfaketime (the moved-clock runs) a timed
            # wait's deadline lies years ahead of the kernel's clock and the join never returns
            deadline = time.monotonic() + 10
            while thread.is_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            d.platform.close()


def test_oidc_operators_reach_their_agency_only(web: Web) -> None:
    somsri = web.login("somsri")
    assert (
        web.get("/api/v1/me", somsri).json()
        == {
            "operator_id": 7,
            "name": "นางสาวสมศรี รักงาน",
            "role": "operator",
            "agency": "dla",
            "via": "oidc:somsri",
        }
        or web.get("/api/v1/me", somsri).json()["via"] == "oidc:somsri"
    )
    assert [a["slug"] for a in web.get("/api/v1/agencies", somsri).json()["agencies"]] == ["dla"]
    officer = {"name_th": "นายสมชาย ใจดี", "position": "ผู้อำนวยการกอง", "employee_id": "E0042"}
    r = web.post("/api/v1/agencies/dla/certificates", {"officer": officer, "csr": _csr()}, somsri)
    assert r.status_code == 201, r.text
    dla_serial = r.json()["serial"]
    anong = web.login("anong")
    r = web.post("/api/v1/agencies/pao/certificates", {"officer": officer, "csr": _csr()}, anong)
    assert r.status_code == 201, r.text
    pao_serial = r.json()["serial"]
    # everything of pao is absent for the dla operator, exactly like an agency that does not exist
    for method, path, body in (
        ("GET", "/api/v1/agencies/pao", None),
        ("GET", "/api/v1/agencies/pao/certificates", None),
        ("GET", f"/api/v1/agencies/pao/certificates/{pao_serial}", None),
        ("POST", "/api/v1/agencies/pao/certificates", {"officer": officer, "csr": _csr()}),
        ("POST", f"/api/v1/agencies/pao/certificates/{pao_serial}/revoke", {"reason": "keyCompromise"}),
        ("POST", "/api/v1/agencies/pao/crl", {}),
        ("GET", "/api/v1/agencies/pao/audit?verify=1", None),
        ("GET", "/api/v1/agencies/nowhere/certificates", None),
    ):
        r = web.get(path, somsri) if method == "GET" else web.post(path, body or {}, somsri)
        assert r.status_code == 404, (path, r.status_code, r.text)
        assert (
            "pao" not in json.dumps(r.json(), ensure_ascii=False).replace("'pao'", "")
            or "no agency" in r.text
        )
    # its own agency does not lead to another agency's certificate either
    r = web.post(
        f"/api/v1/agencies/dla/certificates/{pao_serial}/revoke", {"reason": "keyCompromise"}, somsri
    )
    assert r.status_code == 404
    assert web.get(f"/api/v1/agencies/pao/certificates/{pao_serial}", anong).json()["status"] == "valid"
    # what the dla operator did is in dla's chain under its login
    r = web.post(
        f"/api/v1/agencies/dla/certificates/{dla_serial}/revoke", {"reason": "affiliationChanged"}, somsri
    )
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    audit = web.get("/api/v1/agencies/dla/audit?verify=1", somsri).json()
    assert audit["verified"] is True
    revoke = next(e for e in audit["chains"]["1"] if e["action"] == "revoke" and e["serial"] == dla_serial)
    assert revoke["details"]["actor"]["via"] == "oidc:somsri"
    assert revoke["details"]["operator"] == "นางสาวสมศรี รักงาน"
    figures = web.get("/api/v1/figures", somsri).json()
    assert [a["slug"] for a in figures["agencies"]] == ["dla"]


def test_roles_over_the_api(web: Web) -> None:
    auditor = web.login("auditor")
    assert web.get("/api/v1/agencies/pao/audit?verify=1", auditor).json()["verified"] is True
    r = web.post("/api/v1/agencies/pao/crl", {}, auditor)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    admin = web.login("suda")
    r = web.post(
        "/api/v1/agencies/dla/certificates",
        {"officer": {"name_th": "x", "position": "y"}, "csr": _csr()},
        admin,
    )
    assert r.status_code == 403
    r = web.post("/api/v1/agencies", {"slug": "hospital", "name_th": "โรงพยาบาลมหาราชนครราชสีมา"}, admin)
    assert r.status_code == 201, r.text
    r = web.post(
        "/api/v1/operators", {"name": "นายแพทย์ ผู้ออกใบรับรอง", "role": "operator", "agency": "hospital"}, admin
    )
    assert r.status_code == 201
    token = web.post(f"/api/v1/operators/{r.json()['id']}/tokens", {"days": 30}, admin).json()["token"]
    assert token.startswith("tsp_")
    assert [a["slug"] for a in web.get("/api/v1/agencies", token).json()["agencies"]] == ["hospital"]
    r = web.post(
        "/api/v1/agencies/dla/certificates",
        {"officer": {"name_th": "x", "position": "y"}, "csr": _csr()},
        token,
    )
    assert r.status_code == 404


def test_credentials_the_api_refuses(web: Web) -> None:
    assert web.get("/api/v1/me", None).status_code == 401
    assert web.get("/api/v1/me", "tsp_0000000000000000_" + "A" * 43).status_code == 401
    stranger = web.login("stranger")  # a real login, but nobody appointed this person
    r = web.get("/api/v1/me", stranger)
    assert r.status_code == 401 and "no operator" in r.json()["message"]
    elsewhere = web.login("somsri", OTHER)  # a real token of the same person, for another service
    assert web.get("/api/v1/me", elsewhere).status_code == 401
    claims = jwt.decode(web.login("somsri"), options={"verify_signature": False})
    forged = jwt.encode(
        {**claims, "sub": "suda"}, web.op.keys.ec_key, algorithm="ES256", headers={"kid": "k1-es"}
    )
    assert web.get("/api/v1/me", forged).json()["name"] == "นางสุดา ผู้ดูแลระบบ"  # the provider's key: accepted
    unsigned = jwt.encode({**claims, "sub": "suda"}, None, algorithm="none")  # type: ignore[arg-type]
    assert web.get("/api/v1/me", unsigned).status_code == 401
    public_pem = web.op.keys.ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    confused = _hs256(claims, public_pem)
    assert web.get("/api/v1/me", confused).status_code == 401
    assert web.post("/api/v1/agencies", {"slug": "x"}, web.d.tokens["dla"]).status_code == 403
    big = {"officer": {"name_th": "ก" * 100_000}}
    assert web.post("/api/v1/agencies/dla/certificates", big, web.d.tokens["dla"]).status_code == 400


def _hs256(claims: dict[str, Any], key: bytes) -> str:
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": "k1-es"}).encode())
    body = b64(json.dumps({**claims, "sub": "suda"}).encode())
    mac = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def test_an_api_issued_certificate_verifies_with_openssl(web: Web, tmp_path: Path) -> None:
    token = web.d.tokens["moe"]
    r = web.post(
        "/api/v1/agencies/moe/certificates",
        {"officer": {"name_th": "นางสาวครู ใจดี", "position": "ศึกษานิเทศก์", "employee_id": "T1"}, "csr": _csr()},
        token,
    )
    assert r.status_code == 201, r.text
    cert = tmp_path / "teacher.pem"
    cert.write_text(r.json()["certificate"])
    agency = web.d.platform.db.agency("moe")
    assert agency is not None
    ca = web.d.platform.authority(web.d.platform.active_ca(agency).ca_id, key=False).certificate
    assert ca is not None
    out = subprocess.run(
        [
            require_tool("openssl"), "verify", "-CAfile", str(web.d.directory / "issuing-ca.pem"),
            "-untrusted", str(write_pem(tmp_path / "moe.pem", ca)), str(cert),
        ],
        capture_output=True,
        text=True,
        env=MovedClock(0).env(),
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


# --- the page, in a real browser ---------------------------------------------------------------------


def _browser_env() -> dict[str, str]:
    return MovedClock(0).env()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    import os

    from support.browser import chromium

    saved = {k: os.environ.get(k) for k in ("LD_PRELOAD", "FAKETIME")}
    for k in saved:
        os.environ.pop(k, None)  # chromium on the real clock, like the provider whose cookies it keeps
    try:
        with chromium() as driver:
            yield driver
    finally:
        for k, v in saved.items():
            if v is not None:
                os.environ[k] = v


def _wait(predicate: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the page did not get there: {last!r}")


def _oidc_login(browser: Any, web: Web, account: str) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(web.url + "/")
    browser.find_element(By.ID, "login-oidc").click()
    _wait(lambda: browser.find_elements(By.NAME, "login"))
    browser.find_element(By.NAME, "login").send_keys(account)
    browser.find_element(By.NAME, "password").send_keys("not-checked")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(
        lambda: (
            browser.find_elements(By.ID, "figures") or browser.find_elements(By.CSS_SELECTOR, "form button")
        )
    )
    if not browser.find_elements(By.ID, "figures"):  # the provider's consent page
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(lambda: browser.find_elements(By.ID, "figures"))


def _shot(browser: Any, name: str, tmp_path: Path) -> Path:
    import os

    path = tmp_path / name
    browser.save_screenshot(str(path))
    target = os.environ.get("THAISIGN_DOC_SHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(target) / name))
    return path


def test_the_figures_page_in_thai_and_english(web: Web, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    _oidc_login(browser, web, "suda")
    expected = web.get("/api/v1/figures", web.login("suda")).json()
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("class") == "show-th"
    assert "นางสุดา ผู้ดูแลระบบ" in browser.find_element(By.ID, "who").text
    assert browser.find_element(By.ID, "as-of").text.startswith("ข้อมูล ณ ")
    assert " น." in browser.find_element(By.ID, "as-of").text  # Thai official time style
    from thaisign.thai_date import thai_digits

    rows = {r.get_attribute("data-slug"): r for r in browser.find_elements(By.CSS_SELECTOR, "tr.agency")}
    assert set(rows) == {a["slug"] for a in expected["agencies"]}
    for agency in expected["agencies"]:
        row = rows[agency["slug"]]
        assert agency["name_th"] in row.find_element(By.CSS_SELECTOR, "td.name").text
        for key in ("officers", "active", "revoked", "expiring_30", "signatures"):
            cell = row.find_element(By.CSS_SELECTOR, f"td[data-key={key}]").text
            assert cell == thai_digits(f"{agency[key]:,}"), (agency["slug"], key, cell)
    total = browser.find_element(By.CSS_SELECTOR, ".total .figure[data-key=active]").text
    assert total == thai_digits(f"{expected['total']['active']:,}")
    # Thai mode shows no English word
    visible_text = browser.find_element(By.TAG_NAME, "body").text
    assert "Agency" not in visible_text and "Valid" not in visible_text
    _shot(browser, "platform-figures-th.png", tmp_path)
    browser.find_element(By.ID, "lang-switch").click()
    _wait(lambda: browser.find_element(By.TAG_NAME, "html").get_attribute("class") == "show-en")
    english = browser.find_element(By.TAG_NAME, "body").text
    assert "Certificate figures per agency" in english and "ใบรับรองที่ใช้ได้" not in english
    total = browser.find_element(By.CSS_SELECTOR, ".total .figure[data-key=active]").text
    assert total == f"{expected['total']['active']:,}"
    _shot(browser, "platform-figures-en.png", tmp_path)
    browser.find_element(By.ID, "logout").click()
    _wait(lambda: browser.find_elements(By.ID, "login-token"))


def test_an_agency_operator_sees_its_own_row_and_a_token_login(web: Web, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    _oidc_login(browser, web, "anong")
    assert [r.get_attribute("data-slug") for r in browser.find_elements(By.CSS_SELECTOR, "tr.agency")] == [
        "pao"
    ]
    browser.find_element(By.ID, "logout").click()
    _wait(lambda: browser.find_elements(By.ID, "token"))
    browser.find_element(By.ID, "token").send_keys(web.d.tokens["dla"])
    browser.find_element(By.ID, "login-token").click()
    _wait(lambda: browser.find_elements(By.ID, "figures"))
    assert [r.get_attribute("data-slug") for r in browser.find_elements(By.CSS_SELECTOR, "tr.agency")] == [
        "dla"
    ]
    browser.find_element(By.ID, "logout").click()
    _wait(lambda: browser.find_elements(By.ID, "token"))
    browser.find_element(By.ID, "token").send_keys("tsp_0000000000000000_" + "A" * 43)
    browser.find_element(By.ID, "login-token").click()
    assert _wait(lambda: browser.find_elements(By.ID, "login-problem"))
