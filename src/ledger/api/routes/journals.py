"""Journals over HTTP (docs/api.md §5): post, read, list, annotate, reverse, amend, commit,
void, bulk.

Bodies are decoded strictly from the raw bytes (``ledger.api.body``); shape errors are 400s
raised here, every rule that needs state is decided in group commit
(``ledger.commands.journals``), in the precedence order documented there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, FromQuery, HeaderParameter, QueryParameter
from msgspec import UNSET, UnsetType

from ledger import limits
from ledger.api.auth import ServicesDep, TenantDep, provide_services, provide_tenant
from ledger.api.body import decode_body, decode_json
from ledger.api.errors import BODY_ERROR_STATUSES, V1_ERROR_STATUSES, error_responses
from ledger.api.fields import Currency, Key, Text
from ledger.api.openapi import json_body_operation
from ledger.api.pages import page_answer
from ledger.api.paths import not_found, uuid_in_path
from ledger.api.positions import LEDGER_POSITION_DOC
from ledger.api.schemas import (
    BulkJournalsOut,
    Encoded,
    JournalPageOut,
    replay_response,
)
from ledger.api.strict import PageLimit
from ledger.bootstrap import Services
from ledger.clock import utc_today
from ledger.commands.journals import (
    AmendJournal,
    AnnotateJournal,
    EntryInput,
    PostedJournal,
    PostJournal,
    ReverseJournal,
)
from ledger.documents.journals import JournalOut, JournalReadOut
from ledger.domain.annotations import NotesPatch
from ledger.domain.idempotency import client_key, request_fingerprint
from ledger.domain.journals import JournalStatus, PendingAction, PostingStatus
from ledger.domain.ledgers import Direction
from ledger.errors import LedgerError, ValidationError
from ledger.queries.journals import JournalFilter, journal_document, list_journals
from ledger.queries.ledgers import LedgerRef
from ledger.queries.pagination import page_limit
from ledger.queries.tenants import TenantView

Amount = Annotated[int, msgspec.Meta(gt=0, le=limits.AMOUNT_MINOR_MAX)]


class EntryBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    ledger_id: UUID | None = None
    ledger_code: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=limits.JOURNAL_KEY_LENGTH_MAX)] | None
    ) = None
    ledger_num_id: Annotated[int, msgspec.Meta(ge=1, le=limits.LEDGER_NUM_ID_MAX)] | None = None
    direction: Direction
    amount: Amount
    currency: Currency | None = None
    description: Text | None = None
    metadata: dict[str, Any] = {}


class JournalBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    date: dt.date
    accrual_date: dt.date | None = None
    description: Text | None = None
    reference: Key | None = None
    external_id: Key | None = None
    currency: Currency | None = None
    status: PostingStatus = "posted"
    metadata: dict[str, Any] = {}
    # Converted like the base currency: each entry's amount_reporting and the rates used.
    reporting_currency: Currency | None = None
    entries: Annotated[
        list[EntryBody],
        msgspec.Meta(min_length=limits.JOURNAL_ENTRIES_MIN, max_length=limits.JOURNAL_ENTRIES_MAX),
    ]


class ReverseBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    date: dt.date | None = None
    description: Text | None = None


class AnnotateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The notes to change, at least one (absent: unchanged; `null` clears `description` or
    `reference`; `metadata` is merged into the journal's: a key given `""` is deleted)."""

    description: Text | UnsetType | None = UNSET
    reference: Key | UnsetType | None = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET

    def patch(self) -> NotesPatch:
        """The request as the domain's patch (400 when it names no field)."""
        patch = NotesPatch(
            description=self.description, reference=self.reference, metadata=self.metadata
        )
        if patch.is_empty():
            raise ValidationError(
                "name at least one of description, reference, metadata", {"field": "$"}
            )
        return patch


class BulkBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    journals: Annotated[
        list[JournalBody], msgspec.Meta(min_length=1, max_length=limits.BULK_JOURNALS_MAX)
    ]
    atomic: bool = False


def ledger_ref(entry: EntryBody, path: str) -> LedgerRef:
    """The entry's ledger ref; exactly one of the three keys must be present (else 400)."""
    return LedgerRef.from_fields(
        ledger_id=entry.ledger_id,
        ledger_code=entry.ledger_code,
        ledger_num_id=entry.ledger_num_id,
        field=path,
    )


def to_command(
    body: JournalBody,
    tenant: TenantView,
    idempotency_key: str | None,
    *,
    check_duplicates: bool,
    force: bool,
    path: str = "$",
    amends: UUID | None = None,
) -> PostJournal:
    """Turn a decoded body into a command (400 for shape errors the schema cannot express).

    ``amends``: the journal the body amends (``POST /v1/journals/{id}/amend``); the request
    fingerprint then covers it too, so a key replays only the same amendment.
    """
    external_id = client_key(
        idempotency_key, body.external_id, "external_id", f"{path}.external_id"
    )
    return PostJournal(
        tenant_id=tenant.tenant_id,
        base_currency=tenant.base_currency,
        date=body.date,
        accrual_date=body.accrual_date,
        description=body.description,
        reference=body.reference,
        external_id=external_id,
        currency=body.currency,
        status=body.status,
        metadata=body.metadata,
        entries=tuple(
            EntryInput(
                ref=ledger_ref(entry, f"{path}.entries[{index}]"),
                direction=entry.direction,
                amount=entry.amount,
                currency=entry.currency,
                description=entry.description,
                metadata=entry.metadata,
            )
            for index, entry in enumerate(body.entries)
        ),
        check_duplicates=check_duplicates,
        force=force,
        request_sha256=journal_fingerprint(body, amends),
        amends=amends,
        reporting_currency=body.reporting_currency,
    )


def journal_fingerprint(body: JournalBody, amends: UUID | None = None) -> bytes:
    """The request fingerprint of a journal body (of an amendment of ``amends``).

    A body without ``reporting_currency`` hashes exactly as it did before the field
    existed: fingerprints stored with journals must keep matching their retries
    (``ledger.domain.idempotency``).
    """
    canonical = msgspec.to_builtins(body)
    if body.reporting_currency is None:
        del canonical["reporting_currency"]
    return request_fingerprint(
        canonical if amends is None else {"amends": str(amends), "journal": canonical}
    )


def journal_response(posted: PostedJournal) -> Encoded[JournalOut]:
    if posted.replayed:
        return Encoded(posted.document, status_code=200, headers={"Idempotent-Replayed": "true"})
    return Encoded(posted.document, status_code=201)


_POST_ERRORS = error_responses(
    *BODY_ERROR_STATUSES,
    *V1_ERROR_STATUSES,
    409,
    422,
    codes={
        409: ["IDEMPOTENCY_CONFLICT", "POSSIBLE_DUPLICATE", "ALREADY_REVERSED"],
        422: [
            "JOURNAL_UNBALANCED",
            "INSUFFICIENT_FUNDS",
            "LEDGER_NOT_FOUND",
            "LEDGER_CLOSED",
            "CURRENCY_UNKNOWN",
            "CURRENCY_MISMATCH",
            "FX_RATE_NOT_FOUND",
            "INVALID_STATE",
            "AMOUNT_OVERFLOW",
        ],
    },
)


async def _current(
    services: Services, tenant: TenantView, journal_id: UUID, position: int | None
) -> Encoded[JournalReadOut]:
    """The journal as a GET reads it, with ``position`` (when given) as its ``position``."""
    document = await journal_document(services.pool, tenant.tenant_id, journal_id, utc_today())
    assert document is not None
    if position is None:
        return Encoded(document, status_code=200)
    # The answer's position is the write's, so min_position=position sees it.
    answer = msgspec.json.decode(document, type=dict[str, Any])
    answer["position"] = position
    return Encoded(msgspec.json.encode(answer), status_code=200)


async def _settle(
    services: Services, tenant: TenantView, journal_id: str, action: PendingAction
) -> Encoded[JournalReadOut]:
    parsed = uuid_in_path(journal_id, "journal")
    position = await services.journals.change_status(tenant.tenant_id, parsed, action)
    return await _current(services, tenant, parsed, position)


_SETTLE_ERRORS = error_responses(400, 404, 422, *V1_ERROR_STATUSES, codes={422: ["INVALID_STATE"]})


class BulkError(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    message: str
    details: dict[str, Any]


class JournalsController(Controller):
    """``/v1/journals``: post (one or in bulk), read, list, annotate, reverse, amend, commit
    and void journals."""

    path = "/journals"
    tags = ["journals"]

    @post(
        "/",
        summary="Post a journal",
        description=(
            "Posts a balanced journal (201), or answers an idempotent retry with the original "
            "journal byte for byte (200, header `Idempotent-Replayed: true`). Body: see "
            "JournalBody."
        ),
        responses={**_POST_ERRORS, **replay_response(JournalOut)},
        operation_class=json_body_operation(JournalBody),
    )
    async def post_journal(
        self,
        request: Request[Any, Any, Any],
        check_duplicates: FromQuery[bool] = False,
        force: FromQuery[bool] = False,
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(
                name="Idempotency-Key", min_length=1, max_length=limits.JOURNAL_KEY_LENGTH_MAX
            ),
        ] = None,
    ) -> Encoded[JournalOut]:
        # The hot path: services and tenant are read directly rather than declared as
        # dependencies, because Litestar resolves two dependencies in an anyio task group (two
        # tasks per request: about a tenth of the process's CPU under load, per the profile).
        body = await decode_body(request, JournalBody)
        command = to_command(
            body,
            provide_tenant(request),
            idempotency_key,
            check_duplicates=check_duplicates,
            force=force,
        )
        return journal_response(await provide_services(request).journals.post(command))

    @get(
        "/{journal_id:str}",
        summary="A journal",
        responses=error_responses(400, 404, *V1_ERROR_STATUSES),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def get_journal(
        self, journal_id: FromPath[str], services: ServicesDep, tenant: TenantDep
    ) -> Encoded[JournalReadOut]:
        parsed = uuid_in_path(journal_id, "journal")
        document = await journal_document(services.pool, tenant.tenant_id, parsed, utc_today())
        if document is None:
            raise not_found(journal_id, "journal")
        return Encoded(document)

    @get(
        "/",
        summary="List journals",
        description=(
            "Journals in posting order; filters combine with AND. `from`/`to` bound the "
            "effective date."
        ),
        responses=error_responses(400, *V1_ERROR_STATUSES),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def list_journals_route(
        self,
        services: ServicesDep,
        tenant: TenantDep,
        reference: FromQuery[str | None] = None,
        external_id: FromQuery[str | None] = None,
        date: FromQuery[dt.date | None] = None,
        date_from: Annotated[dt.date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[dt.date | None, QueryParameter(name="to")] = None,
        ledger_id: FromQuery[UUID | None] = None,
        status: FromQuery[JournalStatus | None] = None,
        limit: PageLimit = None,
        cursor: FromQuery[str | None] = None,
    ) -> Encoded[JournalPageOut]:
        documents, next_cursor = await list_journals(
            services.pool,
            tenant.tenant_id,
            JournalFilter(
                reference=reference,
                external_id=external_id,
                date=date,
                date_from=date_from,
                date_to=date_to,
                ledger_id=ledger_id,
                status=status,
            ),
            page_limit(limit),
            cursor,
            utc_today(),
        )
        return page_answer(JournalPageOut, documents, next_cursor)

    @patch(
        "/{journal_id:str}",
        summary="Annotate a journal",
        description=(
            "Changes the journal's `description`, `reference` and/or `metadata` (at least one;"
            ' `null` clears a text; `metadata` is merged: a key given `""` is deleted) with'
            " one `JournalAnnotated` event: nothing is reposted, no money moves. Any status may"
            " be annotated. Answers the journal as a GET reads it, with the annotation's"
            " `position`; a request that changes nothing writes nothing and answers the"
            " journal as it is. The 201 answer and its idempotent replays keep their bytes."
        ),
        operation_class=json_body_operation(AnnotateBody),
        responses=error_responses(*BODY_ERROR_STATUSES, 404, *V1_ERROR_STATUSES),
    )
    async def annotate_journal(
        self,
        journal_id: FromPath[str],
        request: Request[Any, Any, Any],
        services: ServicesDep,
        tenant: TenantDep,
    ) -> Encoded[JournalReadOut]:
        parsed = uuid_in_path(journal_id, "journal")
        body = await decode_body(request, AnnotateBody)
        position = await services.journals.annotate(
            AnnotateJournal(tenant_id=tenant.tenant_id, journal_id=parsed, patch=body.patch())
        )
        return await _current(services, tenant, parsed, position)

    @post(
        "/{journal_id:str}/reverse",
        summary="Reverse a posted journal",
        description="Posts the mirror journal (201) and marks the original `reversed`; once only.",
        responses=error_responses(
            *BODY_ERROR_STATUSES,
            404,
            409,
            422,
            *V1_ERROR_STATUSES,
            codes={
                409: ["ALREADY_REVERSED"],
                422: ["INVALID_STATE", "INSUFFICIENT_FUNDS", "LEDGER_CLOSED", "AMOUNT_OVERFLOW"],
            },
        ),
    )
    async def reverse_journal_route(
        self,
        journal_id: FromPath[str],
        request: Request[Any, Any, Any],
        services: ServicesDep,
        tenant: TenantDep,
    ) -> Encoded[JournalOut]:
        raw = await request.body()
        body = decode_json(raw, ReverseBody) if raw.strip() else ReverseBody()
        posted = await services.journals.reverse(
            ReverseJournal(
                tenant_id=tenant.tenant_id,
                journal_id=uuid_in_path(journal_id, "journal"),
                date=body.date,
                description=body.description,
            )
        )
        return journal_response(posted)

    @post(
        "/{journal_id:str}/amend",
        summary="Amend a posted journal",
        description=(
            "Reverses the journal's current version and posts the body (a full journal, as "
            "for `POST /v1/journals`) as the new one, in one step: 201 the new journal, "
            '`"amends": <journal_id>`; the original then reads `reversed`, with `reversed_by` '
            "(the reversal) and `amended_by` (the new journal). Only a posted (or scheduled) "
            "journal can be amended: reversed, voided or already amended → 409 "
            "`ALREADY_REVERSED`, pending → 422 `INVALID_STATE`. `Idempotency-Key` / "
            "`external_id` as for `POST /v1/journals`: the same amendment again answers the "
            "201 bytes (200, `Idempotent-Replayed: true`)."
        ),
        responses={
            **error_responses(
                *BODY_ERROR_STATUSES,
                *V1_ERROR_STATUSES,
                404,
                409,
                422,
                codes={
                    409: ["IDEMPOTENCY_CONFLICT", "ALREADY_REVERSED"],
                    422: [
                        "INVALID_STATE",
                        "JOURNAL_UNBALANCED",
                        "INSUFFICIENT_FUNDS",
                        "LEDGER_NOT_FOUND",
                        "LEDGER_CLOSED",
                        "CURRENCY_UNKNOWN",
                        "CURRENCY_MISMATCH",
                        "FX_RATE_NOT_FOUND",
                        "AMOUNT_OVERFLOW",
                    ],
                },
            ),
            **replay_response(JournalOut),
        },
        operation_class=json_body_operation(JournalBody),
    )
    async def amend_journal(
        self,
        journal_id: FromPath[str],
        request: Request[Any, Any, Any],
        services: ServicesDep,
        tenant: TenantDep,
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(
                name="Idempotency-Key", min_length=1, max_length=limits.JOURNAL_KEY_LENGTH_MAX
            ),
        ] = None,
    ) -> Encoded[JournalOut]:
        amended = uuid_in_path(journal_id, "journal")
        body = await decode_body(request, JournalBody)
        command = to_command(
            body, tenant, idempotency_key, check_duplicates=False, force=False, amends=amended
        )
        posted = await services.journals.amend(
            AmendJournal(tenant_id=tenant.tenant_id, journal_id=amended, replacement=command)
        )
        return journal_response(posted)

    @post(
        "/{journal_id:str}/commit",
        summary="Post a pending journal",
        responses=_SETTLE_ERRORS,
        status_code=200,
    )
    async def commit_journal(
        self, journal_id: FromPath[str], services: ServicesDep, tenant: TenantDep
    ) -> Encoded[JournalReadOut]:
        return await _settle(services, tenant, journal_id, "commit")

    @post(
        "/{journal_id:str}/void",
        summary="Release a pending journal",
        responses=_SETTLE_ERRORS,
        status_code=200,
    )
    async def void_journal(
        self, journal_id: FromPath[str], services: ServicesDep, tenant: TenantDep
    ) -> Encoded[JournalReadOut]:
        return await _settle(services, tenant, journal_id, "void")

    @post(
        "/bulk",
        summary="Post up to 1000 journals",
        description=(
            'Per-item results in request order: `{"status": 201|200|4xx, "journal"|"error"}`. '
            "Non-atomic: each journal stands alone. Atomic: all or none — if any item fails, "
            "none is posted, the failing items carry their error and the others "
            "`ATOMIC_ROLLBACK` (409)."
        ),
        responses=error_responses(*BODY_ERROR_STATUSES, *V1_ERROR_STATUSES),
        status_code=200,
        operation_class=json_body_operation(BulkBody),
    )
    async def post_journals_bulk(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        tenant: TenantDep,
        check_duplicates: FromQuery[bool] = False,
        force: FromQuery[bool] = False,
    ) -> Encoded[BulkJournalsOut]:
        body = await decode_body(request, BulkBody)
        commands = [
            to_command(
                j,
                tenant,
                None,
                check_duplicates=check_duplicates,
                force=force,
                path=f"$.journals[{i}]",
            )
            for i, j in enumerate(body.journals)
        ]
        items: list[PostedJournal | BaseException]
        if body.atomic:
            items = list(await services.journals.post_atomic(commands))
        else:
            items = list(
                await asyncio.gather(
                    *(services.journals.post(c) for c in commands), return_exceptions=True
                )
            )
        parts: list[bytes] = []
        for item in items:
            if isinstance(item, PostedJournal):
                status = 200 if item.replayed else 201
                parts.append(
                    b'{"status":' + str(status).encode() + b',"journal":' + item.document + b"}"
                )
            elif isinstance(item, LedgerError):
                error = BulkError(code=item.code, message=item.message, details=item.details)
                parts.append(msgspec.json.encode({"status": item.status_code, "error": error}))
            else:
                raise item
        return Encoded(b'{"data":[' + b",".join(parts) + b"]}")
