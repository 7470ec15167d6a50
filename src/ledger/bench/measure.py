"""The shared timed loop: N workers repeat one operation; count what completes in a window.

Each worker calls its operation back to back. The first ``warmup_seconds`` are not counted
(pools connect, statements get prepared, caches fill); then every operation that *completes*
inside the ``duration_seconds`` window is counted and its latency kept. Workers stop
starting operations when the window closes and finish the one under way.

A failing operation fails the whole measurement (``TaskGroup``): a benchmark that quietly
counts errors as work measures nothing.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

Operation = Callable[[], Awaitable[object]]
Hook = Callable[[], None]

_NS_PER_MS = 1_000_000
_NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Measurement:
    operations: int
    seconds: float
    p50_ms: float
    p99_ms: float


def percentile_ms(sorted_ns: Sequence[int], fraction: float) -> float:
    """Nearest-rank percentile of ``sorted_ns`` (nanoseconds, ascending), in milliseconds."""
    assert 0.0 < fraction <= 1.0
    if not sorted_ns:
        return 0.0
    rank = max(1, min(len(sorted_ns), math.ceil(fraction * len(sorted_ns))))
    return sorted_ns[rank - 1] / _NS_PER_MS


async def run_workers(
    operations: Sequence[Operation],
    *,
    warmup_seconds: float,
    duration_seconds: float,
    on_window_start: Hook | None = None,
    on_window_end: Hook | None = None,
) -> Measurement:
    """Run one worker per entry of ``operations`` and measure the window after the warm-up.

    ``on_window_start`` and ``on_window_end`` are called when the window opens and closes
    (to snapshot counters such as the group committer's).
    """
    assert operations, "at least one worker"
    assert warmup_seconds >= 0
    assert duration_seconds > 0
    now = time.perf_counter_ns()
    window_start = now + int(warmup_seconds * _NS_PER_S)
    window_end = window_start + int(duration_seconds * _NS_PER_S)
    latencies: list[int] = []

    async def worker(operation: Operation) -> None:
        record = latencies.append
        clock = time.perf_counter_ns
        while True:
            started = clock()
            if started >= window_end:
                return
            await operation()
            finished = clock()
            if window_start <= finished < window_end:
                record(finished - started)

    async def window_hooks() -> None:
        await asyncio.sleep(max(0, window_start - time.perf_counter_ns()) / _NS_PER_S)
        if on_window_start is not None:
            on_window_start()
        await asyncio.sleep(max(0, window_end - time.perf_counter_ns()) / _NS_PER_S)
        if on_window_end is not None:
            on_window_end()

    async with asyncio.TaskGroup() as group:
        group.create_task(window_hooks())
        for operation in operations:
            group.create_task(worker(operation))

    latencies.sort()
    return Measurement(
        operations=len(latencies),
        seconds=duration_seconds,
        p50_ms=percentile_ms(latencies, 0.50),
        p99_ms=percentile_ms(latencies, 0.99),
    )
