"""Officer keys in the agency's PKCS#11 token: made there (non-extractable) at enrollment, used there.

Each process keeps one logged-in session per token (:class:`thaisign.hsm.TokenSession`) and a
bounded cache of signers per credential, built from what the database holds (key URI,
certificate, chain) so opening a signer never scans the token's certificates.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from thaisign.errors import KeyLoadError
from thaisign.hsm import GeneratedKey, Pkcs11Signer, Pkcs11Uri, TokenSession, generate_key
from thaisign.keys import KeySpec

CACHE_SIZE = 4096


class OfficerKeys:
    """The token holding officer keys, with the PIN this service logs in with."""

    def __init__(
        self, token_uri: str, module: str | None, pin: str | None, *, cache_size: int = CACHE_SIZE
    ) -> None:
        self.token_uri = Pkcs11Uri.parse(token_uri)
        self.module = module
        self._pin = pin
        self._cache: OrderedDict[tuple[str, bool], Pkcs11Signer] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the PIN
        return f"<OfficerKeys {self.token_uri.without_query()}>"

    def generate(self, label: str, spec: str | KeySpec) -> GeneratedKey:
        """A new key pair labelled ``label`` in the token: sensitive, never extractable, sign-only."""
        uri = self.token_uri.replace(object=label, id=None, type=None)
        return generate_key(uri, spec, pin=self._pin, module=self.module)

    def destroy(self, key_uri: str) -> None:
        """Remove a key pair made by :meth:`generate` (when issuing its certificate failed)."""
        from pkcs11 import Attribute

        parsed = Pkcs11Uri.parse(key_uri)
        with TokenSession.for_uri(parsed, pin=self._pin, module=self.module, rw=True) as ts:

            def drop(session: Any) -> None:
                query: dict[Any, Any] = {Attribute.LABEL: parsed.object}
                if parsed.id is not None:
                    query[Attribute.ID] = parsed.id
                for obj in list(session.get_objects(query)):
                    obj.destroy()

            ts.run(drop, action="remove a key")

    def signer(
        self,
        credential_id: str,
        key_uri: str,
        certificate: x509.Certificate,
        chain: tuple[x509.Certificate, ...],
        *,
        pss: bool = False,
    ) -> Pkcs11Signer:
        """The (cached) signer of one credential's key."""
        cache_key = (credential_id, pss)
        with self._lock:
            found = self._cache.get(cache_key)
            if found is not None:
                self._cache.move_to_end(cache_key)
                return found
        public = certificate.public_key()
        if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise KeyLoadError("the credential's certificate holds neither an RSA nor an EC key")
        uri = Pkcs11Uri.parse(key_uri)
        session = TokenSession.for_uri(uri, pin=self._pin, module=self.module)
        signer = Pkcs11Signer(
            uri, session.module_path, self._pin, public, certificate, chain, pss=pss, token_session=session
        )
        with self._lock:
            self._cache[cache_key] = signer
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return signer

    def forget(self, credential_id: str) -> None:
        with self._lock:
            for key in [k for k in self._cache if k[0] == credential_id]:
                del self._cache[key]
