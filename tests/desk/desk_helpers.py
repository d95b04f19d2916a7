"""Helpers of the desk tests: the inbox, a real ``thaisign desk`` process, waiting for the page."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.pki import FIXED_TIME, TestPKI

#: the desk validates at this time (never the wall clock)
DESK_AT = FIXED_TIME + dt.timedelta(hours=1)


@dataclass(frozen=True)
class Inbox:
    """Letters as a clerk receives them, and the verdict each must get."""

    folder: Path
    expected: dict[str, str]  # file name -> verdict

    def path(self, name: str) -> Path:
        return self.folder / name


def _tamper(data: bytes) -> bytes:
    """A later revision that paints new text over the signed page (a disallowed change)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(data))
    page = w.root["/Pages"]["/Kids"][0].get_object()
    stream = generic.StreamObject(stream_data=b"0 g 72 600 300 40 re f")
    page["/Contents"] = w.add_object(stream)
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


@dataclass
class DeskServer:
    url: str
    register: Path
    process: subprocess.Popen[str]


def start_desk(pki: TestPKI, register: Path, *extra: str) -> DeskServer:
    """``thaisign desk --port 0`` as a real process; its address is read from its first line."""
    cmd = [
        sys.executable, "-m", "thaisign", "desk", "--port", "0", "--offline",
        "--trust", str(pki.root_pem), "--at", DESK_AT.isoformat(), "--register", str(register), *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LANG": "C.UTF-8"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("thaisign desk: http://"):
        proc.kill()
        raise AssertionError(f"the desk did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return DeskServer(line.split()[2].rstrip("/"), register, proc)


def stop_desk(server: DeskServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def wait_for(predicate: Any, timeout: float = 60.0) -> Any:
    """Poll ``predicate`` until it returns something truthy."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for the page")
        time.sleep(0.2)


TH_VERDICT = {
    "TOTAL_PASSED": "ถูกต้อง",
    "TOTAL_FAILED": "ไม่ถูกต้อง",
    "INDETERMINATE": "ยังยืนยันไม่ได้",
    "NO_SIGNATURE": "ไม่มีลายมือชื่อ",
    "ERROR": "ตรวจสอบไม่ได้",
}
EN_VERDICT = {
    "TOTAL_PASSED": "VALID",
    "TOTAL_FAILED": "INVALID",
    "INDETERMINATE": "CANNOT BE CONFIRMED",
    "NO_SIGNATURE": "NOT SIGNED",
    "ERROR": "ERROR",
}
