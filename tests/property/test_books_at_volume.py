"""The maintained books (balances with the cascade, checkpoints, changes) against brute force.

For any accepted sequence of postings (posted or pending, committed, voided, reversed, dated
around a base date, back-dated too) over a random ledger tree, with the log's positions pushed
across several buckets of 1,024 positions by events no projection folds:

- every ``balances`` and ``balance_checkpoints`` row's subtree totals are the sum of the own
  totals of its subtree (the cascade, checked on the rows themselves);
- a balance read as of any date and known at any position (bucket edges included) equals the
  sum of the movements it covers, for every ledger, own and including children;
- the trial balance as of any date and known at any position equals the same sums in base
  currency;
- walking a statement page by page, ascending, descending and back with ``prev_cursor``, gives
  the brute-force statement with its running balances;
- folding the log again through the fast path over stored rows, cut at a random place, gives
  exactly the live tables.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.audit.books import broken_invariants
from ledger.bench.aggregate import BenchAccount
from ledger.bootstrap import Services, inline_projections
from ledger.commands.journals import EntryInput, PostJournal, reverse_journal
from ledger.projections.books import BooksProjection
from ledger.projections.replay import differing_tables, projected_tables
from ledger.projections.runner import apply_rows, read_rows
from ledger.queries.balances import ledger_balances, ledger_head, statement
from ledger.queries.ledgers import LedgerRef
from ledger.queries.reports import trial_balance
from ledger.store.migrations import migrate
from tests.conftest import with_database
from tests.projections.helpers import REACH_WAIT_SECONDS
from tests.property.conftest import Acceptance

BASE = dt.date(2026, 6, 15)
BUCKET = 1024
TYPES = ("asset", "liability", "equity", "income", "expense")

trees = st.lists(
    st.tuples(st.integers(min_value=0, max_value=9), st.sampled_from(TYPES)),
    min_size=2,
    max_size=10,
)
moves = st.lists(
    st.one_of(
        st.tuples(
            st.just("post"),
            st.integers(min_value=0, max_value=9),  # debit ledger
            st.integers(min_value=0, max_value=9),  # credit ledger
            st.integers(min_value=1, max_value=10_000),  # amount
            st.sampled_from(["USD", "USD", "EUR"]),
            st.sampled_from(["posted", "posted", "pending"]),
            st.integers(min_value=-6, max_value=6),  # days from BASE
            st.sampled_from(["none", "none", "commit", "void", "reverse"]),
        ),
        # Events no projection folds: positions move on (across bucket edges).
        st.tuples(st.just("skip"), st.integers(min_value=1, max_value=1_500)),
    ),
    min_size=1,
    max_size=24,
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


async def _tree(services: Services, tenant_id: UUID, shape: list[tuple[int, str]]) -> list[UUID]:
    ids: list[UUID] = []
    for index, (parent, kind) in enumerate(shape):
        opened = await services.ledgers.open_ledger(
            tenant_id,
            code=f"l{index}",
            name=f"L{index}",
            type=kind,
            parent=LedgerRef.by_id(ids[parent]) if index and parent < index else None,
        )
        ids.append(opened.ledger_id)
    return ids


async def _skip(services: Services, count: int) -> None:
    events = [
        event
        for _ in range(count)
        for event in BenchAccount.open(
            account_id=uuid.uuid4(), code="x", kind="asset", currency="USD"
        ).collect_events()
    ]
    await services.store.append(events, None)


async def _play(
    services: Services, tenant_id: UUID, ids: list[UUID], script: list[Any], acceptance: Acceptance
) -> None:
    for move in script:
        if move[0] == "skip":
            await _skip(services, move[1])
            continue
        _, debit, credit, amount, currency, status, days, then = move
        command = PostJournal(
            tenant_id=tenant_id,
            base_currency="USD",
            date=BASE + dt.timedelta(days=days),
            currency=currency,
            status=status,
            entries=(
                EntryInput(
                    ref=LedgerRef.by_id(ids[debit % len(ids)]), direction="debit", amount=amount
                ),
                EntryInput(
                    ref=LedgerRef.by_id(ids[credit % len(ids)]), direction="credit", amount=amount
                ),
            ),
            request_sha256=uuid.uuid4().bytes * 2,
        )
        # Refused commands (states) are part of any sequence.
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


class Oracle:
    """Brute-force sums over every movement of the tenant (no checkpoint, no change row)."""

    def __init__(self, movements: list[asyncpg.Record], ancestry: dict[UUID, list[UUID]]):
        self.movements = movements
        self.ancestry = ancestry

    def totals(self, ledger_id: UUID, day: dt.date, position: int) -> dict[str, list[int]]:
        """Per currency: own (dp, cp, dq, cq), then subtree (dp, cp)."""
        out: dict[str, list[int]] = {}
        for m in self.movements:
            if m["effective_date"] > day or m["position"] > position:
                continue
            if ledger_id not in self.ancestry[m["ledger_id"]]:
                continue
            sums = out.setdefault(m["currency"], [0] * 6)
            if m["ledger_id"] == ledger_id:
                sums[0] += m["debits_posted"]
                sums[1] += m["credits_posted"]
                sums[2] += m["debits_pending"]
                sums[3] += m["credits_pending"]
            sums[4] += m["debits_posted"]
            sums[5] += m["credits_posted"]
        return out

    def base(self, day: dt.date, position: int) -> dict[UUID, tuple[int, int]]:
        out: dict[UUID, list[int]] = {}
        for m in self.movements:
            if m["effective_date"] <= day and m["position"] <= position:
                sums = out.setdefault(m["ledger_id"], [0, 0])
                sums[0] += m["debits_base"]
                sums[1] += m["credits_base"]
        return {k: (v[0], v[1]) for k, v in out.items() if v[0] or v[1]}

    def statement(self, ledger_id: UUID) -> list[tuple[str, int, int]]:
        """(date, position, signed running net debits) of each posted line, in order."""
        lines = sorted(
            (m for m in self.movements if m["ledger_id"] == ledger_id),
            key=lambda m: (m["effective_date"], m["position"], m["movement_id"]),
        )
        running: dict[str, int] = {}
        out = []
        for m in lines:
            if not (m["debits_posted"] or m["credits_posted"]):
                continue
            net = running.get(m["currency"], 0) + m["debits_posted"] - m["credits_posted"]
            running[m["currency"]] = net
            out.append((m["effective_date"].isoformat(), m["position"], net))
        return out


async def _check_cascade_rows(services: Services, tenant_id: UUID) -> None:
    ancestry = {
        r["ledger_id"]: list(r["ancestor_ids"])
        for r in await services.pool.fetch(
            "SELECT ledger_id, ancestor_ids FROM ledgers WHERE tenant_id = $1", tenant_id
        )
    }
    rows = await services.pool.fetch("SELECT * FROM balances WHERE tenant_id = $1", tenant_id)
    own = {(r["ledger_id"], r["currency"]): r for r in rows}
    for (ledger_id, currency), row in own.items():
        subtree = [o for (o, c) in own if c == currency and ledger_id in ancestry[o]]
        for side in ("debits_posted", "credits_posted", "debits_pending", "credits_pending"):
            assert row[f"tree_{side}"] == sum(own[(o, currency)][side] for o in subtree)
    checkpoints = await services.pool.fetch(
        "SELECT c.* FROM balance_checkpoints c JOIN ledgers l USING (ledger_id)"
        " WHERE l.tenant_id = $1",
        tenant_id,
    )
    by_key: dict[tuple[UUID, str], list[asyncpg.Record]] = {}
    for c in checkpoints:
        by_key.setdefault((c["ledger_id"], c["currency"]), []).append(c)

    def own_as_of(ledger_id: UUID, currency: str, day: dt.date, side: str) -> Decimal:
        rows = [c for c in by_key.get((ledger_id, currency), []) if c["effective_date"] <= day]
        return max(rows, key=lambda c: c["effective_date"])[side] if rows else Decimal(0)

    for c in checkpoints:
        subtree = [o for o in ancestry if c["ledger_id"] in ancestry[o]]
        for side in ("debits_posted", "credits_posted", "debits_pending", "credits_pending"):
            expected = sum(own_as_of(o, c["currency"], c["effective_date"], side) for o in subtree)
            assert c[f"tree_{side}"] == expected, (c, side)


async def _tenant_position(services: Services, tenant_id: UUID, upto: int) -> int:
    return int(
        await services.pool.fetchval(
            "SELECT coalesce(max(notification_id), 0) FROM ledger_events"
            " WHERE tenant_id = $1 AND notification_id <= $2",
            tenant_id,
            upto,
        )
    )


async def _check_reads(services: Services, tenant_id: UUID, ids: list[UUID]) -> None:
    movements = await services.pool.fetch(
        "SELECT * FROM balance_movements WHERE tenant_id = $1", tenant_id
    )
    ancestry = {
        r["ledger_id"]: list(r["ancestor_ids"])
        for r in await services.pool.fetch(
            "SELECT ledger_id, ancestor_ids FROM ledgers WHERE tenant_id = $1", tenant_id
        )
    }
    oracle = Oracle(list(movements), ancestry)
    head = int(await services.pool.fetchval("SELECT position FROM ledger_chain_head"))
    positions = {m["position"] for m in movements} | {head}
    edges = {b * BUCKET + d for b in range(head // BUCKET + 1) for d in (-1, 0, 1)}
    probes = sorted({p for p in positions | {p - 1 for p in positions} | edges if 0 <= p <= head})
    probes = [*probes[:: max(1, len(probes) // 12)], head]
    days = [BASE + dt.timedelta(days=d) for d in (-7, -3, 0, 2, 7)]
    for day in days:
        for position in probes:
            for ledger_id in ids:
                ledger = await ledger_head(services.pool, tenant_id, ledger_id)
                assert ledger is not None
                answer = await ledger_balances(services.pool, ledger, day, position)
                # The tenant's own last position up to what was asked (issue 12: no other
                # tenant's volume shows).
                assert answer.position == await _tenant_position(services, tenant_id, position)
                got = {
                    r["currency"]: [
                        r["debits_posted"],
                        r["credits_posted"],
                        r["debits_pending"],
                        r["credits_pending"],
                        r["including_children"]["debits_posted"],
                        r["including_children"]["credits_posted"],
                    ]
                    for r in answer.rows
                }
                expected = oracle.totals(ledger_id, day, position)
                for currency in set(got) | set(expected):
                    assert got.get(currency, [0] * 6) == expected.get(currency, [0] * 6), (
                        ledger_id,
                        day,
                        position,
                        currency,
                    )
            page = await trial_balance(services.pool, tenant_id, day, position, limit=500)
            assert {line.ledger_id: (line.debits, line.credits) for line in page.lines} == (
                oracle.base(day, position)
            )
            assert page.total_debits == page.total_credits
    for ledger_id in ids:
        await _check_statement(services, tenant_id, ledger_id, oracle.statement(ledger_id))


async def _walk(
    services: Services, tenant_id: UUID, ledger_id: UUID, order: str, size: int
) -> tuple[list[list[dict[str, Any]]], list[str | None]]:
    ledger = await ledger_head(services.pool, tenant_id, ledger_id)
    assert ledger is not None
    pages, prevs = [], []
    cursor: str | None = None
    while True:
        page = await statement(services.pool, ledger, None, None, None, size, cursor, order)  # type: ignore[arg-type]
        pages.append(page.lines)
        prevs.append(page.prev_cursor)
        if page.next_cursor is None:
            return pages, prevs
        cursor = page.next_cursor


async def _check_statement(
    services: Services, tenant_id: UUID, ledger_id: UUID, expected: list[tuple[str, int, int]]
) -> None:
    ledger = await ledger_head(services.pool, tenant_id, ledger_id)
    assert ledger is not None
    sign = 1 if ledger.normal_balance == "debit" else -1
    want = [(d, p, sign * net) for d, p, net in expected]
    for size in (1, 3):
        pages, prevs = await _walk(services, tenant_id, ledger_id, "asc", size)
        lines = [(x["date"], x["position"], x["running_balance"]) for page in pages for x in page]
        assert lines == want
        assert prevs[0] is None
        # Back from the last page with prev_cursor gives the same pages.
        back = []
        cursor = prevs[-1]
        while cursor is not None:
            page = await statement(services.pool, ledger, None, None, None, size, cursor)
            back.append(page.lines)
            cursor = page.prev_cursor
        assert back[::-1] == pages[:-1]
        pages, _ = await _walk(services, tenant_id, ledger_id, "desc", size)
        lines = [(x["date"], x["position"], x["running_balance"]) for page in pages for x in page]
        assert lines == want[::-1]


async def _check_fast_rebuild(services: Services, rebuild_url: str, cut: int) -> None:
    projections = inline_projections()
    target = await asyncpg.connect(rebuild_url)
    try:
        await target.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        await migrate(target)
        head = int(await services.pool.fetchval("SELECT position FROM ledger_chain_head"))
        books = next(p for p in projections if isinstance(p, BooksProjection))
        async with services.pool.acquire() as source:
            # As a rebuild does: up to ``cut`` in bulk, the totals derived at once, the rest
            # batch by batch.
            bounds = sorted({0, min(cut, head), head})
            for after, upto in itertools.pairwise(bounds):
                rows = await read_rows(source, after, upto, None)
                async with target.transaction():
                    await apply_rows(
                        target, projections, rows, services.store.mapper, bulk=upto <= cut
                    )
                if upto <= cut < head or upto == head <= cut:
                    await books.finish_bulk(target)
            assert await differing_tables(source, target, projected_tables(projections)) == {}
    finally:
        await target.close()


@pytest.mark.slow
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shape=trees, script=moves, cut=st.integers(min_value=0, max_value=4_000))
async def test_maintained_books_equal_brute_force(
    services: Services,
    rebuild_url: str,
    acceptance: Acceptance,
    shape: list[Any],
    script: list[Any],
    cut: int,
) -> None:
    slug = f"t{uuid.uuid4().hex[:12]}"
    await services.tenants.create_tenant(slug, "USD")
    tenant_id: UUID = await services.pool.fetchval(
        "SELECT tenant_id FROM tenants WHERE slug = $1", slug
    )
    await services.currencies.set_fx_rate(
        tenant_id, "EUR", "USD", Decimal("1.1"), BASE - dt.timedelta(days=30)
    )
    ids = await _tree(services, tenant_id, shape)
    await _play(services, tenant_id, ids, script, acceptance)
    await _check_cascade_rows(services, tenant_id)
    async with services.pool.acquire() as conn:
        assert await broken_invariants(conn) == []
    await _check_reads(services, tenant_id, ids)
    await _check_fast_rebuild(services, rebuild_url, cut)


async def test_each_books_invariant_names_the_rows_that_break_it(services: Services) -> None:
    # Negative controls: each edit (rolled back after) breaks the invariant that watches it.
    await services.tenants.create_tenant("acme", "USD")
    tenant_id: UUID = await services.pool.fetchval("SELECT tenant_id FROM tenants")
    ids = await _tree(services, tenant_id, [(0, "asset"), (0, "asset"), (1, "income")])
    played = Acceptance()
    await _play(services, tenant_id, ids, [("post", 2, 0, 70, "USD", "posted", 0, "none")], played)
    assert played.accepted == played.submitted == 1
    # The two-folds check compares with the asynchronous trial balance once it caught up.
    head = int(await services.pool.fetchval("SELECT position FROM ledger_chain_head"))
    assert await services.tracker.wait_for("trial_balance", head, REACH_WAIT_SECONDS) == head
    edits = {
        "double entry": "UPDATE balances SET debits_posted = debits_posted + 1,"
        " tree_debits_posted = tree_debits_posted + 1 WHERE ledger_id = $1",
        "the cascade": "UPDATE balances SET tree_credits_posted = 7 WHERE ledger_id = $1",
        "checkpoints": "UPDATE balance_checkpoints SET debits_base = 1 WHERE ledger_id = $1",
        "changes": "UPDATE balance_changes SET credits_pending = 3 WHERE ledger_id = $1",
        "two folds": "UPDATE trial_balance_daily SET debits_base = debits_base + 1"
        " WHERE ledger_id = $1",
    }
    async with services.pool.acquire() as conn:
        assert await broken_invariants(conn) == []
        for prefix, sql in edits.items():
            edit = conn.transaction()
            await edit.start()
            try:
                await conn.execute(sql, ids[2])
                broken = await broken_invariants(conn)
            finally:
                await edit.rollback()
            named = [b for b in broken if b.name.startswith(prefix)]
            assert named, (prefix, broken)
            key = str(tenant_id) if prefix == "double entry" else str(ids[2])
            assert key in named[0].message()
        assert await broken_invariants(conn) == []
