"""Where passphrases and PINs come from: a file, an environment variable, or a prompt.

Never from a command-line argument (it would show in ``ps``), and never logged.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from thaisign.errors import SecretError

PASSPHRASE_ENV = "THAISIGN_PASSPHRASE"
CA_PASSPHRASE_ENV = "THAISIGN_CA_PASSPHRASE"
PIN_ENV = "THAISIGN_PIN"


def read_secret_file(path: str | os.PathLike[str]) -> str:
    """The first line of a secret file, without its line ending."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretError(f"cannot read secret file {path}: {exc.strerror}") from None
    return text.splitlines()[0] if text else ""


def resolve_secret(
    *,
    file: str | os.PathLike[str] | None = None,
    env: str,
    prompt: str,
    confirm: bool = False,
    required: bool = True,
) -> str | None:
    """A secret from ``file``, else the environment variable ``env``, else an interactive prompt.

    Raises :class:`SecretError` when none is available and ``required`` (e.g. no terminal).
    """
    if file is not None:
        return read_secret_file(file)
    value = os.environ.get(env)
    if value is not None:
        return value
    if sys.stdin is not None and sys.stdin.isatty():
        import click

        return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm))
    if required:
        what = prompt if prompt[:2].isupper() else prompt[:1].lower() + prompt[1:]  # "CA passphrase" stays
        raise SecretError(
            f"no {what} given",
            hint=f"set {env}, pass a --passphrase-file/--pin-file, or run on a terminal to be asked",
        )
    return None


def to_bytes(secret: str | bytes | None) -> bytes | None:
    """A secret as UTF-8 bytes (``None`` stays ``None``)."""
    if secret is None or isinstance(secret, bytes):
        return secret
    return secret.encode("utf-8")
