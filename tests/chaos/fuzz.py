"""Schemathesis against the served OpenAPI document (``tests.fuzz``), as a fault-suite scenario.

A tenant of its own on a fresh database, one ``ledger serve``; ``run_fuzz`` seeds a few real
resources and sends at least ``--fuzz-cases`` generated requests (positive and negative data
for every operation; with ``--fuzz-coverage`` first schemathesis' ~3,000 coverage cases too),
checking every answer against the document: 0 server errors and 0 schema violations, or the
scenario fails with each distinct finding and a curl command that reproduces it. The log the
run leaves must still pass ``ledger audit verify``.
"""

from __future__ import annotations

import asyncio

from tests.chaos.harness import (
    Context,
    Figures,
    Scenario,
    Serve,
    check_audit,
    create_tenant,
)
from tests.fuzz.scenario import run_fuzz


async def _run(ctx: Context, figures: Figures) -> None:
    url = await ctx.new_database("fuzz")
    workdir = ctx.workdir / "fuzz"
    workdir.mkdir()
    api_key = await create_tenant(url, workdir)
    serve = Serve(url, workdir)
    await serve.start()
    try:
        report = await asyncio.to_thread(
            run_fuzz,
            serve.base_url,
            api_key,
            cases=ctx.options.fuzz_cases,
            coverage=ctx.options.fuzz_coverage,
        )
    finally:
        await serve.stop()
    figures.requests = report.cases
    figures.answers.update({str(status): n for status, n in report.statuses.items()})
    figures.notes.append(
        f"schemathesis: {report.cases} cases over {report.operations} operations"
        f" ({report.coverage_cases} coverage), failures by check:"
        f" {dict(report.failures) or 'none'}"
    )
    if not report.ok:
        figures.fail(report.render())
    await check_audit(url, workdir, figures)


SCENARIO = Scenario(
    "fuzz",
    "schemathesis against /schema/openapi.json: 0 server errors, 0 schema violations",
    _run,
)
