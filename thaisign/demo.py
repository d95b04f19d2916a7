"""``thaisign demo``: a ready-made demo CA and officer, so a newcomer sees the whole story.

>>> demo = make_demo("./thaisign-demo")
>>> demo.officer_p12, demo.officer_passphrase

Passphrases are random and written next to the files (mode 0600): this is a demo, not a CA
to trust. Re-running reuses what exists, so later steps (signing, verifying) can build on it.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from thaisign._fs import atomic_write
from thaisign._secrets import read_secret_file
from thaisign.ca import Authority, CaProfile, OfficerProfile
from thaisign.ca.profiles import PROFILE_FILE

DEMO_AGENCY = "กรมตัวอย่างดิจิทัล"
DEMO_AGENCY_EN = "Department of Digital Examples"
DEMO_OFFICER = OfficerProfile(
    name_th="นายสมชาย ใจดี",
    given_name="สมชาย",
    surname="ใจดี",
    name_en="Mr. Somchai Jaidee",
    position="ผู้อำนวยการกองกลาง",
    ou="กองกลาง",
    email="somchai@example.go.th",
    employee_id="DEMO-0001",
)


@dataclass(frozen=True)
class DemoPki:
    """What the demo made (or found): the CA folder and one officer's key and certificate."""

    directory: Path
    ca_dir: Path
    ca_passphrase_file: Path
    officer_p12: Path
    officer_cert: Path
    officer_passphrase_file: Path
    officer_serial: str
    created_ca: bool
    created_officer: bool

    @property
    def officer_passphrase(self) -> str:
        return read_secret_file(self.officer_passphrase_file)

    @property
    def ca_passphrase(self) -> str:
        return read_secret_file(self.ca_passphrase_file)


def _secret_file(path: Path) -> str:
    if path.exists():
        return read_secret_file(path)
    value = secrets.token_urlsafe(18)
    atomic_write(path, (value + "\n").encode("ascii"), mode=0o600)
    return value


def make_demo(
    directory: str | os.PathLike[str] = "thaisign-demo",
    *,
    now: dt.datetime | None = None,
    base_url: str | None = None,
) -> DemoPki:
    """Create (or reuse) a demo CA in ``directory/ca`` and an officer PKCS#12 beside it.

    ``base_url`` is where the CA's OCSP responder and CRL are published (written into every
    certificate); it matters only when the CA is created.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca_dir = d / "ca"
    ca_pass_file = d / "ca-passphrase.txt"
    officer_pass_file = d / "officer-passphrase.txt"
    p12, cert_pem = d / "somchai.p12", d / "somchai.pem"
    created_ca = not (ca_dir / PROFILE_FILE).exists()
    ca_pass = _secret_file(ca_pass_file)
    if created_ca:
        profile = CaProfile(name_th=DEMO_AGENCY, name_en=DEMO_AGENCY_EN, key="ec-p384")
        if base_url is not None:
            profile = replace(profile, base_url=base_url)
        authority = Authority.init(ca_dir, profile, passphrase=ca_pass, now=now)
    else:
        authority = Authority.open(ca_dir, passphrase=ca_pass)
    with authority:
        officer_pass = _secret_file(officer_pass_file)
        created_officer = not p12.exists()
        if created_officer:
            issued = authority.issue_officer(DEMO_OFFICER, new_key="ec-p256", now=now)
            atomic_write(
                p12, issued.pkcs12(officer_pass, authority.chain, name=DEMO_OFFICER.name_th), mode=0o600
            )
            atomic_write(cert_pem, issued.pem())
            serial = issued.serial_hex
        else:
            from thaisign.keys import Signer

            cert = Signer.from_pkcs12(p12, officer_pass).certificate
            serial = format(cert.serial_number, "x") if cert is not None else "?"
            if not cert_pem.exists() and cert is not None:
                from cryptography.hazmat.primitives import serialization

                atomic_write(cert_pem, cert.public_bytes(serialization.Encoding.PEM))
    return DemoPki(
        d, ca_dir, ca_pass_file, p12, cert_pem, officer_pass_file, serial, created_ca, created_officer
    )
