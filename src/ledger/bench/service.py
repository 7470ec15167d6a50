"""The service under measurement, driven from outside: ``ledger serve`` and the ``ledger`` CLI
as subprocesses, its HTTP API over sockets.

Scenarios that measure the service go through here and through :mod:`ledger.bench.http`
only, never through its internal modules: the figures are what a client sees, and the
benchmark keeps working while the service's internals change.

:data:`SERVER_WORKERS` is the number of server processes for both the service and the
minimal baseline app (:mod:`ledger.bench.minimal_app`): a baseline that got more processes
than the contender would measure the process count, not the code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from uuid import UUID

import msgspec

from ledger.bench.http import HttpConnection, api_key_header, expect

# Server processes, the same for the service and the minimal app (``ledger serve --workers``
# exists). 1, measured against 2 on the 2-core bench machine in one window (docs/write-path.md):
# with 2 the service's two group committers contend for the tenant's journal counter and the
# event table lock (smaller batches, more round trips) and W1 fell to 0.36-0.47x, while the
# minimal app gained ~10 %; with 1, W1 was 0.74-0.75x.
SERVER_WORKERS: Final = 1
SERVER_HOST: Final = "127.0.0.1"
SERVER_START_SECONDS: Final = 60.0
SERVER_STOP_SECONDS: Final = 15.0
CLI_SECONDS: Final = 120.0
# Concurrent connections that open ledgers during set-up.
OPEN_CONNECTIONS: Final = 16
_KB_PER_MB: Final = 1024


def progress(scenario: str, text: str) -> None:
    print(f"  {scenario}: {text} ...", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((SERVER_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def ledger_command() -> list[str]:
    """How to run the ``ledger`` CLI of this environment."""
    script = Path(sys.executable).with_name("ledger")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "ledger.cli"]


def ledger_environment(database_url: str, workdir: Path) -> dict[str, str]:
    """The environment of a ``ledger`` subprocess on ``database_url``."""
    env = dict(os.environ)
    env.update(
        LEDGER_DATABASE_URL=database_url,
        LEDGER_LOG_LEVEL="WARNING",
        LEDGER_HOST=SERVER_HOST,
        LEDGER_DATA_DIR=str(workdir / "data"),
    )
    return env


@dataclass(frozen=True, slots=True)
class Server:
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

    async def connect(self) -> HttpConnection:
        return await HttpConnection.open(self.host, self.port)


async def _ready(host: str, port: int, path: str) -> bool:
    try:
        conn = await HttpConnection.open(host, port)
    except (OSError, TimeoutError):
        return False
    try:
        return (await conn.request("GET", path)).status == 200
    except (OSError, TimeoutError, RuntimeError):
        return False
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def serving(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    port: int,
    log_path: Path,
    name: str,
    ready_path: str = "/ready",
) -> AsyncIterator[Server]:
    """Run ``command`` (a server listening on ``port``) until ``ready_path`` answers 200;
    on exit SIGTERM it (SIGKILL after :data:`SERVER_STOP_SECONDS`).

    Raises:
        RuntimeError: the process exited, or was not ready within :data:`SERVER_START_SECONDS`
            (the message holds the end of its log).
    """
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *command,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its worker processes get the signal with it
        )
    server = Server(process, SERVER_HOST, port, log_path)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not await _ready(SERVER_HOST, port, ready_path):
            if process.returncode is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{name} not ready after {SERVER_START_SECONDS:g} s:\n{server.log_tail()}"
                )
            await asyncio.sleep(0.1)
        progress(name, f"ready at {server.url} (pid {process.pid})")
        yield server
    finally:
        await _stop(process)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), SERVER_STOP_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


async def _serve_has_workers_option() -> bool:
    """Whether ``ledger serve`` takes ``--workers`` (from its ``--help``)."""
    process = await asyncio.create_subprocess_exec(
        *ledger_command(),
        "serve",
        "--help",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(process.communicate(), CLI_SECONDS)
    return b"--workers" in out


@contextlib.asynccontextmanager
async def ledger_serve(database_url: str, workdir: Path) -> AsyncIterator[Server]:
    """``ledger serve`` with :data:`SERVER_WORKERS` processes on a free port of its own.

    ``--workers`` is passed whenever ``ledger serve`` has it, so a default above 1 there
    cannot give the service more processes than the baseline gets.

    Raises:
        RuntimeError: it did not start (see :func:`serving`), or :data:`SERVER_WORKERS` is
            above 1 and ``ledger serve`` has no ``--workers``.
    """
    port = free_port()
    workers: list[str] = []
    if await _serve_has_workers_option():
        workers = ["--workers", str(SERVER_WORKERS)]
    elif SERVER_WORKERS > 1:
        raise RuntimeError(f"SERVER_WORKERS is {SERVER_WORKERS} but ledger serve has no --workers")
    command = [*ledger_command(), "serve", "--host", SERVER_HOST, "--port", str(port), *workers]
    async with serving(
        command,
        ledger_environment(database_url, workdir),
        port=port,
        log_path=workdir / "ledger-serve.log",
        name="ledger serve",
    ) as server:
        yield server


class _TenantCreated(msgspec.Struct):
    api_key: str


async def create_tenant(database_url: str, workdir: Path, slug: str, base_currency: str) -> str:
    """``ledger tenant create SLUG --base-currency CUR``; the tenant's API key.

    Raises:
        RuntimeError: the command failed (its output is in the message).
    """
    process = await asyncio.create_subprocess_exec(
        *ledger_command(),
        "tenant",
        "create",
        slug,
        "--base-currency",
        base_currency,
        env=ledger_environment(database_url, workdir),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), CLI_SECONDS)
    if process.returncode != 0:
        raise RuntimeError(f"ledger tenant create failed ({process.returncode}): {err.decode()}")
    return msgspec.json.decode(out, type=_TenantCreated).api_key


@dataclass(frozen=True, slots=True)
class LedgerSpec:
    code: str
    type: str
    parent_code: str | None = None


class _Opened(msgspec.Struct):
    id: UUID
    code: str


async def open_ledgers(
    server: Server, api_key: str, specs: Sequence[LedgerSpec], currency: str
) -> dict[str, UUID]:
    """``POST /v1/ledgers`` for each of ``specs`` over :data:`OPEN_CONNECTIONS` connections;
    ledger id by code. A parent must be open before this call.

    Raises:
        HttpError: an answer other than 201.
    """
    opened: dict[str, UUID] = {}
    queue = list(reversed(specs))
    headers = api_key_header(api_key)

    async def opener() -> None:
        conn = await server.connect()
        try:
            while queue:
                spec = queue.pop()
                body: dict[str, object] = {
                    "code": spec.code,
                    "name": f"Bench {spec.code}",
                    "type": spec.type,
                    "currency": currency,
                }
                if spec.parent_code is not None:
                    body["parent"] = {"ledger_code": spec.parent_code}
                answer = await conn.request(
                    "POST", "/v1/ledgers", body=json.dumps(body).encode(), headers=headers
                )
                ledger = msgspec.json.decode(
                    expect(answer, 201, f"open ledger {spec.code}"), type=_Opened
                )
                opened[ledger.code] = ledger.id
        finally:
            await conn.close()

    async with asyncio.TaskGroup() as group:
        for _ in range(min(OPEN_CONNECTIONS, len(specs))):
            group.create_task(opener())
    return opened


@dataclass(frozen=True, slots=True)
class Memory:
    """Resident memory of a server's processes, in MB: the largest one (``rss``), the sum of
    all (``total``), and the largest peak a process reached (``peak``, VmHWM)."""

    rss: float
    total: float
    peak: float


def _status_kb(pid: int) -> dict[str, int]:
    fields: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "PPid"):
                fields[name] = int(value.split()[0])
    return fields


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = _status_kb(int(entry.name)).get("PPid")
            if parent is not None:
                parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def server_memory(server: Server) -> Memory:
    """The memory of ``server``'s process and its children (uvicorn workers), from /proc.

    Raises:
        RuntimeError: /proc has no such process (not Linux, or the server exited).
    """
    pids = [server.process.pid, *_descendants(server.process.pid)]
    statuses = [s for s in (_status_kb(pid) for pid in pids) if "VmRSS" in s]
    if not statuses:
        raise RuntimeError(f"no /proc/{server.process.pid}/status: cannot read the server's RSS")
    return Memory(
        rss=max(s["VmRSS"] for s in statuses) / _KB_PER_MB,
        total=sum(s["VmRSS"] for s in statuses) / _KB_PER_MB,
        peak=max(s.get("VmHWM", 0) for s in statuses) / _KB_PER_MB,
    )


@dataclass(frozen=True, slots=True)
class CliRun:
    """A finished ``ledger`` command: its output, wall time and peak resident memory.

    ``peak_rss_mb`` is the command's own high-water mark (``VmHWM``, read from ``/proc``
    until it exits); ``wait4_rss_mb`` is ``os.wait4``'s ``ru_maxrss``, which Linux makes at
    least the size of the process that forked it (the peak of the image an ``exec``
    replaces is carried into the new one): for reference only.
    """

    stdout: bytes
    seconds: float
    peak_rss_mb: float
    wait4_rss_mb: float


_POLL_SECONDS: Final = 0.02


def _run_and_wait4(argv: list[str], env: dict[str, str], timeout_seconds: float) -> CliRun:
    """Run ``argv`` to its end; raise RuntimeError if it fails or outlives ``timeout_seconds``.

    The child is reaped here with ``os.wait4`` (not by ``Popen.wait``, nor by asyncio's
    child watcher: this runs in a thread of its own), and its ``VmHWM`` is read every
    :data:`_POLL_SECONDS` until then (the high-water mark only grows, so the last reading
    misses at most what the last few milliseconds added). Output goes to files, so that
    no pipe can fill up.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        deadline = started + timeout_seconds
        high_water_kb = 0
        while True:
            high_water_kb = max(high_water_kb, _status_kb(process.pid).get("VmHWM", 0))
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
            time.sleep(_POLL_SECONDS)
        seconds = time.perf_counter() - started
        process.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code != 0:
            raise RuntimeError(
                f"{' '.join(argv[-3:])} failed ({code}): {err.read().decode()[-2000:]}"
            )
        return CliRun(
            stdout=out.read(),
            seconds=seconds,
            peak_rss_mb=(high_water_kb or usage.ru_maxrss) / _KB_PER_MB,
            wait4_rss_mb=usage.ru_maxrss / _KB_PER_MB,
        )


async def run_cli_measured(
    database_url: str, workdir: Path, args: Sequence[str], timeout_seconds: float
) -> CliRun:
    """``ledger ARGS...`` to its end, with its wall time and peak RSS (see :class:`CliRun`).

    Raises:
        RuntimeError: the command failed or ran out of time (its stderr is in the message).
    """
    return await asyncio.to_thread(
        _run_and_wait4,
        [*ledger_command(), *args],
        ledger_environment(database_url, workdir),
        timeout_seconds,
    )
