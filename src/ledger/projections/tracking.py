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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

import asyncpg

from ledger import limits
from ledger.store.database import DbConnection

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


class PositionTracker:
    """The log's and each asynchronous projection's last known committed position.

    ``source`` arguments name an asynchronous projection; ``None`` means the log (what inline
    projections reflect). Positions only move forward.
    """

    def __init__(self) -> None:
        self._log = 0
        self._projections: dict[str, int] = {}
        self._changed = asyncio.Event()

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
        self, database_url: str, tracker: PositionTracker, *, poll_seconds: float = POLL_SECONDS
    ) -> None:
        self.database_url = database_url
        self.tracker = tracker
        self.poll_seconds = poll_seconds
        self._task: asyncio.Task[None] | None = None
        self._resync = asyncio.Event()
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
            self._resync.set()

    async def _run(self, conn: asyncpg.Connection[Any] | None) -> None:
        backoff = 0.1
        while True:
            try:
                if conn is None:
                    conn = await self._connect()
                    backoff = 0.1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._resync.wait(), self.poll_seconds)
                self._resync.clear()
                await self._sync(conn)
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
