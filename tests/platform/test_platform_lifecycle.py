"""An agency's CA over time: imported from a CA folder without re-issuing anything, its key rolled
over, its certificate renewed — and letters signed before each step still verify TOTAL_PASSED with
thaisign's verifier at a fixed time, answered by the platform's status service (real HTTP)."""

from __future__ import annotations

import datetime as dt
import gc
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from platform_helpers import (
    CA_PASSPHRASE,
    SERVICE_PASSPHRASE,
    SOMCHAI,
    SOMYING,
    Clock,
    Deployment,
    make_platform,
    run_cli,
    write_pem,
)
from support.servers import free_port, serve_wsgi
from support.tools import require_tool

from thaisign.ca import Authority, CaProfile, OfficerProfile
from thaisign.errors import CAError
from thaisign.keys import SoftwareSigner
from thaisign.pades import make_letter, sign_pdf
from thaisign.verify import TrustStore, verify_pdf

pytestmark = pytest.mark.slow

FOLDER_PASSPHRASE = "รหัสผ่าน ของกรมเดิม ยาวพอ"
T0 = dt.datetime(2026, 10, 1, 2, 0, tzinfo=dt.UTC)


@dataclass
class Lifecycle:
    d: Deployment
    url: str
    port: int
    tmp: Path

    @property
    def trust(self) -> TrustStore:
        return TrustStore.from_paths([str(self.d.directory / "issuing-ca.pem")])

    def sign(self, issued: object, name: str, level: str = "B-T") -> Path:
        chain = self.d.platform.authority(self._ca_of(issued), key=False).chain  # type: ignore[arg-type]
        signer = SoftwareSigner(issued.private_key, issued.certificate, chain)  # type: ignore[attr-defined]
        src = self.tmp / f"{name}-src.pdf"
        src.write_bytes(make_letter())
        out = self.tmp / f"{name}.pdf"
        sign_pdf(src, out, signer, level=level, tsa=f"{self.url}/tsa", signing_time=self.d.clock())
        return out

    def _ca_of(self, issued: object) -> int:
        cert = issued.certificate  # type: ignore[attr-defined]
        for key in self.d.platform.db.all_ca_keys():
            ca = self.d.platform.authority(key.ca_id, key=False).certificate
            if ca is not None and ca.subject == cert.issuer:
                try:
                    cert.verify_directly_issued_by(ca)
                    return key.ca_id
                except Exception:
                    continue
        raise AssertionError("no CA issued it")

    def verify(self, pdf: Path, trust: TrustStore | None = None) -> object:
        return verify_pdf(pdf, trust or self.trust, at=self.d.clock(), revocation="online")


@pytest.fixture(scope="module")
def life(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lifecycle]:
    from thaisign.platform.status import StatusConfig, build_status_app

    tmp = tmp_path_factory.mktemp("life")
    port = free_port()
    d = make_platform(tmp, None, clock=Clock(T0), base_url=f"http://127.0.0.1:{port}")
    d.clock.advance(hours=1)
    frozen = gc.get_freeze_count()
    app = build_status_app(
        StatusConfig(d.platform.config.database_url(), SERVICE_PASSPHRASE, clock=d.clock, poll_interval=0.05)
    )
    # building the app in a caller's process leaves the caller's collector alone (only serve()
    # freezes, in a worker of its own)
    assert gc.get_freeze_count() == frozen
    with serve_wsgi(app, port) as url:
        yield Lifecycle(d, url, port, tmp)
    app.close()
    d.platform.close()


def _wait_current(life: Lifecycle) -> None:
    import time

    time.sleep(0.3)  # the status service follows the chains every 50 ms


def test_a_letter_signed_before_a_key_rollover_stays_valid(life: Lifecycle) -> None:
    d = life.d
    dla = d.session("dla")
    before = dla.issue("dla", SOMCHAI, new_key="ec-p256")
    _wait_current(life)
    letter = life.sign(before, "before-rollover")
    plain = life.sign(before, "before-rollover-b-b", level="B-B")  # no proof of when it was signed
    d.clock.advance(days=30)
    new = d.session("admin").rollover("dla")
    assert new.generation == 2 and new.crl_path == "/crl/ca-2.crl"
    keys = dla.ca_keys("dla")
    assert [(k.generation, k.state) for k in keys] == [(1, "retired"), (2, "active")]
    after = dla.issue("dla", SOMYING, new_key="ec-p256")
    assert after.certificate.issuer == before.certificate.issuer  # same agency name ...
    assert after.certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value != (
        before.certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    )  # ... another key
    cdp = after.certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == f"{life.url}/a/dla/crl/ca-2.crl"
    _wait_current(life)
    second = life.sign(after, "after-rollover")
    d.clock.advance(days=7)
    for pdf in (letter, second):
        report = life.verify(pdf)
        assert report.verdict == "TOTAL_PASSED", report.signatures[0].messages  # type: ignore[attr-defined]
        assert report.signatures[0].revocation.source in ("ocsp", "crl")  # type: ignore[attr-defined]
    # the retired key still answers for its letters: a revocation after the rollover shows
    dla.revoke("dla", before.serial, "keyCompromise")
    _wait_current(life)
    d.clock.advance(hours=1)
    report = life.verify(plain)  # nothing proves it existed before the revocation
    assert report.verdict != "TOTAL_PASSED"  # type: ignore[attr-defined]
    assert report.signatures[0].sub_indication in ("REVOKED", "REVOKED_NO_POE")  # type: ignore[attr-defined]
    report = life.verify(letter)  # time-stamped 37 days before it: still valid (ETSI EN 319 102-1)
    assert report.verdict == "TOTAL_PASSED", report.signatures[0].messages  # type: ignore[attr-defined]
    with urllib.request.urlopen(f"{life.url}/a/dla/crl/ca.crl", timeout=20) as r:
        old_crl = x509.load_der_x509_crl(r.read())
    old_ca = d.platform.authority(keys[0].ca_id, key=False).certificate
    assert old_ca is not None and old_crl.is_signature_valid(old_ca.public_key())  # type: ignore[arg-type]
    assert old_crl.get_revoked_certificate_by_serial_number(before.serial) is not None
    with urllib.request.urlopen(f"{life.url}/a/dla/crl/ca-2.crl", timeout=20) as r:
        assert len(x509.load_der_x509_crl(r.read())) == 0
    assert all(r.ok for r in d.session("dla-auditor").verify("dla").values())


def test_a_renewed_ca_certificate_keeps_every_letter_valid(life: Lifecycle) -> None:
    d = life.d
    pao = d.session("pao")
    officer = pao.issue("pao", SOMYING, new_key="ec-p256")
    _wait_current(life)
    letter = life.sign(officer, "before-renewal")
    old = d.platform.authority(d.platform.active_ca(d.platform.db.agency("pao")).ca_id, key=False).certificate  # type: ignore[arg-type]
    d.clock.advance(days=3)
    renewed = d.session("admin").renew("pao", years=12)
    assert renewed.public_key() == old.public_key() and renewed.subject == old.subject  # type: ignore[union-attr]
    assert renewed.not_valid_after_utc > old.not_valid_after_utc  # type: ignore[union-attr]
    assert len(pao.ca_certificates("pao")) == 2
    _wait_current(life)
    d.clock.advance(days=1)
    assert life.verify(letter).verdict == "TOTAL_PASSED"  # type: ignore[attr-defined]
    later = pao.issue("pao", SOMCHAI, new_key="ec-p256")
    _wait_current(life)
    assert life.verify(life.sign(later, "after-renewal")).verdict == "TOTAL_PASSED"  # type: ignore[attr-defined]
    with urllib.request.urlopen(f"{life.url}/a/pao/ca.cer", timeout=20) as r:
        assert x509.load_der_x509_certificate(r.read()) == renewed


def _ocsp(url: str, cert: x509.Certificate, issuer: x509.Certificate, host: str | None = None) -> str:
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
    headers = {"Content-Type": "application/ocsp-request"}
    if host:
        headers["Host"] = host
    body = req.public_bytes(serialization.Encoding.DER)
    with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=20) as r:
        answer = ocsp.load_der_ocsp_response(r.read())
    return (
        answer.certificate_status.name
        if answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        else answer.response_status.name
    )


def test_an_agency_folder_moves_in_without_reissuing_anything(life: Lifecycle, tmp_path: Path) -> None:
    d = life.d
    folder = tmp_path / "obec-ca"
    legacy = f"http://localhost:{life.port}"  # the agency's own host name, now pointing at the platform
    when = d.clock() - dt.timedelta(days=20)
    ca = Authority.init(
        folder,
        CaProfile(
            name_th="สำนักงานคณะกรรมการการศึกษาขั้นพื้นฐาน",
            key="ec-p256",
            base_url=legacy,
            policy_oid="2.16.764.1.9.9",
        ),
        passphrase=FOLDER_PASSPHRASE,
        now=when,
    )
    kept = ca.issue_officer(
        OfficerProfile(name_th="นางครู ดีมาก", position="ครูชำนาญการ", employee_id="T7"),
        new_key="ec-p256",
        now=when,
    )
    gone = ca.issue_officer(
        OfficerProfile(name_th="นายครู ย้ายแล้ว", position="ครู", employee_id="T8"), new_key="ec-p256", now=when
    )
    ca.revoke(gone.serial, "affiliationChanged", at=when + dt.timedelta(days=1))
    ca.crl(now=when + dt.timedelta(days=1))
    folder_entries = [(e.seq, e.hash) for e in ca.audit_entries()]
    root = ca.certificate
    assert root is not None
    # a letter signed while the agency ran its own CA
    src = tmp_path / "old.pdf"
    src.write_bytes(make_letter())
    old_letter = tmp_path / "old-signed.pdf"
    sign_pdf(
        src,
        old_letter,
        SoftwareSigner(kept.private_key, kept.certificate, ca.chain),
        level="B-B",
        signing_time=when + dt.timedelta(days=2),
    )  # type: ignore[arg-type]
    ca.close()

    imported = d.session("admin").import_agency("obec", folder, folder_passphrase=FOLDER_PASSPHRASE)
    assert imported.origin == "imported" and imported.legacy_base_url == legacy
    assert imported.profile.policy_oid == "2.16.764.1.9.9"
    obec = d.session("admin").appoint("นางสาวผู้ดูแล ศึกษา", "operator", agency="obec")
    token = d.session("admin").create_token(obec.id)
    from thaisign.platform import ApiToken

    s = d.platform.session(ApiToken(token))
    # nothing re-issued: the same certificates, byte for byte, and the same chain entry for entry
    by_serial = {c.serial: c for c in s.certificates("obec")}
    assert by_serial[kept.serial].der == kept.der and by_serial[gone.serial].revoked_at is not None
    entries = s.audit("obec")[1]
    assert [(e.seq, e.hash) for e in entries[: len(folder_entries)]] == folder_entries
    assert entries[len(folder_entries)].action == "import"
    assert all(r.ok for r in s.verify("obec").values())
    # the folder issues no more (nothing can be issued twice under one key), but stays readable
    with pytest.raises(CAError, match="moved into the platform"):
        Authority.open(folder, passphrase=FOLDER_PASSPHRASE)
    env = {"THAISIGN_CA_PASSPHRASE": FOLDER_PASSPHRASE, "THAISIGN_PASSPHRASE": FOLDER_PASSPHRASE}
    args = ["--out-p12", str(tmp_path / "x.p12"), "--name-th", "นายใหม่ ทดลอง", "--position", "ครู"]
    r = run_cli("ca", "issue", str(folder), *args, env=env)
    assert r.returncode != 0 and "moved into the platform" in r.stderr and "Traceback" not in r.stderr
    assert run_cli("ca", "list", str(folder)).returncode == 0
    # the platform answers for the old certificates, at its own URLs and at the agency's old host
    _wait_current(life)
    assert _ocsp(f"{life.url}/ocsp", kept.certificate, root) == "GOOD"
    assert _ocsp(f"{legacy}/ocsp", gone.certificate, root) == "REVOKED"
    for url in (f"{legacy}/crl/ca.crl", f"{life.url}/a/obec/crl/ca.crl"):
        with urllib.request.urlopen(url, timeout=20) as resp:
            crl = x509.load_der_x509_crl(resp.read())
        assert crl.is_signature_valid(root.public_key()) and crl.get_revoked_certificate_by_serial_number(
            gone.serial
        )  # type: ignore[arg-type]
    folder_trust = TrustStore.from_paths([str(folder / "ca.pem")])
    report = verify_pdf(old_letter, folder_trust, at=d.clock(), revocation="online")
    assert report.verdict == "TOTAL_PASSED", report.signatures[0].messages
    # new officers of the imported agency: the same CA key, the platform's URLs
    new = s.issue(
        "obec", OfficerProfile(name_th="นายครู คนใหม่", position="ครูผู้ช่วย", employee_id="T9"), new_key="ec-p256"
    )
    assert new.certificate.issuer == root.subject
    cdp = new.certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == f"{life.url}/a/obec/crl/ca.crl"
    out = subprocess.run(
        [
            require_tool("openssl"),
            "verify",
            "-attime",
            str(int(d.clock().timestamp())),
            "-CAfile",
            str(folder / "ca.pem"),
            str(write_pem(tmp_path / "n.pem", new.certificate)),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # importing twice, or a tampered folder, is refused
    from thaisign.errors import CAExistsError

    with pytest.raises(CAExistsError):
        d.session("admin").import_agency("obec", folder, folder_passphrase=FOLDER_PASSPHRASE)


def test_a_tampered_folder_is_not_imported(life: Lifecycle, tmp_path: Path) -> None:
    import sqlite3

    from thaisign.errors import StoreError

    folder = tmp_path / "bad-ca"
    ca = Authority.init(
        folder,
        CaProfile(name_th="กรมทดลองแก้ไข", key="ec-p256", base_url="http://127.0.0.1:9"),
        passphrase=FOLDER_PASSPHRASE,
        now=life.d.clock(),
    )
    victim = ca.issue_officer(SOMCHAI, new_key="ec-p256", now=life.d.clock())
    ca.revoke(victim.serial, "keyCompromise", at=life.d.clock())
    ca.close()
    with sqlite3.connect(folder / "ca.db") as conn:
        conn.execute("DELETE FROM revocations")
    with pytest.raises(StoreError, match="nothing was imported"):
        life.d.session("admin").import_agency("bad", folder, folder_passphrase=FOLDER_PASSPHRASE)
    assert life.d.platform.db.agency("bad") is None
    assert CA_PASSPHRASE  # the platform's own passphrase was never needed for the folder
