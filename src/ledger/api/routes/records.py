"""Records over HTTP (docs/api.md §6): create, bulk, import statements, read, list.

Bodies are decoded strictly from the raw bytes (``ledger.api.body``); shape errors are 400s
raised here; idempotency (``external_id`` per data stream) is decided in group commit
(``ledger.commands.records``). The record document is
``ledger.projections.records.RecordDocument`` (docs/api.md §6); its read-only fields (``id``,
``status``, ``matched_records``) are accepted in a request body, so a client can send back
a record it read, and ignored.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Final, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, HeaderParameter, QueryParameter

from ledger import limits
from ledger.api.auth import ServicesDep, TenantDep
from ledger.api.body import check_json_nesting, decode_body
from ledger.api.errors import (
    BODY_ERROR_STATUSES,
    V1_ERROR_STATUSES,
    UnsupportedMediaType,
    error_responses,
)
from ledger.api.openapi import json_body_operation
from ledger.api.pages import page_answer
from ledger.api.paths import not_found, serial_in_path
from ledger.api.positions import LEDGER_POSITION_DOC
from ledger.api.schemas import (
    BulkRecordsOut,
    Encoded,
    ImportReportOut,
    RecordPageOut,
    replay_response,
)
from ledger.api.strict import KnownAt, PageLimit
from ledger.commands.records import (
    DECIMAL_PLACES_MAX,
    DESCRIPTION_LENGTH_MAX,
    EXTERNAL_ID_LENGTH_MAX,
    RECORDS_PER_COMMAND_MAX,
    STREAM_KEY_LENGTH_MAX,
    ImportedRecord,
    RecordInput,
    check_record_input,
    check_stream_key,
)
from ledger.commands.statement_import import StatementImportRequest, import_statement
from ledger.documents.records import RecordOut
from ledger.domain.records import RecordStatus
from ledger.errors import LedgerError, ValidationError
from ledger.importers import FORMAT_ALIASES, FORMAT_NAMES, FORMATS
from ledger.queries.pagination import page_limit
from ledger.queries.records import RecordFilter, list_records, record_document

_BOOLEANS: Final = {"true": True, "1": True, "false": False, "0": False}

Amount = Annotated[int, msgspec.Meta(gt=0, le=limits.AMOUNT_MINOR_MAX)]
StreamKey = Annotated[str, msgspec.Meta(min_length=1, max_length=STREAM_KEY_LENGTH_MAX)]
ExternalId = Annotated[str, msgspec.Meta(min_length=1, max_length=EXTERNAL_ID_LENGTH_MAX)]
Description = Annotated[str, msgspec.Meta(max_length=DESCRIPTION_LENGTH_MAX)]
DecimalPlaces = Annotated[int, msgspec.Meta(ge=0, le=DECIMAL_PLACES_MAX)]


class RecordBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A record. ``id``, ``status`` and ``matched_records`` are read-only: accepted
    and ignored. ``direction`` is the stream's own view (a bank credit is money in)."""

    amount: Amount
    direction: Literal["credit", "debit"]
    date: dt.date
    data_stream_key: StreamKey
    id: int | None = None
    decimal_places: DecimalPlaces = 2
    description: Description | None = None
    metadata: dict[str, Any] = {}
    status: RecordStatus | None = None
    external_id: ExternalId | None = None
    matched_records: list[dict[str, Any]] | None = None


class BulkRecordsBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    records: Annotated[
        list[RecordBody], msgspec.Meta(min_length=1, max_length=RECORDS_PER_COMMAND_MAX)
    ]


def to_input(body: RecordBody, path: str = "$", idempotency_key: str | None = None) -> RecordInput:
    """The command input of a decoded body (400 for rules the schema cannot express)."""
    if idempotency_key is not None and body.external_id not in (None, idempotency_key):
        raise ValidationError(
            "Idempotency-Key and external_id differ; send one, or the same value in both",
            {"field": f"{path}.external_id"},
        )
    return check_record_input(
        RecordInput(
            data_stream_key=body.data_stream_key,
            amount=body.amount,
            direction=body.direction,
            date=body.date,
            decimal_places=body.decimal_places,
            description=body.description,
            metadata=body.metadata,
            external_id=body.external_id or idempotency_key,
        ),
        path,
    )


def record_response(record: ImportedRecord) -> Encoded[RecordOut]:
    if record.replayed:
        return Encoded(record.document, status_code=200, headers={"Idempotent-Replayed": "true"})
    return Encoded(record.document, status_code=201)


def _results(outcomes: list[ImportedRecord | LedgerError]) -> list[bytes]:
    parts: list[bytes] = []
    for outcome in outcomes:
        if isinstance(outcome, ImportedRecord):
            status = b"200" if outcome.replayed else b"201"
            parts.append(b'{"status":' + status + b',"record":' + outcome.document + b"}")
        else:
            error = {"code": outcome.code, "message": outcome.message, "details": outcome.details}
            parts.append(msgspec.json.encode({"status": outcome.status_code, "error": error}))
    return parts


async def _form_text(form: Any, name: str) -> str | None:
    """The text of form field ``name``, or None; a 400 naming it if it holds NUL."""
    value = form.get(name)
    if value is None:
        return None
    if isinstance(value, UploadFile):
        text = (await value.read()).decode("utf-8", errors="replace")
    else:
        text = str(value)
    if "\x00" in text:
        raise ValidationError(f"{name} must not contain the NUL character", {"field": name})
    return text


async def _import_request(form: Any, tenant_id: UUID) -> StatementImportRequest:
    """The import form's fields, checked (400 naming the field)."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ValidationError("the form has no file part named 'file'", {"field": "file"})
    content = await upload.read()
    stream = check_stream_key(await _form_text(form, "data_stream_key"))
    fmt = await _form_text(form, "format")
    if fmt is not None and fmt not in FORMAT_NAMES:
        raise ValidationError(
            f"format is one of {', '.join(FORMAT_NAMES)}", {"field": "format", "value": fmt[:50]}
        )
    mapping_text = await _form_text(form, "mapping")
    mapping = None
    if mapping_text:
        try:
            check_json_nesting(mapping_text.encode())
            mapping = json.loads(mapping_text)
        except (ValueError, ValidationError):
            raise ValidationError("mapping is a JSON object", {"field": "mapping"}) from None
        if not isinstance(mapping, dict):
            raise ValidationError("mapping is a JSON object", {"field": "mapping"})
    places_text = await _form_text(form, "decimal_places")
    if places_text and (
        not (places_text.isascii() and places_text.isdigit())
        or int(places_text) > DECIMAL_PLACES_MAX
    ):
        raise ValidationError(
            f"decimal_places is 0 to {DECIMAL_PLACES_MAX}", {"field": "decimal_places"}
        )
    split_text = (await _form_text(form, "split_by_account") or "false").strip().lower()
    if split_text not in _BOOLEANS:
        raise ValidationError("split_by_account is true or false", {"field": "split_by_account"})
    account = await _form_text(form, "account")
    if account is not None and not 1 <= len(account.strip()) <= limits.STATEMENT_ACCOUNT_LENGTH_MAX:
        raise ValidationError(
            f"account is 1 to {limits.STATEMENT_ACCOUNT_LENGTH_MAX} characters",
            {"field": "account"},
        )
    return StatementImportRequest(
        tenant_id=tenant_id,
        content=content,
        filename=upload.filename,
        data_stream_key=stream,
        format=FORMAT_ALIASES.get(fmt, fmt) if fmt is not None else None,
        mapping=mapping,
        decimal_places=int(places_text) if places_text else 2,
        split_by_account=_BOOLEANS[split_text],
        account=account.strip() if account is not None else None,
    )


class RecordsController(Controller):
    """``/v1/records``: create records (one, in bulk, from a statement file), read and list them."""

    path = "/records"
    tags = ["records"]

    @post(
        "/",
        summary="Create a record",
        description=(
            "Adds a record to a data stream (201). A known `external_id` of the stream with the "
            "same record answers the original (200, header `Idempotent-Replayed: true`); with "
            "another record, 409 `IDEMPOTENCY_CONFLICT`. Keys starting with `ledger:` are the "
            "ledgers' entries and are refused (400). Body: see RecordBody."
        ),
        responses={
            **error_responses(
                *BODY_ERROR_STATUSES, *V1_ERROR_STATUSES, 409, codes={409: ["IDEMPOTENCY_CONFLICT"]}
            ),
            **replay_response(RecordOut),
        },
        operation_class=json_body_operation(RecordBody),
    )
    async def post_record(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        tenant: TenantDep,
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(
                name="Idempotency-Key", min_length=1, max_length=EXTERNAL_ID_LENGTH_MAX
            ),
        ] = None,
    ) -> Encoded[RecordOut]:
        body = await decode_body(request, RecordBody)
        record = await services.records.import_record(
            tenant.tenant_id, to_input(body, idempotency_key=idempotency_key)
        )
        return record_response(record)

    @post(
        "/bulk",
        summary="Create up to 10,000 records",
        description=(
            'Per-record results in request order: `{"status": 201|200|409, "record"|"error"}`, '
            "with the rules of `POST /v1/records` for each; all are decided in one transaction. "
            "A malformed record fails the whole request (400, `details.field` names it). "
            f"Bodies up to {limits.RECORDS_BULK_BODY_BYTES_MAX // (1024 * 1024)} MiB."
        ),
        responses=error_responses(*BODY_ERROR_STATUSES, *V1_ERROR_STATUSES),
        status_code=200,
        operation_class=json_body_operation(BulkRecordsBody),
        request_max_body_size=limits.RECORDS_BULK_BODY_BYTES_MAX,
    )
    async def post_records_bulk(
        self, request: Request[Any, Any, Any], services: ServicesDep, tenant: TenantDep
    ) -> Encoded[BulkRecordsOut]:
        body = await decode_body(request, BulkRecordsBody)
        inputs = [to_input(r, f"$.records[{i}]") for i, r in enumerate(body.records)]
        outcomes = await services.records.import_records(tenant.tenant_id, inputs)
        return Encoded(b'{"data":[' + b",".join(_results(outcomes)) + b"]}")

    @post(
        "/import",
        summary="Import a bank statement file",
        description=(
            "`multipart/form-data` with `file` (the statement), `data_stream_key`, and optionally "
            f"`format` ({', '.join(FORMATS)}; detected from the file when absent; `mt940` also "
            "reads MT942, `camt053` also camt.052 and camt.054; "
            f"aliases: {', '.join(FORMAT_ALIASES)}), `mapping` (CSV only: a JSON "
            "object naming the columns, see docs/statement-import.md), `decimal_places` (CSV, and "
            "currencies outside ISO 4217; default 2), `account` (the account the file must hold) "
            "and `split_by_account` (`true`: each account's lines go to the data stream "
            "`<data_stream_key>:<account>`; without it a file of several accounts, or of another "
            "account than the stream's, is a 422 `STATEMENT_ACCOUNT_MISMATCH`). Every booked "
            "transaction becomes a record whose `external_id` is its identity (account, currency, "
            "date, direction, amount, the bank's reference when real, occurrence), so importing "
            "the same file, an overlapping one, or the final statement after the interim one "
            "creates nothing twice. The answer accounts for every line: `created`, `existing`, "
            "`skipped` (with `skipped_lines`: location, reason `pending`|`zero_amount`|"
            "`not_a_transaction`), `refused`, `warnings`, and per imported line "
            '`{"status": 201|200|409, "location", "record"|"error"}` in file order. A file that '
            "cannot be read is a 400 naming the entry and field; a bank's error response (e.g. an "
            "OFX with a failed status) is a 422 `BANK_ERROR_RESPONSE`. Files up to "
            f"{limits.STATEMENT_IMPORT_BODY_BYTES_MAX // (1024 * 1024)} MiB."
        ),
        responses=error_responses(*BODY_ERROR_STATUSES, 422, *V1_ERROR_STATUSES),
        status_code=200,
        request_max_body_size=limits.STATEMENT_IMPORT_BODY_BYTES_MAX,
    )
    async def import_records(
        self, request: Request[Any, Any, Any], services: ServicesDep, tenant: TenantDep
    ) -> Encoded[ImportReportOut]:
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            raise UnsupportedMediaType(
                "send the statement as multipart/form-data (file, data_stream_key, format)",
                {"content_type": content_type[:200]},
            )
        command = await _import_request(await request.form(), tenant.tenant_id)
        report = await import_statement(services.records, command)
        head = msgspec.json.encode({"data_stream_key": command.data_stream_key, **report.summary()})
        results = _results([line.outcome for line in report.lines])
        located = [
            part[:1] + msgspec.json.encode({"location": line.location})[1:-1] + b"," + part[1:]
            for line, part in zip(report.lines, results, strict=True)
        ]
        return Encoded(head[:-1] + b',"data":[' + b",".join(located) + b"]}")

    @get(
        "/{record_id:str}",
        summary="A record",
        description="The record with its derived `status` and `matched_records` (at `known_at`).",
        responses=error_responses(400, 404, *V1_ERROR_STATUSES),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def get_record(
        self,
        record_id: FromPath[str],
        services: ServicesDep,
        tenant: TenantDep,
        known_at: KnownAt = None,
    ) -> Encoded[RecordOut]:
        document = await record_document(
            services.pool, tenant.tenant_id, serial_in_path(record_id, "record"), known_at
        )
        if document is None:
            raise not_found(record_id, "record")
        return Encoded(document)

    @get(
        "/",
        summary="List records",
        description=(
            "Records in id order; filters combine with AND. `from`/`to` bound the record date; "
            "`status` is the derived status (at `known_at`, default now)."
        ),
        responses=error_responses(400, *V1_ERROR_STATUSES),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def list_records_route(
        self,
        services: ServicesDep,
        tenant: TenantDep,
        data_stream_key: FromQuery[str | None] = None,
        status: FromQuery[RecordStatus | None] = None,
        date_from: Annotated[dt.date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[dt.date | None, QueryParameter(name="to")] = None,
        external_id: FromQuery[str | None] = None,
        known_at: KnownAt = None,
        limit: PageLimit = None,
        cursor: FromQuery[str | None] = None,
    ) -> Encoded[RecordPageOut]:
        documents, next_cursor = await list_records(
            services.pool,
            tenant.tenant_id,
            RecordFilter(
                data_stream_key=data_stream_key,
                status=status,
                date_from=date_from,
                date_to=date_to,
                external_id=external_id,
                known_at=known_at,
            ),
            page_limit(limit),
            cursor,
        )
        return page_answer(RecordPageOut, documents, next_cursor)
