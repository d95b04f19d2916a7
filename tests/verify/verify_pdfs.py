"""Signed PDFs made at test time with pyHanko directly (independent of thaisign.pades), plus tampering.

(A module of its own, not conftest.py: test modules import these names, and several test
folders have a ``conftest`` module.)
"""

from __future__ import annotations

import io
from typing import Any

from support.pki import PASSPHRASE, Issued, TestPKI


class PdfFactory:
    """Sign and tamper with PDFs using pyHanko and raw byte edits."""

    def __init__(self, pki: TestPKI) -> None:
        self.pki = pki

    def signer(self, issued: Issued) -> Any:
        from pyhanko.sign import signers

        return signers.SimpleSigner.load(
            str(issued.key_pem),
            str(issued.cert_pem),
            ca_chain_files=(str(self.pki.chain_pem),),
            key_passphrase=PASSPHRASE.encode(),
        )

    @staticmethod
    def timestamper(url: str) -> Any:
        """pyHanko's RFC 3161 client against a real TSA (the ``pki_services`` one on 127.0.0.1)."""
        from pyhanko.sign.timestamps import HTTPTimeStamper

        return HTTPTimeStamper(url, timeout=10)

    def sign(
        self,
        data: bytes,
        issued: Issued | None = None,
        *,
        field: str = "Signature1",
        subfilter: str = "pades",
        certify: str | None = None,
        tsa: str | None = None,
    ) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers

        perms = {"no-changes": 1, "form-filling": 2, "annotations": 3}
        meta = signers.PdfSignatureMetadata(
            field_name=field,
            subfilter=fields.SigSeedSubFilter.PADES
            if subfilter == "pades"
            else fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED,
            certify=certify is not None,
            docmdp_permissions=fields.MDPPerm(perms[certify]) if certify else fields.MDPPerm.FILL_FORMS,
        )
        w = IncrementalPdfFileWriter(io.BytesIO(data))
        out = signers.sign_pdf(
            w,
            meta,
            signer=self.signer(issued or self.pki.officer_ec),
            timestamper=self.timestamper(tsa) if tsa else None,
        )
        return out.getvalue()

    def document_timestamp(self, data: bytes, tsa: str) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import signers

        w = IncrementalPdfFileWriter(io.BytesIO(data))
        out = signers.PdfTimeStamper(self.timestamper(tsa)).timestamp_pdf(w, "sha256")
        return out.getvalue()

    @staticmethod
    def replace_page_content(data: bytes, text: str) -> bytes:
        """An incremental update that replaces the page's content stream (a disallowed change)."""
        from pyhanko.pdf_utils import generic
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

        w = IncrementalPdfFileWriter(io.BytesIO(data))
        page_ref = w.root["/Pages"]["/Kids"][0]
        page = page_ref.get_object()
        stream = generic.StreamObject(stream_data=f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode())
        page["/Contents"] = w.add_object(stream)
        w.update_container(page)
        out = io.BytesIO()
        w.write(out)
        return out.getvalue()

    @staticmethod
    def add_annotation(data: bytes) -> bytes:
        """An incremental update adding a free-text annotation to page 1."""
        from pyhanko.pdf_utils import generic
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

        w = IncrementalPdfFileWriter(io.BytesIO(data))
        page = w.root["/Pages"]["/Kids"][0].get_object()
        annot = generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
                generic.NameObject("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(n) for n in (50, 50, 300, 100)]
                ),
                generic.NameObject("/Contents"): generic.TextStringObject("อนุมัติแล้ว"),
                generic.NameObject("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g"),
            }
        )
        annots = page.get("/Annots", generic.ArrayObject())
        annots = generic.ArrayObject(list(annots))
        annots.append(w.add_object(annot))
        page["/Annots"] = annots
        w.update_container(page)
        out = io.BytesIO()
        w.write(out)
        return out.getvalue()
