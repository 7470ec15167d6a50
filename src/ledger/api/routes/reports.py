"""Reports and history (docs/api.md §7): the trial balance and the tenant's event feed.

- ``GET /v1/trial-balance?as_of=&known_at=&limit=&cursor=``: per ledger posted debit and
  credit totals in the tenant's base currency, in ``num_id`` order, paginated; ``totals``
  are the grand totals over every ledger (not only the page), and are always equal.
  Served from the books' maintained rows in one snapshot (``ledger.queries.reports``);
  ``known_at`` in the answer is the position it reflects.
- ``GET /v1/events?after=&limit=&cursor=``: the tenant's events in position order (a pull
  feed): ``position``, ``type``, ``originator_id``, ``originator_version``, ``recorded_at``,
  ``data``. Never another tenant's. ``next_cursor`` is set when the page is full; a client
  that follows the feed keeps the last ``position`` it saw and asks ``after=`` it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from ledger import limits
from ledger.api.auth import ServicesDep, TenantDep
from ledger.api.errors import V1_ERROR_STATUSES, error_responses
from ledger.api.pages import encode_each, page_answer
from ledger.api.positions import LEDGER_POSITION_DOC, MIN_POSITION_DESCRIPTION
from ledger.api.schemas import Encoded
from ledger.api.strict import KnownAt, PageLimit
from ledger.clock import utc_today
from ledger.domain.currencies import ISO_PRECISION
from ledger.errors import ValidationError
from ledger.queries.events import tenant_events
from ledger.queries.pagination import decode_cursor, encode_cursor, page_limit
from ledger.queries.reports import trial_balance

MinPosition = Annotated[
    int | None,
    QueryParameter(ge=0, le=limits.POSITION_MAX, description=MIN_POSITION_DESCRIPTION),
]


class TrialBalanceLineOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    ledger_id: UUID
    ledger_num_id: int
    ledger_code: str
    ledger_name: str
    type: str
    normal_balance: str
    debits: Annotated[int, msgspec.Meta(description="Posted debits, base currency minor units.")]
    credits: Annotated[int, msgspec.Meta(description="Posted credits, base currency minor units.")]
    balance: Annotated[
        int, msgspec.Meta(description="debits - credits on debit-normal ledgers, else reversed.")
    ]


class TotalsOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    debits: int
    credits: int


class TrialBalanceOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    as_of: dt.date
    known_at: Annotated[int, msgspec.Meta(description="The position the answer reflects.")]
    currency: Annotated[str, msgspec.Meta(description="The tenant's base currency.")]
    precision: int
    data: list[TrialBalanceLineOut]
    next_cursor: str | None
    totals: Annotated[
        TotalsOut,
        msgspec.Meta(description="Grand totals over every ledger (all pages); always equal."),
    ]


class EventOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    position: int
    type: Annotated[str, msgspec.Meta(examples=["JournalPosted"])]
    originator_id: UUID
    originator_version: int
    recorded_at: Annotated[str | None, msgspec.Meta(description="RFC 3339, UTC.")]
    data: dict[str, Any]


class EventPageOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    data: list[EventOut]
    next_cursor: str | None


def _cursor_position(cursor: str | None) -> int | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    if len(key) != 1 or not isinstance(key[0], int) or isinstance(key[0], bool) or key[0] < 0:
        raise ValidationError("the cursor is not valid", {"field": "cursor"})
    return key[0]


class ReportsController(Controller):
    """``/v1/trial-balance`` and ``/v1/events``."""

    path = "/"
    tags = ["reports"]

    @get(
        "/trial-balance",
        summary="Trial balance",
        description=(
            "Per ledger posted debit and credit totals in the tenant's base currency, as of "
            "`as_of` (effective dates <= as_of; default today) and, with `known_at`, as known at "
            "that event-store position. Ledgers with no posted activity are left out. `totals` "
            "covers every ledger, and its debits always equal its credits. `known_at` in the "
            "answer is the position it reflects (read in the same snapshot). Cost grows with the "
            "number of ledgers, not of postings. 422 `AMOUNT_OVERFLOW` when a total or line would "
            "be beyond 2^63-1 (each journal is in range, the sums of many need not be)."
        ),
        responses=error_responses(400, 422, *V1_ERROR_STATUSES, codes={422: ["AMOUNT_OVERFLOW"]}),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def get_trial_balance(
        self,
        services: ServicesDep,
        tenant: TenantDep,
        as_of: Annotated[dt.date | None, QueryParameter(description="Default: today.")] = None,
        known_at: KnownAt = None,
        limit: PageLimit = None,
        cursor: FromQuery[str | None] = None,
        min_position: MinPosition = None,
    ) -> TrialBalanceOut:
        day = as_of or utc_today()
        size = page_limit(limit)
        page = await trial_balance(
            services.pool,
            tenant.tenant_id,
            day,
            known_at,
            after_num_id=_cursor_position(cursor) or 0,
            limit=size,
        )
        return TrialBalanceOut(
            as_of=day,
            known_at=page.position,
            currency=tenant.base_currency,
            precision=ISO_PRECISION[tenant.base_currency],
            data=[
                TrialBalanceLineOut(
                    ledger_id=line.ledger_id,
                    ledger_num_id=line.num_id,
                    ledger_code=line.code,
                    ledger_name=line.name,
                    type=line.type,
                    normal_balance=line.normal_balance,
                    debits=line.debits,
                    credits=line.credits,
                    balance=line.balance,
                )
                for line in page.lines
            ],
            next_cursor=encode_cursor([page.lines[-1].num_id]) if page.more else None,
            totals=TotalsOut(debits=page.total_debits, credits=page.total_credits),
        )

    @get(
        "/events",
        summary="The tenant's event feed",
        description=(
            "The tenant's events in position order, after position `after` (default 0): a pull "
            "feed. `data` is the event as stored (without `timestamp`, which is `recorded_at`). "
            "`next_cursor` is set when the page is full; `cursor` takes precedence over `after`."
        ),
        responses=error_responses(400, *V1_ERROR_STATUSES),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def get_events(
        self,
        services: ServicesDep,
        tenant: TenantDep,
        after: Annotated[int, QueryParameter(ge=0, le=limits.POSITION_MAX)] = 0,
        limit: PageLimit = None,
        cursor: FromQuery[str | None] = None,
        min_position: MinPosition = None,
    ) -> Encoded[EventPageOut]:
        size = page_limit(limit)
        start = _cursor_position(cursor)
        events = await tenant_events(
            services.pool, tenant.tenant_id, after if start is None else start, size
        )
        return page_answer(
            EventPageOut,
            encode_each(
                EventOut(
                    position=e.position,
                    type=e.type,
                    originator_id=e.originator_id,
                    originator_version=e.originator_version,
                    recorded_at=e.recorded_at,
                    data=e.data,
                )
                for e in events
            ),
            encode_cursor([events[-1].position]) if len(events) == size else None,
        )
