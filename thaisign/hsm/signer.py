""":class:`Pkcs11Signer`: the common :class:`~thaisign.keys.Signer` for a key held in a PKCS#11 token.

The digest is computed in software and only the raw signature primitive runs in the token:
CKM_ECDSA (SoftHSM2 and many tokens have no CKM_ECDSA_SHA256), CKM_RSA_PKCS over a DigestInfo,
or CKM_RSA_PKCS_PSS. Tokens that only offer the combined hash-and-sign mechanisms are used
through those instead. ECDSA results (r || s) are DER-encoded as ECDSA-Sig-Value.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto.algos import DSASignature
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pkcs11 import MGF, Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import PKCS11Error

from thaisign.errors import KeyLoadError, MechanismError, PinError, TokenKeyNotFoundError
from thaisign.keys import Signer

from .diagnostics import mechanism_names
from .session import TokenSession
from .uri import Pkcs11Uri

_DIGEST_INFO_PREFIX = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
_HASH_MECH = {"sha256": Mechanism.SHA256, "sha384": Mechanism.SHA384, "sha512": Mechanism.SHA512}
_MGF = {"sha256": MGF.SHA256, "sha384": MGF.SHA384, "sha512": MGF.SHA512}
_ECDSA_COMBINED = {
    "sha256": Mechanism.ECDSA_SHA256,
    "sha384": Mechanism.ECDSA_SHA384,
    "sha512": Mechanism.ECDSA_SHA512,
}
_RSA_COMBINED = {
    "sha256": Mechanism.SHA256_RSA_PKCS,
    "sha384": Mechanism.SHA384_RSA_PKCS,
    "sha512": Mechanism.SHA512_RSA_PKCS,
}
_PSS_COMBINED = {
    "sha256": Mechanism.SHA256_RSA_PKCS_PSS,
    "sha384": Mechanism.SHA384_RSA_PKCS_PSS,
    "sha512": Mechanism.SHA512_RSA_PKCS_PSS,
}


def _hash_name(name: str) -> str:
    h = name.lower().replace("-", "")
    if h not in _DIGEST_INFO_PREFIX:
        raise ValueError(f"unsupported hash algorithm {name!r}")
    return h


def _ec_point(raw: bytes) -> bytes:
    """The uncompressed point from CKA_EC_POINT (DER OCTET STRING, or raw on some tokens)."""
    if raw[:1] == b"\x04" and len(raw) % 2 == 1 and len(raw) > 3 and raw[1] != len(raw) - 2:
        return raw  # raw uncompressed point
    from asn1crypto.core import OctetString

    return bytes(OctetString.load(raw))


def public_key_of(obj: Any) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """The cryptography public key of a token public (or RSA private) key object."""
    if obj.key_type == KeyType.RSA:
        n = int.from_bytes(obj[Attribute.MODULUS], "big")
        e = int.from_bytes(obj[Attribute.PUBLIC_EXPONENT], "big")
        return rsa.RSAPublicNumbers(e, n).public_key()
    if obj.key_type == KeyType.EC:
        from asn1crypto.keys import ECDomainParameters, PublicKeyInfo

        params = ECDomainParameters.load(obj[Attribute.EC_PARAMS])
        info = PublicKeyInfo(
            {
                "algorithm": {"algorithm": "ec", "parameters": params},
                "public_key": _ec_point(obj[Attribute.EC_POINT]),
            }
        )
        key = serialization.load_der_public_key(info.dump())
        assert isinstance(key, ec.EllipticCurvePublicKey)
        return key
    raise KeyLoadError(f"unsupported token key type {obj.key_type!r}; use RSA or ECDSA")


def _always_authenticate(key: Any) -> bool:
    try:
        return bool(key[Attribute.ALWAYS_AUTHENTICATE])
    except PKCS11Error:  # tokens that do not know the attribute
        return False


def verify_signature(
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    signature: bytes,
    data: bytes,
    h: str,
    *,
    pss: bool,
) -> None:
    """Verify what :meth:`Pkcs11Signer.sign` produced; raise ``InvalidSignature`` if it does not verify."""
    algorithm = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[h]
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(algorithm))
    elif pss:
        public_key.verify(
            signature, data, padding.PSS(padding.MGF1(algorithm), algorithm.digest_size), algorithm
        )
    else:
        public_key.verify(signature, data, padding.PKCS1v15(), algorithm)


def _key_query(uri: Pkcs11Uri, object_class: ObjectClass) -> dict[Attribute, Any]:
    attrs: dict[Attribute, Any] = {Attribute.CLASS: object_class}
    if uri.object is not None:
        attrs[Attribute.LABEL] = uri.object
    if uri.id is not None:
        attrs[Attribute.ID] = uri.id
    return attrs


def _describe(objs: Sequence[Any]) -> str:
    return (
        ", ".join(f"{o[Attribute.LABEL]!r} (id {bytes(o[Attribute.ID]).hex() or '-'})" for o in objs)
        or "none"
    )


def find_private_key(session: Any, uri: Pkcs11Uri, token_label: str) -> Any:
    """The one private key matching ``uri``; errors list the keys on the token."""
    found = list(session.get_objects(_key_query(uri, ObjectClass.PRIVATE_KEY)))
    if len(found) == 1:
        return found[0]
    every = list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
    if not found:
        raise TokenKeyNotFoundError(
            f"no private key with {uri.describe_object()} on token {token_label!r}; "
            f"private keys there: {_describe(every)}",
            hint="check object=/id= in the URI (thaisign hsm list), or create one with thaisign hsm keygen",
        )
    raise TokenKeyNotFoundError(
        f"{len(found)} private keys match {uri.describe_object()} on token {token_label!r}: "
        f"{_describe(found)}",
        hint="add id=... (or a unique object=...) to the URI",
    )


def _certificates(session: Any) -> list[tuple[bytes, x509.Certificate]]:
    out = []
    for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
        try:
            out.append(
                (bytes(obj[Attribute.ID]), x509.load_der_x509_certificate(bytes(obj[Attribute.VALUE])))
            )
        except ValueError:
            continue
    return out


def _chain_from(leaf: x509.Certificate, pool: list[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    chain: list[x509.Certificate] = []
    current = leaf
    while current.issuer != current.subject:
        issuer = next((c for c in pool if c.subject == current.issuer and c not in chain and c != leaf), None)
        if issuer is None:
            break
        chain.append(issuer)
        current = issuer
    return tuple(chain)


@dataclass(frozen=True)
class Pkcs11OpenSpec:
    """What a worker process needs to open the same token key again (see :meth:`Pkcs11Signer.reopen_spec`)."""

    uri: str
    module: str
    pin: str | None
    pss: bool = False

    def open(self) -> Pkcs11Signer:
        return Pkcs11Signer.open(self.uri, pin=self.pin, module=self.module, pss=self.pss)

    def __repr__(self) -> str:  # never show the PIN
        return f"Pkcs11OpenSpec(uri={self.uri!r}, module={self.module!r}, pin={'***' if self.pin else None})"


class Pkcs11Signer(Signer):
    """A private key in a PKCS#11 token, with its certificate and chain read from the token.

    Pickles to a recipe (URI, module, PIN), never to a session: unpickled in a worker process it
    logs in on first use, once per process, and shares that session with every other signer there.
    """

    def __init__(
        self,
        uri: Pkcs11Uri,
        module_path: str,
        pin: str | None,
        public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
        certificate: x509.Certificate | None = None,
        chain: Sequence[x509.Certificate] = (),
        *,
        pss: bool = False,
        token_session: TokenSession | None = None,
    ) -> None:
        self.uri = uri
        self.module_path = module_path
        self._pin = pin
        self._public_key = public_key
        self._cert = certificate
        self._chain = tuple(chain)
        self.pss = pss
        self._ts = token_session
        self._key_cache: tuple[int, Any, bool] | None = None  # (session generation, key, always-auth)
        self._mechs: frozenset[Any] | None = None
        self._lock = threading.Lock()

    # --- opening --------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        uri: str | Pkcs11Uri,
        *,
        pin: str | None = None,
        module: str | None = None,
        pss: bool = False,
        certificate: x509.Certificate | None = None,
        chain: Sequence[x509.Certificate] | None = None,
        check_key_pair: bool = True,
    ) -> Pkcs11Signer:
        """Open the private key named by ``uri`` and log in (once per process and token).

        The module comes from ``module``, the URI's ``module-path``, or ``THAISIGN_PKCS11_MODULE``;
        the PIN from ``pin`` or the URI's ``pin-source``. The certificate and chain are read from the
        token (stored there by ``thaisign hsm import-cert``) unless given. ``check_key_pair`` signs
        a random challenge once and verifies it with the public key found, so a token whose public
        key object or certificate belongs to another key fails here, not in a verifier's hands.
        """
        parsed = uri if isinstance(uri, Pkcs11Uri) else Pkcs11Uri.parse(uri)
        if pin is None:
            pin = parsed.read_pin_source()
        if pin is None:
            raise PinError(
                f"no PIN given for the token key {parsed.without_query()}",
                hint="set THAISIGN_PIN, pass --pin-file, or add ?pin-source=file:/path/to/pin to the URI",
            )
        ts = TokenSession.for_uri(parsed, pin=pin, module=module)

        def load(session: Any) -> tuple[Any, Any, list[tuple[bytes, x509.Certificate]]]:
            key = find_private_key(session, parsed, ts.label)
            key_id = bytes(key[Attribute.ID])
            label = key[Attribute.LABEL]
            pub_obj = None
            for query in ({Attribute.ID: key_id}, {Attribute.LABEL: label}):
                if query.get(Attribute.ID) == b"":
                    continue
                found = list(session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY, **query}))
                if len(found) == 1:
                    pub_obj = found[0]
                    break
            return key, pub_obj, _certificates(session)

        key, pub_obj, certs = ts.run(load, action="find the key")
        key_id = bytes(key[Attribute.ID])
        public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | None = None
        if pub_obj is not None:
            public = public_key_of(pub_obj)
        elif key.key_type == KeyType.RSA:
            public = public_key_of(key)
        leaf = certificate
        if leaf is None and public is not None:
            same_id_first = sorted(certs, key=lambda ic: ic[0] != key_id)
            leaf = next((c for _, c in same_id_first if c.public_key() == public), None)
        elif leaf is None and key_id:
            leaf = next((c for i, c in certs if i == key_id), None)
        if public is None:
            if leaf is None:
                raise KeyLoadError(
                    f"cannot find the public key or certificate of {parsed.describe_object()} "
                    f"on token {ts.label!r}",
                    hint="import its certificate with thaisign hsm import-cert",
                )
            leaf_key = leaf.public_key()
            if not isinstance(leaf_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
                raise KeyLoadError("unsupported certificate key type; use RSA or ECDSA")
            public = leaf_key
        if leaf is not None and leaf.public_key() != public:
            raise KeyLoadError(
                "the certificate does not match the token key",
                hint="give the certificate that was issued for this key",
            )
        if chain is None:
            chain = _chain_from(leaf, [c for _, c in certs]) if leaf is not None else ()
        signer = cls(
            parsed.replace(pin_source=None),
            ts.module_path,
            pin,
            public,
            leaf,
            chain,
            pss=pss,
            token_session=ts,
        )
        signer._key_cache = (ts.generation, key, _always_authenticate(key))
        signer._check_mechanisms()
        if check_key_pair:
            signer._check_key_pair()
        return signer

    def reopen_spec(self) -> Pkcs11OpenSpec:
        """A recipe to open this key again in another process: ``spec.open()``."""
        return Pkcs11OpenSpec(str(self.uri), self.module_path, self._pin, self.pss)

    def __getstate__(self) -> dict[str, Any]:
        der = serialization.Encoding.DER
        return {
            "uri": str(self.uri),
            "module_path": self.module_path,
            "pin": self._pin,
            "pss": self.pss,
            "public_key": self._public_key.public_bytes(der, serialization.PublicFormat.SubjectPublicKeyInfo),
            "certificate": self._cert.public_bytes(der) if self._cert is not None else None,
            "chain": [c.public_bytes(der) for c in self._chain],
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        public = serialization.load_der_public_key(state["public_key"])
        assert isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
        cert = state["certificate"]
        self.__init__(  # type: ignore[misc]
            Pkcs11Uri.parse(state["uri"]),
            state["module_path"],
            state["pin"],
            public,
            x509.load_der_x509_certificate(cert) if cert is not None else None,
            [x509.load_der_x509_certificate(c) for c in state["chain"]],
            pss=state["pss"],
        )

    # --- Signer interface -----------------------------------------------------------------

    @property
    def public_key(self) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
        return self._public_key

    @property
    def certificate(self) -> x509.Certificate | None:
        return self._cert

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        return self._chain

    @property
    def token_session(self) -> TokenSession:
        """The shared session (opened lazily after unpickling)."""
        if self._ts is None:
            with self._lock:
                if self._ts is None:
                    self._ts = TokenSession.for_uri(self.uri, pin=self._pin, module=self.module_path)
        return self._ts

    def _key_entry(self, session: Any) -> tuple[int, Any, bool]:
        ts = self.token_session
        cached = self._key_cache
        if cached is not None and cached[0] == ts.generation:
            return cached
        key = find_private_key(session, self.uri, ts.label)
        self._key_cache = (ts.generation, key, _always_authenticate(key))
        return self._key_cache

    def _key(self, session: Any) -> Any:
        return self._key_entry(session)[1]

    def _mechanisms(self) -> frozenset[Any]:
        if self._mechs is None:
            ts = self.token_session
            self._mechs = frozenset(
                ts.run(lambda _: ts.token.slot.get_mechanisms(), action="list mechanisms")
            )
        return self._mechs

    def _plan(self, h: str) -> tuple[Any, Any, bool]:
        """(mechanism, parameter, over_digest) for hash ``h``."""
        mechs = self._mechanisms()
        options: list[tuple[Any, Any, bool]]
        if self.key_type == "ec":
            options = [(Mechanism.ECDSA, None, True), (_ECDSA_COMBINED[h], None, False)]
        elif self.pss:
            param = (_HASH_MECH[h], _MGF[h], hashlib.new(h).digest_size)
            options = [(Mechanism.RSA_PKCS_PSS, param, True), (_PSS_COMBINED[h], param, False)]
        else:
            options = [(Mechanism.RSA_PKCS, None, True), (_RSA_COMBINED[h], None, False)]
        for option in options:
            if option[0] in mechs:
                return option
        wanted = " nor ".join(f"CKM_{o[0].name}" for o in options)
        raise MechanismError(
            f"token {self.token_session.label!r} supports neither {wanted}; "
            f"it has: {', '.join(mechanism_names(mechs))}",
            hint="use a key type this token can sign with" + (", or turn PSS off" if self.pss else ""),
        )

    def _check_mechanisms(self) -> None:
        self._plan(self.key_spec.default_hash())

    def _check_key_pair(self) -> None:
        challenge = b"thaisign key-pair check " + os.urandom(32)
        h = self.key_spec.default_hash()
        signature = self.sign(challenge, hash_algorithm=h)
        try:
            verify_signature(self.public_key, signature, challenge, h, pss=self.pss)
        except InvalidSignature:
            raise KeyLoadError(
                f"the public key or certificate stored with {self.uri.describe_object()} on token "
                f"{self.token_session.label!r} does not belong to its private key",
                hint="remove the wrong public key or certificate object and import the right one",
            ) from None

    def _raw_sign(self, mechanism: Any, param: Any, payload: bytes) -> bytes:
        def op(session: Any) -> bytes:
            _, key, always_auth = self._key_entry(session)
            # CKA_ALWAYS_AUTHENTICATE keys (e.g. non-repudiation keys on smart cards) need the PIN
            # again for every signature (C_Login with CKU_CONTEXT_SPECIFIC)
            pin = self._pin if always_auth else None
            return bytes(key.sign(payload, mechanism=mechanism, mechanism_param=param, pin=pin))

        raw = self.token_session.run(op, action="sign")
        if self.key_type == "ec":
            return DSASignature.from_p1363(raw).dump()
        return raw

    def sign(self, data: bytes, *, hash_algorithm: str = "sha256") -> bytes:
        h = _hash_name(hash_algorithm)
        mechanism, param, over_digest = self._plan(h)
        if over_digest:
            return self.sign_digest(hashlib.new(h, data).digest(), hash_algorithm=h)
        return self._raw_sign(mechanism, param, data)

    def sign_digest(self, digest: bytes, *, hash_algorithm: str = "sha256") -> bytes:
        h = _hash_name(hash_algorithm)
        if len(digest) != hashlib.new(h).digest_size:
            raise ValueError(f"a {h} digest has {hashlib.new(h).digest_size} bytes, not {len(digest)}")
        mechanism, param, over_digest = self._plan(h)
        if not over_digest:
            raise MechanismError(
                f"token {self.token_session.label!r} can only hash-and-sign ({mechanism.name}), "
                "not sign a precomputed digest",
                hint="call sign(data) instead of sign_digest(digest)",
            )
        if mechanism == Mechanism.RSA_PKCS:
            return self._raw_sign(mechanism, param, _DIGEST_INFO_PREFIX[h] + digest)
        return self._raw_sign(mechanism, param, digest)

    def close(self) -> None:
        """Close the token session (shared signers re-open it, with the same PIN, when next used)."""
        if self._ts is not None:
            self._ts.close()

    def __repr__(self) -> str:
        return f"<Pkcs11Signer {self.uri.without_query()} {self.key_spec}>"
