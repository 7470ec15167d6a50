"""The hash chain over ``ledger_events``: recomputed in Python from the rows, it equals what
``ledger_append_events`` stored, and a row changed afterwards breaks it exactly there."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from eventsourcing.persistence import StoredEvent

from ledger.store.event_store import append_stored_events
from tests.store_helpers import GENESIS_HASH, broken_links, chain_link, read_log, recompute_chain


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection[Any]]:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


async def _fill(conn: asyncpg.Connection[Any]) -> None:
    """Several appends: with and without tenants, a non-ASCII topic (its UTF-8 length differs
    from its length in characters), empty and binary-ish states, large versions."""
    tenant = uuid.uuid4()
    a, b = uuid.uuid4(), uuid.uuid4()
    batches: list[tuple[list[StoredEvent], list[uuid.UUID | None]]] = [
        (
            [
                StoredEvent(a, 1, "ledger.x:Created", b'{"n":1}'),
                StoredEvent(a, 2, "ledger.x:Änderung€", b'{"n":"\xc3\xa9"}'),
            ],
            [tenant, tenant],
        ),
        ([StoredEvent(b, 1, "t:E", b"")], [None]),
        ([StoredEvent(b, 2**62, "t:E", bytes(range(256)))], [None]),
        ([StoredEvent(a, 3, "ledger.x:Closed", b"{}")], [tenant]),
    ]
    for events, tenants in batches:
        outcome = await append_stored_events(conn, events, tenants)
        assert outcome.first_position is not None


async def test_python_recomputation_matches_stored_chain(conn: asyncpg.Connection[Any]) -> None:
    await _fill(conn)
    rows = await read_log(conn)
    assert [r.position for r in rows] == [1, 2, 3, 4, 5]

    assert recompute_chain(rows) == [r.chain_hash for r in rows]
    assert broken_links(rows) == []
    # The first link starts from 32 zero bytes; a wrong start changes every hash.
    assert chain_link(GENESIS_HASH, rows[0]) == rows[0].chain_hash
    assert recompute_chain(rows, prev=b"\x01" * 32)[0] != rows[0].chain_hash
    # The chain covers the tenant: the same row under no tenant hashes differently.
    assert rows[0].tenant_id is not None
    assert chain_link(GENESIS_HASH, replace(rows[0], tenant_id=None)) != rows[0].chain_hash


async def test_changed_row_breaks_the_chain_exactly_at_its_position(
    conn: asyncpg.Connection[Any],
) -> None:
    await _fill(conn)
    await conn.execute("UPDATE ledger_events SET state = $1 WHERE notification_id = 3", b'{"n":2}')

    rows = await read_log(conn)
    recomputed = recompute_chain(rows)
    stored = [r.chain_hash for r in rows]

    mismatched = [r.position for r, h in zip(rows, recomputed, strict=True) if h != r.chain_hash]
    assert mismatched[0] == 3
    assert recomputed[:2] == stored[:2]
    # Checked link by link (each row against the stored hash before it), only row 3 is bad.
    assert broken_links(rows) == [3]


async def test_any_changed_column_is_detected(conn: asyncpg.Connection[Any]) -> None:
    await _fill(conn)
    other_tenant = uuid.uuid4()
    await conn.execute("UPDATE ledger_events SET topic = 't:F' WHERE notification_id = 3")
    await conn.execute(
        "UPDATE ledger_events SET tenant_id = $1 WHERE notification_id = 5", other_tenant
    )

    assert broken_links(await read_log(conn)) == [3, 5]
