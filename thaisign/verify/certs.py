"""Certificates as the path engine sees them: parsed once, checked for form, indexed by name and key.

Everything here reads hostile input: a certificate that cannot be parsed completely, carries a
malformed name constraint or an extension value that is not valid DER is *malformed* — it is
kept out of every path and reported as such, never raised as an exception.

Signature checks between two certificates (``signed_by``) use cryptography on the raw
TBSCertificate and are remembered per (certificate, issuer key): a path builder asks the same
question many times.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import x509 as asn1_x509

#: RFC 5280 extensions the validation understands (others must not be critical)
KNOWN_EXTENSIONS = frozenset(
    {
        "authority_information_access",
        "authority_key_identifier",
        "basic_constraints",
        "crl_distribution_points",
        "extended_key_usage",
        "freshest_crl",
        "key_identifier",
        "key_usage",
        "ocsp_no_check",
        "certificate_policies",
        "policy_mappings",
        "policy_constraints",
        "inhibit_any_policy",
        "name_constraints",
        "subject_alt_name",
        "issuer_alt_name",
        "subject_directory_attributes",
        "qc_statements",
        "1.3.6.1.5.5.7.1.3",
    }
)
_LDH = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class MalformedCertificate(ValueError):
    """A certificate that cannot be trusted to mean anything (bad DER, bad constraint syntax)."""


@dataclass(frozen=True, eq=False)
class Cert:
    """One parsed certificate with the facts path building needs."""

    asn1: asn1_x509.Certificate
    der: bytes
    sha256: str
    subject: bytes  # RFC 5280-normalised subject name (for issuer matching)
    issuer: bytes
    ski: bytes | None
    aki: bytes | None
    not_before: datetime
    not_after: datetime
    is_ca: bool
    spki: bytes  # DER SubjectPublicKeyInfo

    @property
    def self_issued(self) -> bool:
        return self.subject == self.issuer

    @property
    def label(self) -> str:
        """A short description for messages (subject common name, else the whole subject)."""
        try:
            cn = self.asn1.subject.native.get("common_name")
            if isinstance(cn, list):
                cn = cn[-1]
            return str(cn) if cn else str(self.asn1.subject.human_friendly)
        except Exception:  # a name that cannot be shown is described by its fingerprint
            return f"certificate {self.sha256[:16]}"

    def valid_at(self, moment: datetime) -> bool:
        """RFC 5280 4.1.2.5: notBefore ≤ moment ≤ notAfter (both inclusive, no tolerance)."""
        return self.not_before <= moment <= self.not_after

    def __hash__(self) -> int:
        return hash(self.sha256)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cert) and other.sha256 == self.sha256


_NAME_KEYS: dict[bytes, bytes] = {}


def name_key(name: asn1_x509.Name) -> bytes:
    """RFC 5280 7.1 comparison key of a Name (asn1crypto's case/space folding), as bytes.

    Remembered by the name's DER: preparing the strings is slow and names repeat.
    """
    der = name.dump()
    hit = _NAME_KEYS.get(der)
    if hit is None:
        hit = repr(name.hashable).encode("utf-8", "surrogatepass")
        if len(_NAME_KEYS) > 20_000:
            _NAME_KEYS.clear()
        _NAME_KEYS[der] = hit
    return hit


def parse(data: bytes | asn1_x509.Certificate) -> Cert:
    """Parse and check the form of one certificate; :class:`MalformedCertificate` if it fails."""
    try:
        der = data.dump() if isinstance(data, asn1_x509.Certificate) else bytes(data)
        _check_form(der)
        cert = asn1_x509.Certificate.load(der)
        tbs = cert["tbs_certificate"]
        subject, issuer = name_key(cert.subject), name_key(cert.issuer)
        validity = tbs["validity"]
        not_before, not_after = validity["not_before"].native, validity["not_after"].native
        bc = cert.basic_constraints_value
        is_ca = bool(bc is not None and bc["ca"].native)
        aki_value = cert.authority_key_identifier_value
        aki = aki_value["key_identifier"].native if aki_value is not None else None
        ski = cert.key_identifier
        spki = tbs["subject_public_key_info"].dump()
        if cert.name_constraints_value is not None:
            check_name_constraints_syntax(cert.name_constraints_value)
    except MalformedCertificate:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, NotImplementedError, OverflowError) as exc:
        raise MalformedCertificate(f"malformed certificate: {_first_line(exc)}") from None
    except RecursionError:
        raise MalformedCertificate("malformed certificate: nested too deeply") from None
    return Cert(
        cert,
        der,
        hashlib.sha256(der).hexdigest(),
        subject,
        issuer,
        ski,
        aki,
        not_before,
        not_after,
        is_ca,
        spki,
    )


def _check_form(der: bytes) -> None:
    """Parse everything once: cryptography's strict parser, else asn1crypto's complete parse.

    (Some real certificates break strict DER in details, e.g. a policy qualifier; asn1crypto
    reads them. The complete parse runs on a throw-away copy: asn1crypto re-encodes parsed
    values on a later dump, which must never touch the bytes a signature covers.)
    """
    import warnings

    from cryptography import x509 as crypto_x509

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a negative serial number: judged elsewhere
            _ = list(crypto_x509.load_der_x509_certificate(der).extensions)
        return
    except Exception:
        pass
    _ = asn1_x509.Certificate.load(der).native


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


# --- form checks ---------------------------------------------------------------------------------


def unknown_critical_extensions(cert: Cert) -> set[str]:
    """Critical extensions nobody here can process (RFC 5280 4.2: reject the certificate)."""
    return set(cert.asn1.critical_extensions) - KNOWN_EXTENSIONS


def check_name_constraints_syntax(nc: asn1_x509.NameConstraints) -> None:
    """Refuse name constraints whose names are malformed (they must not silently match)."""
    permitted, excluded = nc["permitted_subtrees"], nc["excluded_subtrees"]
    subtrees = [*(permitted or ()), *(excluded or ())]
    if not subtrees:
        raise MalformedCertificate("malformed certificate: name constraints without any subtree")
    for subtree in subtrees:
        if subtree["minimum"].native not in (0, None) or subtree["maximum"].native is not None:
            raise MalformedCertificate("malformed certificate: name constraint with minimum/maximum")
        base = subtree["base"]
        kind, value = base.name, base.chosen
        problem = _constraint_problem(kind, value)
        if problem:
            raise MalformedCertificate(f"malformed certificate: name constraint {problem}")


def _constraint_problem(kind: str, value: Any) -> str | None:
    if kind == "ip_address":
        raw = bytes(value.contents)
        if len(raw) not in (8, 32):
            return f"iPAddress of {len(raw)} octets (must be address + mask: 8 or 32)"
        half = len(raw) // 2
        mask = int.from_bytes(raw[half:], "big")
        bits = half * 8
        ones = bin(mask).count("1")
        if mask != ((1 << bits) - 1) ^ ((1 << (bits - ones)) - 1):
            return "iPAddress with a non-contiguous mask"
        return None
    if kind == "dns_name":
        text = str(value.native)
        return None if _dns_constraint_ok(text) else f"dNSName {text!r} is not a host or domain name"
    if kind == "rfc822_name":
        text = str(value.native)
        if text.count("@") > 1:
            return f"rfc822Name {text!r} has more than one @"
        local, _, domain = text.rpartition("@")
        if "@" in text and not local:
            return f"rfc822Name {text!r} has an empty mailbox"
        return None if _dns_constraint_ok(domain) else f"rfc822Name {text!r} has no valid domain"
    if kind == "uniform_resource_identifier":
        text = str(value.native)
        return None if _dns_constraint_ok(text) else f"URI constraint {text!r} is not a host or domain"
    return None  # directoryName and the rest: asn1crypto already parsed them


def _dns_constraint_ok(text: str) -> bool:
    if text == "":
        return True  # the empty dNSName constraint matches every name (RFC 5280 4.2.1.10)
    body = text[1:] if text.startswith(".") else text
    if not body or len(body) > 253:
        return False
    return all(_LDH.match(label) for label in body.split("."))


def check_ip(value: bytes) -> bool:
    """A well-formed iPAddress general name (4 or 16 octets)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


# --- signatures between certificates ----------------------------------------------------------------


class SignatureCache:
    """Remembers whether a certificate's signature verifies under a key (true, false or None)."""

    def __init__(self, limit: int = 50_000) -> None:
        self._seen: dict[tuple[str, bytes], bool | None] = {}
        self._limit = limit
        self.checks = 0

    def signed_by(self, cert: Cert, issuer_spki: bytes) -> bool | None:
        """True: verifies; False: does not; None: cannot tell (e.g. DSA without parameters)."""
        key = (cert.sha256, issuer_spki)
        if key in self._seen:
            return self._seen[key]
        self.checks += 1
        result = _verify_cert_signature(cert, issuer_spki)
        if len(self._seen) > self._limit:
            self._seen.clear()
        self._seen[key] = result
        return result


def _verify_cert_signature(cert: Cert, issuer_spki: bytes) -> bool | None:
    from thaisign.verify.algorithms import verify_signature_value

    asn1 = cert.asn1
    try:
        return verify_signature_value(
            issuer_spki,
            asn1["signature_algorithm"],
            asn1["signature_value"].native,
            asn1["tbs_certificate"].dump(),
        )
    except (ValueError, TypeError, NotImplementedError):
        return None


# --- a pool of certificates ---------------------------------------------------------------------------


@dataclass
class CertPool:
    """Certificates offered for path building (from the file, the signature, fetched), by subject."""

    by_subject: dict[bytes, list[Cert]] = field(default_factory=dict)
    malformed: list[str] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, certs: Iterable[bytes | asn1_x509.Certificate | Cert]) -> CertPool:
        pool = cls()
        pool.add_all(certs)
        return pool

    def add(self, cert: bytes | asn1_x509.Certificate | Cert) -> Cert | None:
        try:
            parsed = cert if isinstance(cert, Cert) else parse(cert)
        except MalformedCertificate as exc:
            self.malformed.append(str(exc))
            return None
        if parsed.sha256 not in self._seen:
            self._seen.add(parsed.sha256)
            self.by_subject.setdefault(parsed.subject, []).append(parsed)
        return parsed

    def add_all(self, certs: Iterable[bytes | asn1_x509.Certificate | Cert]) -> None:
        for c in certs:
            self.add(c)

    def issuers_of(self, cert: Cert) -> list[Cert]:
        return self.by_subject.get(cert.issuer, [])

    def __iter__(self) -> Iterator[Cert]:
        for certs in self.by_subject.values():
            yield from certs

    def __len__(self) -> int:
        return len(self._seen)

    @property
    def key(self) -> str:
        """Identity of the pool's content (for caches)."""
        return hashlib.sha256("".join(sorted(self._seen)).encode()).hexdigest()
