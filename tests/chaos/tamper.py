"""Log truncation and a single-row tamper, caught by ``ledger audit verify``.

On a database with a few hundred journals (posted through ``ledger serve``): verify passes
on it; on one copy (``CREATE DATABASE … TEMPLATE``) an API key is created and then its event
(the newest) and its ``api_keys`` row are deleted, and verify must exit 1 saying the newest
event(s) were removed; on two more copies one byte of one
event's ``state`` is changed (the event still decodes; it no longer does), and verify must
exit 1 naming that event's position.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final
from uuid import UUID

import asyncpg

from tests.chaos.harness import (
    TENANT,
    Context,
    Figures,
    Load,
    Scenario,
    Serve,
    audit_verify,
    check_acknowledged,
    check_audit,
    check_log,
    check_server_errors,
    create_tenant,
    open_ledgers,
    run_ledger,
    running,
)

SOURCE: Final = "tamper_source"


async def _source(ctx: Context, workdir: Path, figures: Figures) -> str:
    url = await ctx.new_database(SOURCE)
    api_key = await create_tenant(url, workdir)
    serve = Serve(url, workdir)
    await serve.start()
    load = Load(serve.base_url, api_key, figures, prefix="tamper")
    try:
        await open_ledgers(serve.base_url, api_key)
        async with running(load, ctx.options.clients):
            await load.wait_for_more(ctx.options.burst)
    finally:
        await serve.stop()
    check_server_errors(figures)
    await check_acknowledged(url, load, figures)
    await check_log(url, figures)
    return url


async def _execute(url: str, sql: str) -> int:
    """Run ``sql`` (returning one position) on ``url``; the position."""
    conn = await asyncpg.connect(url)
    try:
        position: int = await conn.fetchval(sql)
    finally:
        await conn.close()
    return position


async def _truncated(ctx: Context, workdir: Path, figures: Figures) -> None:
    """Issue 12's reproduction: ``ledger key create``, then delete its event (the newest) and
    the ``api_keys`` row it produced, so every projection still matches the log; only the
    chain head tells."""
    url = await ctx.new_database("tamper_truncated", template=SOURCE)
    code, out, err = await run_ledger(url, workdir, "key", "create", TENANT)
    if code != 0:
        figures.fail(f"ledger key create failed ({code}): {err}")
        return
    key_id = json.loads(out)["key_id"]
    conn = await asyncpg.connect(url)
    try:
        last = await conn.fetchval(
            "DELETE FROM ledger_events WHERE notification_id ="
            " (SELECT max(notification_id) FROM ledger_events) RETURNING notification_id"
        )
        await conn.execute("DELETE FROM api_keys WHERE key_id = $1", UUID(key_id))
    finally:
        await conn.close()
    code, report = await audit_verify(url, workdir)
    figures.notes.append(
        f"newest event ({last}, a key) and its api_keys row deleted: exit {code}:"
        f" {_finding(report)}"
    )
    expected = f"the log ends at position {last - 1} but its chain head records position {last}"
    if code != 1 or expected not in report or "removed" not in report:
        figures.fail(f"truncation not reported (exit {code}, wanted '{expected}'):\n{report}")


# Events are JSON that starts {"timestamp":"2026-01-02T03:04:05.678901Z", ...: byte 39 is the
# last digit of the microseconds (the event still decodes, to a different time); byte 3 is in
# the key "timestamp" (the event no longer decodes). Either way the row no longer matches its
# hash and verify must say where, not crash.
TAMPERS: Final = (
    ("a digit of its timestamp", 39, "CASE WHEN get_byte(state, 39) = 48 THEN 49 ELSE 48 END"),
    ("a letter of a key", 3, "get_byte(state, 3) + 1"),
)


async def _tampered(
    ctx: Context, workdir: Path, figures: Figures, what: str, offset: int, value: str
) -> None:
    url = await ctx.new_database(f"tamper_byte_{offset}", template=SOURCE)
    position = await _execute(
        url,
        f"UPDATE ledger_events SET state = set_byte(state, {offset}, {value})"
        " WHERE notification_id = (SELECT max(notification_id) / 2 FROM ledger_events)"
        " RETURNING notification_id",
    )
    code, report = await audit_verify(url, workdir)
    figures.notes.append(f"{what} changed at position {position}: exit {code}: {_finding(report)}")
    expected = f"the hash chain breaks at position {position}"
    if code != 1 or expected not in report:
        shown = _finding(report) if report.startswith("Traceback") else report
        figures.fail(
            f"{what} changed at position {position} not reported (exit {code}, wanted"
            f" '{expected}'): {shown}"
        )


def _finding(report: str) -> str:
    """The report's first finding, or the last line of a traceback."""
    lines = report.splitlines() or ["(no output)"]
    if lines[0].startswith("Traceback"):
        return f"crashed: {lines[-1]}"
    return lines[1].strip() if len(lines) > 1 else lines[0]


async def run(ctx: Context, figures: Figures) -> None:
    workdir = ctx.workdir / "tamper"
    workdir.mkdir()
    url = await _source(ctx, workdir, figures)
    await check_audit(url, workdir, figures)
    await _truncated(ctx, workdir, figures)
    for what, offset, value in TAMPERS:
        await _tampered(ctx, workdir, figures, what, offset, value)


SCENARIO = Scenario("tamper", "log truncation and a one-byte tamper vs audit verify", run)
