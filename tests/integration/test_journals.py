"""Posting journals through group commit: rules, precedence, limits, idempotency, balances."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
import pytest

from ledger.bootstrap import Services, inline_projections
from ledger.commands.journals import (
    AmendJournal,
    EntryInput,
    JournalAccepted,
    JournalCommands,
    PostJournal,
    PostJournalHandler,
    ReverseJournal,
    ReverseJournalHandler,
    reverse_journal,
)
from ledger.domain.journals import Journal
from ledger.domain.ledgers import Direction
from ledger.errors import (
    AlreadyReversed,
    CurrencyMismatch,
    CurrencyUnknown,
    FxRateNotFound,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidState,
    JournalUnbalanced,
    LedgerClosed,
    LedgerNotFound,
    NotFound,
    PossibleDuplicate,
    ValidationError,
)
from ledger.queries.balances import ledger_balances, ledger_head
from ledger.queries.ledgers import LedgerRef
from ledger.store.group_commit import Batch, GroupCommitter

DAY = dt.date(2026, 6, 3)


async def tenant(services: Services, slug: str = "acme", base: str = "USD") -> UUID:
    await services.tenants.create_tenant(slug, base)
    row = await services.pool.fetchrow("SELECT tenant_id FROM tenants WHERE slug = $1", slug)
    assert row is not None
    tenant_id: UUID = row["tenant_id"]
    return tenant_id


def entry(code: str, direction: Direction, amount: int, currency: str | None = None) -> EntryInput:
    return EntryInput(
        ref=LedgerRef.by_code(code), direction=direction, amount=amount, currency=currency
    )


def journal(tenant_id: UUID, *entries: EntryInput, **fields: Any) -> PostJournal:
    fields.setdefault("date", DAY)
    fields.setdefault("base_currency", "USD")
    fields.setdefault("request_sha256", uuid.uuid4().bytes * 2)
    return PostJournal(tenant_id=tenant_id, entries=entries, **fields)


def transfer(tenant_id: UUID, debit: str, credit: str, amount: int, **fields: Any) -> PostJournal:
    return journal(
        tenant_id, entry(debit, "debit", amount), entry(credit, "credit", amount), **fields
    )


async def balances(services: Services, tenant_id: UUID, code: str, **kw: Any) -> dict[str, Any]:
    ledger_id = await services.pool.fetchval(
        "SELECT ledger_id FROM ledgers WHERE tenant_id = $1 AND code = $2", tenant_id, code
    )
    head = await ledger_head(services.pool, tenant_id, ledger_id)
    assert head is not None
    answer = await ledger_balances(
        services.pool, head, kw.get("as_of", dt.date(2100, 1, 1)), kw.get("known_at")
    )
    return {r["currency"]: r for r in answer.rows}


@pytest.fixture
async def books(services: Services) -> UUID:
    """A tenant with cash (asset, USD, min 0), revenue (income) and a parent 'assets'."""
    tenant_id = await tenant(services)
    ledgers = services.ledgers
    assets = await ledgers.open_ledger(tenant_id, code="assets", name="Assets", type="asset")
    await ledgers.open_ledger(
        tenant_id,
        code="cash",
        name="Cash",
        type="asset",
        currency="USD",
        min_balance=0,
        parent=LedgerRef.by_id(assets.ledger_id),
    )
    await ledgers.open_ledger(
        tenant_id, code="bank", name="Bank", type="asset", parent=LedgerRef.by_code("assets")
    )
    await ledgers.open_ledger(tenant_id, code="revenue", name="Revenue", type="income")
    await ledgers.open_ledger(
        tenant_id, code="eur", name="EUR wallet", type="asset", currency="EUR"
    )
    return tenant_id


async def test_a_posted_journal_moves_balances_and_rolls_up(
    services: Services, books: UUID
) -> None:
    posted = await services.journals.post(transfer(books, "cash", "revenue", 10_000))
    document = msgspec.json.decode(posted.document)
    assert document["number"] == "JE-000001"
    assert document["status"] == "posted"
    assert document["totals"] == [
        {
            "currency": "USD",
            "debits": 10_000,
            "credits": 10_000,
            "debits_base": 10_000,
            "credits_base": 10_000,
            "debits_reporting": None,
            "credits_reporting": None,
        }
    ]
    await services.journals.post(transfer(books, "bank", "revenue", 500))
    cash = (await balances(services, books, "cash"))["USD"]
    assert (cash["posted"], cash["available"], cash["debits_posted"]) == (10_000, 10_000, 10_000)
    revenue = (await balances(services, books, "revenue"))["USD"]
    assert revenue["posted"] == 10_500  # credit-normal
    assets = (await balances(services, books, "assets"))["USD"]
    assert assets["posted"] == 0
    assert assets["including_children"] == {
        "posted": 10_500,
        "debits_posted": 10_500,
        "credits_posted": 0,
    }


async def test_journal_numbers_count_per_tenant(services: Services, books: UUID) -> None:
    other = await tenant(services, "other")
    await services.ledgers.open_ledger(other, code="a", name="A", type="asset")
    await services.ledgers.open_ledger(other, code="b", name="B", type="income")
    numbers = []
    for _ in range(3):
        numbers.append(
            msgspec.json.decode(
                (await services.journals.post(transfer(books, "bank", "revenue", 1))).document
            )["number"]
        )
    numbers.append(
        msgspec.json.decode((await services.journals.post(transfer(other, "a", "b", 1))).document)[
            "number"
        ]
    )
    assert numbers == ["JE-000001", "JE-000002", "JE-000003", "JE-000001"]


@pytest.mark.parametrize(
    ("make", "error"),
    [
        # Precedence: a journal breaking several rules answers the first one.
        (
            lambda t: journal(t, entry("nope", "debit", 5, "XXQ"), entry("cash", "credit", 4)),
            CurrencyUnknown,
        ),
        (
            lambda t: journal(t, entry("nope", "debit", 5), entry("cash", "credit", 4)),
            JournalUnbalanced,
        ),
        (
            lambda t: journal(
                t, entry("nope", "debit", 5, "GBP"), entry("cash", "credit", 5, "GBP")
            ),
            FxRateNotFound,
        ),
        (
            lambda t: journal(t, entry("nope", "debit", 5), entry("cash", "credit", 5)),
            LedgerNotFound,
        ),
        (
            lambda t: journal(t, entry("revenue", "debit", 5), entry("eur", "credit", 5)),
            CurrencyMismatch,
        ),
        (
            lambda t: journal(t, entry("revenue", "debit", 5), entry("cash", "credit", 5)),
            InsufficientFunds,
        ),
    ],
)
async def test_rules_answer_in_precedence_order(
    services: Services, books: UUID, make: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await services.journals.post(make(books))


async def test_unbalanced_details_name_the_currency(services: Services, books: UUID) -> None:
    with pytest.raises(JournalUnbalanced) as caught:
        await services.journals.post(
            journal(books, entry("bank", "debit", 7), entry("revenue", "credit", 5))
        )
    assert caught.value.details == {"currency": "USD", "debits": 7, "credits": 5}


async def test_ledger_not_found_names_the_entry(services: Services, books: UUID) -> None:
    with pytest.raises(LedgerNotFound) as caught:
        await services.journals.post(transfer(books, "bank", "missing", 5))
    assert caught.value.details["entry_index"] == 1


async def test_closed_ledger_refuses_postings(services: Services, books: UUID) -> None:
    bank = await services.pool.fetchval("SELECT ledger_id FROM ledgers WHERE code = 'bank'")
    await services.ledgers.close_ledger(books, bank)
    with pytest.raises(LedgerClosed):
        await services.journals.post(transfer(books, "bank", "revenue", 5))


async def test_foreign_currency_converts_at_the_effective_date_rate(
    services: Services, books: UUID
) -> None:
    await services.currencies.set_fx_rate(
        books, "EUR", "USD", Decimal("1.0842"), dt.date(2026, 6, 1)
    )
    await services.ledgers.open_ledger(
        books, code="eur-income", name="EUR income", type="income", currency="EUR"
    )
    posted = await services.journals.post(
        journal(books, entry("eur", "debit", 333, "EUR"), entry("eur-income", "credit", 333, "EUR"))
    )
    document = msgspec.json.decode(posted.document)
    assert document["exchange_rates"] == {"EUR": "1.0842"}
    # 333 x 1.0842 = 361.0386 → 361.
    assert [e["amount_base"] for e in document["entries"]] == [361, 361]


async def test_base_amounts_balance_with_rounding_residue(services: Services, books: UUID) -> None:
    await services.currencies.set_fx_rate(books, "EUR", "USD", Decimal("1.5"), dt.date(2026, 1, 1))
    await services.ledgers.open_ledger(
        books, code="eur-income", name="EUR income", type="income", currency="EUR"
    )
    posted = await services.journals.post(
        journal(
            books,
            entry("eur", "debit", 1, "EUR"),
            entry("eur", "debit", 1, "EUR"),
            entry("eur-income", "credit", 2, "EUR"),
        )
    )
    document = msgspec.json.decode(posted.document)
    debits = sum(e["amount_base"] for e in document["entries"] if e["direction"] == "debit")
    credits = sum(e["amount_base"] for e in document["entries"] if e["direction"] == "credit")
    assert debits == credits == 3  # the exact total: 2 x 1.00 EUR x 1.5


async def test_concurrent_debits_never_overdraw_a_limited_ledger(
    services: Services, books: UUID
) -> None:
    await services.journals.post(transfer(books, "cash", "revenue", 1_000))
    results = await asyncio.gather(
        *(services.journals.post(transfer(books, "revenue", "cash", 30)) for _ in range(100)),
        return_exceptions=True,
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(accepted) == 33  # 33 x 30 = 990 <= 1000 < 34 x 30
    assert len(refused) == 67
    cash = (await balances(services, books, "cash"))["USD"]
    assert cash["available"] == 10
    assert cash["posted"] >= 0


async def test_concurrent_retries_of_one_key_create_one_journal(
    services: Services, books: UUID
) -> None:
    command = transfer(books, "bank", "revenue", 42, external_id="inv-1")
    results = await asyncio.gather(*(services.journals.post(command) for _ in range(50)))
    assert len({r.document for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    count = await services.pool.fetchval(
        "SELECT count(*) FROM journals WHERE external_id = 'inv-1'"
    )
    assert count == 1


async def test_a_key_reused_with_another_request_conflicts(services: Services, books: UUID) -> None:
    first = await services.journals.post(
        transfer(books, "bank", "revenue", 42, external_id="inv-1")
    )
    with pytest.raises(IdempotencyConflict) as caught:
        await services.journals.post(transfer(books, "bank", "revenue", 43, external_id="inv-1"))
    assert caught.value.details["journal_id"] == msgspec.json.decode(first.document)["id"]


async def test_possible_duplicates_are_refused_unless_forced(
    services: Services, books: UUID
) -> None:
    first = await services.journals.post(transfer(books, "bank", "revenue", 42, reference="r-1"))
    with pytest.raises(PossibleDuplicate):
        await services.journals.post(
            transfer(books, "bank", "revenue", 42, reference="r-1", check_duplicates=True)
        )
    forced = await services.journals.post(
        transfer(books, "bank", "revenue", 42, reference="r-1", check_duplicates=True, force=True)
    )
    warnings = msgspec.json.decode(forced.document)["warnings"]
    assert warnings[0]["code"] == "POSSIBLE_DUPLICATE"
    assert warnings[0]["journal_id"] == msgspec.json.decode(first.document)["id"]


async def test_pending_holds_funds_then_commit_or_void(services: Services, books: UUID) -> None:
    await services.journals.post(transfer(books, "cash", "revenue", 100))
    held = await services.journals.post(transfer(books, "revenue", "cash", 80, status="pending"))
    cash = (await balances(services, books, "cash"))["USD"]
    assert (cash["posted"], cash["pending"], cash["available"]) == (100, 20, 20)
    with pytest.raises(InsufficientFunds):
        await services.journals.post(transfer(books, "revenue", "cash", 30))
    held_id = UUID(msgspec.json.decode(held.document)["id"])
    await services.journals.change_status(books, held_id, "void")
    cash = (await balances(services, books, "cash"))["USD"]
    assert (cash["posted"], cash["pending"], cash["available"]) == (100, 100, 100)
    with pytest.raises(InvalidState):
        await services.journals.change_status(books, held_id, "commit")
    again = await services.journals.post(transfer(books, "revenue", "cash", 60, status="pending"))
    await services.journals.change_status(
        books, UUID(msgspec.json.decode(again.document)["id"]), "commit"
    )
    cash = (await balances(services, books, "cash"))["USD"]
    assert (cash["posted"], cash["pending"], cash["available"]) == (40, 40, 40)


async def test_reversal_mirrors_once(services: Services, books: UUID) -> None:
    posted = await services.journals.post(transfer(books, "bank", "revenue", 70))
    journal_id = UUID(msgspec.json.decode(posted.document)["id"])
    reversal = await reverse_journal(
        services.journals, services.pool, books, journal_id, None, None
    )
    document = msgspec.json.decode(reversal.document)
    assert document["reversal_of"] == str(journal_id)
    assert [e["direction"] for e in document["entries"]] == ["credit", "debit"]
    assert (await balances(services, books, "bank"))["USD"]["posted"] == 0
    with pytest.raises(AlreadyReversed):
        await reverse_journal(services.journals, services.pool, books, journal_id, None, None)
    status = await services.pool.fetchval(
        "SELECT status FROM journals WHERE journal_id = $1", journal_id
    )
    assert status == "reversed"


async def test_as_of_and_known_at_answer_history(services: Services, books: UUID) -> None:
    first = await services.journals.post(
        transfer(books, "bank", "revenue", 100, date=dt.date(2026, 6, 10))
    )
    await services.journals.post(
        transfer(books, "bank", "revenue", 5, date=dt.date(2026, 6, 1))
    )  # back-dated
    assert (await balances(services, books, "bank", as_of=dt.date(2026, 6, 5)))["USD"][
        "posted"
    ] == 5
    assert (await balances(services, books, "bank", as_of=dt.date(2026, 6, 30)))["USD"][
        "posted"
    ] == 105
    # What the books said at the first posting's position about June 30: only the first.
    then = await balances(
        services, books, "bank", as_of=dt.date(2026, 6, 30), known_at=first.position
    )
    assert then["USD"]["posted"] == 100


async def test_a_base_amount_beyond_64_bits_is_refused(services: Services, books: UUID) -> None:
    await services.currencies.set_fx_rate(books, "EUR", "USD", Decimal("10"), dt.date(2026, 1, 1))
    await services.ledgers.open_ledger(
        books, code="eur-x", name="EUR x", type="income", currency="EUR"
    )
    largest = 2**63 - 1
    with pytest.raises(ValidationError) as caught:
        await services.journals.post(
            journal(
                books,
                entry("eur", "debit", largest, "EUR"),
                entry("eur-x", "credit", largest, "EUR"),
            )
        )
    assert caught.value.details["field"] == "$.entries[0].amount"


async def _second_process(services: Services) -> tuple[GroupCommitter, JournalCommands]:
    """Another server process's write path (``ledger serve --workers``) on the same database."""
    committer = GroupCommitter(
        services.pool, mapper=services.store.mapper, projections=inline_projections()
    )
    await committer.start()
    return committer, JournalCommands(committer, services.pool)


async def test_two_processes_number_a_tenants_first_journals_without_gaps(
    services: Services, books: UUID
) -> None:
    # The tenant has no journal yet, so no counter row to lock: both committers must still
    # serialise on it (the row is created and locked, or its creator is waited for).
    # One command each: a batch that loses the race alone has no one-by-one retry to hide
    # behind.
    committer, other = await _second_process(services)
    try:
        posted = list(
            await asyncio.gather(
                services.journals.post(transfer(books, "bank", "revenue", 5, reference="a")),
                other.post(transfer(books, "bank", "revenue", 5, reference="b")),
            )
        )
        posted += await asyncio.gather(
            *[
                (services.journals if n % 2 else other).post(
                    transfer(books, "bank", "revenue", 5, reference=f"r{n}")
                )
                for n in range(18)
            ]
        )
    finally:
        await committer.stop()
    numbers = sorted(msgspec.json.decode(p.document)["number"] for p in posted)
    assert numbers == [f"JE-{n:06d}" for n in range(1, 21)]


async def test_two_processes_with_one_idempotency_key_post_one_journal(
    services: Services, books: UUID
) -> None:
    committer, other = await _second_process(services)
    fingerprint = uuid.uuid4().bytes * 2
    try:
        answers = await asyncio.gather(
            *[
                commands.post(
                    transfer(
                        books, "bank", "revenue", 5, external_id="once", request_sha256=fingerprint
                    )
                )
                for commands in (services.journals, other)
            ]
        )
    finally:
        await committer.stop()
    ids = {msgspec.json.decode(a.document)["id"] for a in answers}
    assert len(ids) == 1
    assert sum(not a.replayed for a in answers) == 1


async def test_concurrent_reversals_of_one_journal_reverse_it_once(
    services: Services, books: UUID
) -> None:
    posted = await services.journals.post(transfer(books, "bank", "revenue", 70))
    journal_id = UUID(msgspec.json.decode(posted.document)["id"])
    results = await asyncio.gather(
        *(
            services.journals.reverse(ReverseJournal(tenant_id=books, journal_id=journal_id))
            for _ in range(20)
        ),
        return_exceptions=True,
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, AlreadyReversed)]
    assert (len(accepted), len(refused)) == (1, 19)
    assert refused[0].details == {"journal_id": str(journal_id)}
    assert (await balances(services, books, "bank"))["USD"]["posted"] == 0
    count = await services.pool.fetchval(
        "SELECT count(*) FROM journals WHERE reversal_of = $1", journal_id
    )
    assert count == 1


async def test_two_processes_reversing_one_journal_reverse_it_once(
    services: Services, books: UUID
) -> None:
    posted = await services.journals.post(transfer(books, "bank", "revenue", 70))
    journal_id = UUID(msgspec.json.decode(posted.document)["id"])
    committer, other = await _second_process(services)
    try:
        results = await asyncio.gather(
            *(
                commands.reverse(ReverseJournal(tenant_id=books, journal_id=journal_id))
                for commands in (services.journals, other)
            ),
            return_exceptions=True,
        )
    finally:
        await committer.stop()
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, AlreadyReversed) for r in results) == 1


def amendment(tenant_id: UUID, journal_id: UUID, replacement: PostJournal) -> AmendJournal:
    return AmendJournal(
        tenant_id=tenant_id,
        journal_id=journal_id,
        replacement=dataclasses.replace(replacement, amends=journal_id),
    )


async def test_concurrent_amendments_of_one_journal_amend_it_once(
    services: Services, books: UUID
) -> None:
    posted = await services.journals.post(transfer(books, "bank", "revenue", 70))
    journal_id = UUID(msgspec.json.decode(posted.document)["id"])
    results = await asyncio.gather(
        *(
            services.journals.amend(
                amendment(books, journal_id, transfer(books, "bank", "revenue", 71 + n))
            )
            for n in range(20)
        ),
        return_exceptions=True,
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, AlreadyReversed)]
    assert (len(accepted), len(refused)) == (1, 19)
    new = msgspec.json.decode(accepted[0].document)
    assert new["amends"] == str(journal_id)
    assert (await balances(services, books, "bank"))["USD"]["posted"] == new["entries"][0]["amount"]
    row = await services.pool.fetchrow(
        "SELECT status, amended_by, reversed_by FROM journals WHERE journal_id = $1", journal_id
    )
    assert row is not None
    assert (row["status"], str(row["amended_by"])) == ("reversed", new["id"])
    reversal = await services.pool.fetchrow(
        "SELECT reversal_of, amends FROM journals WHERE journal_id = $1", row["reversed_by"]
    )
    assert reversal is not None
    assert (reversal["reversal_of"], reversal["amends"]) == (journal_id, None)
    # The three events (reversal, original reversed, new journal) were one append.
    positions = await services.pool.fetch(
        "SELECT notification_id FROM ledger_events WHERE originator_id = ANY($1::uuid[])"
        " AND notification_id > $2 ORDER BY notification_id",
        [journal_id, row["reversed_by"], UUID(new["id"])],
        posted.position,
    )
    numbers = [r["notification_id"] for r in positions]
    assert numbers == list(range(numbers[0], numbers[0] + 3))


async def test_two_processes_amending_one_journal_amend_it_once(
    services: Services, books: UUID
) -> None:
    posted = await services.journals.post(transfer(books, "bank", "revenue", 70))
    journal_id = UUID(msgspec.json.decode(posted.document)["id"])
    committer, other = await _second_process(services)
    try:
        results = await asyncio.gather(
            *(
                commands.amend(
                    amendment(books, journal_id, transfer(books, "bank", "revenue", amount))
                )
                for commands, amount in ((services.journals, 80), (other, 90))
            ),
            return_exceptions=True,
        )
    finally:
        await committer.stop()
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, AlreadyReversed) for r in results) == 1


async def test_a_refused_new_version_appends_nothing(services: Services, books: UUID) -> None:
    posted = await services.journals.post(transfer(books, "cash", "revenue", 100))
    journal_id = UUID(msgspec.json.decode(posted.document)["id"])
    before = await services.pool.fetchval("SELECT max(notification_id) FROM ledger_events")
    # Cash may not go below 0: its reversal alone would be fine, the new version is not.
    with pytest.raises(InsufficientFunds):
        await services.journals.amend(
            amendment(books, journal_id, transfer(books, "revenue", "cash", 1))
        )
    after = await services.pool.fetchval("SELECT max(notification_id) FROM ledger_events")
    assert after == before
    status = await services.pool.fetchval(
        "SELECT status FROM journals WHERE journal_id = $1", journal_id
    )
    assert status == "posted"
    # The batch state was restored: the journal can still be amended.
    amended = await services.journals.amend(
        amendment(books, journal_id, transfer(books, "cash", "revenue", 40))
    )
    assert msgspec.json.decode(amended.document)["amends"] == str(journal_id)
    assert (await balances(services, books, "cash"))["USD"]["posted"] == 40


async def test_a_reversal_mirrors_the_original_rates_and_base_amounts(
    services: Services, books: UUID
) -> None:
    await services.currencies.set_fx_rate(
        books, "EUR", "USD", Decimal("1.0842"), dt.date(2026, 6, 1)
    )
    await services.ledgers.open_ledger(
        books, code="eur-income", name="EUR income", type="income", currency="EUR"
    )
    posted = await services.journals.post(
        journal(books, entry("eur", "debit", 333, "EUR"), entry("eur-income", "credit", 333, "EUR"))
    )
    original = msgspec.json.decode(posted.document)
    # A later rate does not change the reversal: it reuses the original's.
    await services.currencies.set_fx_rate(books, "EUR", "USD", Decimal("2"), DAY)
    command = ReverseJournal(tenant_id=books, journal_id=UUID(original["id"]))
    reversal = msgspec.json.decode((await services.journals.reverse(command)).document)
    assert reversal["exchange_rates"] == {"EUR": "1.0842"}
    assert [e["amount_base"] for e in reversal["entries"]] == [361, 361]
    assert reversal["description"] == f"Reversal of {original['number']}"
    assert reversal["date"] == original["date"]
    stored = await services.pool.fetchval(
        "SELECT request_sha256 FROM journals WHERE journal_id = $1", command.reversal_id
    )
    assert bytes(stored) == command.fingerprint()


async def test_only_the_tenants_journals_can_be_reversed(services: Services, books: UUID) -> None:
    posted = await services.journals.post(transfer(books, "bank", "revenue", 70))
    journal_id = UUID(msgspec.json.decode(posted.document)["id"])
    other = await tenant(services, "other")
    ledger_id = await services.pool.fetchval(
        "SELECT ledger_id FROM ledgers WHERE tenant_id = $1 AND code = 'bank'", books
    )
    for tenant_id, unknown in ((other, journal_id), (books, uuid.uuid4()), (books, ledger_id)):
        with pytest.raises(NotFound) as caught:
            await services.journals.reverse(ReverseJournal(tenant_id=tenant_id, journal_id=unknown))
        assert caught.value.details == {"journal_id": str(unknown)}


async def test_reversals_and_postings_share_one_batch(services: Services, books: UUID) -> None:
    # Decided by hand in one batch (no commit): the reversal handler loads the tenant a
    # second time, which must add to what the postings loaded, not replace it.
    await services.currencies.set_fx_rate(books, "EUR", "USD", Decimal("1.5"), DAY)
    posted = await services.journals.post(transfer(books, "bank", "revenue", 70))
    journal_id = UUID(msgspec.json.decode(posted.document)["id"])
    post = PostJournalHandler()
    reverse = ReverseJournalHandler(post)
    in_euros = journal(books, entry("eur", "debit", 5, "EUR"), entry("revenue", "credit", 5, "EUR"))
    reversals = [ReverseJournal(tenant_id=books, journal_id=journal_id) for _ in range(2)]
    async with services.pool.acquire() as conn, conn.transaction():
        batch = Batch(conn)
        await post.load(batch, [in_euros])
        await reverse.load(batch, reversals)
        assert isinstance(post.decide(batch, in_euros).result, JournalAccepted)
        first = reverse.decide(batch, reversals[0])
        with pytest.raises(AlreadyReversed):
            reverse.decide(batch, reversals[1])
    assert [type(e).__name__ for e in first.events] == ["JournalPosted", "JournalReversed"]
    numbers = [e.number for e in first.events[:1] if isinstance(e, Journal.JournalPosted)]
    assert numbers == [3]
