"""One logged-in session per token per process, reused by every signer, re-opened when dropped.

PKCS#11 logs in per application, not per session: :class:`TokenSession` logs in once and every
:class:`~thaisign.hsm.Pkcs11Signer` on that token in this process shares it. When the token drops
the session (unplugged, module restarted, handle invalidated), :meth:`TokenSession.run` re-opens
it, logs in again with the PIN it was given, and retries the operation once.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pkcs11
from pkcs11 import exceptions as p11x

from thaisign.errors import PinError

from .diagnostics import SESSION_LOST, pin_locked_error, translate
from .module import TRANSIENT, open_token, resolve_module_path
from .uri import Pkcs11Uri

T = TypeVar("T")

_LOGIN_ATTEMPTS = 4

_lock = threading.RLock()
_sessions: dict[tuple[str, str, str, int], TokenSession] = {}  # (module, label, serial, pid)
_by_uri: dict[tuple[str, str, int], TokenSession] = {}  # (module, token part of the URI, pid)


def forget_sessions(module_path: str | None = None) -> None:
    """Close and drop cached sessions (of one module, or all)."""
    with _lock:
        for key in [k for k in _sessions if module_path is None or k[0] == module_path]:
            _sessions.pop(key).close()
        for uri_key in [k for k in _by_uri if module_path is None or k[0] == module_path]:
            del _by_uri[uri_key]


def _open(token: Any, *, pin: str | None, rw: bool) -> Any:
    """Open a session, logging in when a PIN is given (tolerating an existing login).

    A transient module failure (e.g. SoftHSM2 while another process rewrites the token file) is
    retried a few times with a short pause; a wrong PIN never is.
    """
    if pin is not None and token.flags & pkcs11.TokenFlag.USER_PIN_LOCKED:
        raise pin_locked_error(token.label)
    for attempt in range(_LOGIN_ATTEMPTS):
        try:
            if pin is None:
                return token.open(rw=rw)
            try:
                return token.open(rw=rw, user_pin=pin)
            except p11x.UserAlreadyLoggedIn:
                return token.open(rw=rw)  # another session of this process logged in already
        except TRANSIENT:
            if attempt == _LOGIN_ATTEMPTS - 1:
                raise
            time.sleep(0.02 * 2**attempt)
    raise AssertionError("unreachable")


class TokenSession:
    """A (lazily) logged-in session on one token, safe to share between threads of a process."""

    def __init__(self, module_path: str, token: Any, pin: str | None, *, rw: bool = False) -> None:
        self.module_path = module_path
        self.token = token
        self._pin = pin
        self._rw = rw
        self._session: Any = None
        self._lock = threading.RLock()
        #: increases each time the session is re-opened; cached object handles are stale after it
        self.generation = 0
        self.reconnects = 0
        self.key: tuple[str, str, str, int] | None = None  # its key in the process-wide cache

    @classmethod
    def for_uri(
        cls, uri: Pkcs11Uri, *, pin: str | None, module: str | None = None, rw: bool = False
    ) -> TokenSession:
        """The shared session for ``uri``'s token in this process (read-only sessions are cached).

        A URI seen before in this process finds its session without asking the module again.
        """
        if rw:
            path, token = open_token(uri, module)
            return cls(path, token, pin, rw=True)
        path = resolve_module_path(uri, module)
        pid = os.getpid()
        uri_key = (path, str(uri.for_token().without_query()), pid)
        with _lock:
            cached = _by_uri.get(uri_key)
            if cached is None or cached.key is None or _sessions.get(cached.key) is not cached:
                path, token = open_token(uri, module)
                key = (path, token.label, token.serial.decode(errors="replace"), pid)
                cached = _sessions.get(key)
                if cached is None:
                    cached = cls(path, token, pin)
                    cached.key = key
                    _sessions[key] = cached
                _by_uri[uri_key] = cached
            if pin is not None and pin != cached._pin:
                cached._pin = pin  # e.g. a retry after a wrong PIN: log in again with this one
                cached._drop()
            return cached

    @property
    def label(self) -> str:
        return str(self.token.label)

    @property
    def logged_in(self) -> bool:
        return self._pin is not None

    def session(self) -> Any:
        """The open python-pkcs11 session, opening and logging in on first use."""
        with self._lock:
            if self._session is None:
                if self._pin is None and self.token.flags & pkcs11.TokenFlag.LOGIN_REQUIRED and self._rw:
                    raise PinError(
                        f"token {self.label!r} needs the user PIN",
                        hint="set THAISIGN_PIN, pass --pin-file, or add pin-source to the URI",
                    )
                try:
                    self._session = _open(self.token, pin=self._pin, rw=self._rw)
                except p11x.PKCS11Error as exc:
                    raise translate(exc, token=self.token, action="log in") from exc
                self.generation += 1
            return self._session

    def _drop(self) -> None:
        with self._lock:
            if self._session is not None:
                with contextlib.suppress(Exception):
                    self._session.close()
                self._session = None

    def reconnect(self) -> None:
        """Close the current session (if any) and open a fresh one at the next use."""
        with self._lock:
            self._drop()
            self.reconnects += 1
            with contextlib.suppress(Exception):
                # a fresh token object: the slot may have been re-enumerated
                self.token = self.token.slot.get_token()

    def run(self, operation: Callable[[Any], T], *, action: str) -> T:
        """Run ``operation(session)``; on a dropped session re-open and retry once."""
        with self._lock:
            try:
                return operation(self.session())
            except (*SESSION_LOST, *TRANSIENT):
                self.reconnect()
            except p11x.PKCS11Error as exc:
                raise translate(exc, token=self.token, action=action) from exc
            try:
                return operation(self.session())
            except p11x.PKCS11Error as exc:
                raise translate(exc, token=self.token, action=action) from exc

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> TokenSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
