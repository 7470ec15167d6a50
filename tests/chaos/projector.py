"""kill -9 of projection processes mid-work: ``ledger projections run`` and
``ledger projections rebuild``, while ``ledger serve`` (which runs the asynchronous
projections too) takes load.

Each process is killed while one of its connections is inside a transaction (seen in
``pg_stat_activity`` under an ``application_name`` of the suite's own), so a step or a
rebuild batch is cut half-way. Afterwards a rebuild runs to completion, a standalone runner
follows the log for a while, every projection's lag reaches 0 (``ledger projections
status``) and ``ledger audit verify`` (which recomputes every projection from the log and
compares) passes: nothing was lost or applied twice. Every process must have been caught
mid-transaction at least once, or the scenario proved nothing and fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Final

import asyncpg

from ledger.bench.service import ledger_command, ledger_environment
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
    run_ledger,
    running,
    with_setting,
)

# A transaction with a transaction id: it has written or locked rows (a runner's step after
# its ``FOR UPDATE`` of the tracking row, a rebuild batch), not a read or a wait for a lock.
# How long to watch a process for a transaction before giving up on catching it mid-work.
MID_WORK_SECONDS: Final = 60.0
POLL_SECONDS: Final = 0.005
CONVERGE_SECONDS: Final = 120.0
STOP_SECONDS: Final = 15.0
# Enough load for the runners to have work; more only lengthens the rebuild and the audit.
CLIENTS_MAX: Final = 2
# Small batches: more transactions per run, so a kill lands inside one.
RUN_BATCH: Final = "5"
REBUILD_BATCH: Final = "50"

_IN_TRANSACTION: Final = (
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND backend_xid IS NOT NULL"
)


async def _spawn(url: str, workdir: Path, app: str, *args: str) -> asyncio.subprocess.Process:
    env = ledger_environment(with_setting(url, "application_name", app), workdir)
    with (workdir / f"{app}.log").open("ab") as log:
        return await asyncio.create_subprocess_exec(
            *ledger_command(),
            *args,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )


async def _kill_mid_work(url: str, process: asyncio.subprocess.Process, app: str) -> str:
    """SIGKILL ``process`` as soon as a connection named ``app`` is inside a transaction;
    "mid-transaction", "finished" (it exited first) or "idle" (not caught in time)."""
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + MID_WORK_SECONDS
        state = "idle"
        while time.monotonic() < deadline and process.returncode is None:
            if await conn.fetchval(_IN_TRANSACTION, app):
                state = "mid-transaction"
                break
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await conn.close()
    if process.returncode is not None:
        return "finished"
    os.killpg(process.pid, signal.SIGKILL)
    await process.wait()
    return state


async def _kill_repeatedly(
    ctx: Context, url: str, workdir: Path, app: str, args: tuple[str, ...], figures: Figures
) -> None:
    states: dict[str, int] = {}
    for _ in range(ctx.options.process_kills):
        process = await _spawn(url, workdir, app, *args)
        state = await _kill_mid_work(url, process, app)
        states[state] = states.get(state, 0) + 1
    shown = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    figures.notes.append(f"ledger {' '.join(args[:2])} killed with SIGKILL: {shown}")
    if not states.get("mid-transaction"):
        figures.fail(f"ledger {' '.join(args[:2])} was never killed mid-transaction ({shown})")


async def _rebuild_to_end(url: str, workdir: Path, figures: Figures) -> None:
    code, out, err = await run_ledger(url, workdir, "projections", "rebuild")
    figures.notes.append(f"rebuild after the kills: exit {code} {out.strip()[:160]}")
    if code != 0:
        figures.fail(f"projections rebuild after the kills failed ({code}): {err.strip()}")


async def _converged(url: str, workdir: Path, figures: Figures) -> None:
    """Wait until every projection's lag is 0; a failure if that takes too long."""
    deadline = time.monotonic() + CONVERGE_SECONDS
    lags: dict[str, int] = {}
    while time.monotonic() < deadline:
        code, out, err = await run_ledger(url, workdir, "projections", "status")
        if code != 0:
            figures.fail(f"projections status failed ({code}): {err.strip()}")
            return
        lags = {p["name"]: p["lag"] for p in json.loads(out)["projections"]}
        if not any(lags.values()):
            figures.notes.append(f"projections converged: lag 0 for {', '.join(lags)}")
            return
        await asyncio.sleep(0.2)  # polling the lag, not ordering anything
    figures.fail(f"projections did not converge: lags {lags}")


async def _stop(process: asyncio.subprocess.Process, figures: Figures) -> None:
    if process.returncode is not None:
        figures.fail(f"ledger projections run exited by itself ({process.returncode})")
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_SECONDS)
    except TimeoutError:
        figures.fail("ledger projections run did not stop on SIGTERM")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


async def _faults(ctx: Context, url: str, workdir: Path, load: Load, figures: Figures) -> None:
    run = ("projections", "run", "--batch-events", RUN_BATCH)
    rebuild = ("projections", "rebuild", "--batch-events", REBUILD_BATCH)
    await load.wait_for_more(ctx.options.burst)
    await _kill_repeatedly(ctx, url, workdir, "chaos-projections-run", run, figures)
    await _kill_repeatedly(ctx, url, workdir, "chaos-projections-rebuild", rebuild, figures)
    await _rebuild_to_end(url, workdir, figures)
    # A standalone runner again, beside serve's, until more journals are in.
    runner = await _spawn(url, workdir, "chaos-projections-run", *run)
    await load.wait_for_more(ctx.options.burst)
    await _stop(runner, figures)


async def run(ctx: Context, figures: Figures) -> None:
    url = await ctx.new_database("projector")
    workdir = ctx.workdir / "projector"
    workdir.mkdir()
    api_key = await create_tenant(url, workdir)
    serve = Serve(url, workdir)
    await serve.start()
    load = Load(serve.base_url, api_key, figures, prefix="projector")
    try:
        await open_ledgers(serve.base_url, api_key)
        async with running(load, min(ctx.options.clients, CLIENTS_MAX)):
            await _faults(ctx, url, workdir, load, figures)
        await _converged(url, workdir, figures)
    finally:
        await serve.stop()
    check_server_errors(figures)
    await check_acknowledged(url, load, figures)
    await check_log(url, figures)
    await check_audit(url, workdir, figures)


SCENARIO = Scenario("projector", "kill -9 of projections run / rebuild mid-work", run)
