"""What a file is — a PDF, a CAdES signature, an ASiC container, a ZIP bundle — from its name
and first bytes. Kept apart from :mod:`thaisign.verify.bundle` so that ``thaisign verify
letter.pdf`` can sort its inputs without importing the bundle, CAdES and ASiC verifiers."""

from __future__ import annotations

PDF, CADES, ASIC, ZIP, OTHER = "pdf", "cades", "asic", "zip", "other"
CADES_SUFFIXES = (".p7s", ".p7m", ".pkcs7", ".p7", ".cms", ".cades")
ASIC_SUFFIXES = (".asice", ".asics", ".sce", ".scs")


def kind_of(name: str, head: bytes = b"") -> str:
    """What a file is, from its name and first bytes: pdf, cades, asic, zip or other."""
    lower = name.lower()
    if lower.endswith(ASIC_SUFFIXES):
        return ASIC
    if lower.endswith(CADES_SUFFIXES) or (lower.endswith(".sig") and not head.startswith(b"%PDF")):
        return CADES
    if lower.endswith(".pdf") or b"%PDF-" in head[:1024]:
        return PDF
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        if b"mimetypeapplication/vnd.etsi.asic-" in head[:200]:
            return ASIC
        return ZIP
    return OTHER
