"""A CRL is made only while what it depends on checks out: no revocation deleted, added or changed
behind thaisign's back, no revoke entry edited (even with its hash recomputed), no entry missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from platform_helpers import SOMCHAI, SOMYING, Deployment, make_platform
from sqlalchemy import delete, insert, select, update

from thaisign.ca.audit import entry_hash
from thaisign.errors import StoreError
from thaisign.platform import _tables as T


@pytest.fixture()
def small(tmp_path: Path) -> Deployment:
    d = make_platform(tmp_path, None, agencies=("dla",))
    s = d.session("dla")
    for who in (SOMCHAI, SOMYING):
        issued = s.issue("dla", who, new_key="ec-p256")
        s.revoke("dla", issued.serial, "keyCompromise")
    s.issue("dla", SOMCHAI, new_key="ec-p256")
    return d


def _ca_id(d: Deployment) -> int:
    agency = d.platform.db.agency("dla")
    assert agency is not None
    return d.platform.active_ca(agency).ca_id


def test_a_clean_store_gets_its_crl(small: Deployment) -> None:
    made = small.session("dla").publish_crl("dla")
    assert list(made) == [1]


def test_a_deleted_or_added_revocation_row_stops_the_crl(small: Deployment) -> None:
    r = T.CA.revocations
    ca = _ca_id(small)
    with small.platform.db.engine.begin() as conn:
        first = conn.execute(select(r).where(r.c.ca_id == ca).limit(1)).mappings().one()
        conn.execute(delete(r).where(r.c.ca_id == ca, r.c.serial == first["serial"]))
    with pytest.raises(StoreError, match=f"revocations: row {first['serial']} was deleted outside thaisign"):
        small.session("dla").publish_crl("dla")
    with small.platform.db.engine.begin() as conn:
        conn.execute(insert(r).values(**dict(first)))  # put back: the CRL may be made again
    small.session("dla").publish_crl("dla")
    c = T.CA.certificates
    with small.platform.db.engine.begin() as conn:
        valid = (
            conn.execute(
                select(c.c.serial).where(
                    c.c.ca_id == ca, c.c.serial.not_in(select(r.c.serial).where(r.c.ca_id == ca))
                )
            )
            .scalars()
            .first()
        )
        conn.execute(insert(r).values(**{**dict(first), "serial": valid}))
    with pytest.raises(StoreError, match="added outside thaisign"):
        small.session("dla").publish_crl("dla")


def test_an_edited_revoke_entry_stops_the_crl_even_with_its_hash_recomputed(small: Deployment) -> None:
    a = T.CA.audit
    ca = _ca_id(small)
    with small.platform.db.engine.begin() as conn:
        e = conn.execute(select(a).where(a.c.ca_id == ca, a.c.action == "revoke").limit(1)).mappings().one()
        details = json.loads(e["details"])
        details["row"]["reason"] = "unspecified"
        text = json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        forged = entry_hash(e["seq"], e["time"], e["action"], e["serial"], details, e["prev_hash"])
        conn.execute(update(a).where(a.c.id == e["id"]).values(details=text, hash=forged))
        conn.execute(
            update(T.CA.revocations)
            .where(T.CA.revocations.c.serial == e["serial"])
            .values(reason="unspecified")
        )
    with pytest.raises(StoreError, match=f"audit entry {e['seq']} .revoke .* was changed or unlinked"):
        small.session("dla").publish_crl("dla")


def test_a_missing_entry_stops_the_crl(small: Deployment) -> None:
    a = T.CA.audit
    ca = _ca_id(small)
    with small.platform.db.engine.begin() as conn:
        conn.execute(delete(a).where(a.c.ca_id == ca, a.c.seq == 3))
    with pytest.raises(StoreError, match="audit entries are missing"):
        small.session("dla").revoke(
            "dla", small.session("dla").certificates("dla", "valid")[-1].serial, "superseded"
        )
