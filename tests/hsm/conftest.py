"""A SoftHSM2 token folder for the whole session (per xdist worker), with keys made in it.

SoftHSM2 reads ``SOFTHSM2_CONF`` when the module initialises, and python-pkcs11 keeps one loaded
module per path per process; so every HSM test in a worker shares this one token folder, and
an autouse fixture re-initialises the module if some other test pointed it elsewhere meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hsm_helpers import OTHER_TOKEN, PIN, SO_PIN, TOKEN, HsmSetup
from support.servers import softhsm

from thaisign import hsm
from thaisign.errors import TokenNotFoundError


@pytest.fixture(scope="session")
def hsm_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HsmSetup]:
    base = tmp_path_factory.mktemp("hsm")
    with softhsm(base / "softhsm") as sh:
        sh.init_token(TOKEN, PIN, SO_PIN)
        sh.init_token(OTHER_TOKEN, PIN, SO_PIN)
        hsm.unload_module(sh.module)  # start from a module that reads this token folder
        pin_file = base / "pin.txt"
        pin_file.write_text(PIN + "\n")
        pin_file.chmod(0o600)  # a PIN file others may read is refused
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
