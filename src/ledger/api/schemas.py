"""The JSON documents the API answers, as msgspec Structs for the OpenAPI document.

Most handlers answer bytes rendered elsewhere (the journal and record documents are pure
functions of their events, so an idempotent replay is the 201's answer byte for byte; pages
are joined from stored documents). The Structs here describe those bytes exactly, field for
field, so ``/schema/openapi.json`` names a schema for every 2xx response; they are never used
to encode an answer. :class:`Encoded` is how a handler says which of them its bytes are.

Contract: a response of a route documented with one of these Structs decodes into it, and
encoding the result gives back the same JSON (``tests/api/test_response_documents.py``
checks this for journals, balances, records and the other documents). A new field in a
rendered document is added here too, or that test fails.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, Literal, TypeVar, cast
from uuid import UUID

import msgspec
from litestar import Response
from litestar.openapi.datastructures import ResponseSpec

from ledger.api.errors import ErrorBody

JSON: Final = "application/json"

Document = TypeVar("Document", bound=msgspec.Struct)

Direction = Literal["debit", "credit"]
JournalStatus = Literal["posted", "pending", "scheduled", "reversed", "voided"]
RecordStatus = Literal["reconciled", "unreconciled"]
MatchStatus = Literal["active", "unmatched", "proposed"]
MatchOn = Literal["external_id", "amount", "date", "description"]


class Encoded(Response[Document]):
    """A response whose body is ``content``, already-encoded JSON of a ``Document``.

    The annotation ``-> Encoded[JournalOut]`` puts ``JournalOut`` in the OpenAPI document (with
    the route's response headers); the bytes go out unchanged (Litestar sends bytes content
    as-is).
    """

    def __init__(
        self,
        content: bytes,
        *,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            cast("Document", content), status_code=status_code, media_type=JSON, headers=headers
        )


def replay_response(document: type[msgspec.Struct]) -> dict[int, ResponseSpec]:
    """``responses=`` entry documenting the 200 of an idempotent retry: ``document``, the
    original 201 answer byte for byte, with header ``Idempotent-Replayed: true``."""
    return {
        200: ResponseSpec(
            data_container=document,
            description=(
                "Idempotent replay: the original 201 answer, byte for byte (header "
                "`Idempotent-Replayed: true`)."
            ),
            generate_examples=False,
        )
    }


class _Out(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of the documents: immutable, keyword-only, unknown fields refused (so the schema
    says ``additionalProperties: false`` and the tests notice a field missing here)."""


# --- journals (ledger.documents.journals) ---------------------------------------------------


class JournalTotalsOut(_Out, frozen=True, kw_only=True):
    """A journal's sums in one currency, in that currency and in the base currency."""

    currency: str
    debits: int
    credits: int
    debits_base: int
    credits_base: int


class EntryOut(_Out, frozen=True, kw_only=True):
    id: UUID
    ledger_id: UUID
    ledger_code: str
    direction: Direction
    amount: int
    currency: str
    amount_base: int
    description: str | None
    metadata: dict[str, Any]


class ReconciledEntryOut(EntryOut, frozen=True, kw_only=True):
    """An entry as read: whether it is in an active match, and since when."""

    reconciled: bool
    reconciled_at: dt.datetime | None


class JournalWarningOut(_Out, frozen=True, kw_only=True):
    code: str
    message: str
    journal_id: UUID | None


class _JournalFields(_Out, frozen=True, kw_only=True):
    id: UUID
    number: str
    status: JournalStatus
    date: dt.date
    accrual_date: dt.date | None
    effective_date: dt.date
    description: str | None
    reference: str | None
    external_id: str | None
    currency: str
    base_currency: str
    totals: list[JournalTotalsOut]
    exchange_rates: dict[str, str]
    reversal_of: UUID | None
    reversed_by: UUID | None
    warnings: list[JournalWarningOut]
    metadata: dict[str, Any]
    created_at: dt.datetime
    position: int


class JournalOut(_JournalFields, frozen=True, kw_only=True):
    """A journal as posted: the 201 answer (and its idempotent replays, byte for byte)."""

    entries: list[EntryOut]


class JournalReadOut(_JournalFields, frozen=True, kw_only=True):
    """A journal as it is now (GET, lists, commit, void): status and ``reversed_by`` current,
    and the reconciliation of its entries."""

    entries: list[ReconciledEntryOut]
    reconciled: bool
    reconciled_at: dt.datetime | None


class JournalPageOut(_Out, frozen=True, kw_only=True):
    data: list[JournalReadOut]
    next_cursor: str | None


class BulkJournalResultOut(_Out, frozen=True, kw_only=True, omit_defaults=True):
    """One item of a bulk post: ``status`` 201 or 200 (replay) with ``journal``, or the
    error's status with ``error``."""

    status: int
    journal: JournalOut | None = None
    error: ErrorBody | None = None


class BulkJournalsOut(_Out, frozen=True, kw_only=True):
    data: list[BulkJournalResultOut]


# --- balances and statements (ledger.queries.balances) --------------------------------------


class SubtreeBalanceOut(_Out, frozen=True, kw_only=True):
    """The posted balance of the ledger and all its descendants."""

    posted: int
    debits_posted: int
    credits_posted: int


class BalanceOut(_Out, frozen=True, kw_only=True):
    currency: str
    posted: int
    pending: int
    available: int
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    including_children: SubtreeBalanceOut


class BalancesOut(_Out, frozen=True, kw_only=True):
    ledger_id: UUID
    as_of: dt.date
    known_at: int
    balances: list[BalanceOut]


class StatementLineOut(_Out, frozen=True, kw_only=True):
    journal_id: UUID
    entry_id: UUID
    date: dt.date
    direction: Direction
    amount: int
    currency: str
    description: str | None
    running_balance: int
    position: int


class StatementPageOut(_Out, frozen=True, kw_only=True):
    data: list[StatementLineOut]
    next_cursor: str | None
    prev_cursor: str | None


# --- records (ledger.projections.records) ---------------------------------------------------


class MatchedRecordOut(_Out, frozen=True, kw_only=True):
    """An item matched with the record: a record (integer id) or a ledger entry (uuid)."""

    id: int | UUID
    amount: int
    decimal_places: int
    direction: Direction
    data_stream_key: str


class RecordOut(_Out, frozen=True, kw_only=True):
    amount: int
    direction: Direction
    date: dt.date
    data_stream_key: str
    id: int
    decimal_places: int
    description: str | None
    metadata: dict[str, Any]
    status: RecordStatus
    external_id: str | None
    matched_records: list[MatchedRecordOut]
    position: int


class RecordPageOut(_Out, frozen=True, kw_only=True):
    data: list[RecordOut]
    next_cursor: str | None


class BulkRecordResultOut(_Out, frozen=True, kw_only=True, omit_defaults=True):
    """One item of a bulk create: ``status`` 201 or 200 (replay) with ``record``, or the
    error's status with ``error``."""

    status: int
    record: RecordOut | None = None
    error: ErrorBody | None = None


class BulkRecordsOut(_Out, frozen=True, kw_only=True):
    data: list[BulkRecordResultOut]


class SkippedLineOut(_Out, frozen=True, kw_only=True):
    location: str
    reason: str
    detail: str | None


class ImportLineOut(_Out, frozen=True, kw_only=True, omit_defaults=True):
    """One imported line, in file order: where it is, and its record or error."""

    status: int
    location: str
    record: RecordOut | None = None
    error: ErrorBody | None = None


class ImportReportOut(_Out, frozen=True, kw_only=True):
    """What a statement import did with every line of the file."""

    data_stream_key: str
    format: str
    kind: str
    accounts: list[str]
    data_stream_keys: list[str]
    created: int
    existing: int
    skipped: int
    refused: int
    failed: int  # the earlier name of ``refused``
    skipped_lines: list[SkippedLineOut]
    warnings: list[str]
    data: list[ImportLineOut]


# --- matches, runs, summary (ledger.projections.records, ledger.queries.records) ----------


class MatchItemOut(_Out, frozen=True, kw_only=True, omit_defaults=True):
    """A matched item: a record (``record_id``) or a ledger entry (``entry_id``)."""

    record_id: int | None = None
    entry_id: UUID | None = None
    data_stream_key: str
    amount: int
    direction: Direction
    decimal_places: int


class MatchRuleOut(_Out, frozen=True, kw_only=True):
    """Why a reconciliation run made a match: its rules and the deltas it accepted."""

    run_id: UUID
    kind: Literal["one_to_one", "one_to_many"]
    match_on: list[MatchOn]
    date_window_days: int
    amount_tolerance: int
    amount_difference: int
    days_apart: int


class MatchOut(_Out, frozen=True, kw_only=True):
    """A match; a dry run's proposals have no ``id`` or ``position`` (status ``proposed``)."""

    id: UUID | None
    items: list[MatchItemOut]
    difference: int
    tolerance: int
    decimal_places: int
    rule: MatchRuleOut | None
    note: str | None
    run_id: UUID | None
    status: MatchStatus
    created_at: dt.datetime
    unmatched_at: dt.datetime | None
    position: int | None


class MatchPageOut(_Out, frozen=True, kw_only=True):
    data: list[MatchOut]
    next_cursor: str | None


class RunRulesOut(_Out, frozen=True, kw_only=True):
    match_on: list[MatchOn]
    date_window_days: int
    amount_tolerance: int
    allow_one_to_many: bool


class RunOut(_Out, frozen=True, kw_only=True):
    """A completed reconciliation run: its rules and counts."""

    id: UUID
    left: str
    right: str
    rules: RunRulesOut
    dry_run: bool
    matched: int
    unmatched_left: int
    unmatched_right: int
    skipped: int
    created_at: dt.datetime
    position: int | None


class RunResultOut(RunOut, frozen=True, kw_only=True):
    """A run's answer: the run and the matches it made (or, dry, proposes)."""

    matches: list[MatchOut]


class ReconciliationTotalsOut(_Out, frozen=True, kw_only=True):
    count: int
    amount: int
    debits: int
    credits: int


class StreamSummaryOut(_Out, frozen=True, kw_only=True):
    data_stream_key: str
    reconciled: ReconciliationTotalsOut
    unreconciled: ReconciliationTotalsOut


class ReconciliationSummaryOut(_Out, frozen=True, kw_only=True):
    data_stream_key: str | None
    as_of: dt.date | None
    known_at: int | None
    reconciled: ReconciliationTotalsOut
    unreconciled: ReconciliationTotalsOut
    streams: list[StreamSummaryOut]
