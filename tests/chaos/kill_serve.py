"""kill -9 of ``ledger serve`` under load, several times.

Half the kills land just after an answer reached a client; the other half the moment an
append commits (its ``NOTIFY ledger_events`` arrives here), while the service is likely still
answering: the client then hears nothing of a stored journal, retries with the same key and
must get the journal back (a 200 replay), not a second one.

Clients retry connection errors and 503s with the same ``Idempotency-Key``. Passes when every
acknowledged journal is stored exactly once (with the id the client was told), no key is
stored twice, positions are gap-free up to the chain head, no 5xx other than 503 (each with
Retry-After) and ``ledger audit verify`` passes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Final

import asyncpg

from tests.chaos.harness import (
    Context,
    Figures,
    Load,
    Scenario,
    Serve,
    check_acknowledged,
    check_audit,
    check_log,
    check_server_errors,
    create_tenant,
    open_ledgers,
    running,
)

# The channel every append notifies (ledger.projections.tracking.LOG_CHANNEL), and how long
# to wait for a commit before killing anyway.
LOG_CHANNEL: Final = "ledger_events"
COMMIT_SECONDS: Final = 60.0


class Commits:
    """Set :attr:`seen` on every committed append (LISTEN on the log's channel)."""

    def __init__(self) -> None:
        self.seen = asyncio.Event()

    def notified(self, *_args: Any) -> None:
        self.seen.set()

    async def next(self) -> None:
        self.seen.clear()
        await asyncio.wait_for(self.seen.wait(), COMMIT_SECONDS)


@contextlib.asynccontextmanager
async def listening(url: str) -> AsyncIterator[Commits]:
    commits = Commits()
    conn = await asyncpg.connect(url)
    try:
        await conn.add_listener(LOG_CHANNEL, commits.notified)
        yield commits
    finally:
        await conn.close()


async def run(ctx: Context, figures: Figures) -> None:
    url = await ctx.new_database("kill_serve")
    workdir = ctx.workdir / "kill_serve"
    workdir.mkdir()
    api_key = await create_tenant(url, workdir)
    serve = Serve(url, workdir)
    await serve.start()
    load = Load(serve.base_url, api_key, figures, prefix="kill")
    try:
        await open_ledgers(serve.base_url, api_key)
        async with running(load, ctx.options.clients), listening(url) as commits:
            for kill in range(ctx.options.kills):
                await load.wait_for_more(ctx.options.burst)
                if kill % 2:
                    await commits.next()
                await serve.kill9()
                await serve.start()
            await load.wait_for_more(ctx.options.burst)
    finally:
        await serve.stop()
    figures.notes.append(f"ledger serve killed with SIGKILL {serve.starts - 1} time(s)")
    await check_acknowledged(url, load, figures)
    check_server_errors(figures)
    await check_log(url, figures)
    await check_audit(url, workdir, figures)


SCENARIO = Scenario("kill-serve", "kill -9 of ledger serve under load", run)
