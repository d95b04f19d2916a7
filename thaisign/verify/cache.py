"""Work shared across the files of a batch: path validations, revocation answers, fetched data.

One :class:`BatchCache` per (trust store, validation time, revocation mode, policy). It holds
the :class:`~thaisign.verify.ltv.LtvEngine` (parsed anchors, the bounded path builder with its
signature cache, verified revocation statements, the fetcher) and remembers one path
validation per signer certificate and set of offered certificates, and one revocation answer
per certificate and set of validation data. A file's own validation data never vouches for
another file: each file gets a :class:`FileSession` with its own evidence. One event loop
serves the whole batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from thaisign.verify.ltv import FileLtv, LtvEngine
from thaisign.verify.policy import DEFAULT_POLICY, ValidationPolicy
from thaisign.verify.revocation import EmbeddedRevinfo
from thaisign.verify.trust import TrustStore

T = TypeVar("T")

#: bound on remembered answers (files with their own embedded data each add one)
_MAX_ENTRIES = 20_000
#: libraries whose log records must never reach a clerk's terminal on their own
_QUIET_LOGGERS = ("pyhanko", "pyhanko_certvalidator", "thaisign")


def quiet_libraries() -> None:
    """Give the libraries' loggers a handler, so Python's last-resort handler never prints their
    warnings (and tracebacks) to stderr; an application that configures logging still sees them."""
    for name in _QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())


@dataclass
class FileSession:
    """What validating one file needs: its validation data plus the batch's shared parts."""

    cache: BatchCache
    embedded: EmbeddedRevinfo
    ltv: FileLtv
    mode: str

    @property
    def diff_policy(self) -> Any:
        """pyHanko's default difference policy (imported on first use)."""
        from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY

        return DEFAULT_DIFF_POLICY


class BatchCache:
    """Shared state for verifying many files with the same trust, time, revocation mode and policy."""

    def __init__(
        self,
        trust: TrustStore,
        *,
        at: datetime | None = None,
        revocation: str = "online",
        policy: ValidationPolicy | None = None,
    ) -> None:
        from thaisign.verify import _speedups
        from thaisign.verify.certs import MalformedCertificate, parse

        _speedups.install()
        quiet_libraries()
        self.trust = trust
        self.moment = at or datetime.now(UTC)
        self.mode = revocation
        self.policy = policy or DEFAULT_POLICY
        anchors = []
        for anchor in trust.certificates:
            try:
                anchors.append(parse(anchor))
            except MalformedCertificate:
                continue  # a malformed anchor anchors nothing
        self.ltv = LtvEngine(anchors, self.policy, revocation)
        self._loop: asyncio.AbstractEventLoop | None = None
        #: small facts derived from certificates and paths (signer names, chain entries)
        self.memo: dict[Any, Any] = {}

    @property
    def stats(self) -> dict[str, int]:
        return dict(self.ltv.stats)

    def session_for(self, embedded: EmbeddedRevinfo) -> FileSession:
        """A session for one file, wired to the shared parts."""
        return FileSession(self, embedded, FileLtv(self.ltv, embedded, self.moment), self.mode)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the batch's event loop."""
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(coro)

    def after_fork(self) -> None:
        """In a forked child: keep the answers, drop the loop and the network connections."""
        self._loop = None
        self.ltv.after_fork()

    def reset_loop(self) -> None:
        """Drop the event loop (after an interrupted run); a new one is made when needed."""
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed() and not loop.is_running():
            loop.close()

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.close()
        self._loop = None


def remember(memo: dict[Any, Any], key: Any, value: T) -> T:
    """Store ``value`` in a batch memo (cleared when it grows past the bound) and return it."""
    if len(memo) > _MAX_ENTRIES:
        memo.clear()
    memo[key] = value
    return value


def revinfo_key(embedded: EmbeddedRevinfo) -> str:
    """Identity of a file's embedded validation data (certificates, OCSP responses, CRLs)."""
    if not (embedded.has_revinfo or embedded.certs):
        return ""
    h = hashlib.sha256()
    for item in embedded.certs:
        h.update(item.dump())
    for ev in embedded.evidence:
        h.update(ev.sha256.encode())
        h.update(f"{ev.location}{ev.revision}{ev.owner}".encode())
    return h.hexdigest()
