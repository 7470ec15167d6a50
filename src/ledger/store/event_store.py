"""Appending to and reading from the one event log (``ledger_events``).

Design: how positions stay gap-free and in commit order
--------------------------------------------------------
Every append goes through the SQL function ``ledger_append_events`` (migration 0001), in one
round trip. The function takes ``LOCK TABLE ledger_events IN EXCLUSIVE MODE`` (readers are
not blocked), numbers the new rows ``max(position) + 1 ...`` and inserts them. The lock is
held until the append's transaction ends, so:

- transactions are numbered in the order they commit: a reader that has seen position P
  never later sees a new row below P (the invariant eventsourcing's tailing readers need);
- numbers are not drawn from a sequence, so a rolled-back append leaves no hole: positions
  are 1, 2, 3 ... with no gaps at all, and ``max(position)`` is the length of the log;
- the lock is the last thing a write transaction takes and is held only for the append and
  the inline projections after it; group commit (``group_commit.py``) makes that one lock
  serve a whole batch of commands.

Version conflicts (two writers extending the same aggregate version) are detected by the
function under the lock before anything is inserted, and reported by index, so a batch can
drop the losing command and still append the others. The primary key on
``(originator_id, originator_version)`` is the database's second check of the same rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from eventsourcing.domain import BaseAggregate, CanMutateAggregate, DomainEventProtocol
from eventsourcing.persistence import StoredEvent

from ledger import limits
from ledger.errors import ConcurrencyConflict
from ledger.store.database import DbConnection, DbSource
from ledger.store.mapper import MsgspecMapper

A = TypeVar("A", bound=BaseAggregate[UUID])

_APPEND_SQL = (
    "SELECT first_position, conflicts FROM ledger_append_events("
    "$1::uuid[], $2::int8[], $3::text[], $4::bytea[], $5::uuid[], $6)"
)
_LOCK_TIMEOUT = f"{limits.APPEND_LOCK_TIMEOUT_SECONDS}s"
_COLUMNS = "notification_id, originator_id, originator_version, topic, state, tenant_id, chain_hash"


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One row of the log, as stored."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes
    tenant_id: UUID | None
    chain_hash: bytes

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> RecordedEvent:
        return cls(
            position=row["notification_id"],
            originator_id=row["originator_id"],
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=bytes(row["state"]),
            tenant_id=row["tenant_id"],
            chain_hash=bytes(row["chain_hash"]),
        )

    def as_stored_event(self) -> StoredEvent:
        return StoredEvent(
            originator_id=self.originator_id,
            originator_version=self.originator_version,
            topic=self.topic,
            state=self.state,
        )


@dataclass(frozen=True, slots=True)
class AppendOutcome:
    """Either the first position assigned, or the 0-based indexes of conflicting events."""

    first_position: int | None
    conflicts: tuple[int, ...]


async def append_stored_events(
    conn: DbConnection,
    events: Sequence[StoredEvent],
    tenant_ids: Sequence[UUID | None],
) -> AppendOutcome:
    """Append ``events`` in one call of ``ledger_append_events`` on ``conn``.

    Run it inside the transaction that must commit with the events: the table lock it takes
    is released only when that transaction ends. Outside a transaction the statement is its
    own transaction.
    """
    assert len(events) == len(tenant_ids)
    assert 0 < len(events) <= limits.GROUP_COMMIT_EVENTS_MAX, len(events)
    row = await conn.fetchrow(
        _APPEND_SQL,
        [e.originator_id for e in events],
        [e.originator_version for e in events],
        [e.topic for e in events],
        [e.state for e in events],
        list(tenant_ids),
        _LOCK_TIMEOUT,
    )
    assert row is not None
    if row["conflicts"] is not None:
        return AppendOutcome(None, tuple(i - 1 for i in row["conflicts"]))
    return AppendOutcome(row["first_position"], ())


class EventStore:
    """Reads the log, and appends outside group commit (tools, tests, migrations of data)."""

    def __init__(self, pool: asyncpg.Pool[Any], mapper: MsgspecMapper | None = None) -> None:
        self.pool = pool
        self.mapper = mapper or MsgspecMapper()

    async def append(
        self, events: Sequence[DomainEventProtocol[UUID]], tenant_id: UUID | None
    ) -> list[int]:
        """Append ``events`` atomically and return their positions.

        Raises:
            ConcurrencyConflict: one of the events' (originator_id, originator_version)
                exists already; nothing was appended.
        """
        stored = [self.mapper.to_stored_event(e) for e in events]
        keys = {(e.originator_id, e.originator_version) for e in stored}
        if len(keys) != len(stored):
            raise ConcurrencyConflict("two of the events have the same aggregate version")
        async with self.pool.acquire() as conn:
            outcome = await append_stored_events(conn, stored, [tenant_id] * len(stored))
        if outcome.first_position is None:
            first = stored[outcome.conflicts[0]]
            raise ConcurrencyConflict(
                "the aggregate was changed by another writer",
                {"originator_id": str(first.originator_id), "version": first.originator_version},
            )
        return list(range(outcome.first_position, outcome.first_position + len(stored)))

    async def max_position(self) -> int:
        """The position of the last committed event (0 for an empty log)."""
        value = await self.pool.fetchval(
            "SELECT notification_id FROM ledger_events ORDER BY notification_id DESC LIMIT 1"
        )
        return int(value or 0)

    async def read_after(
        self,
        after_position: int,
        limit: int,
        *,
        tenant_id: UUID | None = None,
        conn: DbConnection | None = None,
    ) -> list[RecordedEvent]:
        """Up to ``limit`` events after ``after_position``, in position order."""
        assert 0 < limit <= limits.READ_EVENTS_PAGE_MAX
        source: DbSource = conn or self.pool
        if tenant_id is None:
            rows = await source.fetch(
                f"SELECT {_COLUMNS} FROM ledger_events WHERE notification_id > $1 "
                "ORDER BY notification_id LIMIT $2",
                after_position,
                limit,
            )
        else:
            rows = await source.fetch(
                f"SELECT {_COLUMNS} FROM ledger_events WHERE tenant_id = $1 "
                "AND notification_id > $2 ORDER BY notification_id LIMIT $3",
                tenant_id,
                after_position,
                limit,
            )
        return [RecordedEvent.from_row(r) for r in rows]

    async def read_aggregate(
        self, originator_id: UUID, conn: DbConnection | None = None
    ) -> list[DomainEventProtocol[UUID]]:
        """Every event of one aggregate, oldest first."""
        source: DbSource = conn or self.pool
        rows = await source.fetch(
            f"SELECT {_COLUMNS} FROM ledger_events WHERE originator_id = $1 "
            "ORDER BY originator_version",
            originator_id,
        )
        return [
            self.mapper.to_domain_event(RecordedEvent.from_row(r).as_stored_event()) for r in rows
        ]

    async def get(
        self, originator_id: UUID, cls: type[A], conn: DbConnection | None = None
    ) -> A | None:
        """Rebuild an aggregate from its events, or ``None`` if it has none or another type."""
        aggregate: Any = None
        for event in await self.read_aggregate(originator_id, conn):
            assert isinstance(event, CanMutateAggregate)
            aggregate = event.mutate(aggregate)
        return aggregate if isinstance(aggregate, cls) else None
