"""The reconciliation read tables are a fold of the log: rebuilt from it, they equal the live
ones, after any sequence of imports, matches, unmatches and runs (including an item matched,
unmatched and matched again, and several of those in one group-commit batch)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.bootstrap import Services, inline_projections
from ledger.commands.journals import EntryInput, PostJournal
from ledger.commands.reconciliation import CreateMatch, ItemRef
from ledger.commands.reconciliation_runs import RunRequest
from ledger.commands.records import ImportedRecord, RecordInput
from ledger.errors import LedgerError
from ledger.projections.records import RecordsProjection
from ledger.projections.replay import differing_tables, projected_tables, replay_log
from ledger.queries.ledgers import LedgerRef
from ledger.store.migrations import migrate
from tests.conftest import with_database
from tests.property.conftest import Acceptance

steps = st.lists(
    st.tuples(
        st.sampled_from(["import", "match", "unmatch", "run", "journal"]),
        st.integers(min_value=0, max_value=30),
        st.integers(min_value=0, max_value=30),
    ),
    min_size=3,
    max_size=25,
)


@pytest.fixture
async def rebuild_url(server_url: str) -> AsyncIterator[str]:
    name = f"ledger_rebuild_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(server_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def assert_rebuilt_equals_live(services: Services, rebuild_url: str) -> None:
    projections = inline_projections()
    target = await asyncpg.connect(rebuild_url)
    try:
        await target.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        await migrate(target)
        await replay_log(services.store, target, projections, batch_events=7)
        async with services.pool.acquire() as live:
            tables = projected_tables(projections)
            assert set(RecordsProjection.tables) <= set(tables)
            assert await differing_tables(live, target, tables) == {}
    finally:
        await target.close()


async def _imported(
    acceptance: Acceptance, importing: Awaitable[list[ImportedRecord | LedgerError]]
) -> list[ImportedRecord | LedgerError]:
    """The outcomes of an import, each counted as a command (a refused call: all refused)."""
    try:
        outcomes = await importing
    except LedgerError as refused:
        outcomes = [refused]
    acceptance.count(outcomes)
    return outcomes


@pytest.mark.slow
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moves=steps)
async def test_rebuilt_reconciliation_tables_equal_the_live_ones(
    services: Services, rebuild_url: str, acceptance: Acceptance, moves: list[tuple[str, int, int]]
) -> None:
    slug = f"t{uuid.uuid4().hex[:12]}"
    await services.tenants.create_tenant(slug, "USD")
    tenant: UUID = await services.pool.fetchval(
        "SELECT tenant_id FROM tenants WHERE slug = $1", slug
    )
    await services.ledgers.open_ledger(tenant, code="cash", name="Cash", type="asset")
    await services.ledgers.open_ledger(tenant, code="sales", name="Sales", type="income")
    day = dt.date(2026, 6, 1)
    record_ids: list[int] = []
    entries: list[UUID] = []
    match_ids: list[UUID] = []
    # Refused commands are part of any sequence.
    for kind, a, b in moves:
        if kind == "import":
            outcomes = await _imported(
                acceptance,
                services.records.import_records(
                    tenant,
                    [
                        RecordInput(
                            data_stream_key=("bank", "psp")[i % 2],
                            amount=100 * (1 + (a + i) % 2),
                            direction=("credit", "debit")[i % 2],
                            date=day + dt.timedelta(days=(a + i) % 4),
                            external_id=f"x{(a + i) % 7}" if i % 3 == 0 else None,
                            metadata={"z": i, "a": [a, b]},
                        )
                        for i in range(1 + b % 4)
                    ],
                ),
            )
            for outcome in outcomes:
                if not isinstance(outcome, LedgerError) and not outcome.replayed:
                    record_ids.append(msgspec.json.decode(outcome.document)["id"])
        elif kind == "journal":
            with acceptance.attempt():
                posted = await services.journals.post(
                    PostJournal(
                        tenant_id=tenant,
                        base_currency="USD",
                        date=day + dt.timedelta(days=a % 4),
                        entries=(
                            EntryInput(
                                ref=LedgerRef.by_code("cash"), direction="debit", amount=100
                            ),
                            EntryInput(
                                ref=LedgerRef.by_code("sales"), direction="credit", amount=100
                            ),
                        ),
                        request_sha256=uuid.uuid4().bytes * 2,
                    )
                )
                document = msgspec.json.decode(posted.document)
                entries.append(UUID(document["entries"][0]["id"]))
        elif kind == "match" and record_ids:
            refs = [ItemRef(record_id=record_ids[a % len(record_ids)])]
            if entries and b % 3 == 0:
                refs.append(ItemRef(entry_id=entries[b % len(entries)]))
            else:
                refs.append(ItemRef(record_id=record_ids[(a + 1 + b % 2) % len(record_ids)]))
            # Two concurrent commands: one batch, decided in order.
            results = await asyncio.gather(
                services.reconciliation.create_match(
                    CreateMatch(tenant_id=tenant, items=tuple(refs), tolerance=200)
                ),
                services.reconciliation.create_match(
                    CreateMatch(tenant_id=tenant, items=tuple(reversed(refs)), tolerance=200)
                ),
                return_exceptions=True,
            )
            acceptance.count(results)
            match_ids += [r.id for r in results if not isinstance(r, BaseException) and r.id]
        elif kind == "unmatch" and match_ids:
            target = match_ids[a % len(match_ids)]
            unmatched = await asyncio.gather(
                services.reconciliation.unmatch(tenant, target),
                services.reconciliation.create_match(
                    CreateMatch(
                        tenant_id=tenant,
                        items=(
                            ItemRef(record_id=record_ids[a % len(record_ids)]),
                            ItemRef(record_id=record_ids[(a + 1) % len(record_ids)]),
                        ),
                        tolerance=200,
                    )
                ),
                return_exceptions=True,
            )
            acceptance.count(unmatched)
        elif kind == "run":
            with acceptance.attempt():
                await services.reconciliation.run(
                    RunRequest(
                        tenant_id=tenant,
                        left="bank",
                        right=("psp", "ledger:cash")[b % 2],
                        match_on=("amount", "date"),
                        date_window_days=a % 3,
                        amount_tolerance=b % 2 * 100,
                        allow_one_to_many=bool(a % 2),
                    )
                )
    await assert_rebuilt_equals_live(services, rebuild_url)


async def test_a_known_history_rebuilds_exactly(services: Services, rebuild_url: str) -> None:
    await services.tenants.create_tenant("acme", "USD")
    tenant: UUID = await services.pool.fetchval("SELECT tenant_id FROM tenants")
    await services.ledgers.open_ledger(tenant, code="cash", name="Cash", type="asset")
    await services.ledgers.open_ledger(tenant, code="sales", name="Sales", type="income")
    day = dt.date(2026, 6, 1)
    posted = await services.journals.post(
        PostJournal(
            tenant_id=tenant,
            base_currency="USD",
            date=day,
            entries=(
                EntryInput(ref=LedgerRef.by_code("cash"), direction="debit", amount=300),
                EntryInput(ref=LedgerRef.by_code("sales"), direction="credit", amount=300),
            ),
            request_sha256=uuid.uuid4().bytes * 2,
        )
    )
    entry = UUID(msgspec.json.decode(posted.document)["entries"][0]["id"])
    records = [
        RecordInput(
            data_stream_key=stream,
            amount=amount,
            direction="credit" if stream == "bank" else "debit",
            date=day + dt.timedelta(days=offset),
            metadata={"k": [offset, {"b": 1, "a": 2}]},
        )
        for stream, amount, offset in (
            ("bank", 100, 0),
            ("psp", 100, 1),
            ("bank", 300, 0),
            ("bank", 500, 2),
            ("psp", 200, 2),
            ("psp", 300, 3),
            ("bank", 700, 5),
            ("psp", 700, 6),
        )
    ]
    await services.records.import_records(tenant, records)
    first = await services.reconciliation.create_match(
        CreateMatch(tenant_id=tenant, items=(ItemRef(record_id=1), ItemRef(record_id=2)))
    )
    assert first.id is not None
    # One batch: unmatch, then match the same items again (order matters to the fold).
    await asyncio.gather(
        services.reconciliation.unmatch(tenant, first.id),
        services.reconciliation.create_match(
            CreateMatch(tenant_id=tenant, items=(ItemRef(record_id=1), ItemRef(record_id=2)))
        ),
    )
    await services.reconciliation.create_match(
        CreateMatch(tenant_id=tenant, items=(ItemRef(record_id=3), ItemRef(entry_id=entry)))
    )
    outcome = await services.reconciliation.run(
        RunRequest(
            tenant_id=tenant,
            left="bank",
            right="psp",
            match_on=("amount", "date"),
            date_window_days=3,
            allow_one_to_many=True,
        )
    )
    assert outcome.matched == 2  # 500 = 200 + 300, and 700 with 700
    counts: Any = await services.pool.fetchrow(
        "SELECT count(*) AS n, count(*) FILTER (WHERE status = 'unmatched') AS gone,"
        " count(run_id) AS by_run FROM matches"
    )
    assert (counts["n"], counts["gone"], counts["by_run"]) == (5, 1, 2)
    await assert_rebuilt_equals_live(services, rebuild_url)
