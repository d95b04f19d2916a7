"""Signature algorithms: verify a signature value as declared, and refuse declarations that disagree.

One table maps an AlgorithmIdentifier to (key type, hash) for RSA PKCS#1 v1.5, RSASSA-PSS,
ECDSA, DSA and EdDSA, SHA-2 and SHA-3 alike (RFC 5754, RFC 8702 / NIST CSOR OIDs for SHA-3,
RFC 8419 for EdDSA). asn1crypto does not know the SHA-3-with-RSA OIDs; cryptography does the
mathematics. A CMS signer info must be consistent (:func:`cms_algorithm_problem`): the hash of
a combined signature algorithm, of RSASSA-PSS and of its MGF1 must be the digest algorithm.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from asn1crypto import algos
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa, utils

from thaisign.verify.plain_ecdsa import PLAIN_ECDSA, der_signature

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha512_224": hashes.SHA512_224,
    "sha512_256": hashes.SHA512_256,
    "sha3_224": hashes.SHA3_224,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}

#: signature algorithm (asn1crypto name or dotted OID) -> (key family, hash name or None)
_COMBINED: dict[str, tuple[str, str | None]] = {
    "md5_rsa": ("rsa", "md5"),
    "sha1_rsa": ("rsa", "sha1"),
    "sha224_rsa": ("rsa", "sha224"),
    "sha256_rsa": ("rsa", "sha256"),
    "sha384_rsa": ("rsa", "sha384"),
    "sha512_rsa": ("rsa", "sha512"),
    "2.16.840.1.101.3.4.3.13": ("rsa", "sha3_224"),
    "2.16.840.1.101.3.4.3.14": ("rsa", "sha3_256"),
    "2.16.840.1.101.3.4.3.15": ("rsa", "sha3_384"),
    "2.16.840.1.101.3.4.3.16": ("rsa", "sha3_512"),
    "sha1_ecdsa": ("ec", "sha1"),
    "sha224_ecdsa": ("ec", "sha224"),
    "sha256_ecdsa": ("ec", "sha256"),
    "sha384_ecdsa": ("ec", "sha384"),
    "sha512_ecdsa": ("ec", "sha512"),
    "sha3_224_ecdsa": ("ec", "sha3_224"),
    "sha3_256_ecdsa": ("ec", "sha3_256"),
    "sha3_384_ecdsa": ("ec", "sha3_384"),
    "sha3_512_ecdsa": ("ec", "sha3_512"),
    "sha1_dsa": ("dsa", "sha1"),
    "sha224_dsa": ("dsa", "sha224"),
    "sha256_dsa": ("dsa", "sha256"),
    "ed25519": ("ed25519", None),
    "ed448": ("ed448", None),
    # key algorithm OIDs used as signature algorithms in CMS: the digest algorithm decides
    "rsa": ("rsa", None),
    "rsassa_pkcs1v15": ("rsa", None),
    "ecdsa": ("ec", None),
    "dsa": ("dsa", None),
}
# BSI TR-03111 ecdsa-plain-*: ECDSA whose value is r || s (qualified signature cards; EU DSS)
_COMBINED.update({oid: ("ec-plain", md) for oid, md in PLAIN_ECDSA.items()})
_NAMES = {
    "sha1": "SHA-1",
    "sha224": "SHA-224",
    "sha256": "SHA-256",
    "sha384": "SHA-384",
    "sha512": "SHA-512",
    "sha3_224": "SHA3-224",
    "sha3_256": "SHA3-256",
    "sha3_384": "SHA3-384",
    "sha3_512": "SHA3-512",
    "md5": "MD5",
}


Sentence = tuple[str, str]  # (English, Thai), as thaisign.verify.messages writes them


class AlgorithmProblem(ValueError):
    """The declared algorithms are inconsistent or not supported (``.sentence``: both languages)."""

    def __init__(self, sentence: Sentence) -> None:
        super().__init__(sentence[0])
        self.sentence = sentence


def hash_name(name: str) -> str:
    return _NAMES.get(name, name)


def _algorithm_name(sig_alg: algos.SignedDigestAlgorithm) -> str:
    return str(sig_alg["algorithm"].native)


def _unsupported(what: str, oid: str) -> Sentence:
    thai = {"signature": "ลายมือชื่อ", "digest": "ย่อยข้อมูล", "mask": "สร้างหน้ากากของ RSASSA-PSS"}[what]
    return f"the {what} algorithm {oid} is not supported", f"ไม่รองรับอัลกอริทึม{thai} {oid}"


def pss_parameters(sig_alg: algos.SignedDigestAlgorithm) -> tuple[str, str, int]:
    """(hash, MGF1 hash, salt length) of an RSASSA-PSS AlgorithmIdentifier (RFC 4055 defaults)."""
    params = sig_alg["parameters"]
    if params.native is None:
        return "sha1", "sha1", 20
    hash_alg = params["hash_algorithm"]["algorithm"].native
    mgf = params["mask_gen_algorithm"]
    if mgf["algorithm"].native != "mgf1":
        raise AlgorithmProblem(_unsupported("mask", mgf["algorithm"].dotted))
    mgf_hash = mgf["parameters"]["algorithm"].native
    if params["trailer_field"].native not in (1, "trailer_field_bc"):
        raise AlgorithmProblem(
            ("RSASSA-PSS with a trailer field other than 1", "RSASSA-PSS มีค่า trailer field ที่ไม่ใช่ 1")
        )
    return str(hash_alg), str(mgf_hash), int(params["salt_length"].native)


def signature_hash(sig_alg: algos.SignedDigestAlgorithm, digest_algorithm: str | None = None) -> str | None:
    """The hash a signature algorithm uses (the digest algorithm for plain key OIDs)."""
    name = _algorithm_name(sig_alg)
    if name == "rsassa_pss":
        return pss_parameters(sig_alg)[0]
    family = _COMBINED.get(name)
    if family is None:
        raise AlgorithmProblem(_unsupported("signature", sig_alg["algorithm"].dotted))
    return family[1] or (None if family[0] in ("ed25519", "ed448") else digest_algorithm)


def cms_algorithm_problem(signer_info: Any) -> Sentence | None:
    """Why a CMS SignerInfo's digest and signature algorithms disagree, or None when they agree.

    The hash of a combined algorithm (sha256WithRSAEncryption, ecdsa-with-SHA3-256, ...) and the
    RSASSA-PSS hash and MGF1 hash must equal the digest algorithm; Ed25519 needs SHA-512
    (RFC 8419). The answer is a sentence part in English and Thai.
    """
    try:
        digest = str(signer_info["digest_algorithm"]["algorithm"].native)
        sig_alg = signer_info["signature_algorithm"]
        name = _algorithm_name(sig_alg)
        d = hash_name(digest)
        if name == "rsassa_pss":
            pss_hash, mgf_hash, salt = pss_parameters(sig_alg)
            p, m = hash_name(pss_hash), hash_name(mgf_hash)
            if pss_hash != digest:
                return (
                    f"the RSASSA-PSS hash ({p}) differs from the digest algorithm ({d})",
                    f"แฮชของ RSASSA-PSS ({p}) ไม่ตรงกับอัลกอริทึมย่อยข้อมูลที่ประกาศ ({d})",
                )
            if mgf_hash != pss_hash:
                return (
                    f"the MGF1 hash ({m}) differs from the message hash ({p})",
                    f"แฮชของ MGF1 ({m}) ไม่ตรงกับแฮชของข้อความ ({p})",
                )
            if salt < 0:
                return "RSASSA-PSS with a negative salt length", "ความยาว salt ของ RSASSA-PSS ติดลบ"
            return None
        family = _COMBINED.get(name)
        if family is None:
            return _unsupported("signature", sig_alg["algorithm"].dotted)
        if name == "ed25519" and digest != "sha512":
            return (
                f"Ed25519 in CMS needs SHA-512 as digest algorithm (RFC 8419), not {d}",
                f"Ed25519 ใน CMS ต้องใช้ SHA-512 เป็นอัลกอริทึมย่อยข้อมูล (RFC 8419) ไม่ใช่ {d}",
            )
        if family[1] is not None and family[1] != digest:
            used = hash_name(family[1])
            return (
                f"the signature algorithm uses {used} but the declared digest algorithm is {d}",
                f"อัลกอริทึมลายมือชื่อใช้ {used} แต่ประกาศอัลกอริทึมย่อยข้อมูลเป็น {d}",
            )
        if digest not in _HASHES and name not in ("ed448",):
            return _unsupported("digest", signer_info["digest_algorithm"]["algorithm"].dotted)
    except AlgorithmProblem as exc:
        return exc.sentence
    except (ValueError, TypeError, KeyError):
        return "the algorithm identifiers cannot be read", "อ่านรหัสอัลกอริทึมไม่ได้"
    return None


def verify_signature_value(
    spki_der: bytes,
    sig_alg: algos.SignedDigestAlgorithm,
    signature: bytes,
    data: bytes,
    *,
    digest_algorithm: str | None = None,
) -> bool | None:
    """Does ``signature`` verify over ``data`` with the key in ``spki_der`` as ``sig_alg`` declares?

    True or False; None when the key or algorithm cannot be used here (unsupported, or DSA
    parameters inherited from the issuer). ``digest_algorithm`` serves plain key OIDs (CMS).
    """
    try:
        key = serialization.load_der_public_key(spki_der)
    except (ValueError, UnsupportedAlgorithm):
        return None
    name = _algorithm_name(sig_alg)
    try:
        if name == "rsassa_pss":
            if not isinstance(key, rsa.RSAPublicKey):
                return False
            pss_hash, mgf_hash, salt = pss_parameters(sig_alg)
            key.verify(
                signature,
                data,
                padding.PSS(mgf=padding.MGF1(_HASHES[mgf_hash]()), salt_length=salt),
                _HASHES[pss_hash](),
            )
            return True
        family, hash_alg = _COMBINED[name]
        hash_alg = hash_alg or digest_algorithm
        if family == "ed25519":
            if not isinstance(key, ed25519.Ed25519PublicKey):
                return False
            key.verify(signature, data)
        elif family == "ed448":
            if not isinstance(key, ed448.Ed448PublicKey):
                return False
            key.verify(signature, data)
        elif hash_alg is None or hash_alg not in _HASHES:
            return None
        elif family == "rsa":
            if not isinstance(key, rsa.RSAPublicKey):
                return False
            key.verify(signature, data, padding.PKCS1v15(), _HASHES[hash_alg]())
        elif family == "ec":
            if not isinstance(key, ec.EllipticCurvePublicKey):
                return False
            key.verify(signature, data, ec.ECDSA(_HASHES[hash_alg]()))
        elif family == "ec-plain":
            if not isinstance(key, ec.EllipticCurvePublicKey):
                return False
            der = der_signature(key, signature)
            if der is None:
                return False
            key.verify(der, data, ec.ECDSA(_HASHES[hash_alg]()))
        elif family == "dsa":
            if not isinstance(key, dsa.DSAPublicKey):
                return False
            key.verify(signature, data, _HASHES[hash_alg]())
        else:  # pragma: no cover - table and branches agree
            return None
    except InvalidSignature:
        return False
    except (KeyError, AlgorithmProblem, UnsupportedAlgorithm):
        return None
    except ValueError:
        return False
    return True


def verify_prehashed(
    spki_der: bytes, sig_alg: algos.SignedDigestAlgorithm, signature: bytes, digest: bytes, hash_alg: str
) -> bool | None:
    """Like :func:`verify_signature_value` for a digest already computed (RSA/ECDSA/DSA only)."""
    try:
        key = serialization.load_der_public_key(spki_der)
        prehashed = utils.Prehashed(_HASHES[hash_alg]())
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), prehashed)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(prehashed))
        else:
            return None
    except InvalidSignature:
        return False
    except (KeyError, ValueError, UnsupportedAlgorithm):
        return None
    return True


# --- which algorithms are still acceptable, and until when -------------------------------------


def algorithm_policy(sunsets: Mapping[str, datetime], rsa_min_bits: int = 2048) -> Any:
    """A pyhanko-certvalidator algorithm policy: a digest algorithm in ``sunsets`` is acceptable
    only for signatures made (proven to exist) before its sunset; RSA keys need ``rsa_min_bits``."""
    from pyhanko_certvalidator.policy_decl import AlgorithmUsageConstraint, DisallowWeakAlgorithmsPolicy

    class _Sunsets(DisallowWeakAlgorithmsPolicy):
        def digest_algorithm_allowed(self, algo: Any, moment: datetime | None) -> Any:
            name = str(algo["algorithm"].native)
            sunset = sunsets.get(name)
            if sunset is not None and (moment is None or moment >= sunset):
                return AlgorithmUsageConstraint(
                    False,
                    not_allowed_after=sunset,
                    failure_reason=f"{hash_name(name)} is not accepted for signatures made after "
                    f"{sunset:%Y-%m-%d}",
                )
            return AlgorithmUsageConstraint(True)

    return _Sunsets(
        weak_hash_algos=frozenset(), rsa_key_size_threshold=rsa_min_bits, dsa_key_size_threshold=2048
    )


def cms_algorithm_refusal(
    signer_info: Any, public_key: Any, moment: datetime, policy: Any, sunsets: Mapping[str, datetime]
) -> Sentence | None:
    """Why the policy refuses a CMS signature's algorithms for a signature existing at ``moment``."""
    from thaisign.thai_date import format_thai_date

    digest = str(signer_info["digest_algorithm"]["algorithm"].native)
    sig_alg = signer_info["signature_algorithm"]
    try:
        used = signature_hash(sig_alg, digest)
    except AlgorithmProblem as exc:
        return exc.sentence
    for name in dict.fromkeys(n for n in (digest, used) if n is not None):
        sunset = sunsets.get(name)
        if sunset is not None and moment >= sunset:
            return (
                f"{hash_name(name)} is not accepted for signatures made after {sunset:%Y-%m-%d}",
                f"ไม่ยอมรับ {hash_name(name)} สำหรับลายมือชื่อที่ทำหลังวันที่ {format_thai_date(sunset)}",
            )
    try:
        allowed = policy.signature_algorithm_allowed(sig_alg, moment, public_key)
    except (ValueError, KeyError):
        return None
    if allowed:
        return None
    reason = str(allowed.failure_reason)
    return reason, "ขนาดกุญแจหรืออัลกอริทึมไม่เป็นไปตามนโยบายการตรวจสอบ"
