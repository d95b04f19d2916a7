"""A SoftHSM2 token folder for the whole session (per xdist worker), with keys made in it.

SoftHSM2 reads ``SOFTHSM2_CONF`` when the module initialises, and python-pkcs11 keeps one loaded
module per path per process; so every HSM test in a worker shares this one token folder, and
an autouse fixture re-initialises the module if some other test pointed it elsewhere meanwhile.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from support.pki import NOT_AFTER, NOT_BEFORE, TestPKI, _cert, _name
from support.servers import SoftHSM, softhsm

from thaisign import hsm
from thaisign.errors import TokenNotFoundError

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


@pytest.fixture(scope="session")
def hsm_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HsmSetup]:
    base = tmp_path_factory.mktemp("hsm")
    with softhsm(base / "softhsm") as sh:
        sh.init_token(TOKEN, PIN, SO_PIN)
        sh.init_token(OTHER_TOKEN, PIN, SO_PIN)
        hsm.unload_module(sh.module)  # start from a module that reads this token folder
        pin_file = base / "pin.txt"
        pin_file.write_text(PIN + "\n")
        token_uri = str(hsm.Pkcs11Uri(token=TOKEN))
        keys = {}
        for spec in ("ec-p256", "ec-p384", "rsa-2048"):
            made = hsm.generate_key(f"{token_uri};object=officer-{spec}", spec, pin=PIN, module=sh.module)
            keys[spec] = str(made.uri)
        yield HsmSetup(sh, sh.module, PIN, pin_file, token_uri, keys)
        hsm.unload_module(sh.module)


@pytest.fixture(autouse=True)
def _our_token_folder(hsm_setup: HsmSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point SoftHSM2 at this session's token folder, re-initialising if another test moved it."""
    monkeypatch.setenv("SOFTHSM2_CONF", str(hsm_setup.softhsm.conf))
    try:
        hsm.find_token_info(hsm_setup.token_uri, module=hsm_setup.module)
    except TokenNotFoundError:
        hsm.unload_module(hsm_setup.module)


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
