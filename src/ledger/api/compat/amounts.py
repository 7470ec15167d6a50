"""Major-unit amounts of the seed shapes, as the native minor units.

The seeds carry money as decimal strings or JSON numbers in major units; each compat module
reads its own text exactly (never through a float) into a ``Decimal`` and converts it here,
so every seed refuses the same amounts with the same 400.
"""

from __future__ import annotations

from decimal import Decimal

from ledger import limits
from ledger.domain.money import major_units, minor_units
from ledger.errors import ValidationError


def minor_units_of(value: Decimal, precision: int, field: str) -> int:
    """``value`` (major units, either sign) in minor units of a currency with ``precision``.

    Raises:
        ValidationError: more decimals than ``precision``, or beyond the largest amount
            (``limits.AMOUNT_MINOR_MAX`` minor units) either way (400 naming ``field``).
    """
    largest = major_units(limits.AMOUNT_MINOR_MAX, precision)
    if abs(value) > largest:
        raise ValidationError(f"{field} is beyond the largest amount ({largest})", {"field": field})
    minor = minor_units(value, precision)
    if minor is None:
        raise ValidationError(
            f"{field} has more than {precision} decimal places",
            {"field": field, "decimal_places": precision},
        )
    return minor
