"""``python -m tests.chaos``: run the fault suite (``make chaos``; docs/chaos.md).

Starts a PostgreSQL cluster of its own (:mod:`tests.chaos.cluster`), runs each scenario of
:mod:`tests.chaos.registry` in turn against ``ledger serve`` and the ``ledger`` CLI as
subprocesses, prints each scenario's figures and verdict, and exits 1 if any scenario
failed (2 on bad usage). The defaults are CI's bounded sizes; ``--kills``, ``--restarts``,
``--burst`` and ``--clients`` make bigger runs (``make chaos CHAOS_ARGS="..."``).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from tests.chaos.cluster import Cluster
from tests.chaos.harness import Context, Figures, Options, Scenario
from tests.chaos.registry import SCENARIOS

# CI's sizes: the whole suite in about 3 minutes on 2 busy cores.
DEFAULTS: Final = Options(
    kills=3, process_kills=2, restarts=3, clients=4, burst=50, fuzz_cases=2000, fuzz_coverage=False
)


def _parser() -> argparse.ArgumentParser:
    names = [s.name for s in SCENARIOS]
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument(
        "--only",
        nargs="+",
        choices=names,
        metavar="NAME",
        help=f"run only these scenarios: {', '.join(names)}",
    )
    parser.add_argument(
        "--kills",
        type=int,
        default=DEFAULTS.kills,
        help="kill -9 of ledger serve",
    )
    parser.add_argument(
        "--process-kills",
        type=int,
        default=DEFAULTS.process_kills,
        help="kill -9 of each projection process (projections run, projections rebuild)",
    )
    parser.add_argument(
        "--restarts", type=int, default=DEFAULTS.restarts, help="immediate PostgreSQL restarts"
    )
    parser.add_argument(
        "--clients", type=int, default=DEFAULTS.clients, help="concurrent clients posting journals"
    )
    parser.add_argument(
        "--burst",
        type=int,
        default=DEFAULTS.burst,
        help="journals acknowledged between two faults (and after the last)",
    )
    parser.add_argument(
        "--fuzz-cases",
        type=int,
        default=DEFAULTS.fuzz_cases,
        help="schemathesis' generated cases (at least; scenario fuzz)",
    )
    parser.add_argument(
        "--fuzz-coverage",
        action="store_true",
        help="also run schemathesis' ~3,000 coverage cases first (scenario fuzz)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (server logs) after the run"
    )
    return parser


async def _run_one(scenario: Scenario, ctx: Context) -> Figures:
    figures = Figures()
    print(f"== {scenario.name}: {scenario.summary}", flush=True)
    started = time.monotonic()
    try:
        await scenario.run(ctx, figures)
    except Exception as e:  # any exception fails the scenario, with its trace
        figures.fail(f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
    verdict = "FAIL" if figures.failures else "PASS"
    for line in figures.lines():
        print(f"   {line}")
    for failure in figures.failures:
        print(f"   FAILURE: {failure}")
    print(f"-- {scenario.name}: {verdict} ({time.monotonic() - started:.0f} s)", flush=True)
    return figures


async def _main(chosen: Sequence[Scenario], options: Options, workdir: Path) -> int:
    cluster = Cluster()
    await asyncio.to_thread(cluster.start)
    print(f"chaos: PostgreSQL of its own at {cluster.url()}", flush=True)
    ctx = Context(cluster, workdir, options)
    results: list[tuple[str, Figures]] = []
    try:
        for scenario in chosen:
            results.append((scenario.name, await _run_one(scenario, ctx)))
    finally:
        await asyncio.to_thread(cluster.stop)
    failed = [name for name, figures in results if figures.failures]
    print(
        f"chaos: {len(results) - len(failed)} passed, {len(failed)} failed"
        + (f" ({', '.join(failed)})" if failed else "")
    )
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    options = Options(
        kills=args.kills,
        process_kills=args.process_kills,
        restarts=args.restarts,
        clients=args.clients,
        burst=args.burst,
        fuzz_cases=args.fuzz_cases,
        fuzz_coverage=args.fuzz_coverage,
    )
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only]
    workdir = Path(tempfile.mkdtemp(prefix="ledger-chaos-"))
    try:
        return asyncio.run(_main(chosen, options, workdir))
    finally:
        if args.keep:
            print(f"chaos: logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
