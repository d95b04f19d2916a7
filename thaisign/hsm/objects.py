"""What is in a token: slots, tokens, keys and certificates (each with its URI); importing certificates."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pkcs11
from asn1crypto.core import Integer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, CertificateType, ObjectClass

from thaisign.errors import CertificateError, TokenError
from thaisign.keys import key_spec_of

from .diagnostics import mechanism_names, token_errors
from .module import load_module, open_token, resolve_module_path
from .session import TokenSession
from .signer import find_private_key, public_key_of
from .uri import Pkcs11Uri


@dataclass(frozen=True)
class TokenInfo:
    """A slot with a token in it."""

    slot_id: int
    slot_description: str
    label: str
    manufacturer: str
    model: str
    serial: str
    initialized: bool
    login_required: bool
    pin_status: str  # "ok", "count-low", "final-try", "locked", "not-initialized"
    uri: Pkcs11Uri

    def as_dict(self) -> dict[str, Any]:
        return {
            "slot_id": self.slot_id,
            "slot_description": self.slot_description,
            "label": self.label,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "serial": self.serial,
            "initialized": self.initialized,
            "login_required": self.login_required,
            "pin_status": self.pin_status,
            "uri": str(self.uri),
        }


@dataclass(frozen=True)
class ObjectInfo:
    """A key or certificate on a token."""

    kind: str  # "private-key", "public-key", "certificate"
    label: str
    id: bytes
    uri: Pkcs11Uri
    key: str | None = None  # "ec-p256", "rsa-3072", ...
    subject: str | None = None  # certificates: RFC 4514 subject
    not_after: str | None = None
    sensitive: bool | None = None  # private keys
    extractable: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "id": self.id.hex(),
            "uri": str(self.uri),
            "key": self.key,
            "subject": self.subject,
            "not_after": self.not_after,
            "sensitive": self.sensitive,
            "extractable": self.extractable,
        }


def _pin_status(flags: int) -> str:
    tf = pkcs11.TokenFlag
    if not flags & tf.USER_PIN_INITIALIZED:
        return "not-initialized"
    if flags & tf.USER_PIN_LOCKED:
        return "locked"
    if flags & tf.USER_PIN_FINAL_TRY:
        return "final-try"
    if flags & tf.USER_PIN_COUNT_LOW:
        return "count-low"
    return "ok"


def _token_info(token: Any) -> TokenInfo:
    serial = token.serial.decode(errors="replace").strip()
    flags = token.flags
    return TokenInfo(
        slot_id=int(token.slot.slot_id),
        slot_description=str(token.slot.slot_description),
        label=str(token.label),
        manufacturer=str(token.manufacturer_id),
        model=str(token.model),
        serial=serial,
        initialized=bool(flags & pkcs11.TokenFlag.TOKEN_INITIALIZED),
        login_required=bool(flags & pkcs11.TokenFlag.LOGIN_REQUIRED),
        pin_status=_pin_status(flags),
        uri=Pkcs11Uri(token=str(token.label), serial=serial),
    )


@dataclass(frozen=True)
class SlotInfo:
    """A slot of the module, with the token in it (``None`` when empty or not initialised)."""

    slot_id: int
    description: str
    manufacturer: str
    token_present: bool
    token: TokenInfo | None
    mechanisms: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "slot_id": self.slot_id,
            "description": self.description,
            "manufacturer": self.manufacturer,
            "token_present": self.token_present,
            "token": self.token.as_dict() if self.token else None,
            "mechanisms": list(self.mechanisms),
        }


def list_slots(
    *, module: str | None = None, uri: str | Pkcs11Uri | None = None, mechanisms: bool = False
) -> list[SlotInfo]:
    """Every slot the module has, with its token if one is present and initialised."""
    parsed = Pkcs11Uri.parse(uri) if isinstance(uri, str) else uri
    lib = load_module(resolve_module_path(parsed, module))
    out = []
    with token_errors(action="list slots"):
        for slot in lib.get_slots(token_present=False):
            present = bool(slot.flags & pkcs11.SlotFlag.TOKEN_PRESENT)
            info = None
            if present:
                try:
                    token = slot.get_token()
                except (pkcs11.exceptions.TokenNotPresent, pkcs11.exceptions.TokenNotRecognised):
                    token = None
                if token is not None and token.flags & pkcs11.TokenFlag.TOKEN_INITIALIZED:
                    info = _token_info(token)
            mechs = tuple(mechanism_names(slot.get_mechanisms())) if mechanisms and present else ()
            out.append(
                SlotInfo(
                    int(slot.slot_id),
                    str(slot.slot_description),
                    str(slot.manufacturer_id),
                    present,
                    info,
                    mechs,
                )
            )
    return out


def list_tokens(*, module: str | None = None, uri: str | Pkcs11Uri | None = None) -> list[TokenInfo]:
    """Every initialised token the module sees."""
    return [s.token for s in list_slots(module=module, uri=uri) if s.token is not None]


def _object_info(obj: Any, token_uri: Pkcs11Uri) -> ObjectInfo | None:
    cls = obj[Attribute.CLASS]
    label = str(obj[Attribute.LABEL])
    obj_id = bytes(obj[Attribute.ID])
    kind = {
        ObjectClass.PRIVATE_KEY: "private-key",
        ObjectClass.PUBLIC_KEY: "public-key",
        ObjectClass.CERTIFICATE: "certificate",
    }.get(cls)
    if kind is None:
        return None
    uri_type = {"private-key": "private", "public-key": "public", "certificate": "cert"}[kind]
    uri = token_uri.replace(object=label or None, id=obj_id or None, type=uri_type)
    if kind == "certificate":
        try:
            cert = x509.load_der_x509_certificate(bytes(obj[Attribute.VALUE]))
        except ValueError:
            return ObjectInfo(kind, label, obj_id, uri)
        return ObjectInfo(
            kind,
            label,
            obj_id,
            uri,
            key=str(key_spec_of(cert.public_key())),
            subject=cert.subject.rfc4514_string(),
            not_after=cert.not_valid_after_utc.isoformat(),
        )
    key_desc = None
    try:
        if kind == "public-key" or obj.key_type == pkcs11.KeyType.RSA:
            key_desc = str(key_spec_of(public_key_of(obj)))
        elif obj.key_type == pkcs11.KeyType.EC:
            from asn1crypto.keys import ECDomainParameters

            curve = ECDomainParameters.load(obj[Attribute.EC_PARAMS]).chosen.native
            key_desc = {"secp256r1": "ec-p256", "secp384r1": "ec-p384", "secp521r1": "ec-p521"}.get(
                curve, f"ec-{curve}"
            )
    except Exception:
        key_desc = None
    if kind == "private-key":
        return ObjectInfo(
            kind,
            label,
            obj_id,
            uri,
            key=key_desc,
            sensitive=bool(obj[Attribute.SENSITIVE]),
            extractable=bool(obj[Attribute.EXTRACTABLE]),
        )
    return ObjectInfo(kind, label, obj_id, uri, key=key_desc)


def list_objects(
    uri: str | Pkcs11Uri, *, pin: str | None = None, module: str | None = None
) -> list[ObjectInfo]:
    """Keys and certificates on the token named by ``uri``; private keys only when a PIN is given."""
    parsed = Pkcs11Uri.parse(uri) if isinstance(uri, str) else uri
    if pin is None:
        pin = parsed.read_pin_source()
    ts = TokenSession.for_uri(parsed.for_token(), pin=pin, module=module)
    token_uri = _token_info(ts.token).uri

    def collect(session: Any) -> list[ObjectInfo]:
        found = []
        for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY, ObjectClass.CERTIFICATE):
            for obj in session.get_objects({Attribute.CLASS: cls}):
                info = _object_info(obj, token_uri)
                if info is not None:
                    found.append(info)
        return found

    return ts.run(collect, action="list objects")


def _label_for(cert: x509.Certificate) -> str:
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else cert.subject.rfc4514_string()


def _cert_template(cert: x509.Certificate, label: str, cert_id: bytes) -> dict[Attribute, Any]:
    return {
        Attribute.CLASS: ObjectClass.CERTIFICATE,
        Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
        Attribute.TOKEN: True,
        Attribute.PRIVATE: False,
        Attribute.MODIFIABLE: True,
        Attribute.LABEL: label,
        Attribute.ID: cert_id,
        Attribute.SUBJECT: cert.subject.public_bytes(),
        Attribute.ISSUER: cert.issuer.public_bytes(),
        Attribute.SERIAL_NUMBER: Integer(cert.serial_number).dump(),
        Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
    }


def import_certificate(
    uri: str | Pkcs11Uri,
    certificate: x509.Certificate,
    chain: Sequence[x509.Certificate] = (),
    *,
    pin: str | None = None,
    module: str | None = None,
    replace: bool = False,
) -> list[ObjectInfo]:
    """Store ``certificate`` beside the key named by ``uri`` (same label and id), and its chain.

    The certificate must match the key. Chain certificates get their subject CN as label and
    the SHA-1 of their DER as id; ones already on the token are not stored twice. Returns
    what was stored.
    """
    parsed = Pkcs11Uri.parse(uri) if isinstance(uri, str) else uri
    if pin is None:
        pin = parsed.read_pin_source()
    with TokenSession.for_uri(parsed, pin=pin, module=module, rw=True) as ts:
        token_uri = _token_info(ts.token).uri

        def store(session: Any) -> list[ObjectInfo]:
            key = find_private_key(session, parsed.replace(type=None), ts.label)
            key_id, label = bytes(key[Attribute.ID]), str(key[Attribute.LABEL])
            pubs = list(session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: key_id}))
            token_public = public_key_of(pubs[0]) if pubs else None
            if token_public is None and key.key_type == pkcs11.KeyType.RSA:
                token_public = public_key_of(key)
            if token_public is not None and certificate.public_key() != token_public:
                raise CertificateError(
                    f"the certificate ({_label_for(certificate)}) is not for the key {label!r} on the token",
                    hint="import the certificate that was issued for this key's CSR",
                )
            stored: list[ObjectInfo] = []
            der = certificate.public_bytes(serialization.Encoding.DER)
            old = list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: key_id}))
            if any(bytes(o[Attribute.VALUE]) == der for o in old):
                old_same = True
            else:
                old_same = False
                if old and not replace:
                    raise TokenError(
                        f"token {ts.label!r} already holds a certificate for key {label!r}",
                        hint="pass --replace to replace it (e.g. after renewal)",
                    )
                for o in old:
                    o.destroy()
            if not old_same:
                obj = session.create_object(_cert_template(certificate, label, key_id))
                info = _object_info(obj, token_uri)
                if info is not None:
                    stored.append(info)
            for ca_cert in chain:
                ca_der = ca_cert.public_bytes(serialization.Encoding.DER)
                ca_id = hashlib.sha1(ca_der).digest()
                present = list(
                    session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: ca_id})
                )
                if present:
                    continue
                obj = session.create_object(_cert_template(ca_cert, _label_for(ca_cert), ca_id))
                info = _object_info(obj, token_uri)
                if info is not None:
                    stored.append(info)
            return stored

        return ts.run(store, action="store the certificate")


def find_token_info(uri: str | Pkcs11Uri, *, module: str | None = None) -> TokenInfo:
    """The :class:`TokenInfo` of the one token ``uri`` names."""
    parsed = Pkcs11Uri.parse(uri) if isinstance(uri, str) else uri
    return _token_info(open_token(parsed, module)[1])
