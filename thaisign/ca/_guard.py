"""Watching the CA store while a service answers from it, so that the service fails safe.

A :class:`StoreGuard` says whether answers may be given (:meth:`require_ok`, on every OCSP request)
and what to tell ``/health``. It keeps:

- the identity (device, inode) of a SQLite file, checked on every request: a database deleted or
  replaced by a restore is noticed at once (the open connection would go on reading the deleted
  file); the service reconnects to the new file only after it passed the checks below;
- the newest chain head it has verified: a database that no longer holds it (restored from an
  older copy, rewritten) is refused, checked every second;
- a full :func:`~thaisign.ca.integrity.check_store` at start and every ``interval`` seconds, in
  a background thread: tables against the chain, the chain against the newest signed checkpoint.

Until the store passes, OCSP answers ``tryLater`` and ``/health`` answers 503.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url

from thaisign._fs import file_identity
from thaisign.errors import StoreError

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuardState:
    """What the guard knows: ``ok``, ``checking``, ``unavailable`` or ``tampered``, and why."""

    status: str
    reason: str | None = None
    checked_at: dt.datetime | None = None
    entries: int | None = None
    head: str | None = None
    checkpoint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
            "audit_entries": self.entries,
            "audit_head": self.head,
            "checkpoint": self.checkpoint,
        }


class StoreGuard:
    """See the module docstring. ``check`` runs the full check and returns an IntegrityReport-like
    object; ``reconnect`` drops every connection (so the next use opens the file anew)."""

    def __init__(
        self,
        store: Any,
        check: Callable[[tuple[int, str] | None], Any],
        *,
        reconnect: Callable[[], None],
        interval: float = 600.0,
        probe_interval: float = 1.0,
        initial: GuardState | None = None,
    ) -> None:
        self._store = store
        self._check = check
        self._reconnect = reconnect
        self._interval = interval
        self._probe_interval = probe_interval
        url = make_url(store.url)
        self._path = url.database if url.get_backend_name() == "sqlite" else None
        self._identity = file_identity(self._path)
        self._lock = threading.Lock()
        self._state = initial or GuardState("checking", "the store has not been checked yet")
        self._known: tuple[int, str] | None = None
        self._last_ok: GuardState | None = None
        if initial is not None and initial.status == "ok" and initial.entries and initial.head:
            self._known = (initial.entries, initial.head)
            self._last_ok = initial
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._probe_lock = threading.Lock()
        self._last_inline = 0.0
        self._full_due = initial is None or initial.status != "ok"
        self._thread = threading.Thread(target=self._run, name="thaisign-store-guard", daemon=True)
        self._thread.start()

    # --- what the service asks -------------------------------------------------------------------

    @property
    def state(self) -> GuardState:
        return self._state

    def require_ok(self) -> None:
        """Raise :class:`StoreError` unless answers may be given from the store now."""
        if self._path is not None and file_identity(self._path) != self._identity:  # a stat: ~2 µs
            self._set(GuardState("unavailable", "the database file was deleted or replaced"))
            self._wake.set()
        state = self._state
        if state.status == "unavailable" and not self._full_due:
            # the database was unreachable: look again now (at most once a second), so the first
            # request after it is back is answered, not the one after the next probe
            now = time.monotonic()
            if now - self._last_inline >= 1.0 and self._probe_lock.acquire(blocking=False):
                try:
                    self._last_inline = now
                    self._probe()
                finally:
                    self._probe_lock.release()
            state = self._state
        if state.status != "ok":
            if state.status == "unavailable":
                self._wake.set()  # look again now: service resumes as soon as the store is back
            raise StoreError(f"CA store {state.status}: {state.reason}")

    def close(self) -> None:
        self._stop.set()
        self._wake.set()

    # --- the background thread ---------------------------------------------------------------------

    def _set(self, state: GuardState) -> None:
        with self._lock:
            if state.status != self._state.status or state.reason != self._state.reason:
                log = _log.info if state.status == "ok" else _log.warning
                log("CA store %s%s", state.status, f": {state.reason}" if state.reason else "")
            self._state = state

    def _run(self) -> None:
        last_full = time.monotonic()
        while not self._stop.is_set():
            try:
                if self._full_due or time.monotonic() - last_full >= self._interval:
                    self._full_check()
                    last_full = time.monotonic()
                else:
                    with self._probe_lock:
                        self._probe()
            except Exception as exc:  # never let the guard die: say unavailable, try again
                self._set(GuardState("unavailable", _first_line(exc)))
                self._full_due = True
            self._pause()

    def _pause(self) -> None:
        """Wait ``probe_interval`` seconds, or less if woken. Short sleeps rather than a timed
        Event.wait: libfaketime (the suite's moved clocks) makes timed lock waits hang."""
        deadline = time.monotonic() + self._probe_interval
        while not (self._wake.is_set() or self._stop.is_set()) and time.monotonic() < deadline:
            time.sleep(0.2)
        self._wake.clear()

    def _probe(self) -> None:
        """Cheap: is the file the one checked, and does the store still hold the verified head?"""
        identity = file_identity(self._path)
        if self._path is not None and identity != self._identity:
            if identity is None:
                self._set(GuardState("unavailable", "the database file is missing"))
                return
            self._set(GuardState("unavailable", "the database file was replaced: checking the new one"))
            self._last_ok = None  # the new file must pass the full check first
            self._full_due = True
            return
        try:
            newest = self._store.head()
            held = self._store.entry_hash_at(self._known[0]) if self._known else None
        except StoreError as exc:
            self._set(GuardState("unavailable", exc.message))
            return
        if self._known is not None and (
            newest is None or newest[0] < self._known[0] or held != self._known[1]
        ):
            self._full_due = True  # not the store checked before: the full check says what happened
            return
        if newest is not None and self._state.status == "ok":
            # the store grew from the head we know: remember the newest head, so that a copy
            # lacking it (a restore from an older backup) is refused; the new entries themselves
            # are checked in full on the timer
            self._known = newest
        if self._state.status == "unavailable":
            self._set(self._last_ok or GuardState("checking", "re-checking the store"))
            self._full_due = self._last_ok is None

    def _full_check(self) -> None:
        self._full_due = False
        identity = file_identity(self._path)
        if self._path is not None and identity is None:
            self._set(GuardState("unavailable", "the database file is missing"))
            self._full_due = True
            return
        if identity != self._identity:
            self._reconnect()  # a restored file: read it, not the deleted one
            self._identity = identity
        report = self._check(self._known)
        now = dt.datetime.now(dt.UTC)
        checkpoint = report.checkpoint.checkpoint.describe() if report.checkpoint else None
        if report.ok:
            self._known = (report.entries, report.head)
            self._last_ok = GuardState("ok", None, now, report.entries, report.head, checkpoint)
            self._set(self._last_ok)
        else:
            problems: Sequence[str] = report.problems()
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            reason = f"changed outside thaisign: {problems[0]}{more}"
            self._set(GuardState("tampered", reason, now, report.entries, report.head, checkpoint))


def _first_line(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(message).strip().splitlines()[0]


def initial_state(report: Any) -> GuardState:
    """The guard state a full check at start-up gives (for workers that start after it)."""
    checkpoint = report.checkpoint.checkpoint.describe() if report.checkpoint else None
    if report.ok:
        return GuardState("ok", None, dt.datetime.now(dt.UTC), report.entries, report.head, checkpoint)
    problems = report.problems()
    return GuardState(
        "tampered", f"changed outside thaisign: {problems[0]}", None, report.entries, report.head
    )
