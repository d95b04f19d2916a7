"""Constants and checkers of the tests over signed files (a module of its own: ``from conftest
import`` is ambiguous when several test folders with a conftest.py run in one session)."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

from support.pki import FIXED_TIME, TestPKI
from support.tools import require_tool

#: a moment just after FIXED_TIME: the test services answer at FIXED_TIME, so B-LT data is fresh
AT = FIXED_TIME + dt.timedelta(minutes=5)


def openssl_cms_verify(
    pki: TestPKI, signature: Path, content: Path | None = None, at: dt.datetime = AT
) -> subprocess.CompletedProcess[str]:
    """``openssl cms -verify`` with the test root as the only trust anchor, at ``at``.

    ``-purpose any``: the officers' certificates carry the document-signing EKU, not S/MIME's
    emailProtection, which openssl's default purpose (smimesign) would demand.
    """
    args = [require_tool("openssl"), "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature)]
    args += ["-CAfile", str(pki.root_pem), "-purpose", "any", "-attime", str(int(at.timestamp()))]
    args += ["-out", "/dev/null"]
    if content is not None:
        args += ["-content", str(content)]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)
