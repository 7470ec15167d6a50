"""The asynchronous projection runner: follows the log by position, exactly once.

Design note
-----------
An asynchronous projection is any :class:`~ledger.store.group_commit.InlineProjection`
(``name``, ``tables``, ``apply(conn, events)``: the same fold code the inline ones use) that
is driven by this runner instead of the group committer. Its progress is one row of
``ledger_tracking`` (eventsourcing's tracking layout: ``application_name`` = the projection's
name, ``notification_id`` = the last position its tables reflect).

One **step** is one transaction on a pooled connection:

1. ``SELECT … FROM ledger_tracking … FOR UPDATE``: the projection's position P, read from
   the database (never trusted from memory) and locked, so two runners (``ledger serve``'s
   and a ``ledger projections run``) never fold the same events: the second waits, then
   reads the first one's new position;
2. H = min(P + batch, the log's last position). Every position <= H is committed: appends
   are numbered and committed in the order of the log's table lock (``event_store``), so
   a range read below a visible position never misses a later-committing event;
3. read events (P, H] (only the topics the projection folds, when it declares ``topics``);
4. ``apply`` them (or ``apply_recorded``, the projection's fast path over stored rows);
5. set the tracking row to H and ``pg_notify('ledger_tracking', 'name:H')``; commit.

Rows and position commit together or not at all, so a crash (kill -9) at any instant
neither loses nor double-counts an event: the next step starts again from the committed P.

**Waking up.** When a step finds nothing to do the runner waits on the
:class:`~ledger.projections.tracking.PositionTracker` for the log to move past P. The
tracker is fed by LISTEN ``ledger_events`` (a dedicated connection, see ``tracking.py``) and
by the in-process committer, so a new event is folded within a round trip; without any
notification the runner still polls every :data:`POLL_SECONDS`.

**Failures.** A step that raises is rolled back; the runner logs it and retries with
backoff (a projection bug stops that projection's progress, visible in ``ledger projections
status`` as growing lag, and never the service).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

import asyncpg
from eventsourcing.persistence import StoredEvent

from ledger import limits
from ledger.projections.tracking import TRACKING_CHANNEL, PositionTracker
from ledger.store.database import DbConnection
from ledger.store.group_commit import InlineProjection, PositionedEvent
from ledger.store.mapper import MsgspecMapper

log = logging.getLogger(__name__)

BATCH_EVENTS_DEFAULT: Final = limits.PROJECTION_BATCH_EVENTS_DEFAULT
BATCH_EVENTS_MAX: Final = limits.PROJECTION_BATCH_EVENTS_MAX
POLL_SECONDS: Final = limits.PROJECTION_POLL_SECONDS
RETRY_SECONDS_MAX: Final = limits.PROJECTION_RETRY_SECONDS_MAX

# Stored rows as the runner hands them to projections: these columns, in this order.
ROW_COLUMNS: Final = "notification_id, originator_id, topic, state, originator_version, tenant_id"


@runtime_checkable
class StoredRowProjection(Protocol):
    """A projection with a fast path over stored rows (no full domain-event decode).

    ``apply_recorded(conn, rows)`` must fold exactly what ``apply`` folds for the same
    events; each row is ``(position, originator_id, topic, state, originator_version,
    tenant_id)`` and rows of topics the projection does not fold may be present.
    """

    async def apply_recorded(self, conn: DbConnection, rows: Sequence[Any]) -> None: ...


# maintenance_work_mem of the transaction that builds a bulk load's deferred indexes (a
# rebuild's, an audit's scratch fold): each build sorts its table once, in memory at volume.
INDEX_BUILD_MEMORY: Final = "256MB"


@runtime_checkable
class BulkLoadProjection(Protocol):
    """A projection a rebuild can load in bulk: ``apply_bulk(conn, rows)`` for each batch of
    the initial catch-up (the same rows as ``apply_recorded``; it may leave derived tables
    unwritten), then ``finish_bulk(conn)`` once, after which its tables are what
    ``apply_recorded`` would have made and later batches use it."""

    async def apply_bulk(self, conn: DbConnection, rows: Sequence[Any]) -> None: ...

    async def finish_bulk(self, conn: DbConnection) -> None: ...


def topics_of(projections: Sequence[InlineProjection]) -> list[str] | None:
    """The topics a pass over the log must read for ``projections`` (None: every topic)."""
    wanted: set[str] = set()
    for projection in projections:
        topics: frozenset[str] | None = getattr(projection, "topics", None)
        if topics is None:
            return None
        wanted |= topics
    return sorted(wanted)


async def log_position(conn: DbConnection, events_table: str = "ledger_events") -> int:
    """The last committed position (0 for an empty log)."""
    value = await conn.fetchval(
        f"SELECT notification_id FROM {events_table} ORDER BY notification_id DESC LIMIT 1"
    )
    return int(value or 0)


# For passes whose projections all fold stored rows themselves: the same row shape, without
# the column only a domain-event decode needs (less to send and to parse).
_STORED_ROW_COLUMNS: Final = (
    "notification_id, originator_id, topic, state, originator_version, NULL::uuid AS tenant_id"
)


async def read_rows(
    conn: DbConnection,
    after: int,
    upto: int,
    topics: Sequence[str] | None,
    events_table: str = "ledger_events",
    *,
    stored_only: bool = False,
) -> list[asyncpg.Record]:
    """Stored rows with ``after < position <= upto`` (of ``topics`` if given), in order.

    ``stored_only``: every consumer has a fast path (``StoredRowProjection``); the last
    column (``tenant_id``) is then NULL.
    """
    columns = _STORED_ROW_COLUMNS if stored_only else ROW_COLUMNS
    if topics is None:
        return await conn.fetch(
            f"SELECT {columns} FROM {events_table}"
            " WHERE notification_id > $1 AND notification_id <= $2 ORDER BY notification_id",
            after,
            upto,
        )
    return await conn.fetch(
        f"SELECT {columns} FROM {events_table}"
        " WHERE notification_id > $1 AND notification_id <= $2 AND topic = ANY($3::text[])"
        " ORDER BY notification_id",
        after,
        upto,
        list(topics),
    )


async def apply_rows(
    conn: DbConnection,
    projections: Sequence[InlineProjection],
    rows: Sequence[asyncpg.Record],
    mapper: MsgspecMapper,
    *,
    bulk: bool = False,
) -> None:
    """Fold ``rows`` into each projection: the fast path when it has one, else decoded
    domain events (decoded once, shared by every projection that needs them). ``bulk``: a
    rebuild's initial load (``BulkLoadProjection.apply_bulk`` where there is one)."""
    if not rows:
        return
    # Domain events are decoded at most once per row, and only for the rows some projection
    # without a fast path folds (a rebuild of the ledgers must not decode every journal).
    decoded: dict[int, PositionedEvent] = {}

    def events_of(topics: frozenset[str] | None) -> list[PositionedEvent]:
        out: list[PositionedEvent] = []
        for index, r in enumerate(rows):
            if topics is not None and r[2] not in topics:
                continue
            event = decoded.get(index)
            if event is None:
                event = PositionedEvent(
                    r[0], r[5], mapper.to_domain_event(StoredEvent(r[1], r[4], r[2], r[3]))
                )
                decoded[index] = event
            out.append(event)
        return out

    for projection in projections:
        if bulk and isinstance(projection, BulkLoadProjection):
            await projection.apply_bulk(conn, rows)
            continue
        if isinstance(projection, StoredRowProjection):
            await projection.apply_recorded(conn, rows)
            continue
        events = events_of(getattr(projection, "topics", None))
        if events:
            await projection.apply(conn, events)


async def ensure_tracking(conn: DbConnection, name: str) -> int:
    """Create ``name``'s tracking row at 0 if it has none; return its position."""
    await conn.execute(
        "INSERT INTO ledger_tracking (application_name, notification_id) VALUES ($1, 0)"
        " ON CONFLICT (application_name) DO NOTHING",
        name,
    )
    value = await conn.fetchval(
        "SELECT notification_id FROM ledger_tracking WHERE application_name = $1", name
    )
    return int(value or 0)


@dataclass(frozen=True, slots=True)
class Step:
    """One committed step: the projection moved from ``after`` to ``upto`` (equal: idle)."""

    after: int
    upto: int
    events: int


async def step(
    conn: DbConnection,
    projection: InlineProjection,
    mapper: MsgspecMapper,
    batch_events: int = BATCH_EVENTS_DEFAULT,
) -> Step:
    """Fold the next batch of the log into ``projection`` in one transaction (module doc).

    Raises:
        whatever the projection raises; nothing is committed then.
    """
    assert 0 < batch_events <= BATCH_EVENTS_MAX
    async with conn.transaction():
        after = await conn.fetchval(
            "SELECT notification_id FROM ledger_tracking WHERE application_name = $1 FOR UPDATE",
            projection.name,
        )
        assert after is not None, f"no tracking row for {projection.name}; ensure_tracking first"
        after = int(after)
        upto = min(after + batch_events, await log_position(conn))
        if upto <= after:
            return Step(after, after, 0)
        rows = await read_rows(
            conn,
            after,
            upto,
            topics_of([projection]),
            stored_only=isinstance(projection, StoredRowProjection),
        )
        await apply_rows(conn, [projection], rows, mapper)
        await conn.execute(
            "UPDATE ledger_tracking SET notification_id = $2 WHERE application_name = $1",
            projection.name,
            upto,
        )
        await conn.execute(
            "SELECT pg_notify($1, $2)", TRACKING_CHANNEL, f"{projection.name}:{upto}"
        )
    return Step(after, upto, len(rows))


class ProjectionRunner:
    """Runs each asynchronous projection in a task of its own (see the module docstring)."""

    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        projections: Sequence[InlineProjection],
        *,
        tracker: PositionTracker,
        mapper: MsgspecMapper | None = None,
        batch_events: int = BATCH_EVENTS_DEFAULT,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        assert len({p.name for p in projections}) == len(projections), "duplicate names"
        assert 0 < batch_events <= BATCH_EVENTS_MAX
        self.pool = pool
        self.projections = list(projections)
        self.tracker = tracker
        self.mapper = mapper or MsgspecMapper()
        self.batch_events = batch_events
        self.poll_seconds = poll_seconds
        self._tasks: list[asyncio.Task[None]] = []
        # Events folded per projection since start (for operators and tests).
        self.events_folded: dict[str, int] = {p.name: 0 for p in projections}

    async def start(self) -> None:
        """Create missing tracking rows and start following the log."""
        assert not self._tasks, "already started"
        async with self.pool.acquire() as conn:
            for projection in self.projections:
                self.tracker.advance_projection(
                    projection.name, await ensure_tracking(conn, projection.name)
                )
        self._tasks = [
            asyncio.create_task(self._follow(p), name=f"projection-{p.name}")
            for p in self.projections
        ]

    async def stop(self) -> None:
        """Stop after the steps under way have committed or rolled back."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def catch_up(self) -> dict[str, int]:
        """Fold everything committed so far into every projection; return the positions."""
        reached: dict[str, int] = {}
        async with self.pool.acquire() as conn:
            for projection in self.projections:
                await ensure_tracking(conn, projection.name)
                while True:
                    done = await step(conn, projection, self.mapper, self.batch_events)
                    self.tracker.advance_projection(projection.name, done.upto)
                    if done.upto == done.after:
                        reached[projection.name] = done.upto
                        break
        return reached

    async def _step(self, projection: InlineProjection) -> Step:
        async with self.pool.acquire() as conn:
            return await step(conn, projection, self.mapper, self.batch_events)

    async def _follow(self, projection: InlineProjection) -> None:
        retry_seconds = 0.1
        while True:
            # Shielded: stopping lets the step under way commit (or roll back) cleanly.
            pending = asyncio.ensure_future(self._step(projection))
            try:
                done = await asyncio.shield(pending)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await pending
                raise
            except Exception:
                log.exception("projection %s failed; retrying", projection.name)
                await asyncio.sleep(retry_seconds)
                retry_seconds = min(retry_seconds * 2, RETRY_SECONDS_MAX)
                continue
            retry_seconds = 0.1
            self.tracker.advance_projection(projection.name, done.upto)
            self.events_folded[projection.name] += done.events
            if done.upto == done.after:
                await self.tracker.wait_log_beyond(done.upto, self.poll_seconds)
