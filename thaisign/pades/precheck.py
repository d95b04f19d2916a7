"""Before signing: is the signer's certificate revoked, or does it chain to no trusted root?

A letter signed with a revoked certificate, or one whose root the recipients do not trust, is a
letter the clerk at the other end must reject; the officer should hear it before sending it. At
every level (B-B included) :func:`check_signer` validates the certificate's path to the trust
anchors (``trust_roots``, else thaisign's default trust store) and asks its OCSP responder or CRL
(a few seconds at most). The answer is cached per certificate for a few minutes, so a batch
asks once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from thaisign._text import visible
from thaisign.keys import Signer

__all__ = ["SignerCheck", "check_signer"]

Status = Literal["good", "revoked", "untrusted", "unknown"]

#: how long an answer is reused for the same certificate
CACHE_SECONDS = 300
_cache: dict[tuple[str, str, int], SignerCheck] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class SignerCheck:
    """``good`` (chain trusted, not revoked), ``revoked``, ``untrusted`` or ``unknown`` (revocation
    could not be checked: no responder reachable), with one line saying so (None when good)."""

    status: Status
    message: str | None = None

    @property
    def warning(self) -> str | None:
        """The line to show the officer, when there is something to say."""
        return self.message if self.status in ("revoked", "untrusted") else None


def _sha(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _roots(trust_roots: Sequence[x509.Certificate]) -> list[object]:
    from asn1crypto import x509 as asn1_x509

    if trust_roots:
        return [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in trust_roots]
    from thaisign.verify import TrustStore

    return list(TrustStore.default().certificates)


def check_signer(
    signer: Signer,
    at: dt.datetime,
    trust_roots: Sequence[x509.Certificate] = (),
    *,
    timeout: float = 5.0,
) -> SignerCheck:
    """Whether ``signer``'s certificate is trusted and not revoked at ``at`` (see the module doc)."""
    cert = signer.certificate
    if cert is None:
        return SignerCheck("unknown", "the key has no certificate")
    key = (_sha(cert), ",".join(sorted(_sha(c) for c in trust_roots)), int(at.timestamp()) // CACHE_SECONDS)
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    result = _check(signer, cert, at, trust_roots, timeout)
    with _lock:
        _cache[key] = result
    return result


def _check(
    signer: Signer,
    cert: x509.Certificate,
    at: dt.datetime,
    trust_roots: Sequence[x509.Certificate],
    timeout: float,
) -> SignerCheck:
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import (
        InsufficientRevinfoError,
        PathBuildingError,
        PathValidationError,
        RevokedError,
    )
    from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

    subject = visible(cert.subject.rfc4514_string(), 120)
    roots = _roots(trust_roots)
    chain = [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in signer.chain]
    context = ValidationContext(
        trust_roots=roots,
        other_certs=chain,
        allow_fetching=True,
        revocation_mode="hard-fail",
        moment=at,
        fetcher_backend=RequestsFetcherBackend(per_request_timeout=timeout),
    )
    validator = CertificateValidator(
        asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER)),
        intermediate_certs=chain,
        validation_context=context,
    )
    try:
        asyncio.run(validator.async_validate_usage(set()))
    except RevokedError as exc:
        return SignerCheck(
            "revoked", f"the signer's certificate ({subject}) is revoked: {visible(str(exc), 200)}"
        )
    except PathBuildingError:
        where = "the --trust roots" if trust_roots else "the trust store (Thai national roots and your own)"
        return SignerCheck(
            "untrusted",
            f"the signer's certificate ({subject}) does not chain to a root in {where}: recipients "
            "will see the signature as untrusted (give --trust ROOT.pem if you trust its root)",
        )
    except InsufficientRevinfoError as exc:
        return SignerCheck(
            "unknown", f"could not check whether the certificate is revoked: {visible(str(exc), 200)}"
        )
    except PathValidationError as exc:
        return SignerCheck(
            "untrusted", f"the signer's certificate ({subject}) does not validate: {visible(str(exc), 200)}"
        )
    except Exception as exc:  # a network library's failure: nothing known, nothing to warn about
        return SignerCheck("unknown", f"could not check the certificate: {type(exc).__name__}")
    return SignerCheck("good")
