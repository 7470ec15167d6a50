"""Currency and FX rate reads: for journal decisions (inside a batch) and for the HTTP API.

``fetch_precisions`` and ``fetch_rates`` answer many requests with at most ONE SQL statement
each, on whatever connection they are given (a group-commit batch passes its own, so they
read what that transaction sees). They read rows committed before the batch: a rate or a
currency added by an earlier command of the same batch is not visible to them (the two
commands were concurrent, so either order is a valid one; a journal stores the rate it used).

Rate resolution (docs/api.md §3, :func:`ledger.domain.fx.resolve_rate` states the same rule
in memory): from→to on day D uses the from→to rate with the latest effective date ≤ D, else
``inverse_rate`` of the latest to→from rate with date ≤ D, else there is none. The lookups
walk the ``fx_rates`` primary key backwards: one index probe per candidate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias
from uuid import UUID

if TYPE_CHECKING:
    import asyncpg

    from ledger.store.database import DbConnection

from ledger.domain.currencies import ISO_PRECISION, is_valid_custom_code
from ledger.domain.fx import SAME_CURRENCY, ResolvedRate, choose_rate
from ledger.errors import CurrencyUnknown, FxRateNotFound, ValidationError
from ledger.queries.pagination import decode_cursor, encode_cursor, page_limit

# What the reads run on: a group-commit batch's connection, any connection, or the pool.
Executor: TypeAlias = "DbConnection | asyncpg.Pool[Any]"
RateRequest: TypeAlias = tuple[str, str, dt.date]

_SELECT_PRECISIONS = (
    "SELECT code, precision FROM currencies WHERE tenant_id = $1 AND code = ANY($2::text[])"
)
# For each request (ord): the latest direct (from→to) and reverse (to→from) settings ≤ date.
_SELECT_RATES = """
SELECT q.ord, d.effective_date AS direct_date, d.rate AS direct_rate,
       r.effective_date AS reverse_date, r.rate AS reverse_rate
FROM unnest($2::text[], $3::text[], $4::date[]) WITH ORDINALITY AS q(f, t, on_date, ord)
LEFT JOIN LATERAL (
    SELECT x.effective_date, x.rate FROM fx_rates x
    WHERE x.tenant_id = $1 AND x.base = q.f AND x.quote = q.t AND x.effective_date <= q.on_date
    ORDER BY x.effective_date DESC LIMIT 1
) d ON true
LEFT JOIN LATERAL (
    SELECT x.effective_date, x.rate FROM fx_rates x
    WHERE x.tenant_id = $1 AND x.base = q.t AND x.quote = q.f AND x.effective_date <= q.on_date
    ORDER BY x.effective_date DESC LIMIT 1
) r ON true
"""
_SELECT_CUSTOM_PAGE = (
    'SELECT code, precision FROM currencies WHERE tenant_id = $1 AND code COLLATE "C" > $2'
    ' ORDER BY code COLLATE "C" LIMIT $3'
)


async def fetch_precisions(
    conn: Executor, tenant_id: UUID, codes: Collection[str]
) -> dict[str, int]:
    """The precision of each code of ``codes`` the tenant knows.

    ISO 4217 codes (those with a minor unit) come from the built-in table, the tenant's
    custom codes from ``currencies`` (one statement, only if a non-ISO code is asked).
    Unknown codes are absent from the answer.
    """
    found = {code: ISO_PRECISION[code] for code in codes if code in ISO_PRECISION}
    custom = sorted({c for c in codes if c not in ISO_PRECISION and is_valid_custom_code(c)})
    if custom:
        rows = await conn.fetch(_SELECT_PRECISIONS, tenant_id, custom)
        found.update({r["code"]: r["precision"] for r in rows})
    return found


async def fetch_resolved_rates(
    conn: Executor, tenant_id: UUID, requests: Collection[RateRequest]
) -> dict[RateRequest, ResolvedRate]:
    """For each (from_currency, to_currency, date) of ``requests``: the rate that converts
    from→to on that date, whether it is an inverse and the date of the setting used.

    Same-currency requests answer exactly 1 (no SQL). Requests with no rate are absent.
    One SQL statement for all the other requests.
    """
    answers: dict[RateRequest, ResolvedRate] = {}
    lookups: list[RateRequest] = []
    for request in dict.fromkeys(requests):
        if request[0] == request[1]:
            answers[request] = SAME_CURRENCY
        else:
            lookups.append(request)
    if not lookups:
        return answers
    rows = await conn.fetch(
        _SELECT_RATES,
        tenant_id,
        [r[0] for r in lookups],
        [r[1] for r in lookups],
        [r[2] for r in lookups],
    )
    for row in rows:
        direct = (
            (row["direct_date"], row["direct_rate"]) if row["direct_rate"] is not None else None
        )
        reverse = (
            (row["reverse_date"], row["reverse_rate"]) if row["reverse_rate"] is not None else None
        )
        resolved = choose_rate(direct, reverse)
        if resolved is not None:
            answers[lookups[row["ord"] - 1]] = resolved
    return answers


async def fetch_rates(
    conn: Executor, tenant_id: UUID, requests: Collection[RateRequest]
) -> dict[RateRequest, Decimal]:
    """For each (from_currency, to_currency, date): the from→to rate to use on that date.

    The from→to rate with the latest effective date ≤ date; else ``inverse_rate(r)`` of the
    latest to→from rate ``r`` with date ≤ date; absent if neither exists. Same-currency
    requests answer ``Decimal(1)``. At most one SQL statement for all ``requests``.
    """
    resolved = await fetch_resolved_rates(conn, tenant_id, requests)
    return {request: answer.rate for request, answer in resolved.items()}


@dataclass(frozen=True, slots=True)
class CurrencyRow:
    code: str
    precision: int
    custom: bool


@dataclass(frozen=True, slots=True)
class CurrencyPage:
    data: list[CurrencyRow]
    next_cursor: str | None


async def list_currencies(
    conn: Executor, tenant_id: UUID, *, limit: int | None = None, cursor: str | None = None
) -> CurrencyPage:
    """The tenant's currencies, ISO 4217 ones (with a minor unit) and its custom ones,
    ordered by code (custom codes never equal ISO codes), ``limit`` per page.

    Raises:
        ValidationError: ``limit`` out of 1..500, or a cursor not made by this list.
    """
    size = page_limit(limit)
    key = decode_cursor(cursor)
    after = ""
    if key is not None:
        if len(key) != 1 or not isinstance(key[0], str):
            raise ValidationError("the cursor is not valid", {"field": "cursor"})
        after = key[0]
    rows = await conn.fetch(_SELECT_CUSTOM_PAGE, tenant_id, after, size + 1)
    merged = sorted(
        [CurrencyRow(c, p, False) for c, p in ISO_PRECISION.items() if c > after]
        + [CurrencyRow(r["code"], r["precision"], True) for r in rows],
        key=lambda row: row.code,
    )
    page = merged[:size]
    next_cursor = encode_cursor([page[-1].code]) if len(merged) > size else None
    return CurrencyPage(data=page, next_cursor=next_cursor)


@dataclass(frozen=True, slots=True)
class FxRateAnswer:
    """The rate that converts ``base`` to ``quote`` on ``date`` (GET /v1/fx-rates)."""

    base: str
    quote: str
    date: dt.date
    rate: Decimal
    inverse: bool
    effective_date: dt.date | None


async def get_fx_rate(
    conn: Executor, tenant_id: UUID, base: str, quote: str, on: dt.date
) -> FxRateAnswer:
    """The rate a conversion from ``base`` to ``quote`` on ``on`` would use.

    Raises:
        CurrencyUnknown: ``base`` or ``quote`` is not a currency of the tenant (422).
        FxRateNotFound: no base→quote rate and no quote→base rate dated ≤ ``on`` (422).
    """
    precisions = await fetch_precisions(conn, tenant_id, (base, quote))
    for name, code in (("base", base), ("quote", quote)):
        if code not in precisions:
            raise CurrencyUnknown(
                f"the currency {code} is not known", {"field": name, "currency": code}
            )
    resolved = (await fetch_resolved_rates(conn, tenant_id, [(base, quote, on)])).get(
        (base, quote, on)
    )
    if resolved is None:
        raise FxRateNotFound(
            f"no {base}/{quote} rate is set on or before {on.isoformat()}",
            {"base": base, "quote": quote, "date": on.isoformat()},
        )
    return FxRateAnswer(
        base=base,
        quote=quote,
        date=on,
        rate=resolved.rate,
        inverse=resolved.inverse,
        effective_date=resolved.effective_date,
    )
