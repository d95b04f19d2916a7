"""Adapter from :class:`thaisign.keys.Signer` to pyHanko's CMS ``Signer``.

One path for software keys and PKCS#11 keys: pyHanko builds the CMS structures and asks this
adapter for the raw signature, which :meth:`thaisign.keys.Signer.sign` produces.
"""

from __future__ import annotations

import datetime as dt
import weakref
from typing import Any

import asn1crypto.pdf  # noqa: F401 - registers adbe-revocationInfoArchival and friends
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.sign.signers import pdf_cms
from pyhanko_certvalidator.registry import SimpleCertificateStore

from thaisign.errors import SigningError
from thaisign.keys import Signer, hash_algorithm
from thaisign.pades._fastcms import CmsTemplate


def _refresh_attribute_names() -> None:
    """``asn1crypto.pdf`` adds the Adobe attribute OIDs to the name map only, so the attribute
    cannot be built by name; add the missing reverse entries."""
    reverse = cms.CMSAttributeType._reverse_map
    if reverse is not None:
        for oid, name in cms.CMSAttributeType._map.items():
            reverse.setdefault(name, oid)


_refresh_attribute_names()


#: how far an OCSP response or CRL fetched while signing may lie after the validation time: a
#: responder answers with thisUpdate = its "now", which comes after the moment signing began
#: (a TSA call and the fetches themselves take seconds), and clocks differ a little
COLLECTION_TOLERANCE = dt.timedelta(minutes=2)


def collecting_context(
    trust_roots: list[asn1_x509.Certificate], other_certs: list[asn1_x509.Certificate], at: dt.datetime
) -> Any:
    """The pyhanko-certvalidator context that validates chains at ``at`` while signing at B-LT or
    B-LTA (or extending with ``ltv``) and fetches their OCSP responses / CRLs, revocation required.

    Revocation data produced up to :data:`COLLECTION_TOLERANCE` after ``at`` is accepted; the
    verifier judges the embedded data later on its own terms.
    """
    from pyhanko_certvalidator import ValidationContext

    return ValidationContext(
        trust_roots=trust_roots,
        other_certs=other_certs,
        allow_fetching=True,
        revocation_mode="hard-fail",
        moment=at,
        time_tolerance=COLLECTION_TOLERANCE,
    )


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    """An asn1crypto certificate from a cryptography one."""
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


class PyHankoSigner(pdf_cms.Signer):
    """A pyHanko signer that signs through a :class:`thaisign.keys.Signer`."""

    def __init__(self, signer: Signer, *, hash_algorithm: str = "sha256", embed_roots: bool = True) -> None:
        cert = signer.certificate
        if cert is None:
            raise SigningError(
                "the key has no certificate", hint="give --cert, or a PKCS#12 file that holds the certificate"
            )
        self.thaisign_signer = signer
        self.hash_algorithm = hash_algorithm
        registry = SimpleCertificateStore()
        registry.register_multiple([to_asn1(c) for c in signer.chain])
        super().__init__(
            signing_cert=to_asn1(cert),
            cert_registry=registry,
            signature_mechanism=signer.signature_algorithm(hash_algorithm),
            embed_roots=embed_roots,
        )
        key = signer.public_key
        size = getattr(key, "key_size", 256)
        # DER ECDSA-Sig-Value: two INTEGERs of up to size/8+1 bytes plus headers
        self._cms_template: CmsTemplate | None = None
        self._dry_run_len = size // 8 if signer.key_type == "rsa" else 2 * (size // 8 + 1) + 8

    async def async_sign(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: bool = False,
        use_pades: bool = False,
        timestamper: Any = None,
        signed_attr_settings: Any = None,
        is_pdf_sig: bool = True,
        encap_content_info: Any = None,
    ) -> cms.ContentInfo:
        """A PAdES container from cached DER pieces (see ``_fastcms``); pyHanko's path otherwise."""
        settings = signed_attr_settings
        plain = (
            use_pades
            and is_pdf_sig
            and encap_content_info is None
            and digest_algorithm == self.hash_algorithm
            and (
                settings is None
                or (settings.adobe_revinfo_attr is None and settings.cades_signed_attrs is None)
            )
            and self.signed_attr_prov_spec is None
            and self.unsigned_attr_prov_spec is None
        )
        if not plain:
            return await super().async_sign(
                data_digest,
                digest_algorithm,
                dry_run=dry_run,
                use_pades=use_pades,
                timestamper=timestamper,
                signed_attr_settings=signed_attr_settings,
                is_pdf_sig=is_pdf_sig,
                encap_content_info=encap_content_info,
            )
        template = self._template()
        attributes = template.signed_attributes(data_digest)
        tbs = template.to_be_signed(attributes)
        signature = await self.async_sign_raw(tbs, digest_algorithm, dry_run=dry_run)
        token = None
        if timestamper is not None:
            if dry_run:
                response = await timestamper.async_dummy_response(digest_algorithm)
            else:
                h = hashes.Hash(hash_algorithm(digest_algorithm))
                h.update(signature)
                response = await timestamper.async_timestamp(h.finalize(), digest_algorithm)
            token = response.dump()
        return cms.ContentInfo.load(template.content_info(attributes, signature, token))

    def _template(self) -> CmsTemplate:
        if self._cms_template is None:
            assert self.signing_cert is not None
            chain = [c for c in self.cert_registry if c != self.signing_cert]
            self._cms_template = CmsTemplate.build(
                self.signing_cert,
                chain,
                self.hash_algorithm,
                self.thaisign_signer.signature_algorithm(self.hash_algorithm),
            )
        return self._cms_template

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            return bytes(self._dry_run_len)
        if digest_algorithm.lower() != self.hash_algorithm:
            raise SigningError(
                f"unexpected digest algorithm {digest_algorithm} (signer uses {self.hash_algorithm})"
            )
        return self.thaisign_signer.sign(data, hash_algorithm=self.hash_algorithm)


_ADAPTERS: weakref.WeakKeyDictionary[Signer, dict[str, PyHankoSigner]] = weakref.WeakKeyDictionary()


def adapter_for(signer: Signer, hash_algorithm: str) -> PyHankoSigner:
    """The (cached) pyHanko adapter for ``signer``: certificates converted and the CMS
    template encoded once per signer, not once per letter."""
    per_hash = _ADAPTERS.setdefault(signer, {})
    adapter = per_hash.get(hash_algorithm)
    if adapter is None:
        adapter = per_hash[hash_algorithm] = PyHankoSigner(signer, hash_algorithm=hash_algorithm)
    return adapter


async def run_releasing(coro: Any, *contexts: Any) -> Any:
    """Await ``coro``, then close the network sessions pyHanko opened for ``contexts``
    (pyHanko's ``run_and_release`` where it exists; older pyHanko has no such sessions)."""
    try:
        from pyhanko.sign._session_scope import run_and_release
    except ImportError:  # pragma: no cover - older pyHanko
        return await coro
    return await run_and_release(coro, *contexts)
