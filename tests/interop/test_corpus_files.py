"""The verifier over EU DSS's CAdES signatures and ASiC containers in the shared corpus
(``cades/``, ``asic/``), compared with DSS's own assertions row by row — the same agreement rule
as the PDF corpus (tests/interop/test_corpus.py).

Hard failures: an exception or a hang; a signature reported TOTAL_PASSED although not intact;
any disagreement not listed, with a reason, in ``KNOWN_DIFFERENCES``; agreement under 95 %. DSS's
tests run without trust anchors, so "intact" is judged on the signatures' integrity, not their
chains. The agreement table per class is printed.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from thaisign.verify import TrustStore
from thaisign.verify.asic import verify_asic
from thaisign.verify.cades import verify_cades
from thaisign.verify.report import Indication, Verdict, VerificationReport

pytestmark = pytest.mark.interop

CORPUS = Path(os.environ.get("THAISIGN_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "corpus"))
MANIFEST = CORPUS / "manifest.tsv"
AT = dt.datetime(2026, 11, 21, 3, 42, tzinfo=dt.UTC)
PER_FILE_BUDGET = 60.0

#: files where thaisign's judgement differs from DSS's assertion, and why
KNOWN_DIFFERENCES: dict[str, str] = {
    "cades/CAdES-BpB-att-SHA256-SHA3_256withRSAandMGF1.p7m": "the message digest is SHA-256 but the "
    "RSASSA-PSS signature declares SHA3-256: thaisign refuses a signature whose declared hash differs "
    "from the SignerInfo's digest algorithm (SIG_CRYPTO_FAILURE), as DSS itself does for the same pair "
    "without PSS (CAdES-BpB-att-SHA256-SHA3_256withRSA.p7m); openssl cms -verify rejects it too",
    "asic/containerWithCounterSig.asics": "DSS asserts only the counter-signature "
    "(ASiCSWithCAdESCounterSignatureTest overrides checkBLevelValid), and thaisign finds it intact too; "
    "but the main signature's message digest matches no content of the container (the data file, its "
    "line-end variants, every prefix and suffix were tried), so thaisign reports it HASH_FAILURE",
}


def _rows() -> list[dict[str, str]]:
    if not MANIFEST.exists():
        return []
    with MANIFEST.open(newline="") as fh:
        return [r for r in csv.DictReader(fh, delimiter="\t") if r["category"].startswith(("cades", "asic"))]


ROWS = _rows()


def _data_for(row: dict[str, str]) -> Path | None:
    expected = row["expected"]
    if expected.startswith("data: "):
        return CORPUS / expected[len("data: ") :].split(";", 1)[0].strip()
    return None


def _verify(row: dict[str, str], trust: TrustStore) -> VerificationReport:
    path = CORPUS / row["local_path"]
    if row["category"].startswith("asic"):
        return verify_asic(path, trust, at=AT, revocation="offline", timeout=40)
    return verify_cades(path, trust, data=_data_for(row), at=AT, revocation="offline", timeout=40)


def _judge(cls: str, r: VerificationReport) -> bool | None:
    """True when thaisign agrees with DSS's assertion, None when DSS asserts nothing."""
    sigs = [s for s in r.signatures if s.kind == "signature"]
    if cls == "intact":
        return r.error is None and bool(sigs) and all(s.intact for s in sigs)
    if cls == "invalid-or-indeterminate":
        return r.error is None and r.verdict is not Verdict.TOTAL_PASSED
    if cls == "malformed":
        return r.verdict is not Verdict.TOTAL_PASSED
    return None


@pytest.mark.skipif(not ROWS, reason=f"corpus not found at {CORPUS} (set THAISIGN_CORPUS)")
def test_dss_cades_and_asic_agreement(capsys: pytest.CaptureFixture[str]) -> None:
    trust = TrustStore.bundled()
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # files, agree, known, n/a
    problems: list[str] = []
    for row in ROWS:
        path, cls = row["local_path"], row["class"]
        key = f"{row['category']} / {cls}"
        started = time.monotonic()
        try:
            report = _verify(row, trust)
        except Exception as exc:  # the verifier must never raise for a bad file
            problems.append(f"{path}: raised {type(exc).__name__}: {exc}")
            continue
        if time.monotonic() - started > PER_FILE_BUDGET:
            problems.append(f"{path}: took too long")
        for s in report.signatures:
            if s.indication is Indication.TOTAL_PASSED and not s.intact:
                problems.append(f"{path}: {s.field} passed although not intact")
        verdict = _judge(cls, report)
        counts = table[key]
        counts[0] += 1
        if verdict is None:
            counts[3] += 1
        elif verdict:
            counts[1] += 1
            if path in KNOWN_DIFFERENCES:
                problems.append(f"{path}: listed in KNOWN_DIFFERENCES but now agrees; remove it")
        elif path in KNOWN_DIFFERENCES:
            counts[2] += 1
        else:
            detail = report.error or "; ".join(
                f"{s.field}: {s.indication.value}/{s.sub_indication} intact={s.intact}"
                for s in report.signatures
            )
            problems.append(f"{path} [{cls}] disagrees with '{row['expected']}': {detail}")
    total = [sum(v[i] for v in table.values()) for i in range(4)]
    judged = total[0] - total[3]
    agreement = total[1] / judged if judged else 1.0
    with capsys.disabled():
        print("\n\nthaisign verify vs EU DSS assertions (CAdES and ASiC corpus)")
        print(f"{'category / class':44} {'files':>5} {'agree':>5} {'known':>5} {'n/a':>5}")
        for key, (n, agree, known, na) in sorted(table.items()):
            print(f"{key:44} {n:5} {agree:5} {known:5} {na:5}")
        print(f"{'total':44} {total[0]:5} {total[1]:5} {total[2]:5} {total[3]:5}")
        print(f"agreement where DSS asserts something: {total[1]}/{judged} = {agreement:.1%}")
    assert not problems, "\n".join(problems)
    assert agreement >= 0.95
    # the counter-signature DSS asserts is judged on its own, and holds
    counter = _verify(next(r for r in ROWS if r["local_path"] == "asic/containerWithCounterSig.asics"), trust)
    assert [s.intact for s in counter.signatures if "counter-signature" in s.field] == [True]


SIGNED_DATA = [r for r in ROWS if r["class"] in ("malformed", "invalid-or-indeterminate")]


@pytest.mark.skipif(not SIGNED_DATA, reason=f"corpus not found at {CORPUS} (set THAISIGN_CORPUS)")
def test_cli_on_malformed_and_invalid_dss_files_no_traceback() -> None:
    """The real command over DSS's malformed and invalid files: exit 1, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "thaisign", "verify", "--offline", "--json", "--at", AT.isoformat(),
         *(str(CORPUS / r["local_path"]) for r in SIGNED_DATA)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    import json

    files = json.loads(proc.stdout)["files"]
    assert len(files) == len(SIGNED_DATA) and all(f["verdict"] != "TOTAL_PASSED" for f in files)
