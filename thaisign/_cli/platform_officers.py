"""``thaisign platform issue|revoke|list|show|crl|audit|figures``: an agency's officer certificates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from thaisign._cli._officer import officer_request
from thaisign._cli._options import secret_file_option
from thaisign._cli._platform_common import (
    OFFICER_KEYS,
    Run,
    agency_option,
    credentials,
    dir_arg,
    dumps,
    json_option,
    visible,
)
from thaisign._fs import atomic_write
from thaisign._secrets import PASSPHRASE_ENV
from thaisign.errors import AuditChainError, UsageError

# --- officer certificates ---------------------------------------------------------------------------------


@click.command()
@dir_arg
@agency_option
@click.option("--csr", type=click.Path(dir_okay=False), help="The officer's CSR (PEM or DER).")
@click.option(
    "--out-p12", type=click.Path(dir_okay=False), help="Make a new key and write it here (PKCS#12)."
)
@click.option(
    "--key", "key_type", type=OFFICER_KEYS, default="ec-p256", show_default=True, help="Type of a new key."
)
@click.option("--name-th", required=True, help="Full name in Thai (CN).")
@click.option("--name-en", help="Full name in English (kept in the store).")
@click.option("--given-name")
@click.option("--surname")
@click.option("--position", required=True, help="Position (title).")
@click.option("--ou", help="Division.")
@click.option("--email")
@click.option("--employee-id", help="Employee or pseudonymous ID; never the citizen ID.")
@click.option("--days", type=int, help="Validity in days (default: the agency profile's).")
@click.option(
    "--out-cert", type=click.Path(dir_okay=False), help="Write the certificate here (default: stdout)."
)
@secret_file_option("--p12-passphrase-file", "the passphrase for --out-p12", PASSPHRASE_ENV)
@credentials(signing=True)
@json_option
def issue(
    directory: Path,
    slug: str,
    csr: str | None,
    out_p12: str | None,
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
    p12_passphrase_file: Path | None,
    token_file: Path | None,
    oidc_token_file: Path | None,
    passphrase_file: Path | None,
    pin_file: Path | None,
    as_json: bool,
) -> None:
    """Issue an officer certificate from an agency's CA (its operators).

    \b
    Example:
      thaisign platform issue /srv/korat-pki --agency dla --csr somchai.csr \\
        --name-th "นายสมชาย ใจดี" --position "ผู้อำนวยการกอง" --employee-id E0042 \\
        --out-cert somchai.pem --token-file dla.token
    """

    if (csr is None) == (out_p12 is None):
        raise UsageError("give exactly one of --csr or --out-p12")
    officer, p12_pass, csr_data = officer_request(
        csr=csr, out_p12=out_p12, out_cert=out_cert, p12_passphrase_file=p12_passphrase_file,
        name_th=name_th, position=position, given_name=given_name, surname=surname, name_en=name_en,
        ou=ou, email=email, employee_id=employee_id, days=days,
    )  # fmt: skip
    with Run(directory, token_file, oidc_token_file, passphrase_file, pin_file) as s:
        if csr_data is not None:
            issued = s.issue(slug, officer, csr=csr_data)
        else:
            issued = s.issue(slug, officer, new_key=key_type)
        record = s.certificate(slug, issued.serial)
        chain = s.platform.authority(s.platform.active_ca(s.agency(slug)).ca_id, key=False).chain
        if out_p12 is not None:
            atomic_write(out_p12, issued.pkcs12(p12_pass or "", chain, name=officer.name_th), mode=0o600)
    if out_cert is not None:
        atomic_write(out_cert, issued.pem())
    if as_json:
        click.echo(dumps({**record.to_json(), "agency": slug, "out_cert": out_cert, "out_p12": out_p12}))
        return
    if out_cert is None and out_p12 is None:
        click.echo(issued.pem().decode("ascii"), nl=False)
    click.echo(
        f"issued {record.serial_hex} to {visible(record.name_th)} ({visible(record.position or '')}) "
        f"in {slug}, "
        f"valid until {record.not_after:%Y-%m-%d}",
        err=out_cert is None and out_p12 is None,
    )


@click.command()
@dir_arg
@agency_option
@click.argument("serial")
@click.option(
    "--reason", default="unspecified", show_default=True, help="RFC 5280 reason, e.g. key-compromise."
)
@credentials(signing=True)
def revoke(
    directory: Path,
    slug: str,
    serial: str,
    reason: str,
    token_file: Path | None,
    oidc_token_file: Path | None,
    passphrase_file: Path | None,
    pin_file: Path | None,
) -> None:
    """Revoke an officer certificate of an agency; its CRL is published anew at once (its operators).

    \b
    Example:
      thaisign platform revoke /srv/korat-pki --agency dla 6bd5d0172a397b6c56b9b2fe6eb9f062 \\
        --reason key-compromise --token-file dla.token
    """
    with Run(directory, token_file, oidc_token_file, passphrase_file, pin_file) as s:
        status = s.revoke(slug, serial, reason)
    click.echo(f"revoked {serial} in {slug} ({status.reason}); a new CRL is published")


@click.command("list")
@dir_arg
@agency_option
@click.option("--status", type=click.Choice(["valid", "revoked", "expired"]))
@credentials()
@json_option
def list_(
    directory: Path,
    slug: str,
    status: str | None,
    token_file: Path | None,
    oidc_token_file: Path | None,
    as_json: bool,
) -> None:
    """An agency's officer certificates (its operators and auditors).

    \b
    Example:
      thaisign platform list /srv/korat-pki --agency dla --status revoked --token-file dla.token
    """
    with Run(directory, token_file, oidc_token_file) as s:
        certs = s.certificates(slug, status)
        now = s.platform.clock()
    if as_json:
        click.echo(dumps({"agency": slug, "certificates": [c.to_json(now) for c in certs]}))
        return
    for c in certs:
        click.echo(
            f"{c.serial_hex:<34} {c.status(now):<8} {c.not_after:%Y-%m-%d} "
            f"{visible(c.employee_id or '-', 64):<12} "
            f"{visible(c.name_th, 64)} ({visible(c.position or '', 64)})"
        )


@click.command()
@dir_arg
@agency_option
@click.argument("serial")
@click.option("--pem", "as_pem", is_flag=True, help="Print the certificate in PEM.")
@credentials()
@json_option
def show(
    directory: Path,
    slug: str,
    serial: str,
    as_pem: bool,
    token_file: Path | None,
    oidc_token_file: Path | None,
    as_json: bool,
) -> None:
    """One officer certificate of an agency.

    \b
    Example:
      thaisign platform show /srv/korat-pki --agency dla 6bd5d0172a397b6c56b9b2fe6eb9f062 --json \\
        --token-file dla.token
    """
    with Run(directory, token_file, oidc_token_file) as s:
        c = s.certificate(slug, serial)
        now = s.platform.clock()
    if as_pem:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        click.echo(
            x509.load_der_x509_certificate(c.der).public_bytes(serialization.Encoding.PEM).decode("ascii"),
            nl=False,
        )
    elif as_json:
        click.echo(dumps(c.to_json(now)))
    else:
        for key, value in c.to_json(now).items():
            click.echo(f"{key:>18}: {visible(str(value), 300)}")


@click.command()
@dir_arg
@click.option("--agency", "slug", help="The agency (else --all).")
@click.option(
    "--all", "every", is_flag=True, help="Every CA of the platform whose CRL is older than half its lifetime."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the agency's CRL here (DER).",
)
@credentials(signing=True)
def crl(
    directory: Path,
    slug: str | None,
    every: bool,
    output: Path | None,
    token_file: Path | None,
    oidc_token_file: Path | None,
    passphrase_file: Path | None,
    pin_file: Path | None,
) -> None:
    """Publish new CRLs: an agency's (its operators), or with --all every CA's that is getting old
    and the OCSP certificates that end within 30 days (administrators; e.g. from cron).

    \b
    Example:
      thaisign platform crl /srv/korat-pki --agency dla -o dla.crl --token-file dla.token
      0 * * * *  thaisign platform crl /srv/korat-pki --all --token-file /etc/thaisign/admin.token
    """
    if (slug is None) == (not every):
        raise UsageError("give --agency SLUG or --all")
    with Run(directory, token_file, oidc_token_file, passphrase_file, pin_file) as s:
        if every:
            done = s.maintain()
            click.echo(f"published {done['crls']} CRL(s), renewed {done['responders']} OCSP certificate(s)")
            return
        made = s.publish_crl(slug or "")
    if output is not None and made:
        atomic_write(output, made[max(made)])
    click.echo(f"published {len(made)} CRL(s) of {slug}" + (f"; {output}" if output else ""))


# --- audit and figures ---------------------------------------------------------------------------------


@click.command()
@dir_arg
@click.option("--agency", "slug", help="An agency's CA chains.")
@click.option("--issuing", is_flag=True, help="The issuing CA's chain (agency CA certificates).")
@click.option(
    "--platform", "whole", is_flag=True, help="The platform's own chain (agencies, operators, tokens)."
)
@click.option(
    "--verify", "check", is_flag=True, help="Check the chains, the tables and the newest checkpoints."
)
@credentials()
@json_option
def audit(
    directory: Path,
    slug: str | None,
    issuing: bool,
    whole: bool,
    check: bool,
    token_file: Path | None,
    oidc_token_file: Path | None,
    as_json: bool,
) -> None:
    """Show or verify audit chains (operators: their agency; auditors: their scope).

    \b
    Example:
      thaisign platform audit /srv/korat-pki --agency dla --verify --token-file auditor.token
      thaisign platform audit /srv/korat-pki --platform --verify --json --token-file auditor.token
    """
    if sum((slug is not None, issuing, whole)) != 1:
        raise UsageError("give one of --agency SLUG, --issuing or --platform")
    reports: dict[str, Any] = {}
    entries: dict[str, list[Any]] = {}
    with Run(directory, token_file, oidc_token_file) as s:
        if slug is not None:
            if check:
                reports = {f"{slug} generation {g}": r for g, r in s.verify(slug).items()}
            if as_json or not check:
                entries = {f"{slug} generation {g}": e for g, e in s.audit(slug).items()}
        elif issuing:
            if check:
                reports = {"issuing CA": s.verify_issuing()}
            if as_json or not check:
                entries = {"issuing CA": s.platform.issuing(key=False).audit_entries()}
        else:
            if check:
                reports = {"platform": s.verify_platform()}
            if as_json or not check:
                entries = {"platform": s.platform_audit()}
    problems = [f"{name}: {p}" for name, r in reports.items() for p in r.problems()]
    if as_json:
        click.echo(
            dumps(
                {
                    "chains": {name: [e.to_json() for e in es] for name, es in entries.items()},
                    "verified": None if not check else not problems,
                    "reports": {name: r.to_json() for name, r in reports.items()},
                    "problems": problems,
                }
            )
        )
    elif check:
        for name, r in reports.items():
            if r.ok:
                click.echo(f"{name}: intact, {r.entries} entries, head {r.head}")
        for line in problems:
            click.echo(f"  - {visible(line, 300)}", err=True)
    else:
        for name, es in entries.items():
            click.echo(f"# {name}")
            for e in es:
                who = e.details.get("operator", "")
                click.echo(
                    f"{e.seq:>6} {visible(e.time, 40)} {visible(e.action, 20):<16} "
                    f"{visible(e.serial or '-', 48):<34} {visible(who, 40)}"
                )
    if problems:
        raise AuditChainError(
            f"the platform's records were changed outside thaisign: {len(problems)} problem(s), listed above",
            hint="restore the database from a backup made before the change",
        )


@click.command()
@dir_arg
@click.option("--at", "at_text", help="The moment (ISO 8601 with a time zone; default now).")
@click.option("--lang", type=click.Choice(["th", "en"]), help="Language of the table (default: th).")
@credentials()
@json_option
def figures(
    directory: Path,
    at_text: str | None,
    lang: str | None,
    token_file: Path | None,
    oidc_token_file: Path | None,
    as_json: bool,
) -> None:
    """Officers, valid and revoked certificates, signatures, expiring certificates: per agency and in total.

    \b
    Example:
      thaisign platform figures /srv/korat-pki --token-file admin.token
      thaisign platform figures /srv/korat-pki --json --at 2026-12-31T00:00+07:00 --token-file admin.token
    """
    from thaisign.platform.figures_text import render_figures

    at = None
    if at_text is not None:
        try:
            at = dt.datetime.fromisoformat(at_text)
        except ValueError:
            raise UsageError(
                f"--at {at_text!r} is not an ISO 8601 time", hint="e.g. 2026-12-31T00:00+07:00"
            ) from None
        if at.tzinfo is None:
            raise UsageError("--at needs a time zone", hint="e.g. 2026-12-31T00:00+07:00")
    with Run(directory, token_file, oidc_token_file) as s:
        result = s.figures(at=at)
    if as_json:
        click.echo(dumps(result.to_json()))
        return
    click.echo(render_figures(result, lang or "th"))
