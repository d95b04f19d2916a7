"""What the platform database holds.

The CA tables of :func:`thaisign.ca.store.scoped_tables` (prefix ``platform_``) keep every CA of
the platform — the provincial or national issuing CA and each agency CA key generation — with its
own audit chain (``platform_audit`` rows of its ``ca_id``). The platform's own chain is scope
:data:`PLATFORM_SCOPE` of the same table: agencies, CA keys, operators and tokens are rows bound
into it, as certificates are bound into a CA's chain.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from thaisign.ca.store import scoped_tables

#: the ``ca_id`` of the platform's own audit chain (no CA has it)
PLATFORM_SCOPE = 0
#: the ``ca_id`` of the platform's issuing CA (provincial or national)
ISSUING_CA = 1
#: layout version of the platform tables
LAYOUT = 1

metadata = MetaData()
CA = scoped_tables(metadata, "platform_")

meta = Table(
    "platform_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

agencies = Table(
    "platform_agencies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("slug", String(40), nullable=False, unique=True),
    Column("name_th", Text, nullable=False),
    Column("name_en", Text, nullable=True),
    Column("org_id", Text, nullable=True),
    Column("profile", Text, nullable=False),  # JSON: the agency's officer profile
    Column("status", String(16), nullable=False),  # active | suspended
    Column("origin", String(16), nullable=False),  # created | imported
    Column("legacy_base_url", Text, nullable=True),  # an imported CA's own URLs, still answered
    Column("created_at", DateTime, nullable=False),
)

ca_keys = Table(
    "platform_ca_keys",
    metadata,
    Column("ca_id", Integer, ForeignKey(CA.ca.c.id), primary_key=True, autoincrement=False),
    Column("agency_id", Integer, ForeignKey(agencies.c.id), nullable=True, index=True),  # None: issuing
    Column("generation", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # active | retired
    Column("key_ref", Text, nullable=False),  # file:keys/NAME.pem | pkcs11:...
    Column("pkcs11_module", Text, nullable=True),
    Column("base_url", Text, nullable=False),  # where its CRL and certificate are published
    Column("crl_path", Text, nullable=False),  # path of its CRL under base_url, e.g. /crl/ca.crl
    Column("cert_path", Text, nullable=False),  # path of its certificate under base_url
    Column("chain", Text, nullable=False),  # PEM: the certificates above it (none for a root)
    Column("created_at", DateTime, nullable=False),
    Column("retired_at", DateTime, nullable=True),
)

#: every certificate a CA key has had (renewals keep the key: one row each)
ca_certificates = Table(
    "platform_ca_certificates",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("ca_id", Integer, ForeignKey(CA.ca.c.id), nullable=False, index=True),
    Column("der", LargeBinary, nullable=False),
    Column("not_before", DateTime, nullable=False),
    Column("not_after", DateTime, nullable=False),
    Column("installed_at", DateTime, nullable=False),
)

#: the OCSP-signing certificate each CA issued for the platform's responder key
responders = Table(
    "platform_responders",
    metadata,
    Column("ca_id", Integer, ForeignKey(CA.ca.c.id), primary_key=True, autoincrement=False),
    Column("der", LargeBinary, nullable=False),
    Column("not_after", DateTime, nullable=False),
)

#: service keys the status replicas share (encrypted with the service passphrase), certificates
secrets = Table(
    "platform_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

operators = Table(
    "platform_operators",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("role", String(16), nullable=False),  # admin | operator | auditor
    Column("agency_id", Integer, ForeignKey(agencies.c.id), nullable=True),  # None: platform-wide
    Column("oidc_subject", String(255), nullable=True, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("disabled_at", DateTime, nullable=True),
)

tokens = Table(
    "platform_tokens",
    metadata,
    Column("id", String(32), primary_key=True),  # the public half of the token
    Column("operator_id", Integer, ForeignKey(operators.c.id), nullable=False, index=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("label", Text, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=True),
    Column("revoked_at", DateTime, nullable=True),
)

#: signatures made through a signing service, counted per CA and day (from its audit chain)
signature_tallies = Table(
    "platform_signature_tallies",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("ca_id", Integer, primary_key=True, autoincrement=False),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD (UTC)
    Column("signatures", Integer, nullable=False),
)

#: where the count of each signing service stands: its audit entry seq and hash
signature_sources = Table(
    "platform_signature_sources",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

#: platform rows bound into the platform chain, and their key columns
BOUND_TABLES: dict[str, tuple[Table, str]] = {
    "agencies": (agencies, "id"),
    "ca_keys": (ca_keys, "ca_id"),
    "ca_certificates": (ca_certificates, "sha256"),
    "responders": (responders, "ca_id"),
    "operators": (operators, "id"),
    "tokens": (tokens, "id"),
}
