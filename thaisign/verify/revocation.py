"""Revocation: embedded data (/DSS, adbe-revocationInfoArchival), fetching policy, and the answer.

pyHanko is run with a tolerant policy so that a missing answer never turns into "invalid";
afterwards :func:`signer_revocation` asks pyhanko-certvalidator again with the signer's
certificate *requiring* an OCSP or CRL answer (sharing the data already fetched), which tells
"good" from "could not be checked" and where the answer came from.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import (
    InsufficientRevinfoError,
    PathValidationError,
    RevokedError,
    StaleRevinfoError,
    ValidationError,
)
from pyhanko_certvalidator.fetchers.api import Fetchers
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

from thaisign.verify.report import RevocationFacts

RevocationMode = Literal["online", "offline", "off"]
MODES: tuple[str, ...] = ("online", "offline", "off")

logger = logging.getLogger(__name__)


@dataclass
class EmbeddedRevinfo:
    """Certificates, OCSP responses and CRLs carried inside a PDF."""

    certs: list[asn1_x509.Certificate] = field(default_factory=list)
    ocsps: list[asn1_ocsp.OCSPResponse] = field(default_factory=list)
    crls: list[asn1_crl.CertificateList] = field(default_factory=list)

    def add_archival(self, signer_info: cms.SignerInfo) -> None:
        """Add the ``adbe-revocationInfoArchival`` signed attribute of one signature."""
        attrs = signer_info["signed_attrs"]
        if not attrs:
            return
        for attr in attrs:
            if attr["type"].native != "adobe_revocation_info_archival":
                continue
            for value in attr["values"]:
                for c in value["crl"] or ():
                    self.crls.append(c)
                for o in value["ocsp"] or ():
                    self.ocsps.append(o)

    @property
    def has_revinfo(self) -> bool:
        return bool(self.ocsps or self.crls)


def tolerant_policy(mode: str) -> CertRevTrustPolicy:
    """The policy for the main validation: check what can be checked, never fail for lack of it."""
    rule = RevocationCheckingRule.NO_CHECK if mode == "off" else RevocationCheckingRule.CHECK_IF_DECLARED_SOFT
    return CertRevTrustPolicy(RevocationCheckingPolicy(rule, rule))


def _strict_policy() -> CertRevTrustPolicy:
    return CertRevTrustPolicy(
        RevocationCheckingPolicy(
            ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
            intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED_SOFT,
        )
    )


def _ocsp_serials(responses: Iterable[asn1_ocsp.OCSPResponse]) -> set[int]:
    serials: set[int] = set()
    for resp in responses:
        try:
            basic = resp["response_bytes"]["response"].parsed
            for single in basic["tbs_response_data"]["responses"]:
                serials.add(int(single["cert_id"]["serial_number"].native))
        except (KeyError, ValueError, TypeError, AttributeError):
            continue
    return serials


def _crl_issuers(crls: Iterable[asn1_crl.CertificateList]) -> set[bytes]:
    out: set[bytes] = set()
    for c in crls:
        try:
            out.add(c.issuer.dump())
        except (ValueError, TypeError):
            continue
    return out


def _answer_source(cert: asn1_x509.Certificate, embedded: EmbeddedRevinfo, fetchers: Fetchers | None) -> str:
    if cert.serial_number in _ocsp_serials(embedded.ocsps) or cert.issuer.dump() in _crl_issuers(
        embedded.crls
    ):
        return "embedded"
    if fetchers is not None:
        try:
            if list(fetchers.ocsp_fetcher.fetched_responses_for_cert(cert)):
                return "ocsp"
        except KeyError:
            pass
        try:
            if list(fetchers.crl_fetcher.fetched_crls_for_cert(cert)):
                return "crl"
        except KeyError:
            pass
    return "none"


@dataclass(frozen=True)
class RevocationAnswer:
    facts: RevocationFacts
    stale: bool = False


async def signer_revocation(
    vc: ValidationContext,
    path: ValidationPath,
    *,
    mode: str,
    embedded: EmbeddedRevinfo,
    fetchers: Fetchers | None,
) -> RevocationAnswer:
    """Whether the signer certificate at the end of ``path`` is known not to be revoked, and how."""
    from pyhanko_certvalidator.validate import async_validate_path

    if mode == "off":
        return RevocationAnswer(RevocationFacts("not-checked", "none"))
    leaf = path.leaf
    if not isinstance(leaf, asn1_x509.Certificate):
        return RevocationAnswer(RevocationFacts("unknown", "none"))
    strict = ValidationContext(
        trust_manager=vc.path_builder.trust_manager,
        certificate_registry=vc.certificate_registry,
        revinfo_manager=vc.revinfo_manager,
        revinfo_policy=_strict_policy(),
        moment=vc.moment,
        best_signature_time=vc.best_signature_time,
        algorithm_usage_policy=vc.algorithm_policy,
    )
    try:
        await async_validate_path(strict, path)
    except RevokedError as exc:
        source = _answer_source(leaf, embedded, fetchers)
        return RevocationAnswer(RevocationFacts("revoked", source, exc.revocation_dt))
    except StaleRevinfoError:
        return RevocationAnswer(RevocationFacts("unknown", _answer_source(leaf, embedded, fetchers)), True)
    except InsufficientRevinfoError:
        return RevocationAnswer(RevocationFacts("unknown", "none"))
    except (PathValidationError, ValidationError) as exc:
        logger.debug("strict revocation re-check failed: %s", exc)
        return RevocationAnswer(RevocationFacts("unknown", "none"))
    return RevocationAnswer(RevocationFacts("good", _answer_source(leaf, embedded, fetchers)))


def revoked_facts(
    leaf: asn1_x509.Certificate, when: datetime | None, embedded: EmbeddedRevinfo, fetchers: Fetchers | None
) -> RevocationFacts:
    """Facts for a signer that pyHanko already found revoked."""
    return RevocationFacts("revoked", _answer_source(leaf, embedded, fetchers), when)
