"""Scenario ``store``: event appends/s through group commit against plain SQL inserts.

Four measurements on the same database, in this order:

``group_commit_1`` / ``group_commit_32``
    1 or 32 tasks loop ``await committer.submit(handler, command)``; the handler's
    ``decide`` opens a :class:`~ledger.bench.aggregate.BenchAccount` and returns its one
    ``Opened`` event. The committer runs on a pool of 2 connections (it writes one batch at a
    time) with no inline projections, so this is the store's own cost: queue, decide, map,
    ``ledger_append_events`` (table lock, positions, hash chain, NOTIFY), commit.
``baseline_1`` / ``baseline_32``
    The same event built and mapped the same way (``MsgspecMapper.to_stored_event``), then one
    ``INSERT`` per event, its own transaction (a single autocommit statement), into a table
    with eventsourcing's stock layout; 32 writers hold one connection each from a pool of 32.

``gapfree_1`` / ``gapfree_32``
    The same event, one transaction per event, with the guarantees group commit gives and a
    plain INSERT does not: ``LOCK TABLE … IN EXCLUSIVE MODE`` (positions in commit order, no
    reader skips one), the chain head read, the SHA-256 chain link computed and the head
    written, all in plain SQL statements. This is what an event store without group commit
    (eventsourcing's own recorder, for one) does per append.

The issue's acceptance ratio is ``group_commit_32 / baseline_32`` (target >= 3.0): the
plain INSERT neither orders positions by commit nor chains hashes. ``group_commit_32 /
gapfree_32`` compares the same guarantees.
"""

from __future__ import annotations

import itertools
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from eventsourcing.persistence import StoredEvent

from ledger.bench.aggregate import BenchAccount
from ledger.bench.measure import Operation, run_workers
from ledger.bench.registry import BenchContext, Ratio, ResultRow, register
from ledger.store.database import create_pool
from ledger.store.group_commit import Batch, CommandHandler, Decision, GroupCommitter
from ledger.store.mapper import MsgspecMapper

WRITER_COUNTS = (1, 32)
GROUP_COMMIT_POOL_SIZE = 2
_UNIT = "events/s"
_TENANT_ID = UUID("00000000-0000-4000-8000-00000000be4c")
_BASELINE_TABLE = "bench_baseline_events"
_BASELINE_DDL = f"""
CREATE TABLE {_BASELINE_TABLE} (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    PRIMARY KEY (originator_id, originator_version)
);
CREATE UNIQUE INDEX {_BASELINE_TABLE}_notification_id_idx
    ON {_BASELINE_TABLE} (notification_id ASC);
"""
_GAPFREE_TABLE = "bench_gapfree_events"
_GAPFREE_DDL = f"""
CREATE TABLE {_GAPFREE_TABLE} (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigint NOT NULL,
    chain_hash bytea NOT NULL,
    PRIMARY KEY (originator_id, originator_version)
);
CREATE UNIQUE INDEX {_GAPFREE_TABLE}_notification_id_idx ON {_GAPFREE_TABLE} (notification_id);
CREATE TABLE {_GAPFREE_TABLE}_head (position bigint NOT NULL, chain_hash bytea NOT NULL);
INSERT INTO {_GAPFREE_TABLE}_head VALUES (0, decode(repeat('00', 32), 'hex'));
"""
_GAPFREE_STATEMENTS = (
    f"LOCK TABLE {_GAPFREE_TABLE} IN EXCLUSIVE MODE",
    f"SELECT position, chain_hash FROM {_GAPFREE_TABLE}_head",
    f"INSERT INTO {_GAPFREE_TABLE} VALUES ($1, $2, $3, $4, $5, "
    "sha256($6::bytea || int8send($5) || $4::bytea))",
    f"UPDATE {_GAPFREE_TABLE}_head SET position = $1,"
    f" chain_hash = (SELECT chain_hash FROM {_GAPFREE_TABLE} WHERE notification_id = $1)",
)
_BASELINE_INSERT = (
    f"INSERT INTO {_BASELINE_TABLE} (originator_id, originator_version, topic, state) "
    "VALUES ($1, $2, $3, $4)"
)


@dataclass(frozen=True, slots=True)
class OpenAccount:
    account_id: UUID
    code: str


class OpenAccountHandler(CommandHandler[OpenAccount, None]):
    """Decides every command by opening one account: one new event, no reads."""

    def decide(self, batch: Batch, command: OpenAccount) -> Decision[None]:
        account = _open(command)
        return Decision(events=account.collect_events(), result=None, tenant_id=_TENANT_ID)


def _open(command: OpenAccount) -> BenchAccount:
    return BenchAccount.open(
        account_id=command.account_id, code=command.code, kind="asset", currency="EUR"
    )


_codes = itertools.count(1)


def _next_command() -> OpenAccount:
    return OpenAccount(account_id=uuid.uuid4(), code=f"assets:cash:{next(_codes):06d}")


def _progress(text: str) -> None:
    print(f"  store: {text} ...", file=sys.stderr, flush=True)


async def _group_commit(ctx: BenchContext, committer: GroupCommitter, writers: int) -> ResultRow:
    handler = OpenAccountHandler()
    counters: dict[str, int] = {}

    async def append() -> None:
        await committer.submit(handler, _next_command())

    def window_start() -> None:
        counters["batches"] = committer.batches_committed
        counters["commands"] = committer.commands_committed

    def window_end() -> None:
        counters["batches"] = committer.batches_committed - counters["batches"]
        counters["commands"] = committer.commands_committed - counters["commands"]

    _progress(f"group commit, {writers} writer(s)")
    measured = await run_workers(
        [append] * writers,
        warmup_seconds=ctx.warmup_seconds,
        duration_seconds=ctx.duration_seconds,
        on_window_start=window_start,
        on_window_end=window_end,
    )
    batches = counters["batches"]
    return ResultRow(
        key=f"group_commit_{writers}",
        label=f"group commit, {writers} writer{'s' if writers > 1 else ''}",
        unit=_UNIT,
        concurrency=writers,
        operations=measured.operations,
        seconds=measured.seconds,
        p50_ms=measured.p50_ms,
        p99_ms=measured.p99_ms,
        extra={
            "mean_batch": counters["commands"] / batches if batches else 0.0,
            "batches_per_s": batches / measured.seconds,
        },
    )


async def _plain_insert(conn: PoolConnectionProxy[Any], stored: StoredEvent) -> None:
    """The plain baseline: one autocommit INSERT (no ordering lock, no hash chain)."""
    await conn.execute(
        _BASELINE_INSERT,
        stored.originator_id,
        stored.originator_version,
        stored.topic,
        stored.state,
    )


async def _gapfree_insert(conn: PoolConnectionProxy[Any], stored: StoredEvent) -> None:
    """The gap-free baseline: lock, chain head, INSERT with its hash link, head update."""
    lock, head, insert, advance = _GAPFREE_STATEMENTS
    async with conn.transaction():
        await conn.execute(lock)
        row = await conn.fetchrow(head)
        assert row is not None
        position = row["position"] + 1
        await conn.execute(
            insert,
            stored.originator_id,
            stored.originator_version,
            stored.topic,
            stored.state,
            position,
            row["chain_hash"],
        )
        await conn.execute(advance, position)


async def _one_transaction_per_event(
    ctx: BenchContext,
    pool: asyncpg.Pool[Any],
    writers: int,
    *,
    key: str,
    label: str,
    write: Callable[[PoolConnectionProxy[Any], StoredEvent], Awaitable[None]],
) -> ResultRow:
    """``writers`` tasks, each on its own connection, building, mapping and writing one
    event per ``write`` call (the same Python-side work as group commit's writers)."""
    mapper = MsgspecMapper()
    connections = [await pool.acquire() for _ in range(writers)]
    try:

        def operation(conn: PoolConnectionProxy[Any]) -> Operation:
            async def append() -> None:
                (event,) = _open(_next_command()).collect_events()
                await write(conn, mapper.to_stored_event(event))

            return append

        _progress(f"{label}, {writers} writer(s)")
        measured = await run_workers(
            [operation(conn) for conn in connections],
            warmup_seconds=ctx.warmup_seconds,
            duration_seconds=ctx.duration_seconds,
        )
    finally:
        for conn in connections:
            await pool.release(conn)
    return ResultRow(
        key=f"{key}_{writers}",
        label=f"{label}, {writers} writer{'s' if writers > 1 else ''}",
        unit=_UNIT,
        concurrency=writers,
        operations=measured.operations,
        seconds=measured.seconds,
        p50_ms=measured.p50_ms,
        p99_ms=measured.p99_ms,
    )


async def _check_count(pool: asyncpg.Pool[Any], table: str, at_least: int) -> None:
    """Fail the run if fewer rows were stored than appends were counted."""
    stored = int(await pool.fetchval(f"SELECT count(*) FROM {table}"))
    if stored < at_least:
        raise RuntimeError(f"{table} holds {stored} rows but {at_least} appends were counted")


@register(
    "store",
    description="event appends/s: group commit vs one INSERT transaction per event",
    ratios=(
        Ratio(
            label="group commit / baseline, 32 writers",
            numerator="group_commit_32",
            denominator="baseline_32",
            target=3.0,
        ),
        Ratio(
            label="group commit / baseline, 1 writer",
            numerator="group_commit_1",
            denominator="baseline_1",
        ),
        Ratio(
            label="group commit / gap-free txn per event, 32 writers (same guarantees)",
            numerator="group_commit_32",
            denominator="gapfree_32",
        ),
    ),
)
async def store(ctx: BenchContext) -> list[ResultRow]:
    rows: list[ResultRow] = []

    pool = await create_pool(
        ctx.database_url, min_size=GROUP_COMMIT_POOL_SIZE, max_size=GROUP_COMMIT_POOL_SIZE
    )
    try:
        committer = GroupCommitter(pool, mapper=MsgspecMapper())
        await committer.start()
        try:
            for writers in WRITER_COUNTS:
                rows.append(await _group_commit(ctx, committer, writers))
        finally:
            await committer.stop()
        await _check_count(pool, "ledger_events", sum(r.operations for r in rows))
    finally:
        await pool.close()

    baseline_pool_size = max(WRITER_COUNTS)
    pool = await create_pool(
        ctx.database_url, min_size=baseline_pool_size, max_size=baseline_pool_size
    )
    try:
        await pool.execute(_BASELINE_DDL)
        baseline_rows = [
            await _one_transaction_per_event(
                ctx, pool, w, key="baseline", label="baseline INSERT", write=_plain_insert
            )
            for w in WRITER_COUNTS
        ]
        await _check_count(pool, _BASELINE_TABLE, sum(r.operations for r in baseline_rows))
        rows.extend(baseline_rows)
        await pool.execute(_GAPFREE_DDL)
        gapfree_rows = [
            await _one_transaction_per_event(
                ctx, pool, w, key="gapfree", label="gap-free txn per event", write=_gapfree_insert
            )
            for w in WRITER_COUNTS
        ]
        await _check_count(pool, _GAPFREE_TABLE, sum(r.operations for r in gapfree_rows))
        rows.extend(gapfree_rows)
    finally:
        await pool.close()
    return rows
