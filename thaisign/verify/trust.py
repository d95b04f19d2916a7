"""Trust anchors for verification: agency roots, per-user config, and the pinned Thai NRCA roots.

>>> trust = TrustStore.from_paths(["agency-root.pem"])          # + bundled NRCA G3
>>> trust = TrustStore.default()   # $THAISIGN_TRUST, ~/.config/thaisign/trust/, NRCA G3

The operating system's TLS store is never used: only what is listed here is trusted.
Certificates that claim a Thai NRCA name must match the pinned SHA-256 fingerprint, or
loading fails with :class:`~thaisign.errors.TrustError`.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509

from thaisign.errors import TrustError

#: NRCA common name -> pinned SHA-256 of the certificate (upper-case hex), from ETDA.
PINNED_NRCA: dict[str, str] = {
    "Thailand National Root Certification Authority - G3": (
        "3D2794A0539486A83E8032CF14FE886553E52239CBAEC1B9CFEF5595ADBBF444"
    ),
    "Thailand National Root Certification Authority - G1": (
        "2A8DA2F8D23E0CD3B5871ECFB0F42276CA73230667F474EEDE71C5EE32CC3EC6"
    ),
}
_BUNDLED = ("thailand-nrca-g3.pem",)
_CERT_SUFFIXES = {".pem", ".crt", ".cer", ".der"}


@dataclass(frozen=True)
class TrustAnchor:
    """One trusted root certificate and where it came from."""

    certificate: asn1_x509.Certificate
    sha256: str  # upper-case hex of the DER certificate
    source: str  # file path, "bundled:<name>" or "memory"

    @property
    def subject(self) -> str:
        """The anchor's subject name, readable (``Common Name: ..., Organization: ...``)."""
        return str(self.certificate.subject.human_friendly)

    def __repr__(self) -> str:
        cn = _common_name(self.certificate) or self.subject
        return f"TrustAnchor({cn!r}, sha256={self.sha256[:16]}…, source={self.source!r})"


def _fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest().upper()


def _common_name(cert: asn1_x509.Certificate) -> str | None:
    """The subject's (last) common name, for short displays."""
    names = _common_names(cert)
    return names[-1] if names else None


def _common_names(cert: asn1_x509.Certificate) -> list[str]:
    """Every common name of the subject (a subject may repeat the attribute)."""
    out: list[str] = []
    for rdn in cert.subject.chosen:
        for attr in rdn:
            if attr["type"].native == "common_name":
                out.append(str(attr["value"].native))
    return out


#: letters of other scripts (and digits) that look like Latin ones, lower-case (Unicode
#: confusables, the part that matters for names written in Latin letters)
_CONFUSABLE = str.maketrans(
    {
        # Cyrillic
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "һ": "h",
        "і": "l",
        "ї": "l",
        "ј": "j",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "ѕ": "s",
        "ԁ": "d",
        "ԛ": "q",
        "ԝ": "w",
        "ӏ": "l",
        "ɡ": "g",
        "ց": "g",
        "ո": "n",
        "օ": "o",
        # Greek
        "α": "a",
        "β": "b",
        "ε": "e",
        "ι": "l",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        "η": "n",
        "ϲ": "c",
        "ϳ": "j",
        # Latin look-alikes and digits (confusables.txt maps 1, I, l and i to one skeleton)
        "ı": "l",
        "ǀ": "l",
        "i": "l",
        "1": "l",
        "|": "l",
        "0": "o",
        "ø": "o",
    }
)


def name_skeleton(text: str) -> str:
    """A comparison key under which look-alike names collide: NFKC, no format or combining
    characters, case-folded, other scripts' look-alikes mapped to Latin, "rn" read as "m",
    and only letters and digits kept (spaces, NBSP, dashes of any kind vanish)."""
    folded = unicodedata.normalize("NFKC", text)
    folded = "".join(ch for ch in folded if unicodedata.category(ch) not in ("Cf", "Mn", "Me", "Cc"))
    folded = folded.casefold().translate(_CONFUSABLE).replace("rn", "m")
    return "".join(ch for ch in folded if ch.isalnum())


_PINNED_SKELETONS = {name_skeleton(name): name for name in PINNED_NRCA}


def _visible(text: str) -> str:
    """``text`` with control, format and other invisible characters shown as escapes."""
    return "".join(
        ch
        if (ch.isprintable() and unicodedata.category(ch) not in ("Cf", "Zs")) or ch == " "
        else f"\\u{ord(ch):04x}"
        for ch in text
    )


def _anchor(cert: asn1_x509.Certificate, source: str) -> TrustAnchor:
    """A trust anchor, unless the certificate's name is (or looks like) a pinned national root's
    while its fingerprint is not that root's: such an impostor is refused, whatever its source."""
    der = cert.dump()
    fp = _fingerprint(der)
    for cn in _common_names(cert):
        genuine = _PINNED_SKELETONS.get(name_skeleton(cn))
        if genuine is None:
            continue
        pinned = PINNED_NRCA[genuine]
        if fp != pinned:
            looks = "claims to be" if cn == genuine else f"has a name that looks like ('{_visible(cn)}')"
            raise TrustError(
                f"{source}: certificate {looks} '{genuine}' but its SHA-256 is {fp}, not the pinned {pinned}",
                hint="obtain the genuine root certificate from ETDA (nrca.go.th) and check its fingerprint",
            )
    return TrustAnchor(cert, fp, source)


def load_certificates(data: bytes, source: str) -> list[asn1_x509.Certificate]:
    """Certificates in a PEM (one or more blocks) or DER blob; TrustError if none can be read."""
    certs: list[asn1_x509.Certificate] = []
    try:
        if asn1_pem.detect(data):
            for kind, _headers, der in asn1_pem.unarmor(data, multiple=True):
                if kind == "CERTIFICATE" or kind == "TRUSTED CERTIFICATE":
                    certs.append(asn1_x509.Certificate.load(der))
        else:
            cert = asn1_x509.Certificate.load(data)
            _ = cert.subject.native  # force parsing now
            certs.append(cert)
    except (ValueError, TypeError) as exc:
        raise TrustError(
            f"cannot read certificate file {source}: {exc}",
            hint="give a PEM or DER X.509 certificate",
        ) from None
    if not certs:
        raise TrustError(f"no certificate found in {source}", hint="give a PEM or DER X.509 certificate")
    return certs


def _iter_files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and p.suffix.lower() in _CERT_SUFFIXES:
                yield p
    elif path.is_file():
        yield path
    else:
        raise TrustError(f"trust anchor not found: {path}", hint="check the --trust path")


def _as_paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """One path or many, never the characters of a string (nor the bytes of a bytes path)."""
    if isinstance(paths, str | bytes | os.PathLike):
        return [Path(os.fsdecode(paths))]
    out = []
    for p in paths:
        if not isinstance(p, str | os.PathLike):
            raise TypeError(f"a trust anchor path must be a str or os.PathLike, not {type(p).__name__}")
        out.append(Path(p))
    return out


def user_trust_paths() -> list[Path]:
    """Where the per-user/agency trust anchors live: ``$THAISIGN_TRUST`` and the config folder."""
    paths: list[Path] = []
    env = os.environ.get("THAISIGN_TRUST", "")
    paths.extend(Path(p) for p in env.split(os.pathsep) if p)
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    folder = Path(config_home) / "thaisign" / "trust"
    if folder.is_dir():
        paths.append(folder)
    return paths


def _bundled_bytes(name: str) -> bytes:
    """A file of ``thaisign/data``: read beside the package (importlib.resources, needed only
    for zip imports and other loaders, costs ~10 ms of imports in every ``thaisign verify``)."""
    try:
        return (Path(__file__).resolve().parent.parent / "data" / name).read_bytes()
    except OSError:
        from importlib import resources

        return resources.files("thaisign.data").joinpath(name).read_bytes()


class TrustStore:
    """An immutable set of trust anchors (root certificates)."""

    __slots__ = ("_anchors",)

    def __init__(self, anchors: Iterable[TrustAnchor] = ()) -> None:
        unique: dict[str, TrustAnchor] = {}
        for a in anchors:
            unique.setdefault(a.sha256, a)
        self._anchors: tuple[TrustAnchor, ...] = tuple(unique.values())

    @classmethod
    def bundled(cls) -> TrustStore:
        """Only the Thai NRCA roots shipped with thaisign (G3), checked against their pins."""
        anchors = []
        for name in _BUNDLED:
            data = _bundled_bytes(name)
            for cert in load_certificates(data, f"bundled:{name}"):
                anchors.append(_anchor(cert, f"bundled:{name}"))
        return cls(anchors)

    @classmethod
    def from_paths(
        cls,
        paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] = (),
        *,
        include_nrca: bool = True,
        include_user_config: bool = False,
    ) -> TrustStore:
        """Anchors from PEM/DER files or folders, plus the bundled NRCA roots (unless disabled).

        ``paths`` is one path (``"ca.pem"``, a :class:`~pathlib.Path`) or a list of them.
        """
        anchors: list[TrustAnchor] = list(cls.bundled().anchors) if include_nrca else []
        all_paths = _as_paths(paths)
        if include_user_config:
            all_paths.extend(user_trust_paths())
        for path in all_paths:
            for file in _iter_files(path):
                try:
                    data = file.read_bytes()
                except OSError as exc:
                    raise TrustError(f"cannot read trust anchor {file}: {exc.strerror}") from None
                for cert in load_certificates(data, str(file)):
                    anchors.append(_anchor(cert, str(file)))
        return cls(anchors)

    @classmethod
    def default(cls, extra: Iterable[str | os.PathLike[str]] = ()) -> TrustStore:
        """``extra`` paths, ``$THAISIGN_TRUST``, ``$XDG_CONFIG_HOME/thaisign/trust/`` and NRCA G3."""
        return cls.from_paths(extra, include_nrca=True, include_user_config=True)

    @classmethod
    def from_certificates(cls, certs: Iterable[bytes | asn1_x509.Certificate]) -> TrustStore:
        """Anchors from DER bytes or asn1crypto certificates already in memory (no NRCA added)."""
        out = []
        for c in certs:
            cert = c if isinstance(c, asn1_x509.Certificate) else load_certificates(c, "memory")[0]
            out.append(_anchor(cert, "memory"))
        return cls(out)

    def with_paths(self, paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> TrustStore:
        """A new store with the anchors of ``paths`` added."""
        more = TrustStore.from_paths(paths, include_nrca=False)
        return TrustStore((*self._anchors, *more.anchors))

    @property
    def anchors(self) -> tuple[TrustAnchor, ...]:
        return self._anchors

    @property
    def certificates(self) -> list[asn1_x509.Certificate]:
        return [a.certificate for a in self._anchors]

    @property
    def key(self) -> str:
        """A stable identity of this set of anchors (for caches)."""
        return hashlib.sha256("".join(sorted(a.sha256 for a in self._anchors)).encode()).hexdigest()

    def find(self, sha256: str) -> TrustAnchor | None:
        sha = sha256.upper()
        return next((a for a in self._anchors if a.sha256 == sha), None)

    def __len__(self) -> int:
        return len(self._anchors)

    def __iter__(self) -> Iterator[TrustAnchor]:
        return iter(self._anchors)

    def __repr__(self) -> str:
        names = ", ".join(repr(_common_name(a.certificate) or a.subject) for a in self._anchors[:4])
        more = f", … {len(self._anchors) - 4} more" if len(self._anchors) > 4 else ""
        return f"TrustStore({len(self._anchors)} anchors: {names}{more})"
