"""Shared pieces of the ``thaisign platform`` commands: the credential, opening the platform, options."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from thaisign._cli._options import secret_file_option
from thaisign._secrets import CA_PASSPHRASE_ENV, PIN_ENV, read_secret_file, resolve_secret
from thaisign.errors import AccessDenied, UsageError
from thaisign.inert import visible as _visible

if TYPE_CHECKING:
    from thaisign.platform import Platform, Session

TOKEN_ENV = "THAISIGN_PLATFORM_TOKEN"
OIDC_TOKEN_ENV = "THAISIGN_OIDC_TOKEN"
KEYS = click.Choice(["ec-p256", "ec-p384", "rsa-3072", "rsa-4096"])
OFFICER_KEYS = click.Choice(["ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"])


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


dir_arg = click.argument("directory", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
_token_file = click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"File with your platform API token (else ${TOKEN_ENV}).",
)
_oidc_token_file = click.option(
    "--oidc-token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"File with an access token from the platform's OpenID provider (else ${OIDC_TOKEN_ENV}).",
)
passphrase_file_option = secret_file_option(
    "--passphrase-file", "the platform's CA key passphrase", CA_PASSPHRASE_ENV
)
pin_file_option = secret_file_option("--pin-file", "the PIN of the token holding CA keys", PIN_ENV)
agency_option = click.option("--agency", "slug", required=True, help="The agency's short name, e.g. dla.")


def _credential(token_file: Path | None, oidc_token_file: Path | None) -> Any:
    from thaisign.platform import ApiToken, OidcToken

    if token_file is not None and oidc_token_file is not None:
        raise UsageError("give --token-file or --oidc-token-file, not both")
    if token_file is not None:
        return ApiToken(read_secret_file(token_file, private=True))
    if oidc_token_file is not None:
        return OidcToken(read_secret_file(oidc_token_file, private=True))
    if os.environ.get(TOKEN_ENV):
        return ApiToken(os.environ[TOKEN_ENV])
    if os.environ.get(OIDC_TOKEN_ENV):
        return OidcToken(os.environ[OIDC_TOKEN_ENV])
    raise AccessDenied(
        "no platform credential given",
        hint=f"pass --token-file FILE (or set {TOKEN_ENV}), or --oidc-token-file FILE",
    )


def _open(directory: Path, passphrase_file: Path | None = None, pin_file: Path | None = None) -> Platform:
    """The platform; the CA passphrase and PIN are read only when given or set (signing needs them)."""
    from thaisign.errors import CANotFoundError
    from thaisign.platform import Platform
    from thaisign.platform.config import CONFIG_FILE

    if not (directory / CONFIG_FILE).exists():
        raise CANotFoundError(
            f"{directory} is not a thaisign platform folder (no {CONFIG_FILE})",
            hint="create one with 'thaisign platform init'",
        )
    passphrase = (
        resolve_secret(
            file=passphrase_file, env=CA_PASSPHRASE_ENV, prompt="Platform CA passphrase", required=False
        )
        if passphrase_file or os.environ.get(CA_PASSPHRASE_ENV)
        else None
    )
    pin = (
        resolve_secret(file=pin_file, env=PIN_ENV, prompt="Token PIN", required=False)
        if pin_file or os.environ.get(PIN_ENV)
        else None
    )
    return Platform.open(directory, passphrase=passphrase, pin=pin)


class Run:
    """Open the platform, authenticate, run, close: ``with Run(dir, ...) as s:``."""

    def __init__(
        self,
        directory: Path,
        token_file: Path | None,
        oidc_token_file: Path | None,
        passphrase_file: Path | None = None,
        pin_file: Path | None = None,
    ) -> None:
        credential = _credential(
            token_file, oidc_token_file
        )  # a missing credential fails before anything opens
        self.platform = _open(directory, passphrase_file, pin_file)
        try:
            self.session = self.platform.session(credential)
        except BaseException:
            self.platform.close()
            raise

    def __enter__(self) -> Session:
        return self.session

    def __exit__(self, *exc: object) -> None:
        self.platform.close()


def credentials(signing: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        f = _oidc_token_file(_token_file(f))
        if signing:
            f = pin_file_option(passphrase_file_option(f))
        return f

    return wrap


def visible(text: object, limit: int = 120) -> str:
    """Untrusted text for a terminal line (escaped, bounded)."""
    return _visible(text, limit=limit)


def key_json(k: Any) -> dict[str, Any]:
    return {
        "generation": k.generation,
        "state": k.state,
        "key": k.key_ref if k.key_ref.startswith("pkcs11:") else "file",
        "crl_url": k.crl_url,
        "cert_url": k.cert_url,
        "created_at": k.created_at.isoformat(),
        "retired_at": k.retired_at.isoformat() if k.retired_at else None,
    }
