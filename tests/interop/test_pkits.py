"""NIST PKITS path-validation vectors through thaisign.verify.validate_certificate.

Each case's outcome (valid, or the error class pyhanko-certvalidator's own suite asserts, with
its message) must match. Reads ``$THAISIGN_CORPUS/x509/nist_pkits`` and skips, saying so, when
the corpus is absent.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from functools import cache
from pathlib import Path

import pytest

from thaisign.verify.paths import validate_certificate
from thaisign.verify.trust import TrustStore

pytestmark = pytest.mark.interop

CORPUS = Path(os.environ.get("THAISIGN_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "corpus"))
PKITS = CORPUS / "x509" / "nist_pkits"
#: the time pyhanko-certvalidator's own PKITS run is frozen at
MOMENT = dt.datetime(2022, 5, 1, tzinfo=dt.UTC)


def _cases() -> list[dict]:
    if not (PKITS / "pkits.json").exists():
        return []
    return json.loads((PKITS / "pkits.json").read_text())


@cache
def _cert(name: str) -> bytes:
    return (PKITS / "certs" / name).read_bytes()


@cache
def _crl(name: str) -> bytes:
    return (PKITS / "crls" / name).read_bytes()


@cache
def _trust() -> TrustStore:
    return TrustStore.from_certificates([_cert("TrustAnchorRootCertificate.crt")])


CASES = _cases()


@pytest.mark.skipif(not CASES, reason=f"PKITS vectors not found under {PKITS} (set THAISIGN_CORPUS)")
@pytest.mark.parametrize("case", CASES, ids=[f"{c['id']}-{c['name']}" for c in CASES] or None)
def test_pkits_case(case: dict) -> None:
    params = case.get("params", {})
    result = validate_certificate(
        _cert(case["cert"]),
        _trust(),
        at=MOMENT,
        other_certs=[_cert(c) for c in case.get("other_certs", [])],
        crls=[_crl("TrustAnchorRootCRL.crl"), *(_crl(c) for c in case.get("crls", []))],
        revocation_mode="require" if case.get("revocation", True) else "hard-fail",
        policies=params.get("user_initial_policy_set"),
        explicit_policy=bool(params.get("initial_explicit_policy", False)),
        inhibit_policy_mapping=bool(params.get("initial_policy_mapping_inhibit", False)),
        inhibit_any_policy=bool(params.get("initial_any_policy_inhibit", False)),
        intermediates=[_cert(c) for c in case["path_intermediates"]]
        if "path_intermediates" in case
        else None,
    )
    expected = case.get("error")
    if expected is None:
        assert result.valid, f"expected a valid path, got {result.error}: {result.message}"
        assert result.path_length == case["path_len"]
    else:
        assert not result.valid, "expected failure, got a valid path"
        assert result.failed_with(expected["class"]), f"{result.error}: {result.message}"
        assert re.search(expected["msg_regex"], result.message or ""), result.message
