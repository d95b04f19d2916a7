"""Finding and loading a PKCS#11 module (the vendor's ``.so``), with clear errors and a cache.

The module path comes, in this order, from an explicit argument (``--pkcs11-module``), the URI's
``module-path`` (a file, or a folder searched for ``module-name``), the environment variable
``THAISIGN_PKCS11_MODULE``, or the URI's ``module-name`` searched in the usual system folders.

A loaded module is cached per process (python-pkcs11 caches it per path, too). After a
``fork`` the child re-initialises the module before use, as PKCS#11 requires.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import exceptions as p11x

from thaisign.errors import ModuleNotFoundError_, TokenError, TokenNotFoundError

from .diagnostics import token_errors
from .uri import Pkcs11Uri, check_module_name

MODULE_ENV = "THAISIGN_PKCS11_MODULE"

#: folders searched for a ``module-name`` (p11-kit's layout first)
MODULE_DIRS = (
    "/usr/lib/x86_64-linux-gnu/pkcs11",
    "/usr/lib/aarch64-linux-gnu/pkcs11",
    "/usr/lib/pkcs11",
    "/usr/lib/softhsm",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib",
    "/usr/local/lib",
)

_lock = threading.RLock()
_loaded: dict[str, tuple[Any, int]] = {}  # path -> (pkcs11.lib, pid that initialised it)


def _by_name(name: str, folders: tuple[str, ...]) -> str | None:
    candidates = [name] if name.endswith(".so") or ".so." in name else [f"{name}.so", f"lib{name}.so"]
    for folder in folders:
        for c in candidates:
            p = Path(folder) / c
            if p.is_file():
                return str(p)
    return None


def _absolute(path: str | os.PathLike[str]) -> str:
    """An absolute path: ``dlopen`` looks a bare ``lib.so`` up in the system folders, not here."""
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def resolve_module_path(uri: Pkcs11Uri | None = None, module: str | os.PathLike[str] | None = None) -> str:
    """The module file to load for ``uri``; raise :class:`ModuleNotFoundError_` with a hint if none.

    A ``module-name`` is a plain file name looked up inside the module folder only.
    """
    if module is not None:
        return _absolute(module)
    if uri is not None and uri.module_path:
        p = Path(_absolute(uri.module_path))
        if p.is_dir():
            if not uri.module_name:
                raise ModuleNotFoundError_(
                    f"module-path {p} is a folder but the URI has no module-name",
                    hint="add &module-name=softhsm2 or give the .so file itself",
                )
            found = _by_name(check_module_name(uri.module_name), (str(p),))
            if found is None:
                raise ModuleNotFoundError_(f"no PKCS#11 module named {uri.module_name!r} in {p}")
            return found
        return str(p)
    env = os.environ.get(MODULE_ENV)
    if env:
        return _absolute(env)
    if uri is not None and uri.module_name:
        found = _by_name(check_module_name(uri.module_name), MODULE_DIRS)
        if found is not None:
            return found
        raise ModuleNotFoundError_(
            f"no PKCS#11 module named {uri.module_name!r} in {', '.join(MODULE_DIRS)}",
            hint=f"give the full path with --pkcs11-module or {MODULE_ENV}",
        )
    raise ModuleNotFoundError_(
        "no PKCS#11 module given",
        hint=f"pass --pkcs11-module /usr/lib/softhsm/libsofthsm2.so, set {MODULE_ENV}, "
        "or add ?module-path=... to the URI",
    )


def load_module(path: str) -> Any:
    """The initialised ``pkcs11.lib`` for ``path``: cached, re-initialised after a fork."""
    with _lock:
        entry = _loaded.get(path)
        pid = os.getpid()
        if entry is not None:
            lib, owner = entry
            if owner != pid:  # forked child: PKCS#11 requires a fresh C_Initialize
                try:
                    lib.reinitialize()
                except p11x.PKCS11Error:
                    lib.initialize()
                _loaded[path] = (lib, pid)
            return lib
        p = Path(path)
        if not p.exists():
            raise ModuleNotFoundError_(
                f"PKCS#11 module not found: {path}",
                hint="install the token's driver (SoftHSM2: apt-get install softhsm2) or fix the path",
            )
        if p.is_dir():
            raise ModuleNotFoundError_(f"PKCS#11 module path is a folder, not a library: {path}")
        _check_exports(path)  # before dlopen: loading a library runs its constructors
        try:
            lib = pkcs11.lib(path)
        except p11x.PKCS11Error as exc:
            text = str(exc)
            if "C_GetFunctionList" in text or "ELF" in text or "file too short" in text:
                raise ModuleNotFoundError_(
                    f"{path} is not a PKCS#11 library (it has no C_GetFunctionList)",
                    hint="give the vendor's PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so",
                ) from None
            reason = f"{type(exc).__name__}{': ' + text if text else ''}"
            raise ModuleNotFoundError_(
                f"the PKCS#11 module {path} failed to initialise ({reason})",
                hint="check the module's configuration (for SoftHSM2: SOFTHSM2_CONF and its tokendir)",
            ) from None
        _loaded[path] = (lib, pid)
        return lib


def _check_exports(path: str) -> None:
    """Refuse, without loading it, a file that is not a shared library exporting C_GetFunctionList."""
    from ._elf import NotElf, exports_function

    hint = "give the vendor's PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so"
    try:
        exported = exports_function(path, "C_GetFunctionList")
    except NotElf as exc:
        raise ModuleNotFoundError_(f"{path} is not a PKCS#11 library: {exc.reason}", hint=hint) from None
    except OSError as exc:
        raise ModuleNotFoundError_(f"cannot read the PKCS#11 module {path}: {exc.strerror}") from None
    if exported is False:
        raise ModuleNotFoundError_(
            f"{path} is not a PKCS#11 library (it has no C_GetFunctionList)", hint=hint
        )


def unload_module(path: str) -> None:
    """Finalise and forget a module (tests use this to start over with a new token folder)."""
    from .session import forget_sessions

    with _lock:
        forget_sessions(path)
        _loaded.pop(path, None)
        pkcs11.unload(path)


def refresh_module(path: str) -> None:
    """Re-initialise a loaded module so it sees tokens created since (SoftHSM2 scans at start)."""
    from .session import forget_sessions

    with _lock:
        forget_sessions(path)
        entry = _loaded.get(path)
        if entry is not None:
            entry[0].reinitialize()
            _loaded[path] = (entry[0], os.getpid())


def token_description(token: Any) -> str:
    return f"{token.label!r} (serial {token.serial.decode(errors='replace').strip()})"


def find_token(lib: Any, uri: Pkcs11Uri) -> Any:
    """The one token matching ``uri``'s token attributes; errors list the tokens that exist."""
    with token_errors(action="list tokens"):
        slots = lib.get_slots(token_present=True)
        tokens = []
        for slot in slots:
            try:
                tokens.append(slot.get_token())
            except (p11x.TokenNotPresent, p11x.TokenNotRecognised):
                continue
    initialised = [t for t in tokens if t.flags & pkcs11.TokenFlag.TOKEN_INITIALIZED]

    def matches(t: Any) -> bool:
        serial = t.serial.decode(errors="replace").strip()
        return (
            (uri.token is None or t.label == uri.token)
            and (uri.serial is None or serial == uri.serial)
            and (uri.manufacturer is None or t.manufacturer_id == uri.manufacturer)
            and (uri.model is None or t.model == uri.model)
            and (uri.slot_id is None or t.slot.slot_id == uri.slot_id)
            and (uri.slot_description is None or t.slot.slot_description == uri.slot_description)
        )

    found = [t for t in initialised if matches(t)]
    if len(found) == 1:
        return found[0]
    existing = ", ".join(token_description(t) for t in initialised) or "none"
    if not found:
        raise TokenNotFoundError(
            f"no token matches {uri.for_token().without_query()}; tokens present: {existing}",
            hint="check the token= label (thaisign hsm list) and that the token is plugged in",
        )
    raise TokenNotFoundError(
        f"{len(found)} tokens match {uri.for_token().without_query()}: {existing}",
        hint="add serial=... to the URI to pick one",
    )


#: errors some modules (SoftHSM2's file store among them) return while another process rewrites
#: a token: worth a re-initialisation and another try, unlike a wrong PIN or a missing key
TRANSIENT: tuple[type[BaseException], ...] = (p11x.GeneralError, p11x.FunctionFailed, p11x.DeviceError)

_TOKEN_ATTEMPTS = 4


def open_token(uri: Pkcs11Uri, module: str | None = None) -> tuple[str, Any]:
    """(module path, token) for ``uri``.

    When no token matches, or the module fails transiently while listing, the module is
    re-initialised and searched again (a few times, with a short pause): it then sees tokens
    inserted or created since it was loaded, and rides out other processes rewriting the token.
    """
    path = resolve_module_path(uri, module)
    for attempt in range(_TOKEN_ATTEMPTS):
        try:
            return path, find_token(load_module(path), uri)
        except TokenNotFoundError:
            if attempt == _TOKEN_ATTEMPTS - 1:
                raise
        except TokenError as exc:
            if attempt == _TOKEN_ATTEMPTS - 1 or not isinstance(exc.__cause__, TRANSIENT):
                raise
        time.sleep(0.02 * 2**attempt)
        refresh_module(path)
    raise AssertionError("unreachable")
