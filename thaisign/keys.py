"""Where a private key lives, behind one :class:`Signer` interface.

A :class:`Signer` signs bytes with a given hash algorithm and exposes its certificate and
chain. It serves everything that signs: the CA (certificates, CRLs, OCSP responses), the TSA,
and officers signing PDF letters. :class:`SoftwareSigner` holds a key from a PKCS#12 or PEM
file; ``thaisign.hsm.Pkcs11Signer`` holds a key in a PKCS#11 token.

>>> signer = Signer.from_pkcs12("somchai.p12", passphrase="...")
>>> signature = signer.sign(b"data", hash_algorithm="sha256")
"""

from __future__ import annotations

import abc
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from asn1crypto import algos as asn1_algos
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import pkcs12

from thaisign._fs import read_input
from thaisign._secrets import to_bytes
from thaisign.errors import KeyLoadError, SecretError

HashName = Literal["sha256", "sha384", "sha512"]
KeyType = Literal["rsa", "ec"]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """A cryptography hash object for ``sha256`` / ``sha384`` / ``sha512``."""
    try:
        return _HASHES[name.lower()]()
    except KeyError:
        raise ValueError(f"unsupported hash algorithm {name!r}") from None


@dataclass(frozen=True)
class KeySpec:
    """A key type and size as written on the command line: ``ec-p256``, ``rsa-3072``, ..."""

    kind: KeyType
    size: int  # RSA modulus bits, or EC curve size (256 / 384 / 521)

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        t = text.strip().lower()
        table = {
            "ec-p256": cls("ec", 256),
            "ec-p384": cls("ec", 384),
            "ec-p521": cls("ec", 521),
            "rsa-2048": cls("rsa", 2048),
            "rsa-3072": cls("rsa", 3072),
            "rsa-4096": cls("rsa", 4096),
        }
        if t not in table:
            raise ValueError(f"unknown key type {text!r}; use one of {', '.join(table)}")
        return table[t]

    def __str__(self) -> str:
        return f"{self.kind}-p{self.size}" if self.kind == "ec" else f"rsa-{self.size}"

    def generate(self) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
        """A new software private key of this type."""
        if self.kind == "rsa":
            return rsa.generate_private_key(public_exponent=65537, key_size=self.size)
        curve = {256: ec.SECP256R1(), 384: ec.SECP384R1(), 521: ec.SECP521R1()}[self.size]
        return ec.generate_private_key(curve)

    def default_hash(self) -> HashName:
        """The hash that matches the key's strength (SHA-384 for P-384, SHA-512 for P-521)."""
        if self.kind == "ec" and self.size == 384:
            return "sha384"
        if self.kind == "ec" and self.size == 521:
            return "sha512"
        return "sha256"


def key_spec_of(public_key: object) -> KeySpec:
    """The :class:`KeySpec` of a cryptography public key."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return KeySpec("rsa", public_key.key_size)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return KeySpec("ec", public_key.curve.key_size)
    raise KeyLoadError(f"unsupported key type {type(public_key).__name__}; use RSA or ECDSA")


class Signer(abc.ABC):
    """A private key that can sign, with its certificate and chain when it has them."""

    #: Use RSASSA-PSS instead of PKCS#1 v1.5 for RSA keys.
    pss: bool = False

    @property
    @abc.abstractmethod
    def public_key(self) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
        """The public key that verifies this signer's signatures."""

    @property
    def certificate(self) -> x509.Certificate | None:
        """The signer's own certificate, if known."""
        return None

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Issuer certificates above :attr:`certificate`, nearest first (may include the root)."""
        return ()

    @property
    def key_spec(self) -> KeySpec:
        """The key's algorithm and size (``ec-p256``, ``rsa-3072`` ...), read from the public key."""
        return key_spec_of(self.public_key)

    @property
    def key_type(self) -> KeyType:
        """``"ec"`` or ``"rsa"``."""
        return self.key_spec.kind

    def __repr__(self) -> str:
        cert = self.certificate
        who = "no certificate"
        if cert is not None:
            from cryptography.x509.oid import NameOID

            cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            who = repr(str(cns[0].value)) if cns else cert.subject.rfc4514_string()
        return f"<{type(self).__name__} {self.key_spec} {who}>"

    @abc.abstractmethod
    def sign(self, data: bytes, *, hash_algorithm: str = "sha256") -> bytes:
        """Sign ``data``: DER ECDSA-Sig-Value for EC keys, PKCS#1 v1.5 (or PSS) for RSA keys."""

    def sign_digest(self, digest: bytes, *, hash_algorithm: str = "sha256") -> bytes:
        """Sign an already computed digest. Subclasses that can, override this."""
        raise NotImplementedError(f"{type(self).__name__} cannot sign a precomputed digest")

    def signature_algorithm(self, hash_algorithm: str = "sha256") -> asn1_algos.SignedDigestAlgorithm:
        """The AlgorithmIdentifier of what :meth:`sign` produces, for building ASN.1 structures."""
        h = hash_algorithm.lower()
        if self.key_type == "ec":
            return asn1_algos.SignedDigestAlgorithm({"algorithm": f"{h}_ecdsa"})
        if self.pss:
            salt = hash_algorithm_obj_size(h)
            return asn1_algos.SignedDigestAlgorithm(
                {
                    "algorithm": "rsassa_pss",
                    "parameters": {
                        "hash_algorithm": {"algorithm": h},
                        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": h}},
                        "salt_length": salt,
                    },
                }
            )
        return asn1_algos.SignedDigestAlgorithm({"algorithm": f"{h}_rsa"})

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op for software keys
        """Release what the signer holds (sessions, handles). Software keys hold nothing."""

    def __enter__(self) -> Signer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- constructors ---------------------------------------------------------------------

    @staticmethod
    def from_pkcs12(source: str | os.PathLike[str] | bytes, passphrase: str | bytes | None) -> SoftwareSigner:
        """A signer from a PKCS#12 file (path or bytes) and its passphrase."""
        return SoftwareSigner.from_pkcs12(source, passphrase)

    @staticmethod
    def from_pem(
        key: str | os.PathLike[str] | bytes,
        cert: str | os.PathLike[str] | bytes | None = None,
        chain: str | os.PathLike[str] | bytes | None = None,
        passphrase: str | bytes | None = None,
    ) -> SoftwareSigner:
        """A signer from a PEM (or DER) private key, certificate and optional chain file."""
        return SoftwareSigner.from_pem(key, cert, chain, passphrase)

    @staticmethod
    def from_pkcs11(uri: str, *, pin: str | None = None, module: str | None = None) -> Signer:
        """A signer for a key in a PKCS#11 token named by an RFC 7512 URI."""
        from thaisign.hsm import Pkcs11Signer  # type: ignore[attr-defined,unused-ignore]

        return Pkcs11Signer.open(uri, pin=pin, module=module)


def hash_algorithm_obj_size(name: str) -> int:
    return hash_algorithm(name).digest_size


class SoftwareSigner(Signer):
    """A private key held in memory, loaded from an encrypted file."""

    def __init__(
        self,
        private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        certificate: x509.Certificate | None = None,
        chain: Sequence[x509.Certificate] = (),
        *,
        pss: bool = False,
    ) -> None:
        if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise KeyLoadError(f"unsupported key type {type(private_key).__name__}; use RSA or ECDSA")
        self._key = private_key
        self._cert = certificate
        self._chain = tuple(chain)
        self.pss = pss
        if certificate is not None and certificate.public_key() != private_key.public_key():
            raise KeyLoadError(
                "the certificate does not match the private key",
                hint="give the certificate that was issued for this key",
            )

    @property
    def private_key(self) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
        return self._key

    @property
    def public_key(self) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
        return self._key.public_key()

    @property
    def certificate(self) -> x509.Certificate | None:
        return self._cert

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        return self._chain

    def _rsa_padding(self, h: hashes.HashAlgorithm) -> padding.AsymmetricPadding:
        if self.pss:
            return padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
        return padding.PKCS1v15()

    def sign(self, data: bytes, *, hash_algorithm: str = "sha256") -> bytes:
        h = _hash(hash_algorithm)
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(h))
        return self._key.sign(data, self._rsa_padding(h), h)

    def sign_digest(self, digest: bytes, *, hash_algorithm: str = "sha256") -> bytes:
        h = _hash(hash_algorithm)
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(digest, ec.ECDSA(Prehashed(h)))
        return self._key.sign(digest, self._rsa_padding(h), Prehashed(h))

    @classmethod
    def from_pkcs12(
        cls, source: str | os.PathLike[str] | bytes, passphrase: str | bytes | None
    ) -> SoftwareSigner:
        data = source if isinstance(source, bytes) else read_input(source, "PKCS#12 file")
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, to_bytes(passphrase))
        except ValueError as exc:
            msg = str(exc).lower()
            if "password" in msg or "mac" in msg or "decrypt" in msg:
                raise SecretError(
                    "wrong passphrase for the PKCS#12 file", hint="check THAISIGN_PASSPHRASE or the file"
                ) from None
            raise KeyLoadError(f"not a valid PKCS#12 file: {exc}") from None
        except TypeError as exc:
            raise SecretError(f"PKCS#12 passphrase problem: {exc}") from None
        if key is None:
            raise KeyLoadError("the PKCS#12 file holds no private key")
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise KeyLoadError(f"unsupported key type {type(key).__name__}; use RSA or ECDSA")
        return cls(key, cert, _order_chain(cert, list(extra or [])))

    @classmethod
    def from_pem(
        cls,
        key: str | os.PathLike[str] | bytes,
        cert: str | os.PathLike[str] | bytes | None = None,
        chain: str | os.PathLike[str] | bytes | None = None,
        passphrase: str | bytes | None = None,
    ) -> SoftwareSigner:
        key_data = key if isinstance(key, bytes) else read_input(key, "key file")
        private = load_private_key(key_data, passphrase)
        certificate = None
        if cert is not None:
            certs = load_certificates(cert if isinstance(cert, bytes) else read_input(cert, "certificate"))
            certificate = certs[0]
        extra: list[x509.Certificate] = []
        if chain is not None:
            extra = load_certificates(chain if isinstance(chain, bytes) else read_input(chain, "chain file"))
        return cls(private, certificate, _order_chain(certificate, extra))


def _hash(name: str) -> hashes.HashAlgorithm:
    return hash_algorithm(name)


def load_private_key(
    data: bytes, passphrase: str | bytes | None
) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """A private key from PEM or DER bytes, decrypting with ``passphrase`` when encrypted."""
    pw = to_bytes(passphrase)
    loader = (
        serialization.load_pem_private_key if b"-----BEGIN" in data else serialization.load_der_private_key
    )
    try:
        key = loader(data, pw)
    except TypeError as exc:
        text = str(exc).lower()
        if "encrypted" in text or "password" in text:
            raise SecretError(
                "the private key is encrypted: a passphrase is needed"
                if pw is None
                else "the private key is not encrypted: give no passphrase"
            ) from None
        raise KeyLoadError(f"cannot load private key: {exc}") from None
    except ValueError as exc:
        if pw is not None and ("decrypt" in str(exc).lower() or "password" in str(exc).lower()):
            raise SecretError("wrong passphrase for the private key") from None
        if pw is not None:
            raise SecretError("wrong passphrase for the private key, or not a key file") from None
        raise KeyLoadError(f"not a valid private key file: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyLoadError(f"unsupported key type {type(key).__name__}; use RSA or ECDSA")
    return key


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """All certificates in PEM bytes (or a single DER certificate)."""
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise KeyLoadError(f"not a valid certificate file: {exc}") from None
    if not certs:
        raise KeyLoadError("no certificate found in the file")
    return certs


def load_certificates_file(path: str | os.PathLike[str]) -> list[x509.Certificate]:
    """All certificates in a PEM or DER file."""
    return load_certificates(read_input(Path(path), "certificate file"))


def _order_chain(
    leaf: x509.Certificate | None, extra: list[x509.Certificate]
) -> tuple[x509.Certificate, ...]:
    """Order ``extra`` from the leaf's issuer upwards; keep the rest after, drop the leaf itself."""
    remaining = [c for c in extra if leaf is None or c != leaf]
    if leaf is None:
        return tuple(remaining)
    ordered: list[x509.Certificate] = []
    current = leaf
    while remaining:
        nxt = next((c for c in remaining if c.subject == current.issuer), None)
        if nxt is None or nxt in ordered:
            break
        ordered.append(nxt)
        remaining.remove(nxt)
        if nxt.subject == nxt.issuer:
            break
        current = nxt
    return tuple(ordered + remaining)
