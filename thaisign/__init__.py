"""thaisign: digital signatures for Thailand's paperless government.

The public API is re-exported here lazily (importing ``thaisign`` stays cheap)::

    from thaisign import Authority, OfficerProfile, Signer, sign_pdf, verify_pdf, TrustStore
"""

from __future__ import annotations

import warnings

from thaisign._exports import lazy_exports

# RFC 5280's upper bounds (ub-common-name 64, ...) count characters; cryptography measures the
# encoded bytes, so every Thai name over 21 characters (3 bytes each in UTF-8) would warn.
warnings.filterwarnings("ignore", message="Attribute's length must be", category=UserWarning)

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "ThaisignError": "thaisign.errors",
    "Signer": "thaisign.keys",
    "SoftwareSigner": "thaisign.keys",
    "KeySpec": "thaisign.keys",
    "Authority": "thaisign.ca",
    "OfficerProfile": "thaisign.ca",
    "CaProfile": "thaisign.ca",
    "sign_pdf": "thaisign.pades",
    "sign_many": "thaisign.pades",
    "SignatureAppearance": "thaisign.pades",
    "verify_pdf": "thaisign.verify",
    "verify_many": "thaisign.verify",
    "TrustStore": "thaisign.verify",
    "VerificationReport": "thaisign.verify",
    "Pkcs11Signer": "thaisign.hsm",
}

__all__ = ["__version__", *_EXPORTS]

__getattr__ = lazy_exports(__name__, _EXPORTS)
