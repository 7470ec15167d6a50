"""Scenario ``journals_http``: journals/s posted over HTTP against plain SQL transactions.

All in one run, on the PostgreSQL of the run (``ctx.database_url``):

Setup
    A tenant (base USD) with an API key and :data:`LEDGER_COUNT` asset ledgers in USD, codes
    ``L00001`` … ``L10000``, opened concurrently through group commit
    (``services.ledgers.open_ledger``); the time it takes is reported (``setup_s``). Then the
    real server runs as a subprocess: ``ledger serve --port <free port>`` with
    ``LEDGER_DATABASE_URL`` and ``LEDGER_LOG_LEVEL=WARNING``, polled until ``/ready``.
``http_spread``
    wrk, :data:`CONNECTIONS` connections, :data:`WRK_THREADS` thread(s): each request POSTs
    ``/v1/journals`` with a fresh body from a Lua ``request`` function: debit one random
    ledger, credit another (``ledger_code`` refs), the same random amount 1..100000, a unique
    ``reference``. A warm-up run of ``warmup_seconds`` first, then the counted run of
    ``duration_seconds`` (wrk takes whole seconds: both are rounded up). Only 201 answers are
    counted (the Lua ``response`` hook); any other status or any socket error fails the
    scenario, with the counts and a sample body. Latencies are wrk's percentiles.
``http_hot``
    The same, but every journal credits one of the :data:`HOT_LEDGER_COUNT` hot ledgers
    (``L00001``, ``L00002``) and debits a random other one of the 10,000.
``sql_baseline``
    No HTTP, no group commit: :data:`CONNECTIONS` asyncpg connections, each looping one
    transaction per journal: ``BEGIN``; a plain ``INSERT`` of the event row (a realistic
    1 KB state: the bytes the mapper stores for a real ``JournalPosted``) into a copy of the
    events table (``notification_id`` from its ``bigserial``, ``RETURNING`` it as the
    journal's position); then the books projection's own statements, the very SQL text of
    ``ledger.projections.books`` for one journal: the journals row (with its ~1 KB response
    document), 2 ``journal_entries``, 2 ``balance_movements``, 2 ``balances`` upserts
    (``ON CONFLICT``) and the ``tenant_counters`` upsert; ``COMMIT``: 8 round trips. Debit
    and credit are two random ledgers of the same 10,000.
``sql_no_counter`` (informational)
    The same without the ``tenant_counters`` upsert. The counter is one row per tenant, so
    with it the 32 writers queue on that row lock from the upsert to their commit (a
    per-journal writer cannot avoid it and keep gap-free journal numbers); this row shows
    what the same rows cost without that queue.
``sql_append_events`` (informational)
    The same as ``sql_baseline`` with the event appended as the service does it:
    ``SELECT … FROM ledger_append_events(…)`` (table lock, gap-free position, hash chain,
    NOTIFY), per journal.

Why the plain ``INSERT`` is the baseline of the acceptance ratio: it is the strongest
one-transaction-per-journal writer of the same rows (no table lock serialising the writers,
no hash chain), so "HTTP >= 1.0x" against it means group commit pays for HTTP, JSON and
validation against the best naive writer, not against a strawman. With
``ledger_append_events`` each journal holds the event table's lock until its commit, which
serialises the 32 writers; that row shows what per-journal appends through the real function
would give.

The baselines write to separate tables: schema ``bench_sql`` gets the service's own
migrations (the same tables, indexes, constraints and append function) and a copy of the
10,000 ledger rows (the entries' foreign key needs them); the baseline connections run with
``search_path = bench_sql``, so the projection's statements land there. They run after the
server has stopped, so the HTTP rows and the baselines never compete for the CPU.

Checks: after the HTTP rows, ``journals`` must hold at least as many of the tenant's rows
as 201s were counted (warm-up runs included); after the baselines, ``bench_sql.journals``
at least as many as were counted. ``mean_batch`` / ``batches_per_s`` of the HTTP rows
count the distinct transactions (``xmin``) that wrote the counted run's journals.

Load generator: ``wrk`` (``$LEDGER_BENCH_WRK`` if set, else ``wrk`` on ``PATH``). Without it
the scenario says so ("install wrk (apt-get install wrk)") and falls back to a small
multi-process Python client over raw sockets (:func:`_python_load`): the figures still come
out, lower, because that client takes CPU the server needs on a small machine. Set
``LEDGER_BENCH_WRK=`` (empty) to force the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ledger.bench.measure import Operation, percentile_ms, run_workers
from ledger.bench.registry import BenchContext, Ratio, ResultRow, register
from ledger.bootstrap import open_services
from ledger.config import load_settings
from ledger.domain.journals import EntryLine, Journal
from ledger.projections.journal_document import encode_document, render_posted
from ledger.queries.tenants import tenant_by_slug
from ledger.store import event_store
from ledger.store.mapper import MsgspecMapper
from ledger.store.migrations import migrate

CONNECTIONS: Final = 32
WRK_THREADS: Final = 1
LEDGER_COUNT: Final = 10_000
HOT_LEDGER_COUNT: Final = 2
AMOUNT_MAX: Final = 100_000
BASE_CURRENCY: Final = "USD"
SERVER_START_SECONDS: Final = 60.0
SERVER_STOP_SECONDS: Final = 15.0
WRK_TIMEOUT: Final = "10s"
# Journals still in flight when a load run stops commit shortly after; wait for them before
# counting the run's batches.
SETTLE_SECONDS: Final = 0.5
# The Python fallback client: processes x connections each = CONNECTIONS.
FALLBACK_PROCESSES: Final = 2
FALLBACK_START_DELAY_SECONDS: Final = 3.0

_UNIT: Final = "journals/s"
_TENANT_SLUG: Final = "bench-journals"
_BASELINE_SCHEMA: Final = "bench_sql"
_INSERT_EVENT: Final = (
    "INSERT INTO ledger_events (originator_id, originator_version, topic, state, tenant_id,"
    " chain_hash) VALUES ($1, $2, $3, $4, $5, $6) RETURNING notification_id"
)
_APPEND_LOCK_TIMEOUT: Final = "5s"

# The books' writes of one journal as the projection made them before it wrote everything in
# one call (``ledger_books_apply``): the rows a one-transaction-per-journal writer writes.
_INSERT_JOURNALS: Final = """
INSERT INTO journals (journal_id, tenant_id, number, status, date, accrual_date, effective_date,
    description, reference, external_id, currency, base_currency, request_sha256,
    duplicate_sha256, reversal_of, created_at, position, version)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::text[], $5::date[], $6::date[],
    $7::date[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bytea[],
    $14::bytea[], $15::uuid[], $16::timestamptz[], $17::int8[], $18::int8[])
"""
_INSERT_ENTRIES: Final = """
INSERT INTO journal_entries (entry_id, journal_id, tenant_id, entry_index, ledger_id, direction,
    amount, currency, amount_base, description, metadata)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int2[], $5::uuid[], $6::text[],
    $7::int8[], $8::text[], $9::int8[], $10::text[], $11::jsonb[])
"""
_INSERT_MOVEMENTS: Final = """
INSERT INTO balance_movements (tenant_id, ledger_id, currency, effective_date, position,
    journal_id, entry_id, debits_posted, credits_posted, debits_pending, credits_pending)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::date[], $5::int8[], $6::uuid[],
    $7::uuid[], $8::int8[], $9::int8[], $10::int8[], $11::int8[])
"""
_UPSERT_BALANCES: Final = """
INSERT INTO balances AS b (ledger_id, currency, tenant_id, debits_posted, credits_posted,
    debits_pending, credits_pending)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::numeric[], $5::numeric[],
    $6::numeric[], $7::numeric[]) ORDER BY 1, 2
ON CONFLICT (ledger_id, currency) DO UPDATE SET
    debits_posted = b.debits_posted + excluded.debits_posted,
    credits_posted = b.credits_posted + excluded.credits_posted,
    debits_pending = b.debits_pending + excluded.debits_pending,
    credits_pending = b.credits_pending + excluded.credits_pending
"""
_UPSERT_COUNTERS: Final = """
INSERT INTO tenant_counters AS c (tenant_id, counter, value)
SELECT t, $3, v FROM unnest($1::uuid[], $2::int8[]) AS u(t, v)
ON CONFLICT (tenant_id, counter) DO UPDATE SET value = greatest(c.value, excluded.value)
"""

# wrk's Lua script. Arguments after ``--``: api key, mode (spread|hot), ledger count, hot
# ledger count, date, run seed. Each thread counts 201s and everything else; ``done`` prints
# one ``WRKJSON {...}`` line that the scenario parses, and a readable line for non-201s.
WRK_SCRIPT: Final = r"""
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  api_key = args[1]
  hot_mode = args[2] == "hot"
  ledgers = tonumber(args[3])
  hot = tonumber(args[4])
  local date = args[5]
  local seed = tonumber(args[6])
  math.randomseed(seed + tid * 7919)
  counter = 0
  ok = 0
  bad = 0
  statuses = {}
  sample = ""
  headers = {["Content-Type"] = "application/json", ["X-API-KEY"] = api_key}
  prefix = '{"date":"' .. date .. '","reference":"wrk-' .. seed .. '-' .. tid .. '-'
end

function request()
  counter = counter + 1
  local debit, credit
  if hot_mode then
    credit = math.random(1, hot)
  else
    credit = math.random(1, ledgers)
  end
  debit = math.random(1, ledgers - 1)
  if debit >= credit then
    debit = debit + 1
  end
  local amount = math.random(1, 100000)
  local body = prefix .. counter
    .. '","entries":[{"ledger_code":"' .. string.format("L%05d", debit)
    .. '","direction":"debit","amount":' .. amount
    .. '},{"ledger_code":"' .. string.format("L%05d", credit)
    .. '","direction":"credit","amount":' .. amount .. '}]}'
  return wrk.format("POST", "/v1/journals", headers, body)
end

function response(status, headers, body)
  if status == 201 then
    ok = ok + 1
  else
    bad = bad + 1
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
    if sample == "" and body ~= nil then
      sample = string.sub(body, 1, 300)
    end
  end
end

local function escape(text)
  return (string.gsub(text, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end))
end

function done(summary, latency, requests)
  local ok_total, bad_total, sample_any = 0, 0, ""
  local merged = {}
  for _, thread in ipairs(threads) do
    ok_total = ok_total + thread:get("ok")
    bad_total = bad_total + thread:get("bad")
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
    if sample_any == "" then
      sample_any = thread:get("sample")
    end
  end
  local parts = {}
  for status, count in pairs(merged) do
    table.insert(parts, string.format('"%s":%d', status, count))
  end
  if bad_total > 0 then
    io.write(string.format("non-201 responses: %d (%s) first: %s\n",
      bad_total, table.concat(parts, ","), sample_any))
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"ok201":%d,"non201":%d,'
    .. '"p50_us":%.0f,"p99_us":%.0f,"errors":{"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d},"statuses":{%s},"sample":"%s"}\n',
    summary.requests, summary.duration, ok_total, bad_total,
    latency:percentile(50.0), latency:percentile(99.0),
    e.connect, e.read, e.write, e.status, e.timeout,
    table.concat(parts, ","), escape(sample_any)))
end
"""


def _progress(text: str) -> None:
    print(f"  journals_http: {text} ...", file=sys.stderr, flush=True)


def ledger_code(number: int) -> str:
    """The code of ledger ``number`` (1-based); the Lua script builds the same."""
    return f"L{number:05d}"


# --- setup ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Books:
    tenant_id: UUID
    api_key: str
    ledger_ids: list[UUID]  # ledger_ids[i] has code ledger_code(i + 1)
    setup_seconds: float


async def _set_up_books(ctx: BenchContext) -> _Books:
    settings = load_settings(
        {
            "LEDGER_DATABASE_URL": ctx.database_url,
            "LEDGER_DATA_DIR": tempfile.gettempdir(),
            "LEDGER_LOG_LEVEL": "WARNING",
        }
    )
    async with open_services(settings, apply_migrations=False) as services:
        key, _ = await services.tenants.create_tenant(_TENANT_SLUG, BASE_CURRENCY, "Bench journals")
        tenant = await tenant_by_slug(services.pool, _TENANT_SLUG)
        assert tenant is not None
        _progress(f"opening {LEDGER_COUNT:,} ledgers through group commit")
        started = time.perf_counter()
        views = await asyncio.gather(
            *(
                services.ledgers.open_ledger(
                    tenant.tenant_id,
                    code=ledger_code(number),
                    name=f"Bench ledger {number}",
                    type="asset",
                    currency=BASE_CURRENCY,
                )
                for number in range(1, LEDGER_COUNT + 1)
            )
        )
        seconds = time.perf_counter() - started
        await services.pool.execute("ANALYZE ledgers")
    by_code = {view.code: view.ledger_id for view in views}
    ledger_ids = [by_code[ledger_code(number)] for number in range(1, LEDGER_COUNT + 1)]
    _progress(f"{LEDGER_COUNT:,} ledgers opened in {seconds:.2f} s")
    return _Books(tenant.tenant_id, key.api_key, ledger_ids, seconds)


# --- the server -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ledger_command() -> list[str]:
    script = Path(sys.executable).with_name("ledger")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "ledger.cli"]


async def _http_status(host: str, port: int, path: str) -> int | None:
    """The status of ``GET path``, or None if nothing answers."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2.0)
    except (OSError, TimeoutError):
        return None
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 5.0)
        parts = line.split()
        return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    except (OSError, TimeoutError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@dataclass(frozen=True, slots=True)
class _Server:
    process: asyncio.subprocess.Process
    host: str
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        except OSError:
            return ""


@contextlib.asynccontextmanager
async def _serving(database_url: str, workdir: Path) -> AsyncIterator[_Server]:
    """``ledger serve`` on a free port, ready; terminated (then killed) on exit."""
    host, port = "127.0.0.1", _free_port()
    env = dict(os.environ)
    env.update(
        LEDGER_DATABASE_URL=database_url,
        LEDGER_LOG_LEVEL="WARNING",
        LEDGER_HOST=host,
        LEDGER_DATA_DIR=str(workdir / "data"),
    )
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *_ledger_command(),
            "serve",
            "--port",
            str(port),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    server = _Server(process, host, port, log_path)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while await _http_status(host, port, "/ready") != 200:
            if process.returncode is not None:
                raise RuntimeError(
                    f"ledger serve exited with {process.returncode}:\n{server.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"ledger serve not ready after {SERVER_START_SECONDS:g} s:\n{server.log_tail()}"
                )
            await asyncio.sleep(0.1)
        _progress(f"server ready at {server.url} (pid {process.pid})")
        yield server
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), SERVER_STOP_SECONDS)
            except TimeoutError:
                process.kill()
                await process.wait()


# --- load generators ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Load:
    """One load run: 201s counted, over how long, latencies, and what went wrong."""

    ok: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_201: dict[str, int] = field(default_factory=dict)
    socket_errors: dict[str, int] = field(default_factory=dict)
    sample: str = ""

    def check(self, what: str) -> None:
        """Fail the scenario on any non-201 answer or socket error."""
        errors = {k: v for k, v in self.socket_errors.items() if v}
        if self.non_201 or errors:
            raise RuntimeError(
                f"{what}: non-201 answers {self.non_201 or 'none'}, socket errors "
                f"{errors or 'none'}; first non-201 body: {self.sample!r}"
            )


@dataclass(frozen=True, slots=True)
class _LoadSpec:
    server: _Server
    api_key: str
    hot: bool
    date: dt.date


def _wrk_path() -> str | None:
    configured = os.environ.get("LEDGER_BENCH_WRK")
    if configured is not None:
        configured = configured.strip()
        return configured if configured and os.access(configured, os.X_OK) else None
    return shutil.which("wrk")


async def _wrk(wrk: str, script: Path, spec: _LoadSpec, seconds: float) -> _Load:
    command = [
        wrk,
        f"-t{WRK_THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{max(1, math.ceil(seconds))}s",
        "--timeout",
        WRK_TIMEOUT,
        "-s",
        str(script),
        spec.server.url,
        "--",
        spec.api_key,
        "hot" if spec.hot else "spread",
        str(LEDGER_COUNT),
        str(HOT_LEDGER_COUNT),
        spec.date.isoformat(),
        str(random.randrange(1, 2**31)),
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    stdout = out.decode(errors="replace")
    lines = [line for line in stdout.splitlines() if line.startswith("WRKJSON ")]
    if process.returncode != 0 or len(lines) != 1:
        raise RuntimeError(
            f"wrk failed (exit {process.returncode}):\n{stdout}\n{err.decode(errors='replace')}"
        )
    report: dict[str, Any] = json.loads(lines[0].removeprefix("WRKJSON "))
    return _Load(
        ok=int(report["ok201"]),
        seconds=int(report["duration_us"]) / 1e6,
        p50_ms=float(report["p50_us"]) / 1000,
        p99_ms=float(report["p99_us"]) / 1000,
        non_201={str(k): int(v) for k, v in report["statuses"].items()},
        socket_errors={
            k: int(v) for k, v in report["errors"].items() if k != "status"
        },  # "status" counts non-2xx/3xx answers, already in non_201
        sample=str(report["sample"]),
    )


@dataclass(frozen=True, slots=True)
class _ClientJob:
    """What one fallback client process does (picklable: it crosses to a spawned process)."""

    host: str
    port: int
    api_key: str
    hot: bool
    date: str
    connections: int
    start_at: float  # time.time() at which every process starts
    warmup_seconds: float
    duration_seconds: float
    seed: int


@dataclass(frozen=True, slots=True)
class _ClientOutcome:
    ok: int
    latencies_ns: list[int]  # of the 201s completed inside the window
    non_201: dict[str, int]
    errors: int
    sample: str


def _journal_body(rng: random.Random, hot: bool, date: str, reference: str) -> bytes:
    credit = rng.randint(1, HOT_LEDGER_COUNT if hot else LEDGER_COUNT)
    debit = rng.randint(1, LEDGER_COUNT - 1)
    if debit >= credit:
        debit += 1
    amount = rng.randint(1, AMOUNT_MAX)
    return (
        f'{{"date":"{date}","reference":"{reference}","entries":['
        f'{{"ledger_code":"{ledger_code(debit)}","direction":"debit","amount":{amount}}},'
        f'{{"ledger_code":"{ledger_code(credit)}","direction":"credit","amount":{amount}}}]}}'
    ).encode()


async def _client_main(job: _ClientJob) -> _ClientOutcome:
    offset = time.perf_counter() - time.time()
    window_start = job.start_at + job.warmup_seconds + offset
    window_end = window_start + job.duration_seconds
    await asyncio.sleep(max(0.0, job.start_at + offset - time.perf_counter()))
    latencies: list[int] = []
    non_201: dict[str, int] = {}
    counts = {"ok": 0, "errors": 0}
    samples: list[str] = []
    head = (
        f"POST /v1/journals HTTP/1.1\r\nHost: {job.host}:{job.port}\r\n"
        f"X-API-KEY: {job.api_key}\r\nContent-Type: application/json\r\n"
    ).encode()

    async def connection(index: int) -> None:
        rng = random.Random(job.seed * 1000 + index)
        reader, writer = await asyncio.open_connection(job.host, job.port)
        try:
            for n in itertools.count(1):
                started = time.perf_counter()
                if started >= window_end:
                    return
                body = _journal_body(rng, job.hot, job.date, f"py-{job.seed}-{index}-{n}")
                writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
                await writer.drain()
                status = int((await reader.readline()).split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                answer = await reader.readexactly(length)
                finished = time.perf_counter()
                if status != 201:
                    non_201[str(status)] = non_201.get(str(status), 0) + 1
                    if not samples:
                        samples.append(answer[:300].decode(errors="replace"))
                elif window_start <= finished < window_end:
                    counts["ok"] += 1
                    latencies.append(int((finished - started) * 1e9))
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            counts["errors"] += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection(i) for i in range(job.connections)))
    return _ClientOutcome(counts["ok"], latencies, non_201, counts["errors"], "".join(samples))


def _client_process(job: _ClientJob) -> _ClientOutcome:
    return asyncio.run(_client_main(job))


async def _python_load(spec: _LoadSpec, warmup_seconds: float, duration_seconds: float) -> _Load:
    """The fallback load generator: processes of asyncio clients over raw sockets."""
    per_process = CONNECTIONS // FALLBACK_PROCESSES
    start_at = time.time() + FALLBACK_START_DELAY_SECONDS
    jobs = [
        _ClientJob(
            host=spec.server.host,
            port=spec.server.port,
            api_key=spec.api_key,
            hot=spec.hot,
            date=spec.date.isoformat(),
            connections=per_process,
            start_at=start_at,
            warmup_seconds=warmup_seconds,
            duration_seconds=duration_seconds,
            seed=random.randrange(1, 2**31) + i,
        )
        for i in range(FALLBACK_PROCESSES)
    ]
    loop = asyncio.get_running_loop()
    # spawn: a forked child would inherit this process's running event loop.
    with ProcessPoolExecutor(
        FALLBACK_PROCESSES, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        outcomes = await asyncio.gather(
            *(loop.run_in_executor(pool, _client_process, job) for job in jobs)
        )
    latencies = sorted(ns for o in outcomes for ns in o.latencies_ns)
    non_201: dict[str, int] = {}
    for outcome in outcomes:
        for status, count in outcome.non_201.items():
            non_201[status] = non_201.get(status, 0) + count
    return _Load(
        ok=sum(o.ok for o in outcomes),
        seconds=duration_seconds,
        p50_ms=percentile_ms(latencies, 0.50),
        p99_ms=percentile_ms(latencies, 0.99),
        non_201=non_201,
        socket_errors={"connection": sum(o.errors for o in outcomes)},
        sample=next((o.sample for o in outcomes if o.sample), ""),
    )


# --- HTTP rows ------------------------------------------------------------------------------


@dataclass
class _HttpRun:
    ctx: BenchContext
    server: _Server
    books: _Books
    wrk: str | None
    script: Path
    conn: asyncpg.Connection[Any]
    counted: int = 0  # every 201 seen, warm-up runs included

    async def load(self, hot: bool, seconds: float) -> _Load:
        spec = _LoadSpec(self.server, self.books.api_key, hot, dt.date.today())
        if self.wrk is not None:
            return await _wrk(self.wrk, self.script, spec, seconds)
        return await _python_load(spec, 0.0, seconds)

    async def position(self) -> int:
        return int(await self.conn.fetchval("SELECT coalesce(max(position), 0) FROM journals"))

    async def row(self, hot: bool) -> ResultRow:
        name = "hot" if hot else "spread"
        if self.ctx.warmup_seconds > 0:
            _progress(f"HTTP {name}: warm-up")
            warmup = await self.load(hot, self.ctx.warmup_seconds)
            warmup.check(f"HTTP {name} warm-up")
            self.counted += warmup.ok
        before = await self.position()
        _progress(f"HTTP {name}: measuring")
        measured = await self.load(hot, self.ctx.duration_seconds)
        measured.check(f"HTTP {name}")
        self.counted += measured.ok
        await asyncio.sleep(SETTLE_SECONDS)
        stats = await self.conn.fetchrow(
            "SELECT count(*) AS journals, count(DISTINCT xmin::text) AS batches FROM journals"
            " WHERE tenant_id = $1 AND position > $2",
            self.books.tenant_id,
            before,
        )
        assert stats is not None
        journals, batches = int(stats["journals"]), int(stats["batches"])
        extra = {
            "mean_batch": journals / batches if batches else 0.0,
            "batches_per_s": batches / measured.seconds if measured.seconds else 0.0,
        }
        if not hot:
            extra["setup_s"] = self.books.setup_seconds
        return ResultRow(
            key=f"http_{name}",
            label=(
                f"HTTP POST /v1/journals, credit 1 of {HOT_LEDGER_COUNT} hot ledgers"
                if hot
                else f"HTTP POST /v1/journals, {LEDGER_COUNT:,} ledgers"
            ),
            unit=_UNIT,
            concurrency=CONNECTIONS,
            operations=measured.ok,
            seconds=measured.seconds,
            p50_ms=measured.p50_ms,
            p99_ms=measured.p99_ms,
            extra=extra,
        )


async def _http_rows(ctx: BenchContext, books_: _Books, workdir: Path) -> list[ResultRow]:
    wrk = _wrk_path()
    if wrk is None:
        print(
            "  journals_http: wrk not found: install wrk (apt-get install wrk) for real figures;"
            " falling back to a Python load generator, which competes with the server for CPU",
            file=sys.stderr,
            flush=True,
        )
    script = workdir / "journals.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    conn = await asyncpg.connect(ctx.database_url)
    try:
        async with _serving(ctx.database_url, workdir) as server:
            run = _HttpRun(ctx, server, books_, wrk, script, conn)
            rows = [await run.row(hot=False), await run.row(hot=True)]
        stored = int(
            await conn.fetchval(
                "SELECT count(*) FROM journals WHERE tenant_id = $1", books_.tenant_id
            )
        )
        if stored < run.counted:
            raise RuntimeError(f"journals holds {stored} rows but {run.counted} 201s were counted")
        _progress(f"{stored:,} journals stored for {run.counted:,} 201s counted")
    finally:
        await conn.close()
    return rows


# --- SQL baseline ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Template:
    """A real JournalPosted's stored bytes and response document (~1 KB each)."""

    topic: str
    state: bytes
    document: bytes


def _template(tenant_id: UUID) -> _Template:
    today = dt.date.today()
    entries = tuple(
        EntryLine(
            entry_id=uuid.uuid4(),
            ledger_id=uuid.uuid4(),
            ledger_code=ledger_code(number),
            direction=direction,
            amount=12_345,
            currency=BASE_CURRENCY,
            amount_base=12_345,
        )
        for number, direction in ((1234, "debit"), (5678, "credit"))
    )
    journal = Journal._create(
        Journal.JournalPosted,
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        number=123_456,
        status="posted",
        date=today,
        accrual_date=None,
        effective_date=today,
        description=None,
        reference="sql-123456789-123456",
        external_id=None,
        currency=BASE_CURRENCY,
        base_currency=BASE_CURRENCY,
        exchange_rates={},
        entries=entries,
        reversal_of=None,
        warnings=(),
        metadata={},
        request_sha256=hashlib.sha256(b"request").hexdigest(),
        duplicate_sha256=hashlib.sha256(b"duplicate").hexdigest(),
    )
    (event,) = journal.collect_events()
    stored = MsgspecMapper().to_stored_event(event)
    assert isinstance(event, Journal.JournalPosted)
    return _Template(stored.topic, stored.state, encode_document(render_posted(event, 123_456)))


async def _prepare_baseline_schema(database_url: str) -> None:
    """Schema ``bench_sql``: the service's migrations and a copy of the ledgers."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"CREATE SCHEMA {_BASELINE_SCHEMA}")
        await conn.execute(f"SET search_path = {_BASELINE_SCHEMA}")
        await migrate(conn)
        await conn.execute(f"INSERT INTO {_BASELINE_SCHEMA}.ledgers SELECT * FROM public.ledgers")
        await conn.execute(f"ANALYZE {_BASELINE_SCHEMA}.ledgers")
    finally:
        await conn.close()


@dataclass(frozen=True, slots=True)
class _Variant:
    """How a baseline writes the event, and whether it takes the journal-number counter."""

    key: str
    label: str
    append: bool  # ledger_append_events (else a plain INSERT)
    counter: bool  # the tenant_counters upsert (one row per tenant: the writers queue on it)


BASELINES: Final = (
    _Variant(
        key="sql_baseline",
        label="SQL, 1 transaction per journal (INSERT event)",
        append=False,
        counter=True,
    ),
    _Variant(
        key="sql_no_counter",
        label="SQL, same without the counter upsert",
        append=False,
        counter=False,
    ),
    _Variant(
        key="sql_append_events",
        label="SQL, same with ledger_append_events",
        append=True,
        counter=True,
    ),
)


class _BaselineWriter:
    """One connection's journal loop: one transaction of the books' writes per journal."""

    def __init__(
        self,
        conn: PoolConnectionProxy[Any],
        *,
        tenant_id: UUID,
        ledger_ids: Sequence[UUID],
        template: _Template,
        numbers: itertools.count[int],
        variant: _Variant,
        seed: int,
    ) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.ledger_ids = ledger_ids
        self.template = template
        self.numbers = numbers
        self.variant = variant
        self.rng = random.Random(seed)
        self.seed = seed

    async def journal(self) -> None:
        conn, tenant, t = self.conn, self.tenant_id, self.template
        number = next(self.numbers)
        journal_id = uuid.uuid4()
        debit, credit = self.rng.sample(self.ledger_ids, 2)
        amount = self.rng.randint(1, AMOUNT_MAX)
        entry_ids = [uuid.uuid4(), uuid.uuid4()]
        today = dt.date.today()
        currencies = [BASE_CURRENCY, BASE_CURRENCY]
        async with conn.transaction():
            if self.variant.append:
                appended = await conn.fetchrow(
                    event_store._APPEND_SQL,
                    [journal_id],
                    [1],
                    [t.topic],
                    [t.state],
                    [tenant],
                    _APPEND_LOCK_TIMEOUT,
                )
                assert appended is not None
                assert appended["conflicts"] is None
                position = int(appended["first_position"])
            else:
                chain_hash = hashlib.sha256(journal_id.bytes + t.state).digest()
                position = int(
                    await conn.fetchval(
                        _INSERT_EVENT, journal_id, 1, t.topic, t.state, tenant, chain_hash
                    )
                )
            await conn.execute(
                _INSERT_JOURNALS,
                [journal_id],
                [tenant],
                [number],
                ["posted"],
                [today],
                [None],
                [today],
                [None],
                [f"sql-{self.seed}-{number}"],
                [None],
                [BASE_CURRENCY],
                [BASE_CURRENCY],
                [hashlib.sha256(journal_id.bytes).digest()],
                [hashlib.sha256(entry_ids[0].bytes).digest()],
                [None],
                [dt.datetime.now(dt.UTC)],
                [position],
                [1],
            )
            await conn.execute(
                _INSERT_ENTRIES,
                entry_ids,
                [journal_id, journal_id],
                [tenant, tenant],
                [0, 1],
                [debit, credit],
                ["debit", "credit"],
                [amount, amount],
                currencies,
                [amount, amount],
                [None, None],
                ["{}", "{}"],
            )
            await conn.execute(
                _INSERT_MOVEMENTS,
                [tenant, tenant],
                [debit, credit],
                currencies,
                [today, today],
                [position, position],
                [journal_id, journal_id],
                entry_ids,
                [amount, 0],
                [0, amount],
                [0, 0],
                [0, 0],
            )
            ordered = sorted([(debit, amount, 0), (credit, 0, amount)])
            await conn.execute(
                _UPSERT_BALANCES,
                [o[0] for o in ordered],
                currencies,
                [tenant, tenant],
                [o[1] for o in ordered],
                [o[2] for o in ordered],
                [0, 0],
                [0, 0],
            )
            if self.variant.counter:
                await conn.execute(_UPSERT_COUNTERS, [tenant], [number], "journal_number")


async def _baseline_row(
    ctx: BenchContext, pool: asyncpg.Pool[Any], books_: _Books, variant: _Variant
) -> ResultRow:
    template = _template(books_.tenant_id)
    numbers = itertools.count(
        1 + int(await pool.fetchval("SELECT coalesce(max(number), 0) FROM journals"))
    )
    connections = [await pool.acquire() for _ in range(CONNECTIONS)]
    try:
        writers = [
            _BaselineWriter(
                conn,
                tenant_id=books_.tenant_id,
                ledger_ids=books_.ledger_ids,
                template=template,
                numbers=numbers,
                variant=variant,
                seed=random.randrange(1, 2**31),
            )
            for conn in connections
        ]
        operations: list[Operation] = [w.journal for w in writers]
        _progress(f"{variant.label}")
        measured = await run_workers(
            operations, warmup_seconds=ctx.warmup_seconds, duration_seconds=ctx.duration_seconds
        )
    finally:
        for conn in connections:
            await pool.release(conn)
    return ResultRow(
        key=variant.key,
        label=variant.label,
        unit=_UNIT,
        concurrency=CONNECTIONS,
        operations=measured.operations,
        seconds=measured.seconds,
        p50_ms=measured.p50_ms,
        p99_ms=measured.p99_ms,
    )


async def _baseline_rows(ctx: BenchContext, books_: _Books) -> list[ResultRow]:
    await _prepare_baseline_schema(ctx.database_url)
    pool = await asyncpg.create_pool(
        ctx.database_url,
        min_size=CONNECTIONS,
        max_size=CONNECTIONS,
        server_settings={"search_path": _BASELINE_SCHEMA},
        reset=_no_reset,
    )
    assert pool is not None
    try:
        rows = [await _baseline_row(ctx, pool, books_, variant) for variant in BASELINES]
        stored = int(await pool.fetchval("SELECT count(*) FROM journals"))
        counted = sum(r.operations for r in rows)
        if stored < counted:
            raise RuntimeError(
                f"{_BASELINE_SCHEMA}.journals holds {stored} rows but {counted} were counted"
            )
    finally:
        await pool.close()
    return rows


async def _no_reset(_connection: asyncpg.Connection[Any]) -> None:
    return None


# --- the scenario ---------------------------------------------------------------------------


@register(
    "journals_http",
    description=(
        f"journals/s over HTTP (wrk, {CONNECTIONS} connections, {LEDGER_COUNT:,} ledgers)"
        " vs one SQL transaction per journal"
    ),
    ratios=(
        Ratio(
            label="HTTP spread / SQL baseline",
            numerator="http_spread",
            denominator="sql_baseline",
            target=1.0,
        ),
        Ratio(
            label="HTTP hot / HTTP spread",
            numerator="http_hot",
            denominator="http_spread",
            target=0.8,
        ),
        Ratio(
            label="HTTP spread / SQL without the counter upsert",
            numerator="http_spread",
            denominator="sql_no_counter",
        ),
        Ratio(
            label="HTTP spread / SQL with ledger_append_events",
            numerator="http_spread",
            denominator="sql_append_events",
        ),
    ),
)
async def journals_http(ctx: BenchContext) -> list[ResultRow]:
    books_ = await _set_up_books(ctx)
    with tempfile.TemporaryDirectory(prefix="ledger-bench-journals-") as tmp:
        rows = await _http_rows(ctx, books_, Path(tmp))
    rows.extend(await _baseline_rows(ctx, books_))
    return rows
