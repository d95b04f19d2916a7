"""The reusable hash-chain API of thaisign.ca.audit, on its own (no certificates): what another store
(e.g. the CSC service's signature log) gets when it binds its rows into a chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from thaisign.ca.audit import (
    GENESIS_HASH,
    StoredEntry,
    canonical,
    check_chain,
    compare_rows,
    encode_row,
    next_entries,
    row_digest,
    row_text_digest,
    verify_chain,
)

T = dt.datetime(2026, 11, 21, 3, 42, tzinfo=dt.UTC)


def _rows() -> list[dict[str, object]]:
    return [
        {"id": "s1", "officer": "นายสมชาย ใจดี", "hashes": b"\x01\x02", "at": T},
        {"id": "s2", "officer": "นางสาวสมหญิง รักไทย", "hashes": b"\x03", "at": T.replace(tzinfo=None)},
    ]


def _chain() -> list[StoredEntry]:
    entries = next_entries(
        None,
        [("sign", r["id"], {"row": encode_row(r), "client": "e-office"}) for r in _rows()],
        T,  # type: ignore[misc]
    )
    return [StoredEntry(**e) for e in entries]


def test_stored_hash_is_the_canonical_json_hash() -> None:
    """The fast path (hash over the stored canonical text) agrees with hashing the parsed entry."""
    chain = _chain()
    assert chain[0].prev_hash == GENESIS_HASH and chain[1].prev_hash == chain[0].hash
    for e in chain:
        oracle = hashlib.sha256(
            canonical(e.seq, e.time, e.action, e.serial, json.loads(e.details), e.prev_hash)
        ).hexdigest()
        assert e.hash == oracle
        assert row_text_digest(e.details) == row_digest(json.loads(e.details)["row"])
    assert verify_chain(chain).entries == 2


def test_naive_and_aware_times_encode_alike() -> None:
    a, b = _rows()
    assert encode_row(a)["at"] == encode_row(b)["at"] == "2026-11-21T03:42:00+00:00"
    assert encode_row(a)["hashes"] == "AQI="


def test_every_break_is_reported() -> None:
    chain = _chain()
    edited = chain[0]._replace(details=chain[0].details.replace("สมชาย", "สมหมาย"))
    check = check_chain([edited, chain[1]])
    assert not check.intact and "entry 1 (sign): its content does not match its hash" in check.breaks[0]
    assert "missing" in check_chain([chain[1]]).breaks[0]
    assert check_chain(chain).intact


def test_rows_compared_with_what_the_chain_made() -> None:
    chain = _chain()
    expected = {e.serial or "": (e.seq, json.loads(e.details)["row"]) for e in chain}
    table = {r["id"]: encode_row(r) for r in _rows()}
    assert compare_rows("signatures", expected, table) == []
    table["s1"] = {**table["s1"], "officer": "นายปลอม"}
    table["s3"] = {**table["s2"], "id": "s3"}
    del table["s2"]
    found = {(d.key, d.kind, d.fields) for d in compare_rows("signatures", expected, table)}
    assert found == {("s1", "changed", ("officer",)), ("s2", "deleted", ()), ("s3", "added", ())}
