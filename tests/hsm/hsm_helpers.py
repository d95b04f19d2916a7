"""Constants and helpers of the HSM tests (a module of its own: ``from conftest import`` is ambiguous
when several test folders have a conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from support.pki import NOT_AFTER, NOT_BEFORE, TestPKI, _cert, _name
from support.servers import SoftHSM

from thaisign import hsm

PIN = "246810"
SO_PIN = "13579"
TOKEN = "กรมทดสอบ token"  # a Thai label, percent-encoded in URIs
OTHER_TOKEN = "spare"


@dataclass
class HsmSetup:
    softhsm: SoftHSM
    module: str
    pin: str
    pin_file: Path
    token_uri: str  # pkcs11:token=... (percent-encoded)
    keys: dict[str, str]  # key type -> URI of a key made by thaisign on the token

    def uri(self, object_: str) -> str:
        return str(hsm.Pkcs11Uri.parse(self.token_uri).replace(object=object_))

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "SOFTHSM2_CONF": str(self.softhsm.conf),
            "THAISIGN_PKCS11_MODULE": self.module,
            **extra,
        }

    def cli(self, *args: str, pin: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        """Run ``thaisign`` in a subprocess against this token (PIN from THAISIGN_PIN when ``pin``)."""
        e = self.env(**env)
        if pin:
            e.setdefault("THAISIGN_PIN", self.pin)
        return subprocess.run(
            [sys.executable, "-m", "thaisign", *args],
            capture_output=True,
            text=True,
            env=e,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )


def issue_for(pki: TestPKI, public_key: object, cn: str = "นายสมชาย ใจดี") -> x509.Certificate:
    """An officer certificate from the test PKI's agency CA for a token-held public key."""
    from support.pki import DOCUMENT_SIGNING, MS_DOCUMENT_SIGNING

    return _cert(
        _name(cn, title="ผู้อำนวยการกอง"),
        public_key,
        pki.ca.cert.subject,
        pki.ca.key,
        ca=False,
        base_url=pki.base_url,
        eku=[DOCUMENT_SIGNING, MS_DOCUMENT_SIGNING],
        not_before=NOT_BEFORE,
        not_after=NOT_AFTER,
    )
