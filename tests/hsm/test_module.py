"""Where the PKCS#11 module comes from: argument, URI module-path / module-name, environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from hsm_helpers import HsmSetup

from thaisign import errors
from thaisign.hsm import Pkcs11Uri, list_tokens, resolve_module_path


def test_order_argument_uri_environment(hsm_setup: HsmSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THAISIGN_PKCS11_MODULE", "/env/module.so")
    uri = Pkcs11Uri(token="T", module_path="/uri/module.so")
    assert resolve_module_path(uri, "/explicit.so") == "/explicit.so"
    assert resolve_module_path(uri) == "/uri/module.so"
    assert resolve_module_path(Pkcs11Uri(token="T")) == "/env/module.so"


def test_module_path_folder_with_module_name(hsm_setup: HsmSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THAISIGN_PKCS11_MODULE", raising=False)
    folder = str(Path(hsm_setup.module).parent)
    uri = Pkcs11Uri.parse(f"pkcs11:token=x?module-path={folder}&module-name=softhsm2")
    assert resolve_module_path(uri) == hsm_setup.module
    assert any(t.label == "spare" for t in list_tokens(uri=uri))
    with pytest.raises(errors.ModuleNotFoundError_, match="no module-name"):
        resolve_module_path(Pkcs11Uri(module_path=folder))
    with pytest.raises(errors.ModuleNotFoundError_, match="no PKCS#11 module named 'nothing'"):
        resolve_module_path(Pkcs11Uri(module_path=folder, module_name="nothing"))


def test_module_name_searched_in_system_folders(hsm_setup: HsmSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THAISIGN_PKCS11_MODULE", raising=False)
    assert resolve_module_path(Pkcs11Uri(module_name="softhsm2")) == hsm_setup.module
    with pytest.raises(errors.ModuleNotFoundError_, match="no PKCS#11 module named") as info:
        resolve_module_path(Pkcs11Uri(module_name="no-such-vendor"))
    assert info.value.hint and "--pkcs11-module" in info.value.hint


def test_folder_given_as_module(hsm_setup: HsmSetup, tmp_path: Path) -> None:
    with pytest.raises(errors.ModuleNotFoundError_, match="is a folder"):
        list_tokens(module=str(tmp_path))
