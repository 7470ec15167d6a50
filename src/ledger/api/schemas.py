"""The JSON documents the API answers, as msgspec Structs for the OpenAPI document.

Most handlers answer bytes rendered elsewhere (the journal and record documents are pure
functions of their events, so an idempotent replay is the 201's answer byte for byte; pages are
joined from stored documents). Journals, records and matches are described by the very Structs
that render them (``ledger.documents``: ``JournalOut``, ``JournalReadOut``, ``RecordOut``,
``MatchOut`` and their parts), and so are a run's rules (``RunRules`` of
``ledger.domain.records``) and the reconciliation summary (``ledger.queries.records``): one
definition of each shape. The Structs here are the API's own answers around them (pages, bulk
results, balances, statements, import reports, runs); they describe those bytes exactly, field
for field, so ``/schema/openapi.json`` names a schema for every 2xx response, and they are
never used to encode an answer. :class:`Encoded` is how a handler says which Struct its bytes
are.

Contract: a response of a route documented with one of these Structs decodes into it, and
encoding the result gives back the same JSON (``tests/api/test_response_documents.py``
checks this for journals, balances, records and the other documents). A new field in an
answer rendered outside ``ledger.documents`` is added here too, or that test fails.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, TypeVar, cast
from uuid import UUID

import msgspec
from litestar import Response
from litestar.openapi.datastructures import ResponseSpec

from ledger.api.errors import ErrorBody
from ledger.documents.journals import JournalOut, JournalReadOut
from ledger.documents.records import MatchOut, RecordOut
from ledger.domain.ledgers import Direction
from ledger.domain.records import RunRules

JSON: Final = "application/json"

Document = TypeVar("Document", bound=msgspec.Struct)


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


# --- journals (the documents: ledger.documents.journals) ------------------------------------


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


# --- records (the documents: ledger.documents.records) --------------------------------------


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


# --- runs (the matches: ledger.documents.records; the summary: ledger.queries.records) ---


class MatchPageOut(_Out, frozen=True, kw_only=True):
    data: list[MatchOut]
    next_cursor: str | None


class RunOut(_Out, frozen=True, kw_only=True):
    """A completed reconciliation run: its rules and counts."""

    id: UUID
    left: str
    right: str
    rules: RunRules
    dry_run: bool
    matched: int
    unmatched_left: int
    unmatched_right: int
    skipped: int
    created_at: dt.datetime
    position: int | None


class RunResultOut(RunOut, frozen=True, kw_only=True):
    """A run's answer: the run and the matches it made (or, dry, proposes). A dry run
    writes nothing, so its ``id`` and ``position`` are null (there is nothing to read back)."""

    id: UUID | None  # type: ignore[assignment]
    matches: list[MatchOut]
