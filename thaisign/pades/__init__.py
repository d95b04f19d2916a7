"""Signing PDF letters: PAdES B-B to B-LTA with a Thai visible signature.

>>> from thaisign import Signer
>>> from thaisign.pades import sign_pdf, SignatureAppearance
>>> signer = Signer.from_pkcs12("somchai.p12", passphrase)
>>> sign_pdf("letter.pdf", "signed.pdf", signer, rect=(330, 120, 530, 190))

Names are imported lazily so that importing :mod:`thaisign.pades` stays cheap.
"""

from __future__ import annotations

from thaisign._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "sign_pdf": "thaisign.pades.signer",
    "sign_pdf_bytes": "thaisign.pades.signer",
    "SigningOptions": "thaisign.pades.signer",
    "SignResult": "thaisign.pades.signer",
    "check_certificate": "thaisign.pades.signer",
    "SignatureAppearance": "thaisign.pades.appearance",
    "sign_many": "thaisign.pades.batch",
    "KeySource": "thaisign.pades.batch",
    "BatchItem": "thaisign.pades.batch",
    "add_signature_field": "thaisign.pades.fields",
    "list_signature_fields": "thaisign.pades.fields",
    "FieldInfo": "thaisign.pades.fields",
    "extend_ltv": "thaisign.pades.ltv",
    "make_letter": "thaisign.pades.letter",
    "format_thai_date": "thaisign.thai_date",
    "format_thai_datetime": "thaisign.thai_date",
}

__all__ = list(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
