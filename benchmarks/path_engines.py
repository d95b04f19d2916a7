"""Which path-validation engine? The candidates side by side on NIST PKITS and adversarial chains.

    python benchmarks/path_engines.py [--candidates 100] [--slow-limit 30]

Engines (the same inputs, the same run):

- ``certvalidator``: pyhanko-certvalidator as thaisign used it before (defaults: exhaustive path
  building, 1 s validity tolerance, trust anchors as bare names and keys);
- ``certvalidator+``: the same, configured as well as it can be (no tolerance, anchors'
  qualifiers derived from their certificates);
- ``cryptography``: pyca/cryptography's ``x509.verification`` (Rust; web-PKI CA profile, any
  end-entity profile) — it has no revocation and no certificate-policy processing;
- ``thaisign``: :func:`thaisign.verify.paths.validate_certificate` (bounded building with
  verified links + certvalidator's RFC 5280 checks + anchor checks of its own).

PKITS cases count as agreeing when valid/invalid matches NIST's verdict; adversarial cases when
the outcome matches RFC 5280 / RFC 5937 (tests/support/adversarial.py). Cases that build
paths over many same-name candidates run in a child process with a time limit, so an
exponential engine cannot stall the comparison. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)

CORPUS = Path(os.environ.get("THAISIGN_CORPUS", ROOT.parent / "shared" / "corpus"))
PKITS = CORPUS / "x509" / "nist_pkits"
PKITS_TIME = dt.datetime(2022, 5, 1, tzinfo=dt.UTC)

Case = dict  # leaf, intermediates, anchors, crls, at, valid, revocation, params, pinned


def pkits_cases() -> list[Case]:
    if not (PKITS / "pkits.json").exists():
        return []
    out = []
    for c in json.loads((PKITS / "pkits.json").read_text()):
        params = c.get("params", {})
        out.append(
            {
                "name": f"pkits-{c['id']}-{c['name']}",
                "leaf": (PKITS / "certs" / c["cert"]).read_bytes(),
                "intermediates": [(PKITS / "certs" / n).read_bytes() for n in c.get("other_certs", [])],
                "pinned": [(PKITS / "certs" / n).read_bytes() for n in c["path_intermediates"]]
                if "path_intermediates" in c
                else None,
                "anchors": [(PKITS / "certs" / "TrustAnchorRootCertificate.crt").read_bytes()],
                "crls": [
                    (PKITS / "crls" / n).read_bytes() for n in ["TrustAnchorRootCRL.crl", *c.get("crls", [])]
                ],
                "at": PKITS_TIME,
                "valid": c.get("error") is None,
                "revocation": "require" if c.get("revocation", True) else "hard-fail",
                "policies": params.get("user_initial_policy_set"),
                "explicit": bool(params.get("initial_explicit_policy", False)),
                "inhibit_mapping": bool(params.get("initial_policy_mapping_inhibit", False)),
                "inhibit_any": bool(params.get("initial_any_policy_inhibit", False)),
                "slow": False,
            }
        )
    return out


def adversarial_cases(candidates: int) -> list[Case]:
    from support.adversarial import all_cases

    return [
        {
            "name": c.name,
            "leaf": c.leaf,
            "intermediates": list(c.intermediates),
            "pinned": None,
            "anchors": list(c.anchors),
            "crls": [],
            "at": c.at,
            "valid": c.valid,
            "revocation": "soft-fail",
            "policies": None,
            "explicit": False,
            "inhibit_mapping": False,
            "inhibit_any": False,
            "slow": "fan" in c.tags,
        }
        for c in all_cases(candidates)
    ]


# --- engines ----------------------------------------------------------------------------------


def _certvalidator(case: Case, configured: bool) -> bool:
    from asn1crypto import crl as asn1_crl
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.authority import CertTrustAnchor
    from pyhanko_certvalidator.path import ValidationPath
    from pyhanko_certvalidator.policy_decl import DisallowWeakAlgorithmsPolicy, PKIXValidationParams
    from pyhanko_certvalidator.registry import SimpleTrustManager
    from pyhanko_certvalidator.validate import async_validate_path

    anchors = [asn1_x509.Certificate.load(a) for a in case["anchors"]]
    kwargs: dict = {}
    if configured:
        kwargs["trust_manager"] = SimpleTrustManager.build(
            extra_trust_roots=[CertTrustAnchor(a, derive_default_quals_from_cert=True) for a in anchors]
        )
        kwargs["time_tolerance"] = dt.timedelta(0)
    else:
        kwargs["trust_roots"] = anchors
    vc = ValidationContext(
        other_certs=[asn1_x509.Certificate.load(c) for c in case["intermediates"]],
        crls=[asn1_crl.CertificateList.load(c) for c in case["crls"]],
        moment=case["at"],
        revocation_mode=case["revocation"],
        # the algorithm policy thaisign's validate_certificate uses (DSA-1024 allowed: PKITS)
        algorithm_usage_policy=DisallowWeakAlgorithmsPolicy(
            weak_hash_algos={"md2", "md5"}, dsa_key_size_threshold=1024
        ),
        **kwargs,
    )
    params = PKIXValidationParams(
        user_initial_policy_set=frozenset(case["policies"] or ["any_policy"]),
        initial_explicit_policy=case["explicit"],
        initial_policy_mapping_inhibit=case["inhibit_mapping"],
        initial_any_policy_inhibit=case["inhibit_any"],
    )
    leaf = asn1_x509.Certificate.load(case["leaf"])

    async def run() -> bool:
        if case["pinned"] is not None:
            anchor = CertTrustAnchor(anchors[0], derive_default_quals_from_cert=configured)
            paths = [ValidationPath(anchor, [asn1_x509.Certificate.load(c) for c in case["pinned"]], leaf)]
        else:
            paths = await vc.path_builder.async_build_paths(leaf)
        for path in paths:
            try:
                await async_validate_path(vc, path, parameters=params)
                return True
            except Exception:
                continue
        return False

    return asyncio.run(run())


def engine_certvalidator(case: Case) -> bool:
    return _certvalidator(case, configured=False)


def engine_certvalidator_configured(case: Case) -> bool:
    return _certvalidator(case, configured=True)


def engine_cryptography(case: Case) -> bool:
    from cryptography import x509
    from cryptography.x509 import verification as v

    anchors = [x509.load_der_x509_certificate(a) for a in case["anchors"]]
    builder = (
        v.PolicyBuilder()
        .store(v.Store(anchors))
        .time(case["at"])
        .extension_policies(
            ca_policy=v.ExtensionPolicy.webpki_defaults_ca(), ee_policy=v.ExtensionPolicy.permit_all()
        )
    )
    leaf = x509.load_der_x509_certificate(case["leaf"])
    others = [x509.load_der_x509_certificate(c) for c in (case["pinned"] or case["intermediates"])]
    try:
        builder.build_client_verifier().verify(leaf, others)
    except v.VerificationError:
        return False
    return True


def engine_thaisign(case: Case) -> bool:
    from thaisign.verify.paths import validate_certificate
    from thaisign.verify.trust import TrustStore

    result = validate_certificate(
        case["leaf"],
        TrustStore.from_certificates(case["anchors"]),
        at=case["at"],
        other_certs=case["intermediates"],
        crls=case["crls"],
        revocation_mode=case["revocation"],
        policies=case["policies"],
        explicit_policy=case["explicit"],
        inhibit_policy_mapping=case["inhibit_mapping"],
        inhibit_any_policy=case["inhibit_any"],
        intermediates=case["pinned"],
    )
    return result.valid


ENGINES: dict[str, Callable[[Case], bool]] = {
    "certvalidator": engine_certvalidator,
    "certvalidator+": engine_certvalidator_configured,
    "cryptography": engine_cryptography,
    "thaisign": engine_thaisign,
}


def _run(engine: str, case: Case) -> tuple[str, float]:
    """'valid', 'invalid' or 'error:<type>', and the seconds it took."""
    started = time.perf_counter()
    try:
        outcome = "valid" if ENGINES[engine](case) else "invalid"
    except Exception as exc:  # an engine that raises has refused, loudly
        outcome = f"error:{type(exc).__name__}"
    return outcome, time.perf_counter() - started


def _child(engine: str, case: Case, conn: object) -> None:
    conn.send(_run(engine, case))  # type: ignore[attr-defined]


def run_limited(engine: str, case: Case, limit: float) -> tuple[str, float]:
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(engine, case, child))
    started = time.perf_counter()
    proc.start()
    if parent.poll(limit):
        result = parent.recv()
        proc.join()
        return result
    proc.kill()
    proc.join()
    return "timeout", time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=100, help="same-name candidates in the fan cases")
    ap.add_argument("--slow-limit", type=float, default=30.0, help="seconds allowed per fan case")
    ap.add_argument("--json", type=Path, help="also write the per-case outcomes here")
    args = ap.parse_args()

    groups = {"pkits": pkits_cases(), "adversarial": adversarial_cases(args.candidates)}
    table: dict[str, dict[str, list]] = {}
    details: dict[str, dict[str, tuple[str, float]]] = {}
    for engine in ENGINES:
        for group, cases in groups.items():
            agree = errors = timeouts = 0
            worst = 0.0
            total = 0.0
            misses: list[str] = []
            for case in cases:
                if case["slow"]:
                    outcome, seconds = run_limited(engine, case, args.slow_limit)
                else:
                    outcome, seconds = _run(engine, case)
                details.setdefault(engine, {})[case["name"]] = (outcome, round(seconds, 4))
                total += seconds
                worst = max(worst, seconds)
                ok = (outcome == "valid") is case["valid"] and outcome != "timeout"
                agree += ok
                errors += outcome.startswith("error:")
                timeouts += outcome == "timeout"
                if not ok:
                    misses.append(case["name"])
            table.setdefault(engine, {})[group] = [agree, len(cases), errors, timeouts, total, worst, misses]
    print(
        f"\n{'engine':16} {'group':12} {'agree':>9} {'raised':>6} {'timeout':>7} "
        f"{'total s':>8} {'worst s':>8}"
    )
    for engine, groups_ in table.items():
        for group, (agree, n, errors, timeouts, total, worst, _misses) in groups_.items():
            print(
                f"{engine:16} {group:12} {agree:4}/{n:<4} {errors:6} {timeouts:7} {total:8.2f} {worst:8.2f}"
            )
    print("\nadversarial cases each engine gets wrong:")
    for engine, groups_ in table.items():
        misses = groups_["adversarial"][6]
        print(f"  {engine:16} {', '.join(misses) or '-'}")
    print("\nPKITS cases each engine gets wrong (count, first few):")
    for engine, groups_ in table.items():
        misses = groups_["pkits"][6]
        print(f"  {engine:16} {len(misses)}: {', '.join(m.split('-', 2)[2] for m in misses[:6])}")
    if args.json:
        args.json.write_text(json.dumps(details, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
