"""The token PIN for command-line tools: --pin-file, pin-source in the URI, THAISIGN_PIN, or a prompt."""

from __future__ import annotations

import os
import sys

from thaisign._secrets import PIN_ENV, resolve_secret
from thaisign.errors import PinError

from .uri import Pkcs11Uri


def resolve_pin(
    uri: str | Pkcs11Uri, *, pin_file: str | os.PathLike[str] | None = None, required: bool = True
) -> str | None:
    """The PIN for the token of ``uri``, never from a command-line argument.

    Order: ``--pin-file`` (``pin_file``), the URI's ``pin-source``, ``THAISIGN_PIN``, then a prompt
    on a terminal. With ``required=False`` returns ``None`` instead of prompting or failing.

    >>> signer = Signer.from_pkcs11(uri, pin=resolve_pin(uri, pin_file=pin_file), module=module)
    """
    parsed = Pkcs11Uri.parse(uri) if isinstance(uri, str) else uri
    if pin_file is None:
        from_uri = parsed.read_pin_source()
        if from_uri is not None:
            return from_uri
    if pin_file is None and os.environ.get(PIN_ENV) is None and not (sys.stdin and sys.stdin.isatty()):
        if not required:
            return None
        raise PinError(
            "no PIN given for token " + (repr(parsed.token) if parsed.token else "(any)"),
            hint=f"set {PIN_ENV}, pass --pin-file, add ?pin-source=file:/path to the URI, "
            "or run on a terminal to be asked",
        )
    if not required and pin_file is None and os.environ.get(PIN_ENV) is None:
        return None
    label = f" for token {parsed.token!r}" if parsed.token else ""
    return resolve_secret(file=pin_file, env=PIN_ENV, prompt=f"Token PIN{label}", required=required)
