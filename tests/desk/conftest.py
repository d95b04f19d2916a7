"""The clerk's desk under test: real signed Thai letters, a real ``thaisign desk`` process on
127.0.0.1 (uvicorn), and a real browser (Debian chromium, headless, via selenium)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from desk_helpers import FIXED_TIME, DeskServer, Inbox, _tamper, start_desk, stop_desk
from support.pki import PASSPHRASE, TestPKI


@pytest.fixture(scope="session")
def inbox(tmp_path_factory: pytest.TempPathFactory, pki: TestPKI, pki_services: Any) -> Inbox:
    """Six letters: two valid B-LT letters from two officers, a tampered one, a B-B one (no
    revocation data: cannot be confirmed offline), an unsigned one and a broken file."""
    from thaisign import Signer, sign_pdf
    from thaisign.pades import make_letter

    folder = tmp_path_factory.mktemp("inbox")
    plain = folder / "ร่าง-ไม่ได้ลงนาม.pdf"
    plain.write_bytes(make_letter())
    ec = Signer.from_pkcs12(pki.officer_ec.p12, PASSPHRASE)
    rsa = Signer.from_pkcs12(pki.officer_rsa.p12, PASSPHRASE)
    src = folder.parent / f"{folder.name}-src.pdf"
    src.write_bytes(make_letter(signer_name="นางสาวสมหญิง รักไทย", position="นักจัดการงานทั่วไป"))
    common = {"tsa": pki_services.tsa_url, "signing_time": FIXED_TIME, "anchor_text": "ลงชื่อ"}
    sign_pdf(plain, folder / "หนังสือ-กสถ-0801-2569.pdf", ec, level="B-LT", **common)
    sign_pdf(src, folder / "หนังสือ-สพฐ-ด่วน.pdf", rsa, level="B-LT", **common)
    sign_pdf(plain, folder / "ลงนาม-ไม่มีข้อมูลเพิกถอน.pdf", ec, signing_time=FIXED_TIME, anchor_text="ลงชื่อ")
    tampered = _tamper((folder / "หนังสือ-กสถ-0801-2569.pdf").read_bytes())
    (folder / "ถูกแก้ไขหลังลงนาม.pdf").write_bytes(tampered)
    (folder / "ไฟล์เสีย.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer <<>>\n")
    expected = {
        "หนังสือ-กสถ-0801-2569.pdf": "TOTAL_PASSED",
        "หนังสือ-สพฐ-ด่วน.pdf": "TOTAL_PASSED",
        "ลงนาม-ไม่มีข้อมูลเพิกถอน.pdf": "INDETERMINATE",
        "ถูกแก้ไขหลังลงนาม.pdf": "TOTAL_FAILED",
        "ร่าง-ไม่ได้ลงนาม.pdf": "NO_SIGNATURE",
        "ไฟล์เสีย.pdf": "ERROR",
    }
    return Inbox(folder, expected)


@pytest.fixture(scope="session")
def desk_server(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeskServer]:
    server = start_desk(pki, tmp_path_factory.mktemp("register") / "register.db")
    yield server
    stop_desk(server)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from support.browser import chromium

    with chromium() as driver:
        yield driver
