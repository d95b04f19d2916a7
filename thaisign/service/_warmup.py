"""Warming a worker before it takes requests: the first signDoc in a process would otherwise
import the PDF machinery, parse the Thai font and subset it while clients wait."""

from __future__ import annotations

import datetime as dt

#: a one-page PDF, enough for a throwaway signature
_PAGE = (
    b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
    b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n"
)


def _pdf() -> bytes:
    offsets = [_PAGE.index(b"%d 0 obj" % n) for n in (1, 2, 3)]
    xref = len(_PAGE)
    table = b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return _PAGE + table + b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref


def warm_up() -> None:
    """Sign a blank page with a throwaway key and the Thai appearance (every glyph of a date line)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from thaisign.keys import SoftwareSigner
    from thaisign.pades.appearance import SignatureAppearance
    from thaisign.pades.signer import SigningOptions, sign_pdf_bytes

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ทดสอบระบบ")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    lines = ("ทดสอบระบบลงนาม ๐๑๒๓๔๕๖๗๘๙ น.", "มกราคม กุมภาพันธ์ มีนาคม เมษายน พฤษภาคม มิถุนายน")
    options = SigningOptions(
        rect=(300, 60, 560, 160),
        signing_time=now,
        appearance=SignatureAppearance(lines=lines),
        signer_check="off",  # a throwaway key: nothing to check
    )
    sign_pdf_bytes(_pdf(), SoftwareSigner(key, cert), options)
