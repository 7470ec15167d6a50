"""Invariants of the books over random command sequences (hypothesis).

For any sequence of accepted commands:
- per currency, the sum of all debits equals the sum of all credits (posted and pending);
- every ledger's ``including_children`` equals the sum of its subtree's own balances;
- replaying the whole log into empty tables gives exactly the live read tables.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.bootstrap import Services, inline_projections
from ledger.commands.journals import EntryInput, PostJournal, reverse_journal
from ledger.projections.replay import differing_tables, projected_tables, replay_log
from ledger.queries.balances import ledger_balances, ledger_head
from ledger.queries.ledgers import LedgerRef
from ledger.store.migrations import migrate
from tests.conftest import with_database
from tests.property.conftest import Acceptance

TYPES = ("asset", "liability", "equity", "income", "expense")

# One ledger tree: (parent index or None, type, limited?) for ledgers 0..n-1.
trees = st.lists(
    st.tuples(st.integers(min_value=0, max_value=7), st.sampled_from(TYPES), st.booleans()),
    min_size=3,
    max_size=8,
)
postings = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=7),  # debit ledger
        st.integers(min_value=0, max_value=7),  # credit ledger
        st.integers(min_value=1, max_value=10_000),  # amount
        st.sampled_from(["posted", "pending"]),
        st.integers(min_value=-5, max_value=5),  # days from the base date
        st.sampled_from(["none", "commit", "void", "reverse"]),  # what happens next
    ),
    min_size=1,
    max_size=25,
)


@pytest.fixture
async def rebuild_url(server_url: str) -> AsyncIterator[str]:
    """An empty migrated database to replay the log into."""
    name = f"ledger_rebuild_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(server_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def own_and_subtree(services: Services, tenant_id: UUID) -> dict[UUID, dict[str, Any]]:
    rows = await services.pool.fetch(
        "SELECT ledger_id FROM ledgers WHERE tenant_id = $1", tenant_id
    )
    out: dict[UUID, dict[str, Any]] = {}
    for row in rows:
        head = await ledger_head(services.pool, tenant_id, row["ledger_id"])
        assert head is not None
        out[row["ledger_id"]] = {
            b["currency"]: b
            for b in (await ledger_balances(services.pool, head, dt.date.max, None)).rows
        }
    return out


@pytest.mark.slow
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tree=trees, moves=postings)
async def test_books_invariants_hold_for_any_accepted_sequence(
    services: Services,
    rebuild_url: str,
    acceptance: Acceptance,
    tree: list[tuple[int, str, bool]],
    moves: list[Any],
) -> None:
    slug = f"t{uuid.uuid4().hex[:12]}"
    await services.tenants.create_tenant(slug, "USD")
    tenant_id: UUID = await services.pool.fetchval(
        "SELECT tenant_id FROM tenants WHERE slug = $1", slug
    )
    ids: list[UUID] = []
    for index, (parent, kind, limited) in enumerate(tree):
        parent_ref = LedgerRef.by_id(ids[parent]) if index and parent < index else None
        opened = await services.ledgers.open_ledger(
            tenant_id,
            code=f"l{index}",
            name=f"L{index}",
            type=kind,
            parent=parent_ref,
            currency="USD" if limited else None,
            min_balance=0 if limited else None,
        )
        ids.append(opened.ledger_id)
    base = dt.date(2026, 6, 15)
    for debit, credit, amount, status, days, then in moves:
        debit, credit = debit % len(ids), credit % len(ids)
        command = PostJournal(
            tenant_id=tenant_id,
            base_currency="USD",
            date=base + dt.timedelta(days=days),
            status=status,
            entries=(
                EntryInput(ref=LedgerRef.by_id(ids[debit]), direction="debit", amount=amount),
                EntryInput(ref=LedgerRef.by_id(ids[credit]), direction="credit", amount=amount),
            ),
            request_sha256=uuid.uuid4().bytes * 2,
        )
        # Refused commands (limits, states) are part of any sequence.
        journal_id = None
        with acceptance.attempt():
            posted = await services.journals.post(command)
            journal_id = UUID(msgspec.json.decode(posted.document)["id"])
        if journal_id is None or then == "none":
            continue
        with acceptance.attempt():
            if then == "reverse":
                await reverse_journal(
                    services.journals, services.pool, tenant_id, journal_id, None, None
                )
            else:
                await services.journals.change_status(tenant_id, journal_id, then)

    # Debits equal credits per currency, posted and pending, over all of the tenant's ledgers.
    totals = await services.pool.fetch(
        "SELECT currency, sum(debits_posted) AS dp, sum(credits_posted) AS cp,"
        " sum(debits_pending) AS dq, sum(credits_pending) AS cq FROM balances"
        " WHERE tenant_id = $1 GROUP BY currency",
        tenant_id,
    )
    for row in totals:
        assert row["dp"] == row["cp"], row
        assert row["dq"] == row["cq"], row

    # A parent's including_children is the sum over its subtree of each ledger's own.
    balances = await own_and_subtree(services, tenant_id)
    ancestry = {
        r["ledger_id"]: r["ancestor_ids"]
        for r in await services.pool.fetch(
            "SELECT ledger_id, ancestor_ids FROM ledgers WHERE tenant_id = $1", tenant_id
        )
    }
    for ledger_id, by_currency in balances.items():
        subtree = [other for other, path in ancestry.items() if ledger_id in path]
        for currency, row in by_currency.items():
            debits = sum(balances[o].get(currency, {}).get("debits_posted", 0) for o in subtree)
            credits = sum(balances[o].get(currency, {}).get("credits_posted", 0) for o in subtree)
            assert row["including_children"]["debits_posted"] == debits
            assert row["including_children"]["credits_posted"] == credits

    # Rebuilt from the log, every read table equals the live one.
    projections = inline_projections()
    target = await asyncpg.connect(rebuild_url)
    try:
        await target.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        await migrate(target)
        await replay_log(services.store, target, projections)
        async with services.pool.acquire() as live:
            differences = await differing_tables(live, target, projected_tables(projections))
    finally:
        await target.close()
    assert differences == {}


async def test_a_changed_live_row_is_reported_as_a_difference(
    services: Services, rebuild_url: str
) -> None:
    # Negative control for the comparison above: it does see an edited read table.
    await services.tenants.create_tenant("acme", "USD")
    projections = inline_projections()
    target = await asyncpg.connect(rebuild_url)
    try:
        await migrate(target)
        await replay_log(services.store, target, projections)
        tables = projected_tables(projections)
        async with services.pool.acquire() as live:
            assert await differing_tables(live, target, tables) == {}
            await live.execute("UPDATE tenants SET name = 'edited'")
            assert set(await differing_tables(live, target, tables)) == {"tenants"}
    finally:
        await target.close()
