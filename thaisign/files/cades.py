"""CAdES signatures over any file (ETSI EN 319 122-1): B-B, B-T, B-LT, B-LTA; detached or enveloping.

>>> signer = Signer.from_pkcs12("somchai.p12", passphrase)
>>> sign_file("evidence.mp4", "evidence.mp4.p7s", signer, level="B-T", tsa="http://tsa.example.go.th")

The file is hashed in one streaming pass (bounded memory, any size); the CMS is built by
pyHanko's CAdES signer through thaisign's :class:`~thaisign.keys.Signer` adapter (file key,
PKCS#11 token, remote signer: whatever signs bytes), so the signed attributes are pyHanko's:
content-type, message-digest, signing-certificate-v2 and signing-time. B-T adds a signature
time-stamp; B-LT adds every certificate and the OCSP responses / CRLs of the signer's and the
TSA's chains to ``SignedData.certificates`` / ``SignedData.crls`` (collected as for PDF letters,
:func:`~thaisign.pades._pyhanko.collecting_context`); B-LTA adds an archive-time-stamp-v3 with
its ats-hash-index-v3 (:mod:`thaisign.files.ats`) and the validation data of that time-stamp.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from asn1crypto import cms, core
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509

from thaisign.errors import CertificateError, InputError, NetworkError, OutputError, SigningError, UsageError
from thaisign.files import ats
from thaisign.files._digest import digest_file
from thaisign.keys import Signer
from thaisign.levels import Level, effective_level

_OCSP_REVINFO = "1.3.6.1.5.5.7.16.2"  # id-ri-ocsp-response (RFC 5940)


@dataclass(frozen=True)
class FileSigningOptions:
    """How to sign a file. Every field has a sensible default.

    ``level`` defaults to B-T when ``tsa`` is given, else B-B. ``enveloping`` puts the file's
    bytes inside the signature (``.p7m``) instead of beside it (``.p7s``). ``at`` is the
    validation time for B-LT/B-LTA: the chains and their revocation data must be valid then
    (default: ``signing_time`` when given, else now). ``trust_roots`` anchor those chains
    (default: the root certificates in the signer's chain).
    """

    level: Level | None = None
    tsa: str | None = None
    enveloping: bool = False
    hash_algorithm: str | None = None
    signing_time: dt.datetime | None = None
    at: dt.datetime | None = None
    trust_roots: tuple[x509.Certificate, ...] = ()
    check_certificate: bool = True

    def effective_level(self) -> Level:
        return effective_level(self.level, self.tsa)


@dataclass(frozen=True)
class FileSignResult:
    """What :func:`sign_file` or :func:`~thaisign.files.sign_asic` produced."""

    output: Path
    format: str  # cades-detached | cades-enveloping | asic-e | asic-s
    level: Level
    signing_time: dt.datetime
    files: tuple[str, ...]  # the names of the data the signature covers
    size: int  # bytes written


def hash_name_for(signer: Signer, options: FileSigningOptions) -> str:
    """The digest algorithm: the option, else the one that matches the key's strength."""
    name = (options.hash_algorithm or signer.key_spec.default_hash()).lower()
    if name not in ("sha256", "sha384", "sha512"):
        raise UsageError(f"unsupported hash algorithm {name!r}; use sha256, sha384 or sha512")
    return name


def signing_time(options: FileSigningOptions) -> dt.datetime:
    at = options.signing_time or dt.datetime.now(dt.UTC)
    if at.tzinfo is None:
        raise UsageError("signing_time must carry a time zone")
    return at


def sign_file(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    signer: Signer,
    options: FileSigningOptions | None = None,
    **overrides: Any,
) -> FileSignResult:
    """Sign the file at ``input`` into a CAdES signature at ``output`` (written atomically).

    Detached by default (``output`` is then only the signature, ``.p7s``); with
    ``enveloping=True`` the signature holds the file (``.p7m``). Any file size: the data is
    streamed, never held in memory. ``overrides`` replace fields of ``options``.
    """
    from thaisign._fs import atomic_open, same_file

    opts = replace(options or FileSigningOptions(), **overrides)
    src, dst = Path(input), Path(output)
    if not src.is_file():
        raise InputError(f"file not found: {src}" if not src.exists() else f"not a file: {src}")
    if same_file(src, dst) or src.resolve() == dst.resolve():
        raise OutputError(f"output {dst} is the input file", hint="choose another output")
    level = opts.effective_level()
    at = signing_time(opts)
    if opts.check_certificate:
        from thaisign.pades.signer import check_certificate

        check_certificate(signer, at)
    hash_name = hash_name_for(signer, opts)
    digests = digest_file(src, [hash_name])
    content_info = sign_digest(digests[hash_name], signer, opts, hash_algorithm=hash_name)
    with atomic_open(dst) as out:
        if opts.enveloping:
            from thaisign.files._envelope import write_enveloping

            write_enveloping(out, content_info, src, digests[hash_name], hash_name)
        else:
            out.write(content_info.dump())
        out.flush()
        size = os.fstat(out.fileno()).st_size
    kind = "cades-enveloping" if opts.enveloping else "cades-detached"
    return FileSignResult(dst, kind, level, at, (src.name,), size)


def sign_digest(
    digest: bytes, signer: Signer, options: FileSigningOptions, *, hash_algorithm: str
) -> cms.ContentInfo:
    """A detached CAdES signature (``ContentInfo``) over content whose ``hash_algorithm`` digest
    is ``digest``, at the options' level."""
    from thaisign.pades._pyhanko import run_releasing

    level = options.effective_level()
    at = signing_time(options)
    context = _collecting_context(signer, options, at) if level in ("B-LT", "B-LTA") else None
    coro = _sign(digest, signer, options, hash_algorithm, level, at, context)
    try:
        return asyncio.run(run_releasing(coro, *([context] if context is not None else [])))
    except (SigningError, CertificateError, NetworkError, UsageError):
        raise
    except Exception as exc:
        raise _explain(exc, options, level) from exc


async def _sign(
    digest: bytes,
    signer: Signer,
    options: FileSigningOptions,
    hash_name: str,
    level: Level,
    at: dt.datetime,
    context: Any,
) -> cms.ContentInfo:
    from pyhanko.sign import timestamps
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    from thaisign.pades._pyhanko import adapter_for

    timestamper = (
        timestamps.HTTPTimeStamper(options.tsa, timeout=20) if level != "B-B" and options.tsa else None
    )
    content_info = await adapter_for(signer, hash_name).async_sign(
        digest,
        hash_name,
        use_pades=True,  # CAdES attributes (signing-certificate-v2) ...
        is_pdf_sig=False,  # ... with signing-time, as EN 319 122-1 wants
        timestamper=timestamper,
        signed_attr_settings=PdfCMSSignedAttributes(signing_time=at),
    )
    if context is not None:
        content_info = await add_validation_data(content_info, context)
    if level == "B-LTA":
        assert timestamper is not None
        content_info = await add_archive_timestamp(content_info, digest, hash_name, timestamper, context)
    return content_info


def _explain(exc: Exception, options: FileSigningOptions, level: str) -> Exception:
    from pyhanko.sign.timestamps import TimestampRequestError

    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TimestampRequestError) or "timestamp" in text.lower():
        return NetworkError(
            f"the TSA {options.tsa} did not give a time-stamp: {exc}", hint="check the --tsa URL"
        )
    if any(w in text.lower() for w in ("validat", "revocation", "fetch", "ocsp", "crl")):
        return NetworkError(
            f"cannot collect certificate status for {level}: {exc}",
            hint="check that the OCSP responder / CRL in the certificate can be reached",
        )
    return SigningError(f"cannot sign: {text}")


# --- B-LT: validation data ---------------------------------------------------------------------


def _collecting_context(signer: Signer, options: FileSigningOptions, at: dt.datetime) -> Any:
    from thaisign.pades._pyhanko import collecting_context, to_asn1

    roots = list(options.trust_roots) or [c for c in signer.chain if c.subject == c.issuer]
    if not roots:
        raise SigningError(
            f"level {options.level} needs the chain up to a root to collect revocation data",
            hint="give --chain with the agency CA and root certificates, or --trust ROOT.pem",
        )
    return collecting_context(
        [to_asn1(c) for c in roots], [to_asn1(c) for c in signer.chain], options.at or at
    )


def _signer_info(content_info: cms.ContentInfo) -> tuple[cms.SignedData, cms.SignerInfo]:
    signed_data = content_info["content"]
    return signed_data, signed_data["signer_infos"][0]


def _token_signed_datas(signer_info: cms.SignerInfo) -> list[cms.SignedData]:
    from thaisign.verify.tokens import signature_tokens

    return [*signature_tokens(signer_info), *(sd for _oid, sd in ats.archive_tokens(signer_info))]


async def add_validation_data(
    content_info: cms.ContentInfo, context: Any, only: list[cms.SignedData] | None = None
) -> cms.ContentInfo:
    """``content_info`` with the certificates and OCSP/CRL data that validate its signer and every
    time-stamp in it — or only the ``only`` ones (a new archive time-stamp) — fetched through
    ``context``, in ``SignedData.certificates`` / ``.crls``."""
    from pyhanko.sign.validation.generic_cms import extract_certs_for_validation
    from pyhanko_certvalidator import CertificateValidator

    signed_data, signer_info = _signer_info(content_info)
    certs: list[asn1_x509.Certificate] = []
    for sd in only if only is not None else [signed_data, *_token_signed_datas(signer_info)]:
        info = extract_certs_for_validation(sd)
        validator = CertificateValidator(
            info.signer_cert, intermediate_certs=info.other_certs, validation_context=context
        )
        path = await validator.async_validate_usage(key_usage=set())
        certs.extend(path)
    for response in context.ocsps:
        certs.extend(_ocsp_certs(response))
    return with_validation_data(content_info, certs, context.crls, context.ocsps)


def _ocsp_certs(response: asn1_ocsp.OCSPResponse) -> list[asn1_x509.Certificate]:
    try:
        basic = response["response_bytes"]["response"].parsed
        return list(basic["certs"] or [])
    except (KeyError, TypeError, ValueError):
        return []


def with_validation_data(
    content_info: cms.ContentInfo,
    certs: Iterable[asn1_x509.Certificate],
    crls: Iterable[asn1_crl.CertificateList],
    ocsps: Iterable[asn1_ocsp.OCSPResponse],
) -> cms.ContentInfo:
    """``content_info`` with ``certs`` added to ``SignedData.certificates`` and ``crls`` / ``ocsps``
    to ``SignedData.crls`` (OCSP as RFC 5940 ``id-ri-ocsp-response``); nothing twice."""
    signed_data, _ = _signer_info(content_info)
    cert_entries = _entries(signed_data["certificates"])
    crl_entries = _entries(signed_data["crls"])
    seen = {c.dump() for c in cert_entries}
    for cert in certs:
        choice = cms.CertificateChoices(name="certificate", value=cert)
        if choice.dump() not in seen:
            seen.add(choice.dump())
            cert_entries.append(choice)
    seen = {c.dump() for c in crl_entries}
    new_crls = [cms.RevocationInfoChoice(name="crl", value=c) for c in crls]
    new_ocsps = [
        cms.RevocationInfoChoice(
            name="other",
            value=cms.OtherRevocationInfoFormat(
                {"other_rev_info_format": _OCSP_REVINFO, "other_rev_info": o}
            ),
        )
        for o in ocsps
    ]
    for choice in [*new_crls, *new_ocsps]:
        if choice.dump() not in seen:
            seen.add(choice.dump())
            crl_entries.append(choice)
    has_other = any(c.name == "other" for c in crl_entries)
    return rebuild(
        content_info,
        certificates=cert_entries,
        crls=crl_entries,
        version="v5" if has_other else None,
    )


def rebuild(
    content_info: cms.ContentInfo,
    *,
    certificates: list[Any] | None = None,
    crls: list[Any] | None = None,
    unsigned_attrs: list[cms.CMSAttribute] | None = None,
    version: str | None = None,
) -> cms.ContentInfo:
    """A new ``ContentInfo`` from ``content_info`` with some parts replaced; everything else keeps
    its exact encoding (the signed attributes and the signature above all). Re-parsed, so that
    the next change starts from clean bytes."""
    signed_data, signer_info = _signer_info(content_info)
    si_fields = {
        name: signer_info[name]
        for name in _SIGNER_INFO_FIELDS
        if not isinstance(signer_info[name], core.Void)
    }
    if unsigned_attrs is not None:
        si_fields["unsigned_attrs"] = cms.CMSAttributes(unsigned_attrs)
    new_si = cms.SignerInfo(si_fields)
    sd_fields: dict[str, Any] = {
        "version": version or signed_data["version"],
        "digest_algorithms": signed_data["digest_algorithms"],
        "encap_content_info": cms.EncapsulatedContentInfo.load(signed_data["encap_content_info"].dump()),
        "signer_infos": cms.SignerInfos([new_si, *list(signed_data["signer_infos"])[1:]]),
    }
    certs = certificates if certificates is not None else _entries(signed_data["certificates"])
    if certs:
        sd_fields["certificates"] = cms.CertificateSet(certs)
    revs = crls if crls is not None else _entries(signed_data["crls"])
    if revs:
        sd_fields["crls"] = cms.RevocationInfoChoices(revs)
    try:
        signed = cms.SignedData(sd_fields)
    except TypeError:  # asn1crypto wants ContentInfo here for v1 SignedData, EncapsulatedContentInfo after
        sd_fields["encap_content_info"] = cms.ContentInfo.load(sd_fields["encap_content_info"].dump())
        signed = cms.SignedData(sd_fields)
    new = cms.ContentInfo({"content_type": "signed_data", "content": signed})
    return cms.ContentInfo.load(new.dump())


def _entries(value: Any) -> list[Any]:
    """The elements of an optional SET OF (none when it is absent)."""
    return [] if isinstance(value, core.Void) else list(value)


def unsigned_attributes(signer_info: cms.SignerInfo) -> list[cms.CMSAttribute]:
    """The SignerInfo's unsigned attributes as a list (empty when there are none)."""
    return _entries(signer_info["unsigned_attrs"])


_SIGNER_INFO_FIELDS = (
    "version",
    "sid",
    "digest_algorithm",
    "signed_attrs",
    "signature_algorithm",
    "signature",
    "unsigned_attrs",
)


# --- B-LTA: archive time-stamp v3 --------------------------------------------------------------


async def add_archive_timestamp(
    content_info: cms.ContentInfo,
    content_digest: bytes,
    hash_name: str,
    timestamper: Any,
    context: Any = None,
) -> cms.ContentInfo:
    """``content_info`` with an archive-time-stamp-v3 over everything in it (``content_digest``:
    the signed content's ``hash_name`` digest); then, with ``context``, that time-stamp's own
    validation data."""
    signed_data, signer_info = _signer_info(content_info)
    index_der = ats.build_hash_index(signed_data, signer_info, hash_name)
    imprint = ats.imprint_v3(signed_data, signer_info, content_digest, index_der, hash_name)
    token = await timestamper.async_timestamp(imprint, hash_name)
    token = _with_index(token, index_der)
    attrs = unsigned_attributes(signer_info)
    stamped = rebuild(content_info, unsigned_attrs=[*attrs, ats.archive_attribute(token)])
    if context is not None:
        stamped = await add_validation_data(stamped, context, only=[token["content"]])
    return stamped


def _with_index(token: cms.ContentInfo, index_der: bytes) -> cms.ContentInfo:
    """The time-stamp token with the ats-hash-index-v3 among its SignerInfo's unsigned attributes."""
    attrs = unsigned_attributes(token["content"]["signer_infos"][0])
    return rebuild(
        cms.ContentInfo.load(token.dump()), unsigned_attrs=[*attrs, ats.index_attribute(index_der)]
    )


# --- extending a signature later (B-T/B-LT -> B-LTA, and archive renewal) ----------------------


def extend_signature(
    signature: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    tsa: str,
    data: str | os.PathLike[str] | None = None,
    at: dt.datetime | None = None,
    trust_roots: tuple[x509.Certificate, ...] = (),
) -> FileSignResult:
    """Bring a CAdES signature to B-LTA, or renew its archive time-stamp before that TSA's
    certificate expires: the validation data of the newest time-stamp (of the signer and its
    time-stamps when there is no archive time-stamp yet) is added, then a new
    archive-time-stamp-v3 over everything from ``tsa``. ``data`` is the detached file (default:
    beside the signature); the result is written atomically to ``output``, never over the input.
    """
    from thaisign._fs import atomic_open, same_file
    from thaisign.verify.cades import data_beside, encapsulated_content, load_signed_data

    src, dst = Path(signature), Path(output)
    if same_file(src, dst) or src.resolve() == dst.resolve():
        raise OutputError(f"output {dst} is the input file", hint="choose another output")
    from thaisign._fs import read_input

    raw = read_input(src, "signature")
    try:
        signed_data = load_signed_data(raw)
    except Exception as exc:
        raise InputError(f"{src} is not a CAdES signature: {exc}") from None
    content_info = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    content_info = cms.ContentInfo.load(content_info.dump())
    signer_info = signed_data["signer_infos"][0]
    hash_name = str(signer_info["digest_algorithm"]["algorithm"].native)
    content = encapsulated_content(signed_data)
    if content is not None:
        digest = ats.digest_of(hash_name, content)
        covered = (f"{src.name} (enveloped)",)
    else:
        target = Path(data) if data is not None else data_beside(src)
        if target is None:
            raise InputError(
                f"the data signed by {src.name} was not found beside it", hint="give it with --data FILE"
            )
        digest = digest_file(target, [hash_name])[hash_name]
        covered = (target.name,)
    moment = at or dt.datetime.now(dt.UTC)
    roots = [_to_asn1(c) for c in trust_roots] or _self_signed(signed_data, signer_info)
    if not roots:
        raise UsageError("no root certificate in the signature", hint="give --trust ROOT.pem")
    from thaisign.pades._pyhanko import collecting_context, run_releasing

    others = [c.chosen for c in ats.present(signed_data["certificates"]) if c.name == "certificate"]
    context = collecting_context(roots, others, moment)

    async def run() -> cms.ContentInfo:
        from pyhanko.sign import timestamps

        ci = content_info
        stamps = ats.archive_tokens(signer_info)
        ci = await add_validation_data(ci, context, only=[stamps[-1][1]] if stamps else None)
        return await add_archive_timestamp(
            ci, digest, hash_name, timestamps.HTTPTimeStamper(tsa, timeout=20), context
        )

    try:
        extended = asyncio.run(run_releasing(run(), context))
    except Exception as exc:
        raise _explain(exc, FileSigningOptions(tsa=tsa), "B-LTA") from None
    with atomic_open(dst) as out:
        out.write(extended.dump())
        out.flush()
        size = os.fstat(out.fileno()).st_size
    kind = "cades-enveloping" if content is not None else "cades-detached"
    return FileSignResult(dst, kind, "B-LTA", moment, covered, size)


def _to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    from thaisign.pades._pyhanko import to_asn1

    return to_asn1(cert)


def _self_signed(signed_data: cms.SignedData, signer_info: cms.SignerInfo) -> list[asn1_x509.Certificate]:
    """Root certificates carried by the signature and its time-stamps."""
    found: dict[bytes, asn1_x509.Certificate] = {}
    for sd in [signed_data, *_token_signed_datas(signer_info)]:
        for choice in ats.present(sd["certificates"]):
            cert = choice.chosen if choice.name == "certificate" else None
            if cert is not None and cert.self_signed in ("maybe", "yes"):
                found[cert.dump()] = cert
    return list(found.values())
