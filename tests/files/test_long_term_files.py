"""Long-term validation of signed files with the time-travelling PKI (tests/support/timeline.py):
sign at T, check at T+1 day … T+41 years, every check at an explicit time. The verdicts follow
the PDF letters' (tests/verify/test_long_term.py): a B-LT file holds while its signature
time-stamp's TSA does; an archive time-stamp v3 carries it past that; a renewed one past the
archive TSA's own expiry. Services answer at the moved clock over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.pki import PASSPHRASE
from support.servers import free_port
from support.timeline import (
    T,
    TimelinePKI,
    TimelineServices,
    build_timeline_pki,
    run_timeline_services,
    years,
)

from thaisign.files import sign_asic, sign_file
from thaisign.files.cades import extend_signature
from thaisign.keys import Signer
from thaisign.verify import TrustStore
from thaisign.verify.asic import verify_asic
from thaisign.verify.cades import verify_cades
from thaisign.verify.report import Indication, SubIndication

DAY = dt.timedelta(days=1)
PASSED = (Indication.TOTAL_PASSED, None)
NO_POE = (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)


@pytest.fixture(scope="module")
def timeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TimelinePKI, TimelineServices]]:
    port = free_port()
    pki = build_timeline_pki(tmp_path_factory.mktemp("timeline-files"), f"http://127.0.0.1:{port}")
    with run_timeline_services(pki, port) as services:
        yield pki, services


@pytest.fixture(scope="module")
def trust(timeline: tuple[TimelinePKI, TimelineServices]) -> TrustStore:
    return TrustStore.from_paths(timeline[0].root_pem, include_nrca=False)


@pytest.fixture(scope="module")
def signed(
    timeline: tuple[TimelinePKI, TimelineServices], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """evidence.mp4 signed at T: B-LT; B-LTA (archive time-stamp by the archive TSA an hour
    later); that B-LTA renewed at T+30 years by the archive TSA's successor; an ASiC-E."""
    pki, services = timeline
    d = tmp_path_factory.mktemp("signed-files")
    video = d / "evidence.mp4"
    video.write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(range(256)) * 4096)
    signer = Signer.from_pkcs12(pki.officer.p12, PASSPHRASE)
    roots = (pki.root.cert,)
    out = {"data": video}
    with services.at(T):
        sign_file(
            video, d / "lt.p7s", signer, level="B-LT", tsa=services.tsa_url, signing_time=T, trust_roots=roots
        )
        sign_asic(
            [video],
            d / "case.asice",
            signer,
            level="B-LT",
            tsa=services.tsa_url,
            signing_time=T,
            trust_roots=roots,
        )
    out["B-LT"], out["ASiC-E B-LT"] = d / "lt.p7s", d / "case.asice"
    when = T + dt.timedelta(hours=1)
    with services.at(when):
        extend_signature(
            d / "lt.p7s", d / "lta.p7s", tsa=services.lta_url, data=video, at=when, trust_roots=roots
        )
    out["B-LTA"] = d / "lta.p7s"
    later = T + years(30)
    with services.at(later):
        extend_signature(
            d / "lta.p7s", d / "lta2.p7s", tsa=services.lta2_url, data=video, at=later, trust_roots=roots
        )
    out["B-LTA renewed"] = d / "lta2.p7s"
    return out


CHECKPOINTS = [
    ("T+1 day", DAY, {"B-LT": PASSED, "B-LTA": PASSED, "ASiC-E B-LT": PASSED}),
    ("T+10 years (officer expired)", years(10), {"B-LT": PASSED, "B-LTA": PASSED, "ASiC-E B-LT": PASSED}),
    (
        "T+12 years (signature TSA expired)",
        years(12),
        {"B-LT": NO_POE, "B-LTA": PASSED, "ASiC-E B-LT": NO_POE},
    ),
    ("T+21 years (agency CA expired)", years(21), {"B-LTA": PASSED}),
    ("T+41 years (archive TSA expired)", years(41), {"B-LTA": NO_POE, "B-LTA renewed": PASSED}),
]


@pytest.mark.parametrize(("label", "delta", "expected"), CHECKPOINTS, ids=[c[0] for c in CHECKPOINTS])
def test_checkpoint(
    label: str,
    delta: dt.timedelta,
    expected: dict[str, tuple[Indication, SubIndication | None]],
    signed: dict[str, Path],
    trust: TrustStore,
    timeline: tuple[TimelinePKI, TimelineServices],
) -> None:
    _, services = timeline
    at = T + delta
    for name, want in expected.items():
        for mode in ("offline", "online"):
            with services.at(at):
                if name.startswith("ASiC"):
                    report = verify_asic(signed[name], trust, at=at, revocation=mode)
                else:
                    report = verify_cades(signed[name], trust, data=signed["data"], at=at, revocation=mode)
            sig = report.signatures[0]
            assert (sig.indication, sig.sub_indication) == want, f"{label} {name} {mode}: {sig.messages.en}"
            if want == PASSED:
                assert sig.poe_source == "signature-timestamp" and sig.signing_time == T
                assert sig.revocation.status == "good" and sig.revocation.origin == "file"


def test_renewed_archive_keeps_both_timestamps_valid(signed: dict[str, Path], trust: TrustStore) -> None:
    from thaisign.files import ats
    from thaisign.verify.cades import load_signed_data

    signed_data = load_signed_data(signed["B-LTA renewed"].read_bytes())
    assert len(ats.archive_tokens(signed_data["signer_infos"][0])) == 2
    report = verify_cades(
        signed["B-LTA renewed"], trust, data=signed["data"], at=T + years(31), revocation="offline"
    )
    assert report.signatures[0].level == "B-LTA"
    assert not any("Archive time-stamp" in m for m in report.signatures[0].messages.en)


def test_cli_ten_years_ahead_same_verdict_as_today(
    signed: dict[str, Path], timeline: tuple[TimelinePKI, TimelineServices]
) -> None:
    """The clerk's command with --at ten years ahead: the verdict, signer, signing time and
    revocation facts of today; one more sentence: the certificate has expired since."""
    pki, _ = timeline

    def run(at: dt.datetime) -> dict:  # type: ignore[type-arg]
        proc = subprocess.run(
            [sys.executable, "-m", "thaisign", "verify", str(signed["B-LTA"]), "--data", str(signed["data"]),
             "--trust", str(pki.root_pem), "--offline", "--json", "--at", at.isoformat()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(proc.stdout)["files"][0]["signatures"][0]

    today, later = run(T + DAY), run(T + years(10))
    for key in (
        "indication",
        "sub_indication",
        "signing_time",
        "signing_time_source",
        "chain",
        "level",
        "covers",
    ):
        assert today[key] == later[key], key
    assert today["proof_of_existence"] == later["proof_of_existence"]
    extra = [m for m in later["messages"]["en"] if m not in today["messages"]["en"]]
    assert len(extra) == 1 and "expired since" in extra[0]
