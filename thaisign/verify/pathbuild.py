"""Bounded certification path building: from a certificate up to a trust anchor, never exponential.

Candidates for the issuer of a certificate are the certificates whose subject is its issuer name
(RFC 5280 comparison). Each link is checked *while building*: the child's signature must verify
with the candidate's key, so decoys that share a name (or a whole chain of same-name,
self-issued certificates) are dropped after one signature check instead of being combined into
every possible order. A shared :class:`Budget` bounds the signature checks, the candidates
looked at and the complete paths produced; depth is bounded too.

When no path with verified links exists, a second, name-only pass (same budget rules) can
produce paths whose defect the RFC 5280 validation then names precisely ("the signature of the
intermediate certificate does not verify") instead of a bare "no path".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from thaisign.verify.certs import Cert, CertPool, SignatureCache

#: limits on one path-building run (a chain of eight CAs is already exotic)
MAX_DEPTH = 8
MAX_SIGNATURE_CHECKS = 600
MAX_CANDIDATES = 4000
MAX_PATHS = 8


@dataclass(frozen=True)
class BuiltPath:
    """Anchor, intermediates (anchor side first) and the certificate the path was built for."""

    anchor: Cert
    intermediates: tuple[Cert, ...]
    leaf: Cert

    @property
    def certs(self) -> tuple[Cert, ...]:
        """Leaf first, anchor last (the order a report lists them in)."""
        if self.leaf == self.anchor:
            return (self.anchor,)
        return (self.leaf, *reversed(self.intermediates), self.anchor)


@dataclass
class Budget:
    signature_checks: int = MAX_SIGNATURE_CHECKS
    candidates: int = MAX_CANDIDATES
    paths: int = MAX_PATHS
    exhausted: bool = False

    def spend_candidate(self) -> bool:
        self.candidates -= 1
        if self.candidates < 0:
            self.exhausted = True
        return not self.exhausted


class PathBuilder:
    """Build paths to a fixed set of anchors, with a shared signature cache."""

    def __init__(self, anchors: list[Cert], signatures: SignatureCache | None = None) -> None:
        self.anchors_by_subject: dict[bytes, list[Cert]] = {}
        for a in anchors:
            self.anchors_by_subject.setdefault(a.subject, []).append(a)
        self._anchor_keys = {(a.subject, a.spki) for a in anchors}
        self.signatures = signatures or SignatureCache()

    def build(
        self,
        leaf: Cert,
        pool: CertPool,
        moment: datetime,
        *,
        verify_links: bool = True,
        budget: Budget | None = None,
    ) -> Iterator[BuiltPath]:
        """Paths for ``leaf``, most plausible first, within ``budget``."""
        budget = budget or Budget()
        yield from self._extend(leaf, (leaf,), pool, moment, verify_links, budget)

    def _linked(self, child: Cert, issuer: Cert, verify_links: bool, budget: Budget) -> bool:
        if child.aki is not None and issuer.ski is not None and child.aki != issuer.ski:
            return False
        if not verify_links:
            return True
        if budget.signature_checks <= 0:
            budget.exhausted = True
            return False
        before = self.signatures.checks
        ok = self.signatures.signed_by(child, issuer.spki)
        budget.signature_checks -= self.signatures.checks - before
        return ok is not False  # None (cannot tell here): RFC 5280 validation decides

    def _extend(
        self,
        cert: Cert,
        chain: tuple[Cert, ...],
        pool: CertPool,
        moment: datetime,
        verify_links: bool,
        budget: Budget,
    ) -> Iterator[BuiltPath]:
        if budget.exhausted or budget.paths <= 0:
            return
        for anchor in _ordered(self.anchors_by_subject.get(cert.issuer, []), cert, moment):
            if not budget.spend_candidate():
                return
            if self._linked(cert, anchor, verify_links, budget):
                budget.paths -= 1
                # chain = (leaf, ..., cert): intermediates are everything after the leaf
                leaf = chain[0]
                interm = tuple(reversed(chain[1:]))
                if leaf == anchor:
                    yield BuiltPath(anchor, (), leaf)
                else:
                    yield BuiltPath(anchor, interm, leaf)
                if budget.paths <= 0:
                    return
        if len(chain) > MAX_DEPTH:
            return
        seen = {c.sha256 for c in chain}
        seen_keys = {(c.subject, c.spki) for c in chain}
        for candidate in _ordered(pool.issuers_of(cert), cert, moment):
            if candidate.sha256 in seen or (candidate.subject, candidate.spki) in seen_keys:
                continue
            if (candidate.subject, candidate.spki) in self._anchor_keys:
                continue  # the anchor itself (or a re-issue of it) ends paths above, as the anchor
            if verify_links and not candidate.is_ca:
                continue
            if not budget.spend_candidate():
                return
            if self._linked(cert, candidate, verify_links, budget):
                yield from self._extend(candidate, (*chain, candidate), pool, moment, verify_links, budget)
            if budget.exhausted or budget.paths <= 0:
                return


def _ordered(candidates: list[Cert], child: Cert, moment: datetime) -> list[Cert]:
    """Key-identifier matches first, then certificates valid at ``moment``, newest first."""
    if len(candidates) < 2:
        return candidates
    return sorted(
        candidates,
        key=lambda c: (
            not (child.aki is not None and c.ski == child.aki),
            not c.valid_at(moment),
            -c.not_before.timestamp(),
        ),
    )
