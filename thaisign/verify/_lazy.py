"""Start-up time: import ``pyhanko.sign`` submodules without running the packages' ``__init__``.

``pyhanko/sign/__init__.py`` imports the whole signing stack (aiohttp, timestamp clients,
signers: ~0.35 s) and ``pyhanko/sign/validation/__init__.py`` the DSS writer (incremental
writer, PDF writer), although verification needs only some submodules of
``pyhanko.sign.validation`` and ``pyhanko.sign.diff_analysis``. :func:`defer_pyhanko_sign_init`
registers each package module with its ``__path__`` but an empty namespace, plus a PEP 562
``__getattr__``: a submodule asked for as an attribute (``from pyhanko.sign.validation import
generic_cms``) is imported alone; any other name runs the real ``__init__`` first. Submodule
imports work unchanged; ``from pyhanko.sign import X`` still works (it completes the package).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from typing import Any

_lock = threading.RLock()

#: the packages whose ``__init__`` is deferred, outermost first
DEFERRED = ("pyhanko.sign", "pyhanko.sign.validation")


def defer_pyhanko_sign_init() -> None:
    """Install the deferred ``pyhanko.sign`` packages (those not imported already)."""
    for name in DEFERRED:
        defer_package_init(name)


def defer_package_init(package: str) -> None:
    """Register ``package`` with an empty namespace; its ``__init__`` runs on first real use."""
    if package in sys.modules:
        return
    spec = importlib.util.find_spec(package)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    module = importlib.util.module_from_spec(spec)
    done = False

    def complete() -> None:
        nonlocal done
        with _lock:
            if not done:
                done = True
                module.__dict__.pop("__getattr__", None)
                spec.loader.exec_module(module)  # type: ignore[union-attr]

    def __getattr__(name: str) -> Any:
        if not done and not name.startswith("__"):
            full = f"{package}.{name}"
            if full in sys.modules or importlib.util.find_spec(full) is not None:
                return importlib.import_module(full)  # a submodule: no need for the __init__
        complete()
        try:
            return module.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None

    module.__dict__["__getattr__"] = __getattr__
    sys.modules[package] = module
