"""Generating a key pair inside a token: non-extractable, sensitive, for signing only."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from thaisign.errors import TokenError, UsageError
from thaisign.keys import KeySpec

from .session import TokenSession
from .signer import public_key_of
from .uri import Pkcs11Uri

_CURVES = {256: "secp256r1", 384: "secp384r1", 521: "secp521r1"}
KEY_CHOICES = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072")


@dataclass(frozen=True)
class GeneratedKey:
    """A key pair just made in a token: its URI (label + id), type and public key."""

    uri: Pkcs11Uri
    key_spec: KeySpec
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def _existing(session: Any, uri: Pkcs11Uri) -> list[Any]:
    found = []
    if uri.object is not None:
        found += list(session.get_objects({Attribute.LABEL: uri.object}))
    if uri.id is not None:
        found += [o for o in session.get_objects({Attribute.ID: uri.id}) if o not in found]
    return [o for o in found if o[Attribute.CLASS] in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY)]


def generate_key(
    uri: str | Pkcs11Uri,
    key: str | KeySpec = "ec-p256",
    *,
    pin: str | None,
    module: str | None = None,
) -> GeneratedKey:
    """Make a key pair named by ``uri`` (``object=`` label, optional ``id=``) in the token.

    The private key is sensitive, never extractable, and may only sign. Refuses to create a key
    whose label or id is taken. ``id`` defaults to 8 random bytes.

    >>> generate_key("pkcs11:token=Agency;object=somchai", "ec-p256", pin="1234")
    """
    parsed = uri if isinstance(uri, Pkcs11Uri) else Pkcs11Uri.parse(uri)
    spec = key if isinstance(key, KeySpec) else KeySpec.parse(key)
    if parsed.object is None:
        raise UsageError(
            "the URI must name the new key with object=<label>",
            hint="e.g. pkcs11:token=Agency;object=somchai-2026",
        )
    if pin is None:
        pin = parsed.read_pin_source()
    key_id = parsed.id if parsed.id is not None else os.urandom(8)
    target = parsed.replace(id=key_id, pin_source=None, type=None)
    with TokenSession.for_uri(parsed, pin=pin, module=module, rw=True) as ts:

        def make(session: Any) -> Any:
            taken = _existing(session, target)
            if taken:
                names = ", ".join(
                    f"{o[Attribute.LABEL]!r} (id {bytes(o[Attribute.ID]).hex()})" for o in taken
                )
                raise TokenError(
                    f"token {ts.label!r} already holds a key with that label or id: {names}",
                    hint="thaisign never overwrites a key: choose another object= label",
                )
            public_template: dict[Attribute, Any] = {Attribute.TOKEN: True, Attribute.PRIVATE: False}
            private_template: dict[Attribute, Any] = {
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
            }
            if spec.kind == "ec":
                if spec.size not in _CURVES:
                    raise UsageError(f"unsupported curve size {spec.size}")
                public_template[Attribute.EC_PARAMS] = encode_named_curve_parameters(_CURVES[spec.size])
                key_type, length = KeyType.EC, None
            else:
                key_type, length = KeyType.RSA, spec.size
            pub, _priv = session.generate_keypair(
                key_type,
                length,
                id=key_id,
                label=parsed.object,
                store=True,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                public_template=public_template,
                private_template=private_template,
            )
            return pub

        pub = ts.run(make, action=f"generate a {spec} key")
        public = public_key_of(pub)
    return GeneratedKey(target.without_query().replace(module_path=parsed.module_path), spec, public)
