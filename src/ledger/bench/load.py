"""Load generators for single journal posts over HTTP: wrk, and Python clients.

Both send the same request: ``POST /v1/journals`` with a 2-entry journal, debit one ledger
and credit another by ``ledger_code`` (codes ``L00001`` ...), the same random amount, a
unique ``reference``. In "hot" mode every journal credits one of the first few ledgers.

Closed loop (throughput): each connection sends its next request when the previous answer
arrives. ``wrk`` (``$LEDGER_BENCH_WRK`` if set, else ``wrk`` on ``PATH``) when there is one;
else :func:`closed_loop` falls back to processes of asyncio clients, which take CPU the
server needs on a small machine (their figures come out lower; the report says which ran).

Open loop (latency at a given rate, :func:`open_loop`): requests leave on a fixed schedule
whatever the server does, and each latency is measured from the request's *scheduled* send
time. A closed-loop client slows down when the server stalls and so never records the
requests it did not send (coordinated omission); this one does: a stall shows as the
latencies of every request scheduled during it. The client's own lateness (scheduled →
actually sent) is reported as ``client_lag_p99_ms``; if it is high the client, not the
server, was the bottleneck.

Any answer other than 201 and any socket error fails the measurement (:meth:`Load.check`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import multiprocessing
import os
import random
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ledger.bench.http import Answer, HttpConnection, HttpError, api_key_header
from ledger.bench.measure import percentile_ms

AMOUNT_MAX: Final = 100_000
WRK_THREADS: Final = 1
WRK_TIMEOUT: Final = "10s"
# Python clients: processes (each with connections / processes connections), started together
# after a delay long enough for a spawned interpreter to import this module.
CLIENT_PROCESSES: Final = 2
CLIENT_START_DELAY_SECONDS: Final = 3.0
IN_PROCESS_START_DELAY_SECONDS: Final = 0.2
# Open loop: connections each process may open (a stalled server makes requests pile up),
# and how many it opens before the schedule starts.
OPEN_LOOP_CONNECTIONS_MAX: Final = 256
OPEN_LOOP_PREOPEN: Final = 8
# Requests still in flight when the schedule ends get this long to answer.
DRAIN_SECONDS: Final = 30.0
_NS_PER_S: Final = 1_000_000_000


def ledger_code(number: int) -> str:
    """The code of ledger ``number`` (1-based); the wrk script builds the same."""
    return f"L{number:05d}"


@dataclass(frozen=True, slots=True)
class Target:
    """Where the load goes: a server speaking the journals API, and the key it accepts."""

    host: str
    port: int
    api_key: str


@dataclass(frozen=True, slots=True)
class Mix:
    """Which journals: debit one of ``ledgers`` and credit another; with ``hot`` set, the
    credit is always one of the first ``hot`` ledgers."""

    ledgers: int
    hot: int | None
    date: str  # YYYY-MM-DD


def journal_body(rng: random.Random, mix: Mix, reference: str) -> bytes:
    """One request body (the wrk script builds the same)."""
    credit = rng.randint(1, mix.hot if mix.hot is not None else mix.ledgers)
    debit = rng.randint(1, mix.ledgers - 1)
    if debit >= credit:
        debit += 1
    amount = rng.randint(1, AMOUNT_MAX)
    return (
        f'{{"date":"{mix.date}","reference":"{reference}","entries":['
        f'{{"ledger_code":"{ledger_code(debit)}","direction":"debit","amount":{amount}}},'
        f'{{"ledger_code":"{ledger_code(credit)}","direction":"credit","amount":{amount}}}]}}'
    ).encode()


@dataclass(frozen=True, slots=True)
class Load:
    """One load run: 201s counted in the window, its length, latencies, what went wrong."""

    ok: int
    seconds: float
    p50_ms: float
    p99_ms: float
    generator: str
    non_201: dict[str, int] = field(default_factory=dict)
    socket_errors: dict[str, int] = field(default_factory=dict)
    sample: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def check(self, what: str) -> None:
        """Fail the scenario on any non-201 answer or socket error.

        Raises:
            RuntimeError: there was one (the message holds the counts and a sample body).
        """
        errors = {k: v for k, v in self.socket_errors.items() if v}
        if self.non_201 or errors:
            raise RuntimeError(
                f"{what}: non-201 answers {self.non_201 or 'none'}, socket errors "
                f"{errors or 'none'}; first non-201 body: {self.sample!r}"
            )


# --- wrk ------------------------------------------------------------------------------------

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


def wrk_path() -> str | None:
    """``$LEDGER_BENCH_WRK`` if set (empty: none), else ``wrk`` on ``PATH``, else None."""
    configured = os.environ.get("LEDGER_BENCH_WRK")
    if configured is not None:
        configured = configured.strip()
        return configured if configured and os.access(configured, os.X_OK) else None
    return shutil.which("wrk")


async def _wrk(
    wrk: str, script: Path, target: Target, mix: Mix, connections: int, seconds: float
) -> Load:
    command = [
        wrk,
        f"-t{WRK_THREADS}",
        f"-c{connections}",
        f"-d{max(1, math.ceil(seconds))}s",
        "--timeout",
        WRK_TIMEOUT,
        "-s",
        str(script),
        f"http://{target.host}:{target.port}",
        "--",
        target.api_key,
        "spread" if mix.hot is None else "hot",
        str(mix.ledgers),
        str(mix.hot or 0),
        mix.date,
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
    return Load(
        ok=int(report["ok201"]),
        seconds=int(report["duration_us"]) / 1e6,
        p50_ms=float(report["p50_us"]) / 1000,
        p99_ms=float(report["p99_us"]) / 1000,
        generator="wrk",
        non_201={str(k): int(v) for k, v in report["statuses"].items()},
        # "status" counts non-2xx/3xx answers, already in non_201.
        socket_errors={k: int(v) for k, v in report["errors"].items() if k != "status"},
        sample=str(report["sample"]),
    )


# --- Python clients -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Job:
    """What one client process does (picklable: it crosses to a spawned process)."""

    target: Target
    mix: Mix
    connections: int
    start_at: float  # time.time() at which every process starts
    warmup_seconds: float
    duration_seconds: float
    seed: int
    rate: float = 0.0  # open loop: requests per second from this process (0: closed loop)
    phase: float = 0.0  # open loop: this process's offset in its schedule, 0..1 of a gap


@dataclass(slots=True)
class _Tally:
    """What one client process saw."""

    ok: int = 0
    latencies_ns: list[int] = field(default_factory=list)  # of the 201s counted
    lags_ns: list[int] = field(default_factory=list)  # open loop: sent - scheduled
    non_201: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    sample: str = ""

    def answer(self, answer: Answer, started_ns: int, finished_ns: int, counted: bool) -> None:
        if answer.status != 201:
            key = str(answer.status)
            self.non_201[key] = self.non_201.get(key, 0) + 1
            self.sample = self.sample or answer.body[:300].decode(errors="replace")
        elif counted:
            self.ok += 1
            self.latencies_ns.append(finished_ns - started_ns)


_CLIENT_ERRORS: Final = (OSError, HttpError, TimeoutError)


async def _closed_loop_client(job: _Job) -> _Tally:
    clock = time.perf_counter_ns
    start = clock() + int((job.start_at - time.time()) * _NS_PER_S)
    window_start = start + int(job.warmup_seconds * _NS_PER_S)
    window_end = window_start + int(job.duration_seconds * _NS_PER_S)
    tally = _Tally()
    headers = api_key_header(job.target.api_key)
    await asyncio.sleep(max(0, start - clock()) / _NS_PER_S)

    async def connection(index: int) -> None:
        rng = random.Random(job.seed * 1000 + index)
        try:
            conn = await HttpConnection.open(job.target.host, job.target.port)
        except _CLIENT_ERRORS:
            tally.errors += 1
            return
        try:
            for n in itertools.count(1):
                started = clock()
                if started >= window_end:
                    return
                body = journal_body(rng, job.mix, f"py-{job.seed}-{index}-{n}")
                answer = await conn.request("POST", "/v1/journals", body=body, headers=headers)
                finished = clock()
                tally.answer(answer, started, finished, window_start <= finished < window_end)
        except _CLIENT_ERRORS:
            tally.errors += 1
        finally:
            await conn.close()

    await asyncio.gather(*(connection(i) for i in range(job.connections)))
    return tally


async def _open_loop_client(job: _Job) -> _Tally:
    clock = time.perf_counter_ns
    start = clock() + int((job.start_at - time.time()) * _NS_PER_S)
    window_start = start + int(job.warmup_seconds * _NS_PER_S)
    window_end = window_start + int(job.duration_seconds * _NS_PER_S)
    gap_ns = _NS_PER_S / job.rate
    tally = _Tally()
    headers = api_key_header(job.target.api_key)
    rng = random.Random(job.seed)
    idle = [
        await HttpConnection.open(job.target.host, job.target.port)
        for _ in range(min(OPEN_LOOP_PREOPEN, job.connections))
    ]
    slots = asyncio.Semaphore(job.connections)

    async def send(n: int, scheduled: int) -> None:
        body = journal_body(rng, job.mix, f"ol-{job.seed}-{n}")
        async with slots:
            conn = idle.pop() if idle else None
            try:
                if conn is None:
                    conn = await HttpConnection.open(job.target.host, job.target.port)
                sent = clock()
                answer = await conn.request("POST", "/v1/journals", body=body, headers=headers)
            except _CLIENT_ERRORS:
                tally.errors += 1
                if conn is not None:
                    await conn.close()
                return
            idle.append(conn)
        counted = window_start <= scheduled < window_end
        tally.answer(answer, scheduled, clock(), counted)
        if counted:
            tally.lags_ns.append(sent - scheduled)

    tasks: list[asyncio.Task[None]] = []
    for n in itertools.count():
        scheduled = start + int((n + job.phase) * gap_ns)
        if scheduled >= window_end:
            break
        delay = scheduled - clock()
        if delay > 0:
            await asyncio.sleep(delay / _NS_PER_S)
        tasks.append(asyncio.create_task(send(n, scheduled)))
    _done, pending = await asyncio.wait(tasks, timeout=DRAIN_SECONDS) if tasks else ((), ())
    for task in pending:
        task.cancel()
        tally.errors += 1
    for conn in idle:
        await conn.close()
    return tally


def _closed_loop_process(job: _Job) -> _Tally:
    return asyncio.run(_closed_loop_client(job))


def _open_loop_process(job: _Job) -> _Tally:
    return asyncio.run(_open_loop_client(job))


async def _run_clients(
    jobs: Sequence[_Job],
    in_process: bool,
    coroutine: Callable[[_Job], Awaitable[_Tally]],
    process: Callable[[_Job], _Tally],
) -> list[_Tally]:
    if in_process:
        return list(await asyncio.gather(*(coroutine(job) for job in jobs)))
    loop = asyncio.get_running_loop()
    # spawn: a forked child would inherit this process's running event loop.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(jobs), mp_context=context) as pool:
        return list(await asyncio.gather(*(loop.run_in_executor(pool, process, j) for j in jobs)))


def _merge(tallies: Sequence[_Tally], seconds: float, generator: str) -> Load:
    latencies = sorted(ns for t in tallies for ns in t.latencies_ns)
    non_201: dict[str, int] = {}
    for tally in tallies:
        for status, count in tally.non_201.items():
            non_201[status] = non_201.get(status, 0) + count
    extra: dict[str, float] = {}
    lags = sorted(ns for t in tallies for ns in t.lags_ns)
    if lags:
        extra["client_lag_p99_ms"] = percentile_ms(lags, 0.99)
    return Load(
        ok=sum(t.ok for t in tallies),
        seconds=seconds,
        p50_ms=percentile_ms(latencies, 0.50),
        p99_ms=percentile_ms(latencies, 0.99),
        generator=generator,
        non_201=non_201,
        socket_errors={"connection": sum(t.errors for t in tallies)},
        sample=next((t.sample for t in tallies if t.sample), ""),
        extra=extra,
    )


def _jobs(
    target: Target,
    mix: Mix,
    *,
    connections: int,
    processes: int,
    warmup_seconds: float,
    duration_seconds: float,
    rate: float = 0.0,
) -> list[_Job]:
    count = max(1, processes)
    delay = CLIENT_START_DELAY_SECONDS if processes else IN_PROCESS_START_DELAY_SECONDS
    start_at = time.time() + delay
    seed = random.randrange(1, 2**31)
    return [
        _Job(
            target=target,
            mix=mix,
            connections=max(1, connections // count),
            start_at=start_at,
            warmup_seconds=warmup_seconds,
            duration_seconds=duration_seconds,
            seed=seed + i,
            rate=rate / count,
            phase=i / count,
        )
        for i in range(count)
    ]


async def closed_loop(
    target: Target,
    mix: Mix,
    *,
    connections: int,
    warmup_seconds: float,
    duration_seconds: float,
    wrk: str | None,
    workdir: Path,
    processes: int = CLIENT_PROCESSES,
) -> Load:
    """Throughput: ``connections`` keep-alive connections posting back to back.

    With ``wrk``: a warm-up run, then the counted run (wrk takes whole seconds: both are
    rounded up). Without: Python clients in ``processes`` spawned processes (0: in this
    process, for the smallest runs), the window counted after the warm-up.

    Raises:
        RuntimeError: any non-201 answer or socket error, warm-up included.
    """
    if wrk is not None:
        script = workdir / "journals.lua"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        if warmup_seconds > 0:
            warmup = await _wrk(wrk, script, target, mix, connections, warmup_seconds)
            warmup.check("warm-up")
        return await _wrk(wrk, script, target, mix, connections, duration_seconds)
    jobs = _jobs(
        target,
        mix,
        connections=connections,
        processes=processes,
        warmup_seconds=warmup_seconds,
        duration_seconds=duration_seconds,
    )
    tallies = await _run_clients(jobs, processes == 0, _closed_loop_client, _closed_loop_process)
    return _merge(tallies, duration_seconds, "python")


async def open_loop(
    target: Target,
    mix: Mix,
    *,
    rate: float,
    warmup_seconds: float,
    duration_seconds: float,
    processes: int = CLIENT_PROCESSES,
) -> Load:
    """Latency at ``rate`` requests/s on a fixed schedule (see the module's docstring).

    ``processes`` processes (0: this one) each send ``rate / processes`` per second, their
    schedules interleaved. Counted: the requests scheduled inside the window after the
    warm-up; each latency runs from the scheduled send time to the answer.

    Raises:
        RuntimeError: any non-201 answer, socket error, or a request unanswered after
            :data:`DRAIN_SECONDS` (warm-up included).
    """
    assert rate > 0
    jobs = _jobs(
        target,
        mix,
        connections=OPEN_LOOP_CONNECTIONS_MAX * max(1, processes),
        processes=processes,
        warmup_seconds=warmup_seconds,
        duration_seconds=duration_seconds,
        rate=rate,
    )
    tallies = await _run_clients(jobs, processes == 0, _open_loop_client, _open_loop_process)
    return _merge(tallies, duration_seconds, "python open loop")
