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

**Failures.** A step that raises is rolled back. A failed batch of several events is
retried at once one event at a time (up to where that batch could have ended), so the event
that cannot be applied is known exactly; when a one-event step fails, the runner records
the failure in ``ledger_projection_failures`` (``failures.py``: position, error class and a
bounded message, attempts), logs it (the traceback once per failing position) and retries
after a back-off: :data:`RETRY_SECONDS_FIRST`, doubling, at most :data:`RETRY_SECONDS_MAX`
(:func:`backoff_schedule`), never a busy loop. A projection bug stops that projection's
progress, never the service; ``ledger projections status``, ``GET /ready`` and
``GET /metrics`` show it. The step that finally folds the event (a transient fault gone, or
a fixed release restarted) clears the failure in its own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

import asyncpg
from eventsourcing.persistence import StoredEvent

from ledger import limits
from ledger.projections.failures import (
    CLEAR_FAILURE_CTE,
    Failing,
    FailureRecord,
    read_failures,
    record_failure,
)
from ledger.projections.tracking import TRACKING_CHANNEL, PositionTracker
from ledger.store.database import DbConnection
from ledger.store.group_commit import InlineProjection, PositionedEvent
from ledger.store.mapper import MsgspecMapper

log = logging.getLogger(__name__)

BATCH_EVENTS_DEFAULT: Final = limits.PROJECTION_BATCH_EVENTS_DEFAULT
BATCH_EVENTS_MAX: Final = limits.PROJECTION_BATCH_EVENTS_MAX
POLL_SECONDS: Final = limits.PROJECTION_POLL_SECONDS
RETRY_SECONDS_FIRST: Final = limits.PROJECTION_RETRY_SECONDS_FIRST
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
        # A recorded failure at a position now folded is cleared with the same commit.
        await conn.execute(
            CLEAR_FAILURE_CTE
            + "UPDATE ledger_tracking SET notification_id = $2 WHERE application_name = $1",
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
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``sleep``: how the runner waits out a back-off (a test passes its own clock)."""
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
        self.sleep = sleep
        # The failure each projection last recorded here and has not folded past yet.
        self.failing: dict[str, Failing] = {}

    async def start(self) -> None:
        """Create missing tracking rows and start following the log."""
        assert not self._tasks, "already started"
        async with self.pool.acquire() as conn:
            for projection in self.projections:
                self.tracker.advance_projection(
                    projection.name, await ensure_tracking(conn, projection.name)
                )
            for name, record in (await read_failures(conn)).items():
                if record.failing is not None and name in self.events_folded:
                    self.failing[name] = record.failing
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

    async def _step(self, projection: InlineProjection, batch_events: int) -> Step:
        async with self.pool.acquire() as conn:
            return await step(conn, projection, self.mapper, batch_events)

    async def _shielded_step(self, projection: InlineProjection, batch_events: int) -> Step:
        # Shielded: stopping lets the step under way commit (or roll back) cleanly.
        pending = asyncio.ensure_future(self._step(projection, batch_events))
        try:
            return await asyncio.shield(pending)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await pending
            raise

    async def _follow(self, projection: InlineProjection) -> None:
        """Fold the log into ``projection`` until cancelled (module doc, **Failures**)."""
        name = projection.name
        waits = backoff_schedule()
        # Set after a failed batch: fold one event at a time until this position.
        single_until: int | None = None
        while True:
            batch = 1 if single_until is not None else self.batch_events
            try:
                done = await self._shielded_step(projection, batch)
            except Exception as error:
                if batch > 1:
                    single_until = self.tracker.position(name) + batch
                    log.warning(
                        "projection %s: a batch failed (%r); folding one event at a time",
                        name,
                        error,
                    )
                else:
                    await self._failed(projection, error, next(waits))
                continue
            waits = backoff_schedule()
            self._folded(name, done)
            if single_until is not None and (done.upto >= single_until or done.upto == done.after):
                single_until = None
            if done.upto == done.after:
                await self.tracker.wait_log_beyond(done.upto, self.poll_seconds)

    def _folded(self, name: str, done: Step) -> None:
        self.tracker.advance_projection(name, done.upto)
        self.events_folded[name] += done.events
        failing = self.failing.get(name)
        if failing is not None and done.upto >= failing.position:
            # The step cleared the recorded failure (``failures.CLEAR_FAILURE_CTE``).
            del self.failing[name]
            log.info(
                "projection %s applied the event at position %d after %d failed attempts",
                name,
                failing.position,
                failing.attempts,
            )

    async def _failed(self, projection: InlineProjection, error: Exception, wait: float) -> None:
        """Record a failed one-event step, log it, then wait ``wait`` seconds."""
        name = projection.name
        try:
            async with self.pool.acquire() as conn:
                record = await record_failure(conn, name, error)
        except Exception as unrecorded:
            log.error(
                "projection %s failed (%r) and the failure could not be recorded (%r);"
                " retrying in %.1f s",
                name,
                error,
                unrecorded,
                wait,
            )
        else:
            self._log_failure(record, error, wait)
        await self.sleep(wait)

    def _log_failure(self, record: FailureRecord, error: Exception, wait: float) -> None:
        failing = record.failing
        assert failing is not None, "a failure was just recorded"
        self.failing[record.name] = failing
        if failing.attempts == 1:
            log.error(
                "projection %s cannot apply the event at position %d; retrying in %.1f s",
                record.name,
                failing.position,
                wait,
                exc_info=error,
            )
        else:
            log.warning(
                "projection %s still cannot apply the event at position %d (%d attempts: %s);"
                " retrying in %.1f s",
                record.name,
                failing.position,
                failing.attempts,
                failing.error_class,
                wait,
            )


def backoff_schedule(
    first: float = RETRY_SECONDS_FIRST, maximum: float = RETRY_SECONDS_MAX
) -> Iterator[float]:
    """The waits after consecutive failures: ``first``, then doubling, at most ``maximum``."""
    wait = first
    while True:
        yield wait
        wait = min(wait * 2, maximum)
