"""Helpers for the projection, rebuild and audit tests: a small set of books, and a fresh
replay of the whole log compared with the live tables."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import asyncpg
import msgspec

from ledger.bootstrap import Services, all_projections
from ledger.commands.journals import (
    AmendJournal,
    AnnotateJournal,
    EntryInput,
    PostJournal,
    reverse_journal,
)
from ledger.domain.annotations import NotesPatch
from ledger.domain.journals import PendingAction, PostingStatus
from ledger.projections.replay import differing_tables, projected_tables, replay_log
from ledger.queries.ledgers import LedgerRef
from ledger.store.migrations import migrate
from tests.store_helpers import create_database, drop_database, scratch_database_name, with_database

BASE_DATE = dt.date(2026, 6, 1)
# How long a test waits for the projection runner to reach a position: a hang guard, not a
# measure, so generous enough for the most loaded machine (a reached position returns at once).
REACH_WAIT_SECONDS = 120.0


@dataclass(frozen=True)
class Books:
    tenant_id: UUID
    ledgers: list[UUID]


async def open_books(services: Services, slug: str = "acme", ledgers: int = 4) -> Books:
    await services.tenants.create_tenant(slug, "USD")
    tenant_id: UUID = await services.pool.fetchval(
        "SELECT tenant_id FROM tenants WHERE slug = $1", slug
    )
    kinds = ("asset", "income", "expense", "liability", "equity")
    ids = []
    for i in range(ledgers):
        opened = await services.ledgers.open_ledger(
            tenant_id, code=f"l{i}", name=f"Ledger {i}", type=kinds[i % len(kinds)]
        )
        ids.append(opened.ledger_id)
    return Books(tenant_id, ids)


async def post(
    services: Services,
    books: Books,
    debit: int,
    credit: int,
    amount: int,
    *,
    status: PostingStatus = "posted",
    day: dt.date = BASE_DATE,
) -> tuple[UUID, int]:
    """Post a two-entry journal; return its id and position."""
    posted = await services.journals.post(
        posting(books, debit, credit, amount, status=status, day=day)
    )
    return UUID(msgspec.json.decode(posted.document)["id"]), posted.position


def posting(
    books: Books,
    debit: int,
    credit: int,
    amount: int,
    *,
    status: PostingStatus = "posted",
    day: dt.date = BASE_DATE,
    amends: UUID | None = None,
) -> PostJournal:
    return PostJournal(
        tenant_id=books.tenant_id,
        base_currency="USD",
        date=day,
        status=status,
        entries=(
            EntryInput(ref=LedgerRef.by_id(books.ledgers[debit]), direction="debit", amount=amount),
            EntryInput(
                ref=LedgerRef.by_id(books.ledgers[credit]), direction="credit", amount=amount
            ),
        ),
        request_sha256=uuid.uuid4().bytes * 2,
        amends=amends,
    )


async def random_activity(services: Services, books: Books, rng: random.Random) -> int:
    """One random journal, possibly pending then committed or voided, or reversed, or
    amended (reversed and posted again with other amounts), some annotated; returns the last
    position written."""
    n = len(books.ledgers)
    debit, credit = rng.sample(range(n), 2)
    status: PostingStatus = rng.choice(["posted", "posted", "pending"])
    day = BASE_DATE + dt.timedelta(days=rng.randrange(-3, 4))
    journal_id, position = await post(
        services, books, debit, credit, rng.randrange(1, 10_000), status=status, day=day
    )
    then = rng.random()
    if status == "pending" and then < 0.8:
        action: PendingAction = "commit" if then < 0.5 else "void"
        position = await services.journals.change_status(books.tenant_id, journal_id, action)
    elif status == "posted" and then < 0.15:
        reversed_ = await reverse_journal(
            services.journals, services.pool, books.tenant_id, journal_id, None, None
        )
        position = reversed_.position
    elif status == "posted" and then < 0.3:
        amended = await services.journals.amend(
            AmendJournal(
                tenant_id=books.tenant_id,
                journal_id=journal_id,
                replacement=posting(
                    books, debit, credit, rng.randrange(1, 10_000), day=day, amends=journal_id
                ),
            )
        )
        position = amended.position
    # Annotated (notes only), without drawing from ``rng``: the activity stays as it was.
    if then >= 0.9 or (status == "posted" and 0.15 <= then < 0.3):
        annotated = await services.journals.annotate(
            AnnotateJournal(
                tenant_id=books.tenant_id,
                journal_id=journal_id,
                patch=NotesPatch(reference=f"note-{position}", metadata={"after": position}),
            )
        )
        assert annotated is not None
        position = annotated
    return position


async def fresh_replay_differences(
    services: Services, server_url: str
) -> dict[str, tuple[int, int]]:
    """Replay the whole log into every projection in a new database; the tables whose rows
    differ from the live ones (name -> (live rows, replayed rows))."""
    name = scratch_database_name("ledger_replay")
    await create_database(server_url, name)
    try:
        target = await asyncpg.connect(with_database(server_url, name))
        try:
            await migrate(target)
            projections = all_projections()
            await replay_log(services.store, target, projections)
            async with services.pool.acquire() as live:
                return await differing_tables(live, target, projected_tables(projections))
        finally:
            await target.close()
    finally:
        await drop_database(server_url, name)


async def run_cli_async(database_url: str, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """``ledger ARGS`` in a subprocess without blocking this event loop (so the in-process
    projection runner and listener of the test's services keep running meanwhile)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ledger.cli",
        *args,
        env={**os.environ, "LEDGER_DATABASE_URL": database_url, "LEDGER_DATA_DIR": str(tmp_path)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()
