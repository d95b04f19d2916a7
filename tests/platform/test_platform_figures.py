"""The figures per agency and in total — officers, valid/revoked/expired certificates, certificates
ending within 30 and 90 days, and signatures made through a real signing service (thaisign service,
CSC API, OpenID logins, keys in SoftHSM2) whose agency CA then moved into the platform."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from platform_helpers import SOMCHAI, SOMYING, Clock, Deployment, make_platform
from support.csc_deployment import (
    AUDIENCE,
    CA_PASSPHRASE,
    Infrastructure,
    ServiceProcess,
    enroll_officer,
    infrastructure,
    post,
)
from support.pki import FIXED_TIME
from support.tools import require_tool

from thaisign.ca import OfficerProfile
from thaisign.platform.config import SigningServiceSource

pytestmark = [pytest.mark.slow, pytest.mark.softhsm]

PINS = {"somchai": "918273", "wichai": "771930"}


@dataclass
class Signed:
    infra: Infrastructure
    service: ServiceProcess
    db_url: str
    counts: dict[str, int]


def _sign_hashes(infra: Infrastructure, url: str, account: str, credential: str, n: int) -> None:
    token = infra.op.login(account, AUDIENCE)
    digests = [
        base64.b64encode(hashlib.sha256(f"หนังสือ {account} {i}".encode()).digest()).decode() for i in range(n)
    ]
    r = post(
        url,
        "csc/v1/credentials/authorize",
        {"credentialID": credential, "numSignatures": n, "hash": digests, "PIN": PINS[account]},
        token,
    )
    assert r.status_code == 200, r.text
    body = {
        "credentialID": credential,
        "SAD": r.json()["SAD"],
        "hash": digests,
        "hashAlgo": "2.16.840.1.101.3.4.2.1",
        "signAlgo": "1.2.840.10045.4.3.2",
    }
    r = post(url, "csc/v1/signatures/signHash", body, token)
    assert r.status_code == 200 and len(r.json()["signatures"]) == n, r.text


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    require_tool("softhsm2-util")
    with infrastructure(tmp_path_factory.mktemp("figures-csc"), FIXED_TIME) as infra:
        directory = infra.service("korat-eoffice", factor="pin")
        service = infra.serve(directory, workers=1)
        credentials = {a: enroll_officer(infra, service.url, a, pin=PINS[a])[0] for a in PINS}
        _sign_hashes(infra, service.url, "somchai", credentials["somchai"], 3)
        _sign_hashes(infra, service.url, "wichai", credentials["wichai"], 1)
        _sign_hashes(infra, service.url, "somchai", credentials["somchai"], 2)
        yield Signed(infra, service, f"sqlite:///{directory / 'service.db'}", {"somchai": 5, "wichai": 1})
        service.stop()


@pytest.fixture(scope="module")
def figures_platform(tmp_path_factory: pytest.TempPathFactory, signed: Signed) -> Iterator[Deployment]:
    d = make_platform(
        tmp_path_factory.mktemp("figures"), None, clock=Clock(FIXED_TIME - dt.timedelta(days=5))
    )
    d.platform.config = replace(
        d.platform.config, signing_services=(SigningServiceSource("korat-eoffice", signed.db_url),)
    )
    d.session("admin").import_agency("digital", signed.infra.ca_dir, folder_passphrase=CA_PASSPHRASE)
    yield d
    d.platform.close()


def test_figures_per_agency_and_in_total(figures_platform: Deployment, signed: Signed) -> None:
    d = figures_platform
    dla, pao = d.session("dla"), d.session("pao")
    # DLA: two officers valid; one more revoked; one certificate ending in 20 days, one in 60
    dla.issue("dla", SOMCHAI, new_key="ec-p256")
    dla.issue(
        "dla",
        OfficerProfile(name_th="นายสั้น หมดเร็ว", position="ลูกจ้าง", employee_id="S1", days=20),
        new_key="ec-p256",
    )
    dla.issue(
        "dla",
        OfficerProfile(name_th="นางกลาง หมดกลาง", position="ลูกจ้าง", employee_id="S2", days=60),
        new_key="ec-p256",
    )
    gone = dla.issue(
        "dla", OfficerProfile(name_th="นายลา ออก", position="นักวิชาการ", employee_id="L1"), new_key="ec-p256"
    )
    dla.revoke("dla", gone.serial, "affiliationChanged")
    # PAO: one officer with two certificates (counted once), one expired
    pao.issue("pao", SOMYING, new_key="ec-p256")
    pao.issue("pao", SOMYING, new_key="ec-p256")
    pao.issue(
        "pao",
        OfficerProfile(name_th="นายเก่า มาก", position="ลูกจ้าง", employee_id="X1", days=2),
        new_key="ec-p256",
    )
    at = FIXED_TIME + dt.timedelta(days=1)
    figures = d.session("admin").figures(at=at)
    by = {a.slug: a for a in figures.agencies}
    assert (by["dla"].officers, by["dla"].active, by["dla"].revoked, by["dla"].expired) == (3, 3, 1, 0)
    assert (by["dla"].expiring_30, by["dla"].expiring_90) == (1, 2)
    assert (by["pao"].officers, by["pao"].active, by["pao"].expired) == (1, 2, 1)
    # the signing service's officers (their agency CA moved in): 5 + 1 signatures, both this month
    assert (by["digital"].officers, by["digital"].active) == (2, 2)
    assert by["digital"].signatures == sum(signed.counts.values()) == 6
    assert by["digital"].signatures_30_days == 6
    assert figures.total.signatures == 6 and figures.total.active == 3 + 2 + 2
    assert figures.total.officers == by["dla"].officers + by["pao"].officers + by["digital"].officers
    # read once: asking again counts nothing twice; a later signature is added
    assert d.session("admin").figures(at=at).total.signatures == 6
    # an agency operator's figures are its own agency's only
    own = d.session("dla").figures(at=at)
    assert [a.slug for a in own.agencies] == ["dla"] and own.total.signatures == 0
    json_view = figures.to_json()
    assert json_view["total"]["agencies"] == 3 and json_view["signature_sources"] == ["korat-eoffice"]
    assert {a["slug"] for a in json_view["agencies"]} == {"dla", "pao", "digital"}


def test_a_rewritten_service_log_is_not_counted(
    figures_platform: Deployment, signed: Signed, tmp_path: Path
) -> None:
    d = figures_platform
    assert d.session("auditor").figures(at=FIXED_TIME).total.signatures == 6
    copy = tmp_path / "service-copy.db"
    with sqlite3.connect(signed.db_url.removeprefix("sqlite:///")) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    with sqlite3.connect(copy) as conn:
        conn.execute(
            "UPDATE csc_audit SET details = replace(details, 'hashes', 'hushes') WHERE action = 'sign-hash'"
        )
    d.platform.config = replace(
        d.platform.config, signing_services=(SigningServiceSource("copy", f"sqlite:///{copy}"),)
    )
    figures = d.session("auditor").figures(at=FIXED_TIME)
    assert figures.total.signatures == 6  # what was counted before stays; nothing of the copy is counted
    assert any("was changed" in p for p in figures.problems), figures.problems
