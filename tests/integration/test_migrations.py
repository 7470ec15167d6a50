"""Migrations: idempotent, safe from two processes at once, and refusing a changed file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from ledger.store.migrations import MigrationError, load_migrations, migrate
from tests.store_helpers import (
    create_database,
    drop_database,
    scratch_database_name,
    with_database,
)


@pytest.fixture
async def empty_database_url(server_url: str) -> AsyncIterator[str]:
    """A database with nothing in it (not cloned from the migrated template)."""
    name = scratch_database_name("ledger_empty")
    await create_database(server_url, name)
    yield with_database(server_url, name)
    await drop_database(server_url, name)


async def _recorded(conn: asyncpg.Connection[Any]) -> list[tuple[int, str, str]]:
    rows = await conn.fetch("SELECT version, name, checksum FROM ledger_migrations ORDER BY 1")
    return [(r["version"], r["name"], r["checksum"]) for r in rows]


def _expected() -> list[tuple[int, str, str]]:
    return [(m.version, m.name, m.checksum) for m in load_migrations()]


async def test_migrate_on_a_migrated_database_applies_nothing(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        assert await migrate(conn) == []
        assert await migrate(conn) == []
        assert await _recorded(conn) == _expected()
    finally:
        await conn.close()


async def test_migrate_twice_on_empty_database_applies_everything_once(
    empty_database_url: str,
) -> None:
    conn = await asyncpg.connect(empty_database_url)
    try:
        first = await migrate(conn)
        second = await migrate(conn)

        assert [m.version for m in first] == [m.version for m in load_migrations()]
        assert first, "the package ships at least one migration"
        assert second == []
        assert await _recorded(conn) == _expected()
        assert await conn.fetchval("SELECT to_regclass('ledger_events') IS NOT NULL")
        assert await conn.fetchval("SELECT to_regproc('ledger_append_events') IS NOT NULL")
    finally:
        await conn.close()


async def test_concurrent_migrations_on_empty_database_both_succeed_once_each(
    empty_database_url: str,
) -> None:
    conns = [await asyncpg.connect(empty_database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))

        applied = [m.version for result in results for m in result]
        assert sorted(applied) == [m.version for m in load_migrations()]
        # One caller applied everything; the others, serialised behind it, found it done.
        assert sorted(len(r) for r in results) == [0, 0, len(load_migrations())]
        assert await _recorded(conns[0]) == _expected()
    finally:
        for conn in conns:
            await conn.close()


async def test_tampered_checksum_raises_migration_error(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        version = load_migrations()[0].version
        await conn.execute(
            "UPDATE ledger_migrations SET checksum = 'not-the-file' WHERE version = $1", version
        )

        with pytest.raises(MigrationError, match=f"{version:04d}"):
            await migrate(conn)

        # Nothing else was touched: the tampered row is as it was left.
        recorded = await _recorded(conn)
        assert recorded[0][2] == "not-the-file"
        assert recorded[1:] == _expected()[1:]
    finally:
        await conn.close()
