"""Rebuilding projections from position 0 beside the live tables, then swapping them in.

Design note
-----------
``ledger projections rebuild [NAME ...]`` must leave the API serving correct data the whole
time, stream the log in constant memory, and be fast. It works on one dedicated connection:

1. **Which tables.** The named projections (default: all), plus every projection that
   shares a table with one of them (``ledgers`` and ``books`` both write
   ``tenant_counters``): a table is always rebuilt by every fold that writes it. One rebuild
   at a time (a session advisory lock).
2. **Scratch tables.** A schema ``ledger_rebuild`` gets ``CREATE TABLE … (LIKE <live>.<t>
   INCLUDING ALL)`` for each table: same columns, defaults (a ``bigserial`` keeps drawing
   from the live sequence, so surrogate ids never collide), checks and indexes, but no
   foreign keys. The connection's ``search_path`` is set to ``ledger_rebuild, <live>``, so
   the projections' unqualified SQL (the very fold code that runs live) writes there.
3. **Catch-up.** The log is read in position ranges of ``batch_events`` (positions are
   gap-free and everything at or below a visible position is committed, see
   ``store/event_store.py``), the next range prefetched on a second connection, in a
   thread of its own, while the current one is folded, each range committed on its own:
   memory holds two batches, whatever the log's length. Projections with a fast path
   (``apply_recorded``, e.g. the trial balance: decode a handful of fields with a minimal
   msgspec Struct, aggregate per batch, one ``unnest`` upsert) skip the full domain-event
   decode, and then only the columns they need are read. Projections that can load in bulk
   (``BulkLoadProjection``, the books) write only their base rows during this first
   catch-up (the books with binary ``COPY``) and derive the rest once at its end, in one
   set-based pass (``finish_bulk``); their tables' non-unique indexes are built right after
   (the derivation reads whole tables and needs none), each in one sort with a larger
   ``maintenance_work_mem`` (``runner.INDEX_BUILD_MEMORY``), not maintained row by row. From
   then on (later catch-ups, the swap) every batch is folded as usual. Every scratch table
   is then ``ANALYZE``d once, so that the swapped-in tables come with planner statistics.
4. **Swap**, once fewer than :data:`SWAP_LAG_EVENTS` events remain, in one transaction:
   ``LOCK`` the live tables (ACCESS EXCLUSIVE), every table with a foreign key to or from
   them, ``ledger_events`` (EXCLUSIVE: appends wait, reads of the log do not) and the
   asynchronous projections' tracking rows, all ``NOWAIT``; fold the last events; move the
   live tables to ``ledger_retired`` and the rebuilt ones into the live schema; give the
   indexes their old names, re-own sequences, recreate foreign keys (``NOT VALID``, validated
   after commit without blocking anyone); move the async projections' tracking rows to the
   rebuilt position and notify; drop the retired tables; commit. Readers of a swapped table
   wait only for that transaction (milliseconds) and then read the new table: PostgreSQL
   re-resolves a name whose relation changed while the reader waited for its lock.

   ``NOWAIT`` is deliberate: a writer may hold a lock on one of the tables (its load phase)
   and want another we would already hold; waiting could deadlock, and PostgreSQL might
   then abort the *writer*. Instead the swap gives up at once, catches up a little more and
   tries again after a short random pause, so writers are never failed and only ever wait
   for a swap that already holds everything it needs.

Correctness argument: the swap transaction holds the log's lock while it folds the final
events, so the rebuilt tables reflect exactly the log's last position P at commit; inline
projections' live tables also reflect P at that instant, and any append after the commit
is written into the new tables by the group committer. An asynchronous projection's
runner locks its tracking row per step, so it either committed before the swap (into the
retired table, superseded) or reads the new position P after it.
"""

from __future__ import annotations

import asyncio
import random
import re
import sys
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TextIO, TypeVar

import asyncpg

from ledger import limits
from ledger.projections.failures import Failing, clear_failures, read_failures
from ledger.projections.replay import projected_tables
from ledger.projections.runner import (
    BATCH_EVENTS_MAX,
    INDEX_BUILD_MEMORY,
    BulkLoadProjection,
    StoredRowProjection,
    apply_rows,
    log_position,
    read_rows,
    topics_of,
)
from ledger.projections.tracking import TRACKING_CHANNEL
from ledger.store.database import DbConnection
from ledger.store.group_commit import InlineProjection
from ledger.store.mapper import MsgspecMapper

REBUILD_SCHEMA: Final = "ledger_rebuild"
RETIRED_SCHEMA: Final = "ledger_retired"
BATCH_EVENTS_DEFAULT: Final = limits.REBUILD_BATCH_EVENTS_DEFAULT
SWAP_LAG_EVENTS: Final = limits.REBUILD_SWAP_LAG_EVENTS
SWAP_PATIENCE_SECONDS: Final = limits.REBUILD_SWAP_PATIENCE_SECONDS
SWAP_PAUSE_SECONDS_MAX: Final = limits.REBUILD_SWAP_PAUSE_SECONDS_MAX
_ADVISORY_LOCK_KEY: Final = 0x1ED6E6
T = TypeVar("T")
_INDEX_HEAD: Final = re.compile(r"^CREATE (UNIQUE )?INDEX \S+ ON \S+ ")


class RebuildError(RuntimeError):
    """The rebuild cannot start or could not swap; the live tables are untouched."""


class Progress(Protocol):
    """Told about every committed batch (position reached, target, events folded)."""

    def update(self, position: int, target: int) -> None: ...

    def finish(self, position: int) -> None: ...


@dataclass
class RebuildReport:
    projections: list[str]
    tables: list[str]
    position: int
    seconds: float
    swap_attempts: int
    # Of ``seconds``: re-validating the foreign keys that point at or from swapped tables
    # (after the swap, without blocking anyone; it reads every referencing row, so a
    # rebuild of ``tenants`` pays for every journal's row).
    validate_seconds: float = 0.0
    events_per_second: float = field(init=False)

    def __post_init__(self) -> None:
        self.events_per_second = self.position / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "rebuilt": self.projections,
            "tables": self.tables,
            "position": self.position,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
            "swap_attempts": self.swap_attempts,
            "validate_seconds": round(self.validate_seconds, 3),
        }


def with_shared_tables(
    selected: Sequence[InlineProjection], every: Sequence[InlineProjection]
) -> list[InlineProjection]:
    """``selected`` plus every projection sharing a table with them (transitively), in the
    order of ``every``."""
    chosen = {p.name for p in selected}
    changed = True
    while changed:
        changed = False
        tables = {t for p in every if p.name in chosen for t in p.tables}
        for p in every:
            if p.name not in chosen and tables & set(p.tables):
                chosen.add(p.name)
                changed = True
    return [p for p in every if p.name in chosen]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class _ForeignKey:
    name: str
    schema: str
    table: str
    definition: str  # referenced tables schema-qualified (captured under the scratch path)


class TerminalProgress:
    """A one-line progress bar with events/s and ETA, redrawn at most 10 times a second."""

    def __init__(self, stream: TextIO = sys.stdout, width: int = 30, label: str = "") -> None:
        self.stream = stream
        self.width = width
        self.label = f"{label} " if label else ""
        self.started = time.monotonic()
        self._drawn = 0.0

    def update(self, position: int, target: int) -> None:
        now = time.monotonic()
        if now - self._drawn < 0.1 and position < target:
            return
        self._drawn = now
        elapsed = max(now - self.started, 1e-9)
        rate = position / elapsed
        fraction = position / target if target else 1.0
        filled = int(self.width * min(fraction, 1.0))
        eta = (target - position) / rate if rate > 0 else 0.0
        self.stream.write(
            f"\r{self.label}[{'#' * filled}{'.' * (self.width - filled)}] {fraction:6.1%} "
            f"{position:,}/{target:,} events  {rate:,.0f} events/s  ETA {eta:5.1f} s "
        )
        self.stream.flush()

    def finish(self, position: int) -> None:
        self.update(position, position)
        self.stream.write("\n")
        self.stream.flush()


async def _prepare_scratch(
    conn: asyncpg.Connection[Any], live: str, tables: Sequence[str], bulk_tables: Sequence[str]
) -> list[str]:
    """Create the scratch tables; return the definitions of the indexes left out of the
    ``bulk_tables`` (their non-unique indexes: built once after the bulk load, which is much
    cheaper than maintaining them row by row; unique ones stay, lookups and conflicts need
    them)."""
    await conn.execute(f"DROP SCHEMA IF EXISTS {REBUILD_SCHEMA} CASCADE")
    await conn.execute(f"CREATE SCHEMA {REBUILD_SCHEMA}")
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {RETIRED_SCHEMA}")
    for table in tables:
        await conn.execute(
            f"CREATE TABLE {REBUILD_SCHEMA}.{_q(table)} (LIKE {_q(live)}.{_q(table)} INCLUDING ALL)"
        )
    return await drop_deferred_indexes(conn, REBUILD_SCHEMA, bulk_tables)


async def drop_deferred_indexes(
    conn: asyncpg.Connection[Any], schema: str, tables: Sequence[str]
) -> list[str]:
    """Drop the non-unique indexes of ``schema``'s ``tables`` (a bulk load builds them once,
    after it); return their definitions, to be executed then."""
    deferred = await conn.fetch(
        "SELECT i.relname, pg_get_indexdef(i.oid) AS definition FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
        " JOIN pg_namespace n ON n.oid = t.relnamespace"
        " WHERE n.nspname = $1 AND t.relname = ANY($2::text[]) AND NOT x.indisunique"
        " ORDER BY t.relname, i.relname",
        schema,
        list(tables),
    )
    for index in deferred:
        await conn.execute(f"DROP INDEX {_q(schema)}.{_q(index['relname'])}")
    return [index["definition"] for index in deferred]


async def _foreign_keys(
    conn: asyncpg.Connection[Any], live: str, tables: Sequence[str]
) -> list[_ForeignKey]:
    """Every foreign key from or to one of the live ``tables`` (definitions qualified)."""
    rows = await conn.fetch(
        "SELECT c.conname, n.nspname, r.relname, pg_get_constraintdef(c.oid) AS definition"
        " FROM pg_constraint c"
        " JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace"
        " JOIN pg_class f ON f.oid = c.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace"
        " WHERE c.contype = 'f' AND ((n.nspname = $1 AND r.relname = ANY($2::text[]))"
        "  OR (fn.nspname = $1 AND f.relname = ANY($2::text[])))"
        " ORDER BY n.nspname, r.relname, c.conname",
        live,
        list(tables),
    )
    return [_ForeignKey(r["conname"], r["nspname"], r["relname"], r["definition"]) for r in rows]


async def _indexes(conn: asyncpg.Connection[Any], schema: str, table: str) -> dict[str, str]:
    """Index name -> definition without its name and table (comparable across schemas)."""
    rows = await conn.fetch(
        "SELECT i.relname, pg_get_indexdef(i.oid) AS definition FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
        " JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = $1 AND t.relname = $2",
        schema,
        table,
    )
    return {r["relname"]: _INDEX_HEAD.sub(r"CREATE \1INDEX ON ", r["definition"]) for r in rows}


async def _owned_sequences(
    conn: asyncpg.Connection[Any], schema: str, table: str
) -> list[tuple[str, str, str]]:
    """(sequence schema, sequence, column) of sequences owned by the table's columns."""
    rows = await conn.fetch(
        "SELECT sn.nspname, s.relname, a.attname FROM pg_depend d"
        " JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
        " JOIN pg_namespace sn ON sn.oid = s.relnamespace"
        " JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid"
        " WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass"
        " AND d.deptype IN ('a', 'i') AND n.nspname = $1 AND t.relname = $2",
        schema,
        table,
    )
    return [(r["nspname"], r["relname"], r["attname"]) for r in rows]


class _ReaderThread:
    """A connection on an event loop of its own, in a thread of its own, that reads ranges
    of the log ahead of the fold.

    Why a thread: on the main loop, a prefetch only makes progress while the fold awaits;
    while the fold computes, PostgreSQL fills the socket buffer and stops. Here the reader
    keeps draining the socket (the GIL is released while it waits on it), so the server
    streams the next batch while this one is folded. Records are plain Python objects and
    cross threads safely.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="ledger-rebuild-reader", daemon=True
        )
        self.conn: asyncpg.Connection[Any] | None = None

    async def start(self, database_url: str) -> None:
        self.thread.start()
        self.conn = await self._call(asyncpg.connect(database_url))

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    def read(
        self,
        after: int,
        upto: int,
        topics: Sequence[str] | None,
        events_table: str,
        *,
        stored_only: bool,
    ) -> asyncio.Future[list[Any]]:
        assert self.conn is not None
        return self._call(
            read_rows(self.conn, after, upto, topics, events_table, stored_only=stored_only)
        )

    async def close(self) -> None:
        if self.conn is not None:
            await self._call(self.conn.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self.thread.join)
        self.loop.close()


class _Rebuild:
    def __init__(
        self,
        conn: asyncpg.Connection[Any],
        reader: _ReaderThread,
        live: str,
        projections: Sequence[InlineProjection],
        async_names: set[str],
        mapper: MsgspecMapper,
        batch_events: int,
        progress: Progress | None,
    ) -> None:
        self.conn = conn
        self.reader = reader
        self.live = live
        self.projections = list(projections)
        self.async_names = sorted(async_names)
        self.mapper = mapper
        self.batch_events = batch_events
        self.progress = progress
        self.tables = projected_tables(projections)
        self.topics = topics_of(projections)
        self.stored_only = all(isinstance(p, StoredRowProjection) for p in projections)
        self.events_table = f"{_q(live)}.ledger_events"
        self.position = 0
        self.swap_attempts = 0
        self.validate_seconds = 0.0
        # The first catch-up loads projections that can in bulk (BulkLoadProjection); they
        # are finished once it ends, and every later batch is folded as usual.
        self.bulk = True
        self.bulk_tables = sorted(
            {t for p in projections if isinstance(p, BulkLoadProjection) for t in p.tables}
        )
        self.deferred_indexes: list[str] = []
        self.analyzed = False

    async def analyze(self) -> None:
        """Give the rebuilt tables their planner statistics (once, before the first swap).

        Without them the swapped-in tables would be planned as empty until autovacuum got
        to them (a trial balance over 10,000 ledgers then nests loops it should not).
        Statistics move with a table into the live schema.
        """
        if self.analyzed:
            return
        for table in self.tables:
            await self.conn.execute(f"ANALYZE {REBUILD_SCHEMA}.{_q(table)}")
        self.analyzed = True

    async def finish_bulk(self) -> None:
        """End the bulk load (once): let bulk-loaded projections derive what they skipped,
        then build the indexes left out (after the derivation, which reads whole tables and
        needs none of them, so that the rows it writes are indexed in one build each, not
        one by one)."""
        if not self.bulk:
            return
        async with self.conn.transaction():
            # For this transaction only: index builds sort in memory at volume.
            await self.conn.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
            for projection in self.projections:
                if isinstance(projection, BulkLoadProjection):
                    await projection.finish_bulk(self.conn)
            for definition in self.deferred_indexes:
                await self.conn.execute(definition)
        self.bulk = False

    async def _read(self, conn: asyncpg.Connection[Any], after: int, upto: int) -> list[Any]:
        return await read_rows(
            conn, after, upto, self.topics, self.events_table, stored_only=self.stored_only
        )

    async def catch_up(self, lag: int) -> None:
        """Fold committed batches until fewer than ``lag`` events remain (prefetching)."""
        target = await log_position(self.conn, self.events_table)
        nxt: asyncio.Future[list[Any]] | None = None
        while target - self.position > lag:
            upto = min(self.position + self.batch_events, target)
            if nxt is None:
                rows = await self._read(self.conn, self.position, upto)
            else:
                rows = await nxt
                nxt = None
            after_next = min(upto + self.batch_events, target)
            if after_next > upto and target - upto > lag:
                nxt = self.reader.read(
                    upto, after_next, self.topics, self.events_table, stored_only=self.stored_only
                )
            try:
                async with self.conn.transaction():
                    await apply_rows(self.conn, self.projections, rows, self.mapper, bulk=self.bulk)
            except BaseException:
                if nxt is not None:
                    nxt.cancel()
                raise
            self.position = upto
            if self.progress is not None:
                self.progress.update(self.position, target)
            if nxt is None:
                target = await log_position(self.conn, self.events_table)

    async def try_swap(self) -> bool:
        """One attempt at the swap transaction (module doc); False if a lock was taken."""
        self.swap_attempts += 1
        live = _q(self.live)
        try:
            async with self.conn.transaction():
                keys = await _foreign_keys(self.conn, self.live, self.tables)
                others = sorted({k.table for k in keys if k.schema == self.live} - set(self.tables))
                locked = ", ".join(f"{live}.{_q(t)}" for t in [*self.tables, *others])
                await self.conn.execute(f"LOCK TABLE {locked} IN ACCESS EXCLUSIVE MODE NOWAIT")
                await self.conn.execute(f"LOCK TABLE {self.events_table} IN EXCLUSIVE MODE NOWAIT")
                if self.async_names:
                    await self.conn.execute(
                        f"SELECT 1 FROM {live}.ledger_tracking"
                        " WHERE application_name = ANY($1::text[]) FOR UPDATE NOWAIT",
                        self.async_names,
                    )
                position = self.position
                target = await log_position(self.conn, self.events_table)
                while position < target:
                    upto = min(position + self.batch_events, target)
                    rows = await self._read(self.conn, position, upto)
                    await apply_rows(self.conn, self.projections, rows, self.mapper)
                    position = upto
                await self._swap_tables(keys)
                for name in self.async_names:
                    await self.conn.execute(
                        f"INSERT INTO {live}.ledger_tracking (application_name, notification_id)"
                        " VALUES ($1, $2) ON CONFLICT (application_name)"
                        " DO UPDATE SET notification_id = excluded.notification_id",
                        name,
                        position,
                    )
                    await self.conn.execute(
                        "SELECT pg_notify($1, $2)", TRACKING_CHANNEL, f"{name}:{position}"
                    )
                if self.async_names:
                    # Their tables now reflect ``position``: a failure below it is resolved.
                    await clear_failures(self.conn, sorted(self.async_names), position, schema=live)
        except asyncpg.LockNotAvailableError:
            return False
        self.position = position
        started = time.perf_counter()
        for key in keys:
            await self.conn.execute(
                f"ALTER TABLE {_q(key.schema)}.{_q(key.table)} VALIDATE CONSTRAINT {_q(key.name)}"
            )
        self.validate_seconds = time.perf_counter() - started
        return True

    async def _swap_tables(self, keys: Sequence[_ForeignKey]) -> None:
        conn, live = self.conn, _q(self.live)
        for key in keys:
            if key.schema != self.live or key.table not in self.tables:
                # A foreign key of a table that stays: it points at the old table by oid.
                await conn.execute(
                    f"ALTER TABLE {_q(key.schema)}.{_q(key.table)} DROP CONSTRAINT {_q(key.name)}"
                )
        for table in self.tables:
            old_indexes = await _indexes(conn, self.live, table)
            sequences = await _owned_sequences(conn, self.live, table)
            await conn.execute(f"ALTER TABLE {live}.{_q(table)} SET SCHEMA {RETIRED_SCHEMA}")
            await conn.execute(f"ALTER TABLE {REBUILD_SCHEMA}.{_q(table)} SET SCHEMA {live}")
            new_indexes = await _indexes(conn, self.live, table)
            by_definition = {definition: name for name, definition in old_indexes.items()}
            renames = [
                (name, by_definition[definition])
                for name, definition in new_indexes.items()
                if definition in by_definition and by_definition[definition] != name
            ]
            # Two steps, so a new index may take a name another new index still has.
            for i, (name, _) in enumerate(renames):
                await conn.execute(f"ALTER INDEX {live}.{_q(name)} RENAME TO _swap_{i}")
            for i, (_, old_name) in enumerate(renames):
                await conn.execute(f"ALTER INDEX {live}._swap_{i} RENAME TO {_q(old_name)}")
            for schema, sequence, column in sequences:
                # SET SCHEMA took the old table's owned sequences along: the new table's
                # defaults still use them (by oid); give them to it and bring them back.
                moved = f"{RETIRED_SCHEMA}.{_q(sequence)}"
                await conn.execute(f"ALTER SEQUENCE {moved} OWNED BY NONE")
                await conn.execute(f"ALTER SEQUENCE {moved} SET SCHEMA {_q(schema)}")
                await conn.execute(
                    f"ALTER SEQUENCE {_q(schema)}.{_q(sequence)}"
                    f" OWNED BY {live}.{_q(table)}.{_q(column)}"
                )
        for key in keys:
            await conn.execute(
                f"ALTER TABLE {_q(key.schema)}.{_q(key.table)} ADD CONSTRAINT {_q(key.name)}"
                f" {key.definition} NOT VALID"
            )
        retired = ", ".join(f"{RETIRED_SCHEMA}.{_q(t)}" for t in self.tables)
        await conn.execute(f"DROP TABLE {retired}")


async def _catch_up_and_swap(
    job: _Rebuild, swap_patience_seconds: float, swap_lag_events: int
) -> None:
    """Catch up and try to swap, again after a random pause, until a swap succeeds.

    Raises:
        RebuildError: no swap could take its locks within ``swap_patience_seconds``.
    """
    deadline = time.monotonic() + swap_patience_seconds
    while True:
        await job.catch_up(swap_lag_events)
        await job.finish_bulk()
        await job.analyze()
        if await job.try_swap():
            return
        if time.monotonic() > deadline:
            raise RebuildError(
                f"could not lock the live tables for {swap_patience_seconds:g} s; nothing "
                "was swapped (is a long transaction holding them?)"
            )
        await asyncio.sleep(random.uniform(0, SWAP_PAUSE_SECONDS_MAX))  # noqa: S311


async def _drop_rebuild_schemas(conn: asyncpg.Connection[Any], live: str) -> None:
    """Back to the live schema; drop the rebuild's scratch schema and the emptied retired one."""
    await conn.execute(f"SET search_path = {_q(live)}")
    await conn.execute(f"DROP SCHEMA IF EXISTS {REBUILD_SCHEMA} CASCADE")
    await conn.execute(f"DROP SCHEMA IF EXISTS {RETIRED_SCHEMA}")  # empty by now


async def rebuild(
    database_url: str,
    projections: Sequence[InlineProjection],
    *,
    async_names: set[str] | frozenset[str] = frozenset(),
    mapper: MsgspecMapper | None = None,
    batch_events: int = BATCH_EVENTS_DEFAULT,
    progress: Progress | None = None,
    swap_patience_seconds: float = SWAP_PATIENCE_SECONDS,
    swap_lag_events: int = SWAP_LAG_EVENTS,
) -> RebuildReport:
    """Rebuild ``projections`` (expand them with :func:`with_shared_tables` first) from
    position 0 and swap them in (module doc). ``async_names`` are the asynchronous ones among
    them, whose tracking rows move to the rebuilt position.

    Raises:
        RebuildError: another rebuild holds the lock, or no swap could take its locks within
            ``swap_patience_seconds`` (the live tables are then untouched).
    """
    assert projections, "nothing to rebuild"
    assert 0 < batch_events <= BATCH_EVENTS_MAX
    started = time.perf_counter()
    conn = await asyncpg.connect(database_url)
    reader = _ReaderThread()
    try:
        await reader.start(database_url)
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _ADVISORY_LOCK_KEY):
            raise RebuildError("another rebuild is running")
        live = str(await conn.fetchval("SELECT current_schema()"))
        job = _Rebuild(
            conn,
            reader,
            live,
            projections,
            set(async_names) & {p.name for p in projections},
            mapper or MsgspecMapper(),
            batch_events,
            progress,
        )
        job.deferred_indexes = await _prepare_scratch(conn, live, job.tables, job.bulk_tables)
        await conn.execute(f"SET search_path = {REBUILD_SCHEMA}, {_q(live)}")
        await _catch_up_and_swap(job, swap_patience_seconds, swap_lag_events)
        await _drop_rebuild_schemas(conn, live)
        if progress is not None:
            progress.finish(job.position)
        return RebuildReport(
            projections=[p.name for p in projections],
            tables=job.tables,
            position=job.position,
            seconds=time.perf_counter() - started,
            swap_attempts=job.swap_attempts,
            validate_seconds=job.validate_seconds,
        )
    finally:
        await reader.close()
        await conn.close()


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    name: str
    kind: str  # "inline" | "async"
    position: int
    lag: int
    # The event it cannot apply (asynchronous projections only; ``failures.py``).
    failing: Failing | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "position": self.position,
            "lag": self.lag,
            "failing": None if self.failing is None else self.failing.as_json(),
        }


async def projection_status(
    conn: DbConnection, inline: Sequence[InlineProjection], asynchronous: Sequence[InlineProjection]
) -> list[ProjectionStatus]:
    """Each projection's position, lag behind the log (inline ones never lag) and, for an
    asynchronous one, its current failure if it has one."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        head = await log_position(conn)
        tracking = {
            r["application_name"]: int(r["notification_id"] or 0)
            for r in await conn.fetch(
                "SELECT application_name, notification_id FROM ledger_tracking"
            )
        }
        failures = await read_failures(conn)
    out = [ProjectionStatus(p.name, "inline", head, 0) for p in inline]
    for p in asynchronous:
        position = tracking.get(p.name, 0)
        record = failures.get(p.name)
        failing = record.failing if record is not None else None
        out.append(ProjectionStatus(p.name, "async", position, head - position, failing))
    return out
