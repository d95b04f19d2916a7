"""The CSC API's rules, checked before and after a SAD is consumed: digests, signature algorithms
for a key, what a consumed SAD covers, and the ``key`` object of credentials/info."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections import Counter
from typing import Any

from thaisign.keys import key_spec_of
from thaisign.service.model import (
    CURVE_OIDS,
    EC_PUBLIC_KEY,
    ECDSA,
    HASH_BY_LENGTH,
    HASH_OIDS,
    OID_OF_HASH,
    RSA_ENCRYPTION,
    RSA_PKCS1,
    RSA_PSS,
    Credential,
    CscError,
    bad_request,
)
from thaisign.service.oidc import Caller
from thaisign.service.store import SadRecord


def parse_hashes(hashes: object, hash_algo: object, *, limit: int) -> tuple[list[str], str]:
    """Canonical base64 digests and the hash algorithm name; a 400 :class:`CscError` if malformed."""
    if not isinstance(hashes, list) or not hashes:
        raise bad_request("hash must be a non-empty list of base64 digests (this service binds every SAD)")
    if len(hashes) > limit:
        raise bad_request(f"at most {limit} hashes per request")
    raw: list[bytes] = []
    for h in hashes:
        if not isinstance(h, str) or len(h) > 200:
            raise bad_request("every hash must be a base64 string")
        try:
            raw.append(
                base64.b64decode(h.replace("-", "+").replace("_", "/") + "=" * (-len(h) % 4), validate=True)
            )
        except (binascii.Error, ValueError):
            raise bad_request("a hash is not valid base64") from None
    lengths = {len(r) for r in raw}
    if hash_algo is not None:
        if not isinstance(hash_algo, str) or hash_algo not in HASH_OIDS:
            raise bad_request("hashAlgo must be the OID of SHA-256, SHA-384 or SHA-512")
        algo = HASH_OIDS[hash_algo]
    elif len(lengths) == 1 and next(iter(lengths)) in HASH_BY_LENGTH:
        algo = HASH_BY_LENGTH[next(iter(lengths))]
    else:
        raise bad_request("hashes must all be SHA-256, SHA-384 or SHA-512 digests of one kind")
    size = hashlib.new(algo).digest_size
    if lengths != {size}:
        raise bad_request(f"every hash must be a {algo} digest ({size} bytes)")
    return [base64.b64encode(r).decode() for r in raw], algo


def signature_plan(
    cred: Credential, sign_algo: object, hash_algo: object, params: object, digest_algo: str
) -> tuple[str, bool]:
    """(hash name, PSS?) for a ``signAlgo`` (+ ``hashAlgo``/``signAlgoParams``) on this key."""
    if not isinstance(sign_algo, str):
        raise bad_request("signAlgo (an OID) is required")
    if cred.key_spec.kind == "ec":
        if sign_algo in ECDSA:
            h = ECDSA[sign_algo]
        elif sign_algo == EC_PUBLIC_KEY and hash_algo is not None:
            h = digest_algo
        else:
            raise bad_request(f"signAlgo {sign_algo[:60]} does not fit this credential's EC key")
        pss = False
    elif sign_algo in RSA_PKCS1:
        h, pss = RSA_PKCS1[sign_algo], False
    elif sign_algo == RSA_ENCRYPTION and hash_algo is not None:
        h, pss = digest_algo, False
    elif sign_algo == RSA_PSS:
        h, pss = _pss_hash(params), True
    else:
        raise bad_request(f"signAlgo {sign_algo[:60]} does not fit this credential's RSA key")
    if h != digest_algo:
        raise bad_request(f"signAlgo uses {h} but the hashes are {digest_algo} digests")
    return h, pss


def _pss_hash(params: object) -> str:
    from asn1crypto.algos import RSASSAPSSParams

    if not isinstance(params, str):
        raise bad_request("RSASSA-PSS needs signAlgoParams (base64 DER RSASSA-PSS-params)")
    try:
        parsed = RSASSAPSSParams.load(base64.b64decode(params, validate=True))
        h = parsed["hash_algorithm"]["algorithm"].native
        mgf = parsed["mask_gen_algorithm"]["parameters"]["algorithm"].native
        salt = parsed["salt_length"].native
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise bad_request("signAlgoParams is not a valid RSASSA-PSS-params structure") from None
    if h not in OID_OF_HASH or mgf != h or salt != hashlib.new(h).digest_size:
        raise bad_request(
            "RSASSA-PSS is supported with MGF1 over the same hash and a salt of the hash's length"
        )
    return str(h)


def check_sad(
    record: SadRecord | None,
    cred: Credential,
    caller: Caller,
    digests: list[str],
    algo: str,
    now: dt.datetime,
) -> CscError | None:
    """Why a consumed SAD does not cover this request, or None when it does."""
    if record is None:
        return CscError(400, "invalid_request", "the SAD is unknown or was used already: authorize again")
    if now >= record.expires_at:
        return CscError(400, "invalid_request", "the SAD expired: authorize again")
    if record.credential_id != cred.id:
        return CscError(400, "invalid_request", "the SAD was issued for another credential")
    if record.subject != caller.subject or record.client_id != caller.client_id:
        return CscError(400, "invalid_request", "the SAD was issued to another caller")
    if len(digests) > record.num_signatures:
        return CscError(
            400,
            "invalid_request",
            f"the SAD authorises {record.num_signatures} signature(s), not {len(digests)}",
        )
    if record.hash_algo != algo:
        return CscError(400, "invalid_request", f"the SAD authorises {record.hash_algo} digests, not {algo}")
    if Counter(digests) - Counter(record.hashes):
        return CscError(400, "invalid_request", "the SAD does not authorise these hashes")
    return None


def key_description(cred: Credential) -> dict[str, Any]:
    """The ``key`` object of credentials/info."""
    spec = key_spec_of(cred.certificate.public_key())
    key: dict[str, Any] = {
        "status": "enabled" if cred.status == "active" and cred.locked_at is None else "disabled",
        "algo": cred.sign_algorithms(),
        "len": spec.size,
    }
    if spec.kind == "ec":
        key["curve"] = CURVE_OIDS.get(spec.size, "")
    return key
