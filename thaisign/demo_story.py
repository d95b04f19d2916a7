"""The whole story on a demo: CA → OCSP/CRL and TSA on 127.0.0.1 → a signed Thai letter → a report.

>>> story = run_demo("./thaisign-demo")
>>> story.report.verdict
<Verdict.TOTAL_PASSED: 'TOTAL_PASSED'>

The CA's status services and its time-stamping authority run in this process, on loopback,
only while the demo runs; the letter is signed at level B-LT (timestamp, certificates and
OCSP answers embedded), so the clerk's check at the end needs no network at all.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from thaisign._fs import atomic_write
from thaisign.demo import DEMO_AGENCY, DemoPki, make_demo
from thaisign.errors import ServiceError

TSA_FOLDER = "tsa"


@dataclass(frozen=True)
class DemoStory:
    """What the demo made: the PKI, the letter before and after signing, and the clerk's report."""

    pki: DemoPki
    letter: Path
    signed: Path
    report_html: Path
    report_json: Path
    report: Any  # thaisign.verify.VerificationReport


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextlib.contextmanager
def _serve(app: Callable[..., Any], port: int) -> Iterator[str]:
    try:
        server = make_server("127.0.0.1", port, app, server_class=_ThreadingServer, handler_class=_Quiet)
    except OSError as exc:
        raise ServiceError(
            f"cannot serve the demo CA on 127.0.0.1:{port}: {exc.strerror}",
            hint="free that port, or run the demo in a new folder with --dir",
        ) from None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _existing_base_url(directory: Path) -> str | None:
    from thaisign.ca.profiles import PROFILE_FILE

    profile = directory / "ca" / PROFILE_FILE
    if not profile.exists():
        return None
    import tomllib

    with profile.open("rb") as fh:
        data = tomllib.load(fh)
    url = data.get("base_url") or data.get("ca", {}).get("base_url")
    return str(url) if url else None


def run_demo(directory: str | Path = "thaisign-demo", *, lang: str = "th") -> DemoStory:
    """Make (or reuse) the demo CA, serve it, sign a Thai letter at B-LT and verify it offline."""
    from thaisign.ca.server import CaServiceConfig, build_ca_app
    from thaisign.keys import Signer
    from thaisign.pades import SignatureAppearance, make_letter, sign_pdf
    from thaisign.tsa.server import tsa_app
    from thaisign.tsa.setup import init_tsa, open_tsa
    from thaisign.verify import TrustStore, verify_pdf
    from thaisign.verify.render_html import reports_html
    from thaisign.verify.render_json import reports_json

    d = Path(directory)
    base_url = _existing_base_url(d) or f"http://127.0.0.1:{_free_port()}"
    port = urllib.parse.urlsplit(base_url).port or 80
    pki = make_demo(d, base_url=base_url)
    tsa_dir = d / TSA_FOLDER
    if not tsa_dir.exists():
        init_tsa(
            tsa_dir,
            passphrase=pki.ca_passphrase,
            ca_dir=pki.ca_dir,
            ca_passphrase=pki.ca_passphrase,
            name=f"{DEMO_AGENCY} TSA",
        )
    letter, signed = d / "letter.pdf", d / "letter-signed.pdf"
    atomic_write(letter, make_letter(signer_name="นายสมชาย ใจดี", position="ผู้อำนวยการกองกลาง"))
    ca_app = build_ca_app(CaServiceConfig(pki.ca_dir, signer="ca", ca_passphrase=pki.ca_passphrase))
    tsa, _store = open_tsa(tsa_dir, passphrase=pki.ca_passphrase)
    with _serve(ca_app, port), _serve(tsa_app(tsa), 0) as tsa_url:
        signer = Signer.from_pkcs12(pki.officer_p12, pki.officer_passphrase)
        sign_pdf(
            letter,
            signed,
            signer,
            level="B-LT",
            tsa=f"{tsa_url}/tsa",
            anchor_text="ลงชื่อ",  # the stamp goes in the free space above the dotted line
            reason="อนุมัติหนังสือภายนอก",
            location=DEMO_AGENCY,
            appearance=SignatureAppearance(),
        )
    trust = TrustStore.from_paths([pki.ca_dir / "ca.pem"])
    report = verify_pdf(signed, trust, revocation="offline")
    report_html, report_json = d / "report.html", d / "report.json"
    atomic_write(report_html, reports_html([report], lang).encode("utf-8"))
    atomic_write(report_json, reports_json([report]).encode("utf-8"))
    return DemoStory(pki, letter, signed, report_html, report_json, report)
