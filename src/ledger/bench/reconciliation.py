"""Scenario ``reconciliation``: bulk record import and a reconciliation run, 100k x 100k.

The acceptance figure of issue 5: a run over 100,000 records per side with a 3-day date
window (``match_on: [amount, date]``, one-to-one, tolerance 0) finishes within 60 s.
Measured in one database, through the service's own code (group commit, projections):

``import``
    Both streams imported with ``RecordCommands.import_records`` (10,000 records per
    command, as ``POST /v1/records/bulk`` does); rate in records/s.
``run_dry``
    The same run as a dry run: read both streams, match, nothing written.
``run``
    The run itself: read, match, and write every match (``RecordMatched`` events and the
    ``matches`` / ``match_items`` rows, in slices of 5,000 per transaction) and the run.

The data: right-hand records mirror 90 % of the left ones (opposite direction, same amount,
0 to 3 days later); the other 10 % are unrelated amounts. ``--quick`` uses 20,000 per side,
``--tiny`` 200.
Each run row's ``seconds`` is its wall time; ``extra`` holds the matches made.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Final

from ledger.bench.registry import BenchContext, ResultRow, register
from ledger.bootstrap import open_services
from ledger.commands.reconciliation_runs import RunRequest
from ledger.commands.records import RecordInput
from ledger.config import Settings

PER_SIDE: Final = 100_000
QUICK_PER_SIDE: Final = 20_000
TINY_PER_SIDE: Final = 200
WINDOW_DAYS: Final = 3
_BASE = dt.date(2026, 1, 1)


def _streams(count: int, seed: int = 5) -> tuple[list[RecordInput], list[RecordInput]]:
    rng = random.Random(seed)
    left: list[RecordInput] = []
    right: list[RecordInput] = []
    for i in range(count):
        amount = rng.randint(100, 5_000_000)
        day = _BASE + dt.timedelta(days=rng.randint(0, 364))
        left.append(
            RecordInput(
                data_stream_key="bank",
                amount=amount,
                direction="credit",
                date=day,
                external_id=f"b{i}",
                description=f"payout {i}",
            )
        )
        if rng.random() < 0.9:
            other_amount = amount
            other_day = day + dt.timedelta(days=rng.randint(0, WINDOW_DAYS))
        else:
            other_amount = rng.randint(100, 5_000_000)
            other_day = _BASE + dt.timedelta(days=rng.randint(0, 364))
        right.append(
            RecordInput(
                data_stream_key="processor",
                amount=other_amount,
                direction="debit",
                date=other_day,
                external_id=f"p{i}",
                description=f"settlement {i}",
            )
        )
    rng.shuffle(right)
    return left, right


def _row(
    key: str, label: str, unit: str, operations: int, seconds: float, **extra: float
) -> ResultRow:
    return ResultRow(
        key=key,
        label=label,
        unit=unit,
        concurrency=1,
        operations=operations,
        seconds=seconds,
        p50_ms=seconds * 1000 / max(operations, 1),
        p99_ms=seconds * 1000 / max(operations, 1),
        extra=dict(extra),
    )


@register(
    "reconciliation",
    description=(
        "bulk import, then a reconciliation run of N x N records (3-day window), dry and real"
    ),
)
async def reconciliation(context: BenchContext) -> list[ResultRow]:
    count = TINY_PER_SIDE if context.tiny else QUICK_PER_SIDE if context.quick else PER_SIDE
    left, right = _streams(count)
    settings = Settings(
        database_url=context.database_url,
        host="127.0.0.1",
        port=0,
        data_dir=Path(tempfile.gettempdir()),
        log_level="WARNING",
    )
    async with open_services(settings, apply_migrations=False, run_projections=False) as services:
        slug = f"recon-{uuid.uuid4().hex[:8]}"
        await services.tenants.create_tenant(slug, "USD")
        tenant = await services.pool.fetchval("SELECT tenant_id FROM tenants WHERE slug = $1", slug)
        started = time.perf_counter()
        await services.records.import_records(tenant, left)
        await services.records.import_records(tenant, right)
        imported = time.perf_counter() - started
        request = RunRequest(
            tenant_id=tenant,
            left="bank",
            right="processor",
            match_on=("amount", "date"),
            date_window_days=WINDOW_DAYS,
        )
        started = time.perf_counter()
        dry = await services.reconciliation.run(dataclasses.replace(request, dry_run=True))
        dry_seconds = time.perf_counter() - started
        started = time.perf_counter()
        real = await services.reconciliation.run(request)
        run_seconds = time.perf_counter() - started
    assert real.matched == dry.matched
    return [
        _row("import", f"import {2 * count:,} records (bulk)", "records/s", 2 * count, imported),
        _row(
            "run_dry",
            f"run {count:,} x {count:,}, {WINDOW_DAYS}-day window, dry",
            "runs/s",
            1,
            dry_seconds,
            matched=dry.matched,
        ),
        _row(
            "run",
            f"run {count:,} x {count:,}, {WINDOW_DAYS}-day window",
            "runs/s",
            1,
            run_seconds,
            matched=real.matched,
        ),
    ]
