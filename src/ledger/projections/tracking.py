"""What the read models have reached, kept in memory, and waiting for it (read-your-writes).

Design
------
Two kinds of position matter to a reader (docs/api.md §1, Positions):

- the **log position**: the last committed event. Inline projections are written in the
  append's transaction, so their tables reflect a position the moment it commits;
- each **asynchronous projection's tracking position** (``ledger_tracking``): its tables
  reflect exactly that position.

:class:`PositionTracker` keeps both in memory, only ever moving forward, and lets request
handlers wait for a position with no polling: every change sets an ``asyncio.Event`` that
the waiters of that moment share. It is fed by

- the in-process group committer (``bootstrap.TrackingCommitter``): after a commit, before
  the writer's caller gets its position, so a read that follows a write in this process
  never waits;
- :class:`LogListener`, which owns one dedicated (never pooled) connection that LISTENs on
  ``ledger_events`` (payload: the last position of each append, migration 0005) and
  ``ledger_tracking`` (payload ``name:position``, sent by the projection runners in the
  transaction that moves their tracking row). Notifications are delivered at commit, so a
  position is never announced before it is readable, and other processes' writes are
  learnt within a round trip;
- the in-process projection runner, after each batch it commits.

The listener also re-reads both kinds of position from the database when it connects and
every :data:`POLL_SECONDS` (a background fallback for lost connections and for writers that
do not notify); request handlers never query for positions.

Every position the tracker reports is one the database has committed, so it is a correct
lower bound of what a read started afterwards sees.

A tenant is told its own positions only (``Ledger-Position``, issue 12): the tracker also
keeps each tenant's last event position (:class:`TenantPositions`, bounded), learnt from the
committer (which knows each command's tenant) and from the listener, which reads the tenants
of the positions it was notified of but has not seen (one index range of the log per wake-up,
however many notifications arrived). What it cannot answer exactly costs the request one
index probe (:meth:`PositionTracker.tenant_position`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Final
from uuid import UUID

import asyncpg

from ledger import limits
from ledger.store.database import DbConnection, DbSource

log = logging.getLogger(__name__)

LOG_CHANNEL: Final = "ledger_events"
TRACKING_CHANNEL: Final = "ledger_tracking"
POLL_SECONDS: Final = limits.PROJECTION_POLL_SECONDS
RECONNECT_SECONDS_MAX: Final = limits.TRACKING_RECONNECT_SECONDS_MAX

_SELECT_LOG_POSITION: Final = (
    "SELECT coalesce((SELECT notification_id FROM ledger_events"
    " ORDER BY notification_id DESC LIMIT 1), 0)"
)
_SELECT_TRACKING: Final = "SELECT application_name, notification_id FROM ledger_tracking"
# A backward probe of ledger_events_tenant_position_idx.
_SELECT_TENANT_POSITION: Final = (
    "SELECT notification_id FROM ledger_events WHERE tenant_id = $1 AND notification_id <= $2"
    " ORDER BY notification_id DESC LIMIT 1"
)
# The tenants of the positions the listener has not seen (an index range of the log).
_SELECT_TENANTS_IN_RANGE: Final = (
    "SELECT tenant_id, max(notification_id) AS last FROM ledger_events"
    " WHERE notification_id > $1 AND notification_id <= $2 AND tenant_id IS NOT NULL"
    " GROUP BY tenant_id"
)


class TenantPositions:
    """Each tenant's last event position, as far as this process knows it (bounded).

    What it answers (:meth:`last_at`): the highest position of an event of tenant T that is
    <= P, for a committed position P, or ``None`` when memory cannot say so exactly (the
    caller then probes the index, :func:`tenant_position_at`, and may :meth:`remember` it).

    How it knows. Positions are gap-free (``ledger.store.event_store``), so "every event up
    to K has been seen" is a single number K (:attr:`complete_to`). Events are seen from the
    in-process committer (any order, with their tenant) and from the position listener,
    which reads the tenants of the positions it has not seen (:meth:`learn_range`). The
    invariant, for every tenant T with an entry L: L is a position of T, and no event of T
    at a position <= K is above L. So for P <= K (or P == L) and L <= P, L is the answer.

    Memory: at most ``size_max`` tenants, least recently used evicted. A tenant without an
    entry may have events the map forgot, up to :attr:`floor` (the highest position ever
    evicted, or the log's end when the map was reset): an event seen for such a tenant
    creates an entry only above the floor, which keeps the invariant.
    """

    def __init__(self, size_max: int = limits.TENANT_POSITIONS_MAX) -> None:
        assert size_max >= 1
        self.size_max = size_max
        self._last: OrderedDict[UUID, int] = OrderedDict()
        self.complete_to = 0
        self.floor = 0
        # Seen runs of positions above complete_to (first -> last), merged once contiguous.
        self._runs: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._last)

    def last_at(self, tenant_id: UUID, position: int) -> int | None:
        """Tenant's highest event position <= ``position``, or ``None`` if not known exactly."""
        last = self._last.get(tenant_id)
        if last is None or last > position:
            return None
        if position > self.complete_to and last != position:
            return None
        self._last.move_to_end(tenant_id)
        return last

    def learn(self, tenant_id: UUID | None, positions: Sequence[int]) -> None:
        """Events at ``positions`` (of one command: a contiguous run) belong to ``tenant_id``."""
        if not positions:
            return
        first, last = min(positions), max(positions)
        if tenant_id is not None:
            self._see(tenant_id, last)
        if last - first + 1 == len(positions):
            self._mark_seen(first, last)

    def learn_range(self, after: int, upto: int, last_by_tenant: dict[UUID, int]) -> None:
        """Every event in ``after < position <= upto`` has been read: ``last_by_tenant`` is
        each tenant's highest position among them. Requires ``after <= complete_to``."""
        assert after <= self.complete_to, (after, self.complete_to)
        for tenant_id, last in last_by_tenant.items():
            self._see(tenant_id, last)
        self._mark_seen(after + 1, upto)

    def remember(self, tenant_id: UUID, position: int, found: int) -> None:
        """The index said: tenant's highest position <= ``position`` is ``found`` (0: none).

        Kept only if ``position`` is at or above both :attr:`complete_to` and :attr:`floor`
        (then no event of the tenant the map has seen or skipped is above ``found`` yet), so
        the invariant holds.
        """
        if position < self.complete_to or position < self.floor:
            return
        self._put(tenant_id, max(found, self._last.get(tenant_id, 0)))

    def reset(self, position: int) -> None:
        """Forget every tenant; from now on only events after ``position`` are learnt."""
        self._last.clear()
        self._runs.clear()
        self.complete_to = max(self.complete_to, position)
        self.floor = max(self.floor, self.complete_to)

    def _see(self, tenant_id: UUID, position: int) -> None:
        known = self._last.get(tenant_id)
        if known is not None:
            self._put(tenant_id, max(known, position))
        elif position > self.floor:
            self._put(tenant_id, position)

    def _put(self, tenant_id: UUID, position: int) -> None:
        self._last[tenant_id] = position
        self._last.move_to_end(tenant_id)
        while len(self._last) > self.size_max:
            _, evicted = self._last.popitem(last=False)
            self.floor = max(self.floor, evicted)

    def _mark_seen(self, first: int, last: int) -> None:
        if last <= self.complete_to:
            return
        if first > self.complete_to + 1:
            if len(self._runs) < limits.TENANT_POSITIONS_RUNS_MAX:
                self._runs[first] = max(last, self._runs.get(first, 0))
            return  # else forgotten: the listener reads the range instead
        self.complete_to = last
        while self._runs:
            joined = [f for f in self._runs if f <= self.complete_to + 1]
            if not joined:
                return
            for f in joined:
                self.complete_to = max(self.complete_to, self._runs.pop(f))


async def tenant_position_at(source: DbSource, tenant_id: UUID, position: int) -> int:
    """The highest position of an event of ``tenant_id`` that is <= ``position`` (0 if
    none): one probe of the ``(tenant_id, notification_id)`` index."""
    value = await source.fetchval(_SELECT_TENANT_POSITION, tenant_id, position)
    return int(value or 0)


class PositionTracker:
    """The log's and each asynchronous projection's last known committed position.

    ``source`` arguments name an asynchronous projection; ``None`` means the log (what inline
    projections reflect). Positions only move forward.
    """

    def __init__(self) -> None:
        self._log = 0
        self._projections: dict[str, int] = {}
        self._changed = asyncio.Event()
        # Each tenant's last position (``Ledger-Position`` answers a tenant its own).
        self.tenants = TenantPositions()

    @property
    def log_position(self) -> int:
        return self._log

    def position(self, source: str | None = None) -> int:
        """The position ``source``'s tables reflect at least (0 when nothing is known)."""
        if source is None:
            return self._log
        return self._projections.get(source, 0)

    def projections(self) -> dict[str, int]:
        return dict(self._projections)

    def advance_log(self, position: int) -> None:
        """Record that every event up to ``position`` is committed."""
        if position > self._log:
            self._log = position
            self._wake()

    def advance_projection(self, name: str, position: int) -> None:
        """Record that projection ``name`` has committed its rows up to ``position``."""
        if position > self._projections.get(name, 0):
            self._projections[name] = position
            # A projection's rows are written after the events they fold.
            self._log = max(self._log, position)
            self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for(self, source: str | None, position: int, wait_seconds: float) -> int | None:
        """Wait until ``source`` reflects ``position``; return the position it reflects then,
        or ``None`` if ``wait_seconds`` pass first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while (reached := self.position(source)) < position:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
        return reached

    async def tenant_position(self, source: DbSource, tenant_id: UUID, position: int) -> int:
        """Tenant's highest event position <= ``position`` (a committed position; 0 if it
        has none): from memory when it knows, else one index probe on ``source``."""
        known = self.tenants.last_at(tenant_id, position)
        if known is not None:
            return known
        found = await tenant_position_at(source, tenant_id, position)
        self.tenants.remember(tenant_id, position, found)
        return found

    async def wait_log_beyond(self, position: int, wait_seconds: float) -> bool:
        """Wait until the log is known past ``position``; False after ``wait_seconds``."""
        return await self.wait_for(None, position + 1, wait_seconds) is not None


async def read_positions(conn: DbConnection) -> tuple[int, dict[str, int]]:
    """The log's committed position and every tracking row, read from the database."""
    log_position = int(await conn.fetchval(_SELECT_LOG_POSITION))
    tracking = {
        r["application_name"]: int(r["notification_id"] or 0)
        for r in await conn.fetch(_SELECT_TRACKING)
    }
    return log_position, tracking


class LogListener:
    """Feeds a :class:`PositionTracker` from LISTEN/NOTIFY on one dedicated connection.

    ``start`` returns once the tracker holds the database's positions (or raises if the
    first connection fails); afterwards the listener reconnects by itself, with backoff.
    """

    def __init__(
        self,
        database_url: str,
        tracker: PositionTracker,
        *,
        poll_seconds: float = POLL_SECONDS,
        track_tenants: bool = True,
    ) -> None:
        self.database_url = database_url
        self.tracker = tracker
        self.poll_seconds = poll_seconds
        # Whether to read the tenants of other processes' positions (a server answers
        # Ledger-Position; a process without HTTP, e.g. ``ledger projections run``, need not).
        self.track_tenants = track_tenants
        self._task: asyncio.Task[None] | None = None
        # Set by every notification; ``_resync_wanted`` when one could not be read.
        self._wake = asyncio.Event()
        self._resync_wanted = False
        self.connected = False

    async def start(self) -> None:
        assert self._task is None, "already started"
        conn = await self._connect()
        self._task = asyncio.create_task(self._run(conn), name="ledger-log-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _connect(self) -> asyncpg.Connection[Any]:
        conn = await asyncpg.connect(self.database_url, timeout=limits.CONNECT_TIMEOUT_SECONDS)
        try:
            # LISTEN before reading, so nothing committed in between is missed.
            await conn.add_listener(LOG_CHANNEL, self._on_notification)
            await conn.add_listener(TRACKING_CHANNEL, self._on_notification)
            await self._sync(conn)
            if self.track_tenants:
                await self._catch_up_tenants(conn)
        except BaseException:
            await conn.close()
            raise
        self.connected = True
        return conn

    async def _sync(self, conn: asyncpg.Connection[Any]) -> None:
        log_position, tracking = await read_positions(conn)
        self.tracker.advance_log(log_position)
        for name, position in tracking.items():
            self.tracker.advance_projection(name, position)

    async def _catch_up_tenants(self, conn: asyncpg.Connection[Any]) -> None:
        """Read the tenants of the committed positions the tracker has not seen (one index
        range of the log); after a longer gap than
        :data:`~ledger.limits.TENANT_POSITIONS_CATCH_UP_EVENTS_MAX`, forget them instead
        (requests then probe the index per tenant, once)."""
        tenants = self.tracker.tenants
        after, upto = tenants.complete_to, self.tracker.log_position
        if upto <= after:
            return
        if upto - after > limits.TENANT_POSITIONS_CATCH_UP_EVENTS_MAX:
            tenants.reset(upto)
            return
        rows = await conn.fetch(_SELECT_TENANTS_IN_RANGE, after, upto)
        # The committer may have moved complete_to meanwhile; it never moves back.
        tenants.learn_range(
            min(after, tenants.complete_to), upto, {r["tenant_id"]: int(r["last"]) for r in rows}
        )

    def _on_notification(
        self, _conn: Any, _pid: int, channel: str, payload: object
    ) -> None:  # asyncpg calls this on the event loop
        try:
            if channel == LOG_CHANNEL:
                self.tracker.advance_log(int(str(payload)))
            else:
                name, _, position = str(payload).rpartition(":")
                self.tracker.advance_projection(name, int(position))
        except ValueError:
            # A writer that notifies without a position (or an older append function):
            # read the positions instead.
            self._resync_wanted = True
        self._wake.set()

    async def _step(self, conn: asyncpg.Connection[Any]) -> None:
        """Wait for a notification or the poll interval; re-read the positions when polled
        or asked to, then catch the tenants' positions up (several notifications that
        arrived meanwhile cost one query)."""
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # arrives as the event is set (now on every notification), and stop() would hang.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.poll_seconds):
                await self._wake.wait()
        polled = not self._wake.is_set()
        self._wake.clear()
        if polled or self._resync_wanted:
            self._resync_wanted = False
            await self._sync(conn)
        if self.track_tenants:
            await self._catch_up_tenants(conn)

    async def _run(self, conn: asyncpg.Connection[Any] | None) -> None:
        backoff = 0.1
        while True:
            try:
                if conn is None:
                    conn = await self._connect()
                    backoff = 0.1
                await self._step(conn)
            except asyncio.CancelledError:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 1.0)
                raise
            except Exception as e:
                self.connected = False
                log.warning("position listener lost its connection (%r); reconnecting", e)
                if conn is not None:
                    conn.terminate()
                    conn = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_SECONDS_MAX)
