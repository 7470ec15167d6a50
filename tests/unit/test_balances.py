"""Balance arithmetic (ledger.domain.balances), without a database."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.balances import Totals, available_of

amounts = st.integers(min_value=0, max_value=2**62)
totals = st.builds(Totals, amounts, amounts, amounts, amounts)


def test_available_counts_pending_against_the_normal_side_only() -> None:
    t = Totals(debits_posted=100, credits_posted=30, debits_pending=7, credits_pending=5)
    assert available_of("debit", t) == 100 - 30 - 5
    assert available_of("credit", t) == 30 - 100 - 7


@given(totals, totals)
def test_plus_adds_field_by_field(a: Totals, b: Totals) -> None:
    assert a.plus(b) == Totals(*(x + y for x, y in zip(a, b, strict=True)))
    assert a.plus(Totals()) == a


@given(totals, totals)
def test_available_of_a_sum_is_the_sum_of_availables(a: Totals, b: Totals) -> None:
    for side in ("debit", "credit"):
        assert available_of(side, a.plus(b)) == available_of(side, a) + available_of(side, b)
