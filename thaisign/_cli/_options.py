"""Click options shared by the sub-commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def secret_file_option(
    flag: str, what: str, env: str | None = None, *, dest: str | None = None
) -> Callable[..., Any]:
    """A ``--...-file`` option naming a file whose first line is a secret (never the secret itself).

    ``what`` says whose secret it is ("the CA key passphrase"); ``env`` is the variable read
    when the option is absent, before falling back to a prompt.
    """
    fallback = f"else ${env}, else a prompt" if env else "else a prompt"
    decls = (flag, dest) if dest else (flag,)
    return click.option(
        *decls,
        type=click.Path(dir_okay=False, path_type=Path),
        help=f"File whose first line is {what} ({fallback}).",
    )


def signing_time_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--signing-time`` and ``--at`` (the validation time), as ``sign`` and ``sign-file`` take them."""
    f = click.option(
        "--at",
        "validation_time",
        metavar="ISO",
        help="B-LT/B-LTA: validate the chain and its OCSP/CRL as of this time "
        "(default: --signing-time, else now).",
    )(f)
    return click.option(
        "--signing-time",
        metavar="ISO",
        help="Claimed signing time (default: now); certificate checked at it.",
    )(f)
