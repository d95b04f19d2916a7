"""Start-up time: import ``pyhanko.sign`` submodules without running the package ``__init__``.

``pyhanko/sign/__init__.py`` imports the whole signing stack (aiohttp, timestamp clients,
signers: ~0.35 s) although verification needs only ``pyhanko.sign.validation`` and
``pyhanko.sign.diff_analysis``. :func:`defer_pyhanko_sign_init` registers the package module
with its ``__path__`` but an empty namespace, plus a PEP 562 ``__getattr__`` that runs the real
``__init__`` the first time any name of the package itself is asked for. Submodule imports
work unchanged; ``from pyhanko.sign import X`` still works (it completes the package first).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from typing import Any

_lock = threading.Lock()


def defer_pyhanko_sign_init() -> None:
    """Install the deferred ``pyhanko.sign`` package unless it is imported already."""
    if "pyhanko.sign" in sys.modules:
        return
    spec = importlib.util.find_spec("pyhanko.sign")
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    done = False

    def __getattr__(name: str) -> Any:
        nonlocal done
        with _lock:
            if not done:
                done = True
                del module.__dict__["__getattr__"]
                spec.loader.exec_module(module)  # type: ignore[union-attr]
        try:
            return module.__dict__[name]
        except KeyError:
            raise AttributeError(f"module 'pyhanko.sign' has no attribute {name!r}") from None

    module.__dict__["__getattr__"] = __getattr__
    sys.modules["pyhanko.sign"] = module
