"""Certificate path validation on its own (RFC 5280, thaisign's path engine), for one certificate.

>>> result = validate_certificate(cert_der, TrustStore.from_paths(["root.pem"]), at=when, crls=[crl_der])
>>> result.valid, result.error

Used for PKITS conformance and by tools that check an officer certificate without a PDF.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from thaisign.verify import certs
from thaisign.verify.certs import MalformedCertificate
from thaisign.verify.chain import ChainValidator
from thaisign.verify.pathbuild import BuiltPath
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
    building it. Policy arguments are RFC 5280's initial policy inputs. Paths are built by
    thaisign's bounded builder and validated by :mod:`thaisign.verify.chain` (no validity
    tolerance, trust anchors' constraints honoured). Never raises for malformed certificates:
    the result's ``error`` is then ``FormatError``.
    """
    try:
        return asyncio.run(
            _validate(
                cert,
                trust,
                at=at,
                other_certs=other_certs,
                crls=crls,
                revocation_mode=revocation_mode,
                policies=policies,
                explicit_policy=explicit_policy,
                inhibit_policy_mapping=inhibit_policy_mapping,
                inhibit_any_policy=inhibit_any_policy,
                intermediates=intermediates,
                weak_hash_algorithms=weak_hash_algorithms,
            )
        )
    except MalformedCertificate as exc:
        return PathResult(False, error="FormatError", message=str(exc), error_kinds=("FormatError",))
    except (ValueError, TypeError, KeyError, AttributeError, NotImplementedError, RecursionError) as exc:
        text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        return PathResult(
            False, error="FormatError", message=f"malformed input: {text}", error_kinds=("FormatError",)
        )


async def _validate(
    cert: bytes | asn1_x509.Certificate,
    trust: TrustStore,
    *,
    at: datetime,
    other_certs: Iterable[bytes | asn1_x509.Certificate],
    crls: Iterable[bytes | asn1_crl.CertificateList],
    revocation_mode: str,
    policies: Sequence[str] | None,
    explicit_policy: bool,
    inhibit_policy_mapping: bool,
    inhibit_any_policy: bool,
    intermediates: Sequence[bytes | asn1_x509.Certificate] | None,
    weak_hash_algorithms: Iterable[str],
) -> PathResult:
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.policy_decl import DisallowWeakAlgorithmsPolicy, PKIXValidationParams

    leaf = certs.parse(cert)
    anchors = [certs.parse(c) for c in trust.certificates]
    pool = certs.CertPool.of((c) for c in other_certs)
    vc = ValidationContext(
        trust_roots=[a.asn1 for a in anchors],
        other_certs=[c.asn1 for c in pool],
        crls=[
            c if isinstance(c, asn1_crl.CertificateList) else asn1_crl.CertificateList.load(c) for c in crls
        ],
        moment=at,
        revocation_mode=revocation_mode,
        time_tolerance=timedelta(0),
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
    validator = ChainValidator(anchors)
    pinned = None
    if intermediates is not None:
        pinned = [BuiltPath(anchors[0], tuple(certs.parse(c) for c in intermediates), leaf)]
    result = await validator.validate(leaf, pool, at, context=vc, parameters=params, paths=pinned)
    if result.ok:
        assert result.path is not None
        chain = tuple(str(c.asn1.subject.human_friendly) for c in result.path.certs)
        return PathResult(True, chain=chain, path_length=len(result.path.certs))
    path_length = 0 if result.path is None else len(result.path.certs)
    return PathResult(
        False,
        error=result.error_class,
        message=result.message,
        path_length=path_length,
        error_kinds=result.error_kinds,
    )
