"""``sign_pdf``: sign one PDF letter (PAdES B-B, B-T, B-LT, B-LTA; approval or certification).

>>> signer = Signer.from_pkcs12("somchai.p12", passphrase)
>>> sign_pdf("letter.pdf", "letter-signed.pdf", signer, level="B-T", tsa="http://tsa.example.go.th",
...          rect=(350, 80, 550, 160))
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import io
import logging
import os
import weakref
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Literal

from cryptography import x509

from thaisign._fs import GroupWriter, ensure_folder
from thaisign.errors import (
    CertificateError,
    InputError,
    OutputError,
    SigningError,
    ThaisignError,
    UsageError,
)
from thaisign.keys import Signer
from thaisign.levels import Level, effective_level
from thaisign.pades._document import (
    atomic_rw,
    open_writer,
    page_count,
    to_page_index,
    unusable_pdf,
    validated_rect,
)
from thaisign.pades.appearance import SignatureAppearance

Certify = Literal["no-changes", "form-filling", "annotations"]
SubFilter = Literal["pades", "adbe"]
Rect = tuple[float, float, float, float]

#: Inputs up to this size are signed in memory; larger ones stream through the output file.
IN_MEMORY_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True)
class SigningOptions:
    """Everything about one signature except the key. Every field has a sensible default.

    ``level`` defaults to B-T when ``tsa`` is given, else B-B. A visible signature is made when
    ``rect`` or ``anchor_text`` is given, or when signing into an existing field with a box.
    ``page`` is 1-based; negative counts from the end (-1 is the last page).
    With ``anchor_text`` the box (``anchor_box``: width, height in points) goes in the free space
    above that text's line, never over other text (:mod:`thaisign.pades.placement`);
    ``anchor_offset`` moves it (right, up) and ``anchor_occurrence`` picks a later match.
    ``at`` is the validation time for B-LT/B-LTA: the chain and its revocation data must be valid
    then (default: ``signing_time`` when given, else now).
    """

    level: Level | None = None
    subfilter: SubFilter = "pades"
    tsa: str | None = None
    field: str | None = None
    page: int = 1
    rect: Rect | None = None
    anchor_text: str | None = None
    anchor_box: tuple[float, float] = (170.0, 52.0)
    anchor_offset: tuple[float, float] = (0.0, 0.0)
    anchor_occurrence: int = 1
    appearance: SignatureAppearance = dataclasses.field(default_factory=SignatureAppearance)
    certify: Certify | None = None
    lock_fields: tuple[str, ...] | Literal["all"] | None = None
    reason: str | None = None
    location: str | None = None
    contact_info: str | None = None
    signing_time: dt.datetime | None = None
    hash_algorithm: str | None = None
    pdf_password: str | None = None
    trust_roots: tuple[x509.Certificate, ...] = ()
    check_certificate: bool = True
    at: dt.datetime | None = None
    #: before signing, is the certificate revoked or untrusted (where that can be checked)?
    #: ``warn``: say so in :attr:`SignResult.warnings`; ``strict``: refuse; ``off``: do not ask
    signer_check: Literal["warn", "strict", "off"] = "warn"

    def effective_level(self) -> Level:
        return effective_level(self.level, self.tsa)


@dataclass(frozen=True)
class SignResult:
    """What :func:`sign_pdf` produced."""

    output: Path | None
    field: str
    level: Level
    signing_time: dt.datetime
    visible: bool
    certified: bool
    size: int
    #: what the officer should know (e.g. the certificate is revoked); the letter was signed
    warnings: tuple[str, ...] = ()


def check_certificate(signer: Signer, at: dt.datetime) -> x509.Certificate:
    """The signer's certificate, if it may sign documents at ``at``; else :class:`CertificateError`."""
    cert = signer.certificate
    if cert is None:
        raise CertificateError(
            "the key has no certificate", hint="give --cert, or a PKCS#12 file that holds the certificate"
        )
    if cert.public_key() != signer.public_key:
        raise CertificateError(
            "the certificate does not match the private key",
            hint="give the certificate that was issued for this key",
        )
    if at < cert.not_valid_before_utc:
        raise CertificateError(
            f"the certificate is not valid yet: valid from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
            hint="check the computer's clock, or wait until the certificate becomes valid",
        )
    if at > cert.not_valid_after_utc:
        raise CertificateError(
            f"the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
            hint="ask the agency CA for a new certificate",
        )
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return cert
    if not (ku.digital_signature or ku.content_commitment):
        raise CertificateError(
            "the certificate may not sign documents: its key usage lacks digitalSignature and nonRepudiation",
            hint="use a document-signing certificate",
        )
    return cert


# --- opening the PDF ------------------------------------------------------------------------


def _existing_fields(writer: Any) -> dict[str, bool]:
    """Signature field names -> already signed?"""
    from pyhanko.sign.fields import enumerate_sig_fields

    return {name: value is not None for name, value, _ in enumerate_sig_fields(writer.prev)}


def _unique_field_name(existing: dict[str, bool]) -> str:
    n = len(existing) + 1
    while f"Signature{n}" in existing:
        n += 1
    return f"Signature{n}"


# --- signing --------------------------------------------------------------------------------


def _validation_context(signer: Signer, opts: SigningOptions, at: dt.datetime) -> Any:
    from thaisign.pades._pyhanko import collecting_context, to_asn1

    roots = list(opts.trust_roots) or [c for c in signer.chain if c.subject == c.issuer]
    if not roots:
        raise SigningError(
            f"level {opts.level} needs the chain up to a root to collect revocation data",
            hint="give --chain with the agency CA and root certificates",
        )
    return collecting_context([to_asn1(c) for c in roots], [to_asn1(c) for c in signer.chain], opts.at or at)


def _sign_into(
    writer: Any, output: IO[bytes], signer: Signer, opts: SigningOptions, at: dt.datetime
) -> tuple[str, bool]:
    from pyhanko.sign import fields as pf
    from pyhanko.sign import signers
    from pyhanko.sign.general import SigningError as PyHankoSigningError

    from thaisign.pades._pyhanko import adapter_for
    from thaisign.pades.appearance import _stamp_style
    from thaisign.pades.tsa_client import HttpTimeStamper

    level = opts.effective_level()
    existing = _existing_fields(writer)
    page_index = to_page_index(opts.page, page_count(writer))
    rect = opts.rect
    if opts.anchor_text is not None:
        if rect is not None:
            raise UsageError("give either a box (--rect) or --anchor-text, not both")
        from thaisign.pades.placement import place_above_anchor

        stream = writer.prev.stream
        stream.seek(0)
        page_index, rect = place_above_anchor(
            stream.read(),
            opts.anchor_text,
            box=opts.anchor_box,
            page=page_index if opts.page != 1 else None,
            occurrence=opts.anchor_occurrence,
            offset=opts.anchor_offset,
        )
    name = opts.field
    new_field = None
    _refuse_if_locked(writer, name if name in existing else None)
    if name is not None and name in existing:
        if existing[name]:
            raise SigningError(f"field {name!r} is already signed", hint="choose another field or a new name")
        if rect is not None:
            raise UsageError(f"field {name!r} exists already; its box is used, so give no --rect")
    else:
        name = name or _unique_field_name(existing)
        if rect is not None:
            rect = validated_rect(rect, writer, page_index)
        lock = None
        if opts.lock_fields is not None:
            lock = (
                pf.FieldMDPSpec(pf.FieldMDPAction.ALL)
                if opts.lock_fields == "all"
                else pf.FieldMDPSpec(pf.FieldMDPAction.INCLUDE, fields=list(opts.lock_fields))
            )
        new_field = pf.SigFieldSpec(
            sig_field_name=name,
            on_page=page_index,
            box=tuple(round(v) for v in rect) if rect is not None else None,  # type: ignore[arg-type]
            field_mdp_spec=lock,
        )
    visible = rect is not None or (name in existing and _field_has_box(writer, name))
    hash_name = (opts.hash_algorithm or signer.key_spec.default_hash()).lower()
    certify = opts.certify is not None
    meta = signers.PdfSignatureMetadata(
        field_name=name,
        md_algorithm=hash_name,
        reason=opts.reason,
        location=opts.location,
        contact_info=opts.contact_info,
        certify=certify,
        docmdp_permissions=_mdp(opts.certify) if certify else pf.MDPPerm.FILL_FORMS,
        subfilter=pf.SigSeedSubFilter.PADES
        if opts.subfilter == "pades"
        else pf.SigSeedSubFilter.ADOBE_PKCS7_DETACHED,
        embed_validation_info=level in ("B-LT", "B-LTA"),
        use_pades_lta=level == "B-LTA",
        validation_context=_validation_context(signer, replace(opts, level=level), at)
        if level in ("B-LT", "B-LTA")
        else None,
    )
    timestamper = HttpTimeStamper(opts.tsa) if level != "B-B" and opts.tsa else None
    lines = opts.appearance.text_lines(signer.certificate, at) if visible else ()
    pdf_signer = signers.PdfSigner(
        meta,
        adapter_for(signer, hash_name),
        timestamper=timestamper,
        stamp_style=_stamp_style(opts.appearance, lines),  # type: ignore[arg-type]
        new_field_spec=new_field,
    )
    from thaisign.pades._pyhanko import run_releasing

    try:
        reserved = _reserve_without_timestamp(signer) if timestamper is None and level == "B-B" else None
        asyncio.run(run_releasing(_run(pdf_signer, writer, output, at, reserved), meta.validation_context))
    except ThaisignError:
        raise
    except PyHankoSigningError as exc:
        cause = exc.__cause__ or exc.__context__
        if cause is not None and "validated" in str(exc):
            raise CertificateError(
                f"the signer's certificate cannot be validated for {level}: {cause}",
                hint="a revoked or untrusted certificate cannot make a long-term signature",
            ) from None
        raise SigningError(f"cannot sign: {exc}") from None
    except OSError as exc:
        raise OutputError(f"cannot write the signed PDF: {exc}") from None
    except Exception as exc:
        _raise_known(exc, opts)
        raise
    return name, visible


def _sign_converting(
    writer: Any, output: IO[bytes], signer: Signer, opts: SigningOptions, at: dt.datetime
) -> tuple[str, bool]:
    try:
        return _sign_into(writer, output, signer, opts, at)
    except ThaisignError:
        raise
    except Exception as exc:
        converted = unusable_pdf(exc)
        if converted is not None:
            raise converted from None
        raise


def _refuse_if_locked(writer: Any, target: str | None) -> None:
    """Refuse what earlier signatures forbid: any change after a no-changes certification
    (DocMDP P=1), and signing a field that a signed field's FieldMDP lock covers."""
    from pyhanko.sign.fields import MDPPerm, enumerate_sig_fields

    for sig in writer.prev.embedded_regular_signatures:
        if sig.docmdp_level == MDPPerm.NO_CHANGES:
            raise SigningError(
                "the letter is certified with no changes allowed: another signature would invalidate it",
                hint="ask the certifying officer to certify with --certify form-filling",
            )
        spec = sig.fieldmdp
        if target is not None and spec is not None and sig.field_name != target and spec.is_locked(target):
            raise SigningError(f"field {target!r} is locked by the signature in field {sig.field_name!r}")
    if target is None:
        return
    # locks written on signed fields (/Lock) that the signature did not copy into its references
    for fname, value, ref in enumerate_sig_fields(writer.prev):
        if value is None or fname == target:
            continue
        lock = ref.get_object().get("/Lock")
        if lock is None:
            continue
        lock = lock.get_object()
        action = str(lock.get("/Action", ""))
        names = [str(f) for f in lock.get("/Fields", [])]
        locked = action == "/All" or (action == "/Include") == (target in names)
        if locked:
            raise SigningError(f"field {target!r} is locked by the signature in field {fname!r}")


def _raise_known(exc: Exception, opts: SigningOptions) -> None:
    from pyhanko.sign.timestamps import TimestampRequestError

    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TimestampRequestError) or "timestamp" in text.lower():
        from thaisign.errors import NetworkError

        raise NetworkError(f"the TSA {opts.tsa} did not give a timestamp: {exc}") from None
    if "validat" in text.lower() or "revocation" in text.lower() or "fetch" in text.lower():
        from thaisign.errors import NetworkError

        raise NetworkError(
            f"cannot collect certificate status for {opts.level}: {exc}",
            hint="check that the OCSP responder / CRL in the certificate can be reached",
        ) from None


def _field_has_box(writer: Any, name: str) -> bool:
    from pyhanko.sign.fields import enumerate_sig_fields

    for fname, _, ref in enumerate_sig_fields(writer.prev):
        if fname == name:
            field_obj = ref.get_object()
            rect = field_obj.get("/Rect")
            if rect is None and "/Kids" in field_obj:
                rect = field_obj["/Kids"][0].get_object().get("/Rect")
            if rect is None:
                return False
            x1, y1, x2, y2 = (float(v) for v in rect)
            return abs(x2 - x1) > 1 and abs(y2 - y1) > 1
    return False


def _mdp(certify: str | None) -> Any:
    from pyhanko.sign.fields import MDPPerm

    table = {
        "no-changes": MDPPerm.NO_CHANGES,
        "form-filling": MDPPerm.FILL_FORMS,
        "annotations": MDPPerm.ANNOTATE,
    }
    try:
        return table[certify or "form-filling"]
    except KeyError:
        raise UsageError(
            f"unknown --certify {certify!r}; use no-changes, form-filling or annotations"
        ) from None


def _reserve_without_timestamp(signer: Signer) -> int:
    """Hex characters to reserve for a CMS without timestamp or revocation data: the
    certificates, the signature, signed attributes (with the issuer name twice) and slack.
    Computing it saves pyHanko's dry-run CMS build; kept per signer while its certificates
    stay the same objects."""
    certs = (signer.certificate, *signer.chain)
    try:
        known, reserved = _RESERVED[signer]
        if len(known) == len(certs) and all(a is b for a, b in zip(known, certs, strict=True)):
            return reserved
    except (KeyError, TypeError):
        pass
    reserved = _reserve_for(signer)
    with contextlib.suppress(TypeError):
        _RESERVED[signer] = (certs, reserved)
    return reserved


#: per signer object (weakly held): the certificates the reservation was computed for, and it
_RESERVED: weakref.WeakKeyDictionary[Signer, tuple[tuple[Any, ...], int]] = weakref.WeakKeyDictionary()


def _reserve_for(signer: Signer) -> int:
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = signer.certificate
    assert cert is not None
    certs = sum(len(c.public_bytes(Encoding.DER)) for c in (cert, *signer.chain))
    key_bytes = (getattr(signer.public_key, "key_size", 521) + 7) // 8
    issuer = len(cert.issuer.public_bytes())
    return 2 * (certs + 2 * key_bytes + 16 + 3 * issuer + 1024)


async def _run(
    pdf_signer: Any, writer: Any, output: IO[bytes], at: dt.datetime, reserved: int | None = None
) -> None:
    """pyHanko's ``async_sign_pdf`` with the signing time fixed to ``at``."""
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    session = pdf_signer.init_signing_session(writer)
    session.system_time = at
    validation_info = await session.perform_presign_validation(writer)
    if reserved is None:
        reserved = await session.estimate_signature_container_size(validation_info, tight=False)
    tbs = session.prepare_tbs_document(validation_info=validation_info, bytes_reserved=reserved)
    digest, res_output = tbs.digest_tbs_document(output=output)
    post = await tbs.perform_signature(
        document_digest=digest.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(
            signing_time=at,
            adobe_revinfo_attr=None if validation_info is None else validation_info.adobe_revinfo_attr,
            cades_signed_attrs=pdf_signer.signature_meta.cades_signed_attr_spec,
        ),
    )
    await post.post_signature_processing(res_output)


_logged_warnings: set[str] = set()


def signer_warnings(signer: Signer, opts: SigningOptions, at: dt.datetime) -> tuple[str, ...]:
    """What :mod:`thaisign.pades.precheck` found about the signer's certificate (``opts.signer_check``);
    with ``strict``, a revoked or untrusted certificate is a :class:`CertificateError`."""
    if opts.signer_check == "off":
        return ()
    from thaisign.pades.precheck import check_signer

    warning = check_signer(signer, at, opts.trust_roots).warning
    if warning is None:
        return ()
    if opts.signer_check == "strict":
        raise CertificateError(warning, hint="without --strict the letter is signed with a warning")
    return (warning,)


def sign_pdf(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    signer: Signer,
    options: SigningOptions | None = None,
    *,
    in_place: bool = False,
    group: GroupWriter | None = None,
    **overrides: Any,
) -> SignResult:
    """Sign the PDF at ``input`` into ``output`` (written atomically; never over the input).

    ``options`` is a :class:`SigningOptions`; keyword ``overrides`` replace its fields, e.g.
    ``sign_pdf(a, b, signer, level="B-T", tsa=url, rect=(350, 80, 550, 160))``.
    With ``in_place=True`` and ``output == input`` the input is replaced atomically. The output's
    folder is created if needed. With a :class:`~thaisign._fs.GroupWriter` the output is moved into
    place by the group's ``commit()`` (one sync for many letters, see ``sign_many``).
    """
    opts = replace(options or SigningOptions(), **overrides)
    src, dst = Path(input), Path(output)
    if not src.is_file():
        raise InputError(f"PDF not found: {src}" if not src.exists() else f"not a file: {src}")
    same = (dst.exists() and os.path.samefile(src, dst)) or src.resolve() == dst.resolve()
    if same and not in_place:
        raise OutputError(f"output {dst} is the input file", hint="choose another output, or use --in-place")
    at = opts.signing_time or dt.datetime.now(dt.UTC)
    if at.tzinfo is None:
        raise UsageError("signing_time must carry a timezone")
    if opts.check_certificate:
        check_certificate(signer, at)
    warnings = signer_warnings(signer, opts, at)
    if not dst.parent.is_dir():
        ensure_folder(dst.parent)
    open_output = group.open if group is not None else atomic_rw
    try:
        fh = src.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {src}: {exc.strerror}") from None
    with fh:
        if os.fstat(fh.fileno()).st_size <= IN_MEMORY_LIMIT:
            # small letters: sign in memory (pyHanko hashes a buffer much faster than it
            # re-reads a file), then write the result once
            writer = open_writer(io.BytesIO(fh.read()), opts.pdf_password)
            buffer = io.BytesIO()
            name, visible = _sign_converting(writer, buffer, signer, opts, at)
            with open_output(dst) as out:
                out.write(buffer.getbuffer())
            size = buffer.getbuffer().nbytes
        else:  # large files stream through the temporary output file: memory stays flat
            writer = open_writer(fh, opts.pdf_password)
            with open_output(dst) as out:
                name, visible = _sign_converting(writer, out, signer, opts, at)
                size = os.fstat(out.fileno()).st_size
    return SignResult(
        dst, name, opts.effective_level(), at, visible, opts.certify is not None, size, warnings
    )


def sign_pdf_bytes(
    data: bytes, signer: Signer, options: SigningOptions | None = None, **overrides: Any
) -> bytes:
    """Sign a PDF held in memory and return the signed bytes."""
    opts = replace(options or SigningOptions(), **overrides)
    at = opts.signing_time or dt.datetime.now(dt.UTC)
    if opts.check_certificate:
        check_certificate(signer, at)
    for warning in signer_warnings(signer, opts, at):  # (strict refuses; here nobody reads a result)
        if warning not in _logged_warnings:  # once per process, not once per letter
            _logged_warnings.add(warning)
            logging.getLogger(__name__).warning("%s", warning)
    writer = open_writer(io.BytesIO(data), opts.pdf_password)
    out = io.BytesIO()
    _sign_converting(writer, out, signer, opts, at)
    return out.getvalue()
