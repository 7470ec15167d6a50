"""The schemathesis scenario itself: it passes against the service and fails on a real mismatch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests
import schemathesis

from tests.fuzz.scenario import FuzzReport, _lower_min_position, run_fuzz
from tests.fuzz.serve import served


def test_a_min_position_beyond_the_log_is_lowered_to_one_it_reached() -> None:
    query: dict[str, Any] = {"min_position": "9223372036854775807", "limit": 5}
    _lower_min_position(query, 40)
    assert query == {"min_position": "40", "limit": 5}
    reached: dict[str, Any] = {"min_position": "12"}
    _lower_min_position(reached, 40)
    assert reached == {"min_position": "12"}


def _with_a_wrong_tenant_schema(base_url: str, api_key: str) -> FuzzReport:
    """The run against a document whose ``GET /v1/tenant`` 200 requires a field never sent."""
    document = requests.get(f"{base_url}/schema/openapi.json", timeout=30).json()
    ok = document["paths"]["/v1/tenant"]["get"]["responses"]["200"]
    ok["content"]["application/json"]["schema"] = {"type": "object", "required": ["nothing"]}
    loaded = schemathesis.openapi.from_dict(document, config=schemathesis.Config())
    original = schemathesis.openapi.from_url
    schemathesis.openapi.from_url = lambda *_args, **_kwargs: loaded
    try:
        return run_fuzz(base_url, api_key, cases=20, coverage=False)
    finally:
        schemathesis.openapi.from_url = original


def _both_runs(database_url: str) -> tuple[FuzzReport, FuzzReport]:
    with served(database_url) as (base_url, api_key):
        return (
            run_fuzz(base_url, api_key, cases=60, coverage=False),
            _with_a_wrong_tenant_schema(base_url, api_key),
        )


@pytest.mark.slow
async def test_the_scenario_passes_and_catches_a_response_off_its_document(
    database_url: str,
) -> None:
    report, wrong = await asyncio.to_thread(_both_runs, database_url)
    assert report.ok, report.render()
    assert report.cases >= 60
    assert report.statuses.keys() & {200, 201}
    assert report.statuses.keys() & {400, 404, 422}
    assert not wrong.ok
    assert wrong.failures["response_schema_conformance"] >= 1
    assert "FAIL response_schema_conformance GET /v1/tenant -> 200" in wrong.render()
