"""What a PKCS#11 URI or a --pkcs11-module may make thaisign load or print.

A library is checked for C_GetFunctionList in its ELF symbols before it is loaded (loading runs its
constructors: the test library's constructor would leave a file); ``module-name`` never climbs out
of the module folder; a relative module path works; a PIN never appears in an error line; a PIN
file others may read is refused. ``nm`` (binutils) is the independent check of the ELF reader.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hsm_helpers import HsmSetup
from support.tools import require_tool

from thaisign import errors
from thaisign.hsm import Pkcs11Uri, resolve_pin
from thaisign.hsm._elf import NotElf, exports_function
from thaisign.hsm.module import load_module, resolve_module_path

CONSTRUCTOR = r"""
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void ran(void) {
    const char *marker = getenv("THAISIGN_TEST_MARKER");
    if (marker) { int fd = open(marker, O_CREAT | O_WRONLY, 0600); if (fd >= 0) close(fd); }
}
int not_pkcs11(void) { return 42; }
"""


@pytest.fixture()
def evil_library(tmp_path: Path) -> Path:
    """A shared library whose constructor creates $THAISIGN_TEST_MARKER; no C_GetFunctionList."""
    gcc = require_tool("gcc")
    src = tmp_path / "evil.c"
    src.write_text("#include <stdlib.h>\n" + CONSTRUCTOR)
    lib = tmp_path / "libevil.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(lib), str(src)], check=True, capture_output=True)
    return lib


def test_elf_reader_agrees_with_nm(hsm_setup: HsmSetup, evil_library: Path) -> None:
    nm = require_tool("nm")
    candidates = [hsm_setup.module, str(evil_library), shutil.which("openssl") or "/usr/bin/openssl"]
    candidates += [str(p) for p in Path("/usr/lib/x86_64-linux-gnu").glob("libz.so*")][:1]
    for path in candidates:
        out = subprocess.run([nm, "-D", "--defined-only", path], capture_output=True, text=True).stdout
        exported_by_nm = any(
            line.split()[-1:] == ["C_GetFunctionList"] and " T " in line for line in out.splitlines()
        )
        try:
            ours = exports_function(path, "C_GetFunctionList")
        except NotElf:
            ours = False
        assert ours == exported_by_nm, path
    assert exports_function(hsm_setup.module, "C_GetFunctionList") is True


def test_a_library_without_c_getfunctionlist_is_refused_unloaded(
    hsm_setup: HsmSetup, evil_library: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "constructor-ran"
    r = hsm_setup.cli(
        "hsm", "list", "--pkcs11-module", str(evil_library), THAISIGN_TEST_MARKER=str(marker)
    )  # fmt: skip
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "not a PKCS#11 library" in r.stderr and "C_GetFunctionList" in r.stderr
    assert not marker.exists(), "the library's constructor ran: it was loaded before the check"
    text = tmp_path / "notes.so"
    text.write_text("not a library")
    with pytest.raises(errors.ModuleNotFoundError_, match="not an ELF file"):
        load_module(str(text))


def test_module_name_stays_in_the_module_folder(hsm_setup: HsmSetup, tmp_path: Path) -> None:
    folder = Path(hsm_setup.module).parent
    for name in ("../../tmp/evil", "sub/libsofthsm2.so", "..", "%2E%2E%2Fx"):
        with pytest.raises(errors.UsageError, match="not a plain library name"):
            Pkcs11Uri.parse(f"pkcs11:token=x?module-path={folder}&module-name={name}")
    r = hsm_setup.cli("hsm", "list", f"pkcs11:token=x?module-path={folder}&module-name=../../../{tmp_path}/x")
    assert r.returncode != 0 and "not a plain library name" in r.stderr and "Traceback" not in r.stderr
    found = resolve_module_path(Pkcs11Uri.parse(f"pkcs11:?module-path={folder}&module-name=softhsm2"))
    assert Path(found).parent == folder


def test_a_relative_module_path_is_found(hsm_setup: HsmSetup, tmp_path: Path) -> None:
    (tmp_path / "libsofthsm2.so").symlink_to(hsm_setup.module)
    env = hsm_setup.env()
    env.pop("THAISIGN_PKCS11_MODULE")
    r = subprocess.run(
        [*_thaisign(), "hsm", "list", "--pkcs11-module", "libsofthsm2.so", "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "กรมทดสอบ token" in r.stdout


def _thaisign() -> list[str]:
    import sys

    return [sys.executable, "-m", "thaisign"]


@pytest.mark.parametrize(
    "uri",
    [
        "pkcs11:token=กรม;object=k;pin-value=9876543210",
        "pkcs11:token=กรม;object=k?pin-value=9876543210",
        "pkcs11:token=กรม;pin-value=9876543210;bogus=1",
        "pkcs11:token=กรม;bogus=1;pin-value=9876543210",
    ],
)
def test_a_pin_in_the_uri_is_refused_and_never_printed(hsm_setup: HsmSetup, uri: str) -> None:
    r = hsm_setup.cli("hsm", "list", uri)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "9876543210" not in r.stderr + r.stdout
    with pytest.raises(errors.ThaisignError) as info:
        Pkcs11Uri.parse(uri)
    assert "9876543210" not in info.value.message + (info.value.hint or "")


def test_a_pin_file_others_can_read_is_refused(hsm_setup: HsmSetup, tmp_path: Path) -> None:
    pin = tmp_path / "pin.txt"
    pin.write_text(hsm_setup.pin + "\n")
    pin.chmod(0o644)
    r = hsm_setup.cli("hsm", "list", hsm_setup.token_uri, "--login", "--pin-file", str(pin), pin=False)
    assert r.returncode != 0 and "can be read by other users" in r.stderr and f"chmod 600 {pin}" in r.stderr
    assert hsm_setup.pin not in r.stderr
    with pytest.raises(errors.PinError, match="can be read by other users"):
        resolve_pin(Pkcs11Uri(token="T", pin_source=f"file:{pin}"))
    pin.chmod(0o600)
    assert resolve_pin(Pkcs11Uri(token="T", pin_source=f"file:{pin}")) == hsm_setup.pin
    r = hsm_setup.cli("hsm", "list", hsm_setup.token_uri, "--login", "--pin-file", str(pin), pin=False)
    assert r.returncode == 0, r.stderr
    assert os.stat(pin).st_mode & 0o777 == 0o600
