"""What ``ca issue`` and ``platform issue`` share before a certificate is issued."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from thaisign._fs import read_input
from thaisign._secrets import PASSPHRASE_ENV, resolve_secret
from thaisign.errors import OutputError

if TYPE_CHECKING:
    from thaisign.ca import OfficerProfile


def officer_request(
    *,
    csr: str | None,
    out_p12: str | None,
    out_cert: str | None,
    p12_passphrase_file: str | Path | None,
    name_th: str,
    position: str,
    given_name: str | None,
    surname: str | None,
    name_en: str | None,
    ou: str | None,
    email: str | None,
    employee_id: str | None,
    days: int | None,
) -> tuple[OfficerProfile, str | None, bytes | None]:
    """The validated officer, the new PKCS#12 passphrase (with ``out_p12``) and the CSR's bytes
    (with ``csr``); outputs that exist already are refused before anything is asked or issued."""
    from thaisign.ca import OfficerProfile

    for out in (out_p12, out_cert):
        if out is not None and Path(out).exists():
            raise OutputError(
                f"{out} exists already", hint="choose a new file name; thaisign never overwrites it"
            )
    officer = OfficerProfile(
        name_th=name_th,
        position=position,
        given_name=given_name,
        surname=surname,
        name_en=name_en,
        ou=ou,
        email=email,
        employee_id=employee_id,
        days=days,
    ).validated()
    p12_pass = None
    if out_p12 is not None:
        p12_pass = resolve_secret(
            file=p12_passphrase_file,
            env=PASSPHRASE_ENV,
            prompt="Passphrase for the new PKCS#12",
            flag="--p12-passphrase-file",
            new=True,
        )
    csr_data = read_input(csr, "CSR") if csr else None
    return officer, p12_pass, csr_data
