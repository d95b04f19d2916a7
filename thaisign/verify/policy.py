"""The validation policy: one typed, frozen description of what "valid" means, with Thai defaults.

>>> from thaisign.verify.policy import ValidationPolicy, NetworkPolicy
>>> policy = ValidationPolicy(network=NetworkPolicy.parse("private"))   # intranet OCSP only
>>> report = verify_pdf("letter.pdf", trust, policy=policy)

Defaults are for Thai government letters (docs/validation-policy.md explains each):

* revocation data is *fresh* for a certificate when it was issued no earlier than the time the
  certificate was used (the best-signature-time for a signer, the time-stamp's time for a TSA)
  minus the data's own validity window (nextUpdate − thisUpdate), or minus
  ``revocation_freshness`` when that is set (``timedelta(0)``: issued after use, as EU DSS's
  default);
* a signer certificate must be fit to sign documents: key usage digitalSignature or
  nonRepudiation (or no key usage at all), extended key usage absent or one of
  :data:`DOCUMENT_SIGNING_EKUS`;
* document time-stamps give proof of existence to everything they cover (ETSI EN 319 102-1
  long-term validation); certification authorities' revocation is checked like the signer's;
  a TSA or CA certificate that names no way to check its revocation (no CRL, no OCSP address)
  and about which there is no revocation data counts as not revocable (its CA decided so); a
  signer's certificate like that is INDETERMINATE/TRY_LATER ("ask the sending agency");
* online checks may reach public, private (intranet) and loopback addresses over http(s),
  5 s and 10 MiB per answer at most, never link-local or multicast (:class:`NetworkPolicy`);
* MD5 and SHA-1 count only for signatures proven to exist before 2005 / 2010 (the algorithm
  "held" then); RSA keys need 2048 bits.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from thaisign.errors import UsageError

#: extended key usages that make a certificate fit to sign letters (besides "no EKU at all")
DOCUMENT_SIGNING_EKUS: frozenset[str] = frozenset(
    {
        "1.3.6.1.5.5.7.3.36",  # id-kp-documentSigning (RFC 9336)
        "1.3.6.1.4.1.311.10.3.12",  # Microsoft document signing
        "1.3.6.1.5.5.7.3.4",  # emailProtection
        "2.5.29.37.0",  # anyExtendedKeyUsage
    }
)
#: key usages of which a document signer needs one
SIGNING_KEY_USAGES: frozenset[str] = frozenset({"digital_signature", "non_repudiation"})

#: named address sets for :class:`NetworkPolicy`
NETWORK_SETS = ("public", "private", "loopback", "link-local")
_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


@dataclass(frozen=True)
class NetworkPolicy:
    """Where online verification may connect (OCSP responders, CRL distribution points).

    ``allow`` holds named sets (``public``, ``private``, ``loopback``, ``link-local``) and
    CIDR networks; an empty ``allow`` means no network at all. Only ``http``/``https`` URLs
    are fetched, each answer bounded by ``timeout`` seconds and ``max_bytes``; redirects are
    not followed. ``ca_issuers`` allows fetching a missing CA certificate from a certificate's
    caIssuers URL (off: that URL is chosen by whoever made the certificate before anything about
    it is verified, and letters carry their chains).
    """

    allow: tuple[str, ...] = ("public", "private", "loopback")
    timeout: float = 5.0
    max_bytes: int = 10 * 1024 * 1024
    ca_issuers: bool = False
    _networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        default=(), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        nets = []
        for item in self.allow:
            if item in NETWORK_SETS:
                continue
            try:
                nets.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise UsageError(
                    f"unknown network {item!r}",
                    hint="use any, none, public, private, loopback, link-local or CIDR networks",
                ) from None
        object.__setattr__(self, "_networks", tuple(nets))

    @classmethod
    def parse(cls, text: str) -> NetworkPolicy:
        """``any``, ``none``, or a comma-separated list of named sets and CIDR networks."""
        words = [w.strip() for w in text.split(",") if w.strip()]
        if words == ["none"]:
            return cls(allow=())
        if words == ["any"]:
            return cls(allow=("public", "private", "loopback", "link-local"))
        if not words or "none" in words or "any" in words:
            raise UsageError(f"bad network setting {text!r}", hint="e.g. --network private,203.0.113.0/24")
        return cls(allow=tuple(words))

    @property
    def enabled(self) -> bool:
        return bool(self.allow)

    def permits(self, address: str) -> bool:
        """Whether ``address`` (a literal IP) may be contacted."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self._networks):
            return True
        if ip.is_loopback:
            return "loopback" in self.allow
        if ip.is_link_local:
            return "link-local" in self.allow
        if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
            return False
        if any(ip in net for net in _PRIVATE) or ip.is_private:
            return "private" in self.allow
        return "public" in self.allow and ip.is_global


@dataclass(frozen=True)
class ValidationPolicy:
    """What thaisign requires of a signature; the defaults fit Thai government letters."""

    #: maximum age of revocation data relative to the time a certificate was used;
    #: None: the data's own validity window (nextUpdate − thisUpdate, 0 without nextUpdate)
    revocation_freshness: timedelta | None = None
    #: extended key usages accepted for a document signer (besides no EKU extension at all)
    signer_ekus: frozenset[str] = DOCUMENT_SIGNING_EKUS
    #: check the revocation of certification authorities too (ETSI: every certificate of the chain)
    check_ca_revocation: bool = True
    #: take proof of existence from document time-stamps (PAdES B-LTA)
    use_document_timestamps: bool = True
    #: a time-stamping authority's or CA's certificate that names no OCSP responder and no CRL
    #: distribution point, and about which no revocation data exists, counts as not revocable
    #: (its CA chose so) instead of unknown; a signer's never does (INDETERMINATE/TRY_LATER)
    accept_undeclared_revocation: bool = True
    network: NetworkPolicy = field(default_factory=NetworkPolicy)
    #: digest algorithms acceptable only for signatures proven to exist before a date (EU DSS's
    #: dates: MD5 2005, SHA-1 2009); also applied to the certificates of every chain
    algorithm_sunsets: tuple[tuple[str, datetime], ...] = (
        ("md2", datetime(2005, 1, 1, tzinfo=UTC)),
        ("md5", datetime(2005, 1, 1, tzinfo=UTC)),
        ("sha1", datetime(2010, 1, 1, tzinfo=UTC)),
    )
    #: smallest RSA key accepted, in bits
    rsa_min_bits: int = 2048

    def algorithms(self) -> Any:
        """The algorithm policy (a pyhanko-certvalidator ``AlgorithmUsagePolicy``)."""
        from thaisign.verify.algorithms import algorithm_policy

        return algorithm_policy(dict(self.algorithm_sunsets), self.rsa_min_bits)

    def freshness_window(self, this_update: object, next_update: object) -> timedelta:
        """How long before the time of use revocation data may have been issued."""
        if self.revocation_freshness is not None:
            return self.revocation_freshness
        if next_update is None:
            return timedelta(0)
        window = next_update - this_update  # type: ignore[operator]
        return max(window, timedelta(0))


DEFAULT_POLICY = ValidationPolicy()
