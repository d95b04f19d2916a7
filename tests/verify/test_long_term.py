"""Long-term validation with a time-travelling PKI: sign at T, verify at T+1 day … T+41 years.

Letters are signed at T (2026-11-21) by thaisign (B-B, B-T), their validation data fetched over
real HTTP from OCSP/CRL/TSA services on 127.0.0.1 whose clock is moved on purpose, and added
with pyHanko's DSS writer (B-LT); pyHanko adds document time-stamps (B-LTA). Every verification
passes ``at=`` explicitly: no test reads the wall clock. Independent views: pyHanko's own
ETSI long-term validation (``ades_lta_validation``) and classic validation at the proven signing
time, ``openssl ts -verify`` for the time-stamp tokens, ``openssl crl``/``openssl ocsp`` for
revocation facts.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from support.pdfs import minimal_pdf
from support.servers import free_port
from support.timeline import (
    T,
    TimelinePKI,
    TimelineServices,
    add_document_timestamp,
    add_validation_data,
    b_lt,
    b_lta,
    build_timeline_pki,
    renew_archive,
    run_timeline_services,
    sign_letter,
    years,
)
from support.tools import require_tool

from thaisign.verify import TrustStore, verify_pdf
from thaisign.verify.report import Indication, SignatureReport, SubIndication, Verdict

DAY = dt.timedelta(days=1)
PASSED = (Indication.TOTAL_PASSED, None)
TRY_LATER = (Indication.INDETERMINATE, SubIndication.TRY_LATER)
NO_POE = (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)


@pytest.fixture(scope="module")
def timeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TimelinePKI, TimelineServices]]:
    port = free_port()
    pki = build_timeline_pki(tmp_path_factory.mktemp("timeline"), f"http://127.0.0.1:{port}")
    with run_timeline_services(pki, port) as services:
        yield pki, services


@pytest.fixture(scope="module")
def trust(timeline: tuple[TimelinePKI, TimelineServices]) -> TrustStore:
    return TrustStore.from_paths([timeline[0].root_pem], include_nrca=False)


@pytest.fixture(scope="module")
def letters(timeline: tuple[TimelinePKI, TimelineServices]) -> dict[str, bytes]:
    pki, services = timeline
    letter = minimal_pdf("Timeline letter")
    lt = b_lt(letter, pki, services, T)
    lta = b_lta(lt, pki, services, T + dt.timedelta(hours=1))
    return {
        "B-B": sign_letter(letter, pki, services, pki.officer, T, tsa=False),
        "B-LT": lt,
        "B-LTA": lta,
        "B-LTA renewed": renew_archive(lta, pki, services, T + years(30)),
    }


#: technical names a Thai sentence may carry (everything else in Latin letters is a leak of English)
_TECHNICAL = re.compile(
    r"'[^']*'|OCSP|CRL|TSA|\bCA\b|B-LTA?|B-[BT]|RFC \d+|SHA3?-\d+|MGF1|RSASSA-PSS|TLS|PDF|TSTInfo|"
    r"name constraints|basic constraints|critical extension|trailer field|salt|Ed25519|timeStamping|"
    r"digitalSignature|nonRepudiation"
)


def _assert_thai_only(sig: SignatureReport) -> None:
    for sentence in sig.messages.th:
        leftover = _TECHNICAL.sub("", sentence)
        assert not re.search(r"[A-Za-z]{3,}", leftover), sentence


def _verify(
    data: bytes, trust: TrustStore, services: TimelineServices, at: dt.datetime, mode: str
) -> SignatureReport:
    with services.at(at):
        report = verify_pdf(data, trust, at=at, revocation=mode)
    assert report.error is None, report.error
    for sig in report.signatures:
        _assert_thai_only(sig)
    return report.signatures[0]


# --- the same verdict today, next year and in ten years ----------------------------------------------

#: (label, time after T, expected per letter); the same in offline and online mode unless a
#: pair (offline, online) is given. B-B has no proof of when it was signed, so "now" decides.
CHECKPOINTS = [
    ("T+1 day", DAY, {"B-B": (TRY_LATER, PASSED), "B-LT": PASSED, "B-LTA": PASSED}),
    ("T+1 year", years(1), {"B-B": (TRY_LATER, PASSED), "B-LT": PASSED, "B-LTA": PASSED}),
    ("T+10 years (officer expired)", years(10), {"B-B": NO_POE, "B-LT": PASSED, "B-LTA": PASSED}),
    ("T+12 years (signature TSA expired)", years(12), {"B-B": NO_POE, "B-LT": NO_POE, "B-LTA": PASSED}),
    ("T+21 years (agency CA expired)", years(21), {"B-B": NO_POE, "B-LT": NO_POE, "B-LTA": PASSED}),
    (
        "T+41 years (archive TSA expired)",
        years(41),
        {"B-LT": NO_POE, "B-LTA": NO_POE, "B-LTA renewed": PASSED},
    ),
]


@pytest.mark.parametrize(("label", "delta", "expected"), CHECKPOINTS, ids=[c[0] for c in CHECKPOINTS])
def test_checkpoint(
    label: str,
    delta: dt.timedelta,
    expected: dict,
    letters: dict[str, bytes],
    trust: TrustStore,
    timeline: tuple[TimelinePKI, TimelineServices],
) -> None:
    pki, services = timeline
    at = T + delta
    for name, want in expected.items():
        offline_want, online_want = want if isinstance(want[0], tuple) else (want, want)
        offline = _verify(letters[name], trust, services, at, "offline")
        online = _verify(letters[name], trust, services, at, "online")
        for mode, sig, goal in (("offline", offline, offline_want), ("online", online, online_want)):
            assert (sig.indication, sig.sub_indication) == goal, f"{label} {name} {mode}: {sig.messages.en}"
        if name != "B-B":
            # same data, same verdict: fetching only adds (and here it adds nothing decisive)
            assert (offline.indication, offline.sub_indication) == (online.indication, online.sub_indication)
        if offline.indication is Indication.TOTAL_PASSED and name != "B-B":
            assert offline.poe_source == "signature-timestamp" and offline.signing_time == T
            assert offline.signing_time_source == "timestamp" and offline.trusted
            assert offline.revocation.status == "good" and offline.revocation.source == "embedded"
            assert offline.revocation.origin == "file" and offline.revocation.location == "/DSS"
            root = pki.root.cert.public_bytes(serialization.Encoding.DER)
            import hashlib

            assert offline.chain[-1].sha256 == hashlib.sha256(root).hexdigest()
            assert (
                offline.chain[0].subject.endswith("นายสมชาย ใจดี")
                or "นายสมชาย ใจดี" in offline.chain[0].subject
            )
        if offline.sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE and name != "B-B":
            # a long-term letter that stopped being provable says why and what to ask for
            assert "time-stamp" in offline.messages.en[0] and "B-LTA" in offline.messages.en[0]
            assert "ประทับเวลา" in offline.messages.th[0]


def test_ten_years_ahead_gives_the_same_verdict_as_today(
    letters: dict[str, bytes], trust: TrustStore, timeline: tuple[TimelinePKI, TimelineServices]
) -> None:
    _, services = timeline
    for name in ("B-LT", "B-LTA"):
        today = _verify(letters[name], trust, services, T + DAY, "offline").to_dict()
        later = _verify(letters[name], trust, services, T + years(10), "offline").to_dict()
        for key in ("indication", "sub_indication", "signing_time", "signing_time_source", "chain", "level"):
            assert today[key] == later[key], key
        keep = ("status", "source", "revoked_at", "reason", "status_then", "deciding")
        assert {k: today["revocation"][k] for k in keep} == {k: later["revocation"][k] for k in keep}
        assert today["proof_of_existence"] == later["proof_of_existence"]
        extra = [m for m in later["messages"]["en"] if m not in today["messages"]["en"]]
        assert len(extra) == 1 and "expired since" in extra[0]  # the only new fact


def test_the_report_says_until_when_the_proof_holds(
    letters: dict[str, bytes], trust: TrustStore, timeline: tuple[TimelinePKI, TimelineServices]
) -> None:
    """When it stops being provable: the first expiry the newest time-stamp relies on."""
    _, services = timeline
    expected = {
        "B-LT": (dt.datetime(2038, 1, 1, tzinfo=dt.UTC), "กรมทดสอบเวลา TSA"),  # the signature TSA
        "B-LTA": (dt.datetime(2066, 1, 1, tzinfo=dt.UTC), "Timeline Archive TSA"),  # the archive TSA
        "B-LTA renewed": (dt.datetime(2076, 1, 1, tzinfo=dt.UTC), "Timeline Agency Root CA"),  # the root
    }
    for name, (until, whose) in expected.items():
        sig = _verify(letters[name], trust, services, T + years(31 if "renewed" in name else 1), "offline")
        assert sig.indication is Indication.TOTAL_PASSED and sig.provable_until == until, name
        note = next(m for m in sig.messages.en if "can be checked until" in m)
        assert whose in note and str(until.year) in note
        from thaisign.thai_date import thai_digits

        buddhist_year = thai_digits(str(until.year + 543))
        assert any("หลักฐานเวลาที่ลงนาม" in m and buddhist_year in m for m in sig.messages.th)
    bb = _verify(letters["B-B"], trust, services, T + DAY, "online")
    assert bb.provable_until is None and not any("can be checked until" in m for m in bb.messages.en)


def test_each_document_timestamp_protects_only_the_data_before_it(
    timeline: tuple[TimelinePKI, TimelineServices], trust: TrustStore
) -> None:
    """Validation data added *after* the only document time-stamp has no proof of existence: once
    the responder and CA certificates expire it no longer counts; the same data before it does."""
    pki, services = timeline
    letter = minimal_pdf("Late validation data")
    signed = sign_letter(letter, pki, services, pki.officer, T, tsa=True)
    stamped = add_document_timestamp(signed, services, T + dt.timedelta(hours=1), services.lta_url)
    late = add_validation_data(
        stamped,
        services,
        T + dt.timedelta(hours=2),
        certs=[pki.ca, pki.root, pki.tsa, pki.ocsp, pki.tsa_lta],
        ocsp_for=[(pki.officer, pki.ca), (pki.tsa, pki.ca), (pki.ca, pki.root), (pki.tsa_lta, pki.root)],
        crls=("agency", "root"),
    )
    early = b_lta(b_lt(letter, pki, services, T), pki, services, T + dt.timedelta(hours=1))
    at = T + years(21)
    assert _verify(early, trust, services, at, "offline").indication is Indication.TOTAL_PASSED
    late_sig = _verify(late, trust, services, at, "offline")
    assert late_sig.indication is Indication.INDETERMINATE, late_sig.messages.en
    # today both are fine: the difference is only the proof of existence
    assert _verify(late, trust, services, T + DAY, "offline").indication is Indication.TOTAL_PASSED


def test_document_timestamps_are_reported_with_what_they_prove(
    letters: dict[str, bytes], trust: TrustStore, timeline: tuple[TimelinePKI, TimelineServices]
) -> None:
    _, services = timeline
    with services.at(T + years(31)):
        report = verify_pdf(letters["B-LTA renewed"], trust, at=T + years(31), revocation="offline")
    _letter_sig, first_ts, second_ts = report.signatures
    assert report.verdict is Verdict.TOTAL_PASSED, [s.messages.en for s in report.signatures]
    assert first_ts.kind == second_ts.kind == "document-timestamp"
    assert first_ts.poe_source == "document-timestamp" and first_ts.poe_time == second_ts.signing_time
    assert second_ts.poe_source == "validation-time"
    assert any("proves that the document" in m for m in first_ts.messages.en)
    assert first_ts.signer is not None and first_ts.signer.name == "Timeline Archive TSA"


# --- revocation: when, why, and from where -----------------------------------------------------------


@pytest.fixture()
def fresh_officer(timeline: tuple[TimelinePKI, TimelineServices], request: pytest.FixtureRequest) -> Iterator:
    pki, services = timeline
    officer = pki.issue_officer(f"officer-{request.node.name[:40]}", cn="นางสาวทดลอง เพิกถอน")
    try:
        yield officer
    finally:
        services.unrevoke_all()


def _openssl_time(t: dt.datetime) -> str:
    """A time as openssl prints it: ``Nov  1 03:42:00 2026 GMT``."""
    t = t.astimezone(dt.UTC)
    return f"{t:%b} {t.day:2d} {t:%H:%M:%S %Y} GMT"


def _openssl_crl_entry(crl_der: bytes, serial: int, tmp_path: Path) -> tuple[str, str]:
    """(revocation date, reason) that openssl reads for ``serial`` in a DER CRL."""
    path = tmp_path / "crl.der"
    path.write_bytes(crl_der)
    text = subprocess.run(
        [require_tool("openssl"), "crl", "-inform", "DER", "-in", str(path), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    hexserial = f"{serial:X}"
    hexserial = ("0" + hexserial) if len(hexserial) % 2 else hexserial
    block = text.split(f"Serial Number: {hexserial}", 1)[1]
    date = re.search(r"Revocation Date: (.+)", block).group(1).strip()  # type: ignore[union-attr]
    reason = re.search(r"X509v3 CRL Reason Code:\s*\n\s*(.+)", block).group(1).strip()  # type: ignore[union-attr]
    return date, reason


def test_revoked_after_signing_with_the_revoking_crl_in_the_file(
    timeline: tuple[TimelinePKI, TimelineServices], trust: TrustStore, fresh_officer, tmp_path: Path
) -> None:
    """Issue 10: offline said "not revoked", online REVOKED_NO_POE. Now both: the signature stands,
    proven by its time-stamp, and the report says when and why the certificate was revoked."""
    pki, services = timeline
    letter = b_lt(minimal_pdf("Revoked later"), pki, services, T, officer=fresh_officer)
    revoked_at = T + dt.timedelta(days=30)
    services.revoke(fresh_officer, revoked_at, "key_compromise")
    with_crl = add_validation_data(letter, services, T + dt.timedelta(days=60), certs=[], crls=("agency",))
    at = T + dt.timedelta(days=61)
    for mode in ("offline", "online"):
        sig = _verify(with_crl, trust, services, at, mode)
        assert sig.indication is Indication.TOTAL_PASSED, (mode, sig.messages.en)
        assert sig.revocation.status == "revoked" and sig.revocation.status_then == "good"
        assert sig.revocation.revoked_at == revoked_at and sig.revocation.reason == "key compromise"
        assert not any("not revoked" in m for m in sig.messages.en)
        said = next(m for m in sig.messages.en if "revoked on" in m)
        assert "after the letter was signed" in said and "key compromise" in said
        assert any("ถูกเพิกถอน" in m and "กุญแจส่วนตัวรั่วไหล" in m for m in sig.messages.th)
    # openssl reads the same revocation from the same CRL the services publish
    with services.at(T + dt.timedelta(days=60)):
        crl = services.fetch_crl("agency")
    date, reason = _openssl_crl_entry(crl, fresh_officer.cert.serial_number, tmp_path)
    assert (
        date.startswith(revoked_at.strftime("%b %d %H:%M:%S %Y").replace(" 0", "  ", 1))
        or revoked_at.strftime("%H:%M:%S %Y") in date
    )
    assert reason == "Key Compromise"


def test_revoked_without_proof_of_existence(
    timeline: tuple[TimelinePKI, TimelineServices], trust: TrustStore, fresh_officer
) -> None:
    """A B-B letter (no time-stamp) whose officer was revoked since: REVOKED_NO_POE, saying why."""
    pki, services = timeline
    signed = sign_letter(minimal_pdf("No proof"), pki, services, fresh_officer, T, tsa=False)
    services.revoke(fresh_officer, T + dt.timedelta(days=30), "affiliation_changed")
    with_crl = add_validation_data(
        signed, services, T + dt.timedelta(days=60), certs=[pki.ca], crls=("agency",)
    )
    for mode in ("offline", "online"):
        sig = _verify(with_crl, trust, services, T + dt.timedelta(days=61), mode)
        assert (sig.indication, sig.sub_indication) == (
            Indication.INDETERMINATE,
            SubIndication.REVOKED_NO_POE,
        )
        assert "no time-stamp" in sig.messages.en[0] and "affiliation changed" in sig.messages.en[0]
        assert sig.trusted and len(sig.chain) == 3  # the root was given: never "no trusted root"
        assert sig.revocation.status == "revoked" and sig.revocation.origin in ("file", "online")


def test_revoked_no_poe_names_why_the_time_stamp_proves_nothing(
    timeline: tuple[TimelinePKI, TimelineServices], trust: TrustStore, fresh_officer
) -> None:
    """The letter has a time-stamp, but its TSA certificate was revoked (key compromise) before it
    was made: the time-stamp cannot prove the signing time, and the sentence says so."""
    pki, services = timeline
    services.revoke(pki.tsa, T - DAY, "key_compromise")
    signed = sign_letter(minimal_pdf("TSA revoked"), pki, services, fresh_officer, T, tsa=True)
    services.revoke(fresh_officer, T + dt.timedelta(days=30), "key_compromise")
    data = add_validation_data(
        signed,
        services,
        T + dt.timedelta(days=60),
        certs=[pki.ca, pki.ocsp],
        ocsp_for=[(fresh_officer, pki.ca), (pki.tsa, pki.ca), (pki.ca, pki.root)],
        crls=("agency", "root"),
    )
    sig = _verify(data, trust, services, T + dt.timedelta(days=61), "offline")
    assert (sig.indication, sig.sub_indication) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE)
    assert sig.timestamp is not None and sig.timestamp.intact and not sig.timestamp.trusted
    assert "time-stamp could not be verified" in sig.messages.en[0] and "revoked" in sig.messages.en[0]
    assert "การประทับเวลา" in sig.messages.th[0]


def test_revoked_before_signing_is_total_failed_revoked(
    timeline: tuple[TimelinePKI, TimelineServices], trust: TrustStore, fresh_officer, tmp_path: Path
) -> None:
    pki, services = timeline
    revoked_at = T - DAY
    services.revoke(fresh_officer, revoked_at, "key_compromise")
    signed = sign_letter(minimal_pdf("Revoked before"), pki, services, fresh_officer, T, tsa=True)
    lt = add_validation_data(
        signed,
        services,
        T + dt.timedelta(minutes=1),
        certs=[pki.ca, pki.ocsp],
        ocsp_for=[(fresh_officer, pki.ca), (pki.tsa, pki.ca), (pki.ca, pki.root)],
        crls=("agency", "root"),
    )
    for mode in ("offline", "online"):
        sig = _verify(lt, trust, services, T + DAY, mode)
        assert (sig.indication, sig.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
        assert "before the letter was signed" in sig.messages.en[0]
        assert sig.revocation.revoked_at == revoked_at
    # the OCSP answer, as openssl reads it
    with services.at(T + dt.timedelta(minutes=1)):
        der = services.fetch_ocsp(fresh_officer, pki.ca)
    path = tmp_path / "resp.der"
    path.write_bytes(der)
    text = subprocess.run(
        [require_tool("openssl"), "ocsp", "-respin", str(path), "-resp_text", "-noverify"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Cert Status: revoked" in text and "keyCompromise" in text
    assert f"Revocation Time: {_openssl_time(revoked_at)}" in text


def test_revoked_ca_with_and_without_proof_of_existence(
    timeline: tuple[TimelinePKI, TimelineServices], trust: TrustStore, fresh_officer
) -> None:
    """The agency CA is revoked (CA compromise) a month after signing. Its TSA's time-stamp then
    proves nothing by itself (a compromised CA could have certified a backdating TSA), so B-LT and
    B-B are REVOKED_CA_NO_POE; an archive time-stamp from before the revocation, by a TSA outside
    that CA, keeps the B-LTA letter valid."""
    pki, services = timeline
    letter = minimal_pdf("CA revoked")
    lt = b_lt(letter, pki, services, T, officer=fresh_officer)
    lta = b_lta(lt, pki, services, T + dt.timedelta(hours=1))
    bb = sign_letter(letter, pki, services, fresh_officer, T, tsa=False)
    services.revoke(pki.ca, T + dt.timedelta(days=30), "ca_compromise")
    try:
        at, added = T + dt.timedelta(days=61), T + dt.timedelta(days=60)
        lta2 = add_validation_data(lta, services, added, certs=[], crls=("root",))
        lt2 = add_validation_data(lt, services, added, certs=[], crls=("root",))
        bb2 = add_validation_data(bb, services, added, certs=[pki.ca], crls=("root", "agency"))
        for mode in ("offline", "online"):
            assert _verify(lta2, trust, services, at, mode).indication is Indication.TOTAL_PASSED
            for data in (lt2, bb2):
                sig = _verify(data, trust, services, at, mode)
                assert (sig.indication, sig.sub_indication) == (
                    Indication.INDETERMINATE,
                    SubIndication.REVOKED_CA_NO_POE,
                ), sig.messages.en
                assert "กรมทดสอบเวลา CA" in sig.messages.en[0] and "CA compromise" in sig.messages.en[0]
    finally:
        services.unrevoke_all()


def test_unreachable_responder_does_not_hide_what_the_file_proves(
    letters: dict[str, bytes], trust: TrustStore, timeline: tuple[TimelinePKI, TimelineServices]
) -> None:
    _, services = timeline
    with services.unreachable():
        sig = _verify(letters["B-LT"], trust, services, T + years(1), "online")
    assert sig.indication is Indication.TOTAL_PASSED and sig.revocation.origin == "file"


def test_offline_b_lt_after_the_embedded_ocsp_next_update_still_passes(
    letters: dict[str, bytes], trust: TrustStore, timeline: tuple[TimelinePKI, TimelineServices]
) -> None:
    """Issue 10: B-LT offline turned TRY_LATER one day after signing (OCSP nextUpdate)."""
    _, services = timeline
    sig = _verify(letters["B-LT"], trust, services, T + 3 * DAY, "offline")
    assert sig.indication is Indication.TOTAL_PASSED, sig.messages.en
    assert not any("no trusted root" in m or "B-LT copy" in m for m in sig.messages.en)


# --- purpose: a time-stamping, OCSP or TLS certificate never signs a letter ------------------------


def _sign_with(pki: TimelinePKI, key_pem: Path, cert_pem: Path, chain: list) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from support.pki import PASSPHRASE

    chain_file = pki.dir / f"chain-{cert_pem.stem}.pem"
    chain_file.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    signer = signers.SimpleSigner.load(
        str(key_pem), str(cert_pem), ca_chain_files=(str(chain_file),), key_passphrase=PASSPHRASE.encode()
    )
    meta = signers.PdfSignatureMetadata(field_name="Signature1", subfilter=fields.SigSeedSubFilter.PADES)
    w = IncrementalPdfFileWriter(io.BytesIO(minimal_pdf("Wrong key")))
    return signers.sign_pdf(w, meta, signer=signer).getvalue()


@pytest.mark.parametrize("kind", ["tsa", "ocsp", "tls", "key-encipherment"])
def test_certificates_for_other_purposes_never_make_a_valid_letter(
    kind: str, timeline: tuple[TimelinePKI, TimelineServices], trust: TrustStore
) -> None:
    pki, services = timeline
    if kind == "tsa":
        issued = pki.tsa
    elif kind == "ocsp":
        issued = pki.ocsp
    elif kind == "tls":
        issued = pki.issue_officer("tls-only", cn="www.example.go.th", eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    else:
        issued = pki.issue_officer(
            "kenc-only",
            key_usage={"digital_signature": False, "content_commitment": False, "key_encipherment": True},
        )
    signed = _sign_with(pki, issued.key_pem, issued.cert_pem, [pki.ca.cert, pki.root.cert])
    with_crl = add_validation_data(
        signed, services, T + dt.timedelta(minutes=1), certs=[pki.ca], crls=("agency", "root")
    )
    for mode in ("offline", "online"):
        sig = _verify(with_crl, trust, services, T + dt.timedelta(minutes=2), mode)
        assert (sig.indication, sig.sub_indication) == (
            Indication.INDETERMINATE,
            SubIndication.CHAIN_CONSTRAINTS_FAILURE,
        ), sig.messages.en
        assert sig.intact and "may not sign documents" in sig.messages.en[0]
        assert "ใช้ลงนามเอกสารไม่ได้" in sig.messages.th[0]
        if kind in ("tsa", "ocsp", "tls"):
            expected = {"tsa": "time-stamping", "ocsp": "OCSP signing", "tls": "TLS server"}[kind]
            assert expected in sig.messages.en[0]


# --- independent views ---------------------------------------------------------------------------


def test_pyhanko_ades_lta_validation_agrees_where_it_gives_a_view(
    letters: dict[str, bytes], timeline: tuple[TimelinePKI, TimelineServices], trust: TrustStore
) -> None:
    """pyHanko's own ETSI long-term validation: B-LTA passes the day after signing, and a B-LT
    letter whose agency CA has expired is not valid; thaisign says the same."""
    import asyncio

    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.ades.report import AdESPassed
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.policy_decl import (
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
    from pyhanko_certvalidator.policy_decl import (
        CertRevTrustPolicy,
        RevocationCheckingPolicy,
        RevocationCheckingRule,
    )
    from pyhanko_certvalidator.registry import SimpleTrustManager

    pki, services = timeline
    root = asn1_x509.Certificate.load(pki.root.cert.public_bytes(serialization.Encoding.DER))
    required = RevocationCheckingRule.CRL_OR_OCSP_REQUIRED
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots=[root]),
                revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(required, required)),
                time_tolerance=dt.timedelta(0),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )

    def pyhanko_passes(data: bytes, at: dt.datetime) -> bool:
        sig = PdfFileReader(io.BytesIO(data), strict=False).embedded_regular_signatures[0]
        result = asyncio.run(ades_lta_validation(sig, spec, ValidationTimingInfo(at, at, True)))
        return result.ades_subindic is AdESPassed.OK

    day_after = T + DAY
    assert pyhanko_passes(letters["B-LTA"], day_after)
    assert (
        _verify(letters["B-LTA"], trust, services, day_after, "offline").indication is Indication.TOTAL_PASSED
    )
    after_ca = T + years(21)
    assert not pyhanko_passes(letters["B-LT"], after_ca)
    assert (
        _verify(letters["B-LT"], trust, services, after_ca, "offline").indication
        is not Indication.TOTAL_PASSED
    )


def test_pyhanko_at_the_proven_signing_time_agrees(
    letters: dict[str, bytes], timeline: tuple[TimelinePKI, TimelineServices], trust: TrustStore
) -> None:
    """pyHanko's classic validation *at the best-signature-time*, with the file's own data and no
    fetching: the signature is intact, trusted and not revoked then — what thaisign concludes
    ten years later from the time-stamp."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko_certvalidator import ValidationContext

    pki, services = timeline
    reader = PdfFileReader(io.BytesIO(letters["B-LT"]), strict=False)
    dss = DocumentSecurityStore.read_dss(reader)
    root = asn1_x509.Certificate.load(pki.root.cert.public_bytes(serialization.Encoding.DER))
    from pyhanko.pdf_utils.generic import DecodePurpose

    ocsps = [
        __import__("asn1crypto.ocsp").ocsp.OCSPResponse.load(
            r.get_object().read_data(DecodePurpose.OCSP_RESPONSE)
        )
        for r in dss.ocsps
    ]
    crls = [
        __import__("asn1crypto.crl").crl.CertificateList.load(r.get_object().read_data(DecodePurpose.CRL))
        for r in dss.crls
    ]
    vc = ValidationContext(
        trust_roots=[root],
        other_certs=list(dss.load_certs()),
        ocsps=ocsps,
        crls=crls,
        moment=T + dt.timedelta(minutes=2),
        allow_fetching=False,
        revocation_mode="hard-fail",
    )
    status = validate_pdf_signature(reader.embedded_regular_signatures[0], vc)
    assert status.intact and status.valid and status.trusted and status.revoked is False
    ours = _verify(letters["B-LT"], trust, services, T + years(10), "offline")
    assert (
        ours.indication is Indication.TOTAL_PASSED
        and ours.signing_time == status.timestamp_validity.timestamp
    )


def _token_and_data(pdf: bytes, index: int) -> tuple[bytes, bytes]:
    """The time-stamp token of signature ``index`` (a /DocTimeStamp) and the bytes it covers."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    sig = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures[index]
    br = [int(x) for x in sig.byte_range]
    data = pdf[br[0] : br[0] + br[1]] + pdf[br[2] : br[2] + br[3]]
    from asn1crypto import cms

    token = cms.ContentInfo({"content_type": "signed_data", "content": sig.signed_data}).dump()
    return token, data


def test_openssl_verifies_the_document_timestamp_at_its_time(
    letters: dict[str, bytes], timeline: tuple[TimelinePKI, TimelineServices], tmp_path: Path
) -> None:
    pki, _ = timeline
    token, data = _token_and_data(letters["B-LTA"], 1)
    (tmp_path / "token.der").write_bytes(token)
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "root.pem").write_bytes(pki.root.cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tsa.pem").write_bytes(pki.tsa_lta.cert.public_bytes(serialization.Encoding.PEM))
    proc = subprocess.run(
        [
            require_tool("openssl"),
            "ts",
            "-verify",
            "-in",
            str(tmp_path / "token.der"),
            "-token_in",
            "-data",
            str(tmp_path / "data.bin"),
            "-CAfile",
            str(tmp_path / "root.pem"),
            "-untrusted",
            str(tmp_path / "tsa.pem"),
            "-attime",
            str(int((T + dt.timedelta(hours=2)).timestamp())),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stdout + proc.stderr


def test_cli_at_ten_years_ahead(
    letters: dict[str, bytes], timeline: tuple[TimelinePKI, TimelineServices], tmp_path: Path
) -> None:
    pki, _ = timeline
    (tmp_path / "lta.pdf").write_bytes(letters["B-LTA"])
    (tmp_path / "lt.pdf").write_bytes(letters["B-LT"])
    cmd = [sys.executable, "-m", "thaisign", "verify", "--trust", str(pki.root_pem), "--offline", "--json"]
    ten = subprocess.run(
        [*cmd, "--at", "2036-11-21T10:42+07:00", str(tmp_path / "lta.pdf")], capture_output=True, text=True
    )
    assert ten.returncode == 0, ten.stdout + ten.stderr
    doc = json.loads(ten.stdout)
    assert doc["files"][0]["verdict"] == "TOTAL_PASSED"
    assert doc["files"][0]["signatures"][0]["proof_of_existence"]["source"] == "signature-timestamp"
    late = subprocess.run(
        [*cmd, "--at", "2047-11-21T10:42+07:00", str(tmp_path / "lt.pdf")], capture_output=True, text=True
    )
    assert late.returncode == 1 and json.loads(late.stdout)["files"][0]["verdict"] == "INDETERMINATE"
    assert "Traceback" not in late.stderr


def test_the_verdict_holds_while_the_algorithms_hold(letters: dict[str, bytes], trust: TrustStore) -> None:
    """With a policy that retires SHA-256 on 2027-01-01, the letters pass before that date and,
    with nothing proving an earlier existence under a stronger algorithm, not after it."""
    from thaisign.verify.policy import ValidationPolicy

    retiring = ValidationPolicy(algorithm_sunsets=(("sha256", dt.datetime(2027, 1, 1, tzinfo=dt.UTC)),))
    for name in ("B-LT", "B-LTA"):
        before = verify_pdf(letters[name], trust, at=T + 10 * DAY, revocation="offline", policy=retiring)
        assert before.signatures[0].indication is Indication.TOTAL_PASSED
        after = verify_pdf(letters[name], trust, at=T + years(1), revocation="offline", policy=retiring)
        sig = after.signatures[0]
        assert sig.indication is Indication.INDETERMINATE
        assert sig.sub_indication is SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, sig.messages.en
        assert "SHA-256" in sig.messages.en[0]


def test_a_revocation_cannot_be_hidden_by_dropping_its_crl_from_the_dss(
    timeline: tuple[TimelinePKI, TimelineServices], trust: TrustStore, fresh_officer
) -> None:
    """A later revision rewrites the /DSS without the revoking CRL: the CRL is still in the file
    (an earlier revision) and still counts."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    pki, services = timeline
    signed = sign_letter(minimal_pdf("Hidden revocation"), pki, services, fresh_officer, T, tsa=False)
    services.revoke(fresh_officer, T + dt.timedelta(days=30), "key_compromise")
    with_crl = add_validation_data(
        signed, services, T + dt.timedelta(days=60), certs=[pki.ca], crls=("agency",)
    )
    w = IncrementalPdfFileWriter(io.BytesIO(with_crl))
    dss = w.root["/DSS"]
    dss["/CRLs"] = generic.ArrayObject()
    w.update_container(dss)
    out = io.BytesIO()
    w.write(out)
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    latest = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(out.getvalue()), strict=False))
    assert not latest.crls  # the latest /DSS no longer lists it
    sig = _verify(out.getvalue(), trust, services, T + dt.timedelta(days=61), "offline")
    assert sig.sub_indication is SubIndication.REVOKED_NO_POE, sig.messages.en
    assert sig.revocation.status == "revoked" and sig.revocation.location == "/DSS"
