"""A failing projection event: recorded, shown (status, /ready, /metrics), backed off, cleared."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from ledger import cli, limits
from ledger.api import create_app
from ledger.bootstrap import Services, open_services
from ledger.config import Settings
from ledger.projections.failures import (
    MESSAGE_CHARS_MAX,
    Failing,
    FailureRecord,
    describe_error,
    read_failures,
    record_failure,
)
from ledger.projections.rebuild import rebuild
from ledger.projections.runner import ProjectionRunner, backoff_schedule, ensure_tracking
from ledger.projections.trial_balance import TrialBalanceProjection
from ledger.store.database import DbConnection
from ledger.store.group_commit import PositionedEvent
from tests.api.client import http_client
from tests.projections.helpers import (
    REACH_WAIT_SECONDS,
    fresh_replay_differences,
    open_books,
    post,
    run_cli_async,
)

NAME = TrialBalanceProjection.name
# Failed attempts the test lets happen before it holds the runner in its back-off.
PARK_AT = 9


class PoisonError(Exception):
    """What the poisoned projection raises at its poison position."""


class PoisonedTrialBalance(TrialBalanceProjection):
    """The trial balance, unable to apply the event at ``poison_at`` until it is set to None
    (a bug, then its fix)."""

    def __init__(self, poison_at: int | None, mapper: Any) -> None:
        super().__init__(mapper)
        self.poison_at = poison_at

    def _check(self, positions: Sequence[int]) -> None:
        if self.poison_at is not None and self.poison_at in positions:
            raise PoisonError(f"cannot fold the event at position {self.poison_at}")

    async def apply(self, conn: DbConnection, events: Sequence[PositionedEvent]) -> None:
        self._check([e.position for e in events])
        await super().apply(conn, events)

    async def apply_recorded(self, conn: DbConnection, rows: Sequence[Any]) -> None:
        self._check([r[0] for r in rows])
        await super().apply_recorded(conn, rows)


class ParkingSleep:
    """The runner's back-off clock: records each wait and returns at once (as if the time had
    passed), except from the ``park_at``-th wait on, which lasts until ``release``."""

    def __init__(self, park_at: int) -> None:
        self.waits: list[float] = []
        self.park_at = park_at
        self.parked = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if len(self.waits) >= self.park_at:
            self.parked.set()
            await self.release.wait()


def _metrics(text: str) -> dict[tuple[str, str], float]:
    """(sample name, projection label or "") -> value."""
    return {
        (sample.name, sample.labels.get("projection", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _probe(services: Services, settings: Settings, runner: ProjectionRunner) -> Any:
    app = create_app(settings, services=dataclasses.replace(services, runner=runner))
    async with http_client(app) as client:
        return await client.get("/ready"), await client.get("/metrics")


async def _status(database_url: str, tmp_path: Path) -> dict[str, Any]:
    code, stdout, stderr = await run_cli_async(database_url, tmp_path, "projections", "status")
    assert code == 0, stderr
    (entry,) = [p for p in json.loads(stdout)["projections"] if p["name"] == NAME]
    assert isinstance(entry, dict)
    return entry


async def test_a_failing_event_is_recorded_shown_backed_off_and_cleared_once_it_applies(
    settings: Settings, database_url: str, server_url: str, tmp_path: Path
) -> None:
    async with open_services(settings, run_projections=False) as services:
        books = await open_books(services)
        await post(services, books, 0, 1, 100)
        _, poison = await post(services, books, 2, 1, 250)
        _, head = await post(services, books, 0, 3, 75)
        projection = PoisonedTrialBalance(poison, services.store.mapper)
        sleeps = ParkingSleep(PARK_AT)
        runner = ProjectionRunner(
            services.pool,
            [projection],
            tracker=services.tracker,
            mapper=services.store.mapper,
            sleep=sleeps,
        )
        await runner.start()
        try:
            await asyncio.wait_for(sleeps.parked.wait(), REACH_WAIT_SECONDS)
            await _assert_failing(services, settings, runner, sleeps, poison, head)
            status = await _status(database_url, tmp_path)
            assert status["position"] == poison - 1
            assert status["lag"] == head - poison + 1
            assert status["failing"]["position"] == poison
            assert status["failing"]["attempts"] == PARK_AT
            assert status["failing"]["error_class"] == f"{__name__}.PoisonError"
            assert status["failing"]["error_message"] == (
                f"cannot fold the event at position {poison}"
            )

            # The fix: the event applies at the next attempt, and the failure is cleared.
            projection.poison_at = None
            sleeps.release.set()
            reached = await services.tracker.wait_for(NAME, head, REACH_WAIT_SECONDS)
            assert reached == head
            await _assert_cleared(services, settings, runner, head)
            assert (await _status(database_url, tmp_path))["failing"] is None
        finally:
            await runner.stop()
        # Folding one event at a time around the failure folded each exactly once.
        assert await fresh_replay_differences(services, server_url) == {}


async def _assert_failing(
    services: Services,
    settings: Settings,
    runner: ProjectionRunner,
    sleeps: ParkingSleep,
    poison: int,
    head: int,
) -> None:
    record = (await read_failures(services.pool))[NAME]
    assert record.failing is not None
    # The exact event, although the first batch held all three.
    assert record.failing.position == poison
    assert record.failing.error_class == f"{__name__}.PoisonError"
    # Each attempt after the first waited its back-off: doubling from the first, bounded.
    assert record.failing.attempts == len(sleeps.waits) == PARK_AT
    assert record.failures_total == PARK_AT
    assert sleeps.waits == list(itertools.islice(backoff_schedule(), PARK_AT))
    assert sleeps.waits[0] == limits.PROJECTION_RETRY_SECONDS_FIRST
    assert sleeps.waits[-1] == max(sleeps.waits) == limits.PROJECTION_RETRY_SECONDS_MAX
    # Everything before the failing event is folded.
    assert services.tracker.position(NAME) == poison - 1
    assert runner.failing[NAME] == record.failing

    ready, metrics = await _probe(services, settings, runner)
    assert ready.status_code == 503
    assert ready.headers["retry-after"] == str(limits.READY_RETRY_AFTER_SECONDS)
    body = ready.json()
    assert body["code"] == "UNAVAILABLE"
    assert str(poison) in body["message"]
    (failing,) = body["details"]["failing_projections"]
    assert failing["name"] == NAME
    assert failing["position"] == poison
    assert failing["attempts"] == PARK_AT

    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    values = _metrics(metrics.text)
    assert values["ledger_event_store_position", ""] == head
    assert values["ledger_projection_position", NAME] == poison - 1
    assert values["ledger_projection_lag_events", NAME] == head - poison + 1
    assert values["ledger_projection_failing", NAME] == 1
    assert values["ledger_projection_failures_total", NAME] == PARK_AT


async def _assert_cleared(
    services: Services, settings: Settings, runner: ProjectionRunner, head: int
) -> None:
    record = (await read_failures(services.pool))[NAME]
    assert record == FailureRecord(NAME, PARK_AT, None)
    assert NAME not in runner.failing
    ready, metrics = await _probe(services, settings, runner)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}
    values = _metrics(metrics.text)
    assert values["ledger_projection_position", NAME] == head
    assert values["ledger_projection_lag_events", NAME] == 0
    assert values["ledger_projection_failing", NAME] == 0
    # A counter: the attempts stay counted after the failure is cleared.
    assert values["ledger_projection_failures_total", NAME] == PARK_AT


async def test_metrics_need_no_key_and_show_no_tenant_data(
    settings: Settings, services: Services
) -> None:
    books = await open_books(services, slug="secret-tenant")
    _, position = await post(services, books, 0, 1, 123_456_789)
    assert await services.tracker.wait_for(NAME, position, REACH_WAIT_SECONDS) is not None
    async with http_client(create_app(settings, services=services)) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert "secret-tenant" not in text
    assert str(books.tenant_id) not in text
    assert "123456789" not in text
    values = _metrics(text)
    assert values["ledger_event_store_position", ""] >= position
    assert values["ledger_projection_failing", NAME] == 0
    assert values["ledger_projection_failures_total", NAME] == 0
    assert {name for name, _ in values} == {
        "ledger_event_store_position",
        "ledger_projection_position",
        "ledger_projection_lag_events",
        "ledger_projection_failing",
        "ledger_projection_failures_total",
    }


async def test_a_rebuild_past_the_failing_event_clears_the_failure(
    settings: Settings, database_url: str
) -> None:
    async with open_services(settings, run_projections=False) as services:
        async with services.pool.acquire() as conn:
            assert await ensure_tracking(conn, NAME) == 0
        books = await open_books(services)
        _, position = await post(services, books, 0, 1, 100)
        # As a runner records it: the event after the tracking position cannot be applied.
        recorded = await record_failure(services.pool, NAME, PoisonError("broken"))
        assert recorded.failing is not None
        assert recorded.failing.position == 1
        report = await rebuild(database_url, [TrialBalanceProjection()], async_names={NAME})
        assert report.position == position
        assert (await read_failures(services.pool))[NAME] == FailureRecord(NAME, 1, None)


def test_a_recorded_error_is_one_bounded_line_without_the_database_detail() -> None:
    detail = ValueError(
        'duplicate key value violates unique constraint "t_pkey"\n'
        "DETAIL:  Key (code)=(tenant-secret) already exists."
    )
    assert describe_error(detail) == (
        "ValueError",
        'duplicate key value violates unique constraint "t_pkey"',
    )
    kind, message = describe_error(PoisonError("x" * 10_000 + "\x00"))
    assert kind == f"{__name__}.PoisonError"
    assert len(message) == MESSAGE_CHARS_MAX
    assert message.endswith("…")
    assert describe_error(PoisonError("a\x00b")) == (kind, "a?b")
    assert describe_error(RuntimeError()) == ("RuntimeError", "")


def test_status_on_a_terminal_says_failing_with_position_error_and_attempts() -> None:
    since = dt.datetime(2026, 12, 7, 23, 0, tzinfo=dt.UTC)
    failing = Failing(1234, "tests.PoisonError", "cannot fold", since, 3, since)
    assert cli._status_state(failing) == (
        "FAILING at position 1,234: tests.PoisonError: cannot fold"
        " (3 attempts since 2026-12-07T23:00:00+00:00)"
    )
    assert cli._status_state(None) == "ok"
