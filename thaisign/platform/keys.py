"""Where the platform's CA keys live: encrypted files in the platform folder, or PKCS#11 tokens.

A key is named by a reference stored with its CA: ``file:keys/dla-1.pem`` (a PKCS#8 file encrypted
with the platform's CA passphrase, mode 0600; ``openssl pkey`` reads it) or an RFC 7512 URI
(``pkcs11:token=DLA-CA;object=dla-ca-1``). Tokens serve both layouts the issue asks for: one token
(or slot) per agency — its URI can carry ``pin-source=file:...`` with that token's own PIN — or
one HSM with a label per agency (``THAISIGN_PIN`` once).

>>> keys = KeyStore(Path("/srv/korat-pki/keys"), passphrase=ca_passphrase, pin=pin)
>>> ref, signer = keys.create("dla-1", "ec-p384")                        # a new file key
>>> ref, signer = keys.create("dla-2", "ec-p384", token="pkcs11:token=Platform-HSM")   # in the HSM
>>> signer = keys.signer(ref)                                            # opened once per process
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from thaisign._fs import atomic_write, read_input
from thaisign.errors import KeyLoadError, SecretError, UsageError
from thaisign.keys import KeySpec, Signer, SoftwareSigner, load_private_key

_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,80}$")


class KeyStore:
    """Creates and opens CA keys; every opened key is kept for the life of the process."""

    def __init__(
        self,
        directory: Path,
        *,
        passphrase: str | None = None,
        pin: str | None = None,
        module: str | None = None,
    ) -> None:
        self.directory = directory
        self._passphrase = passphrase
        self._pin = pin
        self._module = module
        self._open: dict[str, Signer] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<KeyStore {str(self.directory)!r} ({len(self._open)} keys open)>"

    def create(self, name: str, key: str | KeySpec, *, token: str | None = None) -> tuple[str, Signer]:
        """A new key: a file ``keys/NAME.pem``, or in ``token`` (a ``pkcs11:`` URI naming the token)
        with the label NAME. Never overwrites a key."""
        if not _NAME.match(name):
            raise UsageError(f"key name {name!r} is not a plain name")
        spec = key if isinstance(key, KeySpec) else KeySpec.parse(key)
        if token is not None:
            return self._create_in_token(name, spec, token)
        if not self._passphrase:
            raise SecretError(
                "the platform's CA keys need the CA passphrase",
                hint="set THAISIGN_CA_PASSPHRASE or pass --passphrase-file",
            )
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / f"{name}.pem"
        if path.exists():
            raise UsageError(
                f"{path} exists already: thaisign never overwrites a key", hint="choose another name"
            )
        private = spec.generate()
        enc = serialization.BestAvailableEncryption(self._passphrase.encode("utf-8"))
        atomic_write(
            path,
            private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc),
            mode=0o600,
        )
        ref = f"file:{self.directory.name}/{path.name}"
        signer = SoftwareSigner(private)
        with self._lock:
            self._open[ref] = signer
        return ref, signer

    def adopt(self, name: str, private_key: object) -> str:
        """Write an existing software key (an imported CA's) as ``keys/NAME.pem``, encrypted with
        the platform's CA passphrase; returns its reference."""
        from thaisign.keys import SoftwareSigner

        if not _NAME.match(name):
            raise UsageError(f"key name {name!r} is not a plain name")
        signer = SoftwareSigner(private_key)  # type: ignore[arg-type]
        path = self._new_path(name)
        enc = serialization.BestAvailableEncryption(self._need_passphrase().encode("utf-8"))
        atomic_write(
            path,
            signer.private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc
            ),
            mode=0o600,
        )
        ref = f"file:{self.directory.name}/{path.name}"
        with self._lock:
            self._open[ref] = signer
        return ref

    def _need_passphrase(self) -> str:
        if not self._passphrase:
            raise SecretError(
                "the platform's CA keys need the CA passphrase",
                hint="set THAISIGN_CA_PASSPHRASE or pass --passphrase-file",
            )
        return self._passphrase

    def _new_path(self, name: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / f"{name}.pem"
        if path.exists():
            raise UsageError(
                f"{path} exists already: thaisign never overwrites a key", hint="choose another name"
            )
        return path

    def _create_in_token(self, name: str, spec: KeySpec, token: str) -> tuple[str, Signer]:
        from thaisign.hsm import generate_key
        from thaisign.hsm.uri import Pkcs11Uri

        parsed = Pkcs11Uri.parse(token)
        if parsed.object is not None:
            raise UsageError(
                "give the token only (pkcs11:token=...): the platform names the key itself",
                hint=f"the new key will be object={name}",
            )
        target = parsed.replace(object=name)
        pin = None if parsed.pin_source is not None else self._pin
        made = generate_key(target, spec, pin=pin, module=self._module)
        # keep the token's pin-source: a token per agency keeps its own PIN
        ref = str(made.uri.replace(pin_source=parsed.pin_source))
        return ref, self.signer(ref)

    def signer(self, ref: str, module: str | None = None) -> Signer:
        """The key a reference names (opened on first use, then shared)."""
        with self._lock:
            found = self._open.get(ref)
            if found is not None:
                return found
            signer = self._load(ref, module)
            self._open[ref] = signer
            return signer

    def _load(self, ref: str, module: str | None) -> Signer:
        if ref.startswith("pkcs11:"):
            return Signer.from_pkcs11(ref, pin=self._pin_for(ref), module=module or self._module)
        if not ref.startswith("file:"):
            raise KeyLoadError(f"unknown key reference {ref!r}")
        relative = ref[len("file:") :]
        path = (self.directory.parent / relative).resolve()
        if path.parent != self.directory.resolve():
            raise KeyLoadError(f"key reference {ref!r} points outside the platform's key folder")
        passphrase = self._need_passphrase()
        try:
            return SoftwareSigner(load_private_key(read_input(path, "CA key"), passphrase))
        except SecretError:
            raise SecretError(
                f"wrong CA passphrase for {path.name}",
                hint="check THAISIGN_CA_PASSPHRASE or --passphrase-file",
            ) from None

    def _pin_for(self, ref: str) -> str | None:
        """The URI's own pin-source (a token per agency) wins over the platform-wide PIN."""
        return None if "pin-source=" in ref else self._pin

    def close(self) -> None:
        with self._lock:
            for signer in self._open.values():
                signer.close()
            self._open.clear()


def key_file_mode_ok(path: Path) -> bool:
    """True when a key file is readable by its owner only."""
    return (os.stat(path).st_mode & 0o077) == 0
