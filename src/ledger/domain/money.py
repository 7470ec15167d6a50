"""Exact money arithmetic: conversion to a base currency and rounding-residue assignment.

Amounts are integers in minor units. Only FX rates are Decimals, and every product is
computed in a Decimal context wide enough to be exact for 64-bit amounts and 18-digit
precision differences, then rounded half-to-even once (spec/API.md §3).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Final

# 19 digits of amount x up to 40 significant digits of rate x 10^36: 100 digits is exact.
_EXACT: Final = Context(prec=100, rounding=ROUND_HALF_EVEN)
# An inverse rate (1 / r) is not finite in general: it is fixed to this many significant
# digits, and that fixed value is both the rate shown in the journal and the one used.
INVERSE_RATE_DIGITS: Final = 20
_INVERSE: Final = Context(prec=INVERSE_RATE_DIGITS, rounding=ROUND_HALF_EVEN)


def inverse_rate(rate: Decimal) -> Decimal:
    """1 / ``rate`` to :data:`INVERSE_RATE_DIGITS` significant digits."""
    assert rate > 0
    return _INVERSE.divide(Decimal(1), rate).normalize(_INVERSE)


def convert_minor(amount_minor: int, rate: Decimal, precision_from: int, precision_to: int) -> int:
    """``round_half_even(amount x rate x 10^(precision_to - precision_from))``."""
    assert rate > 0
    exact = _EXACT.multiply(Decimal(amount_minor), rate).scaleb(
        precision_to - precision_from, _EXACT
    )
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


def assign_residue(
    debits_base: Sequence[int], credits_base: Sequence[int]
) -> tuple[list[int], list[int]]:
    """Make base debits equal base credits by moving the rounding residue.

    Each amount was rounded on its own, so the sides can differ by a few minor units. The
    difference is added to the largest amount of the smaller side (the first of equals),
    where it is relatively smallest. Both sides non-empty.
    """
    assert debits_base
    assert credits_base
    debits, credits = list(debits_base), list(credits_base)
    difference = sum(debits) - sum(credits)
    if difference > 0:
        index = max(range(len(credits)), key=lambda i: (credits[i], -i))
        credits[index] += difference
    elif difference < 0:
        index = max(range(len(debits)), key=lambda i: (debits[i], -i))
        debits[index] -= difference
    assert sum(debits) == sum(credits)
    return debits, credits
