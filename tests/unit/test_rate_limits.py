"""The token bucket per API key (``ledger.domain.rate_limits``), on a clock moved by hand."""

from __future__ import annotations

import pytest

from ledger.domain.rate_limits import KeyRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_admitted_then_the_wait_for_one_token_is_told() -> None:
    clock = Clock()
    limiter = KeyRateLimiter(4, 2, clock=clock)
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(0.25)
    # A refused request took nothing: the wait does not grow.
    assert limiter.take("a") == pytest.approx(0.25)
    clock.now += 0.25
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0


def test_keys_have_their_own_buckets() -> None:
    limiter = KeyRateLimiter(1, 1, clock=Clock())
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    assert limiter.take("b") == 0.0


def test_tokens_never_exceed_the_burst_and_a_clock_step_back_takes_none() -> None:
    clock = Clock()
    limiter = KeyRateLimiter(1, 2, clock=clock)
    limiter.take("a")
    clock.now += 1000
    assert [limiter.take("a") for _ in range(2)] == [0.0, 0.0]
    assert limiter.take("a") > 0
    clock.now -= 500
    assert limiter.take("a") == pytest.approx(1.0)


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert KeyRateLimiter.retry_after_seconds(0.01) == 1
    assert KeyRateLimiter.retry_after_seconds(1.0) == 1
    assert KeyRateLimiter.retry_after_seconds(1.2) == 2


def test_memory_is_bounded_and_idle_buckets_are_dropped() -> None:
    clock = Clock()
    limiter = KeyRateLimiter(1, 5, clock=clock, keys_max=3)
    for key in range(10):
        limiter.take(key)
    assert len(limiter) == 3
    # Refilled buckets are the same as none: dropped at the next request.
    clock.now += 5
    limiter.take("new")
    assert len(limiter) == 1


def test_a_rate_of_zero_admits_everything_and_keeps_nothing() -> None:
    limiter = KeyRateLimiter(0, 1, clock=Clock())
    assert all(limiter.take("a") == 0.0 for _ in range(100))
    assert len(limiter) == 0
