"""Turn python-pkcs11 exceptions into one-line :mod:`thaisign.errors` a user can act on."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import pkcs11
from pkcs11 import exceptions as p11x

from thaisign.errors import MechanismError, PinError, TokenError

#: exceptions that mean the session (or the token under it) went away: re-open and retry once
SESSION_LOST: tuple[type[BaseException], ...] = (
    p11x.SessionClosed,
    p11x.SessionHandleInvalid,
    p11x.DeviceRemoved,
    p11x.TokenNotPresent,
    p11x.KeyHandleInvalid,
    p11x.ObjectHandleInvalid,
    p11x.UserNotLoggedIn,
    p11x.DeviceError,
)


def mechanism_names(mechanisms: Iterable[Any]) -> list[str]:
    """Sorted readable names (``ECDSA``, ``RSA_PKCS_PSS``, ``0x80000001``) of mechanisms."""
    names = []
    for m in mechanisms:
        name = getattr(m, "name", None)
        names.append(f"CKM_{name.lstrip('_')}" if name else f"0x{int(m):08x}")
    return sorted(names)


def pin_tries_note(token: Any) -> str:
    """What the token says about remaining tries: final try, count low, or nothing known."""
    try:
        flags = token.slot.get_token().flags  # fresh token info: flags change after a failed login
    except Exception:
        return ""
    if flags & pkcs11.TokenFlag.USER_PIN_LOCKED:
        return "the PIN is now locked"
    if flags & pkcs11.TokenFlag.USER_PIN_FINAL_TRY:
        return "one try left before the PIN locks"
    if flags & pkcs11.TokenFlag.USER_PIN_COUNT_LOW:
        return "few tries left before the PIN locks"
    return ""


def pin_locked_error(label: str) -> PinError:
    return PinError(
        f"the user PIN of token {label!r} is locked",
        hint="ask the token's security officer to unlock it "
        "(e.g. pkcs11-tool --init-pin --login --login-type so)",
    )


def translate(exc: BaseException, *, token: Any = None, action: str = "use the token") -> TokenError:
    """A :class:`TokenError` (subclass) with one actionable line for a python-pkcs11 exception."""
    label = getattr(token, "label", None) or "?"
    if isinstance(exc, TokenError):
        return exc
    if isinstance(exc, p11x.PinIncorrect):
        note = pin_tries_note(token) if token is not None else ""
        if note == "the PIN is now locked":
            return pin_locked_error(label)
        return PinError(
            f"wrong PIN for token {label!r}" + (f": {note}" if note else ""),
            hint="check THAISIGN_PIN or the --pin-file; each wrong try brings the PIN closer to locking",
        )
    if isinstance(exc, p11x.PinLocked):
        return pin_locked_error(label)
    if isinstance(exc, p11x.PinExpired):
        return PinError(f"the PIN of token {label!r} has expired", hint="set a new PIN with the token's tool")
    if isinstance(exc, p11x.PinLenRange | p11x.PinInvalid):
        return PinError(
            f"the PIN has the wrong length or characters for token {label!r}",
            hint="check THAISIGN_PIN or the --pin-file (no trailing spaces)",
        )
    if isinstance(exc, p11x.UserNotLoggedIn):
        return PinError(
            f"token {label!r} needs the user PIN to {action}",
            hint="set THAISIGN_PIN, pass --pin-file, or add pin-source=file:... to the URI",
        )
    if isinstance(exc, p11x.UserPinNotInitialized):
        return PinError(
            f"token {label!r} has no user PIN yet", hint="initialise it: softhsm2-util --init-token ..."
        )
    if isinstance(exc, p11x.MechanismInvalid | p11x.MechanismParamInvalid | p11x.KeyTypeInconsistent):
        mechs = ""
        with contextlib.suppress(Exception):
            mechs = ", ".join(mechanism_names(token.slot.get_mechanisms()))
        return MechanismError(
            f"token {label!r} refused the mechanism needed to {action}"
            + (f"; it supports: {mechs}" if mechs else ""),
            hint="choose another key type or signature scheme (e.g. --pss off)",
        )
    if isinstance(exc, p11x.TokenWriteProtected | p11x.SessionReadOnly):
        return TokenError(f"token {label!r} is write-protected: cannot {action}")
    if isinstance(exc, p11x.DeviceMemory):
        return TokenError(f"token {label!r} is full: cannot {action}", hint="delete unused objects")
    if isinstance(exc, SESSION_LOST):
        return TokenError(
            f"lost the connection to token {label!r} while trying to {action}",
            hint="check that the token is plugged in and retry",
        )
    name = type(exc).__name__
    return TokenError(f"the PKCS#11 token {label!r} failed to {action}: {name} {exc}".rstrip())


@contextlib.contextmanager
def token_errors(token: Any = None, action: str = "use the token") -> Iterator[None]:
    """Re-raise python-pkcs11 exceptions inside the block as :class:`TokenError` subclasses."""
    try:
        yield
    except p11x.PKCS11Error as exc:
        raise translate(exc, token=token, action=action) from exc
