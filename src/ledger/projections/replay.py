"""Replaying the log into projections, and comparing read tables row by row.

Every read table is a fold of ``ledger_events``: replaying the log from position 1 into
empty tables must give exactly the live rows. Tests use this to prove it for every
projection, and operators' tools (rebuild, audit) build on the same two functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ledger import limits
from ledger.store.database import DbConnection
from ledger.store.event_store import EventStore
from ledger.store.group_commit import InlineProjection, PositionedEvent

REPLAY_BATCH_EVENTS: Final = limits.REPLAY_BATCH_EVENTS

# Surrogate keys that number rows in insertion order: not part of what a fold decides.
SURROGATE_COLUMNS: Final = {"balance_movements": ("movement_id",)}


async def replay_log(
    store: EventStore,
    target: DbConnection,
    projections: Sequence[InlineProjection],
    *,
    batch_events: int = REPLAY_BATCH_EVENTS,
) -> int:
    """Fold every event of ``store`` into ``projections`` on ``target``; return the last
    position replayed. Each batch commits on its own, in position order."""
    after = 0
    while True:
        recorded = await store.read_after(after, batch_events)
        if not recorded:
            return after
        events = [
            PositionedEvent(
                r.position, r.tenant_id, store.mapper.to_domain_event(r.as_stored_event())
            )
            for r in recorded
        ]
        async with target.transaction():
            for projection in projections:
                await projection.apply(target, events)
        after = recorded[-1].position


def projected_tables(projections: Sequence[InlineProjection]) -> list[str]:
    """Every table the projections write, once, in a stable order."""
    return sorted({table for projection in projections for table in projection.tables})


async def compared_columns(conn: DbConnection, table: str, schema: str | None = None) -> list[str]:
    """The columns of ``table`` (in ``schema``, default the current one) that a fold decides:
    every column but the surrogate keys, in table order."""
    columns = [
        r["column_name"]
        for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = coalesce($2, current_schema()) AND table_name = $1"
            " ORDER BY ordinal_position",
            table,
            schema,
        )
        if r["column_name"] not in SURROGATE_COLUMNS.get(table, ())
    ]
    assert columns, f"no such table {table}"
    return columns


async def table_rows(conn: DbConnection, table: str) -> list[tuple[Any, ...]]:
    """All rows of ``table`` without surrogate columns, sorted: two folds are equal iff
    their ``table_rows`` are (small tables only: tests; ``audit verify`` compares in SQL)."""
    columns = await compared_columns(conn, table)
    select = ", ".join(f'"{c}"' for c in columns)
    rows = await conn.fetch(f'SELECT {select} FROM "{table}"')
    return sorted((tuple(r.values()) for r in rows), key=repr)


async def differing_tables(
    live: DbConnection, rebuilt: DbConnection, tables: Sequence[str]
) -> dict[str, tuple[int, int]]:
    """Tables whose rows differ: name -> (live row count, rebuilt row count)."""
    out: dict[str, tuple[int, int]] = {}
    for table in tables:
        a, b = await table_rows(live, table), await table_rows(rebuilt, table)
        if a != b:
            out[table] = (len(a), len(b))
    return out
