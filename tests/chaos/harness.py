"""What every fault scenario shares: the service as subprocesses, a retrying client load, the
figures it counts, and the checks that decide pass or fail.

The service is driven from outside only (``ledger serve`` and the ``ledger`` CLI as
subprocesses, HTTP over sockets), through the benchmark's helpers in
:mod:`ledger.bench.service`: a fault must be seen as a client and an operator see it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from ledger.bench.service import free_port, ledger_command, ledger_environment
from tests.chaos.cluster import Cluster

SERVE_START_SECONDS: Final = 60.0
SERVE_STOP_SECONDS: Final = 15.0
CLI_SECONDS: Final = 300.0
# A client gives up on one journal (it stays "unacknowledged") after this long.
GIVE_UP_SECONDS: Final = 120.0
# How long a client waits before retrying after a connection error, and at most after a 503
# (it honours Retry-After up to this, so a fault does not stretch the suite).
RECONNECT_SECONDS: Final = 0.05
RETRY_AFTER_CAP_SECONDS: Final = 1.0
HTTP_TIMEOUT_SECONDS: Final = 60.0
# The load waits at most this long for the acknowledged count to grow (a hung service fails
# the scenario instead of hanging the suite).
PROGRESS_SECONDS: Final = 120.0
TENANT: Final = "chaos"
CURRENCY: Final = "USD"
LEDGERS: Final = (("cash", "asset"), ("sales", "income"))
JOURNAL_DATE: Final = "2026-01-02"
SHOWN_MAX: Final = 5


@dataclass(frozen=True, slots=True)
class Options:
    """Sizes of a run (``python -m tests.chaos --help``)."""

    kills: int  # of ledger serve
    process_kills: int  # of each projection process
    restarts: int
    clients: int
    burst: int  # acknowledged journals between two faults
    fuzz_cases: int  # schemathesis' random cases (at least)
    fuzz_coverage: bool  # also schemathesis' ~3,000 coverage cases first


@dataclass(slots=True)
class Figures:
    """What a scenario counts; :meth:`lines` prints them, ``failures`` decides."""

    requests: int = 0
    acknowledged: int = 0
    replayed: int = 0
    unacknowledged: int = 0
    connection_errors: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    unavailable_with_retry_after: int = 0
    unavailable_without_retry_after: int = 0
    lost: int = 0
    duplicated: int = 0
    notes: list[str] = field(default_factory=list)
    audit: str = "not run"
    failures: list[str] = field(default_factory=list)

    def count_answer(self, status: int, code: str, retry_after: str | None) -> None:
        self.requests += 1
        self.answers[f"{status} {code}".strip()] += 1
        if status == 503:
            # Retry-After in seconds (RFC 9110 also allows a date; the contract says seconds).
            if retry_after is not None and retry_after.isdigit():
                self.unavailable_with_retry_after += 1
            else:
                self.unavailable_without_retry_after += 1

    def server_errors(self) -> dict[str, int]:
        return {k: n for k, n in sorted(self.answers.items()) if k.startswith("5")}

    def fail(self, text: str) -> None:
        self.failures.append(text)

    def lines(self) -> list[str]:
        errors = ", ".join(f"{k} x{n}" for k, n in self.server_errors().items()) or "none"
        return [
            f"requests {self.requests} (+{self.connection_errors} connection errors),"
            f" acknowledged {self.acknowledged} (replayed {self.replayed}),"
            f" unacknowledged {self.unacknowledged}",
            f"lost {self.lost}, duplicated {self.duplicated}",
            f"5xx by code: {errors}",
            f"503: {self.unavailable_with_retry_after} with Retry-After,"
            f" {self.unavailable_without_retry_after} without",
            *self.notes,
            f"audit: {self.audit}",
        ]


def with_database(url: str, name: str, *, user: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc if user is None else f"{user}@{parts.netloc.split('@', 1)[-1]}"
    return urlunsplit(parts._replace(path="/" + name, netloc=netloc))


def with_setting(url: str, name: str, value: str) -> str:
    """``url`` with a server setting asyncpg sends at connect (an unknown query parameter)."""
    return f"{url}&{name}={value}"


@dataclass(slots=True)
class Context:
    """One run: the cluster, a work directory, the sizes."""

    cluster: Cluster
    workdir: Path
    options: Options

    async def new_database(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (a copy of ``template`` if given); its URL."""
        conn = await asyncpg.connect(self.cluster.url())
        try:
            suffix = f' TEMPLATE "{template}"' if template else ""
            await conn.execute(f'CREATE DATABASE "{name}"{suffix}')
        finally:
            await conn.close()
        return self.cluster.url(name)


async def run_ledger(database_url: str, workdir: Path, *args: str) -> tuple[int, str, str]:
    """``ledger ARGS`` as a subprocess on ``database_url``: (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        *ledger_command(),
        *args,
        env=ledger_environment(database_url, workdir),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), CLI_SECONDS)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def create_tenant(database_url: str, workdir: Path) -> str:
    """Migrate, create tenant ``chaos``; its API key."""
    code, out, err = await run_ledger(
        database_url, workdir, "tenant", "create", TENANT, "--base-currency", CURRENCY
    )
    if code != 0:
        raise RuntimeError(f"ledger tenant create failed ({code}): {err}")
    key: str = json.loads(out)["api_key"]
    return key


class Serve:
    """``ledger serve`` (one process) on a fixed port, started again after each kill."""

    def __init__(self, database_url: str, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.database_url = database_url
        self.env = {**ledger_environment(database_url, workdir), **(env or {})}
        self.workdir = workdir
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_path(self) -> Path:
        return self.workdir / f"serve-{self.starts}.log"

    async def start(self) -> None:
        """Start it and wait for ``/ready``.

        Raises:
            RuntimeError: it exited or was not ready in time (the message has its log).
        """
        self.starts += 1
        command = [*ledger_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path().open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *command,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + SERVE_START_SECONDS
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise RuntimeError(f"ledger serve exited:\n{self.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/ready")).status_code == 200:
                        return
                await asyncio.sleep(0.05)  # polling for start-up
        raise RuntimeError(f"ledger serve not ready in time:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return self.log_path().read_text(encoding="utf-8", errors="replace")[-3000:]

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill9(self) -> None:
        """SIGKILL to its process group, and wait until it is gone."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        """SIGTERM (SIGKILL after :data:`SERVE_STOP_SECONDS`)."""
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), SERVE_STOP_SECONDS)
        except TimeoutError:
            await self.kill9()


def journal_body(reference: str, amount: int) -> dict[str, Any]:
    return {
        "date": JOURNAL_DATE,
        "reference": reference,
        "entries": [
            {"ledger_code": "cash", "direction": "debit", "amount": amount},
            {"ledger_code": "sales", "direction": "credit", "amount": amount},
        ],
    }


async def open_ledgers(base_url: str, api_key: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=HTTP_TIMEOUT_SECONDS) as http:
        for code, kind in LEDGERS:
            answer = await http.post(
                "/v1/ledgers",
                json={"code": code, "name": code, "type": kind},
                headers={"X-API-KEY": api_key},
            )
            if answer.status_code != 201:
                raise RuntimeError(f"open ledger {code}: {answer.status_code} {answer.text}")


def error_code(answer: httpx.Response) -> str:
    if answer.status_code < 400:
        return ""
    try:
        code: str = answer.json()["code"]
    except (ValueError, KeyError, TypeError):
        return "(not an error envelope)"
    return code


class Load:
    """Closed-loop clients posting 2-entry journals, each with a unique ``Idempotency-Key``
    (also its ``reference``); a connection error, a timeout or a 5xx is retried with the
    SAME key until the journal is acknowledged (201, or 200 ``Idempotent-Replayed``).

    ``acked`` maps each acknowledged key to the journal id the service answered.
    """

    def __init__(self, base_url: str, api_key: str, figures: Figures, *, prefix: str) -> None:
        self.base_url = base_url
        self.headers = {"X-API-KEY": api_key}
        self.figures = figures
        self.prefix = prefix
        self.acked: dict[str, str] = {}
        self.given_up: list[str] = []
        self.unexpected: list[str] = []
        self.stop = asyncio.Event()
        self.progress = asyncio.Condition()
        self._numbers = itertools.count(1)

    async def post_until_acked(self, http: httpx.AsyncClient, key: str, amount: int) -> None:
        """Post one journal; retry with the same key until it is acknowledged, refused with
        a 4xx (a failure: the request is valid), or :data:`GIVE_UP_SECONDS` pass."""
        deadline = time.monotonic() + GIVE_UP_SECONDS
        body = journal_body(key, amount)
        headers = {**self.headers, "Idempotency-Key": key}
        while time.monotonic() < deadline:
            try:
                answer = await http.post("/v1/journals", json=body, headers=headers)
            except httpx.TransportError:
                self.figures.connection_errors += 1
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            retry_after = answer.headers.get("Retry-After")
            self.figures.count_answer(answer.status_code, error_code(answer), retry_after)
            if answer.status_code in (200, 201):
                await self._acknowledge(key, answer)
                return
            if answer.status_code < 500:
                self.unexpected.append(f"{key}: {answer.status_code} {answer.text[:200]}")
                break
            await asyncio.sleep(_retry_delay(retry_after))
        self.given_up.append(key)
        self.figures.unacknowledged += 1

    async def _acknowledge(self, key: str, answer: httpx.Response) -> None:
        if answer.status_code == 200:
            self.figures.replayed += 1
        self.acked[key] = str(answer.json()["id"])
        self.figures.acknowledged += 1
        async with self.progress:
            self.progress.notify_all()

    async def client(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=HTTP_TIMEOUT_SECONDS) as h:
            while not self.stop.is_set():
                n = next(self._numbers)
                await self.post_until_acked(h, f"{self.prefix}-{n}", 1 + n % 997)

    async def wait_for_more(self, count: int) -> None:
        """Wait until ``count`` more journals are acknowledged.

        Raises:
            TimeoutError: not within :data:`PROGRESS_SECONDS` (the service is stuck).
        """
        target = len(self.acked) + count
        async with asyncio.timeout(PROGRESS_SECONDS), self.progress:
            await self.progress.wait_for(lambda: len(self.acked) >= target)


def _retry_delay(retry_after: str | None) -> float:
    if retry_after is None or not retry_after.isdigit():
        return RECONNECT_SECONDS
    return min(float(retry_after), RETRY_AFTER_CAP_SECONDS)


@contextlib.asynccontextmanager
async def running(load: Load, clients: int) -> Any:
    """Run ``clients`` clients of ``load`` inside the block; on exit each finishes the journal
    it is posting, then stops."""
    tasks = [asyncio.create_task(load.client()) for _ in range(clients)]
    try:
        yield load
    finally:
        load.stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


# --- checks ---------------------------------------------------------------------------


async def check_log(database_url: str, figures: Figures) -> None:
    """Positions 1..N with no gap, ending at the chain head; journal numbers gap-free."""
    conn = await asyncpg.connect(database_url)
    try:
        positions = [r[0] for r in await conn.fetch("SELECT notification_id FROM ledger_events")]
        head = await conn.fetchval("SELECT position FROM ledger_chain_head")
        numbers = await conn.fetch(
            "SELECT tenant_id, count(*) AS n, max(number) AS top, count(DISTINCT number) AS d"
            " FROM journals GROUP BY tenant_id"
        )
    finally:
        await conn.close()
    positions.sort()
    if positions != list(range(1, len(positions) + 1)):
        missing = sorted(set(range(1, (positions or [0])[-1] + 1)) - set(positions))
        figures.fail(f"positions not gap-free: missing {missing[:SHOWN_MAX]}")
    elif head != len(positions):
        figures.fail(f"chain head at {head}, log ends at {len(positions)}")
    for row in numbers:
        if not row["n"] == row["top"] == row["d"]:
            figures.fail(f"journal numbers not gap-free: {dict(row)}")
    figures.notes.append(f"log: positions 1..{len(positions)} (chain head {head})")


async def check_acknowledged(database_url: str, load: Load, figures: Figures) -> None:
    """Every acknowledged journal stored exactly once, with the id the client was told; no
    journal stored twice for one key."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT reference, journal_id::text AS id FROM journals WHERE reference LIKE $1",
            f"{load.prefix}-%",
        )
    finally:
        await conn.close()
    stored: dict[str, list[str]] = {}
    for row in rows:
        stored.setdefault(row["reference"], []).append(row["id"])
    lost = [k for k, jid in load.acked.items() if jid not in stored.get(k, [])]
    duplicated = [k for k, ids in stored.items() if len(ids) > 1]
    figures.lost += len(lost)
    figures.duplicated += len(duplicated)
    if lost:
        figures.fail(f"{len(lost)} acknowledged journal(s) not stored: {lost[:SHOWN_MAX]}")
    if duplicated:
        figures.fail(f"{len(duplicated)} key(s) stored more than once: {duplicated[:SHOWN_MAX]}")
    if load.unexpected:
        figures.fail(
            f"{len(load.unexpected)} 4xx answer(s) to valid journals: {load.unexpected[:SHOWN_MAX]}"
        )
    if load.given_up:
        figures.fail(f"{len(load.given_up)} journal(s) never acknowledged")


def check_server_errors(figures: Figures) -> None:
    """0 x 5xx other than 503, and every 503 with Retry-After."""
    others = {k: n for k, n in figures.server_errors().items() if not k.startswith("503")}
    if others:
        figures.fail(f"5xx other than 503: {others}")
    if figures.unavailable_without_retry_after:
        figures.fail(f"{figures.unavailable_without_retry_after} 503(s) without Retry-After")


async def audit_verify(database_url: str, workdir: Path) -> tuple[int, str]:
    """``ledger audit verify``: (exit code, its report)."""
    code, out, err = await run_ledger(database_url, workdir, "audit", "verify")
    return code, (out + err).strip()


async def check_audit(database_url: str, workdir: Path, figures: Figures) -> None:
    code, report = await audit_verify(database_url, workdir)
    figures.audit = f"exit {code}: {report.splitlines()[0] if report else '(no output)'}"
    if code != 0:
        figures.fail(f"audit verify failed (exit {code}):\n{report}")


@dataclass(frozen=True, slots=True)
class Scenario:
    """One fault scenario (see :mod:`tests.chaos.registry`)."""

    name: str
    summary: str
    run: Callable[[Context, Figures], Awaitable[None]]
