"""Ledger balances (as of a date, as known at a position) and statements (docs/api.md §4)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import FromPath, FromQuery, QueryParameter

from ledger.api.auth import ServicesDep, TenantDep
from ledger.api.errors import V1_ERROR_STATUSES, error_responses
from ledger.api.pages import encode_each, page_answer
from ledger.api.paths import not_found, uuid_in_path
from ledger.api.positions import LEDGER_POSITION_DOC
from ledger.api.schemas import BalancesOut, Encoded, StatementPageOut
from ledger.api.strict import KnownAt, PageLimit
from ledger.bootstrap import Services
from ledger.clock import utc_today
from ledger.errors import ValidationError
from ledger.queries.balances import (
    LedgerHead,
    StatementOrder,
    ledger_balances,
    ledger_head,
    statement,
)
from ledger.queries.pagination import page_limit
from ledger.queries.tenants import TenantView


async def _head(services: Services, tenant: TenantView, ledger_id: str) -> LedgerHead:
    head = await ledger_head(services.pool, tenant.tenant_id, uuid_in_path(ledger_id, "ledger"))
    if head is None:
        raise not_found(ledger_id, "ledger")
    return head


class BalancesController(Controller):
    """``/v1/ledgers/{ledger_id}/balances`` and ``/entries``: a ledger's balances and statement."""

    path = "/ledgers"
    tags = ["ledgers"]

    @get(
        "/{ledger_id:str}/balances",
        summary="A ledger's balances",
        description=(
            "One row per currency the ledger or its subtree has ever been posted in. `as_of` "
            "(default today) counts postings with effective date <= as_of; `known_at` (default: "
            "everything) counts only events at positions <= known_at: what the books said at that "
            "position about that date. The answer's `known_at` is the position its data reflects "
            "(read in the same snapshot). `including_children` rolls up the ledger and all its "
            "descendants. `pending` = posted + pending movements; `available` = posted - pending "
            "movements against the normal side. Cost: a few index probes, whatever the history "
            "(known_at: plus what happened after that position). Every figure is an int64: "
            "writes keep them so; a figure beyond (data older than that guard) is 422 "
            "`AMOUNT_OVERFLOW`."
        ),
        responses=error_responses(
            400, 404, 422, *V1_ERROR_STATUSES, codes={422: ["AMOUNT_OVERFLOW"]}
        ),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def get_balances(
        self,
        ledger_id: FromPath[str],
        services: ServicesDep,
        tenant: TenantDep,
        as_of: FromQuery[dt.date | None] = None,
        known_at: KnownAt = None,
    ) -> Encoded[BalancesOut]:
        head = await _head(services, tenant, ledger_id)
        day = as_of or utc_today()
        answer = await ledger_balances(services.pool, head, day, known_at)
        body = {
            "ledger_id": str(head.ledger_id),
            "as_of": day.isoformat(),
            "known_at": answer.position,
            "balances": answer.rows,
        }
        return Encoded(msgspec.json.encode(body))

    @get(
        "/{ledger_id:str}/entries",
        summary="A ledger's statement",
        description=(
            "Posted entries ordered by (effective date, position) (`order=desc`: newest first), "
            "each with the running balance of its currency after it (including everything before "
            "`from` and before the page). `next_cursor` continues in the page's order, "
            "`prev_cursor` goes back; either is null when there is nothing more that way. Any page "
            "costs the same, however deep in history. A running balance beyond 2^63-1 (data older "
            "than the writes' guard) is 422 `AMOUNT_OVERFLOW`."
        ),
        responses=error_responses(
            400, 404, 422, *V1_ERROR_STATUSES, codes={422: ["AMOUNT_OVERFLOW"]}
        ),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def get_statement(
        self,
        ledger_id: FromPath[str],
        services: ServicesDep,
        tenant: TenantDep,
        date_from: Annotated[dt.date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[dt.date | None, QueryParameter(name="to")] = None,
        currency: FromQuery[str | None] = None,
        limit: PageLimit = None,
        cursor: FromQuery[str | None] = None,
        order: FromQuery[StatementOrder | None] = None,
    ) -> Encoded[StatementPageOut]:
        head = await _head(services, tenant, ledger_id)
        if date_from and date_to and date_from > date_to:
            raise ValidationError("from is after to", {"field": "from"})
        page = await statement(
            services.pool, head, date_from, date_to, currency, page_limit(limit), cursor, order
        )
        return page_answer(
            StatementPageOut,
            encode_each(page.lines),
            page.next_cursor,
            prev_cursor=page.prev_cursor,
        )
