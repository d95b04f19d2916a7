"""Renderings: Thai dates in the Buddhist Era, language choice, hostile names escaped in HTML."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from thaisign.verify.render_html import reports_html
from thaisign.verify.render_json import reports_json
from thaisign.verify.render_text import default_lang, format_time, report_text, summary_table
from thaisign.verify.report import (
    ChainEntry,
    Coverage,
    Indication,
    Messages,
    Modifications,
    RevocationFacts,
    SignatureReport,
    SignerFacts,
    SubIndication,
    VerificationReport,
)

HOSTILE = "<script>alert('x')</script>"


def _report() -> VerificationReport:
    sig = SignatureReport(
        field=HOSTILE,
        kind="signature",
        indication=Indication.TOTAL_FAILED,
        sub_indication=SubIndication.HASH_FAILURE,
        intact=False,
        coverage=Coverage.ENTIRE_FILE,
        modifications=Modifications.NONE,
        trusted=True,
        chain=(
            ChainEntry("CN=นายสมชาย ใจดี", "ab" * 32, "นายสมชาย ใจดี"),
            ChainEntry("CN=Root", "cd" * 32, "Root"),
        ),
        signer=SignerFacts(f"นายสมชาย ใจดี {HOSTILE}", "ผู้อำนวยการกอง", "กรมส่งเสริมการปกครองท้องถิ่น", "ab" * 32),
        signing_time=dt.datetime(2026, 11, 21, 3, 42, tzinfo=dt.UTC),
        signing_time_source="claimed",
        revocation=RevocationFacts("good", "ocsp"),
        level="B-B",
        messages=Messages(("The document was altered.",), ("เอกสารถูกแก้ไขหลังการลงนาม",)),
    )
    return VerificationReport("letter.pdf", (sig,))


def test_thai_time_is_buddhist_era_bangkok() -> None:
    t = dt.datetime(2026, 11, 21, 3, 42, tzinfo=dt.UTC)
    assert format_time(t, "th") == "๒๑ พฤศจิกายน ๒๕๖๙ เวลา ๑๐.๔๒ น."  # the official style
    assert format_time(t, "en") == "21 November 2026 10:42:00 (UTC+7)"
    assert format_time(None, "th") == "ไม่ทราบ"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LANG": "th_TH.UTF-8"}, "th"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LC_ALL": "th_TH", "LANG": "C"}, "th"),
        ({}, "th"),  # nothing chosen: a Thai clerk's tool speaks Thai
        ({"LANG": "C.UTF-8"}, "th"),  # a stock machine's locale means "not set"
        ({"LC_ALL": "C", "LANG": "en_GB.UTF-8"}, "en"),
        ({"LANG": "POSIX"}, "th"),
    ],
)
def test_default_language_follows_the_locale(
    monkeypatch: pytest.MonkeyPatch, env: dict, expected: str
) -> None:
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert default_lang() == expected


def test_html_escapes_names_from_the_document() -> None:
    page = reports_html([_report()], "th", embed_font=False)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "กรมส่งเสริมการปกครองท้องถิ่น" in page and "๒๑ พฤศจิกายน ๒๕๖๙" in page


def test_text_and_summary() -> None:
    text = report_text(_report(), "th")
    assert "ผลการตรวจสอบ: ไม่ถูกต้อง [TOTAL_FAILED]" in text
    assert "ใบรับรองหลักที่เชื่อถือ: Root" in text and "→ เอกสารถูกแก้ไขหลังการลงนาม" in text
    assert "ไม่ถูกเพิกถอน (จาก OCSP)" in text
    table = summary_table([_report(), VerificationReport("bad.pdf", error="not a readable PDF")], "en")
    assert "2 files" in table and "INVALID: 1" in table and "ERROR: 1" in table


def test_json_round_trip_keeps_thai_readable() -> None:
    text = reports_json([_report()])
    assert "นายสมชาย" in text  # not \\u-escaped
    doc = json.loads(text)
    assert doc["files"][0]["signatures"][0]["chain"][1] == {"subject": "CN=Root", "sha256": "cd" * 32}
