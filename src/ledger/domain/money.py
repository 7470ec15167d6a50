"""Exact money arithmetic: conversion to a base currency and rounding-residue assignment.

Amounts are integers in minor units. Only FX rates are Decimals, and every product is
computed in a Decimal context wide enough to be exact for 64-bit amounts and 18-digit
precision differences, then rounded half-to-even once (docs/api.md §3).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Final

from ledger import limits

# 19 digits of amount x up to 40 significant digits of rate x 10^36: 100 digits is exact.
_EXACT: Final = Context(prec=limits.MONEY_EXACT_DIGITS, rounding=ROUND_HALF_EVEN)
# An inverse rate (1 / r) is not finite in general: it is fixed to this many significant
# digits, and that fixed value is both the rate shown in the journal and the one used.
INVERSE_RATE_DIGITS: Final = limits.INVERSE_RATE_DIGITS
_INVERSE: Final = Context(prec=INVERSE_RATE_DIGITS, rounding=ROUND_HALF_EVEN)


def inverse_rate(rate: Decimal) -> Decimal:
    """1 / ``rate`` to :data:`INVERSE_RATE_DIGITS` significant digits."""
    assert rate > 0
    return _INVERSE.divide(Decimal(1), rate).normalize(_INVERSE)


def convert_exact(
    amount_minor: int, rate: Decimal, precision_from: int, precision_to: int
) -> Decimal:
    """``amount x rate x 10^(precision_to - precision_from)``, exactly (not rounded)."""
    assert rate > 0
    return _EXACT.multiply(Decimal(amount_minor), rate).scaleb(
        precision_to - precision_from, _EXACT
    )


def round_minor(exact: Decimal) -> int:
    """Round half to even to a whole number of minor units."""
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


def convert_minor(amount_minor: int, rate: Decimal, precision_from: int, precision_to: int) -> int:
    """``round_half_even(amount x rate x 10^(precision_to - precision_from))``."""
    return round_minor(convert_exact(amount_minor, rate, precision_from, precision_to))


def assign_residue(
    debits_base: Sequence[int], credits_base: Sequence[int], total: int
) -> tuple[list[int], list[int]]:
    """Make each side add up to ``total`` by moving the rounding residue.

    Each amount was rounded on its own, so a side can miss the correctly rounded total of
    its exact values by a few minor units. The difference goes to the side's largest amount
    (the first of equals), where it is relatively smallest. A journal balanced per currency
    has equal exact totals on both sides, so ``total`` is the rounded exact total of either.
    """
    assert debits_base
    assert credits_base
    debits, credits = list(debits_base), list(credits_base)
    for side in (debits, credits):
        index = max(range(len(side)), key=lambda i: (side[i], -i))
        side[index] += total - sum(side)
    assert sum(debits) == sum(credits) == total
    return debits, credits


def minor_units(major: Decimal, precision: int) -> int | None:
    """``major`` (an amount in major units, e.g. ``12.34``) as a whole number of minor units
    of a currency with ``precision`` decimals (``1234``), or None when it has more decimal
    places than that (trailing zeros do not count: ``12.340`` is 1234 at precision 2).

    Exact for any input: it reads the decimal digits and never rounds in a context.
    ``major`` must be finite and at most :data:`limits.AMOUNT_MINOR_MAX` minor units in
    magnitude (checked by the caller with a comparison first, so no huge power is built).
    """
    sign, digits, exponent = major.as_tuple()
    assert isinstance(exponent, int), "finite"
    shift = exponent + precision
    if shift < 0:
        kept, dropped = digits[: max(len(digits) + shift, 0)], digits[len(digits) + shift :]
        if any(dropped):
            return None
        digits, shift = kept, 0
    magnitude: int = int("".join(map(str, digits)) or "0") * 10**shift
    return -magnitude if sign else magnitude


def major_units(minor: int, precision: int) -> Decimal:
    """``minor`` minor units in major units, exactly, without trailing zeros or an exponent
    (``1230`` at precision 2 is ``12.3``; ``1200`` is ``12``): how a number is written back."""
    major = Decimal(minor).scaleb(-precision, _EXACT)
    if major == major.to_integral_value():
        return Decimal(int(major))
    return major.normalize(_EXACT)
