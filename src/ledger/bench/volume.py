"""Scenario ``volume``: books at volume, as a user would build them (W3, R1, R2, R3, M1).

Everything through a real ``ledger serve`` subprocess, its HTTP API and its CLI:

Setup
    ``ledger tenant create``; a 3-level tree ``TOP`` → ``MID`` → ``LEAF`` and
    :data:`OTHER_LEDGERS` other ledgers ``O00001`` … (for the trial balance), opened with
    ``POST /v1/ledgers`` (row ``setup``).
Load
    Journals posted :data:`BULK_SIZE` at a time through ``POST /v1/journals/bulk``
    (``atomic: false``, one request at a time), each debiting ``LEAF`` and crediting a random
    other ledger. Effective dates run in order over :data:`HISTORY_DAYS` days ending
    yesterday, as a history import would, with :data:`BACKDATED_FRACTION` of them back-dated
    up to :data:`BACKDATE_DAYS_MAX` days. Loaded in steps up to each size of
    :data:`SIZES` (postings on the leaf; 10k, 100k and 1M; ``--quick`` stops at 100k).
    Rows ``load@<size>``: each step's journals/s and bulk-request latencies.
At each size
    Sequential reads, one connection, :data:`READS` per kind (fewer if a kind's reads exceed
    :data:`READ_BUDGET_SECONDS`, never fewer than :data:`READS_MIN`), after
    :data:`READ_WARMUP` uncounted ones:

    - R1 ``GET /v1/ledgers/{id}/balances`` for ``LEAF`` and ``TOP``: current; ``as_of`` the
      date in the middle of the history loaded so far; ``known_at`` a random position among
      the last :data:`KNOWN_AT_WINDOW` positions.
    - R2 ``GET /v1/ledgers/{LEAF}/entries?limit=50``: the first page, a middle one
      (``from=<middle date>``) and the newest (:func:`newest_page_query`).
    - R3 ``GET /v1/trial-balance?limit=500`` over the 10,000+ ledgers: plain, ``as_of``,
      ``known_at`` (after waiting, with ``min_position``, for its projection to catch up).

    M1 (rows ``m1@<size>``): the server's resident memory from ``/proc`` (the largest
    process, the sum over its processes, and the peak).

    P1 (rows ``p1_<name>@<size>``): ``ledger projections rebuild NAME`` for each of
    :data:`REBUILT_PROJECTIONS`, one subprocess each, beside the running server (which is
    idle then), after one uncounted read of the whole log: events/s as the command reports
    it (log position / its wall time) and the command's peak RSS (its ``VmHWM``).
W3 (rows ``w3_bulk`` / ``w3_sql``)
    The whole load's journals/s against the same journals written by plain SQL after the
    server has stopped: one connection, one transaction (one statement) per
    :data:`BULK_SIZE`, arrays + ``unnest``: the event rows (the journal's JSON as state),
    the postings, and one balance upsert per ledger touched (aggregated per batch, in ledger
    order), in tables of its own (schema ``bench_bulk``, the minimal app's layout).

Checks (:func:`_checks`): W3 >= 0.5x; at the largest size measured, R1 p99 <= 10 ms
(``known_at`` 25 ms), R2 p99 <= 20 ms, R3 p99 <= 100 ms, M1 <= 300 MB, P1 >= 100,000
events/s for every projection; growth p99(largest) / p99(smallest) <= 1.5 for R1 and R3,
and a rebuild's peak RSS at the largest size <= 1.5x at the smallest (flat in events).
The issue's targets are set at 1M: a ``--quick`` run checks them at 100k, and says so.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import asyncpg
import msgspec

from ledger.bench import minimal_app
from ledger.bench.http import HttpConnection, api_key_header, expect
from ledger.bench.measure import percentile_ms
from ledger.bench.registry import BenchContext, Bound, Check, Ratio, ResultRow, register
from ledger.bench.service import (
    OPEN_CONNECTIONS,
    LedgerSpec,
    Server,
    create_tenant,
    ledger_serve,
    open_ledgers,
    progress,
    run_cli_measured,
    server_memory,
)
from ledger.bench.table import format_rows, format_table

SIZES: Final = (10_000, 100_000, 1_000_000)
QUICK_SIZES: Final = (10_000, 100_000)
TINY_SIZES: Final = (100, 300)
OTHER_LEDGERS: Final = 10_000
TINY_OTHER_LEDGERS: Final = 20
BULK_SIZE: Final = 1_000
TINY_BULK_SIZE: Final = 50
HISTORY_DAYS: Final = 730
BACKDATED_FRACTION: Final = 0.02
BACKDATE_DAYS_MAX: Final = 60
AMOUNT_MAX: Final = 100_000
READS: Final = 100
QUICK_READS: Final = 60
TINY_READS: Final = 3
READS_MIN: Final = 10
READ_WARMUP: Final = 2
READ_BUDGET_SECONDS: Final = 30.0
QUICK_READ_BUDGET_SECONDS: Final = 15.0
KNOWN_AT_WINDOW: Final = 100_000
STATEMENT_PAGE: Final = 50
TRIAL_BALANCE_PAGE: Final = 500
TRIAL_BALANCE_WAIT_SECONDS: Final = 600.0
# The targets.
W3_RATIO_TARGET: Final = 0.5
R1_P99_MS_MAX: Final = 10.0
R1_KNOWN_AT_P99_MS_MAX: Final = 25.0
R2_P99_MS_MAX: Final = 20.0
R3_P99_MS_MAX: Final = 100.0
GROWTH_MAX: Final = 1.5
M1_RSS_MB_MAX: Final = 300.0
P1_EVENTS_PER_SECOND_MIN: Final = 100_000.0
# Each name is rebuilt with whatever shares its tables (``books`` brings ``ledgers``, which
# writes ``tenant_counters`` too): together they are every projection the service has.
REBUILT_PROJECTIONS: Final = ("tenants", "currencies", "books", "records", "trial_balance")
REBUILD_SECONDS_MAX: Final = 3_600.0

BASE_CURRENCY: Final = "USD"
TOP, MID, LEAF = "TOP", "MID", "LEAF"
_NAME: Final = "volume"
_TENANT_SLUG: Final = "bench-volume"
_BASELINE_SCHEMA: Final = "bench_bulk"
_SEED: Final = 20_261_207  # the same history for the service and the SQL baseline
_PROGRESS_STEPS: Final = 10


def size_label(size: int) -> str:
    """``10_000`` → ``10k``, ``1_000_000`` → ``1M``, ``300`` → ``300``."""
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return str(size)


def other_code(number: int) -> str:
    return f"O{number:05d}"


@dataclass(frozen=True, slots=True)
class _Mode:
    sizes: tuple[int, ...]
    others: int
    bulk: int
    reads: int
    reads_min: int
    budget_seconds: float

    @classmethod
    def of(cls, ctx: BenchContext) -> _Mode:
        if ctx.tiny:
            return cls(TINY_SIZES, TINY_OTHER_LEDGERS, TINY_BULK_SIZE, TINY_READS, TINY_READS, 0.0)
        if ctx.quick:
            return cls(
                QUICK_SIZES,
                OTHER_LEDGERS,
                BULK_SIZE,
                QUICK_READS,
                READS_MIN,
                QUICK_READ_BUDGET_SECONDS,
            )
        return cls(SIZES, OTHER_LEDGERS, BULK_SIZE, READS, READS_MIN, READ_BUDGET_SECONDS)


# --- the history ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _History:
    """Journal ``i`` of ``total``: its effective date, the other ledger, the amount.

    Deterministic (seeded per batch), so the service and the SQL baseline post the same
    journals without holding a million of them in memory, as long as both cut the history
    into the same batches (every size is a multiple of the batch size).
    """

    total: int
    others: int
    start: dt.date

    def in_order_date(self, index: int) -> dt.date:
        return self.start + dt.timedelta(days=index * HISTORY_DAYS // self.total)

    def batch(self, first: int, count: int) -> list[tuple[dt.date, int, int]]:
        rng = random.Random(_SEED * 1_000_003 + first)
        rows = []
        for index in range(first, first + count):
            day = self.in_order_date(index)
            if rng.random() < BACKDATED_FRACTION:
                day = max(self.start, day - dt.timedelta(days=rng.randint(1, BACKDATE_DAYS_MAX)))
            rows.append((day, rng.randint(1, self.others), rng.randint(1, AMOUNT_MAX)))
        return rows

    def batches(self, first: int, last: int, size: int) -> Iterator[tuple[int, list[Any]]]:
        """``(first index, journals)`` of ``size`` from ``first`` up to ``last`` (excluded)."""
        for start in range(first, last, size):
            yield start, self.batch(start, min(size, last - start))


def _journal(index: int, day: dt.date, other: int, amount: int) -> dict[str, Any]:
    return {
        "date": day.isoformat(),
        "reference": f"v{index}",
        "entries": [
            {"ledger_code": LEAF, "direction": "debit", "amount": amount},
            {"ledger_code": other_code(other), "direction": "credit", "amount": amount},
        ],
    }


# --- the service ----------------------------------------------------------------------------


class _Posted(msgspec.Struct):
    position: int


class _BulkItem(msgspec.Struct):
    status: int
    journal: _Posted | None = None
    error: dict[str, Any] | None = None


class _BulkAnswer(msgspec.Struct):
    data: list[_BulkItem]


@dataclass
class _Session:
    """One connection to the server, the tenant's key, and what has been loaded so far."""

    server: Server
    conn: HttpConnection
    headers: bytes
    history: _History
    ledgers: dict[str, UUID]
    loaded: int = 0
    head: int = 0  # the highest position a bulk answer reported
    bulk_seconds: float = 0.0
    bulk_latencies_ns: list[int] = field(default_factory=list)

    async def get(self, path: str, status: int = 200) -> bytes:
        answer = await self.conn.request("GET", path, headers=self.headers)
        return expect(answer, status, f"GET {path}")

    async def post_bulk(self, first: int, journals: list[Any]) -> int:
        """Post one batch; its duration in ns. Every item must answer 201."""
        body = msgspec.json.encode(
            {"atomic": False, "journals": [_journal(first + i, *j) for i, j in enumerate(journals)]}
        )
        started = time.perf_counter_ns()
        answer = await self.conn.request(
            "POST", "/v1/journals/bulk", body=body, headers=self.headers
        )
        elapsed = time.perf_counter_ns() - started
        items = msgspec.json.decode(expect(answer, 200, "bulk"), type=_BulkAnswer).data
        failed = [item for item in items if item.status != 201 or item.journal is None]
        if failed or len(items) != len(journals):
            raise RuntimeError(
                f"bulk: {len(failed)} of {len(items)} items failed; first: {failed[:1]}"
            )
        self.head = max(self.head, *(item.journal.position for item in items if item.journal))
        return elapsed


async def _load_to(session: _Session, size: int, bulk: int) -> ResultRow:
    """Post journals until ``size`` are loaded; the step's row."""
    first = session.loaded
    latencies: list[int] = []
    report_every = max(1, (size - first) // bulk // _PROGRESS_STEPS)
    for number, (start, journals) in enumerate(session.history.batches(first, size, bulk), 1):
        latencies.append(await session.post_bulk(start, journals))
        if number % report_every == 0:
            done = start + len(journals)
            rate = (done - first) / (sum(latencies) / 1e9)
            progress(_NAME, f"loaded {done:,} of {size:,} ({rate:,.0f} journals/s)")
    session.loaded = size
    seconds = sum(latencies) / 1e9
    session.bulk_seconds += seconds
    session.bulk_latencies_ns += latencies
    latencies.sort()
    return ResultRow(
        key=f"load@{size_label(size)}",
        label=f"bulk load {size_label(first)} -> {size_label(size)} ({bulk:,} per request)",
        unit="journals/s",
        concurrency=1,
        operations=size - first,
        seconds=seconds,
        p50_ms=percentile_ms(latencies, 0.50),
        p99_ms=percentile_ms(latencies, 0.99),
        extra={"postings": float(size)},
    )


async def statement_orders(session: _Session) -> bool:
    """Whether the service's OpenAPI schema documents ``order`` on statements (``asc|desc``)."""
    schema = msgspec.json.decode(await session.get("/schema/openapi.json"))
    entries = schema.get("paths", {}).get("/v1/ledgers/{ledger_id}/entries", {}).get("get", {})
    return "order" in {parameter.get("name") for parameter in entries.get("parameters", [])}


def newest_page_query(orders: bool, last_date: dt.date) -> str:
    """The query of the newest statement page: ``order=desc`` where the service has it
    (:func:`statement_orders`), else emulated with ``from=<the last date loaded>``."""
    return "order=desc" if orders else f"from={last_date.isoformat()}"


@dataclass(frozen=True, slots=True)
class _Kind:
    """One kind of read: its key in the rows, its label, its request path; with
    ``known_at``, each read adds a random position among the last :data:`KNOWN_AT_WINDOW`."""

    key: str
    label: str
    path: str
    known_at: bool = False

    def request_path(self, rng: random.Random, head: int) -> str:
        if not self.known_at:
            return self.path
        separator = "&" if "?" in self.path else "?"
        position = rng.randint(max(1, head - KNOWN_AT_WINDOW + 1), head)
        return f"{self.path}{separator}known_at={position}"


def _kinds(ledgers: dict[str, UUID], middle: dt.date, newest: str) -> list[_Kind]:
    window = size_label(KNOWN_AT_WINDOW)
    kinds: list[_Kind] = []
    for name, code in (("leaf", LEAF), ("top", TOP)):
        balances = f"/v1/ledgers/{ledgers[code]}/balances"
        kinds += [
            _Kind(f"r1_{name}_current", f"R1 {name} balance, current", balances),
            _Kind(
                f"r1_{name}_as_of", f"R1 {name} balance, as_of middle", f"{balances}?as_of={middle}"
            ),
            _Kind(
                f"r1_{name}_known_at", f"R1 {name} balance, known_at last {window}", balances, True
            ),
        ]
    page = f"/v1/ledgers/{ledgers[LEAF]}/entries?limit={STATEMENT_PAGE}"
    trial = f"/v1/trial-balance?limit={TRIAL_BALANCE_PAGE}"
    return [
        *kinds,
        _Kind("r2_first", "R2 statement, first page", page),
        _Kind("r2_middle", "R2 statement, middle page (from=)", f"{page}&from={middle}"),
        _Kind(
            "r2_newest",
            f"R2 statement, newest page ({newest.partition('=')[0]}=)",
            f"{page}&{newest}",
        ),
        _Kind("r3_current", "R3 trial balance", trial),
        _Kind("r3_as_of", "R3 trial balance, as_of middle", f"{trial}&as_of={middle}"),
        _Kind("r3_known_at", f"R3 trial balance, known_at last {window}", trial, True),
    ]


async def _wait_for_trial_balance(session: _Session) -> None:
    """Until the trial balance's projection reflects every journal loaded.

    Raises:
        RuntimeError: not within :data:`TRIAL_BALANCE_WAIT_SECONDS`.
    """
    path = f"/v1/trial-balance?limit=1&min_position={session.head}"
    deadline = time.monotonic() + TRIAL_BALANCE_WAIT_SECONDS
    while True:
        answer = await session.conn.request("GET", path, headers=session.headers)
        if answer.status == 200:
            return
        if answer.status != 503 or time.monotonic() > deadline:
            expect(answer, 200, f"GET {path}")


async def _reads(session: _Session, mode: _Mode, size: int, newest: str) -> list[ResultRow]:
    history = session.history
    middle = history.in_order_date(size // 2)
    rng = random.Random(_SEED + size)
    await _wait_for_trial_balance(session)
    rows = []
    for kind in _kinds(session.ledgers, middle, newest):
        for _ in range(READ_WARMUP):
            await session.get(kind.request_path(rng, session.head))
        latencies: list[int] = []
        started = time.perf_counter()
        while len(latencies) < mode.reads and (
            len(latencies) < mode.reads_min or time.perf_counter() - started < mode.budget_seconds
        ):
            path = kind.request_path(rng, session.head)
            began = time.perf_counter_ns()
            await session.get(path)
            latencies.append(time.perf_counter_ns() - began)
        latencies.sort()
        rows.append(
            ResultRow(
                key=f"{kind.key}@{size_label(size)}",
                label=f"{kind.label} @ {size_label(size)}",
                unit="reads/s",
                concurrency=1,
                operations=len(latencies),
                seconds=sum(latencies) / 1e9,
                p50_ms=percentile_ms(latencies, 0.50),
                p99_ms=percentile_ms(latencies, 0.99),
                extra={"postings": float(size)},
            )
        )
    progress(_NAME, f"reads at {size_label(size)} done")
    return rows


def _memory_row(server: Server, size: int) -> ResultRow:
    memory = server_memory(server)
    return ResultRow(
        key=f"m1@{size_label(size)}",
        label=f"M1 API process memory after {size_label(size)} journals",
        unit="MB",
        concurrency=1,
        operations=0,
        seconds=0.0,
        p50_ms=0.0,
        p99_ms=0.0,
        extra={
            "postings": float(size),
            "rss_mb": memory.rss,
            "rss_total_mb": memory.total,
            "peak_mb": memory.peak,
        },
    )


class _Rebuilt(msgspec.Struct):
    rebuilt: list[str]
    position: int
    seconds: float
    validate_seconds: float = 0.0


async def _rebuild_rows(database_url: str, workdir: Path, size: int) -> list[ResultRow]:
    """P1 at this size: each of :data:`REBUILT_PROJECTIONS` rebuilt by the CLI."""
    # The first full read of rows just loaded sets their hint bits (and, with data checksums,
    # writes full-page images to the WAL): read the log once first, as the rebuild scenario
    # does, or the first projection measured would pay that for all of them.
    progress(_NAME, f"P1: reading the log once before the rebuilds at {size_label(size)}")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.fetchval("SELECT count(*) FROM ledger_events WHERE length(state) > 0")
    finally:
        await conn.close()
    rows: list[ResultRow] = []
    covered: set[str] = set()
    for name in REBUILT_PROJECTIONS:
        if name in covered:  # already rebuilt with a projection it shares tables with
            continue
        progress(_NAME, f"P1: ledger projections rebuild {name} at {size_label(size)}")
        run = await run_cli_measured(
            database_url, workdir, ["projections", "rebuild", name], REBUILD_SECONDS_MAX
        )
        report = msgspec.json.decode(run.stdout, type=_Rebuilt)
        covered.update(report.rebuilt)
        rows.append(
            ResultRow(
                key=f"p1_{name}@{size_label(size)}",
                label=f"P1 rebuild {' + '.join(report.rebuilt)} @ {size_label(size)}",
                unit="events/s",
                concurrency=1,
                operations=report.position,
                seconds=report.seconds,
                p50_ms=0.0,
                p99_ms=0.0,
                extra={
                    "postings": float(size),
                    "peak_rss_mb": run.peak_rss_mb,
                    "fk_validate_s": report.validate_seconds,
                },
            )
        )
    return rows


async def _open_books(server: Server, api_key: str, others: int) -> tuple[dict[str, UUID], float]:
    started = time.perf_counter()
    ledgers: dict[str, UUID] = {}
    for spec in (
        LedgerSpec(TOP, "asset"),
        LedgerSpec(MID, "asset", TOP),
        LedgerSpec(LEAF, "asset", MID),
    ):
        ledgers |= await open_ledgers(server, api_key, [spec], BASE_CURRENCY)
    progress(_NAME, f"opening {others:,} other ledgers over HTTP")
    specs = [LedgerSpec(other_code(n), "income") for n in range(1, others + 1)]
    ledgers |= await open_ledgers(server, api_key, specs, BASE_CURRENCY)
    return ledgers, time.perf_counter() - started


async def _service_rows(
    database_url: str, mode: _Mode, history: _History, workdir: Path
) -> tuple[list[ResultRow], dict[str, UUID], int]:
    """Setup, the load in steps, the reads and memory at each size, then W3's service row;
    also the ledgers (id by code) and the leaf's posted debits at the end."""
    api_key = await create_tenant(database_url, workdir, _TENANT_SLUG, BASE_CURRENCY)
    async with ledger_serve(database_url, workdir) as server:
        ledgers, setup_seconds = await _open_books(server, api_key, mode.others)
        rows = [
            ResultRow(
                key="setup",
                label=f"setup: open {len(ledgers):,} ledgers (POST /v1/ledgers)",
                unit="ledgers/s",
                concurrency=OPEN_CONNECTIONS,
                operations=len(ledgers),
                seconds=setup_seconds,
                p50_ms=0.0,
                p99_ms=0.0,
            )
        ]
        session = _Session(
            server, await server.connect(), api_key_header(api_key), history, ledgers
        )
        try:
            orders = await statement_orders(session)
            for size in mode.sizes:
                progress(_NAME, f"loading up to {size:,} journals")
                rows.append(await _load_to(session, size, mode.bulk))
                newest = newest_page_query(orders, history.in_order_date(size - 1))
                rows += await _reads(session, mode, size, newest)
                rows.append(_memory_row(server, size))
                rows += await _rebuild_rows(database_url, workdir, size)
                # The connection sat idle through the rebuilds, longer than the server's
                # keep-alive (uvicorn: 5 s), which closes it: the next load opens its own.
                await session.conn.close()
                session.conn = await server.connect()
            leaf_debits = await _leaf_debits(session)
        finally:
            await session.conn.close()
    latencies = sorted(session.bulk_latencies_ns)
    rows.append(
        ResultRow(
            key="w3_bulk",
            label=f"W3 service: POST /v1/journals/bulk, {mode.bulk:,} per request",
            unit="journals/s",
            concurrency=1,
            operations=session.loaded,
            seconds=session.bulk_seconds,
            p50_ms=percentile_ms(latencies, 0.50),
            p99_ms=percentile_ms(latencies, 0.99),
        )
    )
    return rows, ledgers, leaf_debits


class _Balance(msgspec.Struct):
    debits_posted: int


class _Balances(msgspec.Struct):
    balances: list[_Balance]


async def _leaf_debits(session: _Session) -> int:
    """The leaf's posted debits, as the service reports them."""
    body = await session.get(f"/v1/ledgers/{session.ledgers[LEAF]}/balances")
    (balance,) = msgspec.json.decode(body, type=_Balances).balances
    return balance.debits_posted


# --- W3's baseline --------------------------------------------------------------------------

_BASELINE_SQL: Final = f"""
WITH events AS (
    INSERT INTO {_BASELINE_SCHEMA}.events (event_id, effective_date, state)
    SELECT * FROM unnest($1::uuid[], $2::date[], $3::bytea[])
    RETURNING position, event_id
), lines AS (
    SELECT * FROM unnest($4::uuid[], $5::int4[], $6::uuid[], $7::int8[], $8::int8[], $9::date[])
        AS u(event_id, entry_index, ledger_id, debit, credit, effective_date)
), postings AS (
    INSERT INTO {_BASELINE_SCHEMA}.postings
        (position, entry_index, ledger_id, effective_date, debit, credit)
    SELECT e.position, l.entry_index, l.ledger_id, l.effective_date, l.debit, l.credit
    FROM lines l JOIN events e USING (event_id)
)
INSERT INTO {_BASELINE_SCHEMA}.balances AS b (ledger_id, debits, credits)
SELECT ledger_id, sum(debit), sum(credit) FROM lines GROUP BY ledger_id ORDER BY ledger_id
ON CONFLICT (ledger_id) DO UPDATE
    SET debits = b.debits + excluded.debits, credits = b.credits + excluded.credits
"""


def _baseline_arguments(
    first: int, journals: Sequence[tuple[dt.date, int, int]], ledgers: dict[str, UUID]
) -> list[Any]:
    """The statement's arrays for one batch: events, then two lines per journal."""
    encode = msgspec.json.encode
    leaf = ledgers[LEAF]
    event_ids = [uuid.uuid4() for _ in journals]
    states = [
        encode({"id": event_id, **_journal(first + i, *journal)})
        for i, (event_id, journal) in enumerate(zip(event_ids, journals, strict=True))
    ]
    days = [day for day, _, _ in journals]
    amounts = [amount for _, _, amount in journals]
    zeros = [0] * len(journals)
    return [
        event_ids,
        days,
        states,
        event_ids + event_ids,
        [0] * len(journals) + [1] * len(journals),
        [leaf] * len(journals) + [ledgers[other_code(o)] for _, o, _ in journals],
        amounts + zeros,
        zeros + amounts,
        days + days,
    ]


async def _baseline_row(
    database_url: str, mode: _Mode, history: _History, ledgers: dict[str, UUID], leaf_debits: int
) -> ResultRow:
    """W3's baseline: the same journals as plain SQL, one statement per batch.

    Raises:
        RuntimeError: its rows disagree with the service's (count, or the leaf's debits).
    """
    total = mode.sizes[-1]
    progress(_NAME, f"W3 baseline: {total:,} journals in plain SQL, {mode.bulk:,} per statement")
    conn = await asyncpg.connect(database_url)
    try:
        await minimal_app.prepare(conn, ledgers, _BASELINE_SCHEMA)
        latencies: list[int] = []
        for first, journals in history.batches(0, total, mode.bulk):
            started = time.perf_counter_ns()
            await conn.execute(_BASELINE_SQL, *_baseline_arguments(first, journals, ledgers))
            latencies.append(time.perf_counter_ns() - started)
        stored = int(await conn.fetchval(f"SELECT count(*) FROM {_BASELINE_SCHEMA}.events"))
        debits = await conn.fetchval(
            f"SELECT debits FROM {_BASELINE_SCHEMA}.balances WHERE ledger_id = $1", ledgers[LEAF]
        )
    finally:
        await conn.close()
    if stored != total or debits != leaf_debits:
        raise RuntimeError(
            f"W3 baseline wrote {stored} journals (expected {total}) and {debits} leaf debits"
            f" (the service reports {leaf_debits})"
        )
    latencies.sort()
    return ResultRow(
        key="w3_sql",
        label=f"W3 baseline: plain SQL, {mode.bulk:,} journals per transaction",
        unit="journals/s",
        concurrency=1,
        operations=total,
        seconds=sum(latencies) / 1e9,
        p50_ms=percentile_ms(latencies, 0.50),
        p99_ms=percentile_ms(latencies, 0.99),
    )


# --- checks and the growth table ------------------------------------------------------------


def _sizes(rows: Sequence[ResultRow]) -> list[int]:
    return sorted({int(row.extra["postings"]) for row in rows if "postings" in row.extra})


def _read_bound(kind: str) -> float:
    if kind.startswith("r1_"):
        return R1_KNOWN_AT_P99_MS_MAX if kind.endswith("_known_at") else R1_P99_MS_MAX
    return R2_P99_MS_MAX if kind.startswith("r2_") else R3_P99_MS_MAX


def _read_checks(rows: Sequence[ResultRow], largest: str, smallest: str) -> list[Check]:
    """Each read kind's p99 bound at the largest size, and its growth from the smallest."""
    checks: list[Check] = []
    for row in rows:
        kind, _, size = row.key.partition("@")
        if size != largest or not kind.startswith(("r1_", "r2_", "r3_")):
            continue
        name = row.label.removesuffix(f" @ {size}")
        checks.append(
            Bound(
                label=f"{name}: p99 at {size}",
                row=row.key,
                metric="p99_ms",
                target=_read_bound(kind),
                unit="ms",
            )
        )
        if largest != smallest and not kind.startswith("r2_"):
            checks.append(
                Ratio(
                    label=f"{name}: p99 at {largest} / at {smallest}",
                    numerator=row.key,
                    denominator=f"{kind}@{smallest}",
                    target=GROWTH_MAX,
                    metric="p99_ms",
                    at_most=True,
                )
            )
    return checks


def _rebuild_checks(rows: Sequence[ResultRow], largest: str, smallest: str) -> list[Check]:
    """Each rebuilt projection's rate at the largest size, and its memory's growth."""
    keys = {row.key for row in rows}
    checks: list[Check] = []
    for name in REBUILT_PROJECTIONS:
        p1_key = f"p1_{name}@{largest}"
        if p1_key not in keys:  # rebuilt with another projection (shared tables)
            continue
        checks.append(
            Bound(
                label=f"P1 rebuild {name}: events/s at {largest}",
                row=p1_key,
                metric="rate",
                target=P1_EVENTS_PER_SECOND_MIN,
                unit="events/s",
                at_least=True,
            )
        )
        if largest != smallest and f"p1_{name}@{smallest}" in keys:
            checks.append(
                Ratio(
                    label=f"P1 rebuild {name}: peak RSS at {largest} / at {smallest}",
                    numerator=p1_key,
                    denominator=f"p1_{name}@{smallest}",
                    target=GROWTH_MAX,
                    metric="peak_rss_mb",
                    at_most=True,
                )
            )
    return checks


def _checks(rows: Sequence[ResultRow]) -> list[Check]:
    """The issue's targets at the largest size measured, and growth from the smallest."""
    sizes = _sizes(rows)
    if not sizes:
        return []
    largest, smallest = size_label(sizes[-1]), size_label(sizes[0])
    checks = _read_checks(rows, largest, smallest) + _rebuild_checks(rows, largest, smallest)
    checks.append(
        Bound(
            label=f"M1 API process RSS after {largest} journals",
            row=f"m1@{largest}",
            metric="rss_mb",
            target=M1_RSS_MB_MAX,
            unit="MB",
        )
    )
    return checks


def _memory_lines(by_key: dict[str, ResultRow], sizes: list[str]) -> list[str]:
    """The server's memory after each size, if measured."""
    memory = [by_key[f"m1@{size}"] for size in sizes if f"m1@{size}" in by_key]
    if not memory:
        return []
    return [
        "",
        "M1 server memory (MB): "
        + ", ".join(
            f"{size_label(int(m.extra['postings']))}: rss {m.extra['rss_mb']:,.0f}"
            f" (all processes {m.extra['rss_total_mb']:,.0f}, peak {m.extra['peak_mb']:,.0f})"
            for m in memory
        ),
    ]


def _rebuild_lines(by_key: dict[str, ResultRow], sizes: list[str]) -> list[str]:
    """The rebuild table: rate, peak RSS and FK validation per projection and size."""
    rebuilt = [
        [
            name,
            *(
                f"{row.rate:,.0f} events/s, {row.extra['peak_rss_mb']:,.0f} MB"
                f" (FK {row.extra['fk_validate_s']:.1f} s)"
                if (row := by_key.get(f"p1_{name}@{size}")) is not None
                else ""
                for size in sizes
            ),
        ]
        for name in REBUILT_PROJECTIONS
        if any(f"p1_{name}@{size}" in by_key for size in sizes)
    ]
    if not rebuilt:
        return []
    return [
        "",
        "P1 ledger projections rebuild NAME: events/s, peak RSS of the command",
        *format_table(["projection", *sizes], rebuilt),
        "(each name is rebuilt with the projections it shares tables with; FK: of its time,"
        " re-validating the foreign keys of the swapped tables)",
    ]


def _growth_lines(
    rows: Sequence[ResultRow], by_key: dict[str, ResultRow], sizes: list[str]
) -> list[str]:
    """The growth table: p50 / p99 ms of every read kind at every size, and p99's growth."""
    kinds = list(
        dict.fromkeys(
            r.key.partition("@")[0] for r in rows if r.key.startswith(("r1_", "r2_", "r3_"))
        )
    )
    table: list[list[str]] = []
    for kind in kinds:
        cells = [by_key.get(f"{kind}@{size}") for size in sizes]
        first, last = cells[0], cells[-1]
        name = next(c for c in cells if c is not None).label.rpartition(" @ ")[0]
        growth = (
            f"{last.p99_ms / first.p99_ms:.2f}x"
            if first is not None and last is not None and first.p99_ms > 0
            else ""
        )
        table.append(
            [
                name,
                *(f"{c.p50_ms:.1f} / {c.p99_ms:.1f}" if c is not None else "" for c in cells),
                growth,
            ]
        )
    if not table:
        return []
    return [
        "",
        "growth: p50 / p99 ms by postings on the leaf (sequential reads, one connection)",
        *format_table(["read", *sizes, f"p99 {sizes[-1]}/{sizes[0]}"], table),
        "reads per kind (fewer where a kind's reads ran out of time): "
        + ", ".join(f"{size}: {_count_range(rows, size)}" for size in sizes),
    ]


def _render(rows: Sequence[ResultRow]) -> list[str]:
    """The load rows, memory, then the growth table: p50 / p99 ms of every read kind at every
    size, and p99 at the largest over p99 at the smallest."""
    sizes = [size_label(size) for size in _sizes(rows)]
    by_key = {row.key: row for row in rows}
    lines = format_rows(
        [r for r in rows if not r.key.startswith(("r1_", "r2_", "r3_", "m1@", "p1_"))]
    )
    lines += _memory_lines(by_key, sizes)
    lines += _rebuild_lines(by_key, sizes)
    lines += _growth_lines(rows, by_key, sizes)
    return lines


def _count_range(rows: Sequence[ResultRow], size: str) -> str:
    counts = [
        r.operations
        for r in rows
        if r.key.startswith(("r1_", "r2_", "r3_")) and r.key.endswith(f"@{size}")
    ]
    low, high = min(counts, default=0), max(counts, default=0)
    return str(low) if low == high else f"{low}-{high}"


@register(
    _NAME,
    description=(
        "books at volume: bulk load vs plain SQL (W3); balance, statement and trial-balance "
        "reads at 10k / 100k / 1M postings (R1-R3); API process memory (M1)"
    ),
    ratios=(
        Ratio(
            label="W3 bulk / plain SQL, 1,000 per transaction",
            numerator="w3_bulk",
            denominator="w3_sql",
            target=W3_RATIO_TARGET,
        ),
    ),
    checks=_checks,
    render=_render,
)
async def volume(ctx: BenchContext) -> list[ResultRow]:
    mode = _Mode.of(ctx)
    assert all(size % mode.bulk == 0 for size in mode.sizes), "same batches for both writers"
    start = dt.date.today() - dt.timedelta(days=HISTORY_DAYS)
    history = _History(total=mode.sizes[-1], others=mode.others, start=start)
    with tempfile.TemporaryDirectory(prefix="ledger-bench-volume-") as tmp:
        rows, ledgers, leaf_debits = await _service_rows(ctx.database_url, mode, history, Path(tmp))
    rows.append(await _baseline_row(ctx.database_url, mode, history, ledgers, leaf_debits))
    return rows
