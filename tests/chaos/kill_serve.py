"""kill -9 of ``ledger serve`` under load, several times.

Clients retry connection errors and 503s with the same ``Idempotency-Key``. Passes when every
acknowledged journal is stored exactly once (with the id the client was told), no key is
stored twice, positions are gap-free up to the chain head, no 5xx other than 503 (each with
Retry-After) and ``ledger audit verify`` passes.
"""

from __future__ import annotations

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
    url = await ctx.new_database("kill_serve")
    workdir = ctx.workdir / "kill_serve"
    workdir.mkdir()
    api_key = await create_tenant(url, workdir)
    serve = Serve(url, workdir)
    await serve.start()
    load = Load(serve.base_url, api_key, figures, prefix="kill")
    try:
        await open_ledgers(serve.base_url, api_key)
        async with running(load, ctx.options.clients):
            for _ in range(ctx.options.kills):
                await load.wait_for_more(ctx.options.burst)
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
