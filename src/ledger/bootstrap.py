"""The composition root: builds every service object once and wires them together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg

from ledger.commands.currencies import CurrencyCommands
from ledger.commands.journals import JournalCommands
from ledger.commands.ledgers import LedgerCommands
from ledger.commands.tenants import TenantCommands
from ledger.config import Settings
from ledger.projections.books import BooksProjection
from ledger.projections.currencies import CurrenciesProjection
from ledger.projections.ledgers import LedgersProjection
from ledger.projections.tenants import TenantsProjection
from ledger.store.database import create_pool, start_embedded_postgres
from ledger.store.event_store import EventStore
from ledger.store.group_commit import GroupCommitter, InlineProjection
from ledger.store.migrations import migrate

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Services:
    """Everything a request handler or CLI command needs, built once per process."""

    settings: Settings
    database_url: str
    pool: asyncpg.Pool[Any]
    store: EventStore
    committer: GroupCommitter
    tenants: TenantCommands
    currencies: CurrencyCommands
    ledgers: LedgerCommands
    journals: JournalCommands


def inline_projections() -> list[InlineProjection]:
    """The projections written in the append's transaction, in the order they apply.

    Ledgers before books: an entry's ledger row must exist when the entry is written.
    """
    return [TenantsProjection(), CurrenciesProjection(), LedgersProjection(), BooksProjection()]


def database_url(settings: Settings) -> str:
    """The configured database URL, or the embedded server's (started if needed)."""
    if settings.database_url is not None:
        return settings.database_url
    return start_embedded_postgres(settings.data_dir)


@asynccontextmanager
async def open_services(
    settings: Settings, *, apply_migrations: bool = True
) -> AsyncIterator[Services]:
    """Connect, migrate (unless told not to), start group commit; close it all on exit."""
    url = database_url(settings)
    pool = await create_pool(url)
    try:
        if apply_migrations:
            async with pool.acquire() as conn:
                applied = await migrate(conn)
            for migration in applied:
                log.info("applied migration %04d_%s", migration.version, migration.name)
        store = EventStore(pool)
        committer = GroupCommitter(pool, mapper=store.mapper, projections=inline_projections())
        await committer.start()
        try:
            yield Services(
                settings=settings,
                database_url=url,
                pool=pool,
                store=store,
                committer=committer,
                tenants=TenantCommands(committer),
                currencies=CurrencyCommands(committer),
                ledgers=LedgerCommands(committer),
                journals=JournalCommands(committer, pool),
            )
        finally:
            await committer.stop()
    finally:
        await pool.close()
