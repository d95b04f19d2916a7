"""Work shared across the files of a batch: trust manager, fetched OCSP/CRL, revocation answers.

One :class:`BatchCache` per (trust store, validation time, revocation mode). A file that carries
its own validation data (/DSS, archived revocation info) gets its own pyhanko-certvalidator
``ValidationContext``, so one file's data never vouches for another; files without any share
one. All share the trust manager, the fetchers (an OCSP response or CRL is fetched once per
batch), one path validation per signer certificate (and embedded data) and one revocation
answer per signer. One event loop serves the whole batch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from thaisign.verify import plain_ecdsa
from thaisign.verify.revocation import EmbeddedRevinfo, RevocationAnswer, signer_revocation, tolerant_policy
from thaisign.verify.trust import TrustStore
from thaisign.verify.validation import key_usage

T = TypeVar("T")

#: seconds to wait for one OCSP / CRL / certificate download
NETWORK_TIMEOUT = 5.0
#: bound on remembered answers (files with their own embedded data each add one)
_MAX_ENTRIES = 20_000


@dataclass(frozen=True)
class TrustAnswer:
    """The outcome of validating a signer certificate's path (pyHanko's fields)."""

    path: Any
    error_subindic: Any
    revo_details: Any
    error_time_horizon: Any


@dataclass
class FileSession:
    """What validating one file needs: its validation context plus the batch's shared parts."""

    vc: Any
    cache: BatchCache
    fetchers: Any
    mode: str
    key_usage: Any
    embedded: EmbeddedRevinfo
    shared: bool = False

    @property
    def diff_policy(self) -> Any:
        """pyHanko's default difference policy (imported on first use)."""
        from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY

        return DEFAULT_DIFF_POLICY


class BatchCache:
    """Shared state for verifying many files with the same trust, time and revocation mode."""

    def __init__(
        self,
        trust: TrustStore,
        *,
        at: datetime | None = None,
        revocation: str = "online",
        network_timeout: float = NETWORK_TIMEOUT,
    ) -> None:
        from pyhanko_certvalidator.registry import SimpleTrustManager

        from thaisign.verify import _speedups

        _speedups.install()
        self.trust = trust
        self.moment = at or datetime.now(UTC)
        self.mode = revocation
        self.trust_manager = SimpleTrustManager.build(trust_roots=trust.certificates)
        self.key_usage = key_usage()
        self.fetchers: Any = None
        self._network_timeout = network_timeout
        if revocation == "online":
            from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

            self.fetchers = RequestsFetcherBackend(per_request_timeout=network_timeout).get_fetchers()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._revocation: dict[tuple[str, str], RevocationAnswer] = {}
        self._trust: dict[tuple[str, str, str], TrustAnswer] = {}
        self.stats = {"revocation_checks": 0, "revocation_hits": 0, "path_validations": 0, "path_hits": 0}
        self._revinfo_key = ""
        self._plain_session: FileSession | None = None
        #: small facts derived from certificates and paths (signer names, chain entries)
        self.memo: dict[Any, Any] = {}

    def session_for(self, embedded: EmbeddedRevinfo) -> FileSession:
        """A validation context for one file, wired to the shared parts.

        Files that carry their own validation data (DSS, archived revocation info) get a fresh
        context so that one file's data never vouches for another; the common case of a file
        without any shares one context across the batch.
        """
        self._revinfo_key = _revinfo_key(embedded)
        if not self._revinfo_key:
            if self._plain_session is None:
                self._plain_session = dataclasses.replace(self._new_session(embedded), shared=True)
            return self._plain_session
        return self._new_session(embedded)

    def _new_session(self, embedded: EmbeddedRevinfo) -> FileSession:
        from pyhanko_certvalidator import ValidationContext

        vc = ValidationContext(
            trust_manager=self.trust_manager,
            other_certs=embedded.certs,
            crls=embedded.crls,
            ocsps=embedded.ocsps,
            moment=self.moment,
            allow_fetching=self.fetchers is not None,
            fetchers=self.fetchers,
            revinfo_policy=tolerant_policy(self.mode),
            signature_validator=plain_ecdsa.validator(),  # + BSI plain-ECDSA (r || s) values
        )
        return FileSession(vc, self, self.fetchers, self.mode, self.key_usage, embedded)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the batch's event loop."""
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(coro)

    async def revocation(
        self, cert: Any, path: Any, session: FileSession, embedded: EmbeddedRevinfo
    ) -> RevocationAnswer:
        """The revocation answer for a signer certificate: computed once per batch and revinfo set."""
        key = (hashlib.sha256(cert.dump()).hexdigest(), _revinfo_key(embedded))
        self.stats["revocation_checks"] += 1
        hit = self._revocation.get(key)
        if hit is not None:
            self.stats["revocation_hits"] += 1
            return hit
        answer = await signer_revocation(
            session.vc, path, mode=self.mode, embedded=embedded, fetchers=self.fetchers
        )
        if len(self._revocation) > _MAX_ENTRIES:
            self._revocation.clear()
        self._revocation[key] = answer
        return answer

    async def signer_trust(self, cert: Any, other_certs: Any, session: FileSession) -> TrustAnswer:
        """Path validation of a signer certificate: once per certificate, chain and revinfo set."""
        from pyhanko.sign.validation.generic_cms import validate_cert_usage

        others = hashlib.sha256(b"".join(sorted(c.dump() for c in other_certs))).hexdigest()
        key = (hashlib.sha256(cert.dump()).hexdigest(), others, self._revinfo_key)
        self.stats["path_validations"] += 1
        hit = self._trust.get(key)
        if hit is not None:
            self.stats["path_hits"] += 1
            return hit
        # a validation context of its own, so the path found never depends on certificates that
        # other files of the batch happened to carry (same verdict as verifying the file alone)
        vc = self._new_session(session.embedded).vc if session.shared else session.vc
        vc.certificate_registry.register_multiple(other_certs)
        try:
            result = await validate_cert_usage(
                cert,
                vc,
                key_usage_settings=self.key_usage,
                paths=vc.path_builder.async_build_paths_lazy(cert),
            )
            answer = TrustAnswer(
                result.success_result or result.error_path,
                result.error_subindic,
                result.revo_details,
                result.error_time_horizon,
            )
        except ValueError:
            from pyhanko.sign.ades.report import AdESIndeterminate

            answer = TrustAnswer(None, AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE, None, None)
        if len(self._trust) > _MAX_ENTRIES:
            self._trust.clear()
        self._trust[key] = answer
        return answer

    async def past_validation(
        self, cert: Any, other_certs: Any, when: datetime, embedded: EmbeddedRevinfo
    ) -> tuple[Any, RevocationAnswer] | None:
        """Chain and revocation of ``cert`` as of ``when`` (a trusted time-stamp's time).

        Returns the path and a revocation answer that is "good" or "revoked"/"unknown", or None
        when the certificate cannot be validated at that time at all.
        """
        from pyhanko.sign.validation.generic_cms import validate_cert_usage
        from pyhanko_certvalidator import ValidationContext

        vc = ValidationContext(
            trust_manager=self.trust_manager,
            other_certs=[*embedded.certs, *other_certs],
            crls=embedded.crls,
            ocsps=embedded.ocsps,
            moment=when,
            allow_fetching=self.fetchers is not None,
            fetchers=self.fetchers,
            revinfo_policy=tolerant_policy(self.mode),
        )
        paths = vc.path_builder.async_build_paths_lazy(cert)
        try:
            result = await validate_cert_usage(cert, vc, key_usage_settings=self.key_usage, paths=paths)
        except ValueError:
            return None
        if result.success_result is None:
            return None
        answer = await signer_revocation(
            vc, result.success_result, mode=self.mode, embedded=embedded, fetchers=self.fetchers
        )
        if answer.facts.status not in ("good", "not-checked"):
            return None
        return result.success_result, answer

    def after_fork(self) -> None:
        """In a forked child: keep the answers, drop the loop, shared context and connections."""
        self._loop = None
        self._plain_session = None
        if self.mode == "online":
            from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

            self.fetchers = RequestsFetcherBackend(per_request_timeout=self._network_timeout).get_fetchers()

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


def _revinfo_key(embedded: EmbeddedRevinfo) -> str:
    """Identity of a file's embedded validation data (DSS certificates, OCSP responses, CRLs)."""
    if not (embedded.has_revinfo or embedded.certs):
        return ""
    h = hashlib.sha256()
    for item in (*embedded.certs, *embedded.ocsps, *embedded.crls):
        h.update(item.dump())
    return h.hexdigest()
