"""FX rate resolution, rate parsing and conversion at resolved rates (docs/api.md §3)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Context, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.currencies import (
    ISO_PRECISION,
    is_reserved_code,
    is_valid_custom_code,
    is_valid_precision,
)
from ledger.domain.fx import (
    SAME_CURRENCY,
    CustomCurrency,
    FxPair,
    ResolvedRate,
    currency_id,
    format_rate,
    fx_pair_id,
    is_valid_rate,
    parse_rate,
    resolve_rate,
)
from ledger.domain.money import INVERSE_RATE_DIGITS, convert_minor, inverse_rate
from ledger.store.mapper import MsgspecMapper

D = dt.date
RATES = {
    ("EUR", "USD"): {D(2026, 6, 1): Decimal("1.0842"), D(2026, 6, 10): Decimal("1.0900")},
    ("USD", "JPY"): {D(2026, 1, 1): Decimal("150")},
    ("KWD", "USD"): {D(2026, 1, 1): Decimal("3.25")},
}


def test_latest_date_on_or_before_wins() -> None:
    assert resolve_rate(RATES, "EUR", "USD", D(2026, 6, 1)) == ResolvedRate(
        Decimal("1.0842"), False, D(2026, 6, 1)
    )
    assert resolve_rate(RATES, "EUR", "USD", D(2026, 6, 9)) == ResolvedRate(
        Decimal("1.0842"), False, D(2026, 6, 1)
    )
    assert resolve_rate(RATES, "EUR", "USD", D(2026, 6, 10)) == ResolvedRate(
        Decimal("1.0900"), False, D(2026, 6, 10)
    )
    assert resolve_rate(RATES, "EUR", "USD", D(2030, 1, 1)) == ResolvedRate(
        Decimal("1.0900"), False, D(2026, 6, 10)
    )


def test_a_date_before_any_rate_has_none() -> None:
    assert resolve_rate(RATES, "EUR", "USD", D(2026, 5, 31)) is None
    assert resolve_rate(RATES, "USD", "EUR", D(2026, 5, 31)) is None
    assert resolve_rate(RATES, "EUR", "GBP", D(2030, 1, 1)) is None


def test_inverse_of_the_reverse_rate_is_the_fallback() -> None:
    resolved = resolve_rate(RATES, "JPY", "USD", D(2026, 3, 1))
    assert resolved == ResolvedRate(inverse_rate(Decimal("150")), True, D(2026, 1, 1))
    assert resolved is not None
    assert resolved.rate == Decimal("0.0066666666666666666667")  # 20 significant digits


def test_a_direct_rate_beats_a_newer_reverse_rate() -> None:
    rates = {
        ("EUR", "USD"): {D(2026, 1, 1): Decimal("1.05")},
        ("USD", "EUR"): {D(2026, 6, 1): Decimal("0.9")},
    }
    assert resolve_rate(rates, "EUR", "USD", D(2026, 7, 1)) == ResolvedRate(
        Decimal("1.05"), False, D(2026, 1, 1)
    )
    # Before any direct rate, the reverse one applies (if it is old enough).
    assert resolve_rate(rates, "EUR", "USD", D(2025, 12, 31)) is None
    assert resolve_rate(rates, "USD", "EUR", D(2026, 3, 1)) == ResolvedRate(
        inverse_rate(Decimal("1.05")), True, D(2026, 1, 1)
    )


def test_the_same_currency_converts_at_exactly_one() -> None:
    assert resolve_rate({}, "USD", "USD", D(2000, 1, 1)) == SAME_CURRENCY
    assert SAME_CURRENCY.rate == Decimal(1)


def _convert(amount: int, source: str, target: str, on: dt.date) -> int:
    resolved = resolve_rate(RATES, source, target, on)
    assert resolved is not None
    return convert_minor(amount, resolved.rate, ISO_PRECISION[source], ISO_PRECISION[target])


def test_conversion_is_exact_decimal() -> None:
    # 123.45 EUR at 1.0842 = 133.844490 USD → 13384 cents (below the half).
    assert _convert(12345, "EUR", "USD", D(2026, 6, 5)) == 13384
    # 0.1 x 3 style errors do not exist: 3 x 10 cents at 1 = 30 exactly, via Decimal.
    assert convert_minor(30, Decimal("0.1"), 2, 2) == 3


def test_conversion_rounds_ties_half_to_even_both_ways() -> None:
    # KWD (3) → USD (2) at 1: 5 fils = 0.5 cents → 0; 15 → 1.5 → 2; 25 → 2.5 → 2; 35 → 4.
    assert [convert_minor(a, Decimal(1), 3, 2) for a in (5, 15, 25, 35)] == [0, 2, 2, 4]
    # Negative ties mirror the positive ones.
    assert [convert_minor(-a, Decimal(1), 3, 2) for a in (5, 15, 25, 35)] == [0, -2, -2, -4]
    # A tie reached through the rate: 1 cent x 0.5 = 0.5 → 0, 3 x 0.5 = 1.5 → 2.
    assert convert_minor(1, Decimal("0.5"), 2, 2) == 0
    assert convert_minor(3, Decimal("0.5"), 2, 2) == 2
    # Just off the tie rounds to the nearer side.
    assert convert_minor(25, Decimal("1.0000000001"), 3, 2) == 3
    assert convert_minor(25, Decimal("0.9999999999"), 3, 2) == 2


def test_conversion_across_precisions() -> None:
    # JPY (0) → USD (2) through the inverse of USD/JPY 150: 1000 JPY = 6.666… USD → 667 cents.
    assert _convert(1000, "JPY", "USD", D(2026, 2, 1)) == 667
    # USD (2) → JPY (0) directly: 12.34 USD x 150 = 1851 JPY.
    assert _convert(1234, "USD", "JPY", D(2026, 2, 1)) == 1851
    # KWD (3) → USD (2): 1.000 KWD x 3.25 = 3.25 USD.
    assert _convert(1000, "KWD", "USD", D(2026, 2, 1)) == 325
    # 0.001 KWD x 3.25 = 0.00325 USD → 0 cents; 0.155 KWD → 0.50375 → 50 cents.
    assert _convert(1, "KWD", "USD", D(2026, 2, 1)) == 0
    assert _convert(155, "KWD", "USD", D(2026, 2, 1)) == 50


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.0842", Decimal("1.0842")),
        ("150", Decimal("150")),
        ("0.0067", Decimal("0.0067")),
        ("007.50", Decimal("7.50")),
        ("1" * 40, Decimal("1" * 40)),
        ("0." + "0" * 30 + "1", Decimal("1E-31")),
        ("1." + "0" * 60, Decimal(1)),  # trailing zeros are not significant
    ],
)
def test_valid_rate_text(text: str, expected: Decimal) -> None:
    rate = parse_rate(text)
    assert rate == expected
    assert isinstance(rate, Decimal)


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "0.000",
        "-1",
        "+1",
        "1e3",
        "1E-3",
        "NaN",
        "Infinity",
        "inf",
        ".5",
        "5.",
        "1,5",
        " 1",
        "1 ",
        "",
        "1" * 41,  # 41 significant digits
        "1.2" + "3" * 39,  # 41 significant digits
        "0." + "0" * 80 + "1",  # too long a text
        "\u0661",  # a non-ASCII digit (ARABIC-INDIC ONE)
    ],
)
def test_invalid_rate_text(text: str) -> None:
    assert parse_rate(text) is None


def test_rate_validity_of_decimals() -> None:
    assert is_valid_rate(Decimal("1.5"))
    assert is_valid_rate(Decimal("1" * 40))
    assert is_valid_rate(Decimal("1." + "1" * 39 + "0" * 10))  # trailing zeros: not significant
    assert is_valid_rate(Decimal("1E-40"))
    assert is_valid_rate(Decimal("9E+40"))
    for bad in ("0", "-1", "NaN", "sNaN", "Infinity", "-Infinity", "1" * 41, "1E-41", "1E+41"):
        assert not is_valid_rate(Decimal(bad))


def test_rates_format_without_exponents() -> None:
    assert format_rate(inverse_rate(Decimal("0.1"))) == "10"
    assert format_rate(Decimal("1.2E-7")) == "0.00000012"
    assert format_rate(Decimal("1.08420")) == "1.08420"


def test_custom_code_rules() -> None:
    for good in ("BTC", "USDC", "A1B2C3D4E5", "POINTS"):
        assert is_valid_custom_code(good)
    for bad in ("BT", "btc", "1BC", "ABCDEFGHIJK", "BT-C", "BTC\n", "ÄBC", ""):
        assert not is_valid_custom_code(bad)
    assert is_reserved_code("USD")
    assert is_reserved_code("XAU")  # on the ISO list, without a minor unit
    assert not is_reserved_code("BTC")
    assert [p for p in (-1, 0, 18, 19) if is_valid_precision(p)] == [0, 18]
    assert not is_valid_precision(True)


def test_aggregate_ids_are_derived_from_tenant_and_key() -> None:
    tenant = uuid.uuid4()
    assert currency_id(tenant, "BTC") == uuid.uuid5(tenant, "currency:BTC")
    assert fx_pair_id(tenant, "EUR", "USD") == uuid.uuid5(tenant, "fx:EUR:USD")
    assert fx_pair_id(tenant, "EUR", "USD") != fx_pair_id(tenant, "USD", "EUR")
    assert currency_id(tenant, "BTC") != currency_id(uuid.uuid4(), "BTC")


def test_fx_pair_is_rebuilt_from_rate_set_events_alone() -> None:
    tenant = uuid.uuid4()
    events = [
        FxPair.rate_set(
            tenant_id=tenant, base="EUR", quote="USD", date=day, rate=Decimal(rate), version=v
        )
        for v, (day, rate) in enumerate(
            [(D(2026, 6, 1), "1.08"), (D(2026, 6, 2), "1.09"), (D(2026, 6, 1), "1.07")], start=1
        )
    ]
    mapper = MsgspecMapper()
    pair = None
    for event in events:
        stored = mapper.to_stored_event(event)
        decoded = mapper.to_domain_event(stored)
        assert decoded == event
        pair = decoded.mutate(pair)
    assert isinstance(pair, FxPair)
    assert pair.id == fx_pair_id(tenant, "EUR", "USD")
    assert pair.version == 3
    assert pair.rates == {D(2026, 6, 1): Decimal("1.07"), D(2026, 6, 2): Decimal("1.09")}


def test_custom_currency_event_round_trips() -> None:
    tenant = uuid.uuid4()
    (event,) = CustomCurrency.add(tenant_id=tenant, code="BTC", precision=8).collect_events()
    mapper = MsgspecMapper()
    decoded = mapper.to_domain_event(mapper.to_stored_event(event))
    assert decoded == event
    currency = decoded.mutate(None)
    assert isinstance(currency, CustomCurrency)
    assert (currency.id, currency.code, currency.precision) == (
        currency_id(tenant, "BTC"),
        "BTC",
        8,
    )


# --- properties ---------------------------------------------------------------------------

amounts = st.integers(min_value=0, max_value=2**63 - 1)
rates_at_least_one = st.builds(
    lambda mantissa, exponent: Decimal(mantissa).scaleb(exponent),
    st.integers(min_value=1, max_value=10**15),
    st.integers(min_value=-12, max_value=6),
).filter(lambda r: r >= 1)
any_rates = st.builds(
    lambda mantissa, exponent: Decimal(mantissa).scaleb(exponent),
    st.integers(min_value=1, max_value=10**15),
    st.integers(min_value=-20, max_value=10),
)
precisions = st.integers(min_value=0, max_value=18)


@given(amounts, rates_at_least_one, precisions)
def test_round_trip_through_the_inverse_rate_is_within_one_unit(
    amount: int, rate: Decimal, precision: int
) -> None:
    # a → b = round(a·r) → round(b / r (to 20 digits)). With r ≥ 1 the first rounding
    # error (≤ 1/2) shrinks by r on the way back, the second adds ≤ 1/2, and the inverse's
    # relative error (≤ 5·10^-20) moves amounts below 2^63 by far less than the rest.
    there = convert_minor(amount, rate, precision, precision)
    back = convert_minor(there, inverse_rate(rate), precision, precision)
    assert abs(back - amount) <= 1


@given(amounts, any_rates, precisions, precisions)
def test_conversion_is_the_exact_product_rounded_half_even(
    amount: int, rate: Decimal, precision_from: int, precision_to: int
) -> None:
    converted = convert_minor(amount, rate, precision_from, precision_to)
    # Exact rational arithmetic with Python integers: amount·rate·10^(pt-pf) = num / den.
    sign, digits, exponent = rate.as_tuple()
    assert sign == 0
    assert isinstance(exponent, int)
    num = amount * int("".join(map(str, digits)))
    power = exponent + precision_to - precision_from
    den = 1
    if power >= 0:
        num *= 10**power
    else:
        den = 10**-power
    quotient, remainder = divmod(num, den)
    if 2 * remainder > den or (2 * remainder == den and quotient % 2 == 1):
        quotient += 1
    assert converted == quotient


@given(any_rates)
def test_inverse_rate_is_within_half_a_unit_of_its_last_digit(rate: Decimal) -> None:
    inverse = inverse_rate(rate)
    assert len(inverse.as_tuple().digits) <= INVERSE_RATE_DIGITS
    # |inverse·rate - 1| ≤ 1/2 ulp of the inverse, relative ≤ 5·10^-20.
    error = abs(Context(prec=200).multiply(inverse, rate) - 1)
    assert error <= Decimal("5E-20")
