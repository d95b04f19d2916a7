"""Keys in hardware: PKCS#11 tokens and HSMs behind the common :class:`~thaisign.keys.Signer`.

A key is named by an RFC 7512 URI (:class:`Pkcs11Uri`)::

    from thaisign.hsm import Pkcs11Signer
    signer = Pkcs11Signer.open("pkcs11:token=Agency;object=somchai", pin=pin,
                               module="/usr/lib/softhsm/libsofthsm2.so")
    signature = signer.sign(b"...", hash_algorithm="sha256")

The module comes from ``module=``, the URI's ``module-path``, or ``THAISIGN_PKCS11_MODULE``; the
PIN from ``pin=`` or the URI's ``pin-source`` (command-line tools get it with :func:`resolve_pin`:
``pin-source``, ``--pin-file``, ``THAISIGN_PIN`` or a prompt — never an argument).

Sessions: one logged-in :class:`TokenSession` per token per process, shared by all signers of that
process; a dropped session is re-opened and the operation retried once.

Process pools (``sign_many``): a :class:`Pkcs11Signer` pickles to a recipe (URI, module path, PIN,
PSS flag, certificate and chain), never to a session. Unpickled in a worker it logs in on first use,
once per worker, and is never re-prompted. :meth:`Pkcs11Signer.reopen_spec` gives the same recipe
explicitly as a :class:`Pkcs11OpenSpec` (``spec.open()``).
"""

from __future__ import annotations

from .csr import build_csr, officer_name
from .keygen import KEY_CHOICES, GeneratedKey, generate_key
from .module import MODULE_ENV, load_module, refresh_module, resolve_module_path, unload_module
from .objects import (
    ObjectInfo,
    SlotInfo,
    TokenInfo,
    find_token_info,
    import_certificate,
    list_objects,
    list_slots,
    list_tokens,
)
from .pin import resolve_pin
from .session import TokenSession, forget_sessions
from .signer import Pkcs11OpenSpec, Pkcs11Signer
from .uri import Pkcs11Uri

__all__ = [
    "KEY_CHOICES",
    "MODULE_ENV",
    "GeneratedKey",
    "ObjectInfo",
    "Pkcs11OpenSpec",
    "Pkcs11Signer",
    "Pkcs11Uri",
    "SlotInfo",
    "TokenInfo",
    "TokenSession",
    "build_csr",
    "find_token_info",
    "forget_sessions",
    "generate_key",
    "import_certificate",
    "list_objects",
    "list_slots",
    "list_tokens",
    "load_module",
    "officer_name",
    "refresh_module",
    "resolve_module_path",
    "resolve_pin",
    "unload_module",
]
