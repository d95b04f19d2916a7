"""Verifying incoming letters: a verdict clerks can trust and understand, in Thai and English.

>>> from thaisign.verify import TrustStore, verify_pdf
>>> report = verify_pdf("letter.pdf", TrustStore.from_paths(["agency-root.pem"]), revocation="offline")
>>> print(report.verdict, report.signatures[0].signer.name)

Names are imported lazily so that ``import thaisign.verify`` stays cheap.
"""

from __future__ import annotations

from thaisign._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "verify_pdf": "thaisign.verify.pdf",
    "verify_many": "thaisign.verify.batch",
    "iter_pdfs": "thaisign.verify.batch",
    "verify_file": "thaisign.verify.bundle",
    "verify_bundle": "thaisign.verify.bundle",
    "verify_cades": "thaisign.verify.cades",
    "verify_asic": "thaisign.verify.asic",
    "BatchCache": "thaisign.verify.cache",
    "TrustStore": "thaisign.verify.trust",
    "TrustAnchor": "thaisign.verify.trust",
    "VerificationReport": "thaisign.verify.report",
    "SignatureReport": "thaisign.verify.report",
    "Indication": "thaisign.verify.report",
    "SubIndication": "thaisign.verify.report",
    "Verdict": "thaisign.verify.report",
    "Coverage": "thaisign.verify.report",
    "Modifications": "thaisign.verify.report",
    "validate_certificate": "thaisign.verify.paths",
    "PathResult": "thaisign.verify.paths",
    "ValidationPolicy": "thaisign.verify.policy",
    "NetworkPolicy": "thaisign.verify.policy",
}

__all__ = list(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
