"""Real OCSP / CRL / caIssuers / TSA services for the test PKI, on 127.0.0.1 (see ``pki_services``).

Everything answers over real HTTP at the URLs written into the test PKI's certificates:

- ``POST {base}/ocsp`` and ``GET {base}/ocsp/<base64>``: thaisign's :class:`OcspResponder`;
  certificates issued by the agency CA are answered by the delegated OCSP certificate
  (``pki.ocsp``), the agency CA certificate itself by the root key directly;
- ``GET {base}/crl/agency.crl`` and ``{base}/crl/root.crl``: CRLs built with cryptography's
  ``CertificateRevocationListBuilder`` (an independent implementation) from the same revocations;
- ``GET {base}/certs/agency.cer`` and ``{base}/certs/root.cer``: the CA certificates (DER);
- ``POST {base}/tsa``: thaisign's RFC 3161 :class:`TimeStampAuthority` with ``pki.tsa``.

Time: every service uses ``services.clock()`` which returns ``services.now`` (default the
tests' ``FIXED_TIME``, 2026-11-21T03:42Z): OCSP thisUpdate/producedAt, CRL lastUpdate and TSA
genTime are all that instant unless a test sets ``services.now`` (and restores it).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from support.pki import FIXED_TIME, Issued, TestPKI
from support.servers import serve_wsgi
from thaisign._service import Handler, Request, Response, ServiceApp
from thaisign.ca.ocsp import CertStatus, OcspResponder, normalize_reason
from thaisign.ca.server import MAX_OCSP_REQUEST_BYTES, ocsp_handler, ocsp_too_large, static_handler
from thaisign.keys import SoftwareSigner
from thaisign.tsa.authority import IssuedToken, TimeStampAuthority
from thaisign.tsa.server import tsa_handler

#: The test TSA's policy OID.
TEST_TSA_POLICY = "1.3.6.1.4.1.60000.3161.99"

_CRL_REASONS = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "ca_compromise": x509.ReasonFlags.ca_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "certificate_hold": x509.ReasonFlags.certificate_hold,
    "privilege_withdrawn": x509.ReasonFlags.privilege_withdrawn,
    "aa_compromise": x509.ReasonFlags.aa_compromise,
}


@dataclass
class PkiServices:
    """The running services; see the module docstring for paths and time."""

    pki: TestPKI
    base_url: str = ""
    now: dt.datetime = FIXED_TIME
    #: serial -> (revocation time, asn1crypto reason name); shared by OCSP and both CRLs
    revoked: dict[int, tuple[dt.datetime, str]] = field(default_factory=dict)
    #: every timestamp token the TSA issued, in order
    tokens: list[IssuedToken] = field(default_factory=list)
    #: requests served per kind: "ocsp", "crl", "cert", "tsa"
    hits: dict[str, int] = field(default_factory=lambda: {"ocsp": 0, "crl": 0, "cert": 0, "tsa": 0})
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}/ocsp"

    @property
    def tsa_url(self) -> str:
        return f"{self.base_url}/tsa"

    def clock(self) -> dt.datetime:
        return self.now

    def revoke(
        self,
        cert: x509.Certificate | Issued,
        reason: object = "key_compromise",
        when: dt.datetime | None = None,
    ) -> None:
        """Revoke ``cert`` (default: one day before ``now``) in OCSP and in the next CRL."""
        certificate = cert.cert if isinstance(cert, Issued) else cert
        when = when or (self.now - dt.timedelta(days=1))
        with self._lock:
            self.revoked[certificate.serial_number] = (when.replace(microsecond=0), normalize_reason(reason))

    def unrevoke_all(self) -> None:
        with self._lock:
            self.revoked.clear()

    @contextmanager
    def at(self, when: dt.datetime) -> Iterator[PkiServices]:
        """Run a block with the services' clock set to ``when``."""
        old, self.now = self.now, when
        try:
            yield self
        finally:
            self.now = old

    # --- internals ----------------------------------------------------------------------------

    def _count(self, kind: str) -> None:
        with self._lock:
            self.hits[kind] += 1

    def _issued_by_agency(self) -> set[int]:
        p = self.pki
        certs = [p.officer_ec, p.officer_rsa, p.tsa, p.ocsp, *p.extra.values()]
        return {i.cert.serial_number for i in certs}

    def _status(self, serial: int, known: set[int]) -> CertStatus:
        entry = self.revoked.get(serial)
        if entry is not None:
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
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                critical=False,
            )
            .add_extension(x509.CRLNumber(int(now.timestamp()) + len(self.revoked)), critical=False)
        )
        for serial, (when, reason) in sorted(self.revoked.items()):
            if serial not in known:
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
        pki = self.pki
        agency_signer = SoftwareSigner(pki.ocsp.key, pki.ocsp.cert, [pki.ca.cert, pki.root.cert])
        root_signer = SoftwareSigner(pki.root.key, pki.root.cert)
        validity = dt.timedelta(days=1)
        responders = [
            OcspResponder(
                pki.ca.cert,
                agency_signer,
                lambda s: self._status(s, self._issued_by_agency()),
                clock=self.clock,
                validity=validity,
            ),
            OcspResponder(
                pki.root.cert,
                root_signer,
                lambda s: self._status(s, {pki.ca.cert.serial_number}),
                clock=self.clock,
                validity=validity,
            ),
        ]
        tsa = TimeStampAuthority(
            SoftwareSigner(pki.tsa.key, pki.tsa.cert, [pki.ca.cert, pki.root.cert]),
            policy_oid=TEST_TSA_POLICY,
            log=self.tokens.append,
            clock=self.clock,
        )
        ocsp = ocsp_handler(responders, clock=self.clock)
        tsa_h = tsa_handler(tsa)

        def counted(kind: str, handler: Handler) -> Handler:
            def wrapper(request: Request) -> Response:
                self._count(kind)
                return handler(request)

            return wrapper

        der = serialization.Encoding.DER
        return ServiceApp(
            {
                "/ocsp": counted("ocsp", ocsp),
                "/ocsp/": counted("ocsp", ocsp),
                "/crl/agency.crl": counted(
                    "crl",
                    static_handler(
                        lambda: self._crl(pki.ca, self._issued_by_agency()), "application/pkix-crl"
                    ),
                ),
                "/crl/root.crl": counted(
                    "crl",
                    static_handler(
                        lambda: self._crl(pki.root, {pki.ca.cert.serial_number}), "application/pkix-crl"
                    ),
                ),
                "/certs/agency.cer": counted(
                    "cert", static_handler(lambda: pki.ca.cert.public_bytes(der), "application/pkix-cert")
                ),
                "/certs/root.cer": counted(
                    "cert", static_handler(lambda: pki.root.cert.public_bytes(der), "application/pkix-cert")
                ),
                "/tsa": counted("tsa", tsa_h),
                "/health": lambda r: Response.text(200, "ok"),
            },
            max_body=MAX_OCSP_REQUEST_BYTES,
            too_large=ocsp_too_large,
        )


@contextmanager
def run_pki_services(pki: TestPKI, port: int) -> Iterator[PkiServices]:
    """Start the services for ``pki`` on ``127.0.0.1:port`` (the port its URLs name)."""
    services = PkiServices(pki)
    with serve_wsgi(services.build_app(), port=port) as url:
        services.base_url = url
        if url != pki.base_url:
            raise RuntimeError(f"services on {url} but the PKI's URLs name {pki.base_url}")
        yield services
