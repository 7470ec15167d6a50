"""Optimistic concurrency on aggregate versions: a second append of an existing
(originator_id, originator_version) is refused whole, and the conflict is reported by index."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from eventsourcing.persistence import StoredEvent

from ledger.errors import ConcurrencyConflict
from ledger.store.database import create_pool
from ledger.store.event_store import AppendOutcome, EventStore, append_stored_events
from tests.store_helpers import Widget, read_log


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool[Any]]:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection[Any]]:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


def _stored(originator_id: uuid.UUID, version: int, state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(
        originator_id=originator_id, originator_version=version, topic="t:E", state=state
    )


async def test_second_append_of_same_version_raises_conflict_and_appends_nothing(
    pool: asyncpg.Pool[Any],
) -> None:
    store = EventStore(pool)
    widget = Widget.create("first")
    widget_id = widget.id
    assert await store.append(widget.collect_events(), tenant_id=None) == [1]

    # A second writer that also believed the widget was new, and renames it in the same call.
    rival = Widget.create("rival", widget_id=widget_id)
    rival_events = [*rival.collect_events(), Widget.renamed_event(widget_id, 2, "rival 2")]
    unrelated = Widget.create("unrelated").collect_events()

    with pytest.raises(ConcurrencyConflict) as raised:
        await store.append([*unrelated, *rival_events], tenant_id=None)

    assert raised.value.details == {"originator_id": str(widget_id), "version": 1}
    assert await store.max_position() == 1
    rows = await read_log(pool)
    assert [(r.originator_id, r.originator_version) for r in rows] == [(widget_id, 1)]
    restored = await store.get(widget_id, Widget)
    assert restored is not None
    assert restored.name == "first"
    # The same append without the stale events goes through, at the next position.
    assert await store.append([*unrelated], tenant_id=None) == [2]


async def test_append_reports_every_conflicting_index(conn: asyncpg.Connection[Any]) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    first = await append_stored_events(conn, [_stored(a, 1), _stored(b, 1)], [None, None])
    assert first == AppendOutcome(first_position=1, conflicts=())

    outcome = await append_stored_events(
        conn,
        [_stored(a, 2), _stored(a, 1, b'{"x":1}'), _stored(uuid.uuid4(), 1), _stored(b, 1)],
        [None] * 4,
    )

    assert outcome == AppendOutcome(first_position=None, conflicts=(1, 3))
    assert await conn.fetchval("SELECT count(*) FROM ledger_events") == 2
    assert (
        await conn.fetchval(
            "SELECT state FROM ledger_events WHERE originator_id = $1 AND originator_version = 1", a
        )
        == b"{}"
    )
    # Nothing was drawn for the refused call: the next append continues at 3.
    again = await append_stored_events(conn, [_stored(a, 2)], [None])
    assert again == AppendOutcome(first_position=3, conflicts=())


async def test_concurrent_appends_of_same_version_admit_exactly_one(
    pool: asyncpg.Pool[Any],
) -> None:
    store = EventStore(pool)
    widget_id = uuid.uuid4()
    attempts = [Widget.create(f"w{i}", widget_id=widget_id).collect_events() for i in range(8)]

    results = await asyncio.gather(
        *(store.append(events, tenant_id=None) for events in attempts), return_exceptions=True
    )

    winners = [r for r in results if isinstance(r, list)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert winners == [[1]]
    assert len(losers) == 7
    assert all(isinstance(e, ConcurrencyConflict) for e in losers)
    assert await store.max_position() == 1


async def test_duplicate_version_within_one_call_is_refused_by_primary_key(
    conn: asyncpg.Connection[Any],
) -> None:
    # The function checks against stored rows only; within one call the primary key is the
    # check (group commit refuses such a batch before appending: see test_group_commit.py).
    a = uuid.uuid4()
    with pytest.raises(asyncpg.UniqueViolationError):
        await append_stored_events(conn, [_stored(a, 1), _stored(a, 1)], [None, None])

    assert await conn.fetchval("SELECT count(*) FROM ledger_events") == 0
