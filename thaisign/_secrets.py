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


#: The shortest passphrase thaisign accepts for a key it creates (CA, TSA, responder, PKCS#12).
MIN_PASSPHRASE_CHARS = 12


def read_secret_file(path: str | os.PathLike[str], *, private: bool = False) -> str:
    """The first line of a secret file, without its line ending.

    ``private``: refuse a file that its group or other users may read (PIN files).
    """
    p = Path(path)
    try:
        if private:
            mode = p.stat().st_mode
            if mode & 0o077:
                raise SecretError(
                    f"{p} can be read by other users (mode {mode & 0o777:04o}): a PIN file must be private",
                    hint=f"chmod 600 {p}",
                )
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretError(f"cannot read secret file {p}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SecretError(f"secret file {p} is not UTF-8 text") from None
    return text.splitlines()[0] if text else ""


def check_new_passphrase(value: str, what: str = "the new passphrase") -> str:
    """``value`` if it may protect a new key, else :class:`SecretError` (never showing it).

    The policy: at least :data:`MIN_PASSPHRASE_CHARS` characters (Thai or any script), and not
    one character repeated.
    """
    if len(value) < MIN_PASSPHRASE_CHARS:
        raise SecretError(
            f"{what} is too short ({len(value)} characters); use at least {MIN_PASSPHRASE_CHARS}",
            hint="a few words are long and easy to remember, e.g. four Thai words with spaces",
        )
    if len(set(value)) == 1:
        raise SecretError(f"{what} is one character repeated", hint="choose a phrase of several words")
    return value


def resolve_secret(
    *,
    file: str | os.PathLike[str] | None = None,
    env: str,
    prompt: str,
    confirm: bool = False,
    required: bool = True,
    flag: str | None = None,
    new: bool = False,
) -> str | None:
    """A secret from ``file``, else the environment variable ``env``, else an interactive prompt.

    ``flag`` names the option that gives the file (for the hint), defaulting to
    ``--pin-file`` for PINs and ``--passphrase-file`` otherwise. A PIN file must be private
    (mode 0600). ``new``: the secret will protect a new key: asked twice at a prompt and held
    to :func:`check_new_passphrase`. Raises :class:`SecretError` when none is available and
    ``required`` (e.g. no terminal).
    """
    is_pin = env == PIN_ENV
    what = prompt if prompt[:2].isupper() else prompt[:1].lower() + prompt[1:]  # "CA passphrase" stays
    value: str | None
    if file is not None:
        value = read_secret_file(file, private=is_pin)
    else:
        value = os.environ.get(env)
        if value is None and sys.stdin is not None and sys.stdin.isatty():
            import click

            value = str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm or new))
    if value is None:
        if required:
            option = flag or ("--pin-file" if is_pin else "--passphrase-file")
            raise SecretError(
                f"no {what} given",
                hint=f"set {env}, pass {option}, or run on a terminal to be asked",
            )
        return None
    if new:
        check_new_passphrase(value, what)
    return value


def to_bytes(secret: str | bytes | None) -> bytes | None:
    """A secret as UTF-8 bytes (``None`` stays ``None``)."""
    if secret is None or isinstance(secret, bytes):
        return secret
    return secret.encode("utf-8")
