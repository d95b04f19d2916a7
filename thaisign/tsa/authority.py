"""An RFC 3161 time-stamping authority: TimeStampReq in, TimeStampResp out.

The TSTInfo and the CMS SignedData around it are built with asn1crypto and signed through a
:class:`thaisign.keys.Signer` (a key in a file or in a PKCS#11 token). The signer certificate
is bound by an ESS signing-certificate-v2 attribute (RFC 5816).

>>> tsa = TimeStampAuthority(signer, policy_oid="1.3.6.1.4.1.99999.1.1")
>>> response_der = tsa.respond(request_der)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from asn1crypto import algos as asn1_algos
from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from asn1crypto import tsp as _asn1_tsp  # noqa: F401 - registers signing_certificate_v2 in cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from thaisign.errors import CertificateError, ThaisignError
from thaisign.keys import Signer
from thaisign.tsa import _tsp_der as _tsp

__all__ = [
    "DEFAULT_POLICY_OID",
    "MAX_REQUEST_BYTES",
    "CounterSerials",
    "IssuedToken",
    "TimeStampAuthority",
    "TsaReply",
]

_log = logging.getLogger(__name__)

#: A placeholder policy for tests and demos; an agency sets its own registered OID.
DEFAULT_POLICY_OID = "1.3.6.1.4.1.60000.3161.1"
#: A TimeStampReq is ~100 bytes; anything far larger is refused as badDataFormat.
MAX_REQUEST_BYTES = 16 * 1024

_MAX_NONCE_BITS = 512


@dataclass(frozen=True)
class IssuedToken:
    """What the token log keeps for every timestamp issued."""

    serial: int
    gen_time: dt.datetime
    hash_algorithm: str
    message_imprint: bytes
    nonce: int | None
    policy_oid: str
    token_der: bytes  # the TimeStampToken (a CMS ContentInfo)


@dataclass(frozen=True)
class TsaReply:
    """A DER TimeStampResp, and the token when one was granted."""

    der: bytes
    granted: bool
    failure: str | None = None  # PKIFailureInfo name: bad_alg, bad_request, bad_data_format, ...
    token: IssuedToken | None = None


class CounterSerials:
    """Monotonic serial numbers in one process, starting at the current time in microseconds.

    For several processes or restarts use the serial store in :mod:`thaisign.tsa.store`.
    """

    def __init__(self, start: int | None = None) -> None:
        self._counter = itertools.count(start if start is not None else time.time_ns() // 1000)
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            return next(self._counter)


class _Rejected(Exception):
    def __init__(self, failure: str, text: str) -> None:
        super().__init__(text)
        self.failure = failure
        self.text = text


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def check_tsa_certificate(cert: x509.Certificate) -> None:
    """Raise :class:`CertificateError` unless ``cert`` has the critical EKU id-kp-timeStamping only."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise CertificateError(
            "the TSA certificate has no extended key usage",
            hint="issue it with a critical EKU id-kp-timeStamping (thaisign tsa init)",
        ) from None
    if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise CertificateError(
            "the TSA certificate's EKU must be exactly id-kp-timeStamping and critical (RFC 3161 2.3)",
            hint="issue a dedicated TSA certificate with thaisign tsa init",
        )


class TimeStampAuthority:
    """Answers RFC 3161 TimeStampReq messages with tokens signed by ``signer``.

    ``serials`` returns a new unique serial per token (:class:`CounterSerials` by default, or a
    store); ``log`` is called with every :class:`IssuedToken` *before* it is returned, and a
    failing log refuses the request (``systemFailure``) rather than issue an unlogged token.
    """

    def __init__(
        self,
        signer: Signer,
        *,
        policy_oid: str = DEFAULT_POLICY_OID,
        serials: Callable[[], int] | None = None,
        log: Callable[[IssuedToken], None] | None = None,
        accuracy: dt.timedelta = dt.timedelta(seconds=1),
        clock: Callable[[], dt.datetime] = _utc_now,
        hash_algorithm: str | None = None,
        include_chain: bool = True,
        check_certificate: bool = True,
    ) -> None:
        cert = signer.certificate
        if cert is None:
            raise CertificateError("the TSA signer has no certificate", hint="give the TSA certificate")
        if check_certificate:
            check_tsa_certificate(cert)
        self.signer = signer
        self.policy_oid = policy_oid
        self.serials = serials or CounterSerials()
        self.log = log
        self.accuracy = accuracy
        self.clock = clock
        self.hash_algorithm = hash_algorithm or signer.key_spec.default_hash()
        self._sign_lock = threading.Lock()
        asn1_cert = asn1_x509.Certificate.load(_der(cert))
        certs = [_der(cert)]
        if include_chain:
            certs += [_der(c) for c in signer.chain if c != cert]
        # constant parts of every token, encoded once (asn1crypto), spliced in per token (DER)
        self._certificates_der = b"".join(sorted(certs))
        self._tsa_name_der = asn1_x509.GeneralName(name="directory_name", value=asn1_cert.subject).dump()
        self._policy_der = asn1_core.ObjectIdentifier(policy_oid).dump()
        self._sid_der = asn1_cms.IssuerAndSerialNumber(
            {"issuer": asn1_cert.issuer, "serial_number": asn1_cert.serial_number}
        ).dump()
        self._ess_der = asn1_cms.CMSAttribute(
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "hash_algorithm": {"algorithm": "sha256"},
                                "cert_hash": hashlib.sha256(_der(cert)).digest(),
                                "issuer_serial": {
                                    "issuer": [
                                        asn1_x509.GeneralName(name="directory_name", value=asn1_cert.issuer)
                                    ],
                                    "serial_number": asn1_cert.serial_number,
                                },
                            }
                        ]
                    }
                ],
            }
        ).dump()
        self._digest_algo_der = asn1_algos.DigestAlgorithm({"algorithm": self.hash_algorithm}).dump()
        self._sig_algo_der = signer.signature_algorithm(self.hash_algorithm).dump()
        self._accuracy_der = _tsp.accuracy(int(accuracy / dt.timedelta(microseconds=1)))

    @property
    def certificate(self) -> x509.Certificate:
        cert = self.signer.certificate
        assert cert is not None
        return cert

    def respond(self, request_der: bytes) -> bytes:
        """The DER TimeStampResp for a DER TimeStampReq. Never raises for bad input."""
        return self.reply(request_der).der

    def reply(self, request_der: bytes) -> TsaReply:
        """Like :meth:`respond`, also saying whether a token was granted and why not."""
        try:
            req = self._parse(request_der)
            return self._grant(req)
        except _Rejected as rej:
            _log.info("TSA: rejected (%s): %s", rej.failure, rej.text)
            return TsaReply(rejection(rej.failure, rej.text), False, rej.failure)
        except Exception:
            _log.exception("TSA: internal error")
            return TsaReply(rejection("system_failure", "internal error"), False, "system_failure")

    # --- internals ----------------------------------------------------------------------------

    def _parse(self, request_der: bytes) -> _tsp.TimeStampRequest:
        if len(request_der) > MAX_REQUEST_BYTES:
            raise _Rejected("bad_data_format", f"request larger than {MAX_REQUEST_BYTES} bytes")
        try:
            req = _tsp.parse_request(request_der, max_nonce_bytes=_MAX_NONCE_BITS // 8)
        except _tsp.BadRequest as bad:
            raise _Rejected(bad.failure, bad.text) from None
        if req.policy_oid_der is not None and req.policy_oid_der != self._policy_der:
            raise _Rejected(
                "unaccepted_policy",
                f"policy {_tsp.oid_text(req.policy_oid_der[2:])} not served; this TSA uses {self.policy_oid}",
            )
        return req

    def _grant(self, req: _tsp.TimeStampRequest) -> TsaReply:
        try:
            serial = self.serials()
        except ThaisignError as exc:
            raise _Rejected("system_failure", f"serial store unavailable: {exc.message}") from None
        when = self.clock().astimezone(dt.UTC)
        when = when.replace(microsecond=when.microsecond // 1000 * 1000)
        info = _tsp.tst_info(
            policy_oid_der=self._policy_der,
            request=req,
            serial=serial,
            when=when,
            accuracy_der=self._accuracy_der,
            tsa_name_der=self._tsa_name_der,
        )
        attrs = _tsp.signed_attributes(hashlib.new(self.hash_algorithm, info).digest(), self._ess_der)
        with self._sign_lock:
            signature = self.signer.sign(attrs, hash_algorithm=self.hash_algorithm)
        token = _tsp.time_stamp_token(
            tst_info_der=info,
            signed_attrs_set=attrs,
            signature=signature,
            digest_algorithm_der=self._digest_algo_der,
            signature_algorithm_der=self._sig_algo_der,
            sid_der=self._sid_der,
            certificates_der=self._certificates_der if req.cert_req else b"",
        )
        issued = IssuedToken(
            serial=serial,
            gen_time=when,
            hash_algorithm=req.hash_algorithm,
            message_imprint=req.digest,
            nonce=req.nonce,
            policy_oid=self.policy_oid,
            token_der=token,
        )
        if self.log is not None:
            try:
                self.log(issued)
            except ThaisignError as exc:
                raise _Rejected("system_failure", f"token log unavailable: {exc.message}") from None
        return TsaReply(_tsp.granted(token), True, None, issued)


def rejection(failure: str, text: str) -> bytes:
    """A DER TimeStampResp refusing the request with PKIFailureInfo ``failure``."""
    return _tsp.rejection(failure, text)
