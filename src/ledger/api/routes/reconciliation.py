"""Matches, reconciliation runs and reports over HTTP (docs/api.md §6).

Every rule that needs state is decided in group commit (``ledger.commands.reconciliation``,
in the precedence order documented there); runs are ``ledger.commands.reconciliation_runs``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from ledger import limits
from ledger.api.auth import ServicesDep, TenantDep
from ledger.api.body import decode_body
from ledger.api.errors import BODY_ERROR_STATUSES, V1_ERROR_STATUSES, error_responses
from ledger.api.openapi import json_body_operation
from ledger.api.pages import page_answer
from ledger.api.paths import not_found, uuid_in_path
from ledger.api.positions import LEDGER_POSITION_DOC
from ledger.api.schemas import (
    Encoded,
    MatchPageOut,
    RunOut,
    RunResultOut,
)
from ledger.api.strict import KnownAt, PageLimit
from ledger.commands.reconciliation import CreateMatch, ItemRef
from ledger.commands.reconciliation_runs import RunRequest
from ledger.documents.records import MatchOut, encode
from ledger.domain.reconciliation import DATE_WINDOW_DAYS_MAX
from ledger.domain.records import MatchOn, MatchStatus
from ledger.errors import ValidationError
from ledger.queries.pagination import page_limit
from ledger.queries.records import (
    MatchFilter,
    ReconciliationSummaryOut,
    list_matches,
    match_document,
    reconciliation_summary,
    run_document,
)

Tolerance = Annotated[int, msgspec.Meta(ge=0, le=limits.AMOUNT_MINOR_MAX)]


class MatchItemBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Exactly one of ``record_id`` and ``entry_id`` (a ledger entry's id)."""

    record_id: Annotated[int, msgspec.Meta(ge=1, le=limits.RECORD_ID_MAX)] | None = None
    entry_id: UUID | None = None


class MatchBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    items: Annotated[
        list[MatchItemBody], msgspec.Meta(min_length=2, max_length=limits.MATCH_ITEMS_MAX)
    ]
    tolerance: Tolerance = 0
    note: Annotated[str, msgspec.Meta(max_length=limits.MATCH_NOTE_LENGTH_MAX)] | None = None


class RunRulesBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    match_on: Annotated[list[MatchOn], msgspec.Meta(min_length=1, max_length=4)] = msgspec.field(
        default_factory=lambda: ["amount", "date"]
    )
    date_window_days: Annotated[int, msgspec.Meta(ge=0, le=DATE_WINDOW_DAYS_MAX)] = 0
    amount_tolerance: Tolerance = 0
    allow_one_to_many: bool = False


class RunBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    left: Annotated[str, msgspec.Meta(min_length=1, max_length=limits.STREAM_KEY_LENGTH_MAX)]
    right: Annotated[str, msgspec.Meta(min_length=1, max_length=limits.STREAM_KEY_LENGTH_MAX)]
    rules: RunRulesBody = RunRulesBody()
    dry_run: bool = False


def _items(body: MatchBody) -> tuple[ItemRef, ...]:
    refs = []
    for index, item in enumerate(body.items):
        if (item.record_id is None) == (item.entry_id is None):
            raise ValidationError(
                "an item is exactly one of {record_id} and {entry_id}",
                {"field": f"$.items[{index}]"},
            )
        refs.append(ItemRef(record_id=item.record_id, entry_id=item.entry_id))
    if len(set(refs)) != len(refs):
        raise ValidationError("an item appears twice in the match", {"field": "$.items"})
    return tuple(refs)


class RunResponse(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID | None  # null for a dry run: it writes nothing, so there is no run to read
    left: str
    right: str
    rules: Any
    dry_run: bool
    matched: int
    unmatched_left: int
    unmatched_right: int
    skipped: int
    matches: list[MatchOut]
    created_at: dt.datetime
    position: int | None


class ReconciliationController(Controller):
    """``/v1/matches``, ``/v1/reconciliation-runs`` and ``/v1/reconciliation/summary``."""

    path = "/"
    tags = ["reconciliation"]

    @post(
        "/matches",
        summary="Match items",
        description=(
            "Matches records (`record_id`) and ledger entries (`entry_id`, items of the stream "
            "`ledger:<code>`) from at least two data streams. The match balances when credits "
            "equal debits within `tolerance` (minor units at the largest `decimal_places` of the "
            "items); `difference` is credits minus debits. Errors, first applicable first: 400; "
            "404 `NOT_FOUND` (`details.item_index`); 422 `INVALID_STATE` (an entry of a voided "
            "journal); 422 `MATCH_UNBALANCED` (one stream only: `details.reason` "
            "`single_data_stream`); 422 `AMOUNT_OVERFLOW` (the credits or debits total beyond "
            "2^63-1 at the match's scale); 422 `MATCH_UNBALANCED` (unbalanced); 409 "
            "`ALREADY_MATCHED` (an item is in an active match, also under concurrent requests)."
        ),
        responses=error_responses(
            *BODY_ERROR_STATUSES,
            *V1_ERROR_STATUSES,
            404,
            409,
            422,
            codes={
                409: ["ALREADY_MATCHED"],
                422: ["MATCH_UNBALANCED", "INVALID_STATE", "AMOUNT_OVERFLOW"],
            },
        ),
        operation_class=json_body_operation(MatchBody),
    )
    async def post_match(
        self, request: Request[Any, Any, Any], services: ServicesDep, tenant: TenantDep
    ) -> Encoded[MatchOut]:
        body = await decode_body(request, MatchBody)
        document = await services.reconciliation.create_match(
            CreateMatch(
                tenant_id=tenant.tenant_id,
                items=_items(body),
                tolerance=body.tolerance,
                note=body.note,
            )
        )
        return Encoded(encode(document), status_code=201)

    @get(
        "/matches/{match_id:str}",
        summary="A match",
        description="The match, its items, and (for a run's match) the rule and deltas behind it.",
        responses=error_responses(400, 404, *V1_ERROR_STATUSES),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def get_match(
        self, match_id: FromPath[str], services: ServicesDep, tenant: TenantDep
    ) -> Encoded[MatchOut]:
        document = await match_document(
            services.pool, tenant.tenant_id, uuid_in_path(match_id, "match")
        )
        if document is None:
            raise not_found(match_id, "match")
        return Encoded(document)

    @get(
        "/matches",
        summary="List matches",
        description="Matches in the order they were made; filters combine with AND.",
        responses=error_responses(400, *V1_ERROR_STATUSES),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def list_matches_route(
        self,
        services: ServicesDep,
        tenant: TenantDep,
        status: FromQuery[MatchStatus | None] = None,
        run_id: FromQuery[UUID | None] = None,
        record_id: Annotated[int | None, QueryParameter(ge=1, le=limits.RECORD_ID_MAX)] = None,
        entry_id: FromQuery[UUID | None] = None,
        limit: PageLimit = None,
        cursor: FromQuery[str | None] = None,
    ) -> Encoded[MatchPageOut]:
        documents, next_cursor = await list_matches(
            services.pool,
            tenant.tenant_id,
            MatchFilter(status=status, run_id=run_id, record_id=record_id, entry_id=entry_id),
            page_limit(limit),
            cursor,
        )
        return page_answer(MatchPageOut, documents, next_cursor)

    @delete(
        "/matches/{match_id:str}",
        summary="Unmatch",
        description=(
            "Dissolves the match (`RecordUnmatched`): it reads `unmatched`, its items unreconciled "
            "again (their history stays: see `known_at`). 200 with the match; 422 "
            "`INVALID_STATE` when it is already unmatched."
        ),
        responses=error_responses(
            400, 404, 422, *V1_ERROR_STATUSES, codes={422: ["INVALID_STATE"]}
        ),
        status_code=200,
    )
    async def delete_match(
        self, match_id: FromPath[str], services: ServicesDep, tenant: TenantDep
    ) -> Encoded[MatchOut]:
        document = await services.reconciliation.unmatch(
            tenant.tenant_id, uuid_in_path(match_id, "match")
        )
        return Encoded(document, status_code=200)

    @post(
        "/reconciliation-runs",
        summary="Run a reconciliation",
        description=(
            "Matches the unreconciled items of `left` against `right` (record streams or "
            "`ledger:<code>`). Rules: `match_on` (external_id, amount, date, description; a match "
            "always balances within `amount_tolerance`, so amounts are always compared), "
            "`date_window_days` (0..31, with `date`), `amount_tolerance` (minor units), "
            "`allow_one_to_many` (one item against a group of 2..4 whose sum matches, bounded "
            "search). Deterministic: one-to-one first, left items by (date, id), each taking the "
            "nearest amount, then the nearest date. `matched` counts matches, `unmatched_left` / "
            "`unmatched_right` the items left unmatched; each match's `rule` records the kind, "
            "the rules and its deltas (`amount_difference`, `days_apart`). `dry_run: true` "
            "writes nothing and answers the proposals (`status: proposed`); its `id`, `position` "
            "and each proposal's `id` and `rule.run_id` are null, since there is no run or "
            "match to read back. Both streams must exist: 422 `LEDGER_NOT_FOUND` for a "
            "`ledger:<code>` naming no ledger, 422 `DATA_STREAM_NOT_FOUND` for a record stream "
            "that has no record."
        ),
        responses=error_responses(
            *BODY_ERROR_STATUSES,
            *V1_ERROR_STATUSES,
            422,
            codes={422: ["LEDGER_NOT_FOUND", "DATA_STREAM_NOT_FOUND"]},
        ),
        operation_class=json_body_operation(RunBody),
    )
    async def post_run(
        self, request: Request[Any, Any, Any], services: ServicesDep, tenant: TenantDep
    ) -> Encoded[RunResultOut]:
        body = await decode_body(request, RunBody)
        outcome = await services.reconciliation.run(
            RunRequest(
                tenant_id=tenant.tenant_id,
                left=body.left,
                right=body.right,
                match_on=tuple(body.rules.match_on),
                date_window_days=body.rules.date_window_days,
                amount_tolerance=body.rules.amount_tolerance,
                allow_one_to_many=body.rules.allow_one_to_many,
                dry_run=body.dry_run,
            )
        )
        response = RunResponse(
            id=outcome.run_id,
            left=body.left,
            right=body.right,
            rules=outcome.request.rules,
            dry_run=body.dry_run,
            matched=outcome.matched,
            unmatched_left=outcome.unmatched_left,
            unmatched_right=outcome.unmatched_right,
            skipped=outcome.skipped,
            matches=outcome.matches,
            created_at=outcome.created_at,
            position=outcome.position,
        )
        return Encoded(encode(response), status_code=201)

    @get(
        "/reconciliation-runs/{run_id:str}",
        summary="A completed reconciliation run",
        description="Its rules and counts; its matches: `GET /v1/matches?run_id=`.",
        responses=error_responses(400, 404, *V1_ERROR_STATUSES),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def get_run(
        self, run_id: FromPath[str], services: ServicesDep, tenant: TenantDep
    ) -> Encoded[RunOut]:
        document = await run_document(services.pool, tenant.tenant_id, uuid_in_path(run_id, "run"))
        if document is None:
            raise not_found(run_id, "run")
        return Encoded(document)

    @get(
        "/reconciliation/summary",
        summary="Reconciled and unreconciled counts and amounts",
        description=(
            "Per data stream (all record streams, or the one named; `ledger:<code>` counts that "
            "ledger's entries): `count`, `amount` (sum of amounts), `debits`, `credits`, "
            "reconciled and unreconciled, with totals. `as_of` counts items dated on or before "
            "it; `known_at` answers as the books stood at that event-store position (matches made "
            "later are not counted, matches undone later are). 422 `AMOUNT_OVERFLOW` when a sum "
            "would be beyond 2^63-1."
        ),
        responses=error_responses(400, 422, *V1_ERROR_STATUSES, codes={422: ["AMOUNT_OVERFLOW"]}),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def get_summary(
        self,
        services: ServicesDep,
        tenant: TenantDep,
        data_stream_key: FromQuery[str | None] = None,
        as_of: FromQuery[dt.date | None] = None,
        known_at: KnownAt = None,
    ) -> Encoded[ReconciliationSummaryOut]:
        document = await reconciliation_summary(
            services.pool, tenant.tenant_id, data_stream_key, as_of, known_at
        )
        return Encoded(document)
