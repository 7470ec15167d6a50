"""Positions as a tailing reader sees them: in commit order, and gap-free.

A reader that tails the log by position (``WHERE notification_id > last``) misses an event
for good if a row below ``last`` becomes visible after it passed ``last``. The tests run
such a reader against many concurrent writers, some of whose transactions roll back after
appending, and check that it saw every committed position exactly once, in order, in
contiguous runs, and that the positions are exactly 1..N.

The negative control runs the same reader against a table filled the naive way (a
``bigserial`` drawn at INSERT, no table lock), with a later number committed before an
earlier one, and checks the reader *does* miss a row there, so the check is known to detect
the bug it guards.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from eventsourcing.persistence import StoredEvent

from ledger.store.event_store import append_stored_events

WRITERS = 16
APPENDS_PER_WRITER = 30  # 480 append transactions in all
ROLLBACK_EVERY = 4  # every 4th transaction of a writer appends, then rolls back


class _Rollback(Exception):
    """Raised inside a write transaction after its append, to roll the append back."""


@dataclass
class TailingReader:
    """Reads ``table`` by position, as an eventsourcing follower would, and records it all."""

    conn: asyncpg.Connection[Any]
    table: str
    seen: list[int] = field(default_factory=list)
    reads: list[list[int]] = field(default_factory=list)

    @property
    def last(self) -> int:
        return self.seen[-1] if self.seen else 0

    async def read_once(self) -> None:
        rows = await self.conn.fetch(
            f"SELECT notification_id FROM {self.table} WHERE notification_id > $1 "
            "ORDER BY notification_id",
            self.last,
        )
        positions = [r["notification_id"] for r in rows]
        if positions:
            self.reads.append(positions)
            self.seen.extend(positions)

    async def tail_until(self, done: asyncio.Event) -> None:
        while not done.is_set():
            await self.read_once()
            await asyncio.sleep(0)  # let the writers run; the checks hold for any interleaving
        await self.read_once()  # everything committed is visible now

    def missed(self, committed: list[int]) -> list[int]:
        """Committed positions the reader never saw although it read past them: each one
        became visible only after the reader had passed it (it can never be read again)."""
        seen = set(self.seen)
        return [p for p in committed if p not in seen and p < self.last]


async def _run_with_reader(
    url: str, table: str, writers: list[Callable[[asyncpg.Connection[Any]], Awaitable[None]]]
) -> tuple[TailingReader, list[int]]:
    """Run ``writers`` (one connection each) while a reader tails ``table``."""
    conns = [await asyncpg.connect(url) for _ in writers]
    reader_conn = await asyncpg.connect(url)
    try:
        reader = TailingReader(reader_conn, table)
        done = asyncio.Event()
        reading = asyncio.create_task(reader.tail_until(done))
        try:
            await asyncio.gather(*(w(c) for w, c in zip(writers, conns, strict=True)))
        finally:
            done.set()
            await reading
        committed = [
            r["notification_id"]
            for r in await reader_conn.fetch(
                f"SELECT notification_id FROM {table} ORDER BY notification_id"
            )
        ]
        return reader, committed
    finally:
        for conn in [*conns, reader_conn]:
            await conn.close()


def _events(n: int) -> list[StoredEvent]:
    originator_id = uuid.uuid4()
    return [
        StoredEvent(originator_id=originator_id, originator_version=v, topic="t:E", state=b"{}")
        for v in range(1, n + 1)
    ]


async def test_tailing_reader_sees_every_position_in_order_with_no_holes(database_url: str) -> None:
    rng = random.Random(20240229)
    appended: list[int] = []  # events appended by transactions that committed
    rolled_back = 0

    def writer(number: int) -> Callable[[asyncpg.Connection[Any]], Awaitable[None]]:
        async def write(conn: asyncpg.Connection[Any]) -> None:
            nonlocal rolled_back
            for i in range(APPENDS_PER_WRITER):
                events = _events(rng.randint(1, 3))
                roll_back = (i + number) % ROLLBACK_EVERY == 0
                try:
                    async with conn.transaction():
                        outcome = await append_stored_events(conn, events, [None] * len(events))
                        assert outcome.first_position is not None
                        # Hold the transaction open after the append (as inline projections
                        # do), so other writers queue on the lock and commits are delayed.
                        await asyncio.sleep(rng.random() * 0.002)
                        if roll_back:
                            raise _Rollback
                except _Rollback:
                    rolled_back += 1
                else:
                    appended.append(len(events))

        return write

    reader, committed = await _run_with_reader(
        database_url, "ledger_events", [writer(n) for n in range(WRITERS)]
    )

    total = sum(appended)
    assert rolled_back > 0
    assert len(appended) + rolled_back == WRITERS * APPENDS_PER_WRITER
    # The reader never passed a position that committed later ...
    assert reader.missed(committed) == []
    # ... there are no holes: rolled-back appends drew no numbers ...
    assert committed == list(range(1, total + 1))
    # ... saw each one exactly once, in order ...
    assert reader.seen == committed
    # ... and never saw a temporary hole: each read continued exactly where the last ended.
    expected_next = 1
    for positions in reader.reads:
        assert positions == list(range(expected_next, expected_next + len(positions)))
        expected_next += len(positions)
    assert len(reader.reads) > 10, "the reader should have read while the writers wrote"


async def test_reader_check_detects_positions_committed_out_of_order(database_url: str) -> None:
    """Negative control: with numbers drawn from a sequence and no table lock, a later number
    can commit first, and the same reader passes the earlier one for good."""
    early, late, reader_conn = [await asyncpg.connect(database_url) for _ in range(3)]
    try:
        await early.execute(
            "CREATE TABLE naive_events (notification_id bigserial PRIMARY KEY, payload int)"
        )
        reader = TailingReader(reader_conn, "naive_events")
        async with early.transaction():
            await early.execute("INSERT INTO naive_events (payload) VALUES (1)")  # draws 1
            await late.execute("INSERT INTO naive_events (payload) VALUES (2)")  # 2, committed
            await reader.read_once()
        await reader.read_once()  # 1 is committed now, below where the reader stands
        committed = [
            r["notification_id"]
            for r in await reader_conn.fetch(
                "SELECT notification_id FROM naive_events ORDER BY notification_id"
            )
        ]
    finally:
        for conn in (early, late, reader_conn):
            await conn.close()

    assert committed == [1, 2]
    assert reader.seen == [2]
    assert reader.missed(committed) == [1]
