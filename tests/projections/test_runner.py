"""The asynchronous projection runner: exactly once across crashes, woken by NOTIFY."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.bootstrap import async_projections, open_services
from ledger.config import Settings
from ledger.projections.runner import ProjectionRunner
from ledger.projections.trial_balance import TrialBalanceProjection
from tests.projections.helpers import (
    REACH_WAIT_SECONDS,
    fresh_replay_differences,
    open_books,
    random_activity,
)

KILLS = 20
# Longer than any test runs: a runner with this poll is only ever woken by the tracker.
NEVER_POLLS_SECONDS = 3600.0


async def _tracking(conn_source: object, name: str) -> int:
    value = await conn_source.fetchval(  # type: ignore[attr-defined]
        "SELECT notification_id FROM ledger_tracking WHERE application_name = $1", name
    )
    return int(value or 0)


@pytest.mark.slow
async def test_kill_9_at_random_moments_neither_loses_nor_double_counts(
    settings: Settings, database_url: str, server_url: str, tmp_path: Path
) -> None:
    # This process writes; only the subprocess runs the projection, and is killed 20 times.
    async with open_services(settings, run_projections=False) as services:
        books = await open_books(services)
        stop = asyncio.Event()
        writes = 0

        async def write() -> None:
            nonlocal writes
            rng = random.Random(7)
            while not stop.is_set():
                await random_activity(services, books, rng)
                writes += 1

        writer = asyncio.create_task(write())
        env = {**os.environ, "LEDGER_DATABASE_URL": database_url, "LEDGER_DATA_DIR": str(tmp_path)}
        rng = random.Random(2026)
        seen: list[int] = []
        name = TrialBalanceProjection.name
        for _ in range(KILLS):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "ledger.cli",
                "projections",
                "run",
                "--batch-events",
                str(rng.choice([1, 3, 7])),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            assert process.stderr is not None
            while b"following the log" not in await asyncio.wait_for(process.stderr.readline(), 20):
                pass
            # Each runner folds at least one batch before it dies (its NOTIFY tells this
            # process), so every kill is known to come after progress, however slow the
            # machine; then a random moment of its life: folding a batch, committing, or
            # waiting.
            folded = await services.tracker.wait_for(
                name, (seen[-1] if seen else 0) + 1, REACH_WAIT_SECONDS
            )
            assert folded is not None
            await asyncio.sleep(rng.uniform(0.0, 0.4))
            process.kill()  # SIGKILL: no cleanup, mid-transaction or not
            await process.wait()
            seen.append(await _tracking(services.pool, name))
        stop.set()
        await writer

        # The killed runners folded events between every two kills, never backwards.
        assert writes > 0
        assert seen == sorted(set(seen)), seen

        runner = ProjectionRunner(services.pool, async_projections(), tracker=services.tracker)
        reached = await runner.catch_up()
        assert reached[name] == await services.store.max_position()
        assert await fresh_replay_differences(services, server_url) == {}


async def test_in_process_runner_follows_writes_without_polling(settings: Settings) -> None:
    # Woken through the tracker (the committer tells it before the writer learns its
    # position): a runner whose own poll would come only after an hour folds every write.
    async with open_services(settings, run_projections=False) as services:
        runner = ProjectionRunner(
            services.pool,
            async_projections(),
            tracker=services.tracker,
            mapper=services.store.mapper,
            poll_seconds=NEVER_POLLS_SECONDS,
        )
        await runner.start()
        try:
            books = await open_books(services)
            rng = random.Random(3)
            for _ in range(10):
                position = await random_activity(services, books, rng)
                assert services.tracker.log_position >= position
                reached = await services.tracker.wait_for(
                    TrialBalanceProjection.name, position, REACH_WAIT_SECONDS
                )
                assert reached is not None
                assert reached >= position
                assert await _tracking(services.pool, TrialBalanceProjection.name) >= position
        finally:
            await runner.stop()
