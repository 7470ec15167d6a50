"""The int64 range of totals and balances (422 AMOUNT_OVERFLOW), without a database: the
journal's own totals (ledger.domain.posting), a ledger's side totals and what they bound
(ledger.domain.balances), a match's sums (ledger.domain.records), and the database's range
errors as the same 422 (ledger.store.overflow)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import limits
from ledger.domain.balances import Sides, Totals, available_of, check_sides, check_total
from ledger.domain.posting import price_entries
from ledger.domain.records import MatchItem, check_match_balances
from ledger.errors import AmountOverflow, JournalUnbalanced, MatchUnbalanced
from ledger.store.overflow import amount_overflow, is_amount_overflow

MAX = limits.TOTAL_MINOR_MAX
DAY = dt.date(2026, 3, 1)
PRECISIONS = {"USD": 2, "EUR": 2, "JPY": 0}


@dataclass(frozen=True)
class Entry:
    direction: str
    amount: int
    currency: str | None = None
    amount_base: int | None = None


def price(entries: list[Entry], **rates: Decimal) -> object:
    return price_entries(
        entries,
        journal_currency="USD",
        base="USD",
        precisions=PRECISIONS,
        fixed_rates=None,
        loaded_rates={(code, "USD", DAY): rate for code, rate in rates.items()},
        effective_date=DAY,
    )


def test_a_total_is_an_int64() -> None:
    assert check_total(MAX, "x", {}) == MAX
    assert check_total(-MAX, "x", {}) == -MAX
    for beyond in (MAX + 1, -MAX - 1, 2 * MAX):
        with pytest.raises(AmountOverflow) as caught:
            check_total(beyond, "the thing", {"a": 1})
        assert caught.value.code == "AMOUNT_OVERFLOW"
        assert caught.value.status_code == 422
        assert caught.value.details == {"a": 1, "limit": MAX}
        assert "the thing" in caught.value.message


def test_a_journals_total_per_currency_is_an_int64_and_checked_before_balance() -> None:
    # Two debits of the largest amount: the debits total is 2^64-2, refused although each
    # amount is valid, and before the (also failing) balance check.
    entries = [Entry("debit", MAX), Entry("debit", MAX), Entry("credit", 1)]
    with pytest.raises(AmountOverflow) as caught:
        price(entries)
    assert caught.value.details == {"currency": "USD", "side": "debit", "limit": MAX}
    # In range, the balance check still answers as before.
    with pytest.raises(JournalUnbalanced):
        price([Entry("debit", MAX), Entry("credit", 1)])
    price([Entry("debit", MAX - 1), Entry("debit", 1), Entry("credit", MAX)])


def test_a_journals_base_total_is_an_int64() -> None:
    # 5 * 10^16 JPY at 1 JPY = 1 USD is 5 * 10^18 USD cents per entry: each fits, and the
    # JPY totals (10^17) do, but the USD totals (10^19) do not.
    amount = 5 * 10**16
    entries = [Entry(side, amount, "JPY") for side in ("debit", "debit", "credit", "credit")]
    with pytest.raises(AmountOverflow) as caught:
        price(entries, JPY=Decimal("1"))
    assert caught.value.details["field"] == "base_currency"
    assert caught.value.details["currency"] == "USD"


def test_a_ledgers_side_totals_are_checked() -> None:
    check_sides(Sides(MAX, MAX), {})
    with pytest.raises(AmountOverflow) as caught:
        check_sides(Sides(MAX + 1, 0), {"ledger_id": "x"})
    assert caught.value.details["side"] == "debit"
    with pytest.raises(AmountOverflow) as caught:
        check_sides(Sides(0, MAX + 1), {"ledger_id": "x"})
    assert caught.value.details["side"] == "credit"


@given(
    st.integers(0, MAX),
    st.integers(0, MAX),
    st.integers(0, MAX),
    st.integers(0, MAX),
    st.sampled_from(["debit", "credit"]),
)
def test_side_totals_in_range_bound_every_balance(
    dp: int, cp: int, dq: int, cq: int, normal: str
) -> None:
    # The guard checks only posted + pending per side; every figure a balance answers then
    # is an int64 (ledger.domain.balances).
    if dp + dq > MAX or cp + cq > MAX:
        return
    totals = Totals(dp, cp, dq, cq)
    posted = dp - cp if normal == "debit" else cp - dp
    pending = posted + ((dq - cq) if normal == "debit" else (cq - dq))
    for figure in (posted, pending, available_of(normal, totals), dp, cp, dq, cq):
        assert check_total(figure, "figure", {}) == figure


def item(stream: str, amount: int, direction: str, places: int = 2) -> MatchItem:
    return MatchItem(
        entry_id=uuid.uuid4(),
        data_stream_key=stream,
        amount=amount,
        direction=direction,  # type: ignore[arg-type]
        decimal_places=places,
    )


def test_a_matchs_sums_are_int64_at_its_scale() -> None:
    items = (item("a", MAX, "credit"), item("a", MAX, "credit"), item("b", 1, "debit"))
    with pytest.raises(AmountOverflow) as caught:
        check_match_balances(items, 0)
    assert caught.value.details["side"] == "credit"
    # One item at 0 decimal places against one at 18 scales the first by 10^18.
    with pytest.raises(AmountOverflow):
        check_match_balances((item("a", 10, "credit", 0), item("b", 10, "debit", 18)), 0)
    # A single stream is still refused first, and an in-range imbalance as before.
    with pytest.raises(MatchUnbalanced):
        check_match_balances((item("a", MAX, "credit"), item("a", MAX, "credit")), 0)
    with pytest.raises(MatchUnbalanced):
        check_match_balances((item("a", MAX, "credit"), item("b", 1, "debit")), 0)


def test_the_databases_range_errors_are_the_same_422() -> None:
    out_of_range = asyncpg.NumericValueOutOfRangeError("bigint out of range")
    assert is_amount_overflow(out_of_range)
    assert amount_overflow(out_of_range).code == "AMOUNT_OVERFLOW"
    check = asyncpg.CheckViolationError("violates check constraint")
    check.constraint_name = "balances_sides_int64"
    assert is_amount_overflow(check)
    other = asyncpg.CheckViolationError("violates check constraint")
    other.constraint_name = "ledgers_depth_check"
    assert not is_amount_overflow(other)
    assert not is_amount_overflow(ValueError("x"))
