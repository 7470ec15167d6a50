"""Immediate PostgreSQL restart (``pg_ctl restart -m immediate``) under load, several times.

Passes when no request answers a 5xx other than 503, every 503 carries Retry-After, every
acknowledged journal is stored exactly once, positions are gap-free up to the chain head,
every request got an answer (no dropped connection, no timeout), ``ledger serve`` is still
running afterwards and ``ledger audit verify`` passes.
"""

from __future__ import annotations

import asyncio

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


async def run(ctx: Context, figures: Figures) -> None:
    url = await ctx.new_database("pg_restart")
    workdir = ctx.workdir / "pg_restart"
    workdir.mkdir()
    api_key = await create_tenant(url, workdir)
    serve = Serve(url, workdir)
    await serve.start()
    load = Load(serve.base_url, api_key, figures, prefix="restart")
    try:
        await open_ledgers(serve.base_url, api_key)
        async with running(load, ctx.options.clients):
            for _ in range(ctx.options.restarts):
                await load.wait_for_more(ctx.options.burst)
                # In a thread: the clients keep sending while PostgreSQL goes down and up.
                await asyncio.to_thread(ctx.cluster.restart_immediate)
            await load.wait_for_more(ctx.options.burst)
        if figures.connection_errors:
            # The API process stays up: a fault behind it is answered (503), never a dropped
            # connection or a timeout.
            figures.fail(f"{figures.connection_errors} request(s) got no answer")
        if not serve.alive():
            figures.fail(f"ledger serve exited during the restarts:\n{serve.log_tail()}")
    finally:
        await serve.stop()
    figures.notes.append(f"PostgreSQL restarted -m immediate {ctx.options.restarts} time(s)")
    check_server_errors(figures)
    await check_acknowledged(url, load, figures)
    await check_log(url, figures)
    await check_audit(url, workdir, figures)


SCENARIO = Scenario("pg-restart", "pg_ctl restart -m immediate under load", run)
