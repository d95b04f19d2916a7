"""``thaisign platform agency|operator|token``: agencies, the people who run them, their tokens."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from thaisign._cli._options import secret_file_option
from thaisign._cli._platform_common import (
    KEYS,
    Run,
    credentials,
    dir_arg,
    dumps,
    json_option,
    key_json,
    visible,
)
from thaisign._fs import atomic_write, read_input
from thaisign._secrets import PIN_ENV, resolve_secret
from thaisign.errors import OutputError, UsageError

# --- agencies ------------------------------------------------------------------------------------------


@click.group()
def agency() -> None:
    """Agencies: create, import a CA folder, list, show, roll the CA key over, renew, set the profile."""


def _profile_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--profile",
        "profile_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="TOML with [ca] policy_oid/key/valid_years, [officer] and [crl] as a CA folder's profile.toml.",
    )(f)


@agency.command("create")
@dir_arg
@click.argument("slug")
@click.option(
    "--name-th", required=True, help="The agency's Thai name (O and CN of its CA, at most 64 characters)."
)
@click.option("--name-en", help="Its English name.")
@click.option("--org-id", help="organizationIdentifier, e.g. NTRTH-0994000000000.")
@_profile_option
@click.option("--policy-oid", help="The agency's certificate policy OID (overrides the profile's).")
@click.option("--key", "key_type", type=KEYS, help="The agency CA's key type (default: the platform's).")
@click.option("--hsm", help="Make the agency CA key in this token (pkcs11:token=...[?pin-source=file:...]).")
@click.option("--key-uri", help="Use this existing token key (pkcs11:token=...;object=...).")
@credentials(signing=True)
@json_option
def agency_create(
    directory: Path,
    slug: str,
    name_th: str,
    name_en: str | None,
    org_id: str | None,
    profile_file: Path | None,
    policy_oid: str | None,
    key_type: str | None,
    hsm: str | None,
    key_uri: str | None,
    token_file: Path | None,
    oidc_token_file: Path | None,
    passphrase_file: Path | None,
    pin_file: Path | None,
    as_json: bool,
) -> None:
    """Create an agency with its CA under the platform's issuing CA (administrators).

    \b
    Example:
      thaisign platform agency create /srv/korat-pki dla --name-th "กรมส่งเสริมการปกครองท้องถิ่น" \\
        --policy-oid 2.16.764.1.4.100.1 --token-file admin.token
      thaisign platform agency create /srv/korat-pki korat-pao --name-th "องค์การบริหารส่วนจังหวัดนครราชสีมา" \\
        --hsm 'pkcs11:token=Korat-HSM' --token-file admin.token
    """
    import dataclasses

    from thaisign.platform import AgencyProfile

    if hsm and key_uri:
        raise UsageError("give --hsm or --key-uri, not both")
    with Run(directory, token_file, oidc_token_file, passphrase_file, pin_file) as s:
        profile = (
            AgencyProfile.from_toml(read_input(profile_file, "profile").decode("utf-8"), str(profile_file))
            if profile_file
            else AgencyProfile(ca_key=s.platform.config.agency_key)
        )
        if policy_oid:
            profile = dataclasses.replace(profile, policy_oid=policy_oid)
        if key_type:
            profile = dataclasses.replace(profile, ca_key=key_type)
        created = s.create_agency(
            slug, name_th, name_en=name_en, org_id=org_id, profile=profile, hsm=hsm, key_uri=key_uri
        )
        keys = s.ca_keys(slug)
    if as_json:
        click.echo(dumps({**created.to_json(), "ca_keys": [key_json(k) for k in keys]}))
        return
    click.echo(f"agency {created.slug}: {visible(created.name_th)} created")
    k = keys[-1]
    click.echo(f"  CRL: {k.crl_url}   CA certificate: {k.cert_url}")


@agency.command("import")
@dir_arg
@click.argument("slug")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@secret_file_option(
    "--folder-passphrase-file", "the imported CA folder's key passphrase", "THAISIGN_FOLDER_PASSPHRASE"
)
@credentials(signing=True)
@json_option
def agency_import(
    directory: Path,
    slug: str,
    folder: Path,
    folder_passphrase_file: Path | None,
    token_file: Path | None,
    oidc_token_file: Path | None,
    passphrase_file: Path | None,
    pin_file: Path | None,
    as_json: bool,
) -> None:
    """Move a CA folder made by 'thaisign ca init' into the platform, re-issuing nothing (administrators).

    Its certificates, revocations, CRLs and audit chain move in as they are; its key moves into
    the platform's key folder (or stays in its token); its own URLs keep being answered by
    'serve-status' once its host name points there. The folder stays readable but issues no more.

    \b
    Example:
      THAISIGN_FOLDER_PASSPHRASE=... thaisign platform agency import /srv/korat-pki dla /srv/dla-ca \\
        --token-file admin.token
    """
    from thaisign.ca.profiles import PROFILE_FILE, CaProfile

    profile = CaProfile.load(folder / PROFILE_FILE)
    folder_pass = folder_pin = None
    if profile.key_uri is None:
        folder_pass = resolve_secret(
            file=folder_passphrase_file,
            env="THAISIGN_FOLDER_PASSPHRASE",
            prompt="The CA folder's key passphrase",
            flag="--folder-passphrase-file",
        )
    else:
        folder_pin = resolve_secret(file=pin_file, env=PIN_ENV, prompt="Token PIN")
    with Run(directory, token_file, oidc_token_file, passphrase_file, pin_file) as s:
        imported = s.import_agency(slug, folder, folder_passphrase=folder_pass, folder_pin=folder_pin)
        count = len(s.platform.db.ca_store(s.platform.active_ca(imported).ca_id).audit_entries())
    if as_json:
        click.echo(dumps({**imported.to_json(), "audit_entries": count}))
        return
    click.echo(
        f"agency {imported.slug}: {visible(imported.name_th)} imported from {folder} ({count} audit entries)"
    )
    click.echo(
        f"  its own URLs ({visible(imported.legacy_base_url or '')}) are answered once its host "
        "points at serve-status"
    )


@agency.command("list")
@dir_arg
@credentials()
@json_option
def agency_list(
    directory: Path, token_file: Path | None, oidc_token_file: Path | None, as_json: bool
) -> None:
    """The agencies you may see.

    \b
    Example:
      thaisign platform agency list /srv/korat-pki --token-file admin.token --json
    """
    with Run(directory, token_file, oidc_token_file) as s:
        agencies = s.agencies()
    if as_json:
        click.echo(dumps({"agencies": [a.to_json() for a in agencies]}))
        return
    for a in agencies:
        click.echo(f"{a.slug:<16} {a.status:<8} {a.origin:<9} {visible(a.name_th, 64)}")


@agency.command("show")
@dir_arg
@click.argument("slug")
@credentials()
@json_option
def agency_show(
    directory: Path, slug: str, token_file: Path | None, oidc_token_file: Path | None, as_json: bool
) -> None:
    """An agency: its profile and CA keys (generations), with their URLs.

    \b
    Example:
      thaisign platform agency show /srv/korat-pki dla --token-file dla.token
    """
    with Run(directory, token_file, oidc_token_file) as s:
        a = s.agency(slug)
        keys = s.ca_keys(slug)
    if as_json:
        click.echo(dumps({**a.to_json(), "ca_keys": [key_json(k) for k in keys]}))
        return
    click.echo(f"{a.slug}: {visible(a.name_th, 64)}{' / ' + visible(a.name_en, 64) if a.name_en else ''}")
    click.echo(
        f"  policy {a.profile.policy_oid}; officers {a.profile.officer_default_days} days "
        f"(max {a.profile.officer_max_days})"
    )
    click.echo(
        f"  keys allowed: {', '.join(a.profile.allowed_keys)}; "
        f"required: {', '.join(a.profile.required_fields)}"
    )
    for k in keys:
        click.echo(f"  generation {k.generation} ({k.state}): CRL {k.crl_url}")


@agency.command("rollover")
@dir_arg
@click.argument("slug")
@click.option("--key", "key_type", type=KEYS, help="The new key's type (default: the agency profile's).")
@click.option("--hsm", help="Make the new key in this token (pkcs11:token=...).")
@click.option("--key-uri", help="Use this existing token key.")
@credentials(signing=True)
@json_option
def agency_rollover(
    directory: Path,
    slug: str,
    key_type: str | None,
    hsm: str | None,
    key_uri: str | None,
    token_file: Path | None,
    oidc_token_file: Path | None,
    passphrase_file: Path | None,
    pin_file: Path | None,
    as_json: bool,
) -> None:
    """Give an agency's CA a new key (administrators); the old key retires: it issues no more
    but keeps its CRL and OCSP answers, so letters signed before stay valid.

    \b
    Example:
      thaisign platform agency rollover /srv/korat-pki dla --token-file admin.token
    """
    with Run(directory, token_file, oidc_token_file, passphrase_file, pin_file) as s:
        key = s.rollover(slug, key=key_type, hsm=hsm, key_uri=key_uri)
    if as_json:
        click.echo(dumps(key_json(key)))
        return
    click.echo(f"agency {slug}: CA key generation {key.generation} active; CRL {key.crl_url}")


@agency.command("renew")
@dir_arg
@click.argument("slug")
@click.option("--years", type=click.IntRange(1, 30), help="Validity (default: the agency profile's).")
@credentials(signing=True)
def agency_renew(
    directory: Path,
    slug: str,
    years: int | None,
    token_file: Path | None,
    oidc_token_file: Path | None,
    passphrase_file: Path | None,
    pin_file: Path | None,
) -> None:
    """A new certificate for the agency CA's key: same key and name, so every letter and answer goes on.

    \b
    Example:
      thaisign platform agency renew /srv/korat-pki dla --years 10 --token-file admin.token
    """
    with Run(directory, token_file, oidc_token_file, passphrase_file, pin_file) as s:
        cert = s.renew(slug, years=years)
    click.echo(f"agency {slug}: CA certificate renewed, valid until {cert.not_valid_after_utc:%Y-%m-%d}")


@agency.command("profile")
@dir_arg
@click.argument("slug")
@click.option("--profile", "profile_file", required=True, type=click.Path(dir_okay=False, path_type=Path))
@credentials()
def agency_profile(
    directory: Path, slug: str, profile_file: Path, token_file: Path | None, oidc_token_file: Path | None
) -> None:
    """Change how an agency issues from now on (administrators).

    \b
    Example:
      thaisign platform agency profile /srv/korat-pki dla --profile dla.toml --token-file admin.token
    """
    from thaisign.platform import AgencyProfile

    profile = AgencyProfile.from_toml(read_input(profile_file, "profile").decode("utf-8"), str(profile_file))
    with Run(directory, token_file, oidc_token_file) as s:
        s.set_profile(slug, profile)
    click.echo(f"agency {slug}: profile changed (policy {profile.policy_oid})")


# --- operators and tokens --------------------------------------------------------------------------------


@click.group()
def operator() -> None:
    """Operators: appoint agency operators, auditors and administrators; list; disable."""


@operator.command("add")
@dir_arg
@click.option("--name", required=True, help="The operator's name, e.g. นางสาวสมศรี รักงาน.")
@click.option("--role", required=True, type=click.Choice(["operator", "auditor", "admin"]))
@click.option("--agency", "slug", help="The agency (operators; auditors of one agency).")
@click.option("--oidc-subject", help="The operator logs in with OpenID Connect as this subject.")
@click.option(
    "--new-token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also make an API token for them, written here (mode 0600).",
)
@credentials()
@json_option
def operator_add(
    directory: Path,
    name: str,
    role: str,
    slug: str | None,
    oidc_subject: str | None,
    new_token_file: Path | None,
    token_file: Path | None,
    oidc_token_file: Path | None,
    as_json: bool,
) -> None:
    """Appoint an operator (administrators).

    \b
    Example:
      thaisign platform operator add /srv/korat-pki --name "นางสาวสมศรี รักงาน" --role operator \\
        --agency dla --oidc-subject somsri --token-file admin.token
      thaisign platform operator add /srv/korat-pki --name "สตง. ภาค 3" --role auditor \\
        --new-token-file auditor.token --token-file admin.token
    """
    if new_token_file is not None and new_token_file.exists():
        raise OutputError(f"{new_token_file} exists already", hint="choose a new file")
    with Run(directory, token_file, oidc_token_file) as s:
        op = s.appoint(name, role, agency=slug, oidc_subject=oidc_subject)  # type: ignore[arg-type]
        if new_token_file is not None:
            atomic_write(new_token_file, (s.create_token(op.id) + "\n").encode("ascii"), mode=0o600)
    if as_json:
        click.echo(dumps(op.to_json()))
        return
    click.echo(
        f"operator {op.id}: {visible(op.name)} ({op.role}{' of ' + op.agency_slug if op.agency_slug else ''})"
    )
    if new_token_file:
        click.echo(f"  API token: {new_token_file}")


@operator.command("list")
@dir_arg
@credentials()
@json_option
def operator_list(
    directory: Path, token_file: Path | None, oidc_token_file: Path | None, as_json: bool
) -> None:
    """Every operator (administrators).

    \b
    Example:
      thaisign platform operator list /srv/korat-pki --token-file admin.token
    """
    with Run(directory, token_file, oidc_token_file) as s:
        ops = s.operators()
    if as_json:
        click.echo(dumps({"operators": [o.to_json() for o in ops]}))
        return
    for o in ops:
        state = "disabled" if o.disabled_at else "active"
        click.echo(f"{o.id:>4} {o.role:<9} {(o.agency_slug or '-'):<14} {state:<9} {visible(o.name, 64)}")


@operator.command("disable")
@dir_arg
@click.argument("operator_id", type=int)
@credentials()
def operator_disable(
    directory: Path, operator_id: int, token_file: Path | None, oidc_token_file: Path | None
) -> None:
    """Stop an operator at once: every token and login of theirs is refused (administrators).

    \b
    Example:
      thaisign platform operator disable /srv/korat-pki 7 --token-file admin.token
    """
    with Run(directory, token_file, oidc_token_file) as s:
        s.disable_operator(operator_id)
    click.echo(f"operator {operator_id} disabled")


@click.group()
def token() -> None:
    """API tokens: create (shown once, kept hashed) and revoke."""


@token.command("create")
@dir_arg
@click.argument("operator_id", type=int)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write it here (0600).",
)
@click.option("--days", type=click.IntRange(1, 3650), help="Expires after this many days.")
@click.option("--label", help="What it is for.")
@credentials()
def token_create(
    directory: Path,
    operator_id: int,
    out: Path,
    days: int | None,
    label: str | None,
    token_file: Path | None,
    oidc_token_file: Path | None,
) -> None:
    """A new API token for an operator (administrators).

    \b
    Example:
      thaisign platform token create /srv/korat-pki 7 --out somsri.token --days 365 --token-file admin.token
    """
    if out.exists():
        raise OutputError(f"{out} exists already", hint="choose a new file")
    with Run(directory, token_file, oidc_token_file) as s:
        value = s.create_token(operator_id, label=label, days=days)
    atomic_write(out, (value + "\n").encode("ascii"), mode=0o600)
    click.echo(f"token {value.split('_')[1]} for operator {operator_id}: {out}")


@token.command("revoke")
@dir_arg
@click.argument("token_id")
@credentials()
def token_revoke(
    directory: Path, token_id: str, token_file: Path | None, oidc_token_file: Path | None
) -> None:
    """Revoke an API token by its id (the part after tsp_) (administrators).

    \b
    Example:
      thaisign platform token revoke /srv/korat-pki 3f9a0c1d2b4e5f60 --token-file admin.token
    """
    with Run(directory, token_file, oidc_token_file) as s:
        s.revoke_token(token_id)
    click.echo(f"token {token_id} revoked")
