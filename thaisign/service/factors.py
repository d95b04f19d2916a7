"""The second factor that releases a SAD: a signing PIN (scrypt-hashed) or a TOTP code (RFC 6238).

TOTP seeds are sealed with AES-256-GCM under the service's own key (``DIR/secret.key``), bound
to their credential ID, so a copy of the database alone gives no seed. A TOTP code is accepted
once: the time step it matched is remembered and older or equal steps are refused.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import quote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from thaisign._fs import atomic_write
from thaisign.errors import SecretError, ServiceConfigError

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
MAX_SECRET_CHARS = 64


def hash_pin(pin: str) -> str:
    """``scrypt$N$r$p$salt$hash`` for a PIN (salted, deliberately slow)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_pin(pin: str, stored: str) -> bool:
    """True when ``pin`` matches ``stored`` (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            pin.encode("utf-8")[:256],
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def check_pin_format(pin: str, min_length: int) -> str | None:
    """What is wrong with a new PIN, or None."""
    if not pin.isdigit() or not pin.isascii():
        return "the PIN must be digits only"
    if not min_length <= len(pin) <= 32:
        return f"the PIN must have {min_length} to 32 digits"
    if len(set(pin)) == 1 or pin in "01234567890123456789" or pin in "98765432109876543210":
        return "the PIN is too easy to guess (repeated or consecutive digits)"
    return None


# --- TOTP -------------------------------------------------------------------------------------


def new_totp_secret() -> str:
    """A fresh base32 seed (160 bits, as RFC 4226 recommends)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def totp_uri(secret: str, *, account: str, issuer: str, digits: int = 6, period: int = 30) -> str:
    """The ``otpauth://`` URI an authenticator app reads (from a QR code)."""
    label = quote(f"{issuer}:{account}", safe="")
    return (
        f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer, safe='')}"
        f"&algorithm=SHA1&digits={digits}&period={period}"
    )


def check_totp(
    secret: str, code: str, now: dt.datetime, *, last_step: int, digits: int = 6, period: int = 30
) -> int | None:
    """The time step ``code`` is valid for (now, or one step either side), if later than ``last_step``."""
    import pyotp

    if len(code) != digits or not code.isdigit() or not code.isascii():
        return None
    totp = pyotp.TOTP(secret, digits=digits, interval=period)
    current = int(now.timestamp()) // period
    for step in (current, current - 1, current + 1):
        if step > last_step and hmac.compare_digest(totp.at(step * period), code):
            return step
    return None


# --- sealing seeds ----------------------------------------------------------------------------


class SecretBox:
    """AES-256-GCM with the service key; the credential ID is the associated data."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ServiceConfigError("the service secret key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def create(cls, path: Path) -> SecretBox:
        key = secrets.token_bytes(32)
        atomic_write(path, base64.b64encode(key) + b"\n", mode=0o600)
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> SecretBox:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ServiceConfigError(
                f"the service secret key {path} is missing", hint="restore it from the backup of the folder"
            ) from None
        except OSError as exc:
            raise ServiceConfigError(f"cannot read {path}: {exc.strerror}") from None
        try:
            return cls(base64.b64decode(raw.strip(), validate=True))
        except ValueError:
            raise ServiceConfigError(f"{path} is not a thaisign service key") from None

    def seal(self, plaintext: str, context: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))

    def open(self, sealed: bytes, context: str) -> str:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], context.encode("utf-8")).decode("utf-8")
        except (InvalidTag, ValueError):
            raise SecretError(
                "a sealed TOTP seed does not open with this service's key",
                hint="the database and DIR/secret.key must come from the same service",
            ) from None
