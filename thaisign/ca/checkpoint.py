"""Signed checkpoints of the audit chain head: proof of how long the log was, kept outside the store.

At every CRL publication the CA signs ``{"seq": N, "head": <hash of entry N>, ...}`` as a CMS
SignedData (content type id-data, the JSON inside; ``openssl cms -verify`` reads it). The store
keeps a copy, the CA folder holds the latest (``checkpoint.p7m``) and ``thaisign ca crl -o X.crl``
writes ``X.checkpoint.p7m`` beside the CRL for operators to keep elsewhere. A log that has lost
entries (or had them rewritten) no longer holds entry N with that hash: :func:`compare_with_chain`
says so.

>>> der = sign_checkpoint(ca_signer, ca_cert, seq=1234, head="ab12...", time=now, crl_number=7)
>>> cp = load_checkpoint(der, ca_cert)        # CheckpointError unless the CA signed it
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from asn1crypto import tsp as _asn1_tsp  # noqa: F401 - registers signing_certificate_v2 before cms maps are built
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from thaisign.errors import StoreError
from thaisign.keys import Signer, hash_algorithm

__all__ = [
    "CHECKPOINT_FILE",
    "FORMAT",
    "Checkpoint",
    "CheckpointError",
    "checkpoint_path_for",
    "load_checkpoint",
    "sign_checkpoint",
]

FORMAT = "thaisign-audit-checkpoint/1"
#: The latest checkpoint, in the CA folder.
CHECKPOINT_FILE = "checkpoint.p7m"
#: A checkpoint is a few hundred bytes; anything far larger is not one.
MAX_CHECKPOINT_BYTES = 64 * 1024


class CheckpointError(StoreError):
    """A checkpoint file that is not one, or not signed by this CA."""


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint: the CA vouches that audit entry ``seq`` had hash ``head``."""

    seq: int
    head: str
    time: dt.datetime
    crl_number: int | None
    ca_sha256: str
    der: bytes

    def describe(self) -> str:
        crl = f", CRL #{self.crl_number}" if self.crl_number is not None else ""
        return f"checkpoint of {self.time:%Y-%m-%d %H:%M} UTC (entry {self.seq}{crl})"

    def to_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "head": self.head,
            "time": self.time.isoformat(),
            "crl_number": self.crl_number,
            "ca_sha256": self.ca_sha256,
        }


def checkpoint_path_for(crl_path: str | Path) -> Path:
    """Where the checkpoint goes beside a published CRL: ``ca.crl`` -> ``ca.checkpoint.p7m``."""
    p = Path(crl_path)
    return p.with_name(f"{p.stem if p.suffix else p.name}.checkpoint.p7m")


def _payload(ca_sha256: str, seq: int, head: str, time: dt.datetime, crl_number: int | None) -> bytes:
    doc = {
        "format": FORMAT,
        "ca_sha256": ca_sha256,
        "seq": seq,
        "head": head,
        "time": time.astimezone(dt.UTC).replace(microsecond=0).isoformat(),
        "crl_number": crl_number,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("ascii")


def sign_checkpoint(
    signer: Signer,
    ca_cert: x509.Certificate,
    *,
    seq: int,
    head: str,
    time: dt.datetime,
    crl_number: int | None = None,
    hash_name: str | None = None,
) -> bytes:
    """A DER CMS SignedData over the checkpoint JSON, signed by the CA key (file or token)."""
    h = hash_name or signer.key_spec.default_hash()
    cert_der = ca_cert.public_bytes(serialization.Encoding.DER)
    content = _payload(hashlib.sha256(cert_der).hexdigest(), seq, head, time, crl_number)
    when = time.astimezone(dt.UTC).replace(microsecond=0)
    attrs = [
        asn1_cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        asn1_cms.CMSAttribute(
            {
                "type": "signing_time",
                "values": [
                    asn1_cms.Time(name="utc_time" if when.year < 2050 else "general_time", value=when)
                ],
            }
        ),
        asn1_cms.CMSAttribute({"type": "message_digest", "values": [hashlib.new(h, content).digest()]}),
    ]
    attrs.sort(key=lambda a: a.dump())  # DER: a SET OF is sorted by encoding
    signed_attrs = asn1_cms.CMSAttributes(attrs)
    signature = signer.sign(signed_attrs.dump(), hash_algorithm=h)
    cert = asn1_x509.Certificate.load(cert_der)
    signer_info = asn1_cms.SignerInfo(
        {
            "version": "v1",
            "sid": asn1_cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": cert.issuer, "serial_number": cert.serial_number},
            ),
            "digest_algorithm": {"algorithm": h},
            "signed_attrs": signed_attrs,
            "signature_algorithm": signer.signature_algorithm(h),
            "signature": signature,
        }
    )
    signed_data = asn1_cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": h}],
            "encap_content_info": {"content_type": "data", "content": content},
            "certificates": [cert],
            "signer_infos": [signer_info],
        }
    )
    return bytes(asn1_cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


def _bad(source: str, why: str) -> CheckpointError:
    return CheckpointError(
        f"{source} is not a valid checkpoint of this CA: {why}",
        hint="give the checkpoint file published beside this CA's CRL (X.checkpoint.p7m)",
    )


def load_checkpoint(data: bytes, ca_cert: x509.Certificate, source: str = "checkpoint") -> Checkpoint:
    """Parse ``data`` and check that ``ca_cert``'s key signed it; raise :class:`CheckpointError`."""
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise _bad(source, "larger than a checkpoint can be")
    try:
        info = asn1_cms.ContentInfo.load(data, strict=True)
        if info["content_type"].native != "signed_data":
            raise _bad(source, "not a CMS SignedData")
        sd = info["content"]
        encap = sd["encap_content_info"]
        if encap["content_type"].native != "data" or not isinstance(encap["content"], asn1_core.OctetString):
            raise _bad(source, "no signed content")
        content = bytes(encap["content"].native)
        signer_infos = sd["signer_infos"]
        if len(signer_infos) != 1:
            raise _bad(source, "it must have exactly one signer")
        si = signer_infos[0]
        h = si["digest_algorithm"]["algorithm"].native
        attrs = si["signed_attrs"]
        digest = None
        for attr in attrs:
            if attr["type"].native == "message_digest":
                digest = bytes(attr["values"][0].native)
        if digest is None or digest != hashlib.new(h, content).digest():
            raise _bad(source, "its content does not match its signed digest")
        to_verify = b"\x31" + attrs.dump()[1:]  # the SET OF as signed, not the [0] it is stored as
        signature = bytes(si["signature"].native)
        pss = si["signature_algorithm"]["algorithm"].native == "rsassa_pss"
    except CheckpointError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise _bad(source, f"unreadable ({type(exc).__name__})") from None
    _verify(ca_cert, signature, to_verify, h, source, pss=pss)
    try:
        doc = json.loads(content)
        if doc.get("format") != FORMAT:
            raise _bad(source, "unknown format")
        checkpoint = Checkpoint(
            seq=int(doc["seq"]),
            head=str(doc["head"]),
            time=dt.datetime.fromisoformat(doc["time"]).astimezone(dt.UTC),
            crl_number=None if doc.get("crl_number") is None else int(doc["crl_number"]),
            ca_sha256=str(doc["ca_sha256"]),
            der=data,
        )
    except CheckpointError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError):
        raise _bad(source, "its content is not a checkpoint") from None
    cert_sha = hashlib.sha256(ca_cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    if checkpoint.ca_sha256 != cert_sha:
        raise _bad(source, "it names another CA certificate")
    return checkpoint


def _verify(
    ca_cert: x509.Certificate, signature: bytes, data: bytes, h: str, source: str, *, pss: bool
) -> None:
    key = ca_cert.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hash_algorithm(h)))
        elif isinstance(key, rsa.RSAPublicKey):
            pad: padding.AsymmetricPadding = (
                padding.PSS(padding.MGF1(hash_algorithm(h)), hash_algorithm(h).digest_size)
                if pss
                else padding.PKCS1v15()
            )
            key.verify(signature, data, pad, hash_algorithm(h))
        else:
            raise _bad(source, "the CA key type is not supported")
    except (InvalidSignature, ValueError):
        raise _bad(source, "the signature does not verify with the CA certificate") from None
