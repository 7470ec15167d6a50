"""Exact conversion to the base currency and rounding-residue assignment."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.money import (
    assign_residue,
    convert_exact,
    convert_minor,
    inverse_rate,
    major_units,
    minor_units,
    round_minor,
)


def test_conversion_rounds_half_to_even() -> None:
    # 1 unit at 0.5 is exactly half: even rounding goes down to 0, 3 x 0.5 = 1.5 goes up to 2.
    assert convert_minor(1, Decimal("0.5"), 2, 2) == 0
    assert convert_minor(3, Decimal("0.5"), 2, 2) == 2
    assert convert_minor(5, Decimal("0.5"), 2, 2) == 2


def test_conversion_applies_the_precision_difference() -> None:
    # 1000 JPY (precision 0) at 0.0068 USD = 6.80 USD = 680 minor units.
    assert convert_minor(1000, Decimal("0.0068"), 0, 2) == 680
    # 1.000 KWD (precision 3, 1000 minor) at 3.25 USD = 3.25 USD = 325 minor units.
    assert convert_minor(1000, Decimal("3.25"), 3, 2) == 325


def test_conversion_of_the_largest_amount_is_exact() -> None:
    amount = 2**63 - 1
    assert convert_minor(amount, Decimal("1"), 2, 2) == amount
    assert convert_minor(amount, Decimal("10"), 2, 2) == amount * 10


def test_inverse_rate_has_fixed_significant_digits() -> None:
    assert inverse_rate(Decimal("4")) == Decimal("0.25")
    assert len(inverse_rate(Decimal("3")).as_tuple().digits) == 20


def test_residue_goes_to_the_largest_amount_of_each_side() -> None:
    # Two debits of 1 EUR and one credit of 2 EUR at 1.5: exact total 3.00, rounded
    # one by one 2 + 2 = 4 on the debit side; the debit side gives back one unit.
    debits, credits = assign_residue([2, 2], [3], 3)
    assert debits == [1, 2]
    assert credits == [3]


amounts = st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=20)
rates = st.decimals(
    min_value=Decimal("0.0001"), max_value=Decimal("10000"), places=6, allow_nan=False
)


@given(amounts=amounts, rate=rates, split=st.integers(min_value=1, max_value=19))
def test_base_debits_equal_base_credits_for_any_rate(
    amounts: list[int], rate: Decimal, split: int
) -> None:
    # A journal balanced in one foreign currency: the debits are `amounts`, the credits the
    # same total split differently; converted one by one, the sides may differ by rounding.
    total = sum(amounts)
    cut = min(split, total - 1) if total > 1 else 0
    credits_foreign = [cut, total - cut] if cut else [total]
    debits = [convert_minor(a, rate, 2, 2) for a in amounts]
    credits = [convert_minor(a, rate, 2, 2) for a in credits_foreign]
    total = round_minor(sum((convert_exact(a, rate, 2, 2) for a in amounts), Decimal(0)))
    fixed_debits, fixed_credits = assign_residue(debits, credits, total)
    assert sum(fixed_debits) == sum(fixed_credits) == total
    # At most one amount per side moved, by less than one unit per entry of that side.
    for fixed, rounded in ((fixed_debits, debits), (fixed_credits, credits)):
        moved = [a - b for a, b in zip(fixed, rounded, strict=True) if a != b]
        assert len(moved) <= 1
        assert all(abs(m) <= len(rounded) for m in moved)


def test_minor_units_reads_the_digits_exactly() -> None:
    assert minor_units(Decimal("12.34"), 2) == 1234
    assert minor_units(Decimal("12.340000"), 2) == 1234  # trailing zeros are no decimals
    assert minor_units(Decimal("1E+2"), 2) == 10000
    assert minor_units(Decimal("-0.5"), 1) == -5
    assert minor_units(Decimal("0"), 2) == 0
    assert minor_units(Decimal("12.345"), 2) is None
    assert minor_units(Decimal("0.5"), 0) is None
    # 31 significant digits: a 28-digit context would round this to 0.1 and accept it.
    assert minor_units(Decimal("0.1000000000000000000000000000001"), 2) is None


def test_major_units_has_no_trailing_zeros() -> None:
    assert str(major_units(1230, 2)) == "12.3"
    assert str(major_units(1200, 2)) == "12"
    assert str(major_units(5, 3)) == "0.005"
    assert str(major_units(9223372036854775807, 2)) == "92233720368547758.07"


@given(
    minor=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    precision=st.integers(min_value=0, max_value=18),
)
def test_major_and_minor_units_round_trip(minor: int, precision: int) -> None:
    assert minor_units(major_units(minor, precision), precision) == minor
