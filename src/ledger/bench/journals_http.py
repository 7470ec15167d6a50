"""Scenario ``journals_http``: single journal posts over HTTP (W1, W2, W4) against a minimal app.

All in one run, on the run's PostgreSQL, through the service's CLI and HTTP API only:

Setup
    ``ledger tenant create`` (base USD), then ``ledger serve`` (:data:`SERVER_WORKERS`
    processes) and :data:`LEDGER_COUNT` asset ledgers ``L00001`` ... opened with
    ``POST /v1/ledgers`` (``setup_s``).
``w1_service`` (W1)
    :data:`CONNECTIONS` keep-alive connections posting 2-entry journals back to back
    (:func:`ledger.bench.load.closed_loop`: wrk, else Python clients): debit one random
    ledger, credit another, by ``ledger_code``. Only 201s count; anything else fails the run.
``w2_hot`` (W2)
    The same, but every journal credits one of the :data:`HOT_LEDGER_COUNT` first ledgers:
    concurrent journals contend for the same balance rows.
``w4_open_loop`` (W4)
    Open loop at :data:`W4_RATE_FRACTION` of W1's measured rate (a fixed schedule; latency
    from the scheduled send time, so a stall is not hidden): p50/p99 at a load the service
    should carry comfortably.
``w1_minimal`` (W1's baseline)
    After the service has stopped: the same load as ``w1_service`` against
    :mod:`ledger.bench.minimal_app` (a Litestar + msgspec app writing the journal as one SQL
    statement: event row, postings, balance upserts), same PostgreSQL, same number of server
    processes, its own tables (schema ``bench_minimal``) with the same ledger codes.

Checks: W1 = ``w1_service / w1_minimal`` >= 0.8; W2 = ``w2_hot / w1_service`` >= 0.8; W4 p99
<= 25 ms. And the counts: a journal posted after the loads must carry a number (``JE-…``,
gap-free per tenant) above the 201s counted, and ``bench_minimal.events`` must hold at least
as many rows as the minimal app's 201s.

History: until issue 8 this scenario compared the service with SQL baselines that wrote the
books projection's own statements one transaction per journal (``sql_baseline``,
``sql_no_counter``, ``sql_append_events``). The last one failed every run with
``UniqueViolationError … ledger_events_notification_id_idx``: the first two inserted their
event rows through the table's ``bigserial`` (positions 1, 2, …) while
``ledger_append_events`` numbers rows from ``ledger_chain_head``, which those inserts never
advanced, so its first append reused position 1. Those baselines are gone, not fixed:
W1's minimal app supersedes them (the same journal from a client's point of view, HTTP
included), and they imported the books projection's private SQL, which breaks whenever the
projection changes.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Final
from uuid import UUID

import asyncpg
import msgspec

from ledger.bench import minimal_app
from ledger.bench.http import HttpConnection, api_key_header, expect
from ledger.bench.load import (
    CLIENT_PROCESSES,
    Load,
    Mix,
    Target,
    closed_loop,
    ledger_code,
    open_loop,
    wrk_path,
)
from ledger.bench.registry import BenchContext, Bound, Ratio, ResultRow, register
from ledger.bench.service import (
    SERVER_HOST,
    SERVER_WORKERS,
    LedgerSpec,
    create_tenant,
    free_port,
    ledger_serve,
    open_ledgers,
    progress,
    serving,
)

CONNECTIONS: Final = 32
LEDGER_COUNT: Final = 1_000
TINY_LEDGER_COUNT: Final = 20
HOT_LEDGER_COUNT: Final = 2
W4_RATE_FRACTION: Final = 0.5
W1_RATIO_TARGET: Final = 0.8
W2_RATIO_TARGET: Final = 0.8
W4_P99_MS_MAX: Final = 25.0
BASE_CURRENCY: Final = "USD"
_UNIT: Final = "journals/s"
_TENANT_SLUG: Final = "bench-journals"
_NAME: Final = "journals_http"


class _Posted(msgspec.Struct):
    number: str


def _row(key: str, label: str, load: Load, concurrency: int, **extra: float) -> ResultRow:
    return ResultRow(
        key=key,
        label=f"{label} ({load.generator})",
        unit=_UNIT,
        concurrency=concurrency,
        operations=load.ok,
        seconds=load.seconds,
        p50_ms=load.p50_ms,
        p99_ms=load.p99_ms,
        extra={**load.extra, **extra},
    )


async def _journal_number(target: Target, ledgers: int) -> int:
    """Post one more journal; its number (``JE-000123`` → 123)."""
    conn = await HttpConnection.open(target.host, target.port)
    try:
        body = (
            b'{"date":"%s","reference":"count-probe","entries":['
            b'{"ledger_code":"%s","direction":"debit","amount":1},'
            b'{"ledger_code":"%s","direction":"credit","amount":1}]}'
            % (
                dt.date.today().isoformat().encode(),
                ledger_code(1).encode(),
                ledger_code(ledgers).encode(),
            )
        )
        answer = await conn.request(
            "POST", "/v1/journals", body=body, headers=api_key_header(target.api_key)
        )
    finally:
        await conn.close()
    number = msgspec.json.decode(expect(answer, 201, "count probe"), type=_Posted).number
    return int(number.removeprefix("JE-"))


class _Loads:
    """The run's load settings: the same for the service and the minimal app."""

    def __init__(self, ctx: BenchContext, ledgers: int, workdir: Path) -> None:
        self.ctx = ctx
        self.ledgers = ledgers
        self.workdir = workdir
        # The smallest runs use no wrk and no client processes: fast, and nothing to install.
        self.wrk = None if ctx.tiny else wrk_path()
        self.processes = 0 if ctx.tiny else CLIENT_PROCESSES
        self.date = dt.date.today().isoformat()

    def mix(self, hot: bool) -> Mix:
        return Mix(self.ledgers, HOT_LEDGER_COUNT if hot else None, self.date)

    async def closed(self, target: Target, hot: bool, what: str) -> Load:
        progress(_NAME, what)
        load = await closed_loop(
            target,
            self.mix(hot),
            connections=CONNECTIONS,
            warmup_seconds=self.ctx.warmup_seconds,
            duration_seconds=self.ctx.duration_seconds,
            wrk=self.wrk,
            workdir=self.workdir,
            processes=self.processes,
        )
        load.check(what)
        return load

    async def open(self, target: Target, rate: float, what: str) -> Load:
        progress(_NAME, what)
        load = await open_loop(
            target,
            self.mix(False),
            rate=rate,
            warmup_seconds=self.ctx.warmup_seconds,
            duration_seconds=self.ctx.duration_seconds,
            processes=self.processes,
        )
        load.check(what)
        return load


async def _service_rows(
    ctx: BenchContext, loads: _Loads, api_key: str
) -> tuple[list[ResultRow], dict[str, UUID]]:
    async with ledger_serve(ctx.database_url, loads.workdir) as server:
        progress(_NAME, f"opening {loads.ledgers:,} ledgers over HTTP")
        started = time.perf_counter()
        specs = [LedgerSpec(ledger_code(n), "asset") for n in range(1, loads.ledgers + 1)]
        ledgers = await open_ledgers(server, api_key, specs, BASE_CURRENCY)
        setup_seconds = time.perf_counter() - started
        target = Target(server.host, server.port, api_key)
        w1 = await loads.closed(target, False, "W1 service, spread")
        w2 = await loads.closed(target, True, "W2 service, hot ledgers")
        rate = max(1.0, w1.rate * W4_RATE_FRACTION)
        w4 = await loads.open(target, rate, f"W4 service, open loop at {rate:,.0f}/s")
        number = await _journal_number(target, loads.ledgers)
    counted = w1.ok + w2.ok + w4.ok
    if number <= counted:
        raise RuntimeError(f"journal number {number} after {counted} 201s: journals went missing")
    progress(_NAME, f"{counted:,} journals counted; the next number was {number:,}")
    rows = [
        _row(
            "w1_service",
            f"W1 service, {loads.ledgers:,} ledgers",
            w1,
            CONNECTIONS,
            setup_s=setup_seconds,
        ),
        _row("w2_hot", f"W2 service, credit 1 of {HOT_LEDGER_COUNT} hot ledgers", w2, CONNECTIONS),
        _row(
            "w4_open_loop",
            f"W4 service, open loop at {W4_RATE_FRACTION:g} x W1",
            w4,
            0,
            target_rate=rate,
        ),
    ]
    return rows, ledgers


async def _minimal_row(
    ctx: BenchContext, loads: _Loads, api_key: str, ledgers: dict[str, UUID]
) -> ResultRow:
    conn = await asyncpg.connect(ctx.database_url)
    try:
        await minimal_app.prepare(conn, ledgers)
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "ledger.bench.minimal_app",
            "--host",
            SERVER_HOST,
            "--port",
            str(port),
            "--workers",
            str(SERVER_WORKERS),
        ]
        async with serving(
            command,
            {**os.environ, **minimal_app.environment(ctx.database_url, api_key)},
            port=port,
            log_path=loads.workdir / "minimal-app.log",
            name="minimal app",
        ) as server:
            target = Target(server.host, server.port, api_key)
            load = await loads.closed(target, False, "W1 baseline: minimal app, spread")
        stored = int(await conn.fetchval(f"SELECT count(*) FROM {minimal_app.SCHEMA}.events"))
    finally:
        await conn.close()
    if stored < load.ok:
        raise RuntimeError(f"the minimal app stored {stored} journals for {load.ok} 201s")
    return _row(
        "w1_minimal",
        f"W1 baseline: minimal Litestar app, one SQL statement, {loads.ledgers:,} ledgers",
        load,
        CONNECTIONS,
    )


@register(
    _NAME,
    description=(
        f"single journal posts over HTTP ({CONNECTIONS} connections, {LEDGER_COUNT:,} "
        f"ledgers, {SERVER_WORKERS} server process(es)) vs a minimal app writing one statement"
    ),
    ratios=(
        Ratio(
            label="W1 service / minimal app",
            numerator="w1_service",
            denominator="w1_minimal",
            target=W1_RATIO_TARGET,
        ),
        Ratio(
            label="W2 hot / W1 spread",
            numerator="w2_hot",
            denominator="w1_service",
            target=W2_RATIO_TARGET,
        ),
    ),
    bounds=(
        Bound(
            label=f"W4 p99 at {W4_RATE_FRACTION:g} x W1's rate, open loop",
            row="w4_open_loop",
            metric="p99_ms",
            target=W4_P99_MS_MAX,
            unit="ms",
        ),
    ),
)
async def journals_http(ctx: BenchContext) -> list[ResultRow]:
    ledger_count = TINY_LEDGER_COUNT if ctx.tiny else LEDGER_COUNT
    with tempfile.TemporaryDirectory(prefix="ledger-bench-journals-") as tmp:
        loads = _Loads(ctx, ledger_count, Path(tmp))
        if loads.wrk is None and not ctx.tiny:
            progress(
                _NAME,
                "wrk not found (make bench installs it with apt-get): Python clients instead,"
                " which compete with the server for CPU",
            )
        api_key = await create_tenant(ctx.database_url, loads.workdir, _TENANT_SLUG, BASE_CURRENCY)
        rows, ledgers = await _service_rows(ctx, loads, api_key)
        rows.append(await _minimal_row(ctx, loads, api_key, ledgers))
    return rows
