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
from asn1crypto import tsp as asn1_tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from thaisign.errors import CertificateError, ThaisignError
from thaisign.keys import Signer

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

_IMPRINT_HASHES = {"sha256": 32, "sha384": 48, "sha512": 64}
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
        self._asn1_cert = asn1_x509.Certificate.load(_der(cert))
        certs = [self._asn1_cert]
        if include_chain:
            certs += [asn1_x509.Certificate.load(_der(c)) for c in signer.chain]
        self._certs_with_req = asn1_cms.CertificateSet(
            [asn1_cms.CertificateChoices("certificate", c) for c in certs]
        )
        self._tsa_name = asn1_x509.GeneralName(name="directory_name", value=self._asn1_cert.subject)
        self._sid = asn1_cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={"issuer": self._asn1_cert.issuer, "serial_number": self._asn1_cert.serial_number},
        )
        self._ess_attr = asn1_cms.CMSAttribute(
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
                                        asn1_x509.GeneralName(
                                            name="directory_name", value=self._asn1_cert.issuer
                                        )
                                    ],
                                    "serial_number": self._asn1_cert.serial_number,
                                },
                            }
                        ]
                    }
                ],
            }
        )
        self._digest_algo = asn1_algos.DigestAlgorithm({"algorithm": self.hash_algorithm})
        self._sig_algo = signer.signature_algorithm(self.hash_algorithm)
        acc: dict[str, int] = {}
        micros = int(accuracy / dt.timedelta(microseconds=1))
        if micros // 1_000_000:
            acc["seconds"] = micros // 1_000_000
        if (micros // 1000) % 1000:
            acc["millis"] = (micros // 1000) % 1000
        if micros % 1000:
            acc["micros"] = micros % 1000
        self._accuracy = asn1_tsp.Accuracy(acc) if acc else None

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

    def _parse(self, request_der: bytes) -> asn1_tsp.TimeStampReq:
        if len(request_der) > MAX_REQUEST_BYTES:
            raise _Rejected("bad_data_format", f"request larger than {MAX_REQUEST_BYTES} bytes")
        try:
            req = asn1_tsp.TimeStampReq.load(request_der, strict=True)
            version = req["version"].native
            algorithm = req["message_imprint"]["hash_algorithm"]["algorithm"].native
            digest = req["message_imprint"]["hashed_message"].native
            nonce = req["nonce"].native
            _ = req["cert_req"].native, req["req_policy"].native
            extensions = req["extensions"].native
        except Exception as exc:
            raise _Rejected("bad_data_format", f"not a DER TimeStampReq ({type(exc).__name__})") from None
        if version != "v1":
            raise _Rejected("bad_request", f"unsupported TimeStampReq version {version}")
        if algorithm not in _IMPRINT_HASHES:
            raise _Rejected(
                "bad_alg", f"message imprint algorithm {algorithm} not accepted; use SHA-256/384/512"
            )
        if not isinstance(digest, bytes) or len(digest) != _IMPRINT_HASHES[algorithm]:
            raise _Rejected("bad_data_format", f"message imprint is not a {algorithm} digest")
        if nonce is not None and abs(nonce).bit_length() > _MAX_NONCE_BITS:
            raise _Rejected("bad_request", f"nonce longer than {_MAX_NONCE_BITS} bits")
        policy = req["req_policy"].dotted if req["req_policy"].native is not None else None
        if policy is not None and policy != self.policy_oid:
            raise _Rejected(
                "unaccepted_policy", f"policy {policy} not served; this TSA uses {self.policy_oid}"
            )
        if extensions:
            raise _Rejected("unaccepted_extensions", "request extensions are not supported")
        return req

    def _grant(self, req: asn1_tsp.TimeStampReq) -> TsaReply:
        try:
            serial = self.serials()
        except ThaisignError as exc:
            raise _Rejected("system_failure", f"serial store unavailable: {exc.message}") from None
        gen_time = self.clock().astimezone(dt.UTC)
        gen_time = gen_time.replace(microsecond=gen_time.microsecond // 1000 * 1000)
        info: dict[str, object] = {
            "version": "v1",
            "policy": self.policy_oid,
            "message_imprint": req["message_imprint"],
            "serial_number": serial,
            "gen_time": gen_time,
            "tsa": self._tsa_name,
        }
        if self._accuracy is not None:
            info["accuracy"] = self._accuracy
        nonce = req["nonce"].native
        if nonce is not None:
            info["nonce"] = nonce
        tst_info_der = asn1_tsp.TSTInfo(info).dump()
        token = self._sign_token(tst_info_der, cert_req=bool(req["cert_req"].native))
        issued = IssuedToken(
            serial=serial,
            gen_time=gen_time,
            hash_algorithm=req["message_imprint"]["hash_algorithm"]["algorithm"].native,
            message_imprint=req["message_imprint"]["hashed_message"].native,
            nonce=nonce,
            policy_oid=self.policy_oid,
            token_der=token.dump(),
        )
        if self.log is not None:
            try:
                self.log(issued)
            except ThaisignError as exc:
                raise _Rejected("system_failure", f"token log unavailable: {exc.message}") from None
        der = asn1_tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()
        return TsaReply(der, True, None, issued)

    def _sign_token(self, tst_info_der: bytes, *, cert_req: bool) -> asn1_cms.ContentInfo:
        digest = hashlib.new(self.hash_algorithm, tst_info_der).digest()
        signed_attrs = asn1_cms.CMSAttributes(
            [
                asn1_cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
                asn1_cms.CMSAttribute({"type": "message_digest", "values": [digest]}),
                self._ess_attr,
            ]
        )
        with self._sign_lock:
            signature = self.signer.sign(signed_attrs.dump(), hash_algorithm=self.hash_algorithm)
        signer_info = asn1_cms.SignerInfo(
            {
                "version": "v1",
                "sid": self._sid,
                "digest_algorithm": self._digest_algo,
                "signed_attrs": signed_attrs,
                "signature_algorithm": self._sig_algo,
                "signature": signature,
            }
        )
        signed_data: dict[str, object] = {
            "version": "v3",
            "digest_algorithms": [self._digest_algo],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": asn1_core.ParsableOctetString(tst_info_der),
            },
            "signer_infos": [signer_info],
        }
        if cert_req:
            signed_data["certificates"] = self._certs_with_req
        return asn1_cms.ContentInfo(
            {"content_type": "signed_data", "content": asn1_cms.SignedData(signed_data)}
        )


def rejection(failure: str, text: str) -> bytes:
    """A DER TimeStampResp refusing the request with PKIFailureInfo ``failure``."""
    return asn1_tsp.TimeStampResp(
        {"status": {"status": "rejection", "status_string": [text], "fail_info": {failure}}}
    ).dump()
