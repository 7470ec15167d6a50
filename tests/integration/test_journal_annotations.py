"""Annotating journals through group commit: ordered with the batch's other changes of the
same journal (versions), notes kept in the journal row, nothing written on refusal."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import msgspec
import pytest

from ledger.bootstrap import Services
from ledger.commands.journals import (
    AnnotateJournal,
    AnnotateJournalHandler,
    ChangeJournalStatus,
    ChangeJournalStatusHandler,
    PostJournalHandler,
    ReverseJournal,
    ReverseJournalHandler,
)
from ledger.domain.annotations import NotesPatch
from ledger.errors import NotFound
from ledger.store.group_commit import Batch, Decision
from tests.integration.test_journals import books, tenant, transfer

__all__ = ["books"]  # the fixture, shared with the journal tests


async def _post(services: Services, books: UUID, **fields: object) -> UUID:
    posted = await services.journals.post(transfer(books, "bank", "revenue", 70, **fields))
    return UUID(msgspec.json.decode(posted.document)["id"])


def _note(books: UUID, journal_id: UUID, text: str) -> AnnotateJournal:
    return AnnotateJournal(
        tenant_id=books, journal_id=journal_id, patch=NotesPatch(description=text)
    )


async def test_annotations_commits_and_reversals_of_one_batch_take_consecutive_versions(
    services: Services, books: UUID
) -> None:
    pending = await _post(services, books, status="pending")
    posted = await _post(services, books)
    annotate = AnnotateJournalHandler()
    settle = ChangeJournalStatusHandler()
    reverse = ReverseJournalHandler(PostJournalHandler())
    commit = ChangeJournalStatus(tenant_id=books, journal_id=pending, action="commit")
    reversal = ReverseJournal(tenant_id=books, journal_id=posted)
    notes = [_note(books, j, f"n{i}") for i, j in enumerate((pending, pending, posted, posted))]
    async with services.pool.acquire() as conn, conn.transaction():
        batch = Batch(conn)
        await annotate.load(batch, notes)
        await settle.load(batch, [commit])
        await reverse.load(batch, [reversal])
        decided: list[Decision[Any]] = [
            annotate.decide(batch, notes[0]),
            settle.decide(batch, commit),
            annotate.decide(batch, notes[1]),
            annotate.decide(batch, notes[2]),
            reverse.decide(batch, reversal),
            annotate.decide(batch, notes[3]),
        ]
    versions = [
        (e.originator_id, e.originator_version, type(e).__name__)
        for d in decided
        for e in d.events
        if e.originator_id in (pending, posted)
    ]
    assert versions == [
        (pending, 2, "JournalAnnotated"),
        (pending, 3, "JournalCommitted"),
        (pending, 4, "JournalAnnotated"),
        (posted, 2, "JournalAnnotated"),
        (posted, 3, "JournalReversed"),
        (posted, 4, "JournalAnnotated"),
    ]


async def test_concurrent_annotations_and_a_commit_all_apply(
    services: Services, books: UUID
) -> None:
    pending = await _post(services, books, status="pending", reference="r0")
    annotations = [
        services.journals.annotate(
            AnnotateJournal(
                tenant_id=books,
                journal_id=pending,
                patch=NotesPatch(reference=f"r{i}", metadata={str(i): i}),
            )
        )
        for i in range(1, 21)
    ]
    *positions, _ = await asyncio.gather(
        *annotations, services.journals.change_status(books, pending, "commit")
    )
    assert all(p is not None for p in positions)
    row = await services.pool.fetchrow(
        "SELECT status, version, reference, metadata FROM journals WHERE journal_id = $1", pending
    )
    assert row is not None
    assert (row["status"], row["version"]) == ("posted", 22)
    last = max(range(20), key=lambda i: positions[i] or 0)
    assert row["reference"] == f"r{last + 1}"
    assert msgspec.json.decode(row["metadata"]) == {str(i): i for i in range(1, 21)}


async def test_another_tenants_journal_is_not_found_and_nothing_is_written(
    services: Services, books: UUID
) -> None:
    journal_id = await _post(services, books)
    other = await tenant(services, "other")
    before = await services.store.max_position()
    with pytest.raises(NotFound) as caught:
        await services.journals.annotate(_note(other, journal_id, "theirs"))
    assert caught.value.details == {"journal_id": str(journal_id)}
    assert await services.store.max_position() == before
