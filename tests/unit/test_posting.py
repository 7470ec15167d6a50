"""The rules of posting a journal (ledger.domain.posting), without a database.

The API and integration tests check the same rules end to end, and the precedence between
them (tests/api/test_journals.py); these pin each rule's edge and its error's details.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import limits
from ledger.domain.posting import (
    Original,
    Pricing,
    Reporting,
    check_amendable,
    check_entry_ledger,
    check_min_balance,
    check_reversible,
    check_settleable,
    duplicate_fingerprint,
    duplicate_warnings,
    entry_currency,
    mirrored_direction,
    price_entries,
    rates_wanted,
    replay_of,
)
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
    LedgerError,
    LedgerNotFound,
    NotFound,
    PossibleDuplicate,
    ValidationError,
)

DAY = dt.date(2026, 3, 1)
PRECISIONS = {"USD": 2, "EUR": 2, "JPY": 0}


@dataclass(frozen=True)
class Entry:
    direction: str
    amount: int
    currency: str | None = None
    amount_base: int | None = None


@dataclass(frozen=True)
class Ledger:
    ledger_id: UUID
    code: str
    status: str = "open"
    currency: str | None = None


@dataclass(frozen=True)
class Name:
    code: str

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code}


def price(entries: list[Entry], **overrides: Any) -> Pricing:
    arguments: dict[str, Any] = {
        "journal_currency": "USD",
        "base": "USD",
        "precisions": PRECISIONS,
        "fixed_rates": None,
        "loaded_rates": {},
        "effective_date": DAY,
    }
    arguments.update(overrides)
    return price_entries(entries, **arguments)


def test_an_entry_takes_its_own_then_the_journals_then_the_base_currency() -> None:
    assert entry_currency(Entry("debit", 1, "EUR"), "JPY", "USD") == "EUR"
    assert entry_currency(Entry("debit", 1), "JPY", "USD") == "JPY"
    assert entry_currency(Entry("debit", 1), None, "USD") == "USD"


def test_the_rates_wanted_are_those_of_entry_currencies_other_than_the_base() -> None:
    entries = [Entry("debit", 1, "EUR"), Entry("credit", 1), Entry("debit", 1, "USD")]
    assert rates_wanted(entries, "JPY", "USD", DAY) == {("EUR", "USD", DAY), ("JPY", "USD", DAY)}
    assert rates_wanted(entries[2:], None, "USD", DAY) == set()


def test_a_new_key_is_no_replay_and_a_known_key_replays_only_the_same_request() -> None:
    journal_id = uuid.uuid4()
    assert replay_of(None, b"a", "k1") is None
    assert replay_of((journal_id, b"a"), b"a", "k1") == journal_id
    with pytest.raises(IdempotencyConflict) as caught:
        replay_of((journal_id, b"a"), b"b", "k1")
    assert caught.value.details == {"journal_id": str(journal_id), "external_id": "k1"}


def test_the_journal_currency_is_checked_before_the_entries() -> None:
    entries = [Entry("debit", 1, "XXY"), Entry("credit", 1)]
    with pytest.raises(CurrencyUnknown) as caught:
        price(entries, journal_currency="ABC")
    assert caught.value.details == {"currency": "ABC"}
    with pytest.raises(CurrencyUnknown) as caught:
        price(entries)
    assert caught.value.details == {"currency": "XXY", "entry_index": 0}


def test_unknown_currency_comes_before_unbalanced() -> None:
    with pytest.raises(CurrencyUnknown):
        price([Entry("debit", 5), Entry("credit", 1, "XXY")])


def test_balance_is_checked_per_currency_in_code_order() -> None:
    entries = [
        Entry("debit", 5, "USD"),
        Entry("credit", 4, "USD"),
        Entry("debit", 3, "EUR"),
        Entry("credit", 2, "EUR"),
    ]
    with pytest.raises(JournalUnbalanced) as caught:
        price(entries, loaded_rates={("EUR", "USD", DAY): Decimal(1)})
    assert caught.value.details == {"currency": "EUR", "debits": 3, "credits": 2}


def test_unbalanced_comes_before_a_missing_rate() -> None:
    with pytest.raises(JournalUnbalanced):
        price([Entry("debit", 5, "EUR"), Entry("credit", 4, "EUR")])


def test_a_missing_rate_names_the_first_entry_without_one() -> None:
    entries = [Entry("debit", 5), Entry("credit", 5), Entry("debit", 7, "EUR")]
    entries.append(Entry("credit", 7, "EUR"))
    with pytest.raises(FxRateNotFound) as caught:
        price(entries)
    assert caught.value.details == {
        "base": "EUR",
        "quote": "USD",
        "date": "2026-03-01",
        "entry_index": 2,
    }


def test_fixed_rates_win_over_loaded_ones_and_are_recorded_only_when_used() -> None:
    entries = [Entry("debit", 100, "EUR"), Entry("credit", 100, "EUR")]
    pricing = price(
        entries,
        fixed_rates={"EUR": Decimal("2"), "JPY": Decimal("0.01")},
        loaded_rates={("EUR", "USD", DAY): Decimal("3")},
    )
    assert pricing.currencies == ["EUR", "EUR"]
    assert pricing.bases == [200, 200]
    assert pricing.rates_used() == {"EUR": Decimal("2")}


def test_base_amounts_convert_across_precisions() -> None:
    entries = [Entry("debit", 1000, "JPY"), Entry("credit", 1000, "JPY")]
    pricing = price(entries, loaded_rates={("JPY", "USD", DAY): Decimal("0.0068")})
    assert pricing.bases == [680, 680]


def test_the_rounding_residue_goes_to_the_largest_amount_of_each_side() -> None:
    # 3 x 0.5 EUR-cents round to 0 each (half to even); their exact total 1.5 rounds to 2.
    entries = [Entry("debit", 1, "EUR")] * 3 + [Entry("credit", 3, "EUR")]
    pricing = price(entries, loaded_rates={("EUR", "USD", DAY): Decimal("0.5")})
    assert pricing.bases == [2, 0, 0, 2]


def test_a_given_base_amount_is_taken_as_it_is() -> None:
    entries = [Entry("debit", 10, "EUR", amount_base=13), Entry("credit", 10, "EUR", 13)]
    pricing = price(entries, fixed_rates={"EUR": Decimal("1.25")})
    assert pricing.bases == [13, 13]


def test_the_reporting_rates_are_wanted_beside_the_base_ones() -> None:
    entries = [Entry("debit", 1, "EUR"), Entry("credit", 1), Entry("debit", 1, "USD")]
    assert rates_wanted(entries, "JPY", "USD", DAY, "EUR") == {
        ("EUR", "USD", DAY),
        ("JPY", "USD", DAY),
        ("JPY", "EUR", DAY),
        ("USD", "EUR", DAY),
    }


def test_reporting_amounts_are_converted_like_base_amounts() -> None:
    # Base USD, reporting EUR: the same rule (rate of the effective date, half to even,
    # residue to each side's largest amount), to another currency.
    entries = [Entry("debit", 1, "JPY")] * 3 + [Entry("credit", 3, "JPY")]
    loaded = {("JPY", "USD", DAY): Decimal("0.0068"), ("JPY", "EUR", DAY): Decimal("0.005")}
    pricing = price(entries, loaded_rates=loaded, reporting=Reporting(currency="EUR"))
    # Base: 0.68 cents each round to 1; the debits' exact total 2.04 rounds to 2.
    assert pricing.bases == [0, 1, 1, 2]
    # Reporting: 0.5 cents each round (half to even) to 0; the exact total 1.5 rounds to 2.
    assert pricing.reportings == [2, 0, 0, 2]
    assert pricing.reporting_rates_used() == {"JPY": Decimal("0.005")}


def test_entries_in_the_reporting_currency_take_their_amount() -> None:
    entries = [Entry("debit", 250, "EUR"), Entry("credit", 250, "EUR")]
    entries += [Entry("debit", 100), Entry("credit", 100)]
    loaded = {("EUR", "USD", DAY): Decimal("1.1"), ("USD", "EUR", DAY): Decimal("0.9")}
    pricing = price(entries, loaded_rates=loaded, reporting=Reporting(currency="EUR"))
    assert pricing.reportings == [250, 250, 90, 90]
    assert pricing.reporting_rates_used() == {"USD": Decimal("0.9")}


def test_the_reporting_currency_is_checked_after_the_entries() -> None:
    entries = [Entry("debit", 1, "XXY"), Entry("credit", 1)]
    with pytest.raises(CurrencyUnknown) as caught:
        price(entries, reporting=Reporting(currency="ABC"))
    assert caught.value.details == {"currency": "XXY", "entry_index": 0}
    with pytest.raises(CurrencyUnknown) as caught:
        price(entries[1:] * 2, reporting=Reporting(currency="ABC"))
    assert caught.value.details == {"currency": "ABC", "field": "reporting_currency"}


def test_a_missing_reporting_rate_comes_after_the_base_rates() -> None:
    entries = [Entry("debit", 5), Entry("credit", 5), Entry("debit", 7, "EUR")]
    entries.append(Entry("credit", 7, "EUR"))
    with pytest.raises(FxRateNotFound) as caught:
        price(entries, reporting=Reporting(currency="JPY"))
    assert caught.value.details["quote"] == "USD"
    loaded = {("EUR", "USD", DAY): Decimal(1), ("EUR", "JPY", DAY): Decimal(160)}
    with pytest.raises(FxRateNotFound) as caught:
        price(entries, loaded_rates=loaded, reporting=Reporting(currency="JPY"))
    assert caught.value.details == {
        "base": "USD",
        "quote": "JPY",
        "date": "2026-03-01",
        "entry_index": 0,
    }


def test_a_reversal_takes_the_given_reporting_amounts_and_rates() -> None:
    entries = [Entry("debit", 10, "EUR", amount_base=13), Entry("credit", 10, "EUR", 13)]
    pricing = price(
        entries,
        fixed_rates={"EUR": Decimal("1.25")},
        reporting=Reporting(currency="JPY", fixed_rates={"EUR": Decimal(150)}, given=[1499, 1499]),
    )
    assert pricing.reportings == [1499, 1499]
    assert pricing.reporting_rates_used() == {"EUR": Decimal(150)}
    assert price(entries, fixed_rates={"EUR": Decimal("1.25")}).reportings == []


def test_a_base_amount_over_the_largest_amount_is_refused() -> None:
    big = limits.AMOUNT_MINOR_MAX
    entries = [Entry("debit", big, "EUR"), Entry("credit", big, "EUR")]
    with pytest.raises(ValidationError) as caught:
        price(entries, loaded_rates={("EUR", "USD", DAY): Decimal("2")})
    assert caught.value.details == {"field": "$.entries[0].amount", "amount_base": str(2 * big)}


@given(
    st.lists(st.integers(1, 10**12), min_size=1, max_size=5),
    st.lists(st.integers(1, 10**12), min_size=1, max_size=5),
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1000"), places=4),
)
def test_a_balanced_journal_balances_in_the_base_currency(
    debits: list[int], credits: list[int], rate: Decimal
) -> None:
    credits[-1] += sum(debits) - sum(credits)
    if credits[-1] <= 0:
        return
    entries = [Entry("debit", a, "EUR") for a in debits] + [
        Entry("credit", a, "EUR") for a in credits
    ]
    try:
        pricing = price(entries, loaded_rates={("EUR", "USD", DAY): rate})
    except ValidationError:
        return
    sides = [e.direction for e in entries]
    debit_total = sum(b for b, d in zip(pricing.bases, sides, strict=True) if d == "debit")
    assert debit_total == sum(pricing.bases) - debit_total


def test_an_entry_ledger_is_found_open_and_in_the_entry_currency_in_that_order() -> None:
    ledger_id = uuid.uuid4()
    with pytest.raises(LedgerNotFound) as missing:
        check_entry_ledger(1, Name("cash"), None, "USD")
    assert missing.value.details == {"entry_index": 1, "ledger": {"code": "cash"}}
    closed = Ledger(ledger_id, "cash", status="closed", currency="EUR")
    with pytest.raises(LedgerClosed) as caught:
        check_entry_ledger(0, Name("cash"), closed, "USD")
    assert caught.value.details == {"entry_index": 0, "ledger_id": str(ledger_id)}
    with pytest.raises(CurrencyMismatch) as mismatch:
        check_entry_ledger(2, Name("cash"), Ledger(ledger_id, "cash", currency="EUR"), "USD")
    assert mismatch.value.details == {
        "entry_index": 2,
        "ledger_id": str(ledger_id),
        "currency": "USD",
        "ledger_currency": "EUR",
    }
    any_currency = Ledger(ledger_id, "cash")
    assert check_entry_ledger(0, Name("cash"), any_currency, "JPY") is any_currency


def test_only_a_posted_journal_of_the_tenant_can_be_reversed() -> None:
    tenant, other, journal_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    posted = Original("posted", 1, tenant)
    assert check_reversible(journal_id, posted, tenant) is posted
    cases: list[tuple[Original | None, type[LedgerError]]] = [
        (None, NotFound),
        (Original("posted", 1, other), NotFound),
        (Original("reversed", 2, tenant), AlreadyReversed),
        (Original("pending", 1, tenant), InvalidState),
        (Original("voided", 2, tenant), InvalidState),
    ]
    for original, error in cases:
        with pytest.raises(error) as caught:
            check_reversible(journal_id, original, tenant)
        assert caught.value.details == {"journal_id": str(journal_id)}


def test_only_a_posted_journal_of_the_tenant_can_be_amended() -> None:
    tenant, other, journal_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    posted = Original("posted", 1, tenant)
    assert check_amendable(journal_id, posted, tenant) is posted
    for missing in (None, Original("posted", 1, other)):
        with pytest.raises(NotFound) as not_found:
            check_amendable(journal_id, missing, tenant)
        assert not_found.value.details == {"journal_id": str(journal_id)}
    cases: list[tuple[Original, type[LedgerError]]] = [
        # Amended before: amending reverses, so an amended journal reads reversed.
        (Original("reversed", 2, tenant), AlreadyReversed),
        (Original("voided", 2, tenant), AlreadyReversed),
        (Original("pending", 1, tenant), InvalidState),
    ]
    for original, error in cases:
        with pytest.raises(error) as caught:
            check_amendable(journal_id, original, tenant)
        assert caught.value.details == {"journal_id": str(journal_id), "status": original.status}


def test_only_a_pending_journal_of_the_tenant_can_be_committed_or_voided() -> None:
    tenant, other, journal_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    pending = Original("pending", 1, tenant)
    assert check_settleable(journal_id, pending, tenant, "commit") == "posted"
    assert check_settleable(journal_id, pending, tenant, "void") == "voided"
    for missing in (None, Original("pending", 1, other)):
        with pytest.raises(NotFound) as not_found:
            check_settleable(journal_id, missing, tenant, "commit")
        assert not_found.value.details == {"journal_id": str(journal_id)}
    with pytest.raises(InvalidState) as caught:
        check_settleable(journal_id, Original("voided", 2, tenant), tenant, "commit")
    assert str(caught.value) == "only a pending journal can be commited; this one is voided"
    assert caught.value.details == {"journal_id": str(journal_id), "status": "voided"}


def test_a_reversal_entry_goes_the_other_way() -> None:
    assert (mirrored_direction("debit"), mirrored_direction("credit")) == ("credit", "debit")


def test_the_duplicate_fingerprint_ignores_entry_order_but_not_the_reference() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    lines = [(a, "debit", 5, "USD"), (b, "credit", 5, "USD")]
    same = duplicate_fingerprint(DAY, "r", lines)
    assert duplicate_fingerprint(DAY, "r", lines[::-1]) == same
    assert duplicate_fingerprint(DAY, "s", lines) != same
    assert duplicate_fingerprint(DAY + dt.timedelta(days=1), "r", lines) != same


def test_a_possible_duplicate_is_refused_unless_forced_then_warned() -> None:
    other = uuid.uuid4()
    assert duplicate_warnings(None, force=False) == ()
    with pytest.raises(PossibleDuplicate) as caught:
        duplicate_warnings(other, force=False)
    assert caught.value.details == {"journal_id": str(other)}
    (warning,) = duplicate_warnings(other, force=True)
    assert (warning.code, warning.journal_id) == ("POSSIBLE_DUPLICATE", other)


def test_the_minimum_balance_refuses_only_a_fall_below_it() -> None:
    ledger_id = uuid.uuid4()
    limit: dict[str, Any] = {
        "ledger_id": ledger_id,
        "ledger_code": "cash",
        "currency": "USD",
        "min_balance": 0,
    }
    check_min_balance(**limit, available_before=10, available_after=0)
    # Already below the minimum: paying in (or nothing changing) is allowed.
    check_min_balance(**limit, available_before=-5, available_after=-2)
    check_min_balance(**limit, available_before=-5, available_after=-5)
    with pytest.raises(InsufficientFunds) as caught:
        check_min_balance(**limit, available_before=10, available_after=-1)
    assert caught.value.details == {
        "ledger_id": str(ledger_id),
        "currency": "USD",
        "available": 10,
        "required": 11,
        "min_balance": 0,
    }
