"""The verifier over the shared corpus of real signed PDFs (EU DSS, pyHanko, iText, OpenPDF,
endesive, RUB pdf-attacker shadow attacks), compared with each file's upstream-asserted outcome.

Hard failures: an ``attack`` file reported TOTAL_PASSED with no modifications; any exception or
hang; any disagreement on intact / coverage / modifications that is not listed, with a reason,
in ``KNOWN_DIFFERENCES``. The agreement table per class is printed.

Reads ``THAISIGN_CORPUS`` (default ``<repo>/../shared/corpus``); skips, saying so, when absent.
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

from thaisign.verify import TrustStore, verify_pdf
from thaisign.verify.report import Coverage, Indication, Modifications, Verdict, VerificationReport

pytestmark = pytest.mark.interop

CORPUS = Path(os.environ.get("THAISIGN_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "corpus"))
MANIFEST = CORPUS / "manifest.tsv"
PER_FILE_BUDGET = 60.0  # seconds: a hang detector, generous for a loaded 2-core CI machine
PYHANKO_TIME = dt.datetime(2020, 11, 1, tzinfo=dt.UTC)  # pyHanko's frozen test time
OTHER_TIME = dt.datetime(2026, 11, 21, 3, 42, tzinfo=dt.UTC)

#: files where thaisign's judgement differs from the upstream assertion, and why
KNOWN_DIFFERENCES: dict[str, str] = {
    "pdf/dss/dss-2554/fieldmdp-exclude.pdf": "the file holds only empty signature fields (DSS's test "
    "signs it first): NO_SIGNATURE",
    "pdf/dss/pades-5-signatures-and-1-document-timestamp.pdf": "the cross-reference chain is broken "
    "(/Prev 0, a startxref into the middle of an update): thaisign reads files as their cross-"
    "references say and does not repair them, since repairing is what lets incremental-saving "
    "attacks show unsigned content; verdict ERROR",
    "pdf/dss/pades-multiple-pages-annots-overlap.pdf": "DSS's annotation-overlap warning is about Link "
    "annotations that overlap each other since before signing; what changed after signing is an "
    "invisible signature, a document time-stamp and DSS data (ALLOWED)",
    "pdf/pyhanko/form-update-no-override-appearance-stream-ap-indirect-sneaky.pdf": "the signing update "
    "gives the widget a new appearance dictionary; the old one, also referenced from the catalog, is "
    "left untouched, so nothing shown changes (pyHanko refuses any appearance update of a shared "
    "dictionary on principle)",
    "pdf/pyhanko/form-update-ap-indirect-sneaky-trailer.pdf": "as the previous file, with the shared "
    "appearance dictionary referenced from the trailer: it is not modified, nothing shown changes",
}


def _rows() -> list[dict[str, str]]:
    if not MANIFEST.exists():
        return []
    with MANIFEST.open(newline="") as fh:
        return [
            r
            for r in csv.DictReader(fh, delimiter="\t")
            if r["class"] not in ("x509-pkits", "trust-anchor") and r["local_path"].lower().endswith(".pdf")
        ]


def _judge(cls: str, expected: str, r: VerificationReport) -> bool | None:
    """True when thaisign agrees with the upstream assertion, None when there is none to check."""
    sigs = r.signatures
    all_intact = bool(sigs) and all(s.intact for s in sigs)
    bad_change = any(
        s.modifications is Modifications.DISALLOWED or s.coverage is Coverage.PARTIAL for s in sigs
    )
    if cls == "intact":
        ok = r.error is None and all_intact and not bad_change
        if ok and "[trust:" in expected:
            ok = sigs[0].trusted
        return ok
    if cls == "allowed-update":
        return (
            r.error is None
            and all_intact
            and not bad_change
            and sigs[0].modifications is Modifications.ALLOWED
        )
    if cls == "modified-or-partial-coverage":
        return bad_change
    if cls == "coverage-whole":
        return any(s.coverage is Coverage.ENTIRE_FILE for s in sigs)
    if cls == "invalid-or-indeterminate":
        return r.error is None and r.verdict is not Verdict.TOTAL_PASSED
    if cls == "intact-bad-timestamp":
        return all_intact and any(s.timestamp is not None and not s.timestamp.intact for s in sigs)
    if cls == "intact-but-indeterminate":
        return all_intact and r.verdict is Verdict.INDETERMINATE
    if cls == "attack":
        return r.error is not None or bad_change or not all_intact
    if cls == "malformed":
        return r.verdict is not Verdict.TOTAL_PASSED
    if cls == "no-signature":
        return r.verdict is Verdict.NO_SIGNATURE
    return None


ROWS = _rows()


@pytest.fixture(scope="module")
def trust_pyhanko() -> TrustStore:
    return TrustStore.from_paths(
        [CORPUS / "trust" / "pyhanko" / "testing-ca_root_root.cert.pem"], include_nrca=False
    )


@pytest.mark.skipif(not ROWS, reason=f"corpus not found at {CORPUS} (set THAISIGN_CORPUS)")
def test_corpus_agreement(trust_pyhanko: TrustStore, capsys: pytest.CaptureFixture[str]) -> None:
    nrca = TrustStore.bundled()
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # files, agree, known, n/a
    problems: list[str] = []
    for row in ROWS:
        path, cls = row["local_path"], row["class"]
        pyhanko = path.startswith("pdf/pyhanko/")
        started = time.monotonic()
        try:
            report = verify_pdf(
                CORPUS / path,
                trust_pyhanko if pyhanko else nrca,
                at=PYHANKO_TIME if pyhanko else OTHER_TIME,
                revocation="offline",
                timeout=40,
            )
        except Exception as exc:  # the verifier must never raise for a bad file
            problems.append(f"{path}: raised {type(exc).__name__}: {exc}")
            continue
        elapsed = time.monotonic() - started
        if elapsed > PER_FILE_BUDGET:
            problems.append(f"{path}: took {elapsed:.1f} s")
        if (
            cls == "attack"
            and report.verdict is Verdict.TOTAL_PASSED
            and all(s.modifications is Modifications.NONE for s in report.signatures)
        ):
            problems.append(f"{path}: ATTACK reported TOTAL_PASSED with no modifications")
        if cls == "attack" and report.accepted:
            problems.append(f"{path}: ATTACK accepted (exit code 0)")
        for s in report.signatures:
            if s.indication is Indication.TOTAL_PASSED and (
                not s.intact or s.modifications is Modifications.DISALLOWED
            ):
                problems.append(f"{path}: {s.field} passed although not intact or changed")
        verdict = _judge(cls, row["expected"], report)
        counts = table[cls]
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
                f"{s.field}: {s.indication.value}/{s.sub_indication} intact={s.intact} "
                f"{s.coverage.value} {s.modifications.value}"
                for s in report.signatures
            )
            problems.append(f"{path} [{cls}] disagrees with '{row['expected']}': {detail}")
    with capsys.disabled():
        print("\n\nthaisign verify vs upstream assertions (corpus)")
        print(f"{'class':32} {'files':>5} {'agree':>5} {'known':>5} {'n/a':>5}")
        for cls, (n, agree, known, na) in sorted(table.items()):
            print(f"{cls:32} {n:5} {agree:5} {known:5} {na:5}")
        total = [sum(v[i] for v in table.values()) for i in range(4)]
        print(f"{'total':32} {total[0]:5} {total[1]:5} {total[2]:5} {total[3]:5}")
    assert not problems, "\n".join(problems)


@pytest.mark.skipif(not ROWS, reason=f"corpus not found at {CORPUS} (set THAISIGN_CORPUS)")
def test_shadow_replace_by_form_fields_is_refused_and_named() -> None:
    """RUB/DSS shadow-replace: Text1 keeps its value but is redrawn to show other text — refused."""
    report = verify_pdf(
        CORPUS / "pdf/dss/dss-2236/replace.pdf", TrustStore.bundled(), at=OTHER_TIME, revocation="off"
    )
    (sig,) = report.signatures
    assert sig.modifications is Modifications.DISALLOWED and sig.content_changed
    (change,) = [c for c in sig.changes if not c.permitted]
    assert change.field == "Text1" and change.visible and change.note == "appearance-without-value"
    assert any("Text1" in m and "does not say" in m for m in sig.messages.en)
    assert any("Text1" in m and "ไม่ตรงกับค่าของช่อง" in m for m in sig.messages.th)


MALFORMED = [r["local_path"] for r in ROWS if r["class"] in ("malformed", "attack")]


@pytest.mark.skipif(not MALFORMED, reason=f"corpus not found at {CORPUS} (set THAISIGN_CORPUS)")
def test_cli_on_malformed_and_attack_files_no_traceback() -> None:
    """The real command over every malformed and attack file: exit 1, no traceback, quickly."""
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "thaisign",
            "verify",
            "--offline",
            "--json",
            *(str(CORPUS / p) for p in MALFORMED),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    import json

    files = json.loads(proc.stdout)["files"]
    assert len(files) == len(MALFORMED)
    assert all(f["verdict"] != "TOTAL_PASSED" for f in files)
    assert time.monotonic() - started < 120
