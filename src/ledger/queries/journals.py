"""Journal reads: one journal's current document, its 201 answer, and filtered lists.

Documents are rendered from each journal's ``JournalPosted`` event (joined from the log by
its primary key) and the journal row's current status and notes (annotations: the row's
``metadata`` is NULL until one changes it): see ``ledger.documents.journals``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import msgspec

from ledger.documents.journals import (
    JournalOut,
    current_document,
    encode_document,
    posted_document,
)
from ledger.domain.annotations import JournalNotes
from ledger.domain.journals import JournalStatus
from ledger.queries.filters import SqlFilter
from ledger.queries.pagination import decode_cursor, encode_cursor
from ledger.queries.records import entry_reconciliations
from ledger.store.database import DbSource

# A journal row with its JournalPosted (always version 1 of the journal's aggregate).
_WITH_EVENT: Final = (
    "SELECT j.journal_id, j.position, j.status, j.reversed_by, j.amended_by, j.effective_date,"
    " j.currency, j.description, j.reference, j.metadata, e.topic, e.state FROM journals j"
    " JOIN ledger_events e ON e.originator_id = j.journal_id AND e.originator_version = 1"
)
_ONE_SQL: Final = _WITH_EVENT + " WHERE j.tenant_id = $1 AND j.journal_id = $2"
_json_object = msgspec.json.Decoder(dict[str, Any])


def _notes(row: Any, posted: JournalOut) -> JournalNotes:
    """The journal's notes now: the row's (its metadata, once annotated) over the posted."""
    metadata = row["metadata"]
    return JournalNotes(
        description=row["description"],
        reference=row["reference"],
        metadata=posted.metadata if metadata is None else _json_object.decode(metadata),
    )


async def journal_document(
    source: DbSource, tenant_id: UUID, journal_id: UUID, today: dt.date
) -> bytes | None:
    """The journal as JSON with its current status and reconciliation, or None (unknown or
    another tenant's)."""
    row = await source.fetchrow(_ONE_SQL, tenant_id, journal_id)
    if row is None:
        return None
    posted = posted_document(journal_id, row["topic"], row["state"], row["position"])
    return current_document(
        posted,
        row["status"],
        row["reversed_by"],
        today,
        amended_by=row["amended_by"],
        reconciled=await entry_reconciliations(source, [journal_id]),
        notes=_notes(row, posted),
    )


async def journal_answer(source: DbSource, tenant_id: UUID, journal_id: UUID) -> tuple[bytes, int]:
    """The journal's 201 answer, byte for byte, and its position (an idempotent retry's
    answer). The journal must exist (a replayed key names a committed journal)."""
    row = await source.fetchrow(_ONE_SQL, tenant_id, journal_id)
    assert row is not None, f"journal {journal_id} is committed"
    position = int(row["position"])
    document = posted_document(journal_id, row["topic"], row["state"], position)
    return encode_document(document), position


@dataclass(frozen=True, kw_only=True)
class JournalFilter:
    reference: str | None = None
    external_id: str | None = None
    date: dt.date | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    ledger_id: UUID | None = None
    status: JournalStatus | None = None
    # Only journals that stand as posted: stored status ``posted`` (``scheduled`` included)
    # and not the mirror of another (``reversal_of`` unset). Reversed, voided and pending
    # journals and reversals are left out (the manual-journal view, api.compat).
    standing_only: bool = False


def _add_filters(query: SqlFilter, where: JournalFilter, today: dt.date) -> None:
    """Require ``where``'s filters in ``query``."""
    query.equals("j.reference", where.reference)
    query.equals("j.external_id", where.external_id)
    query.equals("j.effective_date", where.date)
    query.at_least("j.effective_date", where.date_from)
    query.at_most("j.effective_date", where.date_to)
    query.where_given(
        "EXISTS (SELECT 1 FROM journal_entries e WHERE e.journal_id = j.journal_id"
        " AND e.ledger_id = {})",
        where.ledger_id,
    )
    if where.status == "scheduled":
        query.where("j.status = 'posted' AND j.effective_date > {}", today)
    elif where.status == "posted":
        query.where("j.status = 'posted' AND j.effective_date <= {}", today)
    else:
        query.equals("j.status", where.status)
    if where.standing_only:
        query.where("j.status = 'posted' AND j.reversal_of IS NULL")


async def list_journals(
    source: DbSource,
    tenant_id: UUID,
    where: JournalFilter,
    limit: int,
    cursor: str | None,
    today: dt.date,
) -> tuple[list[bytes], str | None]:
    """A page of journal documents in posting order (oldest first), and the next cursor.

    ``status`` filters on the status as read now (``scheduled`` included).
    """
    after = decode_cursor(cursor)
    after_position = int(after[0]) if after else 0
    query = SqlFilter(tenant_id, after_position)
    query.where("j.tenant_id = $1 AND j.position > $2")
    _add_filters(query, where, today)
    sql = f"{_WITH_EVENT} WHERE {query.sql} ORDER BY j.position LIMIT {query.bind(limit + 1)}"
    rows = await source.fetch(sql, *query.params)
    page = rows[:limit]
    reconciled = await entry_reconciliations(source, [r["journal_id"] for r in page])
    documents = []
    for r in page:
        posted = posted_document(r["journal_id"], r["topic"], r["state"], r["position"])
        documents.append(
            current_document(
                posted,
                r["status"],
                r["reversed_by"],
                today,
                amended_by=r["amended_by"],
                reconciled=reconciled,
                notes=_notes(r, posted),
            )
        )
    next_cursor = encode_cursor([page[-1]["position"]]) if len(rows) > limit else None
    return documents, next_cursor
