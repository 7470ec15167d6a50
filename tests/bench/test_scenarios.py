"""Every registered benchmark scenario runs at its smallest size (``--tiny``).

``make bench`` is not part of ``make test``, so without this a scenario could break unseen
(``journals_http`` did). Each scenario runs through the runner's own code path (a database
of its own on the test server, its checks evaluated, the report printed and serialised);
what it measures is never asserted: tests never assert timings.
"""

from __future__ import annotations

import json
import math

import pytest

from ledger.bench.runner import format_report, load_scenarios, new_report, run_scenarios

SCENARIOS = load_scenarios()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_scenario_runs_at_tiny_size(server_url: str, name: str) -> None:
    report = new_report("test server", "asyncio", quick=False, tiny=True)

    await run_scenarios(server_url, [SCENARIOS[name]], report)

    (item,) = report.scenarios
    assert item.rows, "a scenario returns at least one row"
    assert any(row.operations > 0 for row in item.rows)
    assert all(math.isfinite(check.value) for check in item.checks)
    printed = format_report(report)
    assert f"[{name}]" in printed
    assert all(check.check.label in printed for check in item.checks)
    encoded = json.loads(json.dumps(report.as_json()))
    assert len(encoded["scenarios"][name]["rows"]) == len(item.rows)
    assert len(encoded["scenarios"][name]["checks"]) == len(item.checks)


def test_every_scenario_module_registers_a_scenario() -> None:
    assert {"store", "journals_http", "rebuild", "reconciliation", "volume", "audit"} <= set(
        SCENARIOS
    )
