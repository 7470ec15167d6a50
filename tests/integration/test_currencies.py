"""Currency and FX rate commands, their projection and queries, on a real PostgreSQL.

The commands are the composition root's (``Services.currencies`` on its group committer with
every inline projection); "another process" is simulated by a second committer that writes
events without projecting them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

import pytest

from ledger.audit.verify import LedgerApplication as LedgerReader
from ledger.audit.verify import stock_env
from ledger.bootstrap import Services
from ledger.commands.currencies import AddCurrency, CurrencyCommands
from ledger.domain.fx import CustomCurrency, FxPair, currency_id, fx_pair_id, resolve_rate
from ledger.domain.money import inverse_rate
from ledger.errors import (
    ConcurrencyConflict,
    CurrencyUnknown,
    DuplicateCode,
    FxRateNotFound,
    ValidationError,
)
from ledger.projections.currencies import CurrenciesProjection
from ledger.queries.currencies import (
    Executor,
    fetch_precisions,
    fetch_rates,
    fetch_resolved_rates,
    get_fx_rate,
    list_currencies,
)
from ledger.store.group_commit import (
    Batch,
    CommandHandler,
    Decision,
    GroupCommitter,
    PositionedEvent,
)
from tests.store_helpers import read_log

D = dt.date


@pytest.fixture
def committer(services: Services) -> GroupCommitter:
    return services.committer


@pytest.fixture
def commands(services: Services) -> CurrencyCommands:
    return services.currencies


@pytest.fixture
def tenant() -> UUID:
    return uuid.uuid4()


# --- adding currencies --------------------------------------------------------------------


async def test_add_currency_writes_event_and_row(
    services: Services, commands: CurrencyCommands, tenant: UUID
) -> None:
    added = await commands.add_currency(tenant, "BTC", 8)
    assert (added.code, added.precision, added.custom) == ("BTC", 8, True)
    log = await read_log(services.pool)
    assert [(e.position, e.originator_id, e.originator_version, e.tenant_id) for e in log] == [
        (added.position, currency_id(tenant, "BTC"), 1, tenant)
    ]
    assert log[0].topic == "ledger.domain.fx:CustomCurrency.CurrencyAdded"
    row = await services.pool.fetchrow(
        "SELECT precision, position FROM currencies WHERE tenant_id = $1 AND code = 'BTC'", tenant
    )
    assert row is not None
    assert (row["precision"], row["position"]) == (8, added.position)
    rebuilt = await services.store.get(currency_id(tenant, "BTC"), CustomCurrency)
    assert rebuilt is not None
    assert (rebuilt.code, rebuilt.precision, rebuilt.tenant_id) == ("BTC", 8, tenant)


async def test_duplicate_custom_code_is_409(commands: CurrencyCommands, tenant: UUID) -> None:
    await commands.add_currency(tenant, "BTC", 8)
    with pytest.raises(DuplicateCode) as raised:
        await commands.add_currency(tenant, "BTC", 6)
    assert raised.value.status_code == 409
    assert raised.value.code == "DUPLICATE_CODE"
    # Another tenant may use the same code.
    other = await commands.add_currency(uuid.uuid4(), "BTC", 6)
    assert other.precision == 6


@pytest.mark.parametrize("code", ["USD", "JPY", "KWD", "EUR", "XAU", "XTS"])
async def test_iso_code_is_409(commands: CurrencyCommands, tenant: UUID, code: str) -> None:
    with pytest.raises(DuplicateCode):
        await commands.add_currency(tenant, code, 2)


@pytest.mark.parametrize(
    ("code", "precision", "field"),
    [
        ("btc", 8, "code"),
        ("BT", 8, "code"),
        ("1BTC", 8, "code"),
        ("ABCDEFGHIJK", 8, "code"),
        ("BT C", 8, "code"),
        ("BTC", -1, "precision"),
        ("BTC", 19, "precision"),
        ("USD", 19, "precision"),  # shape errors come before the duplicate check
    ],
)
async def test_invalid_currency_is_400(
    commands: CurrencyCommands, tenant: UUID, code: str, precision: int, field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        await commands.add_currency(tenant, code, precision)
    assert raised.value.status_code == 400
    assert raised.value.details["field"] == field


async def test_concurrent_adds_of_one_code_create_it_once(
    services: Services, commands: CurrencyCommands, tenant: UUID
) -> None:
    outcomes = await asyncio.gather(
        *(commands.add_currency(tenant, "GOLD", p) for p in range(5)), return_exceptions=True
    )
    created = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(created) == 1
    assert all(isinstance(o, DuplicateCode) for o in outcomes if isinstance(o, BaseException))
    count = await services.pool.fetchval(
        "SELECT count(*) FROM currencies WHERE tenant_id = $1", tenant
    )
    assert count == 1


class _UncheckedAdd(CommandHandler[AddCurrency, None]):
    """Adds without looking: the event store's version check is all that stands in the way."""

    def decide(self, batch: Batch, command: AddCurrency) -> Decision[None]:
        currency = CustomCurrency.add(
            tenant_id=command.tenant_id, code=command.code, precision=command.precision
        )
        return Decision(events=currency.collect_events(), result=None, tenant_id=command.tenant_id)


async def test_a_second_add_is_also_a_version_conflict(
    commands: CurrencyCommands, committer: GroupCommitter, tenant: UUID
) -> None:
    await commands.add_currency(tenant, "BTC", 8)
    with pytest.raises(ConcurrencyConflict):
        await committer.submit(
            _UncheckedAdd(), AddCurrency(tenant_id=tenant, code="BTC", precision=8)
        )


async def test_an_add_racing_another_process_is_a_duplicate(
    services: Services, commands: CurrencyCommands, tenant: UUID
) -> None:
    # Another process's add committed (its projection row is not visible to our decision):
    # simulated by a committer without the projection. The version conflict means the
    # currency exists, so the caller hears DUPLICATE_CODE.
    blind = GroupCommitter(services.pool, mapper=services.store.mapper)
    await blind.start()
    try:
        await blind.submit(_UncheckedAdd(), AddCurrency(tenant_id=tenant, code="BTC", precision=8))
    finally:
        await blind.stop()
    with pytest.raises(DuplicateCode):
        await commands.add_currency(tenant, "BTC", 8)


async def test_a_rate_set_retries_a_lost_version_race_then_gives_up(
    services: Services, commands: CurrencyCommands, tenant: UUID
) -> None:
    # Version 1 of the pair exists in the log but not in fx_pairs (a writer whose projection
    # row we never see): every attempt conflicts, and after SET_RATE_ATTEMPTS the caller
    # hears CONCURRENCY_CONFLICT; nothing else was written.
    blind = GroupCommitter(services.pool, mapper=services.store.mapper)
    await blind.start()
    try:
        await blind.submit(_UncheckedRateSet(), (tenant, 1))
    finally:
        await blind.stop()
    with pytest.raises(ConcurrencyConflict):
        await commands.set_fx_rate(tenant, "EUR", "USD", Decimal("1.1"), D(2026, 1, 1))
    assert len(await read_log(services.pool)) == 1


async def test_a_rate_set_retry_succeeds_once_the_pair_row_is_visible(
    services: Services,
    commands: CurrencyCommands,
    tenant: UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The other writer's version 1 is in the log; our first decision (no fx_pairs row yet)
    # conflicts, and the projection row appears before the retry.
    blind = GroupCommitter(services.pool, mapper=services.store.mapper)
    await blind.start()
    try:
        await blind.submit(_UncheckedRateSet(), (tenant, 1))
    finally:
        await blind.stop()
    handler = commands.set_rate_handler
    original_load = handler.load
    loads = 0

    async def load_then_publish_row(batch: Batch, batch_commands: Sequence[Any]) -> None:
        nonlocal loads
        loads += 1
        if loads == 2:  # the retry: the other writer's projection has committed by now
            await batch.conn.execute(
                "INSERT INTO fx_pairs (pair_id, tenant_id, base, quote, version, position)"
                " VALUES ($1, $2, 'EUR', 'USD', 1, 1)",
                fx_pair_id(tenant, "EUR", "USD"),
                tenant,
            )
        await original_load(batch, batch_commands)

    monkeypatch.setattr(handler, "load", load_then_publish_row)
    stored = await commands.set_fx_rate(tenant, "EUR", "USD", Decimal("1.2"), D(2026, 1, 1))
    assert loads == 2
    assert stored.version == 2


class _UncheckedRateSet(CommandHandler[tuple[UUID, int], None]):
    """Appends EUR/USD 1.05 at a given version without looking (another writer)."""

    def decide(self, batch: Batch, command: tuple[UUID, int]) -> Decision[None]:
        tenant_id, version = command
        event = FxPair.rate_set(
            tenant_id=tenant_id,
            base="EUR",
            quote="USD",
            date=D(2026, 1, 1),
            rate=Decimal("1.05"),
            version=version,
        )
        return Decision(events=[event], result=None, tenant_id=tenant_id)


# --- setting rates ------------------------------------------------------------------------


async def test_set_rate_versions_and_latest_set_of_a_date_wins(
    services: Services, commands: CurrencyCommands, tenant: UUID
) -> None:
    first = await commands.set_fx_rate(tenant, "EUR", "USD", Decimal("1.0842"), D(2026, 6, 1))
    second = await commands.set_fx_rate(tenant, "EUR", "USD", Decimal("1.0900"), D(2026, 6, 10))
    third = await commands.set_fx_rate(tenant, "EUR", "USD", Decimal("1.0700"), D(2026, 6, 1))
    assert [first.version, second.version, third.version] == [1, 2, 3]
    assert first.position < second.position < third.position
    rows = await services.pool.fetch(
        "SELECT effective_date, rate, position FROM fx_rates WHERE tenant_id = $1"
        " ORDER BY effective_date",
        tenant,
    )
    assert [(r["effective_date"], r["rate"], r["position"]) for r in rows] == [
        (D(2026, 6, 1), Decimal("1.0700"), third.position),
        (D(2026, 6, 10), Decimal("1.0900"), second.position),
    ]
    pair_id = fx_pair_id(tenant, "EUR", "USD")
    version = await services.pool.fetchval(
        "SELECT version FROM fx_pairs WHERE pair_id = $1", pair_id
    )
    assert version == 3
    events = await services.store.read_aggregate(pair_id)
    assert [e.originator_version for e in events] == [1, 2, 3]
    assert all(isinstance(e, FxPair.FxRateSet) for e in events)
    pair = await services.store.get(pair_id, FxPair)
    assert pair is not None
    assert pair.rates == {D(2026, 6, 1): Decimal("1.0700"), D(2026, 6, 10): Decimal("1.0900")}


async def test_concurrent_sets_of_one_pair_get_consecutive_versions(
    services: Services, commands: CurrencyCommands, tenant: UUID
) -> None:
    rates = [Decimal(f"1.{i:02d}") for i in range(1, 21)]
    stored = await asyncio.gather(
        *(commands.set_fx_rate(tenant, "EUR", "USD", r, D(2026, 1, 1)) for r in rates)
    )
    assert sorted(s.version for s in stored) == list(range(1, 21))
    last = max(stored, key=lambda s: s.position)
    assert last.version == 20
    row = await services.pool.fetchrow(
        "SELECT rate, position FROM fx_rates WHERE tenant_id = $1", tenant
    )
    assert row is not None
    assert (row["rate"], row["position"]) == (last.rate, last.position)


async def test_unknown_currency_is_422(commands: CurrencyCommands, tenant: UUID) -> None:
    for base, quote, field in [
        ("ABC", "USD", "base"),
        ("USD", "ABC", "quote"),
        ("XAU", "USD", "base"),
    ]:
        with pytest.raises(CurrencyUnknown) as raised:
            await commands.set_fx_rate(tenant, base, quote, Decimal("2"), D(2026, 1, 1))
        assert raised.value.status_code == 422
        assert raised.value.code == "CURRENCY_UNKNOWN"
        assert raised.value.details["field"] == field
    # Another tenant's custom currency is unknown here.
    await commands.add_currency(uuid.uuid4(), "ABC", 2)
    with pytest.raises(CurrencyUnknown):
        await commands.set_fx_rate(tenant, "ABC", "USD", Decimal("2"), D(2026, 1, 1))


async def test_custom_currencies_can_have_rates(
    services: Services, commands: CurrencyCommands, tenant: UUID
) -> None:
    await commands.add_currency(tenant, "BTC", 8)
    stored = await commands.set_fx_rate(tenant, "BTC", "USD", Decimal("65000.5"), D(2026, 1, 1))
    assert stored.version == 1
    rates = await fetch_rates(services.pool, tenant, [("BTC", "USD", D(2026, 1, 2))])
    assert rates == {("BTC", "USD", D(2026, 1, 2)): Decimal("65000.5")}


async def test_an_add_and_a_rate_in_one_batch(commands: CurrencyCommands, tenant: UUID) -> None:
    added, stored = await asyncio.gather(
        commands.add_currency(tenant, "PTS", 0),
        commands.set_fx_rate(tenant, "PTS", "USD", Decimal("0.01"), D(2026, 1, 1)),
    )
    assert added.position < stored.position


@pytest.mark.parametrize(
    ("base", "quote", "rate", "field"),
    [
        ("EUR", "EUR", Decimal("1"), "quote"),
        ("EUR", "USD", Decimal("0"), "rate"),
        ("EUR", "USD", Decimal("-1.5"), "rate"),
        ("EUR", "USD", Decimal("NaN"), "rate"),
        ("EUR", "USD", Decimal("Infinity"), "rate"),
        ("EUR", "USD", Decimal("1." + "1" * 40), "rate"),
        ("eur", "USD", Decimal("1"), "base"),
        ("EUR", "", Decimal("1"), "quote"),
    ],
)
async def test_invalid_rate_commands_are_400(
    commands: CurrencyCommands, tenant: UUID, base: str, quote: str, rate: Decimal, field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        await commands.set_fx_rate(tenant, base, quote, rate, D(2026, 1, 1))
    assert raised.value.details["field"] == field


async def test_a_rate_is_never_rounded(
    services: Services, commands: CurrencyCommands, tenant: UUID
) -> None:
    rate = Decimal("1234567890.123456789012345678901234567890")  # 40 significant digits
    stored = await commands.set_fx_rate(tenant, "EUR", "USD", rate, D(2026, 1, 1))
    assert stored.rate == rate
    answer = await get_fx_rate(services.pool, tenant, "EUR", "USD", D(2026, 1, 1))
    assert answer.rate == rate
    assert str(answer.rate) == str(rate)


# --- projection ---------------------------------------------------------------------------


async def test_projection_reapplied_keeps_the_newest_rows(services: Services, tenant: UUID) -> None:
    projection = CurrenciesProjection()

    def rate_set(version: int, rate: str) -> FxPair.FxRateSet:
        return FxPair.rate_set(
            tenant_id=tenant,
            base="EUR",
            quote="USD",
            date=D(2026, 1, 1),
            rate=Decimal(rate),
            version=version,
        )

    async with services.pool.acquire() as conn:
        # Two sets of one date in one batch: the later one is written.
        await projection.apply(
            conn,
            [
                PositionedEvent(10, tenant, rate_set(1, "1.1")),
                PositionedEvent(11, tenant, rate_set(2, "1.2")),
            ],
        )
        # Re-applying the older event (a replay) does not overwrite the newer row.
        await projection.apply(conn, [PositionedEvent(10, tenant, rate_set(1, "1.1"))])
        row = await conn.fetchrow(
            "SELECT rate, position FROM fx_rates WHERE tenant_id = $1", tenant
        )
        pair = await conn.fetchrow(
            "SELECT version, position FROM fx_pairs WHERE tenant_id = $1", tenant
        )
    assert row is not None
    assert pair is not None
    assert (row["rate"], row["position"]) == (Decimal("1.2"), 11)
    assert (pair["version"], pair["position"]) == (2, 11)


# --- queries ------------------------------------------------------------------------------


class CountingConnection:
    """Forwards ``fetch`` to a pool and counts the statements."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.statements = 0

    async def fetch(self, query: str, *args: object) -> Sequence[Any]:
        self.statements += 1
        return cast(Sequence[Any], await self.pool.fetch(query, *args))


async def test_fetch_precisions_answers_many_codes_in_one_statement(
    services: Services, commands: CurrencyCommands, tenant: UUID
) -> None:
    await commands.add_currency(tenant, "BTC", 8)
    await commands.add_currency(tenant, "PTS", 0)
    await commands.add_currency(uuid.uuid4(), "ETH", 18)
    conn = CountingConnection(services.pool)
    precisions = await fetch_precisions(
        cast(Executor, conn),
        tenant,
        {"USD", "JPY", "KWD", "BTC", "PTS", "ETH", "NOPE", "XAU", "bad code"},
    )
    assert precisions == {"USD": 2, "JPY": 0, "KWD": 3, "BTC": 8, "PTS": 0}
    assert conn.statements == 1
    # ISO codes only: no statement at all.
    assert await fetch_precisions(cast(Executor, conn), tenant, ["EUR"]) == {"EUR": 2}
    assert conn.statements == 1


async def test_fetch_rates_answers_many_requests_in_one_statement(
    services: Services, commands: CurrencyCommands, tenant: UUID
) -> None:
    await commands.set_fx_rate(tenant, "EUR", "USD", Decimal("1.0842"), D(2026, 6, 1))
    await commands.set_fx_rate(tenant, "EUR", "USD", Decimal("1.09"), D(2026, 6, 10))
    await commands.set_fx_rate(tenant, "USD", "JPY", Decimal("150"), D(2026, 1, 1))
    await commands.set_fx_rate(tenant, "USD", "EUR", Decimal("0.95"), D(2026, 7, 1))
    await commands.set_fx_rate(uuid.uuid4(), "GBP", "USD", Decimal("1.3"), D(2000, 1, 1))
    requests = [
        ("EUR", "USD", D(2026, 6, 1)),  # direct, on its date
        ("EUR", "USD", D(2026, 6, 9)),  # direct, the earlier setting
        ("EUR", "USD", D(2026, 8, 1)),  # direct beats the newer reverse setting
        ("EUR", "USD", D(2026, 5, 31)),  # before any rate either way: absent
        ("JPY", "USD", D(2026, 3, 1)),  # inverse of USD/JPY
        ("USD", "EUR", D(2026, 6, 15)),  # inverse of EUR/USD (USD/EUR only from 07-01)
        ("USD", "EUR", D(2026, 7, 1)),  # direct USD/EUR
        ("GBP", "USD", D(2026, 1, 1)),  # another tenant's rate: absent
        ("USD", "USD", D(1990, 1, 1)),  # same currency: 1
    ]
    conn = CountingConnection(services.pool)
    rates = await fetch_rates(cast(Executor, conn), tenant, requests)
    assert conn.statements == 1
    assert rates == {
        ("EUR", "USD", D(2026, 6, 1)): Decimal("1.0842"),
        ("EUR", "USD", D(2026, 6, 9)): Decimal("1.0842"),
        ("EUR", "USD", D(2026, 8, 1)): Decimal("1.09"),
        ("JPY", "USD", D(2026, 3, 1)): inverse_rate(Decimal("150")),
        ("USD", "EUR", D(2026, 6, 15)): inverse_rate(Decimal("1.09")),
        ("USD", "EUR", D(2026, 7, 1)): Decimal("0.95"),
        ("USD", "USD", D(1990, 1, 1)): Decimal(1),
    }
    # Same-currency requests only: no statement.
    assert await fetch_rates(cast(Executor, conn), tenant, [("EUR", "EUR", D(2026, 1, 1))]) == {
        ("EUR", "EUR", D(2026, 1, 1)): Decimal(1)
    }
    assert conn.statements == 1


async def test_fetch_rates_inside_a_batch_transaction(
    services: Services, commands: CurrencyCommands, tenant: UUID
) -> None:
    await commands.set_fx_rate(tenant, "EUR", "USD", Decimal("1.1"), D(2026, 1, 1))
    async with services.pool.acquire() as conn, conn.transaction():
        rates = await fetch_rates(conn, tenant, {("EUR", "USD", D(2026, 2, 1))})
        precisions = await fetch_precisions(conn, tenant, {"EUR", "USD"})
    assert rates == {("EUR", "USD", D(2026, 2, 1)): Decimal("1.1")}
    assert precisions == {"EUR": 2, "USD": 2}


async def test_sql_resolution_matches_the_in_memory_rule(
    services: Services, commands: CurrencyCommands, tenant: UUID
) -> None:
    rng = random.Random(20260601)
    codes = ["EUR", "USD", "GBP", "JPY"]
    memory: dict[tuple[str, str], dict[dt.date, Decimal]] = {}
    for _ in range(40):
        base, quote = rng.sample(codes, 2)
        day = D(2026, 1, 1) + dt.timedelta(days=rng.randrange(60))
        rate = Decimal(rng.randrange(1, 10**6)).scaleb(-rng.randrange(0, 8))
        await commands.set_fx_rate(tenant, base, quote, rate, day)
        memory.setdefault((base, quote), {})[day] = rate
    requests = [
        (f, t, D(2025, 12, 25) + dt.timedelta(days=d))
        for f in codes
        for t in codes
        for d in range(0, 75, 3)
    ]
    resolved = await fetch_resolved_rates(services.pool, tenant, requests)
    for request in requests:
        assert resolved.get(request) == resolve_rate(memory, *request), request


async def test_list_currencies_pages_iso_and_custom_in_code_order(
    services: Services, commands: CurrencyCommands, tenant: UUID
) -> None:
    for code, precision in [("AAAA", 1), ("BTC", 8), ("ZZZ9", 4), ("USDC", 6)]:
        await commands.add_currency(tenant, code, precision)
    await commands.add_currency(uuid.uuid4(), "OTHER", 2)
    seen = []
    cursor = None
    pages = 0
    while True:
        page = await list_currencies(services.pool, tenant, limit=37, cursor=cursor)
        pages += 1
        assert len(page.data) <= 37
        seen.extend(page.data)
        cursor = page.next_cursor
        if cursor is None:
            break
    codes = [row.code for row in seen]
    assert codes == sorted(codes)
    assert len(codes) == len(set(codes))
    custom = {row.code: row.precision for row in seen if row.custom}
    assert custom == {"AAAA": 1, "BTC": 8, "ZZZ9": 4, "USDC": 6}
    iso = {row.code: row.precision for row in seen if not row.custom}
    assert iso["USD"] == 2
    assert iso["JPY"] == 0
    assert iso["KWD"] == 3
    assert "XAU" not in iso
    assert pages == -(-len(codes) // 37)
    default = await list_currencies(services.pool, tenant)
    assert len(default.data) == 50
    assert default.data[0].code == "AAAA"


@pytest.mark.parametrize(
    ("limit", "cursor"), [(0, None), (501, None), (None, "not-a-cursor"), (None, "WzEsMl0")]
)
async def test_list_currencies_rejects_bad_paging(
    services: Services, tenant: UUID, limit: int | None, cursor: str | None
) -> None:
    with pytest.raises(ValidationError):
        await list_currencies(services.pool, tenant, limit=limit, cursor=cursor)


async def test_get_fx_rate_answers_or_fails(
    services: Services, commands: CurrencyCommands, tenant: UUID
) -> None:
    await commands.set_fx_rate(tenant, "EUR", "USD", Decimal("1.25"), D(2026, 6, 1))
    direct = await get_fx_rate(services.pool, tenant, "EUR", "USD", D(2026, 6, 15))
    assert (direct.rate, direct.inverse, direct.effective_date) == (
        Decimal("1.25"),
        False,
        D(2026, 6, 1),
    )
    inverse = await get_fx_rate(services.pool, tenant, "USD", "EUR", D(2026, 6, 15))
    assert (inverse.rate, inverse.inverse, inverse.effective_date) == (
        Decimal("0.8"),
        True,
        D(2026, 6, 1),
    )
    with pytest.raises(FxRateNotFound) as raised:
        await get_fx_rate(services.pool, tenant, "EUR", "USD", D(2026, 5, 31))
    assert raised.value.status_code == 422
    with pytest.raises(CurrencyUnknown):
        await get_fx_rate(services.pool, tenant, "EUR", "NOPE", D(2026, 6, 15))


# --- the stock eventsourcing reader -------------------------------------------------------


def _read_with_stock_application(env: dict[str, str], ids: list[UUID]) -> list[object]:
    app = LedgerReader(env=env)
    try:
        return [app.repository.get(aggregate_id) for aggregate_id in ids]
    finally:
        app.close()


async def test_the_stock_reader_rebuilds_currencies_and_pairs(
    commands: CurrencyCommands, database_url: str, tenant: UUID
) -> None:
    await commands.add_currency(tenant, "BTC", 8)
    await commands.set_fx_rate(tenant, "BTC", "USD", Decimal("65000"), D(2026, 1, 1))
    await commands.set_fx_rate(tenant, "BTC", "USD", Decimal("66000.5"), D(2026, 1, 2))
    currency, pair = await asyncio.to_thread(
        _read_with_stock_application,
        stock_env(database_url),
        [currency_id(tenant, "BTC"), fx_pair_id(tenant, "BTC", "USD")],
    )
    assert isinstance(currency, CustomCurrency)
    assert (currency.code, currency.precision, currency.version) == ("BTC", 8, 1)
    assert isinstance(pair, FxPair)
    assert pair.version == 2
    assert pair.rates == {D(2026, 1, 1): Decimal("65000"), D(2026, 1, 2): Decimal("66000.5")}
