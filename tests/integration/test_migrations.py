"""Migrations: idempotent, safe from two processes at once, and refusing a changed file
(but for an earlier text listed in ``SUPERSEDED_CHECKSUMS``)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import pytest

from ledger.bootstrap import Services
from ledger.commands.journals import EntryInput, PostJournal
from ledger.domain.journals import PendingAction
from ledger.projections.replay import differing_tables
from ledger.queries.ledgers import LedgerRef
from ledger.store.migrations import (
    SUPERSEDED_CHECKSUMS,
    MigrationError,
    load_migrations,
    migrate,
)
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


async def test_a_superseded_checksum_is_accepted_as_recorded(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for version, superseded in SUPERSEDED_CHECKSUMS.items():
            (migration,) = [m for m in load_migrations() if m.version == version]
            assert migration.checksum not in superseded, "list only texts no longer shipped"
            for checksum in superseded:
                # A database migrated while the file had its earlier text ...
                await conn.execute(
                    "UPDATE ledger_migrations SET checksum = $2 WHERE version = $1",
                    version,
                    checksum,
                )
                # ... starts, applying nothing and keeping what it recorded.
                assert await migrate(conn) == []
                recorded = {row[0]: row[2] for row in await _recorded(conn)}
                assert recorded[version] == checksum
    finally:
        await conn.close()


async def test_a_migration_with_superseded_checksums_still_refuses_others(
    database_url: str,
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        version = next(iter(SUPERSEDED_CHECKSUMS))
        await conn.execute(
            "UPDATE ledger_migrations SET checksum = 'not-the-file' WHERE version = $1", version
        )

        with pytest.raises(MigrationError, match=f"{version:04d}"):
            await migrate(conn)
    finally:
        await conn.close()


async def test_0007_backfills_the_books_as_the_new_fold_writes_them(
    services: Services, empty_database_url: str
) -> None:
    # History written by the current code ...
    await services.tenants.create_tenant("acme", "USD")
    tenant_id = await services.pool.fetchval("SELECT tenant_id FROM tenants")
    await services.currencies.set_fx_rate(
        tenant_id, "EUR", "USD", Decimal("1.25"), dt.date(2026, 1, 1)
    )
    top = await services.ledgers.open_ledger(tenant_id, code="top", name="Top", type="asset")
    mid = await services.ledgers.open_ledger(
        tenant_id, code="mid", name="Mid", type="asset", parent=LedgerRef.by_id(top.ledger_id)
    )
    leaf = await services.ledgers.open_ledger(
        tenant_id, code="leaf", name="Leaf", type="asset", parent=LedgerRef.by_id(mid.ledger_id)
    )
    income = await services.ledgers.open_ledger(tenant_id, code="inc", name="Inc", type="income")
    days = [dt.date(2026, 6, d) for d in (10, 3, 10, 20, 1, 15)]  # back-dated ones too
    for index, day in enumerate(days):
        posted = await services.journals.post(
            PostJournal(
                tenant_id=tenant_id,
                base_currency="USD",
                date=day,
                currency="EUR" if index % 3 == 2 else None,
                status="pending" if index in (1, 4) else "posted",
                entries=(
                    EntryInput(
                        ref=LedgerRef.by_id((leaf, mid)[index % 2].ledger_id),
                        direction="debit",
                        amount=100 + index,
                    ),
                    EntryInput(
                        ref=LedgerRef.by_id(income.ledger_id),
                        direction="credit",
                        amount=100 + index,
                    ),
                ),
                request_sha256=bytes([index]) * 32,
            )
        )
        if index in (1, 4):
            journal_id = msgspec.json.decode(posted.document)["id"]
            action: PendingAction = "commit" if index == 1 else "void"
            await services.journals.change_status(tenant_id, UUID(journal_id), action)

    # ... copied into a database as release 0006 left it (the rows its tables had) ...
    old = await asyncpg.connect(empty_database_url)
    try:
        await migrate(old, upto=6)
        async with services.pool.acquire() as live:
            for table, columns, order in _RELEASE_0006_ROWS:
                rows = await live.fetch(f"SELECT {columns} FROM {table} ORDER BY {order}")
                names = [c.strip() for c in columns.split(",")]
                if table == "journals":  # 0006 stored each journal's 201 document
                    names.append("response")
                    rows = [(*r, b"{}") for r in rows]
                await old.copy_records_to_table(
                    table, records=[tuple(r) for r in rows], columns=names
                )
            # ... is migrated to 0007, whose backfill gives the rows the new fold wrote.
            await migrate(old)
            tables = ["balances", "balance_checkpoints", "balance_changes", "balance_movements"]
            assert await differing_tables(live, old, tables) == {}
    finally:
        await old.close()


_RELEASE_0006_ROWS = (
    (
        "ledgers",
        "ledger_id, tenant_id, num_id, code, name, type, normal_balance, parent_id, currency,"
        " min_balance, status, metadata, created_at, updated_at, position, version, depth,"
        " ancestor_ids",
        "depth",
    ),
    (
        "journals",
        "journal_id, tenant_id, number, status, date, accrual_date, effective_date,"
        " description, reference, external_id, currency, base_currency, request_sha256,"
        " duplicate_sha256, reversal_of, reversed_by, created_at, position, version",
        "position",
    ),
    (
        "journal_entries",
        "entry_id, journal_id, tenant_id, entry_index, ledger_id, direction, amount, currency,"
        " amount_base, description, metadata",
        "entry_id",
    ),
    (
        "balance_movements",
        "tenant_id, ledger_id, currency, effective_date, position, journal_id, entry_id,"
        " debits_posted, credits_posted, debits_pending, credits_pending",
        "movement_id",
    ),
    (
        "balances",
        "ledger_id, currency, tenant_id, debits_posted, credits_posted, debits_pending,"
        " credits_pending",
        "ledger_id, currency",
    ),
)
