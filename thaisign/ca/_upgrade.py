"""Bringing a CA store made by an older thaisign up to the current layout, in the audit chain.

Layout 1 (before issue 12) logged only a few fields of each certificate. Upgrading to layout 2
creates the new tables, then appends one ``upgrade`` entry and an ``adopt`` entry per existing
certificate (and for the CA record) that carries the row as it is, so from then on every row is
bound into the chain. The old ``issue`` entries still pin what they logged (the certificate's
SHA-256, name, employee ID, expiry): :mod:`thaisign.ca.integrity` reports an adopted row that
disagrees with them as changed before the upgrade.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, insert, inspect, select
from sqlalchemy.engine import Connection

from thaisign.ca._records import SCHEMA_VERSION, AuditRow, Base, CaRow, CertificateRow, MetaRow, utcnow
from thaisign.ca.audit import encode_row


def schema_version(conn: Connection) -> int:
    """The layout version of the store (1 when it predates the ``store_meta`` table)."""
    if not inspect(conn).has_table(MetaRow.__tablename__):
        return 1
    value = conn.execute(select(MetaRow.value).where(MetaRow.name == "schema")).scalar_one_or_none()
    return int(value) if value else 1


def upgrade(store: object, *, now: dt.datetime | None = None) -> bool:
    """Upgrade ``store`` (a :class:`~thaisign.ca.store.CertificateStore`) in place if it is older;
    True when it did. One transaction, serialised with every other writer."""
    from thaisign.ca.store import CertificateStore

    assert isinstance(store, CertificateStore)
    with store._read() as conn:
        if schema_version(conn) >= SCHEMA_VERSION:
            return False
    with store._write() as conn:
        Base.metadata.create_all(conn)  # new tables only (checkfirst)
        for index in Base.metadata.tables[AuditRow.__tablename__].indexes:
            index.create(conn, checkfirst=True)
        version = schema_version(conn)
        if version >= SCHEMA_VERSION:
            return False  # another process was first
        ca_row = conn.execute(select(*CaRow.__table__.columns).where(CaRow.id == 1)).mappings().first()
        count = conn.execute(select(func.count()).select_from(CertificateRow)).scalar_one()
        events: list[tuple[str, str | None, dict[str, object]]] = [
            ("upgrade", None, {"from": version, "to": SCHEMA_VERSION, "certificates": count})
        ]
        if ca_row is not None:
            events.append(("adopt", None, {"table": "ca", "row": encode_row(dict(ca_row))}))
        columns = [c for c in CertificateRow.__table__.columns if c.name != "id"]
        for row in conn.execute(select(*columns).order_by(CertificateRow.id)).mappings():
            events.append(("adopt", row["serial"], {"table": "certificates", "row": encode_row(dict(row))}))
        store._append_audit(conn, events, now or utcnow())
        conn.execute(insert(MetaRow).values(name="schema", value=str(SCHEMA_VERSION)))
    return True
