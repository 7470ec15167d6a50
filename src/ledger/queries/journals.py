"""Journal reads: one journal's current document, its 201 answer, and filtered lists.

Documents are rendered from each journal's ``JournalPosted`` event (joined from the log by
its primary key) and the journal row's current status: see
``ledger.documents.journals``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from ledger.documents.journals import (
    current_document,
    encode_document,
    posted_document,
)
from ledger.domain.journals import JournalStatus
from ledger.queries.pagination import decode_cursor, encode_cursor
from ledger.queries.records import entry_reconciliations
from ledger.store.database import DbSource

# A journal row with its JournalPosted (always version 1 of the journal's aggregate).
_WITH_EVENT: Final = (
    "SELECT j.journal_id, j.position, j.status, j.reversed_by, j.effective_date, j.currency,"
    " e.topic, e.state FROM journals j"
    " JOIN ledger_events e ON e.originator_id = j.journal_id AND e.originator_version = 1"
)
_ONE_SQL: Final = _WITH_EVENT + " WHERE j.tenant_id = $1 AND j.journal_id = $2"


async def journal_document(
    source: DbSource, tenant_id: UUID, journal_id: UUID, today: dt.date
) -> bytes | None:
    """The journal as JSON with its current status and reconciliation, or None (unknown or
    another tenant's)."""
    row = await source.fetchrow(_ONE_SQL, tenant_id, journal_id)
    if row is None:
        return None
    return current_document(
        posted_document(journal_id, row["topic"], row["state"], row["position"]),
        row["status"],
        row["reversed_by"],
        today,
        reconciled=await entry_reconciliations(source, [journal_id]),
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


def _filter_clauses(where: JournalFilter, today: dt.date, arg: Callable[[Any], str]) -> list[str]:
    """The WHERE clauses of ``where``'s filters; ``arg`` binds a value and names its parameter."""
    clauses: list[str] = []
    if where.reference is not None:
        clauses.append(f"j.reference = {arg(where.reference)}")
    if where.external_id is not None:
        clauses.append(f"j.external_id = {arg(where.external_id)}")
    if where.date is not None:
        clauses.append(f"j.effective_date = {arg(where.date)}")
    if where.date_from is not None:
        clauses.append(f"j.effective_date >= {arg(where.date_from)}")
    if where.date_to is not None:
        clauses.append(f"j.effective_date <= {arg(where.date_to)}")
    if where.ledger_id is not None:
        clauses.append(
            f"EXISTS (SELECT 1 FROM journal_entries e WHERE e.journal_id = j.journal_id"
            f" AND e.ledger_id = {arg(where.ledger_id)})"
        )
    if where.status == "scheduled":
        clauses.append(f"j.status = 'posted' AND j.effective_date > {arg(today)}")
    elif where.status == "posted":
        clauses.append(f"j.status = 'posted' AND j.effective_date <= {arg(today)}")
    elif where.status is not None:
        clauses.append(f"j.status = {arg(where.status)}")
    return clauses


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
    args: list[Any] = [tenant_id, after_position]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    clauses = ["j.tenant_id = $1", "j.position > $2", *_filter_clauses(where, today, arg)]
    sql = (
        _WITH_EVENT
        + " WHERE "
        + " AND ".join(clauses)
        + f" ORDER BY j.position LIMIT {arg(limit + 1)}"
    )
    rows = await source.fetch(sql, *args)
    page = rows[:limit]
    reconciled = await entry_reconciliations(source, [r["journal_id"] for r in page])
    documents = [
        current_document(
            posted_document(r["journal_id"], r["topic"], r["state"], r["position"]),
            r["status"],
            r["reversed_by"],
            today,
            reconciled=reconciled,
        )
        for r in page
    ]
    next_cursor = encode_cursor([page[-1]["position"]]) if len(rows) > limit else None
    return documents, next_cursor
