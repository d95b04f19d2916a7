"""A time-travelling PKI: certificates with lifetimes spread over decades, services whose clock moves.

Signing happens at ``T`` (the tests' FIXED_TIME, 2026-11-21). Lifetimes, in years after T:

    root (agency root)          2026 … 2076     OCSP for its CAs signed by the root key itself
    agency CA                   2026 … 2046     OCSP by a delegated responder (nocheck), CRL
    OCSP responder              2026 … 2046
    officer                     2026-06 … 2028-06   (expires ~1.5 years after signing)
    TSA  (signature time-stamps, issued by the agency CA)   2026 … 2038   (~11 years)
    TSA-LTA (archive time-stamps, issued by the root)      2026 … 2066
    TSA-LTA 2 (the archive TSA's successor, by the root)    2055 … 2095

so a letter signed at T can be checked at T+1 day, +1 year, +10 years (everything but the
officer still valid), after the signature TSA expired (+12 years) and after the agency CA expired
(+21 years). :class:`TimelineServices` serves OCSP, CRLs and both TSAs over real HTTP on
127.0.0.1 at a settable ``now``; ``down`` makes every service answer 503 (an unreachable
responder). Letters are built step by step with real tools: thaisign signs B-T, the validation
data is fetched over HTTP here and added with pyHanko's DSS writer, document time-stamps are
pyHanko's.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from support.pki import (
    DOCUMENT_SIGNING,
    FIXED_TIME,
    MS_DOCUMENT_SIGNING,
    PASSPHRASE,
    Issued,
    _cert,
    _name,
    _write,
)
from support.servers import serve_wsgi
from support.services import _CRL_REASONS, TEST_TSA_POLICY
from thaisign._service import Handler, Request, Response, ServiceApp
from thaisign.ca.ocsp import CertStatus, OcspResponder, normalize_reason
from thaisign.ca.server import MAX_OCSP_REQUEST_BYTES, ocsp_handler, ocsp_too_large, static_handler
from thaisign.keys import SoftwareSigner
from thaisign.tsa.authority import TimeStampAuthority
from thaisign.tsa.server import tsa_handler

T = FIXED_TIME


def years(n: float) -> dt.timedelta:
    return dt.timedelta(days=round(365.25 * n))


def _at(year: int, month: int = 1, day: int = 1) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=dt.UTC)


@dataclass
class TimelinePKI:
    dir: Path
    base_url: str
    root: Issued
    ca: Issued
    ocsp: Issued
    officer: Issued
    tsa: Issued
    tsa_lta: Issued
    tsa_lta2: Issued
    root_pem: Path
    extra: dict[str, Issued] = field(default_factory=dict)

    def issue_officer(self, name: str, cn: str = "นางสาวใจดี มีสุข", **kw: object) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(
            _name(cn, title="นักจัดการงานทั่วไป"),
            key.public_key(),
            self.ca.cert.subject,
            self.ca.key,
            ca=False,
            base_url=self.base_url,
            eku=kw.pop("eku", [DOCUMENT_SIGNING, MS_DOCUMENT_SIGNING]),  # type: ignore[arg-type]
            not_before=kw.pop("not_before", _at(2026, 6)),  # type: ignore[arg-type]
            not_after=kw.pop("not_after", _at(2028, 6)),  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )
        issued = _write(self.dir, name, key, cert, [self.ca.cert, self.root.cert])
        self.extra[name] = issued
        return issued


def build_timeline_pki(dir: Path, base_url: str) -> TimelinePKI:
    dir.mkdir(parents=True, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP384R1())
    root_name = _name("Timeline Agency Root CA", org="สำนักงานทดสอบเวลา")
    root_cert = _cert(root_name, root_key.public_key(), root_name, root_key, ca=True, not_after=_at(2076))
    root = _write(dir, "root", root_key, root_cert, [])
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _cert(
        _name("กรมทดสอบเวลา CA"),
        ca_key.public_key(),
        root_name,
        root_key,
        ca=True,
        path_len=0,
        base_url=base_url,
        not_after=_at(2046),
    )
    ca = _write(dir, "ca", ca_key, ca_cert, [root_cert])
    ocsp_key = ec.generate_private_key(ec.SECP256R1())
    ocsp_cert = _cert(
        _name("กรมทดสอบเวลา OCSP"),
        ocsp_key.public_key(),
        ca_cert.subject,
        ca_key,
        ca=False,
        eku=[ExtendedKeyUsageOID.OCSP_SIGNING],
        key_usage={"content_commitment": False},
        not_after=_at(2046),
        extra=[(x509.OCSPNoCheck(), False)],
    )
    ocsp = _write(dir, "ocsp", ocsp_key, ocsp_cert, [ca_cert, root_cert])

    def tsa_cert(label: str, name: x509.Name, issuer: Issued, chain: list, **validity: dt.datetime) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(
            name,
            key.public_key(),
            issuer.cert.subject,
            issuer.key,
            ca=False,
            base_url=base_url,
            eku=[ExtendedKeyUsageOID.TIME_STAMPING],
            eku_critical=True,
            key_usage={"content_commitment": False},
            **validity,  # type: ignore[arg-type]
        )
        return _write(dir, label, key, cert, chain)

    archive = "สำนักงานทดสอบเวลา"
    tsa = tsa_cert("tsa", _name("กรมทดสอบเวลา TSA"), ca, [ca_cert, root_cert], not_after=_at(2038))
    tsa_lta = tsa_cert(
        "tsa-lta", _name("Timeline Archive TSA", org=archive), root, [root_cert], not_after=_at(2066)
    )
    tsa_lta2 = tsa_cert(
        "tsa-lta2",
        _name("Timeline Archive TSA 2", org=archive),
        root,
        [root_cert],
        not_before=_at(2055),
        not_after=_at(2095),
    )
    pki = TimelinePKI(dir, base_url, root, ca, ocsp, ca, tsa, tsa_lta, tsa_lta2, root.cert_pem)
    pki.officer = pki.issue_officer("officer", cn="นายสมชาย ใจดี")
    return pki


@dataclass
class TimelineServices:
    pki: TimelinePKI
    base_url: str = ""
    now: dt.datetime = T
    down: bool = False
    revoked: dict[int, tuple[dt.datetime, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def tsa_url(self) -> str:
        return f"{self.base_url}/tsa"

    @property
    def lta_url(self) -> str:
        return f"{self.base_url}/tsa-lta"

    @property
    def lta2_url(self) -> str:
        return f"{self.base_url}/tsa-lta2"

    def clock(self) -> dt.datetime:
        return self.now

    @contextmanager
    def at(self, when: dt.datetime) -> Iterator[TimelineServices]:
        old, self.now = self.now, when
        try:
            yield self
        finally:
            self.now = old

    @contextmanager
    def unreachable(self) -> Iterator[None]:
        self.down = True
        try:
            yield
        finally:
            self.down = False

    def revoke(
        self, cert: Issued | x509.Certificate, when: dt.datetime, reason: str = "key_compromise"
    ) -> None:
        c = cert.cert if isinstance(cert, Issued) else cert
        with self._lock:
            self.revoked[c.serial_number] = (when.replace(microsecond=0), normalize_reason(reason))

    def unrevoke_all(self) -> None:
        with self._lock:
            self.revoked.clear()

    def _by_ca(self) -> set[int]:
        p = self.pki
        return {p.officer.cert.serial_number, p.tsa.cert.serial_number, p.ocsp.cert.serial_number} | {
            i.cert.serial_number for i in p.extra.values()
        }

    def _by_root(self) -> set[int]:
        p = self.pki
        return {p.ca.cert.serial_number, p.tsa_lta.cert.serial_number, p.tsa_lta2.cert.serial_number}

    def _status(self, serial: int, known: set[int]) -> CertStatus:
        entry = self.revoked.get(serial)
        if entry is not None and entry[0] <= self.now:
            return CertStatus.revoked(entry[0], entry[1])
        return CertStatus.good() if serial in known else CertStatus.unknown()

    def _crl(self, issuer: Issued, known: set[int]) -> bytes:
        now = self.now
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.cert.subject)
            .last_update(now)
            .next_update(now + dt.timedelta(days=7))
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
            )
            .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        )
        for serial, (when, reason) in sorted(self.revoked.items()):
            if serial not in known or when > now:
                continue
            entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
            if reason != "unspecified":
                entry = entry.add_extension(x509.CRLReason(_CRL_REASONS[reason]), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        algo = (
            hashes.SHA384()
            if isinstance(issuer.key, ec.EllipticCurvePrivateKey) and issuer.key.curve.key_size == 384
            else hashes.SHA256()
        )
        return builder.sign(issuer.key, algo).public_bytes(serialization.Encoding.DER)

    def build_app(self) -> ServiceApp:
        p = self.pki
        day = dt.timedelta(days=1)

        def responders() -> list[OcspResponder]:
            # made per request: the clock moves both ways in these tests, a cache must not
            return [
                OcspResponder(
                    p.ca.cert,
                    SoftwareSigner(p.ocsp.key, p.ocsp.cert, [p.ca.cert, p.root.cert]),
                    lambda s: self._status(s, self._by_ca()),
                    clock=self.clock,
                    validity=day,
                ),
                OcspResponder(
                    p.root.cert,
                    SoftwareSigner(p.root.key, p.root.cert),
                    lambda s: self._status(s, self._by_root()),
                    clock=self.clock,
                    validity=day,
                ),
            ]

        tsas = {
            "/tsa": TimeStampAuthority(
                SoftwareSigner(p.tsa.key, p.tsa.cert, [p.ca.cert, p.root.cert]),
                policy_oid=TEST_TSA_POLICY,
                clock=self.clock,
            ),
            "/tsa-lta": TimeStampAuthority(
                SoftwareSigner(p.tsa_lta.key, p.tsa_lta.cert, [p.root.cert]),
                policy_oid=TEST_TSA_POLICY,
                clock=self.clock,
            ),
            "/tsa-lta2": TimeStampAuthority(
                SoftwareSigner(p.tsa_lta2.key, p.tsa_lta2.cert, [p.root.cert]),
                policy_oid=TEST_TSA_POLICY,
                clock=self.clock,
            ),
        }

        def guarded(handler: Handler) -> Handler:
            def wrapper(request: Request) -> Response:
                if self.down:
                    return Response.text(503, "down for this test")
                return handler(request)

            return wrapper

        der = serialization.Encoding.DER
        ocsp = guarded(lambda request: ocsp_handler(responders(), clock=self.clock)(request))
        routes: dict[str, Handler] = {
            "/ocsp": ocsp,
            "/ocsp/": ocsp,
            "/crl/agency.crl": guarded(
                static_handler(lambda: self._crl(p.ca, self._by_ca()), "application/pkix-crl")
            ),
            "/crl/root.crl": guarded(
                static_handler(lambda: self._crl(p.root, self._by_root()), "application/pkix-crl")
            ),
            "/certs/agency.cer": guarded(
                static_handler(lambda: p.ca.cert.public_bytes(der), "application/pkix-cert")
            ),
            "/certs/root.cer": guarded(
                static_handler(lambda: p.root.cert.public_bytes(der), "application/pkix-cert")
            ),
        }
        for path, tsa in tsas.items():
            routes[path] = guarded(tsa_handler(tsa))
        return ServiceApp(routes, max_body=MAX_OCSP_REQUEST_BYTES, too_large=ocsp_too_large)

    # --- fetching, as any client would -----------------------------------------------------------

    def fetch_ocsp(self, cert: Issued | x509.Certificate, issuer: Issued) -> bytes:
        c = cert.cert if isinstance(cert, Issued) else cert
        request = x509_ocsp.OCSPRequestBuilder().add_certificate(c, issuer.cert, hashes.SHA1()).build()
        req = urllib.request.Request(
            f"{self.base_url}/ocsp",
            data=request.public_bytes(serialization.Encoding.DER),
            headers={"Content-Type": "application/ocsp-request"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return bytes(resp.read())

    def fetch_crl(self, which: str) -> bytes:
        with urllib.request.urlopen(f"{self.base_url}/crl/{which}.crl", timeout=10) as resp:
            return bytes(resp.read())


@contextmanager
def run_timeline_services(pki: TimelinePKI, port: int) -> Iterator[TimelineServices]:
    services = TimelineServices(pki)
    with serve_wsgi(services.build_app(), port=port) as url:
        services.base_url = url
        yield services


# --- building letters step by step ---------------------------------------------------------------


def sign_letter(
    pdf: bytes, pki: TimelinePKI, services: TimelineServices, officer: Issued, at: dt.datetime, *, tsa: bool
) -> bytes:
    """thaisign signs at ``at``: B-T with the agency TSA (``tsa``), else B-B."""
    from thaisign import Signer
    from thaisign.pades import sign_pdf_bytes

    signer = Signer.from_pkcs12(officer.p12, PASSPHRASE)
    with services.at(at):
        if tsa:
            return sign_pdf_bytes(pdf, signer, signing_time=at, level="B-T", tsa=services.tsa_url)
        return sign_pdf_bytes(pdf, signer, signing_time=at)


def add_validation_data(
    pdf: bytes,
    services: TimelineServices,
    at: dt.datetime,
    *,
    certs: list[Issued],
    ocsp_for: list[tuple[Issued, Issued]] = (),  # type: ignore[assignment]
    crls: tuple[str, ...] = (),
) -> bytes:
    """An incremental update adding a /DSS with certificates, OCSP responses and CRLs fetched at ``at``."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    with services.at(at):
        ocsps = [asn1_ocsp.OCSPResponse.load(services.fetch_ocsp(c, i)) for c, i in ocsp_for]
        crl_objs = [asn1_crl.CertificateList.load(services.fetch_crl(w)) for w in crls]
    cert_objs = [asn1_x509.Certificate.load(c.cert.public_bytes(serialization.Encoding.DER)) for c in certs]
    out = io.BytesIO(pdf)
    DocumentSecurityStore.add_dss(out, None, certs=cert_objs, ocsps=ocsps, crls=crl_objs, force_write=True)
    return out.getvalue()


def add_document_timestamp(pdf: bytes, services: TimelineServices, at: dt.datetime, url: str) -> bytes:
    """pyHanko adds a document time-stamp from ``url`` (the services answering at ``at``)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers, timestamps

    with services.at(at):
        w = IncrementalPdfFileWriter(io.BytesIO(pdf))
        return (
            signers.PdfTimeStamper(timestamps.HTTPTimeStamper(url, timeout=10))
            .timestamp_pdf(w, "sha256")
            .getvalue()
        )


def b_lt(
    pdf: bytes, pki: TimelinePKI, services: TimelineServices, at: dt.datetime, officer: Issued | None = None
) -> bytes:
    """B-T signed at ``at``, then everything to validate it added a minute later (B-LT)."""
    officer = officer or pki.officer
    signed = sign_letter(pdf, pki, services, officer, at, tsa=True)
    return add_validation_data(
        signed,
        services,
        at + dt.timedelta(minutes=1),
        certs=[pki.ca, pki.root, pki.tsa, pki.ocsp],
        ocsp_for=[(officer, pki.ca), (pki.tsa, pki.ca), (pki.ca, pki.root)],
        crls=("agency", "root"),
    )


def b_lta(lt: bytes, pki: TimelinePKI, services: TimelineServices, at: dt.datetime) -> bytes:
    """A B-LT letter time-stamped by the archive TSA at ``at``, with that TSA's validation data after."""
    stamped = add_document_timestamp(lt, services, at, services.lta_url)
    return add_validation_data(
        stamped,
        services,
        at + dt.timedelta(minutes=1),
        certs=[pki.tsa_lta, pki.root],
        ocsp_for=[(pki.tsa_lta, pki.root)],
        crls=("root",),
    )


def renew_archive(lta: bytes, pki: TimelinePKI, services: TimelineServices, at: dt.datetime) -> bytes:
    """Before the archive TSA's certificate expires: the previous time-stamp's data, a new time-stamp."""
    stamped = add_document_timestamp(lta, services, at, services.lta2_url)
    return add_validation_data(
        stamped,
        services,
        at + dt.timedelta(minutes=1),
        certs=[pki.tsa_lta2, pki.root],
        ocsp_for=[(pki.tsa_lta2, pki.root)],
        crls=("root",),
    )
