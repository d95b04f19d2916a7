"""RFC 7512 PKCS#11 URIs: ``pkcs11:token=...;object=...;id=%01?module-path=...&pin-source=...``.

:class:`Pkcs11Uri` parses and formats them, with percent-encoding of every value (``id`` is raw
bytes). A PIN is never carried in a URI: ``pin-value`` is refused; ``pin-source`` names a file
(``file:/path`` or a plain path) whose first line is the PIN.
"""

from __future__ import annotations

import builtins
import dataclasses
from dataclasses import dataclass
from urllib.parse import unquote, unquote_to_bytes, urlparse

from thaisign.errors import PinError, UsageError

# RFC 7512 section 2.3: characters that may appear unencoded in a path / query attribute value.
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_PATH_SAFE = _UNRESERVED + ":[]@!$'()*+,="
_QUERY_SAFE = _UNRESERVED + ":[]@!$'()*+,=/?|"

#: path attribute -> dataclass field
_PATH_ATTRS = {
    "token": "token",
    "manufacturer": "manufacturer",
    "serial": "serial",
    "model": "model",
    "library-manufacturer": "library_manufacturer",
    "library-description": "library_description",
    "library-version": "library_version",
    "slot-description": "slot_description",
    "slot-manufacturer": "slot_manufacturer",
    "slot-id": "slot_id",
    "object": "object",
    "type": "type",
    "id": "id",
}
_QUERY_ATTRS = {"module-path": "module_path", "module-name": "module_name", "pin-source": "pin_source"}
_OBJECT_TYPES = ("private", "public", "cert", "secret-key", "data")


def _encode(value: str | bytes, safe: str) -> str:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return "".join(chr(b) if chr(b) in safe else f"%{b:02X}" for b in raw)


def _redacted(uri: str) -> str:
    """``uri`` fit to print: any ``pin-value`` removed, control characters escaped, length bounded."""
    import re

    from thaisign._text import visible

    return visible(re.sub(r"(?i)(pin-value)=[^;&?]*", r"\1=(hidden)", uri), 200)


def _bad(uri: str, why: str) -> UsageError:
    return UsageError(
        f"invalid PKCS#11 URI '{_redacted(uri)}': {why}",
        hint="write it like pkcs11:token=Agency;object=somchai (see thaisign hsm list)",
    )


def _pin_value_refused() -> PinError:
    return PinError(
        "a PIN inside the URI (pin-value) is not accepted: it would show in process lists",
        hint="use ?pin-source=file:/path/to/pin, THAISIGN_PIN, --pin-file or the prompt",
    )


def check_module_name(name: str) -> str:
    """``name`` if it is a plain file name (``softhsm2``, ``libsofthsm2.so``), else :class:`UsageError`:
    a ``module-name`` never leaves the module folder."""
    from thaisign._text import visible

    if not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise UsageError(
            f"module-name {visible(name, 80)!r} is not a plain library name",
            hint="module-name names a library inside the module folder (e.g. softhsm2); "
            "give a full path with module-path or --pkcs11-module",
        )
    return name


@dataclass(frozen=True)
class Pkcs11Uri:
    """A parsed RFC 7512 URI naming a token, and optionally an object on it."""

    token: str | None = None
    manufacturer: str | None = None
    serial: str | None = None
    model: str | None = None
    library_manufacturer: str | None = None
    library_description: str | None = None
    library_version: str | None = None
    slot_description: str | None = None
    slot_manufacturer: str | None = None
    slot_id: int | None = None
    object: str | None = None
    type: str | None = None
    id: bytes | None = None
    module_path: str | None = None
    module_name: str | None = None
    pin_source: str | None = None

    @classmethod
    def parse(cls, text: str) -> Pkcs11Uri:
        """Parse ``pkcs11:...``; raise :class:`~thaisign.errors.UsageError` when it is malformed."""
        uri = text.strip()
        if not uri.lower().startswith("pkcs11:"):
            raise _bad(text, "it must start with 'pkcs11:'")
        body = uri[len("pkcs11:") :]
        path, _, query = body.partition("?")
        values: dict[str, builtins.object] = {}
        for part in (p for p in path.split(";") if p):
            name, sep, raw = part.partition("=")
            name = name.strip().lower()
            if name == "pin-value":
                raise _pin_value_refused()
            if not sep:
                raise _bad(text, f"attribute {name!r} has no '=value'")
            if name.startswith("x-"):
                continue  # vendor attributes are allowed and ignored
            field = _PATH_ATTRS.get(name)
            if field is None:
                raise _bad(text, f"unknown attribute {name!r}")
            if field in values:
                raise _bad(text, f"attribute {name!r} given twice")
            values[field] = cls._value(text, field, raw)
        for part in (p for p in query.split("&") if p):
            name, sep, raw = part.partition("=")
            name = name.strip().lower()
            if name == "pin-value":
                raise _pin_value_refused()
            if name.startswith("x-"):
                continue
            field = _QUERY_ATTRS.get(name)
            if field is None:
                raise _bad(text, f"unknown query attribute {name!r}")
            if not sep:
                raise _bad(text, f"query attribute {name!r} has no '=value'")
            try:
                values[field] = unquote(raw, errors="strict")
            except UnicodeDecodeError:
                raise _bad(text, f"{name} is not valid UTF-8 after percent-decoding") from None
            if field == "module_name":
                check_module_name(str(values[field]))
        return cls(**values)  # type: ignore[arg-type]

    @staticmethod
    def _value(text: str, field: str, raw: str) -> builtins.object:
        try:
            if field == "id":
                return unquote_to_bytes(raw)
            value = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            raise _bad(text, f"{field} is not valid UTF-8 after percent-decoding") from None
        if field == "slot_id":
            if not value.isdigit():
                raise _bad(text, "slot-id must be a decimal number")
            return int(value)
        if field == "type" and value not in _OBJECT_TYPES:
            raise _bad(text, f"type must be one of {', '.join(_OBJECT_TYPES)}")
        return value

    def __str__(self) -> str:
        parts: list[str] = []
        for name, field in _PATH_ATTRS.items():
            value = getattr(self, field)
            if value is None:
                continue
            if field == "id":  # raw bytes: always %XX, as p11tool and pkcs11-tool print them
                parts.append("id=" + "".join(f"%{b:02X}" for b in value))
                continue
            parts.append(f"{name}={_encode(str(value) if field == 'slot_id' else value, _PATH_SAFE)}")
        query = [
            f"{name}={_encode(getattr(self, field), _QUERY_SAFE)}"
            for name, field in _QUERY_ATTRS.items()
            if getattr(self, field) is not None
        ]
        return "pkcs11:" + ";".join(parts) + ("?" + "&".join(query) if query else "")

    def replace(self, **changes: builtins.object) -> Pkcs11Uri:
        """A copy with some attributes changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def for_token(self) -> Pkcs11Uri:
        """Only the attributes that select the token (and the module), without the object."""
        return self.replace(object=None, id=None, type=None)

    def without_query(self) -> Pkcs11Uri:
        """The URI without module-path / module-name / pin-source."""
        return self.replace(module_path=None, module_name=None, pin_source=None)

    @property
    def names_object(self) -> bool:
        return self.object is not None or self.id is not None

    def describe_object(self) -> str:
        """Human words for the object part: ``label 'somchai', id 01``."""
        bits = []
        if self.object is not None:
            bits.append(f"label {self.object!r}")
        if self.id is not None:
            bits.append(f"id {self.id.hex()}")
        return ", ".join(bits) or "any object"

    def read_pin_source(self) -> str | None:
        """The PIN from ``pin-source`` (``file:`` URI or plain path), or ``None`` without one."""
        if self.pin_source is None:
            return None
        source = self.pin_source
        if source.startswith("file:"):
            parsed = urlparse(source)
            source = unquote(parsed.path)
        elif "://" in source or source.startswith("|"):
            raise PinError(
                f"unsupported pin-source {self.pin_source!r}",
                hint="use pin-source=file:/path/to/pin-file",
            )
        from thaisign._secrets import read_secret_file
        from thaisign.errors import SecretError

        try:
            return read_secret_file(source, private=True)
        except SecretError as exc:
            raise PinError(f"pin-source: {exc.message}", hint=exc.hint) from None
