"""Currencies and FX rates over HTTP (docs/api.md §3).

- ``GET /v1/currencies`` → ``{"data": [{"code", "precision", "custom"}], "next_cursor"}``:
  the ISO 4217 currencies (those with a minor unit) and the tenant's custom ones, ordered by
  code, ``limit`` (1..500, default 50) per page, opaque ``cursor``.
- ``POST /v1/currencies {"code", "precision"}`` → 201 ``{"code", "precision", "custom":
  true, "position"}``; 409 ``DUPLICATE_CODE`` for an ISO code or one the tenant has.
- ``POST /v1/fx-rates {"base", "quote", "rate", "date"}`` (rate: a positive decimal string)
  → 201 ``{"base", "quote", "rate", "date", "version", "position"}``; 422
  ``CURRENCY_UNKNOWN``. Setting a (base, quote, date) again replaces its rate.
- ``GET /v1/fx-rates?base=&quote=&date=`` (date defaults to today, UTC) → the rate converting
  base to quote on that date, ``{"base", "quote", "date", "rate", "inverse",
  "effective_date"}``, or 422 ``FX_RATE_NOT_FOUND`` (``CURRENCY_UNKNOWN`` for unknown codes).

Bodies are decoded strictly from the raw bytes (``ledger.api.body.decode_body``): a rate is a
JSON string, never a number (no float ever touches it). Rates answer in plain decimal
notation. The commands come from ``Services.currencies`` (a ``CurrencyCommands``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import QueryParameter

from ledger import limits
from ledger.api.auth import ServicesDep, TenantDep
from ledger.api.body import decode_body
from ledger.api.errors import BODY_ERROR_STATUSES, V1_ERROR_STATUSES, error_responses
from ledger.api.openapi import json_body_operation
from ledger.api.pages import encode_each, page_answer
from ledger.api.positions import LEDGER_POSITION_DOC
from ledger.api.schemas import Encoded
from ledger.api.strict import PageLimit
from ledger.domain.currencies import PRECISION_MAX
from ledger.domain.fx import (
    RATE_SIGNIFICANT_DIGITS_MAX,
    RATE_TEXT_LENGTH_MAX,
    format_rate,
    parse_rate,
)
from ledger.errors import ValidationError
from ledger.queries.currencies import get_fx_rate, list_currencies

CODE_PATTERN: Final = limits.CURRENCY_CODE_PATTERN

Code = Annotated[
    str,
    msgspec.Meta(
        pattern=CODE_PATTERN,
        description="An ISO 4217 code or a custom code: 3 to 10 capitals and digits.",
        examples=["EUR"],
    ),
]
Precision = Annotated[
    int,
    msgspec.Meta(
        ge=0, le=PRECISION_MAX, description="Digits after the decimal point of the minor unit."
    ),
]
RateText = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]+(\.[0-9]+)?$",
        max_length=RATE_TEXT_LENGTH_MAX,
        description=(
            "A decimal string > 0 with at most "
            f"{RATE_SIGNIFICANT_DIGITS_MAX} significant digits: 1 base = rate quote."
        ),
        examples=["1.0842"],
    ),
]


class CurrencyBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A custom currency to add."""

    code: Annotated[
        str,
        msgspec.Meta(
            pattern=CODE_PATTERN,
            description="3 to 10 capitals and digits, starting with a letter; not an ISO code.",
            examples=["BTC"],
        ),
    ]
    precision: Precision


class CurrencyOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: str
    precision: int
    custom: bool


class AddedCurrencyOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: str
    precision: int
    custom: bool
    position: Annotated[int, msgspec.Meta(description="Position of the CurrencyAdded event.")]


class CurrencyPageOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    data: list[CurrencyOut]
    next_cursor: str | None


class FxRateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """1 ``base`` = ``rate`` ``quote`` from ``date`` on."""

    base: Code
    quote: Code
    rate: RateText
    date: dt.date


class StoredFxRateOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    base: str
    quote: str
    rate: str
    date: dt.date
    version: Annotated[int, msgspec.Meta(description="How many times the pair has been set.")]
    position: Annotated[int, msgspec.Meta(description="Position of the FxRateSet event.")]


class FxRateOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The rate a conversion from ``base`` to ``quote`` on ``date`` uses."""

    base: str
    quote: str
    date: dt.date
    rate: Annotated[str, msgspec.Meta(description="1 base = rate quote, a decimal string.")]
    inverse: Annotated[
        bool, msgspec.Meta(description="The rate is the inverse of a quote→base setting.")
    ]
    effective_date: Annotated[
        dt.date | None,
        msgspec.Meta(description="Date of the setting used (null when base equals quote)."),
    ]


class CurrenciesController(Controller):
    """``/v1/currencies`` and ``/v1/fx-rates``: custom currencies and FX rates."""

    path = "/"
    tags = ["currencies"]

    @get(
        "/currencies",
        summary="List currencies",
        description=(
            "The ISO 4217 currencies and the tenant's custom ones, ordered by code; "
            "`limit` (1..500, default 50) per page, then `cursor` = the previous `next_cursor`."
        ),
        responses=error_responses(400, *V1_ERROR_STATUSES),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def get_currencies(
        self,
        services: ServicesDep,
        tenant: TenantDep,
        limit: PageLimit = None,
        cursor: Annotated[
            str | None, QueryParameter(description="The previous page's `next_cursor`.")
        ] = None,
    ) -> Encoded[CurrencyPageOut]:
        page = await list_currencies(services.pool, tenant.tenant_id, limit=limit, cursor=cursor)
        return page_answer(
            CurrencyPageOut,
            encode_each(
                CurrencyOut(code=r.code, precision=r.precision, custom=r.custom) for r in page.data
            ),
            page.next_cursor,
        )

    @post(
        "/currencies",
        summary="Add a custom currency",
        description="Adds a tenant currency; an ISO 4217 code or an existing code is a 409.",
        responses=error_responses(
            *BODY_ERROR_STATUSES,
            409,
            *V1_ERROR_STATUSES,
            codes={409: ["DUPLICATE_CODE"]},
        ),
        status_code=201,
        operation_class=json_body_operation(CurrencyBody),
    )
    async def post_currency(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        tenant: TenantDep,
    ) -> AddedCurrencyOut:
        body = await decode_body(request, CurrencyBody)
        added = await services.currencies.add_currency(tenant.tenant_id, body.code, body.precision)
        return AddedCurrencyOut(
            code=added.code, precision=added.precision, custom=added.custom, position=added.position
        )

    @post(
        "/fx-rates",
        summary="Set an FX rate",
        description=(
            "1 `base` = `rate` `quote` from `date` on, until a later-dated setting; setting the "
            "same (base, quote, date) again replaces its rate. Converting C to B on day D uses "
            "the C→B rate with the latest date ≤ D, else the inverse of the latest B→C rate."
        ),
        responses=error_responses(
            *BODY_ERROR_STATUSES,
            409,
            422,
            *V1_ERROR_STATUSES,
            codes={409: ["CONCURRENCY_CONFLICT"], 422: ["CURRENCY_UNKNOWN"]},
        ),
        status_code=201,
        operation_class=json_body_operation(FxRateBody),
    )
    async def post_fx_rate(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        tenant: TenantDep,
    ) -> StoredFxRateOut:
        body = await decode_body(request, FxRateBody)
        rate = parse_rate(body.rate)
        if rate is None:
            raise ValidationError(
                "rate must be a decimal string greater than zero with at most "
                f"{RATE_SIGNIFICANT_DIGITS_MAX} significant digits",
                {"field": "$.rate", "value": body.rate},
            )
        if body.base == body.quote:
            raise ValidationError(
                "base and quote must be different currencies",
                {"field": "$.quote", "value": body.quote},
            )
        stored = await services.currencies.set_fx_rate(
            tenant.tenant_id, body.base, body.quote, rate, body.date
        )
        return StoredFxRateOut(
            base=stored.base,
            quote=stored.quote,
            rate=format_rate(stored.rate),
            date=stored.date,
            version=stored.version,
            position=stored.position,
        )

    @get(
        "/fx-rates",
        summary="The FX rate a conversion would use",
        description=(
            "The rate converting `base` to `quote` on `date` (default today, UTC): the base→quote "
            "rate with the latest date ≤ `date`, else the inverse of the latest quote→base rate "
            "(`inverse: true`), else 422 `FX_RATE_NOT_FOUND`."
        ),
        responses=error_responses(
            400,
            422,
            *V1_ERROR_STATUSES,
            codes={422: ["FX_RATE_NOT_FOUND", "CURRENCY_UNKNOWN"]},
        ),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def get_fx_rate_route(
        self,
        services: ServicesDep,
        tenant: TenantDep,
        base: Annotated[str, QueryParameter(pattern=CODE_PATTERN, description="From currency.")],
        quote: Annotated[str, QueryParameter(pattern=CODE_PATTERN, description="To currency.")],
        date: Annotated[
            dt.date | None, QueryParameter(description="Conversion date (default: today, UTC).")
        ] = None,
    ) -> FxRateOut:
        on = date if date is not None else dt.datetime.now(dt.UTC).date()
        answer = await get_fx_rate(services.pool, tenant.tenant_id, base, quote, on)
        return FxRateOut(
            base=answer.base,
            quote=answer.quote,
            date=answer.date,
            rate=format_rate(answer.rate),
            inverse=answer.inverse,
            effective_date=answer.effective_date,
        )
