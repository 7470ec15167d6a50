"""Custom currencies and FX rates: events, aggregates and the rate-resolution rule.

- A tenant's **custom currency** is an aggregate of its own, added once and never changed.
  Its id is ``uuid5(tenant_id, "currency:" + code)``: a second add of the same code is the
  same aggregate at version 1 again, so the event store refuses it (the database's second
  check of the handler's duplicate check).
- An **FX pair** (tenant, base, quote) is an aggregate with id
  ``uuid5(tenant_id, f"fx:{base}:{quote}")``; every ``FxRateSet`` is its next version. The
  first set creates the pair (there is no separate "opened" event), so the stock
  eventsourcing reader reconstructs it from ``FxRateSet`` events alone.

Events carry values the handlers already validated: ``apply`` does no validation, I/O or
clock reads.

Rate resolution (docs/api.md §3): converting F to T on day D uses the F→T rate with the
latest effective date ≤ D, else the inverse of the latest T→F rate with date ≤ D, else there
is no rate. :func:`resolve_rate` states the rule over in-memory rates; the SQL in
``ledger.queries.currencies`` implements the same rule and is tested against this function.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger import limits
from ledger.domain.money import inverse_rate

# A rate on the wire: plain decimal notation, no sign, no exponent ("1.0842", "150", "0.0067").
RATE_TEXT_PATTERN: Final = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
RATE_TEXT_LENGTH_MAX: Final = limits.RATE_TEXT_LENGTH_MAX
# money.convert_minor is exact for rates of up to 40 significant digits.
RATE_SIGNIFICANT_DIGITS_MAX: Final = limits.RATE_SIGNIFICANT_DIGITS_MAX
# No rate is below 1E-40 or 1E+41 or above (the text form is at most 80 characters anyway).
RATE_ADJUSTED_EXPONENT_MAX: Final = limits.RATE_ADJUSTED_EXPONENT_MAX


def currency_id(tenant_id: UUID, code: str) -> UUID:
    """The id of a tenant's custom currency aggregate."""
    return uuid.uuid5(tenant_id, "currency:" + code)


def fx_pair_id(tenant_id: UUID, base: str, quote: str) -> UUID:
    """The id of a tenant's (base, quote) FX pair aggregate."""
    return uuid.uuid5(tenant_id, f"fx:{base}:{quote}")


class CustomCurrency(Aggregate):
    """A currency a tenant added beside the ISO 4217 ones (``BTC`` with precision 8, …)."""

    @dataclass(frozen=True)
    class CurrencyAdded(Aggregate.Created):
        tenant_id: UUID
        code: str
        precision: int

    def __init__(self, tenant_id: UUID, code: str, precision: int) -> None:
        self.tenant_id = tenant_id
        self.code = code
        self.precision = precision

    @classmethod
    def add(cls, *, tenant_id: UUID, code: str, precision: int) -> CustomCurrency:
        """A new custom currency (the handler has checked code, precision and uniqueness)."""
        return cls._create(
            cls.CurrencyAdded,
            id=currency_id(tenant_id, code),
            tenant_id=tenant_id,
            code=code,
            precision=precision,
        )


class FxPair(Aggregate):
    """The rates a tenant set for one (base, quote) pair: 1 base = rate quote from a date on.

    State: ``rates`` maps each effective date to the rate set last for it.
    """

    @dataclass(frozen=True)
    class FxRateSet(Aggregate.Event):
        """1 ``base`` = ``rate`` ``quote`` from ``date`` on (the latest set of a date wins)."""

        tenant_id: UUID
        base: str
        quote: str
        date: dt.date
        rate: Decimal

        def mutate(self, aggregate: Any) -> Any:
            # The first set (version 1) creates the pair; later ones extend it as usual.
            if aggregate is None:
                assert self.originator_version == 1
                pair = FxPair.__new__(FxPair)
                pair.__base_init__(
                    originator_id=self.originator_id, originator_version=0, timestamp=self.timestamp
                )
                FxPair.__init__(pair, tenant_id=self.tenant_id, base=self.base, quote=self.quote)
                aggregate = pair
            return super().mutate(aggregate)

        def apply(self, aggregate: Any) -> None:
            aggregate.rates[self.date] = self.rate

    def __init__(self, tenant_id: UUID, base: str, quote: str) -> None:
        self.tenant_id = tenant_id
        self.base = base
        self.quote = quote
        self.rates: dict[dt.date, Decimal] = {}

    @classmethod
    def rate_set(
        cls,
        *,
        tenant_id: UUID,
        base: str,
        quote: str,
        date: dt.date,
        rate: Decimal,
        version: int,
        timestamp: dt.datetime | None = None,
    ) -> FxPair.FxRateSet:
        """The ``FxRateSet`` event at ``version`` (1 for the pair's first set), as a handler
        deciding from the ``fx_pairs`` row builds it."""
        assert version >= 1
        return FxPair.FxRateSet(
            originator_id=fx_pair_id(tenant_id, base, quote),
            originator_version=version,
            timestamp=timestamp or cls.FxRateSet.create_timestamp(),
            tenant_id=tenant_id,
            base=base,
            quote=quote,
            date=date,
            rate=rate,
        )


def parse_rate(text: str) -> Decimal | None:
    """The rate ``text`` spells, or None if it is not a valid rate.

    Valid: plain decimal notation (digits, optionally a point and more digits; no sign,
    exponent, spaces or other characters), at most :data:`RATE_TEXT_LENGTH_MAX` characters,
    and :func:`is_valid_rate` (> 0, at most 40 significant digits). The
    Decimal keeps the text's digits exactly (never a float on the way).
    """
    if len(text) > RATE_TEXT_LENGTH_MAX or RATE_TEXT_PATTERN.fullmatch(text) is None:
        return None
    try:
        rate = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
        return None
    return rate if is_valid_rate(rate) else None


def significant_digits(value: Decimal) -> int:
    """How many significant digits a finite Decimal has (trailing zeros are not)."""
    digits = value.as_tuple().digits
    count = len(digits)
    while count > 1 and digits[count - 1] == 0:
        count -= 1
    return count


def is_valid_rate(rate: Decimal) -> bool:
    """Finite, > 0, at most :data:`RATE_SIGNIFICANT_DIGITS_MAX` significant digits and
    between 1E-40 and 1E+41 (no Decimal context rounds it on the way: nothing is lost)."""
    if not rate.is_finite() or rate <= 0:
        return False
    return (
        significant_digits(rate) <= RATE_SIGNIFICANT_DIGITS_MAX
        and abs(rate.adjusted()) <= RATE_ADJUSTED_EXPONENT_MAX
    )


def format_rate(rate: Decimal) -> str:
    """``rate`` in plain decimal notation, never an exponent (``1E+1`` reads ``10``)."""
    return format(rate, "f")


@dataclass(frozen=True, slots=True)
class ResolvedRate:
    """The rate converting one currency to another on a day, and where it came from.

    ``rate``: 1 unit of the from-currency = ``rate`` units of the to-currency.
    ``inverse``: it is ``inverse_rate`` of the to→from rate set on ``effective_date``.
    ``effective_date``: the date of the rate setting used (None for the same currency).
    """

    rate: Decimal
    inverse: bool
    effective_date: dt.date | None


SAME_CURRENCY: Final = ResolvedRate(rate=Decimal(1), inverse=False, effective_date=None)


def latest_on_or_before(
    rates: Mapping[dt.date, Decimal], on: dt.date
) -> tuple[dt.date, Decimal] | None:
    """The (date, rate) with the latest date ≤ ``on``, or None if every date is later."""
    eligible = [d for d in rates if d <= on]
    if not eligible:
        return None
    latest = max(eligible)
    return latest, rates[latest]


def choose_rate(
    direct: tuple[dt.date, Decimal] | None, reverse: tuple[dt.date, Decimal] | None
) -> ResolvedRate | None:
    """The rule of §3 given the latest eligible from→to setting and to→from setting:
    the direct one if any, else the inverse of the reverse one, else None."""
    if direct is not None:
        return ResolvedRate(rate=direct[1], inverse=False, effective_date=direct[0])
    if reverse is not None:
        return ResolvedRate(rate=inverse_rate(reverse[1]), inverse=True, effective_date=reverse[0])
    return None


def resolve_rate(
    rates: Mapping[tuple[str, str], Mapping[dt.date, Decimal]],
    from_currency: str,
    to_currency: str,
    on: dt.date,
) -> ResolvedRate | None:
    """The rate converting ``from_currency`` to ``to_currency`` on ``on`` (docs/api.md §3).

    ``rates`` maps (base, quote) to the rate set for each effective date. The same currency
    converts at exactly 1. None: no rate applies (the API answers 422 ``FX_RATE_NOT_FOUND``).
    """
    if from_currency == to_currency:
        return SAME_CURRENCY
    direct = latest_on_or_before(rates.get((from_currency, to_currency), {}), on)
    reverse = latest_on_or_before(rates.get((to_currency, from_currency), {}), on)
    return choose_rate(direct, reverse)
