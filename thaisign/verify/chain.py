"""RFC 5280 path validation that thaisign can defend: bounded building, anchors' constraints, no slack.

The engine (chosen against the alternatives in docs/validation-policy.md and
``benchmarks/path_engines.py``):

1. certificates are parsed and checked for form once (:mod:`thaisign.verify.certs`);
2. paths are built by :mod:`thaisign.verify.pathbuild` — bounded, links verified while building;
3. each path is validated by pyhanko-certvalidator's RFC 5280 algorithm (policies, name
   constraints including directoryName, basic constraints, key usage, algorithms) with **no
   validity tolerance** and with the trust anchor's own constraints applied (RFC 5937: its
   name constraints, path length and validity);
4. what certvalidator does not check is checked here first: a trust anchor's critical
   extensions and key usage, and critical extensions no one here understands anywhere.

Revocation is not part of this module's default run (the long-term validation in
:mod:`thaisign.verify.ltv` judges it with proof-of-existence times); :func:`validate_chain` can
hand a revocation-aware certvalidator context through for the plain RFC 5280 use
(:func:`thaisign.verify.paths.validate_certificate`, NIST PKITS).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from thaisign.verify.certs import Cert, CertPool, SignatureCache, unknown_critical_extensions
from thaisign.verify.pathbuild import Budget, BuiltPath, PathBuilder

#: failure kinds of :class:`ChainResult` (mapped to ETSI sub-indications by the caller)
NO_PATH = "no-path"
EXPIRED = "expired"
NOT_YET_VALID = "not-yet-valid"
INVALID = "invalid"  # RFC 5280 says no (constraints, signature, critical extension, ...)
ALGORITHM = "algorithm"  # an algorithm not allowed at that time
REVOKED = "revoked"  # only with a revocation-aware context
REVINFO = "revinfo"  # idem: revocation could not be established
MALFORMED = "malformed"


@dataclass(frozen=True)
class ChainResult:
    """The outcome of validating one certificate at one moment."""

    ok: bool
    path: BuiltPath | None = None  # the validated path, or the path whose failure is reported
    failure: str | None = None
    message: str | None = None
    error_class: str | None = None  # certvalidator's exception class, when it decided
    error_kinds: tuple[str, ...] = ()
    #: for EXPIRED / NOT_YET_VALID: the certificate concerned and its bound
    out_of_bounds: tuple[Cert, datetime] | None = None
    exhausted: bool = False  # the building budget ran out
    revoked_at: datetime | None = None
    error: Any = None  # the certvalidator exception itself (for callers that need details)

    @property
    def certs(self) -> tuple[Cert, ...]:
        """Signer first, anchor last: only certificates of the path actually validated."""
        return self.path.certs if (self.ok and self.path is not None) else ()


class AnchorSet:
    """Trust anchors as parsed certificates, with the qualifiers RFC 5937 derives from them."""

    def __init__(self, anchors: list[Cert]) -> None:
        self.anchors = anchors
        self._quals: dict[str, Any] = {}

    def qualifiers(self, anchor: Cert) -> Any:
        from pyhanko_certvalidator.authority import TrustQualifiers
        from pyhanko_certvalidator.name_trees import process_general_subtrees
        from pyhanko_certvalidator.policy_decl import PKIXValidationParams

        hit = self._quals.get(anchor.sha256)
        if hit is not None:
            return hit
        params = None
        nc = anchor.asn1.name_constraints_value
        if nc is not None:
            permitted, excluded = nc["permitted_subtrees"], nc["excluded_subtrees"]
            params = PKIXValidationParams(
                initial_permitted_subtrees=process_general_subtrees(permitted) if permitted else None,
                initial_excluded_subtrees=process_general_subtrees(excluded) if excluded else None,
            )
        quals = TrustQualifiers(
            standard_parameters=params,
            max_path_length=anchor.asn1.max_path_length,
            # pyhanko-certvalidator takes the AA path length from here whenever max_path_length is
            # set, and a None there breaks every path through a root with a pathLenConstraint
            max_aa_path_length=anchor.asn1.max_path_length,
            valid_from=anchor.not_before,
            valid_until=anchor.not_after,
        )
        self._quals[anchor.sha256] = quals
        return quals

    def trust_anchor(self, anchor: Cert) -> Any:
        from pyhanko_certvalidator.authority import CertTrustAnchor

        return CertTrustAnchor(anchor.asn1, quals=self.qualifiers(anchor))


def anchor_problem(anchor: Cert) -> str | None:
    """What RFC 5937 / RFC 5280 forbid in a trust anchor that certvalidator does not check."""
    unknown = unknown_critical_extensions(anchor)
    if unknown:
        names = ", ".join(sorted(unknown))
        return f"the trust anchor {anchor.label!r} has unknown critical extensions ({names})"
    ku = anchor.asn1.key_usage_value
    if ku is not None and "key_cert_sign" not in ku.native:
        return f"the trust anchor {anchor.label!r} may not sign certificates (key usage)"
    bc = anchor.asn1.basic_constraints_value
    if bc is not None and not bc["ca"].native:
        return f"the trust anchor {anchor.label!r} is not a CA certificate"
    return None


def _own_checks(path: BuiltPath) -> str | None:
    # (critical extensions of the other certificates: certvalidator's step 6.1.4 (o) names them)
    return anchor_problem(path.anchor)


def validation_path(path: BuiltPath, anchors: AnchorSet) -> Any:
    """pyhanko-certvalidator's ``ValidationPath`` for a built path."""
    from pyhanko_certvalidator.path import ValidationPath

    leaf = path.leaf.asn1
    if path.leaf == path.anchor:
        return ValidationPath(anchors.trust_anchor(path.anchor), [], None)
    return ValidationPath(anchors.trust_anchor(path.anchor), [c.asn1 for c in path.intermediates], leaf)


def plain_context(moment: datetime, algorithm_policy: Any = None) -> Any:
    """A certvalidator context for RFC 5280 checks only: the moment, no tolerance, no revocation."""
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.policy_decl import (
        CertRevTrustPolicy,
        RevocationCheckingPolicy,
        RevocationCheckingRule,
    )

    no_check = RevocationCheckingPolicy(RevocationCheckingRule.NO_CHECK, RevocationCheckingRule.NO_CHECK)
    kwargs: dict[str, Any] = {}
    if algorithm_policy is not None:
        kwargs["algorithm_usage_policy"] = algorithm_policy
    return ValidationContext(
        trust_roots=[],
        moment=moment,
        allow_fetching=False,
        revinfo_policy=CertRevTrustPolicy(no_check),
        time_tolerance=timedelta(0),
        **kwargs,
    )


class ChainValidator:
    """Builds and validates paths to one set of anchors (shared signature cache, reusable)."""

    def __init__(self, anchors: list[Cert], *, signatures: SignatureCache | None = None) -> None:
        self.anchors = AnchorSet(anchors)
        self.builder = PathBuilder(anchors, signatures)

    async def validate(
        self,
        leaf: Cert,
        pool: CertPool,
        moment: datetime,
        *,
        context: Any = None,
        parameters: Any = None,
        paths: list[BuiltPath] | None = None,
    ) -> ChainResult:
        """Validate ``leaf`` at ``moment`` with the certificates of ``pool``.

        ``context`` is a certvalidator ``ValidationContext`` (default: :func:`plain_context`,
        no revocation checks); ``paths`` pins the candidate paths instead of building them.
        Never raises for bad certificates: the result says what failed.
        """
        vc = context if context is not None else plain_context(moment)
        budget = Budget()
        first_failure: ChainResult | None = None
        tried = 0
        candidates = (
            iter(paths) if paths is not None else self.builder.build(leaf, pool, moment, budget=budget)
        )
        for path in candidates:
            tried += 1
            result = await self._validate_path(path, vc, parameters)
            if result.ok:
                return result
            if first_failure is None:
                first_failure = result
        if first_failure is None and paths is None and not budget.exhausted:
            # no path with verified links: build by names only, so the defect is named
            lenient = Budget(signature_checks=0, candidates=MAX_LENIENT_CANDIDATES, paths=4)
            for path in self.builder.build(leaf, pool, moment, verify_links=False, budget=lenient):
                tried += 1
                result = await self._validate_path(path, vc, parameters)
                if result.ok:  # pragma: no cover - a path that validates has verified links
                    return result
                if first_failure is None:
                    first_failure = result
        if first_failure is not None:
            return dataclasses.replace(first_failure, exhausted=budget.exhausted)
        why = "no chain of certificates leads from it to a trusted root"
        if budget.exhausted:
            why += " (the search gave up after too many candidate certificates)"
        return ChainResult(
            False, None, NO_PATH, why, "PathBuildingError", ("PathBuildingError",), exhausted=budget.exhausted
        )

    async def _validate_path(self, path: BuiltPath, vc: Any, parameters: Any) -> ChainResult:
        from pyhanko_certvalidator.errors import (
            DisallowedAlgorithmError,
            ExpiredError,
            InsufficientRevinfoError,
            NotYetValidError,
            RevokedError,
            ValidationError,
        )
        from pyhanko_certvalidator.validate import async_validate_path

        problem = _own_checks(path)
        if problem:
            return ChainResult(False, path, INVALID, problem, "PathValidationError", _KINDS_PVE)
        try:
            await async_validate_path(vc, validation_path(path, self.anchors), parameters=parameters)
        except ExpiredError as exc:
            return self._failure(path, EXPIRED, exc, bound=exc.expired_dt)
        except NotYetValidError as exc:
            return self._failure(path, NOT_YET_VALID, exc, bound=exc.valid_from)
        except RevokedError as exc:
            return dataclasses.replace(self._failure(path, REVOKED, exc), revoked_at=exc.revocation_dt)
        except InsufficientRevinfoError as exc:
            return self._failure(path, REVINFO, exc)
        except DisallowedAlgorithmError as exc:
            return self._failure(path, ALGORITHM, exc)
        except ValidationError as exc:
            return self._failure(path, INVALID, exc)
        except (ValueError, TypeError, KeyError, AttributeError, NotImplementedError, RecursionError) as exc:
            text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            return ChainResult(
                False,
                path,
                MALFORMED,
                f"a certificate of the path is malformed: {text}",
                "FormatError",
                ("FormatError",),
            )
        return ChainResult(True, path)

    def _failure(
        self, path: BuiltPath, kind: str, exc: Exception, bound: datetime | None = None
    ) -> ChainResult:
        from pyhanko_certvalidator.errors import ValidationError

        kinds = tuple(k.__name__ for k in type(exc).__mro__ if issubclass(k, ValidationError))
        oob = None
        if bound is not None:
            oob = (_which_cert(path, exc, kind, bound), bound)
        message = getattr(exc, "failure_msg", None) or str(exc)
        return ChainResult(
            False, path, kind, message, type(exc).__name__, kinds, out_of_bounds=oob, error=exc
        )


#: name-only candidates looked at before giving up on naming a defect
MAX_LENIENT_CANDIDATES = 400
_KINDS_PVE = ("PathValidationError", "ValidationError")


def _which_cert(path: BuiltPath, exc: Exception, kind: str, bound: datetime) -> Cert:
    """The certificate whose validity bound ``bound`` is (leaf first, then up the path)."""
    for cert in path.certs:
        if (kind == EXPIRED and cert.not_after == bound) or (
            kind == NOT_YET_VALID and cert.not_before == bound
        ):
            return cert
    return path.leaf
