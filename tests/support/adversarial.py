"""Adversarial certificate chains for path-validation engines, built at test time with cryptography.

Each :class:`ChainCase` is a leaf, the certificates offered beside it, the trust anchors and a
validation time, with the outcome RFC 5280 + RFC 5937 demand (``valid``). The cases are the ones
issue 10 lists (name-constrained, expired and critically-extended anchors, a certificate expired
one second before the validation time, malformed name constraints, many same-subject candidate
intermediates, malformed certificates) plus their valid twins, so that an engine that refuses
everything cannot pass either. ``openssl verify`` gives an independent view of most of them
(tests/verify/test_path_engine.py).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID, ObjectIdentifier

AT = dt.datetime(2026, 11, 21, 3, 42, tzinfo=dt.UTC)
_NB = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_NA = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
UNKNOWN_EXT = ObjectIdentifier("1.3.6.1.4.1.60000.99.1")


@dataclass(frozen=True)
class ChainCase:
    """One path-validation question and the answer RFC 5280 / RFC 5937 give."""

    name: str
    leaf: bytes  # DER (possibly malformed)
    intermediates: tuple[bytes, ...]
    anchors: tuple[bytes, ...]
    valid: bool
    why: str
    at: dt.datetime = AT
    #: whether ``openssl verify`` is a fair oracle here (it has its own, documented, gaps)
    openssl: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)


def _name(cn: str, o: str = "กรมทดสอบระบบ") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, o),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


@functools.cache
def _key(label: str) -> ec.EllipticCurvePrivateKey:
    """Deterministic-per-run keys by label (generated once; EC P-256 keeps 100+ keys cheap)."""
    return ec.generate_private_key(ec.SECP256R1())


def _build(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    path_len: int | None = None,
    not_before: dt.datetime = _NB,
    not_after: dt.datetime = _NA,
    extensions: tuple[tuple[x509.ExtensionType, bool], ...] = (),
    key_cert_sign: bool | None = None,
    serial: int | None = None,
    aki: bool = True,
) -> x509.Certificate:
    kcs = ca if key_cert_sign is None else key_cert_sign
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=kcs,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if aki:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    if not ca:
        b = b.add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING]), critical=False)
    for ext, critical in extensions:
        b = b.add_extension(ext, critical=critical)
    return b.sign(issuer_key, hashes.SHA256())


def _der(c: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return c.public_bytes(Encoding.DER)


def _root(label: str, **kw: object) -> x509.Certificate:
    name = _name(f"{label} Root", o="สำนักงานทดสอบ")
    return _build(name, _key(label), name, _key(label), ca=True, **kw)  # type: ignore[arg-type]


def _simple_chain(
    label: str,
    *,
    root_kw: dict[str, object] | None = None,
    ca_kw: dict[str, object] | None = None,
    leaf_kw: dict[str, object] | None = None,
    ca_name: x509.Name | None = None,
    leaf_name: x509.Name | None = None,
) -> tuple[x509.Certificate, x509.Certificate, x509.Certificate]:
    root = _root(label, **(root_kw or {}))
    ca_subject = ca_name or _name(f"{label} CA")
    ca = _build(ca_subject, _key(label + "/ca"), root.subject, _key(label), ca=True, **(ca_kw or {}))  # type: ignore[arg-type]
    leaf = _build(
        leaf_name or _name(f"{label} officer"),
        _key(label + "/leaf"),
        ca_subject,
        _key(label + "/ca"),
        ca=False,
        **(leaf_kw or {}),  # type: ignore[arg-type]
    )
    return root, ca, leaf


def _case(
    name: str,
    chain: tuple[x509.Certificate, x509.Certificate, x509.Certificate],
    valid: bool,
    why: str,
    **kw: object,
) -> ChainCase:
    root, ca, leaf = chain
    return ChainCase(name, _der(leaf), (_der(ca),), (_der(root),), valid, why, **kw)  # type: ignore[arg-type]


def _dir_nc(permitted_o: str) -> x509.NameConstraints:
    return x509.NameConstraints(
        permitted_subtrees=[
            x509.DirectoryName(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, permitted_o),
                    ]
                )
            )
        ],
        excluded_subtrees=None,
    )


def _raw_nc(der: bytes) -> x509.UnrecognizedExtension:
    return x509.UnrecognizedExtension(ExtensionOID.NAME_CONSTRAINTS, der)


def _ctx(tag: int, body: bytes) -> bytes:
    return bytes([tag, len(body)]) + body


def _seq(body: bytes) -> bytes:
    return bytes([0x30, len(body)]) + body


def _nc_der(permitted: list[bytes]) -> bytes:
    """NameConstraints { permittedSubtrees [0] GeneralSubtrees } from raw GeneralName encodings."""
    subtrees = b"".join(_seq(gn) for gn in permitted)
    return _seq(bytes([0xA0, len(subtrees)]) + subtrees)


def basic_cases() -> list[ChainCase]:
    """Anchors' constraints, validity edges, critical extensions, malformed constraints."""
    cases: list[ChainCase] = []
    one_s = dt.timedelta(seconds=1)

    cases.append(_case("plain", _simple_chain("plain"), True, "a well-formed three-certificate path"))

    # --- trust anchors' own constraints (RFC 5937) ---------------------------------------------
    cases.append(
        _case(
            "anchor-name-constraints-violated",
            _simple_chain(
                "nc-anchor",
                root_kw={"extensions": ((_dir_nc("กรมทดสอบระบบ"), True),)},
                leaf_name=_name("นายปลอม ตัวจริง", o="กรมอื่น"),
            ),
            False,
            "the anchor permits only O=กรมทดสอบระบบ; the officer is in another organization",
        )
    )
    cases.append(
        _case(
            "anchor-name-constraints-honoured",
            _simple_chain("nc-anchor-ok", root_kw={"extensions": ((_dir_nc("กรมทดสอบระบบ"), True),)}),
            True,
            "every name under the anchor is inside its permitted subtree",
        )
    )
    cases.append(
        _case(
            "anchor-path-length-exceeded",
            _simple_chain("pathlen-anchor", root_kw={"path_len": 0}),
            False,
            "the anchor allows no intermediate CA (pathLenConstraint 0) but one is used",
        )
    )
    cases.append(
        _case(
            "anchor-expired",
            _simple_chain("expired-anchor", root_kw={"not_after": AT - one_s}),
            False,
            "the trust anchor expired one second before the validation time",
        )
    )
    cases.append(
        _case(
            "anchor-not-yet-valid",
            _simple_chain("future-anchor", root_kw={"not_before": AT + dt.timedelta(days=1)}),
            False,
            "the trust anchor is not valid yet at the validation time",
        )
    )
    cases.append(
        _case(
            "anchor-critical-unknown-extension",
            _simple_chain(
                "crit-anchor",
                root_kw={"extensions": ((x509.UnrecognizedExtension(UNKNOWN_EXT, b"\x05\x00"), True),)},
            ),
            False,
            "the anchor carries a critical extension nobody can process",
        )
    )
    cases.append(
        _case(
            "anchor-noncritical-unknown-extension",
            _simple_chain(
                "noncrit-anchor",
                root_kw={"extensions": ((x509.UnrecognizedExtension(UNKNOWN_EXT, b"\x05\x00"), False),)},
            ),
            True,
            "an unknown extension that is not critical may be ignored",
        )
    )
    cases.append(
        _case(
            "intermediate-critical-unknown-extension",
            _simple_chain(
                "crit-ca",
                ca_kw={"extensions": ((x509.UnrecognizedExtension(UNKNOWN_EXT, b"\x05\x00"), True),)},
            ),
            False,
            "the intermediate CA carries a critical extension nobody can process",
        )
    )
    cases.append(
        _case(
            "leaf-critical-unknown-extension",
            _simple_chain(
                "crit-leaf",
                leaf_kw={"extensions": ((x509.UnrecognizedExtension(UNKNOWN_EXT, b"\x05\x00"), True),)},
            ),
            False,
            "the signer certificate carries a critical extension nobody can process",
        )
    )
    cases.append(
        _case(
            "anchor-without-keycertsign",
            _simple_chain("nokcs-anchor", root_kw={"key_cert_sign": False}),
            False,
            "the anchor's key usage does not allow signing certificates",
            openssl=False,  # OpenSSL does not check a trust anchor's key usage
        )
    )

    # --- validity edges: no tolerance ------------------------------------------------------------
    cases.append(
        _case(
            "leaf-expired-one-second",
            _simple_chain("exp1s", leaf_kw={"not_after": AT - one_s}),
            False,
            "the signer certificate expired one second before the validation time",
        )
    )
    cases.append(
        _case(
            "leaf-valid-until-the-second",
            _simple_chain("exp0s", leaf_kw={"not_after": AT}),
            True,
            "notAfter is inclusive (RFC 5280 4.1.2.5): valid at exactly that second",
            openssl=False,  # OpenSSL treats the notAfter second itself as expired
        )
    )
    cases.append(
        _case(
            "leaf-not-yet-valid-one-second",
            _simple_chain("nyv1s", leaf_kw={"not_before": AT + one_s}),
            False,
            "the signer certificate becomes valid one second after the validation time",
        )
    )
    cases.append(
        _case(
            "intermediate-expired-one-second",
            _simple_chain("caexp1s", ca_kw={"not_after": AT - one_s}),
            False,
            "the intermediate CA expired one second before the validation time",
        )
    )

    # --- name constraints that are themselves malformed ---------------------------------------
    bad_ip = _nc_der([_ctx(0x87, b"\x0a\x00\x00\x00\xff")])  # iPAddress of 5 octets
    bad_dns = _nc_der([_ctx(0x82, b"..bad..")])  # dNSName that is no host name
    bad_email = _nc_der([_ctx(0x81, b"@@example.go.th")])
    empty_nc = _seq(b"")  # RFC 5280: MUST NOT be an empty sequence
    for label, der, why in [
        ("ip5", bad_ip, "an iPAddress constraint of 5 octets"),
        ("dns", bad_dns, "a dNSName constraint that is not a host name"),
        ("email", bad_email, "an rfc822Name constraint with two @"),
        ("empty", empty_nc, "a name constraints extension with neither subtree"),
    ]:
        cases.append(
            _case(
                f"malformed-name-constraints-{label}",
                _simple_chain(f"badnc-{label}", ca_kw={"extensions": ((_raw_nc(der), True),)}),
                False,
                f"the intermediate CA's name constraints are malformed ({why})",
                openssl=False,  # OpenSSL applies only constraint types the leaf has, unchecked
            )
        )

    # --- malformed certificates ---------------------------------------------------------------------
    root, ca, leaf = _simple_chain("malformed")
    der = _der(leaf)
    cases.append(
        ChainCase(
            "leaf-truncated-der",
            der[: len(der) // 2],
            (_der(ca),),
            (_der(root),),
            False,
            "the signer certificate is cut off in the middle",
        )
    )
    bc_bad = x509.UnrecognizedExtension(ExtensionOID.BASIC_CONSTRAINTS, b"\x30\x03\x02\x01")
    cases.append(_malformed_basic_constraints(bc_bad))
    return cases


def _malformed_basic_constraints(ext: x509.UnrecognizedExtension) -> ChainCase:
    """An intermediate whose basicConstraints value is truncated DER."""
    root = _root("badbc")
    ca_name = _name("badbc CA")
    ca_key = _key("badbc/ca")
    b = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(root.subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NB)
        .not_valid_after(_NA)
        .add_extension(ext, critical=True)
    )
    ca = b.sign(_key("badbc"), hashes.SHA256())
    leaf = _build(_name("badbc officer"), _key("badbc/leaf"), ca_name, ca_key, ca=False)
    return _case(
        "intermediate-malformed-basic-constraints",
        (root, ca, leaf),
        False,
        "the intermediate's basicConstraints is not valid DER",
    )


def same_subject_cases(candidates: int = 100, layers: int = 2) -> list[ChainCase]:
    """``layers`` levels of intermediates, each offered as ``candidates`` certificates sharing
    one subject (and issuer) name but with different keys; only one candidate per level is the
    real issuer. Path builders that try every combination take candidates**layers attempts.

    Two cases: the genuine chain is among the candidates (valid), or its last link is missing
    (no path: must be decided just as quickly).
    """
    out: list[ChainCase] = []
    root = _root("fan")
    names = [_name(f"fan CA level {n}") for n in range(layers)]
    issuer_name, issuer_key = root.subject, _key("fan")
    genuine: list[x509.Certificate] = []
    decoys: list[x509.Certificate] = []
    for n, subject in enumerate(names):
        real_key = _key(f"fan/{n}/real")
        genuine.append(_build(subject, real_key, issuer_name, issuer_key, ca=True))
        for k in range(candidates - 1):
            # decoys: same subject and issuer name, another key, signed by the real issuer
            # (so that each decoy is a plausible link that only fails one level further down)
            decoys.append(_build(subject, _key(f"fan/{n}/decoy{k}"), issuer_name, issuer_key, ca=True))
        issuer_name, issuer_key = subject, real_key
    leaf = _build(_name("fan officer"), _key("fan/leaf"), issuer_name, issuer_key, ca=False)
    offered = tuple(_der(c) for c in (*decoys, *genuine))
    out.append(
        ChainCase(
            f"same-subject-{candidates}x{layers}-genuine",
            _der(leaf),
            offered,
            (_der(root),),
            True,
            f"{candidates} same-subject candidates per level, {layers} levels; one genuine chain",
            tags=("fan",),
        )
    )
    missing = tuple(_der(c) for c in (*decoys, *genuine[:-1]))
    out.append(
        ChainCase(
            f"same-subject-{candidates}x{layers}-no-path",
            _der(leaf),
            missing,
            (_der(root),),
            False,
            f"{candidates - 1} same-subject decoys per level and the genuine issuer missing",
            tags=("fan",),
        )
    )
    return out


def self_issued_cases(candidates: int = 100) -> list[ChainCase]:
    """``candidates`` CA certificates that all carry subject = issuer = one name, signed by
    unrelated keys and without key identifiers: a name-matching path builder can chain them
    in any order (candidates! orderings). One of them is the genuine CA (issued by the root)
    in the first case; in the second, none is.
    """
    root = _root("selfiss")
    name = _name("selfiss CA")
    real = _build(name, _key("selfiss/real"), root.subject, _key("selfiss"), ca=True, aki=False)
    decoys = [
        _build(name, _key(f"selfiss/d{k}"), name, _key(f"selfiss/d{k + 1}"), ca=True, aki=False)
        for k in range(candidates - 1)
    ]
    leaf = _build(
        _name("selfiss officer"), _key("selfiss/leaf"), name, _key("selfiss/real"), ca=False, aki=False
    )
    return [
        ChainCase(
            f"self-issued-{candidates}-genuine",
            _der(leaf),
            tuple(_der(c) for c in (*decoys, real)),
            (_der(root),),
            True,
            f"{candidates - 1} self-issued same-name decoys and the genuine CA",
            openssl=False,  # OpenSSL's builder does not backtrack over same-name candidates
            tags=("fan",),
        ),
        ChainCase(
            f"self-issued-{candidates}-no-path",
            _der(leaf),
            tuple(_der(c) for c in decoys),
            (_der(root),),
            False,
            f"{candidates - 1} self-issued same-name decoys and no genuine CA",
            tags=("fan",),
        ),
    ]


def all_cases(candidates: int = 100) -> list[ChainCase]:
    return [*basic_cases(), *same_subject_cases(candidates), *self_issued_cases(candidates)]
