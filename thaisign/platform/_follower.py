"""A status replica's picture of every CA, derived from the audit chains alone and kept current.

The replica reads the platform's audit table in the order entries were written (``id``) and applies
each entry only if it continues its chain: the right sequence number, the previous entry's hash,
and a hash that matches its content. Statuses come from the entries themselves (``issue`` and
``adopt`` make a serial known, ``revoke`` carries the revocation), CA certificates from the CA
records the chains carry, responder certificates and CA key paths from the platform's chain, CRLs
and service keys from the tables but only when their SHA-256 is the one a chain entry holds. A row
added, changed or deleted in the tables behind thaisign's back therefore changes no answer; an
entry edited or removed stops the answers of that CA (``tryLater``) until the chain checks out.

New entries are polled every ``poll_interval`` seconds (and on demand); entries are written in
transactions that may commit out of ``id`` order on PostgreSQL, so ids skipped while reading are
looked for again until they appear (or are known to have been rolled back). A replica that cannot
read the database for ``stale_after`` seconds answers ``tryLater`` rather than from old data.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from thaisign.ca.audit import GENESIS_HASH, StoredEntry, stored_hash
from thaisign.ca.ocsp import CertStatus
from thaisign.errors import StoreError
from thaisign.platform import _tables as T

_log = logging.getLogger(__name__)

_KEY_BYTES = 24  # ca_id (4 bytes) + serial (20 bytes, RFC 5280's longest)
_BATCH = 5000
_HOLE_PATIENCE = 60.0  # seconds an id skipped in the feed is looked for before it counts as rolled back


def status_key(ca_id: int, serial: int) -> bytes | None:
    """The fixed-width key of (CA, serial); None for a serial longer than RFC 5280 allows."""
    if serial < 0 or serial.bit_length() > 160:
        return None
    return ca_id.to_bytes(4, "big") + serial.to_bytes(20, "big")


class SortedKeys:
    """A frozen set of fixed-width keys in one sorted bytes object (24 bytes a key: a million
    certificates take 24 MB, a lookup is a binary search)."""

    def __init__(self, keys: list[bytes]) -> None:
        keys.sort()
        self._blob = b"".join(keys)
        self._n = len(keys)

    def __len__(self) -> int:
        return self._n

    def __contains__(self, key: bytes) -> bool:
        blob, w = self._blob, _KEY_BYTES
        lo, hi = 0, self._n
        while lo < hi:
            mid = (lo + hi) >> 1
            if blob[mid * w : mid * w + w] < key:
                lo = mid + 1
            else:
                hi = mid
        return lo < self._n and blob[lo * w : lo * w + w] == key

    def merged(self, more: set[bytes]) -> SortedKeys:
        w = _KEY_BYTES
        keys = [self._blob[i * w : i * w + w] for i in range(self._n)]
        keys.extend(more)
        return SortedKeys(keys)


@dataclass
class CaView:
    """What the replica knows of one CA from its chain."""

    ca_id: int
    seq: int = 0
    head: str = GENESIS_HASH
    certificates: list[x509.Certificate] = field(default_factory=list)  # oldest first
    crl_number: int | None = None
    crl_sha256: str | None = None
    checkpoint_seq: int = 0
    problem: str | None = None  # set: the chain does not check out; answers are refused

    @property
    def certificate(self) -> x509.Certificate | None:
        return self.certificates[-1] if self.certificates else None


@dataclass
class Topology:
    """What the platform chain says: agencies, CA keys (paths), responder certificates, secrets."""

    agencies: dict[int, dict[str, Any]] = field(default_factory=dict)
    ca_keys: dict[int, dict[str, Any]] = field(default_factory=dict)
    responders: dict[int, bytes] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # name -> sha256 the chain holds
    settings: dict[str, str] = field(default_factory=dict)


class ChainFollower:
    """See the module docstring. ``status(ca_id, serial)`` is the hot path (no database)."""

    def __init__(
        self,
        url: str,
        *,
        poll_interval: float = 0.1,
        stale_after: float = 5.0,
        on_change: Callable[[set[int], bool], None] | None = None,
    ) -> None:
        self.url = url
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self._on_change = on_change
        connect_args: dict[str, Any] = {}
        if url.startswith("sqlite"):
            connect_args = {"timeout": 30, "check_same_thread": False}
        else:
            connect_args = {"connect_timeout": 3}
        self._engine: Engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
        self._lock = threading.RLock()
        self.cas: dict[int, CaView] = {}
        self.platform = CaView(T.PLATFORM_SCOPE)
        self.topology = Topology()
        self._known = SortedKeys([])
        self._recent: set[bytes] = set()
        self._revoked: dict[bytes, CertStatus] = {}
        self._cursor = 0
        self._holes: dict[int, float] = {}  # id -> monotonic time first missed
        self._last_ok = 0.0
        self._ready = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.entries_applied = 0
        self._probes: dict[int, int] = {}  # ca_id -> seq whose hash the start-up check needs
        self._probed: dict[int, str] = {}

    # --- the hot path -------------------------------------------------------------------------

    def status(self, ca_id: int, serial: int) -> CertStatus:
        """good / revoked / unknown, or :class:`StoreError` when this replica may not answer."""
        self.require_current()
        view = self.cas.get(ca_id)
        if view is None or view.problem is not None:
            raise StoreError(f"CA {ca_id}: {view.problem if view else 'unknown to this replica'}")
        key = status_key(ca_id, serial)
        if key is None:
            return CertStatus.unknown()
        revoked = self._revoked.get(key)
        if revoked is not None:
            return revoked
        if key in self._recent or key in self._known:
            return CertStatus.good()
        return CertStatus.unknown()

    def require_current(self) -> None:
        if not self._ready:
            raise StoreError("this replica is still reading the audit chains")
        if time.monotonic() - self._last_ok > self.stale_after:
            raise StoreError("this replica cannot read the database: its answers would be out of date")

    @property
    def ready(self) -> bool:
        return self._ready

    # --- running ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Read every chain once (blocking) and hold each CA's chain against the newest checkpoint
        its CA signed; then follow in a background thread."""
        checkpoints = self._newest_checkpoints()
        self._probes = {ca_id: seq for ca_id, (seq, _) in checkpoints.items()}
        self.poll()
        self._hold_checkpoints(checkpoints)
        self._probes = {}
        with self._lock:
            self._ready = True
        self._thread = threading.Thread(target=self._run, name="thaisign-chain-follower", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._engine.dispose()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # the database is down: answers go stale, then tryLater
                _log.warning(
                    "chain follower: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                )
            deadline = time.monotonic() + self.poll_interval
            while not (self._wake.is_set() or self._stop.is_set()) and time.monotonic() < deadline:
                time.sleep(
                    min(0.02, self.poll_interval)
                )  # short sleeps: libfaketime and timed waits disagree
            self._wake.clear()

    # --- reading the feed ---------------------------------------------------------------------------

    def poll(self) -> int:
        """Apply every entry written since the last poll; returns how many were applied."""
        a = T.CA.audit
        cols = [
            a.c.id,
            a.c.ca_id,
            a.c.seq,
            a.c.time,
            a.c.action,
            a.c.serial,
            a.c.details,
            a.c.prev_hash,
            a.c.hash,
        ]
        applied = 0
        changed: set[int] = set()
        topology_changed = False
        with self._engine.connect() as conn:
            newest = conn.execute(select(a.c.id).order_by(a.c.id.desc()).limit(1)).scalar_one_or_none()
            if newest is not None and newest < self._cursor:
                self._fail_all(
                    "the audit log lost entries this replica had read: the database went back in time"
                )
            holes = sorted(self._holes)
            while True:
                q = select(*cols).where(a.c.id > self._cursor)
                if holes:
                    q = select(*cols).where((a.c.id > self._cursor) | a.c.id.in_(holes))
                    holes = []
                rows = conn.execute(q.order_by(a.c.id).limit(_BATCH)).all()
                if not rows:
                    break
                for row in rows:
                    row_id = int(row[0])
                    self._holes.pop(row_id, None)
                    if row_id > self._cursor:
                        for missing in range(self._cursor + 1, row_id):
                            self._holes.setdefault(missing, time.monotonic())
                        self._cursor = row_id
                    ca_id = int(row[1])
                    entry = StoredEntry(int(row[2]), row[3], row[4], row[5], row[6], row[7], row[8])
                    if ca_id == T.PLATFORM_SCOPE:
                        topology_changed |= self._apply_platform(entry)
                    else:
                        self._apply(conn, ca_id, entry)
                        changed.add(ca_id)
                    applied += 1
                if len(rows) < _BATCH:
                    break
            now = time.monotonic()
            for hole, since in list(self._holes.items()):
                if now - since > _HOLE_PATIENCE:
                    del self._holes[hole]  # rolled back: ids are not reused
            if len(self._recent) > 200_000:
                merged = self._known.merged(self._recent)
                with self._lock:
                    self._known, self._recent = merged, set()
        self._last_ok = time.monotonic()
        self.entries_applied += applied
        if (changed or topology_changed) and self._on_change is not None:
            self._on_change(changed, topology_changed)
        return applied

    def _fail_all(self, why: str) -> None:
        _log.error("chain follower: %s", why)
        for view in self.cas.values():
            view.problem = why
        self.platform.problem = why

    # --- applying entries ------------------------------------------------------------------------------

    def _link(self, view: CaView, e: StoredEntry) -> bool:
        """Whether ``e`` continues ``view``'s chain (and move the head if it does)."""
        if e.seq <= view.seq:
            return False  # seen (or a rewritten past, which the checkpoints catch)
        if e.seq != view.seq + 1 or e.prev_hash != view.head or stored_hash(e) != e.hash:
            return False
        view.seq, view.head = e.seq, e.hash
        if self._probes.get(view.ca_id) == e.seq:
            self._probed[view.ca_id] = e.hash
        return True

    # --- checkpoints -------------------------------------------------------------------------------

    def _newest_checkpoints(self) -> dict[int, tuple[int, bytes]]:
        cp = T.CA.checkpoints
        newest: dict[int, tuple[int, bytes]] = {}
        with self._engine.connect() as conn:
            for ca_id, seq, der in conn.execute(
                select(cp.c.ca_id, cp.c.seq, cp.c.der).order_by(cp.c.ca_id, cp.c.seq)
            ):
                newest[int(ca_id)] = (int(seq), bytes(der))
        return newest

    def _hold_checkpoints(self, checkpoints: dict[int, tuple[int, bytes]]) -> None:
        """A chain that no longer holds its CA's newest signed checkpoint was cut short or rewritten."""
        from thaisign.ca.checkpoint import CheckpointError, load_checkpoint

        for ca_id, (seq, der) in checkpoints.items():
            view = self.cas.get(ca_id)
            if view is None or view.problem is not None or not view.certificates:
                continue
            checkpoint = None
            for cert in reversed(view.certificates):
                try:
                    checkpoint = load_checkpoint(der, cert, f"checkpoint of CA {ca_id}")
                    break
                except CheckpointError:
                    continue
            if checkpoint is None:
                view.problem = f"its newest checkpoint (entry {seq}) is not signed by the CA"
            elif checkpoint.seq != seq or self._probed.get(ca_id) != checkpoint.head:
                held = checkpoint.describe()
                view.problem = f"the audit log no longer holds the {held}: it was cut short or rewritten"
            else:
                view.checkpoint_seq = seq
            if view.problem:
                _log.error("CA %s: %s", ca_id, view.problem)

    def _apply(self, conn: Any, ca_id: int, e: StoredEntry) -> None:
        view = self.cas.get(ca_id)
        if view is None:
            view = self.cas[ca_id] = CaView(ca_id)
        if view.problem is not None:
            return
        if e.seq > view.seq + 1:  # written earlier, committed later: read the missing ones first
            a = T.CA.audit
            q = (
                select(a.c.seq, a.c.time, a.c.action, a.c.serial, a.c.details, a.c.prev_hash, a.c.hash)
                .where(a.c.ca_id == ca_id, a.c.seq > view.seq, a.c.seq < e.seq)
                .order_by(a.c.seq)
            )
            for r in conn.execute(q):
                self._apply_checked(view, StoredEntry(*r))
        if e.seq <= view.seq:
            return
        self._apply_checked(view, e)

    def _apply_checked(self, view: CaView, e: StoredEntry) -> None:
        if view.problem is not None:
            return
        if e.seq <= view.seq:
            return
        if not self._link(view, e):
            view.problem = (
                f"audit entry {e.seq} ({e.action}) does not continue the chain: it was changed or removed"
            )
            _log.error("CA %s: %s", view.ca_id, view.problem)
            return
        action = e.action
        if action == "issue" and e.serial:
            key = status_key(view.ca_id, int(e.serial, 16))
            if key is not None:
                self._recent.add(key)
        elif action in ("revoke", "adopt", "init", "install-cert", "crl"):
            try:
                details = json.loads(e.details)
            except ValueError:
                return
            self._apply_details(view, e, details)

    def _apply_details(self, view: CaView, e: StoredEntry, details: dict[str, Any]) -> None:
        row = details.get("row") if isinstance(details.get("row"), dict) else None
        if e.action == "revoke" and e.serial:
            key = status_key(view.ca_id, int(e.serial, 16))
            when = (row or details).get("revoked_at")
            reason = (row or details).get("reason") or "unspecified"
            if key is not None and isinstance(when, str):
                at = dt.datetime.fromisoformat(when)
                at = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at
                self._revoked[key] = CertStatus.revoked(at, reason)
        elif e.action == "adopt" and row is not None:
            if details.get("table") == "certificates" and e.serial:
                key = status_key(view.ca_id, int(e.serial, 16))
                if key is not None:
                    self._recent.add(key)
            elif details.get("table") == "ca":
                self._ca_certificate(view, row)
        elif e.action in ("init", "install-cert") and row is not None:
            self._ca_certificate(view, row)
        elif e.action == "crl" and row is not None:
            view.crl_number = row.get("number")
            view.crl_sha256 = row.get("sha256")

    @staticmethod
    def _ca_certificate(view: CaView, row: dict[str, Any]) -> None:
        b64 = row.get("certificate")
        if not isinstance(b64, str):
            return
        try:
            cert = x509.load_der_x509_certificate(base64.b64decode(b64))
        except ValueError:
            return
        if all(c != cert for c in view.certificates):
            view.certificates.append(cert)

    def _apply_platform(self, e: StoredEntry) -> bool:
        view = self.platform
        if view.problem is not None:
            return False
        if e.seq <= view.seq:
            return False
        if not self._link(view, e):
            view.problem = f"platform audit entry {e.seq} ({e.action}) does not continue the chain"
            _log.error("%s", view.problem)
            return True
        try:
            details = json.loads(e.details)
        except ValueError:
            return False
        topo = self.topology
        for bound in details.get("rows", []):
            table, row = bound.get("table"), bound.get("row")
            if not isinstance(row, dict):
                continue
            if table == "agencies":
                topo.agencies[int(row["id"])] = row
            elif table == "ca_keys":
                topo.ca_keys[int(row["ca_id"])] = row
            elif table == "responders":
                topo.responders[int(row["ca_id"])] = base64.b64decode(row["der"])
        if e.action == "secret" and e.serial and isinstance(details.get("sha256"), str):
            topo.secrets[e.serial] = details["sha256"]
        if e.action == "setting" and e.serial and isinstance(details.get("value"), str):
            topo.settings[e.serial] = details["value"]
        return True
