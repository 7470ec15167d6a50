"""A statement timeout on the append: ``ledger serve`` with a short ``statement_timeout``
while another connection holds ``LOCK TABLE ledger_events``.

The service runs with ``LEDGER_STATEMENT_TIMEOUT_SECONDS`` at :data:`TIMEOUT_SECONDS`: its
pool sets ``statement_timeout`` on each connection it opens (``create_pool``), and a setting
sent at connection start wins over a role's, so without it the pool's default (30 s) would
apply and each request under the lock would wait that long. The service also connects as a
role of the suite's own whose ``statement_timeout`` is the same in this database
(``ALTER ROLE … IN DATABASE … SET``), so a connection of the service's outside the pool
times out too; every other connection is left alone. Passes when, while the lock is held, every
``POST /v1/journals`` answers 503 with Retry-After (no other status); once the lock is
released, nothing of those requests was written (no journal, no event, the chain head
unmoved), each one posted again with the same ``Idempotency-Key`` is created (201, not a
replay), and the log checks and ``ledger audit verify`` pass.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

import asyncpg
import httpx

from tests.chaos.harness import (
    HTTP_TIMEOUT_SECONDS,
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
    error_code,
    journal_body,
    open_ledgers,
    with_database,
)

DATABASE: Final = "statement_timeout"
ROLE: Final = "chaos_timeout"
TIMEOUT_SECONDS: Final = 0.5
TIMEOUT: Final = f"{round(TIMEOUT_SECONDS * 1000)}ms"
# Journals posted before the lock, during it (each must be refused) and after it.
BEFORE: Final = 5
DURING: Final = 8


async def _create_role(admin_url: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", ROLE)
        if not exists:
            await conn.execute(f"CREATE ROLE {ROLE} LOGIN SUPERUSER")
        await conn.execute(
            f"ALTER ROLE {ROLE} IN DATABASE {DATABASE} SET statement_timeout = '{TIMEOUT}'"
        )
    finally:
        await conn.close()


async def _post(
    http: httpx.AsyncClient, api_key: str, key: str, figures: Figures
) -> httpx.Response | None:
    """One attempt, no retry; None on a connection error (counted)."""
    headers = {"X-API-KEY": api_key, "Idempotency-Key": key}
    try:
        answer = await http.post("/v1/journals", json=journal_body(key, 7), headers=headers)
    except httpx.TransportError:
        figures.connection_errors += 1
        return None
    figures.count_answer(answer.status_code, error_code(answer), answer.headers.get("Retry-After"))
    return answer


async def _expect_created(
    http: httpx.AsyncClient, load: Load, keys: list[str], figures: Figures, when: str
) -> None:
    for key in keys:
        answer = await _post(http, load.headers["X-API-KEY"], key, figures)
        if answer is None or answer.status_code != 201:
            got = "a connection error" if answer is None else f"{answer.status_code} {answer.text}"
            figures.fail(f"{when}: {key} answered {got}, not 201")
            continue
        load.acked[key] = str(answer.json()["id"])
        figures.acknowledged += 1


async def _under_lock(
    url: str, http: httpx.AsyncClient, load: Load, keys: list[str], figures: Figures
) -> None:
    """Hold the lock, post ``keys`` at once, release; every answer must be 503 + Retry-After."""
    conn = await asyncpg.connect(url)
    try:
        head = await conn.fetchval("SELECT position FROM ledger_chain_head")
        async with conn.transaction():
            await conn.execute("LOCK TABLE ledger_events")
            started = time.monotonic()
            answers = await asyncio.gather(
                *(_post(http, load.headers["X-API-KEY"], k, figures) for k in keys)
            )
            # A figure, not a rule: about TIMEOUT_SECONDS shows the service's setting applied.
            waited = time.monotonic() - started
        refused = sum(1 for a in answers if a is not None and a.status_code == 503)
        figures.notes.append(
            f"under the lock: {refused} of {len(keys)} POSTs answered 503 (all within"
            f" {waited:.1f} s)"
        )
        for key, answer in zip(keys, answers, strict=True):
            if answer is None or answer.status_code != 503:
                got = "a connection error" if answer is None else answer.status_code
                figures.fail(f"under the lock {key} answered {got}, not 503")
        written = await conn.fetchval(
            "SELECT count(*) FROM journals WHERE reference = ANY($1::text[])", keys
        )
        moved = await conn.fetchval("SELECT position FROM ledger_chain_head")
    finally:
        await conn.close()
    figures.notes.append(
        f"after the lock: {written} refused journal(s) stored, head {head}->{moved}"
    )
    if written or moved != head:
        figures.fail(f"half-written: {written} journal(s) stored, chain head {head} -> {moved}")


async def run(ctx: Context, figures: Figures) -> None:
    url = await ctx.new_database(DATABASE)
    workdir = ctx.workdir / "statement_timeout"
    workdir.mkdir()
    api_key = await create_tenant(url, workdir)
    await _create_role(url)
    serve = Serve(
        with_database(url, DATABASE, user=ROLE),
        workdir,
        env={"LEDGER_STATEMENT_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS)},
    )
    await serve.start()
    load = Load(serve.base_url, api_key, figures, prefix="timeout")
    try:
        await open_ledgers(serve.base_url, api_key)
        async with httpx.AsyncClient(base_url=serve.base_url, timeout=HTTP_TIMEOUT_SECONDS) as http:
            before = [f"timeout-before-{n}" for n in range(BEFORE)]
            await _expect_created(http, load, before, figures, "before the lock")
            during = [f"timeout-during-{n}" for n in range(DURING)]
            await _under_lock(url, http, load, during, figures)
            await _expect_created(http, load, during, figures, "retried after the lock")
            after = [f"timeout-after-{n}" for n in range(BEFORE)]
            await _expect_created(http, load, after, figures, "after the lock")
    finally:
        await serve.stop()
    figures.notes.append(
        f"statement_timeout {TIMEOUT} (LEDGER_STATEMENT_TIMEOUT_SECONDS={TIMEOUT_SECONDS:g},"
        f" role {ROLE}), LOCK TABLE ledger_events"
    )
    check_server_errors(figures)
    await check_acknowledged(url, load, figures)
    await check_log(url, figures)
    await check_audit(url, workdir, figures)


SCENARIO = Scenario(
    "statement-timeout", "statement timeout on the append (LOCK TABLE ledger_events)", run
)
