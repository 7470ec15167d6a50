"""Ledgers (accounts) over HTTP (docs/api.md §4).

- ``POST /v1/ledgers`` → 201 the ledger (below) with ``position``.
- ``GET /v1/ledgers/{ledger_id}`` → the ledger; 404 ``NOT_FOUND`` for an unknown id, another
  tenant's, or one that is not a UUID.
- ``GET /v1/ledgers?code=&num_id=&parent_id=&type=&limit=&cursor=`` → ``{"data": [...],
  "next_cursor"}`` in ``num_id`` order (filters combine with AND).
- ``PATCH /v1/ledgers/{ledger_id}`` (``name``, ``metadata``, ``min_balance``; ``null``
  ``min_balance`` removes the limit) → 200 the ledger with ``position``.
- ``POST /v1/ledgers/{ledger_id}/close`` → 200 the ledger, ``status: "closed"``.

A ledger is ``{"id", "num_id", "code", "name", "type", "normal_balance", "parent_id",
"currency", "min_balance", "status", "metadata", "created_at", "position"}``; ``position`` is
the position of the ledger's last event (for a write: the event it appended).

Bodies are decoded strictly from the raw bytes (``ledger.api.body.decode_body``); an unknown
field, a wrong type or a fraction where an integer belongs is 400 ``VALIDATION_ERROR``. The
rules and their error codes are those of ``ledger.commands.ledgers``; the commands are
``Services.ledgers``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, FromQuery, QueryParameter
from msgspec import UNSET, UnsetType

from ledger import limits
from ledger.api.auth import ServicesDep, TenantDep
from ledger.api.body import decode_body
from ledger.api.errors import BODY_ERROR_STATUSES, V1_ERROR_STATUSES, error_responses
from ledger.api.openapi import json_body_operation
from ledger.api.pages import encode_each, page_answer
from ledger.api.paths import not_found, uuid_in_path
from ledger.api.positions import LEDGER_POSITION_DOC
from ledger.api.schemas import Encoded
from ledger.api.strict import PageLimit
from ledger.bootstrap import Services
from ledger.domain.ledgers import Direction, LedgerStatus, LedgerType
from ledger.queries import ledgers as ledger_queries
from ledger.queries.ledgers import NUM_ID_MAX, LedgerRef, LedgerView
from ledger.queries.tenants import TenantView

Code = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=limits.LEDGER_CODE_LENGTH_MAX,
        description=(
            "Unique per tenant (case-sensitive): 1 to 128 printable characters, no leading or"
            " trailing white space."
        ),
        examples=["1000-cash"],
    ),
]
Name = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=limits.LEDGER_NAME_LENGTH_MAX,
        description="1 to 200 characters, not all white space.",
        examples=["Cash at bank"],
    ),
]
NumId = Annotated[int, msgspec.Meta(ge=1, le=NUM_ID_MAX)]
SignedMinor = Annotated[
    int,
    msgspec.Meta(
        ge=limits.BALANCE_MINOR_MIN,
        le=limits.AMOUNT_MINOR_MAX,
        description=(
            "Signed 64-bit minor units of the ledger's currency (requires `currency`): journals"
            " that would take the available balance below it are refused (422"
            " `INSUFFICIENT_FUNDS`)."
        ),
    ),
]
Metadata = Annotated[
    dict[str, Any],
    msgspec.Meta(description="Free-form JSON object, at most 16 KiB encoded."),
]


class LedgerRefBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A ledger ref: exactly one of `ledger_id`, `ledger_code`, `ledger_num_id`."""

    ledger_id: UUID | UnsetType = UNSET
    ledger_code: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=limits.LEDGER_CODE_LENGTH_MAX)]
        | UnsetType
    ) = UNSET
    ledger_num_id: NumId | UnsetType = UNSET

    def to_ref(self, field: str) -> LedgerRef:
        """Raises ValidationError (400) unless exactly one key is present."""
        return LedgerRef.from_fields(
            ledger_id=None if isinstance(self.ledger_id, UnsetType) else self.ledger_id,
            ledger_code=None if isinstance(self.ledger_code, UnsetType) else self.ledger_code,
            ledger_num_id=None if isinstance(self.ledger_num_id, UnsetType) else self.ledger_num_id,
            field=field,
        )


class OpenLedgerBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A ledger to open."""

    code: Code
    name: Name
    type: LedgerType
    parent: LedgerRefBody | None = None
    currency: (
        Annotated[
            str,
            msgspec.Meta(
                description="An ISO 4217 code or a custom currency of the tenant.",
                examples=["USD"],
            ),
        ]
        | None
    ) = None
    normal_balance: (
        Annotated[
            Direction,
            msgspec.Meta(description="Default: debit for asset and expense, else credit."),
        ]
        | None
    ) = None
    min_balance: SignedMinor | None = None
    metadata: Metadata = {}


class UpdateLedgerBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The fields to change (absent: unchanged; `metadata`: replaced whole)."""

    name: Name | UnsetType = UNSET
    metadata: Metadata | UnsetType = UNSET
    min_balance: SignedMinor | UnsetType | None = UNSET


class LedgerOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A ledger (account)."""

    id: UUID
    num_id: Annotated[int, msgspec.Meta(description="1, 2, 3 … per tenant, in opening order.")]
    code: str
    name: str
    type: LedgerType
    normal_balance: Direction
    parent_id: UUID | None
    currency: str | None
    min_balance: int | None
    status: LedgerStatus
    metadata: dict[str, Any]
    created_at: Annotated[dt.datetime, msgspec.Meta(description="RFC 3339, UTC.")]
    position: Annotated[
        int,
        msgspec.Meta(
            description=(
                "Event-store position of the ledger's last event (for a write: of the event"
                " it appended)."
            )
        ),
    ]


class LedgerPageOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    data: list[LedgerOut]
    next_cursor: str | None


def ledger_out(view: LedgerView) -> LedgerOut:
    return LedgerOut(
        id=view.ledger_id,
        num_id=view.num_id,
        code=view.code,
        name=view.name,
        type=view.type,
        normal_balance=view.normal_balance,
        parent_id=view.parent_id,
        currency=view.currency,
        min_balance=view.min_balance,
        status=view.status,
        metadata=view.metadata,
        created_at=view.created_at,
        position=view.position,
    )


async def _existing(services: Services, tenant: TenantView, ledger_id: str) -> LedgerView:
    view = await ledger_queries.get_ledger(
        services.pool, tenant.tenant_id, uuid_in_path(ledger_id, "ledger")
    )
    if view is None:
        raise not_found(ledger_id, "ledger")
    return view


async def _update(
    services: Services, tenant: TenantView, ledger_id: str, request: Request[Any, Any, Any]
) -> LedgerOut:
    parsed = uuid_in_path(ledger_id, "ledger")
    body = await decode_body(request, UpdateLedgerBody)
    view = await services.ledgers.update_ledger(
        tenant.tenant_id,
        parsed,
        name=body.name,
        metadata=body.metadata,
        min_balance=body.min_balance,
    )
    return ledger_out(view)


JOURNALS_SEGMENT: Final = "journals"

_OPEN_DESCRIPTION: Final = """\
Opens a ledger. `num_id` counts 1, 2, 3 … per tenant. Errors, in the order they are checked:

- 400 `VALIDATION_ERROR`: a malformed body; a bad `code`, `name`, `type`, `normal_balance`,
  `min_balance` or `metadata`; `min_balance` without `currency`; a `parent` ref without
  exactly one key.
- 409 `DUPLICATE_CODE`: the tenant has a ledger with this `code`.
- 422 `LEDGER_NOT_FOUND` (`details.field = "parent"`): the parent does not exist.
- 422 `LEDGER_CLOSED` (`details.field = "parent"`): the parent is closed (a closed ledger
  takes no new children).
- 400 `VALIDATION_ERROR` (`details.field = "parent"`, `details.depth_max = 16`): under this
  parent the ledger would be deeper than 16 levels (a root ledger is level 1).
- 422 `CURRENCY_UNKNOWN`: `currency` is neither ISO 4217 nor a custom currency of the tenant.
"""


class LedgersController(Controller):
    """``/v1/ledgers``: open, read, list, update and close ledgers."""

    path = "/ledgers"
    tags = ["ledgers"]

    @post(
        "/",
        summary="Open a ledger",
        description=_OPEN_DESCRIPTION,
        status_code=201,
        operation_class=json_body_operation(OpenLedgerBody, one_key=(LedgerRefBody,)),
        responses=error_responses(
            *BODY_ERROR_STATUSES,
            409,
            422,
            *V1_ERROR_STATUSES,
            codes={
                409: ["DUPLICATE_CODE"],
                422: ["LEDGER_NOT_FOUND", "LEDGER_CLOSED", "CURRENCY_UNKNOWN"],
            },
        ),
    )
    async def open_ledger(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        tenant: TenantDep,
    ) -> LedgerOut:
        body = await decode_body(request, OpenLedgerBody)
        parent = body.parent.to_ref("parent") if body.parent is not None else None
        view = await services.ledgers.open_ledger(
            tenant.tenant_id,
            code=body.code,
            name=body.name,
            type=body.type,
            parent=parent,
            currency=body.currency,
            normal_balance=body.normal_balance,
            min_balance=body.min_balance,
            metadata=body.metadata,
        )
        return ledger_out(view)

    @get(
        "/{ledger_id:str}",
        summary="A ledger",
        responses=error_responses(400, 404, *V1_ERROR_STATUSES),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def get_ledger(
        self,
        ledger_id: FromPath[str],
        services: ServicesDep,
        tenant: TenantDep,
    ) -> LedgerOut:
        return ledger_out(await _existing(services, tenant, ledger_id))

    @get(
        "/",
        summary="List ledgers",
        description=(
            "The tenant's ledgers in `num_id` order; filters combine with AND. `limit` (1..500,"
            " default 50) per page, then `cursor` = the previous page's `next_cursor`."
        ),
        responses=error_responses(400, *V1_ERROR_STATUSES),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def list_ledgers(
        self,
        services: ServicesDep,
        tenant: TenantDep,
        code: FromQuery[str | None] = None,
        num_id: Annotated[int | None, QueryParameter(ge=1, le=NUM_ID_MAX)] = None,
        parent_id: FromQuery[UUID | None] = None,
        type: FromQuery[LedgerType | None] = None,
        limit: PageLimit = None,
        cursor: Annotated[
            str | None, QueryParameter(description="The previous page's `next_cursor`.")
        ] = None,
    ) -> Encoded[LedgerPageOut]:
        page = await ledger_queries.list_ledgers(
            services.pool,
            tenant.tenant_id,
            code=code,
            num_id=num_id,
            parent_id=parent_id,
            type=type,
            limit=limit,
            cursor=cursor,
        )
        return page_answer(
            LedgerPageOut, encode_each(ledger_out(v) for v in page.data), page.next_cursor
        )

    @patch(
        "/{ledger_id:str}",
        summary="Update a ledger",
        description=(
            "Changes `name`, `metadata` (replaced as a whole) and/or `min_balance` (`null`"
            " removes the limit; a limit needs the ledger to have a currency, else 400). Other"
            " fields cannot change (400). A closed ledger can still be updated. An empty body"
            " changes nothing and answers the ledger with its current `position`."
        ),
        operation_class=json_body_operation(UpdateLedgerBody),
        responses=error_responses(*BODY_ERROR_STATUSES, 404, *V1_ERROR_STATUSES),
    )
    async def update_ledger(
        self,
        ledger_id: FromPath[str],
        request: Request[Any, Any, Any],
        services: ServicesDep,
        tenant: TenantDep,
    ) -> LedgerOut:
        return await _update(services, tenant, ledger_id, request)

    # ``POST /v1/ledgers/journals`` (ledger.api.compat.ledgers_journals) is a static path,
    # which the router matches before ``/{ledger_id}`` whatever the method: these two keep
    # GET and PATCH of the id ``journals`` answering as for any other (a 404: not a UUID).
    @get(f"/{JOURNALS_SEGMENT}", include_in_schema=False)
    async def get_ledger_journals(self, services: ServicesDep, tenant: TenantDep) -> LedgerOut:
        return ledger_out(await _existing(services, tenant, JOURNALS_SEGMENT))

    @patch(f"/{JOURNALS_SEGMENT}", include_in_schema=False)
    async def update_ledger_journals(
        self, request: Request[Any, Any, Any], services: ServicesDep, tenant: TenantDep
    ) -> LedgerOut:
        return await _update(services, tenant, JOURNALS_SEGMENT, request)

    @post(
        "/{ledger_id:str}/close",
        summary="Close a ledger",
        description=(
            "Later postings to the ledger are 422 `LEDGER_CLOSED` and it takes no new children."
            " Its children are not closed. Closing a closed ledger is 422 `INVALID_STATE`."
        ),
        status_code=200,
        responses=error_responses(
            400, 404, 422, *V1_ERROR_STATUSES, codes={422: ["INVALID_STATE"]}
        ),
    )
    async def close_ledger(
        self,
        ledger_id: FromPath[str],
        services: ServicesDep,
        tenant: TenantDep,
    ) -> LedgerOut:
        view = await services.ledgers.close_ledger(
            tenant.tenant_id, uuid_in_path(ledger_id, "ledger")
        )
        return ledger_out(view)
