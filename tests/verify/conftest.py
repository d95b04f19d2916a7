"""Fixtures for the verification tests: a PDF factory, the test trust store, a signed letter."""

from __future__ import annotations

import pytest
from support.pdfs import minimal_pdf
from support.pki import TestPKI
from verify_pdfs import PdfFactory

from thaisign.verify import TrustStore


@pytest.fixture(scope="session")
def pdfs(pki: TestPKI) -> PdfFactory:
    return PdfFactory(pki)


@pytest.fixture(scope="session")
def trust(pki: TestPKI) -> TrustStore:
    """The test root only (plus the bundled NRCA, as in production)."""
    return TrustStore.from_paths([pki.root_pem])


@pytest.fixture(scope="session")
def signed_ec(pdfs: PdfFactory) -> bytes:
    return pdfs.sign(minimal_pdf())
