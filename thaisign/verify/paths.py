"""Certificate path validation on its own (RFC 5280 through pyhanko-certvalidator), for one certificate.

>>> result = validate_certificate(cert_der, TrustStore.from_paths(["root.pem"]), at=when, crls=[crl_der])
>>> result.valid, result.error

Used for PKITS conformance and by tools that check an officer certificate without a PDF.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from thaisign.verify.trust import TrustStore


@dataclass(frozen=True)
class PathResult:
    """Outcome of validating one certificate: the chain found, or why it failed."""

    valid: bool
    chain: tuple[str, ...] = ()  # subjects, end entity first
    error: str | None = None  # PathBuildingError, PathValidationError, RevokedError, ...
    message: str | None = None
    path_length: int = 0
    error_kinds: tuple[str, ...] = field(default_factory=tuple)  # the error class and its bases

    def failed_with(self, kind: str) -> bool:
        """True when the failure is ``kind`` or a subclass of it (e.g. ``PathValidationError``)."""
        return kind in self.error_kinds


def _cert(c: bytes | asn1_x509.Certificate) -> asn1_x509.Certificate:
    return c if isinstance(c, asn1_x509.Certificate) else asn1_x509.Certificate.load(c)


def validate_certificate(
    cert: bytes | asn1_x509.Certificate,
    trust: TrustStore,
    *,
    at: datetime,
    other_certs: Iterable[bytes | asn1_x509.Certificate] = (),
    crls: Iterable[bytes | asn1_crl.CertificateList] = (),
    revocation_mode: str = "require",
    policies: Sequence[str] | None = None,
    explicit_policy: bool = False,
    inhibit_policy_mapping: bool = False,
    inhibit_any_policy: bool = False,
    intermediates: Sequence[bytes | asn1_x509.Certificate] | None = None,
    weak_hash_algorithms: Iterable[str] = ("md2", "md5"),
) -> PathResult:
    """Build and validate a path for ``cert`` at time ``at`` with the given CRLs (no fetching).

    ``revocation_mode`` is pyhanko-certvalidator's: ``require`` (every certificate needs
    revocation data), ``hard-fail`` or ``soft-fail``. ``intermediates`` pins the path instead of
    building it. Policy arguments are RFC 5280's initial policy inputs.
    """
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.authority import CertTrustAnchor
    from pyhanko_certvalidator.errors import PathBuildingError, ValidationError
    from pyhanko_certvalidator.path import ValidationPath
    from pyhanko_certvalidator.policy_decl import DisallowWeakAlgorithmsPolicy, PKIXValidationParams
    from pyhanko_certvalidator.validate import async_validate_path

    leaf = _cert(cert)
    vc = ValidationContext(
        trust_roots=trust.certificates,
        other_certs=[_cert(c) for c in other_certs],
        crls=[
            c if isinstance(c, asn1_crl.CertificateList) else asn1_crl.CertificateList.load(c) for c in crls
        ],
        moment=at,
        revocation_mode=revocation_mode,
        algorithm_usage_policy=DisallowWeakAlgorithmsPolicy(
            weak_hash_algos=set(weak_hash_algorithms), dsa_key_size_threshold=1024
        ),
    )
    params = PKIXValidationParams(
        user_initial_policy_set=frozenset(policies) if policies else frozenset(["any_policy"]),
        initial_explicit_policy=explicit_policy,
        initial_policy_mapping_inhibit=inhibit_policy_mapping,
        initial_any_policy_inhibit=inhibit_any_policy,
    )

    async def _run() -> PathResult:
        if intermediates is not None:
            anchor = trust.certificates[0]
            paths = [ValidationPath(CertTrustAnchor(anchor), [_cert(c) for c in intermediates], leaf)]
        else:
            try:
                paths = await vc.path_builder.async_build_paths(leaf)
            except PathBuildingError as exc:
                return PathResult(
                    False, error="PathBuildingError", message=str(exc), error_kinds=("PathBuildingError",)
                )
        failures: list[tuple[ValidationError, str]] = []
        for path in paths:
            try:
                await async_validate_path(vc, path, parameters=params)
            except ValidationError as exc:
                failures.append((exc, str(exc)))
                continue
            chain = tuple(str(c.subject.human_friendly) for c in path.iter_certs(include_root=True))
            return PathResult(True, chain=tuple(reversed(chain)), path_length=len(path))
        first, message = failures[0]
        kinds = tuple(k.__name__ for k in type(first).__mro__ if issubclass(k, ValidationError))
        return PathResult(
            False, error=type(first).__name__, message=message, path_length=len(paths[0]), error_kinds=kinds
        )

    return asyncio.run(_run())
