"""The composition root: builds every service object once and wires them together.

Besides the pool, the event store and group commit, every process that opens services
keeps a :class:`~ledger.projections.tracking.PositionTracker` fed by a
:class:`~ledger.projections.tracking.LogListener` (read-your-writes, ``Ledger-Position``)
and, unless told otherwise, runs the asynchronous projections in-process
(:class:`~ledger.projections.runner.ProjectionRunner`). Running them in another process as
well (``ledger projections run``) is safe: each step locks its tracking row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg

from ledger import limits
from ledger.commands.currencies import CurrencyCommands
from ledger.commands.journals import JournalCommands
from ledger.commands.ledgers import LedgerCommands
from ledger.commands.reconciliation_service import ReconciliationCommands
from ledger.commands.records import RecordCommands
from ledger.commands.tenants import TenantCommands
from ledger.config import Settings
from ledger.projections.books import BooksProjection
from ledger.projections.currencies import CurrenciesProjection
from ledger.projections.ledgers import LedgersProjection
from ledger.projections.records import RecordsProjection
from ledger.projections.runner import ProjectionRunner
from ledger.projections.tenants import TenantsProjection
from ledger.projections.tracking import LogListener, PositionTracker
from ledger.projections.trial_balance import TrialBalanceProjection
from ledger.queries.tenants import ApiKeyCache
from ledger.store.database import create_pool, wait_for_database
from ledger.store.embedded import start_embedded_postgres
from ledger.store.event_store import EventStore
from ledger.store.group_commit import (
    CommandHandler,
    Committed,
    GroupCommitter,
    InlineProjection,
)
from ledger.store.migrations import migrate

log = logging.getLogger(__name__)


C = TypeVar("C")
R = TypeVar("R")


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
    records: RecordCommands
    reconciliation: ReconciliationCommands
    # What the read models have reached (read-your-writes; ``ledger.api.positions``).
    tracker: PositionTracker
    # The in-process asynchronous projection runner (None when not running here).
    runner: ProjectionRunner | None = None
    # API keys this process authenticated recently (``ledger.api.auth``).
    api_keys: ApiKeyCache = field(default_factory=ApiKeyCache)


class TrackingCommitter(GroupCommitter):
    """Group commit that tells the position tracker about every position it committed, and
    whose tenant's event it is.

    The tracker learns it before the command's caller does, so a read that follows a write
    in this process never waits for the notification to come back from the database.
    """

    def __init__(self, pool: asyncpg.Pool[Any], *, tracker: PositionTracker, **kwargs: Any):
        super().__init__(pool, **kwargs)
        self.tracker = tracker

    async def submit(self, handler: CommandHandler[C, R], command: C) -> Committed[R]:
        committed = await super().submit(handler, command)
        if committed.positions:
            # Commit order is position order: everything up to here is committed too.
            self.tracker.tenants.learn(committed.tenant_id, committed.positions)
            self.tracker.advance_log(max(committed.positions))
        return committed


def inline_projections() -> list[InlineProjection]:
    """The projections written in the append's transaction, in the order they apply.

    Ledgers before books: an entry's ledger row must exist when the entry is written.
    """
    return [
        TenantsProjection(),
        CurrenciesProjection(),
        LedgersProjection(),
        BooksProjection(),
        RecordsProjection(),
    ]


def async_projections() -> list[InlineProjection]:
    """The projections the runner writes after the fact (each has a ``ledger_tracking`` row)."""
    return [TrialBalanceProjection()]


def all_projections() -> list[InlineProjection]:
    """Every projection, inline first (rebuild, audit and ``projections status`` use this)."""
    return [*inline_projections(), *async_projections()]


def database_url(settings: Settings) -> str:
    """The configured database URL, or the embedded server's (started if needed)."""
    if settings.database_url is not None:
        return settings.database_url
    return start_embedded_postgres(settings.data_dir)


async def _migrate(pool: asyncpg.Pool[Any]) -> None:
    """Apply the migrations not yet applied, logging each."""
    async with pool.acquire() as conn:
        applied = await migrate(conn)
    for migration in applied:
        log.info("applied migration %04d_%s", migration.version, migration.name)


async def _close_pool(pool: asyncpg.Pool[Any]) -> None:
    """Close the pool, terminating what is still in use after ``limits.POOL_CLOSE_SECONDS``."""
    # Bounded: a connection someone never released must not hang shutdown forever.
    try:
        await asyncio.wait_for(pool.close(), timeout=limits.POOL_CLOSE_SECONDS)
    except TimeoutError:
        log.warning(
            "connections still in use after %s s; terminating them", limits.POOL_CLOSE_SECONDS
        )
        pool.terminate()


@asynccontextmanager
async def open_services(
    settings: Settings, *, apply_migrations: bool = True, run_projections: bool = True
) -> AsyncIterator[Services]:
    """Connect, migrate (unless told not to), start the position listener, group commit and
    (with ``run_projections``) the asynchronous projection runner; close it all on exit.
    Raises ``DatabaseUnavailable`` when the database cannot be opened (``wait_for_database``).
    """
    url = database_url(settings)
    # An unreachable database is retried for a while, then one line (DatabaseUnavailable).
    await wait_for_database(url, within=settings.database_connect_timeout)
    pool = await create_pool(url, statement_timeout_seconds=settings.statement_timeout_seconds)
    try:
        if apply_migrations:
            await _migrate(pool)
        store = EventStore(pool)
        tracker = PositionTracker()
        listener = LogListener(url, tracker)
        await listener.start()
        try:
            api_keys = ApiKeyCache()
            committer = TrackingCommitter(
                pool,
                tracker=tracker,
                mapper=store.mapper,
                projections=inline_projections(),
                on_revoked=api_keys.evict,
            )
            await committer.start()
            runner = None
            if run_projections:
                runner = ProjectionRunner(
                    pool, async_projections(), tracker=tracker, mapper=store.mapper
                )
                await runner.start()
            try:
                yield Services(
                    settings=settings,
                    database_url=url,
                    pool=pool,
                    store=store,
                    committer=committer,
                    tenants=TenantCommands(committer, on_revoked=api_keys.evict),
                    currencies=CurrencyCommands(committer),
                    ledgers=LedgerCommands(committer),
                    journals=JournalCommands(committer, pool),
                    records=RecordCommands(committer, pool),
                    reconciliation=ReconciliationCommands(committer, pool),
                    tracker=tracker,
                    runner=runner,
                    api_keys=api_keys,
                )
            finally:
                if runner is not None:
                    await runner.stop()
                await committer.stop()
        finally:
            await listener.stop()
    finally:
        await _close_pool(pool)
