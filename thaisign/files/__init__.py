"""Signing and reading any file: detached or enveloping CAdES (``.p7s`` / ``.p7m``) and ASiC
containers (``.asice`` / ``.asics``).

>>> from thaisign import Signer
>>> from thaisign.files import sign_file, sign_asic
>>> signer = Signer.from_pkcs12("somchai.p12", passphrase)
>>> sign_file("evidence.mp4", "evidence.mp4.p7s", signer, level="B-T", tsa=tsa_url)
>>> sign_asic(["order.pdf", "photo.jpg"], "case-123.asice", signer, level="B-LT", tsa=tsa_url)

Verification is :func:`thaisign.verify.verify_file` and :func:`~thaisign.verify.verify_bundle`,
with the same verdicts as for PDF letters.
"""

from __future__ import annotations

from thaisign.files.asic import sign_asic
from thaisign.files.cades import FileSigningOptions, FileSignResult, sign_file

__all__ = ["FileSignResult", "FileSigningOptions", "sign_asic", "sign_file"]
