"""``thaisign ca``: the agency certificate authority from the command line (a thin layer over thaisign.ca)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from thaisign._cli._officer import officer_request
from thaisign._cli._options import secret_file_option
from thaisign._fs import atomic_write, read_input
from thaisign._progress import progress
from thaisign._secrets import CA_PASSPHRASE_ENV, PASSPHRASE_ENV, PIN_ENV, resolve_secret
from thaisign.errors import AuditChainError, UsageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.hashes import HashAlgorithm

    from thaisign.ca import Authority

_KEYS = click.Choice(["ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"])


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _ca_secret(
    directory: Path, passphrase_file: str | None, pin_file: str | None
) -> tuple[str | None, str | None]:
    """(passphrase, PIN) of the CA key: the PIN when profile.toml names a token, else the passphrase."""
    from thaisign.ca.profiles import PROFILE_FILE, CaProfile

    if CaProfile.load(directory / PROFILE_FILE).key_uri is not None:
        return None, resolve_secret(file=pin_file, env=PIN_ENV, prompt="Token PIN")
    return resolve_secret(file=passphrase_file, env=CA_PASSPHRASE_ENV, prompt="CA passphrase"), None


def _open(
    directory: Path, passphrase_file: str | None = None, pin_file: str | None = None, *, key: bool = True
) -> Authority:
    """Open the CA; with its key, ask for the passphrase (or the PIN when profile.toml names a token)."""
    from thaisign.ca import Authority
    from thaisign.ca.profiles import PROFILE_FILE

    if not key or not (directory / PROFILE_FILE).exists():
        return Authority.open(directory, load_key=False)  # (or the one-line "not a CA folder" error)
    passphrase, pin = _ca_secret(directory, passphrase_file, pin_file)
    return Authority.open(directory, passphrase=passphrase, pin=pin)


_dir_arg = click.argument("directory", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
_passphrase_file = secret_file_option("--passphrase-file", "the CA key passphrase", CA_PASSPHRASE_ENV)
_pin_file = secret_file_option("--pin-file", "the token PIN", PIN_ENV)
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group()
def ca() -> None:
    """The agency certificate authority: issue, revoke, publish CRLs, audit.

    \b
    Example:
      export THAISIGN_CA_PASSPHRASE=...   # or --passphrase-file
      thaisign ca init ./ca --name-th "กรมส่งเสริมการปกครองท้องถิ่น" --base-url http://ca.example.go.th
      thaisign ca issue ./ca --csr somchai.csr --name-th "นายสมชาย ใจดี" \\
        --position "ผู้อำนวยการกอง" --out-cert somchai.pem
    """


@ca.command()
@_dir_arg
@click.option(
    "--name-th", required=True, help="The agency's name in Thai (subject O and CN, at most 64 characters)."
)
@click.option("--name-en", help="The agency's name in English (kept in profile.toml; at most 64 characters).")
@click.option("--org-id", help="organizationIdentifier of the agency, e.g. NTRTH-0994000000000.")
@click.option(
    "--key",
    "key_type",
    type=click.Choice(["ec-p384", "ec-p256", "rsa-3072", "rsa-4096"]),
    default="ec-p384",
    show_default=True,
    help="CA key type.",
)
@click.option(
    "--key-uri", help="Use an existing key in a PKCS#11 token (RFC 7512 URI) instead of a key file."
)
@click.option("--pkcs11-module", help="PKCS#11 module for --key-uri (else module-path in the URI).")
@click.option("--valid-years", type=click.IntRange(1, 30), default=10, show_default=True)
@click.option(
    "--base-url",
    help="Where 'thaisign ca serve' (or your web server) publishes the CRL, OCSP and CA certificate, "
    "e.g. http://ca.dla.go.th; written into every officer certificate, so required.",
)
@click.option(
    "--local",
    is_flag=True,
    help="A trial CA served on this machine only: base URL http://127.0.0.1:8080 (instead of --base-url).",
)
@click.option("--policy-oid", help="Certificate policy OID (default: a new unique 2.25.<uuid> OID).")
@click.option(
    "--db", help="SQLAlchemy URL of the store, e.g. postgresql+psycopg://ca@dbhost/ca (default: DIR/ca.db)."
)
@click.option(
    "--csr-only",
    is_flag=True,
    help="Subordinate CA: write DIR/ca.csr for the parent CA instead of self-signing.",
)
@click.option(
    "--officer-eku",
    "officer_ekus",
    multiple=True,
    help="Extra EKU in every officer certificate: email-protection (for NSS viewers such as "
    "Evince/Okular/pdfsig), adobe-authentic-documents, or a dotted OID. Repeatable.",
)
@_passphrase_file
@_pin_file
def init(
    directory: Path,
    name_th: str,
    name_en: str | None,
    org_id: str | None,
    key_type: str,
    key_uri: str | None,
    pkcs11_module: str | None,
    valid_years: int,
    base_url: str | None,
    local: bool,
    policy_oid: str | None,
    db: str | None,
    csr_only: bool,
    officer_ekus: tuple[str, ...],
    passphrase_file: str | None,
    pin_file: str | None,
) -> None:
    """Create an agency CA in a new folder DIR.

    \b
    Writes DIR/ca.pem, DIR/chain.pem, DIR/profile.toml, the encrypted CA key
    DIR/ca-key.pem (mode 0600) and the store DIR/ca.db (or --db).
    With --csr-only it writes DIR/ca.csr; finish with 'thaisign ca install-cert'.

    \b
    Example:
      THAISIGN_CA_PASSPHRASE=... thaisign ca init ./ca \\
        --name-th "กรมส่งเสริมการปกครองท้องถิ่น" --name-en "Department of Local Administration" \\
        --org-id NTRTH-0994000000000 --base-url http://ca.dla.go.th
    """
    from thaisign.ca import Authority, CaProfile
    from thaisign.ca.authority import ensure_new_ca_folder
    from thaisign.ca.profiles import DEFAULT_BASE_URL

    if base_url is None and not local:
        raise UsageError(
            "give --base-url: where the CRL and OCSP will be served (it is written into every "
            "officer certificate and cannot be changed in them later)",
            hint="e.g. --base-url http://ca.dla.go.th; "
            f"for a trial on this machine only, --local ({DEFAULT_BASE_URL})",
        )
    if base_url is not None and local:
        raise UsageError("give either --base-url or --local, not both")
    fields: dict[str, Any] = {
        "name_th": name_th,
        "name_en": name_en,
        "org_id": org_id,
        "key": key_type,
        "key_uri": key_uri,
        "pkcs11_module": pkcs11_module or (os.environ.get("THAISIGN_PKCS11_MODULE") if key_uri else None),
        "valid_years": valid_years,
        "base_url": base_url or DEFAULT_BASE_URL,
        "db": db,
        "officer_extra_ekus": officer_ekus,
    }
    if policy_oid:
        fields["policy_oid"] = policy_oid
    profile = CaProfile(**fields).validated()
    ensure_new_ca_folder(directory)  # before asking for a passphrase that would be of no use
    if key_uri:
        secrets: dict[str, Any] = {"pin": resolve_secret(file=pin_file, env=PIN_ENV, prompt="Token PIN")}
    else:
        secrets = {
            "passphrase": resolve_secret(
                file=passphrase_file, env=CA_PASSPHRASE_ENV, prompt="New CA passphrase", new=True
            )
        }
    with Authority.init(directory, profile, csr_only=csr_only, **secrets) as authority:
        click.echo(f"CA created in {directory}")
        if authority.certificate is not None:
            fp = authority.certificate.fingerprint(_sha256()).hex()
            click.echo(f"  certificate: {directory / 'ca.pem'} (SHA-256 {fp})")
            click.echo(f"  valid until: {authority.certificate.not_valid_after_utc:%Y-%m-%d}")
        else:
            click.echo(f"  request for the parent CA: {directory / 'ca.csr'}")
            click.echo(f"  then: thaisign ca install-cert {directory} CERT.pem --chain PARENT-CHAIN.pem")
        click.echo(f"  policy OID: {authority.profile.policy_oid}")
        click.echo("  URLs written into every officer certificate (serve them with 'thaisign ca serve'):")
        click.echo(f"    CRL:            {authority.profile.crl_url}")
        click.echo(f"    OCSP:           {authority.profile.ocsp_url}")
        click.echo(f"    CA certificate: {authority.profile.ca_issuers_url}")
        if local:
            click.echo("  (--local: only this machine can reach them; use --base-url for a real CA)")
        click.echo(f"  store: {'PostgreSQL' if not authority.store.is_sqlite else directory / 'ca.db'}")


def _sha256() -> HashAlgorithm:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


@ca.command("install-cert")
@_dir_arg
@click.argument("cert", metavar="CERT.pem", type=click.Path(dir_okay=False))
@click.option(
    "--chain", type=click.Path(dir_okay=False), help="The parent CA's chain (parent first, root last)."
)
def install_cert(directory: Path, cert: str, chain: str | None) -> None:
    """Install the certificate a parent CA issued for DIR/ca.csr.

    \b
    Example:
      thaisign ca install-cert ./ca ca-from-parent.pem --chain parent-chain.pem
    """
    with _open(directory, key=False) as authority:
        installed = authority.install_certificate(
            read_input(cert, "certificate"), read_input(chain, "chain file") if chain else None
        )
        click.echo(f"CA certificate installed in {directory}: {installed.subject.rfc4514_string()}")


@ca.command()
@_dir_arg
@click.option(
    "--csr", type=click.Path(dir_okay=False), help="The officer's certificate signing request (PEM/DER)."
)
@click.option(
    "--out-p12", type=click.Path(dir_okay=False), help="Make a new key and write it here (PKCS#12)."
)
@click.option("--key-uri", help="The officer's key is in a PKCS#11 token (RFC 7512 URI).")
@click.option(
    "--key", "key_type", type=_KEYS, default="ec-p256", show_default=True, help="Type of a new key."
)
@click.option("--name-th", required=True, help="Full name in Thai, e.g. นายสมชาย ใจดี (CN).")
@click.option("--name-en", help="Full name in English (kept in the store).")
@click.option("--given-name", help="Given name (givenName).")
@click.option("--surname", help="Surname (surname).")
@click.option("--position", required=True, help="Position, e.g. ผู้อำนวยการกอง (title).")
@click.option("--ou", help="Division / organisational unit.")
@click.option("--email", help="E-mail (subject and SAN).")
@click.option("--employee-id", help="Employee or pseudonymous ID (serialNumber); never the citizen ID.")
@click.option("--days", type=int, help="Validity in days (default from the profile, at most 3 years).")
@click.option(
    "--out-cert", type=click.Path(dir_okay=False), help="Write the certificate here (default: stdout)."
)
@secret_file_option("--p12-passphrase-file", "the passphrase for --out-p12", PASSPHRASE_ENV)
@click.option("--pkcs11-module", help="PKCS#11 module for --key-uri.")
@_passphrase_file
@_pin_file
@_json
def issue(
    directory: Path,
    csr: str | None,
    out_p12: str | None,
    key_uri: str | None,
    key_type: str,
    name_th: str,
    name_en: str | None,
    given_name: str | None,
    surname: str | None,
    position: str,
    ou: str | None,
    email: str | None,
    employee_id: str | None,
    days: int | None,
    out_cert: str | None,
    p12_passphrase_file: str | None,
    pkcs11_module: str | None,
    passphrase_file: str | None,
    pin_file: str | None,
    as_json: bool,
) -> None:
    """Issue an officer signing certificate (from a CSR, with a new key, or for a token key).

    \b
    Example:
      thaisign ca issue ./ca --csr somchai.csr --name-th "นายสมชาย ใจดี" \\
        --given-name สมชาย --surname ใจดี --position "ผู้อำนวยการกอง" \\
        --employee-id E0042 --email somchai@dla.go.th --out-cert somchai.pem
      THAISIGN_PASSPHRASE=... thaisign ca issue ./ca --out-p12 somchai.p12 \\
        --name-th "นายสมชาย ใจดี" --position "ผู้อำนวยการกอง"
    """
    from thaisign.keys import Signer

    if sum(x is not None for x in (csr, out_p12, key_uri)) != 1:
        raise UsageError("give exactly one of --csr, --out-p12 or --key-uri")
    officer, p12_pass, csr_data = officer_request(
        csr=csr, out_p12=out_p12, out_cert=out_cert, p12_passphrase_file=p12_passphrase_file,
        name_th=name_th, position=position, given_name=given_name, surname=surname, name_en=name_en,
        ou=ou, email=email, employee_id=employee_id, days=days,
    )  # fmt: skip
    with _open(directory, passphrase_file, pin_file) as authority:
        if key_uri is not None:
            pin = resolve_secret(file=pin_file, env=PIN_ENV, prompt="Token PIN")
            with Signer.from_pkcs11(key_uri, pin=pin, module=pkcs11_module) as token_key:
                issued = authority.issue_officer(officer, public_key=token_key.public_key)
        elif csr_data is not None:
            issued = authority.issue_officer(officer, csr=csr_data)
        else:
            issued = authority.issue_officer(officer, new_key=key_type)
        if out_p12 is not None:
            atomic_write(
                out_p12, issued.pkcs12(p12_pass or "", authority.chain, name=officer.name_th), mode=0o600
            )
        if out_cert is not None:
            atomic_write(out_cert, issued.pem())
        record = authority.get(issued.serial)
    if as_json:
        _echo_json({**record.to_json(), "out_cert": out_cert, "out_p12": out_p12})
        return
    if out_cert is None and out_p12 is None:
        click.echo(issued.pem().decode("ascii"), nl=False)
    msg = (
        f"issued {record.serial_hex} to {record.name_th} ({record.position}), "
        f"valid until {record.not_after:%Y-%m-%d}"
    )
    click.echo(msg, err=out_cert is None and out_p12 is None)
    for label, path in (("certificate", out_cert), ("key + certificate (PKCS#12)", out_p12)):
        if path:
            click.echo(f"  {label}: {path}")


@ca.command("issue-batch")
@_dir_arg
@click.argument("csv_file", metavar="officers.csv", type=click.Path(dir_okay=False))
@click.option(
    "--out-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where certificates (and PKCS#12 files) go.",
)
@secret_file_option("--p12-passphrase-file", "the passphrase for new PKCS#12 files", PASSPHRASE_ENV)
@click.option(
    "--workers",
    type=click.IntRange(0, 64),
    default=0,
    help="Processes that sign (default: one per CPU for 1,000 rows or more, else 1).",
)
@_passphrase_file
@_pin_file
@_json
def issue_batch(
    directory: Path,
    csv_file: str,
    out_dir: Path,
    p12_passphrase_file: str | None,
    workers: int,
    passphrase_file: str | None,
    pin_file: str | None,
    as_json: bool,
) -> None:
    """Issue certificates for every officer in a CSV file; re-running skips those already issued.

    \b
    CSV columns (header row): employee_id,name_th,position[,given_name,surname,name_en,ou,email,days,csr,key]
    A row with csr (path relative to the CSV) gets OUT/<employee_id>.pem; a row without gets a
    new key in OUT/<employee_id>.p12 (passphrase from --p12-passphrase-file or $THAISIGN_PASSPHRASE).
    Bad rows are reported with their line number; the others go on. A csr path must lie in the
    CSV's folder. File names are the employee IDs with unsafe characters as _XX (A/1 -> A_2F1).
    A re-run checks every officer's .pem and .p12 (key matches certificate), repairs what it can
    and reports what it cannot. Exit code 1 if any row failed or an output problem remains.

    \b
    Example:
      thaisign ca issue-batch ./ca officers.csv --out-dir ./issued
    """
    from thaisign.ca import Authority
    from thaisign.ca.batch import CaOpener, read_rows
    from thaisign.ca.batch import issue_batch as run_batch

    rows, _ = read_rows(Path(csv_file))
    p12_pass = None
    if any(r.csr_path is None for r in rows):
        p12_pass = resolve_secret(
            file=p12_passphrase_file,
            env=PASSPHRASE_ENV,
            prompt="Passphrase for new PKCS#12 files",
            flag="--p12-passphrase-file",
            new=True,
        )
    if not directory.is_dir():
        Authority.open(directory, load_key=False)  # the one-line "CA folder not found"
    ca_pass, pin = _ca_secret(directory, passphrase_file, pin_file)
    if workers == 0:
        workers = (os.cpu_count() or 1) if len(rows) >= 1000 else 1
    with (
        Authority.open(directory, passphrase=ca_pass, pin=pin) as authority,
        progress(len(rows), "issuing", enabled=not as_json) as bar,
    ):
        result = run_batch(
            authority,
            csv_file,
            out_dir,
            passphrase=p12_pass,
            on_progress=bar.advance,
            workers=workers,
            opener=CaOpener(directory, ca_pass, pin),
        )
    if as_json:
        _echo_json(result.to_json())
    else:
        for err in result.errors:
            click.echo(f"{csv_file}:{err.line}: {err.message}", err=True)
        for line, emp, what in result.repaired:
            click.echo(f"{csv_file}:{line}: {emp}: repaired: {what}", err=True)
        for line, emp, what in result.problems:
            click.echo(f"{csv_file}:{line}: {emp}: {what}", err=True)
        click.echo(
            f"issued {len(result.issued)}, skipped {len(result.skipped)} already issued, "
            f"{len(result.errors)} bad row(s); files restored {result.restored_files}, "
            f"repaired {len(result.repaired)}; {len(result.problems)} output problem(s); output in {out_dir}"
        )
    if result.errors or result.problems:
        raise SystemExit(1)


@ca.command("list")
@_dir_arg
@click.option(
    "--status", type=click.Choice(["valid", "revoked", "expired"]), help="Only certificates in this state."
)
@_json
def list_(directory: Path, status: str | None, as_json: bool) -> None:
    """List issued certificates (no passphrase needed).

    \b
    Example:
      thaisign ca list ./ca --status valid
      thaisign ca list ./ca --json | jq '.[] | .serial'
    """
    with _open(directory, key=False) as authority:
        certs = authority.certificates(status)
    if as_json:
        _echo_json([c.to_json() for c in certs])
        return
    from thaisign._text import visible  # what the store holds is shown escaped, however it got there

    for c in certs:
        click.echo(
            f"{c.serial_hex:<34} {c.status():<8} {c.not_after:%Y-%m-%d} "
            f"{visible(c.employee_id or '-', 64):<12} {visible(c.name_th, 64)} "
            f"({visible(c.position or '', 64)})"
        )
    click.echo(f"{len(certs)} certificate(s)", err=True)


@ca.command()
@_dir_arg
@click.argument("serial")
@click.option("--pem", "as_pem", is_flag=True, help="Print the certificate in PEM.")
@_json
def show(directory: Path, serial: str, as_pem: bool, as_json: bool) -> None:
    """Show one certificate by serial number (hex, as 'ca list' prints it).

    \b
    Example:
      thaisign ca show ./ca 4f1c2a... --json
    """
    with _open(directory, key=False) as authority:
        cert = authority.get(serial)
    if as_json:
        _echo_json(cert.to_json())
        return
    if as_pem:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        click.echo(
            x509.load_der_x509_certificate(cert.der).public_bytes(serialization.Encoding.PEM).decode(),
            nl=False,
        )
        return
    from thaisign._text import visible

    for key, value in cert.to_json().items():
        if value is not None:
            click.echo(f"{key:>18}: {visible(str(value), 300)}")


@ca.command()
@_dir_arg
@click.argument("serial")
@click.option(
    "--reason",
    default="unspecified",
    show_default=True,
    help="RFC 5280 reason: unspecified, key-compromise, ca-compromise, affiliation-changed, superseded, "
    "cessation-of-operation, privilege-withdrawn.",
)
@_passphrase_file
@_pin_file
def revoke(
    directory: Path, serial: str, reason: str, passphrase_file: str | None, pin_file: str | None
) -> None:
    """Revoke a certificate; publish a new CRL afterwards with 'thaisign ca crl'.

    \b
    Example:
      thaisign ca revoke ./ca 4f1c2a... --reason key-compromise
    """
    from thaisign.ca.store import normalize_reason, parse_serial

    normalize_reason(reason)  # a bad reason fails before any passphrase prompt
    parse_serial(serial)
    with _open(directory, passphrase_file, pin_file) as authority:
        status = authority.revoke(serial, reason)
    click.echo(
        f"revoked {parse_serial(serial):x} ({status.reason}) at {status.revoked_at:%Y-%m-%d %H:%M:%S} UTC"
    )


@ca.command()
@_dir_arg
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Where to write the CRL."
)
@click.option("--pem", "as_pem", is_flag=True, help="PEM instead of DER.")
@_passphrase_file
@_pin_file
def crl(
    directory: Path, output: str, as_pem: bool, passphrase_file: str | None, pin_file: str | None
) -> None:
    """Make a new CRL (next CRL number; nextUpdate from the profile) and a signed audit checkpoint.

    The store is checked against its audit chain first: a store changed outside thaisign gets
    no CRL. The checkpoint (the chain head signed by the CA) goes beside the CRL as
    NAME.checkpoint.p7m: publish it and keep copies elsewhere ('ca audit --checkpoint').

    \b
    Example:
      thaisign ca crl ./ca -o ca.crl        # also writes ca.checkpoint.p7m
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from thaisign.ca.checkpoint import checkpoint_path_for

    with _open(directory, passphrase_file, pin_file) as authority:
        der = authority.crl()
        checkpoint = authority.last_checkpoint
    parsed = x509.load_der_x509_crl(der)
    atomic_write(output, parsed.public_bytes(serialization.Encoding.PEM) if as_pem else der)
    if checkpoint is not None:
        atomic_write(checkpoint_path_for(output), checkpoint)
    number = parsed.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    click.echo(
        f"CRL #{number} with {len(parsed)} revoked certificate(s) written to {output}; "
        f"next update {parsed.next_update_utc:%Y-%m-%d %H:%M} UTC"
    )
    if checkpoint is not None:
        click.echo(
            f"audit checkpoint signed beside it: {checkpoint_path_for(output)} "
            "(publish it with the CRL and keep copies elsewhere)"
        )


@ca.command()
@_dir_arg
@click.option(
    "--verify",
    "check",
    is_flag=True,
    help="Check the hash chain, every table against it and the newest signed checkpoint; "
    "exit 1 on any problem.",
)
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="A checkpoint you kept (X.checkpoint.p7m, published beside a CRL); repeatable.",
)
@_json
def audit(directory: Path, check: bool, checkpoint_files: tuple[str, ...], as_json: bool) -> None:
    """Show, export (--json) or check (--verify) the hash-chained audit log.

    \b
    --verify re-derives the certificate, revocation and CRL tables from the chain and names
    every row added, deleted or changed outside thaisign; it also checks that the chain still
    holds the newest checkpoint the CA signed (with each CRL), so a log cut short is seen.

    \b
    Example:
      thaisign ca audit ./ca --verify --checkpoint /backup/ca.checkpoint.p7m
      thaisign ca audit ./ca --json > audit-2569.json
    """
    from thaisign._text import visible

    given = [(f, read_input(f, "checkpoint file")) for f in checkpoint_files]
    with _open(directory, key=False) as authority:
        entries = authority.audit_entries() if (as_json or not check) else []
        report = authority.check_integrity(given) if check else None
    problems = report.problems() if report is not None else []
    if as_json:
        _echo_json(
            {
                "entries": [e.to_json() for e in entries],
                "verified": None if report is None else report.ok,
                "head": report.head if report else None,
                "error": problems[0] if problems else None,
                "integrity": report.to_json() if report else None,
            }
        )
    elif report is not None:
        if report.ok:
            click.echo(f"audit chain intact: {report.entries} entries, head {report.head}")
            names = {"certificates": "certificate", "revocations": "revocation", "crls": "CRL"}
            rows = ", ".join(f"{n} {names.get(t, t)}{'' if n == 1 else 's'}" for t, n in report.rows.items())
            click.echo(f"tables match the chain: {rows}")
            if report.checkpoint is not None:
                cp = report.checkpoint
                click.echo(f"chain holds the {cp.checkpoint.describe()} from {visible(cp.source)}")
            else:
                click.echo("no signed checkpoint yet (one is made with every CRL)")
        else:
            for line in problems:
                click.echo(f"  - {visible(line, 300)}", err=True)
    else:
        for e in entries:
            click.echo(
                f"{e.seq:>6} {visible(e.time, 40)} {visible(e.action, 20):<12} "
                f"{visible(e.serial or '-', 40):<32} {visible(e.hash[:16], 16)}"
            )
    if report is not None and not report.ok:
        raise AuditChainError(
            f"the CA store was changed outside thaisign: {len(problems)} problem(s), listed above",
            hint="restore the database from a backup made before the change, then run this again",
        )


# Sub-commands other engineers provide (OCSP/CRL server, ...), added when present.
try:
    from thaisign._cli.ca_serve import serve as _serve

    ca.add_command(_serve)
except ModuleNotFoundError:
    pass
