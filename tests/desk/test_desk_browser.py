"""The desk in a real browser: upload through the page, verdicts read from the DOM, the register
printed to PDF by chromium and read back with pdftotext, exports and the saved register."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from desk_helpers import EN_VERDICT, TH_VERDICT, Inbox, wait_for
from support.tools import require_tool

pytestmark = pytest.mark.slow


def _upload(browser: Any, url: str, files: list[Path], field: str = "letters") -> list[Any]:
    from selenium.webdriver.common.by import By

    browser.get(url + "/")
    browser.find_element(By.ID, field).send_keys("\n".join(str(f) for f in files))
    browser.find_element(By.ID, "check").click()
    return wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "article.card"))


def _cards(browser: Any) -> dict[str, Any]:
    from selenium.webdriver.common.by import By

    out = {}
    for card in browser.find_elements(By.CSS_SELECTOR, "article.card"):
        name = card.find_element(By.CSS_SELECTOR, ".file-name").text.strip()
        out[name] = card
    return out


def _shot(browser: Any, name: str, tmp_path: Path) -> Path:
    """A screenshot; also into $THAISIGN_DOC_SHOTS (how docs/ got its pictures)."""
    path = tmp_path / name
    browser.save_screenshot(str(path))
    target = os.environ.get("THAISIGN_DOC_SHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(target) / name))
    return path


def test_upload_through_the_page_one_card_per_letter(
    browser: Any, desk_server: Any, inbox: Inbox, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    files = sorted(inbox.folder.iterdir())
    _upload(browser, desk_server.url, files)
    cards = _cards(browser)
    assert {n: c.get_attribute("data-verdict") for n, c in cards.items()} == inbox.expected
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("class") == "show-th"
    ok = cards["หนังสือ-กสถ-0801-2569.pdf"]
    assert ok.find_element(By.CSS_SELECTOR, ".verdict").text == "ถูกต้อง"
    assert ok.find_element(By.CSS_SELECTOR, "dd.signer").text == "นายสมชาย ใจดี"
    assert ok.find_element(By.CSS_SELECTOR, "dd.position").text == "ผู้อำนวยการกอง"
    assert ok.find_element(By.CSS_SELECTOR, "dd.agency").text == "กรมทดสอบระบบ"
    # พ.ศ., Bangkok time, the official style; and where the time comes from
    assert ok.find_element(By.CSS_SELECTOR, "dd.when").text.startswith("๒๑ พฤศจิกายน ๒๕๖๙ เวลา ๑๐.๔๒ น.")
    assert "ตามการประทับเวลาของ" in ok.find_element(By.CSS_SELECTOR, "dd.when").text
    assert ok.find_element(By.CSS_SELECTOR, "dd.changes").text.startswith("มีเฉพาะที่อนุญาต")  # B-LT data
    bad = cards["ถูกแก้ไขหลังลงนาม.pdf"]
    assert bad.find_element(By.CSS_SELECTOR, ".verdict").text == "ไม่ถูกต้อง"
    assert bad.find_element(By.CSS_SELECTOR, "dd.changes").text == "มีการแก้ไขที่ไม่อนุญาต"
    for name, card in cards.items():
        assert card.find_element(By.CSS_SELECTOR, ".verdict").text == TH_VERDICT[inbox.expected[name]]
    _shot(browser, "desk-results-th.png", tmp_path)

    # the English switch: the same page, every visible word in English
    browser.find_element(By.ID, "lang-switch").click()
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("class") == "show-en"
    for name, card in _cards(browser).items():
        assert card.find_element(By.CSS_SELECTOR, ".verdict").text == EN_VERDICT[inbox.expected[name]]
    assert ok.find_element(By.CSS_SELECTOR, "dd.when").text.startswith("21 November 2026 10:42:00 (UTC+7)")
    browser.find_element(By.ID, "lang-switch").click()
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("class") == "show-th"

    # details: a picture of the signed page with the box marked
    ok.find_element(By.CSS_SELECTOR, "details summary").click()
    img = ok.find_element(By.CSS_SELECTOR, "img.page-picture")
    assert wait_for(lambda: browser.execute_script("return arguments[0].naturalWidth", img)) > 500
    assert "กรอบสีแดงคือตำแหน่งลายมือชื่อ" in ok.find_element(By.CSS_SELECTOR, "figcaption").text
    browser.execute_script("arguments[0].scrollIntoView()", ok)
    _shot(browser, "desk-details-th.png", tmp_path)
    ok.find_element(By.CSS_SELECTOR, "details summary").click()


def test_the_register_prints_on_a4_one_row_per_letter_with_whole_labels(
    browser: Any, desk_server: Any, inbox: Inbox, tmp_path: Path
) -> None:
    import base64

    from selenium.webdriver.common.print_page_options import PrintOptions

    require_tool("pdftotext")
    files = sorted(inbox.folder.iterdir())
    _upload(browser, desk_server.url, files)
    options = PrintOptions()
    options.page_width, options.page_height = 21.0, 29.7  # A4, in cm
    pdf = tmp_path / "register.pdf"
    pdf.write_bytes(base64.b64decode(browser.print_page(options)))
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "(A4)" in info
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    header = next(line for line in text.splitlines() if "ลำดับ" in line)
    for label in ("ลำดับ", "ไฟล์", "เรื่อง", "ผู้ลงนาม", "ตำแหน่ง", "หน่วยงาน", "เวลาที่ลงนาม", "ผลการตรวจสอบ"):
        assert re.search(rf"(^|\s){label}(\s|$)", header), (label, header)  # whole, on the header line
    rows = [line for line in text.splitlines() if re.match(r"^\s*\d+\s+\S", line)]
    assert [int(r.split()[0]) for r in rows] == list(range(1, len(files) + 1))  # one row per letter
    verdicts = sorted(TH_VERDICT[v] for v in inbox.expected.values())
    found = sorted(
        next(w for w in sorted(TH_VERDICT.values(), key=len, reverse=True) if w in r) for r in rows
    )
    assert found == verdicts
    assert "นายสมชาย" in text and "รักไทย" in text
    assert "ขอเชิญ" in text  # the subject, read from the letter's เรื่อง line
    assert "รายละเอียดและหน้าที่ลงนาม" not in text  # the cards are for the screen only
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "print")], check=True
    )


def _post(url: str, fields: dict[str, str], origin: str | None) -> tuple[int, bytes, dict[str, str]]:
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(url, data=data, method="POST")
    if origin:
        req.add_header("Origin", origin)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def test_exports_and_the_saved_register(browser: Any, desk_server: Any, inbox: Inbox) -> None:
    import csv
    import io

    from selenium.webdriver.common.by import By

    files = sorted(inbox.folder.iterdir())
    _upload(browser, desk_server.url, files)
    rows = browser.find_element(By.CSS_SELECTOR, "form[action='/export'] input[name=rows]").get_attribute(
        "value"
    )
    sig = browser.find_element(By.CSS_SELECTOR, "form[action='/export'] input[name=sig]").get_attribute(
        "value"
    )
    status, body, headers = _post(
        desk_server.url + "/export",
        {"rows": rows, "sig": sig, "format": "csv", "lang": "th"},
        desk_server.url,
    )
    assert status == 200 and headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert table[0][:7] == ["ไฟล์", "เรื่อง", "ผู้ลงนาม", "ตำแหน่ง", "หน่วยงาน", "เวลาที่ลงนาม", "ผลการตรวจสอบ"]
    assert len(table) == 1 + len(files)
    assert {r[0]: r[7] for r in table[1:]} == inbox.expected
    status, body, _ = _post(
        desk_server.url + "/export", {"rows": rows, "sig": sig, "format": "json"}, desk_server.url
    )
    letters = json.loads(body)["letters"]
    assert [x["verdict"] for x in letters] == [inbox.expected[x["file"]] for x in letters]
    # rows changed in the page are refused: the export is what was checked
    forged = rows.replace("TOTAL_FAILED", "TOTAL_PASSED")
    assert _post(desk_server.url + "/export", {"rows": forged, "sig": sig}, desk_server.url)[0] == 400

    assert not desk_server.register.exists()  # nothing kept until the clerk saves
    browser.find_element(By.ID, "save").click()
    wait_for(lambda: browser.find_elements(By.ID, "saved"))
    assert browser.current_url.startswith(desk_server.url + "/register")
    saved = browser.find_elements(By.CSS_SELECTOR, "table.register tbody tr")
    assert len(saved) == len(files)
    with urllib.request.urlopen(desk_server.url + "/register/export?format=json", timeout=30) as resp:
        doc = json.loads(resp.read())
    assert sorted(x["file"] for x in doc["letters"]) == sorted(inbox.expected)
    assert all(len(x["sha256"]) == 64 for x in doc["letters"])
    from thaisign.desk.register_store import RegisterStore

    assert RegisterStore(desk_server.register).verify() is None


def test_a_folder_picked_in_the_page(browser: Any, desk_server: Any, inbox: Inbox) -> None:
    from selenium.webdriver.common.by import By

    browser.get(desk_server.url + "/")
    browser.find_element(By.ID, "folder").send_keys(str(inbox.folder))
    browser.find_element(By.ID, "check").click()
    cards = wait_for(lambda: _cards(browser))
    assert {n.rsplit("/", 1)[-1]: c.get_attribute("data-verdict") for n, c in cards.items()} == inbox.expected


def test_no_remote_assets_and_sarabun_served_locally(browser: Any, desk_server: Any, inbox: Inbox) -> None:
    _upload(browser, desk_server.url, [inbox.path("หนังสือ-กสถ-0801-2569.pdf")])
    urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(desk_server.url + "/") for u in urls), urls
    assert browser.execute_script("return document.fonts.check('16px Sarabun')")
    fonts = browser.execute_script(
        "return Array.from(document.fonts).filter(f => f.status === 'loaded').map(f => f.family)"
    )
    assert any("Sarabun" in f for f in fonts)
    with urllib.request.urlopen(desk_server.url + "/", timeout=30) as resp:
        csp = resp.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp


def test_verify_html_prints_with_the_summary_first_and_whole_labels(
    browser: Any, pki: Any, inbox: Inbox, tmp_path: Path
) -> None:
    """`verify --html` of a folder: the summary table first, labels whole words, printed on A4."""
    import base64

    from desk_helpers import DESK_AT
    from selenium.webdriver.common.print_page_options import PrintOptions

    report = tmp_path / "รายงาน.html"
    result = subprocess.run(
        [sys.executable, "-m", "thaisign", "verify", str(inbox.folder), "--offline",
         "--trust", str(pki.root_pem), "--at", DESK_AT.isoformat(), "--html", str(report)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "LANG": "C.UTF-8"},
    )  # fmt: skip
    assert result.returncode == 1 and report.exists(), result.stderr
    browser.get(report.as_uri())
    options = PrintOptions()
    options.page_width, options.page_height = 21.0, 29.7
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(base64.b64decode(browser.print_page(options)))
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    lines = text.splitlines()
    summary = next(i for i, line in enumerate(lines) if "ลำดับ" in line and "ผลการตรวจสอบ" in line)
    first_detail = next(i for i, line in enumerate(lines) if line.strip().startswith("1. "))
    assert summary < first_detail  # the summary table comes first
    rows = [line for line in lines[summary:first_detail] if re.match(r"^\s*\d+\s+\S", line)]
    assert len(rows) == len(inbox.expected)
    for label in ("การแก้ไขหลังลงนาม", "ลายมือชื่อครอบคลุม", "ใบรับรองหลักที่เชื่อถือ", "สถานะการเพิกถอน", "เวลาที่ลงนาม"):
        assert any(re.match(rf"^\s*{label}\s", line) for line in lines), label  # whole, at the line start
    assert "--trust" not in text or all("--trust" in line for line in lines if "trust" in line)
    assert "Common Name" not in text and "Organization" not in text  # Thai mode: Thai labels only
