"""Extend signed letters for long-term validation: B-T → B-LT (certificates, OCSP/CRL in the
/DSS) → B-LTA (plus a document timestamp), as incremental updates that keep earlier signatures valid.

>>> extend_ltv("signed.pdf", "signed-lta.pdf", level="B-LTA", tsa="http://tsa.example.go.th")
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography import x509

from thaisign.errors import InputError, NetworkError, OutputError, PdfError, ThaisignError, UsageError

LtvLevel = Literal["B-LT", "B-LTA"]


@dataclass(frozen=True)
class LtvResult:
    """What :func:`extend_ltv` did."""

    output: Path
    level: LtvLevel
    signatures: int
    document_timestamp_added: bool


def _roots_from(embedded: list[Any]) -> list[Any]:
    roots = []
    for sig in embedded:
        for cert in sig.signed_data["certificates"]:
            c = cert.chosen
            if c.self_signed in ("maybe", "yes") and c.issuer == c.subject:
                roots.append(c)
    return roots


def extend_ltv(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    level: LtvLevel = "B-LTA",
    tsa: str | None = None,
    trust_roots: tuple[x509.Certificate, ...] = (),
    at: dt.datetime | None = None,
) -> LtvResult:
    """Add validation data for every signature (B-LT) and, for B-LTA, a document timestamp from ``tsa``.

    ``trust_roots`` anchor the chains (default: the root certificates embedded in the signatures).
    ``at`` is the validation time: the chains and their revocation data must be valid then
    (default: now).
    """
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import signers
    from pyhanko.sign.validation.dss import async_add_validation_info

    from thaisign.pades._document import atomic_rw
    from thaisign.pades._pyhanko import collecting_context, to_asn1
    from thaisign.pades.tsa_client import HttpTimeStamper

    if level not in ("B-LT", "B-LTA"):
        raise UsageError(f"unknown level {level!r}; use B-LT or B-LTA")
    if level == "B-LTA" and not tsa:
        raise UsageError("B-LTA needs a time-stamping authority", hint="give --tsa URL")
    src, dst = Path(input), Path(output)
    if not src.is_file():
        raise InputError(f"PDF not found: {src}")
    if dst.exists() and os.path.samefile(src, dst):
        raise OutputError(f"output {dst} is the input file", hint="choose another output")
    data = src.read_bytes()
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = list(reader.embedded_regular_signatures)
    except Exception as exc:
        raise PdfError(f"not a readable PDF: {exc}") from None
    if not embedded:
        raise PdfError("the PDF has no signature to extend", hint="sign it first with thaisign sign")
    for sig in embedded:
        unsigned = sig.signer_info["unsigned_attrs"]
        types = {a["type"].native for a in unsigned} if unsigned.native is not None else set()
        if "signature_time_stamp_token" not in types:
            raise UsageError(
                f"signature {sig.field_name} has no signature timestamp (it is B-B); {level} builds on B-T",
                hint="sign with --tsa URL to get B-T, then extend it",
            )
    roots = [to_asn1(c) for c in trust_roots] or _roots_from(embedded)
    if not roots:
        raise UsageError("no root certificate in the signatures", hint="give --trust ROOT.pem")
    extra = [c.chosen for s in embedded for c in s.signed_data["certificates"]]

    context = collecting_context(roots, extra, at or dt.datetime.now(dt.UTC))

    async def run() -> bytes:
        buf = data
        for index in range(len(embedded)):
            rd = PdfFileReader(io.BytesIO(buf), strict=False)
            sig = rd.embedded_regular_signatures[index]
            out = io.BytesIO()
            await async_add_validation_info(sig, context, output=out, force_write=False)
            buf = out.getvalue()
        if level == "B-LTA":
            assert tsa is not None
            writer = IncrementalPdfFileWriter(io.BytesIO(buf), strict=False)
            stamper = signers.PdfTimeStamper(HttpTimeStamper(tsa))
            out = io.BytesIO()
            await stamper.async_timestamp_pdf(writer, "sha256", validation_context=context, output=out)
            buf = out.getvalue()
        return buf

    from thaisign.pades._pyhanko import run_releasing

    try:
        result = asyncio.run(run_releasing(run(), context))
    except ThaisignError:
        raise  # e.g. the TSA's own one-line error, naming its URL and what happened
    except Exception as exc:
        raise NetworkError(
            f"cannot extend to {level}: {type(exc).__name__}: {exc}",
            hint="check that the TSA, OCSP responder and CRL distribution points can be reached",
        ) from None
    with atomic_rw(dst) as fh:
        fh.write(result)
    return LtvResult(dst, level, len(embedded), level == "B-LTA")
