"""How the benchmark's checks read figures and decide PASS / FAIL (no database)."""

from __future__ import annotations

import pytest

from ledger.bench.registry import BenchContext, Bound, ChecksFunction, Ratio, ResultRow, Scenario


def _row(key: str, operations: int, p99_ms: float, **extra: float) -> ResultRow:
    return ResultRow(
        key=key,
        label=key,
        unit="ops/s",
        concurrency=1,
        operations=operations,
        seconds=1.0,
        p50_ms=p99_ms / 2,
        p99_ms=p99_ms,
        extra=extra,
    )


async def _no_rows(_context: BenchContext) -> list[ResultRow]:
    return []


def _scenario(bounds: tuple[Bound, ...] = (), checks: ChecksFunction | None = None) -> Scenario:
    return Scenario(
        name="s", description="d", run=_no_rows, ratios=(), bounds=bounds, checks=checks
    )


ROWS = [_row("fast", 900, 4.0, rss_mb=120.0), _row("slow", 1_000, 8.0)]


@pytest.mark.parametrize(
    ("ratio", "value", "passed"),
    [
        (Ratio(label="r", numerator="fast", denominator="slow", target=0.8), 0.9, True),
        (Ratio(label="r", numerator="fast", denominator="slow", target=0.95), 0.9, False),
        (Ratio(label="r", numerator="fast", denominator="slow"), 0.9, None),
        (
            Ratio(
                label="r",
                numerator="slow",
                denominator="fast",
                metric="p99_ms",
                target=1.5,
                at_most=True,
            ),
            2.0,
            False,
        ),
        (
            Ratio(
                label="r",
                numerator="fast",
                denominator="slow",
                metric="p99_ms",
                target=1.5,
                at_most=True,
            ),
            0.5,
            True,
        ),
    ],
)
def test_ratio_compares_a_metric_of_two_rows(
    ratio: Ratio, value: float, passed: bool | None
) -> None:
    (result,) = _scenario(checks=lambda _rows: [ratio]).evaluate(ROWS)

    assert result.value == pytest.approx(value)
    assert result.passed is passed


@pytest.mark.parametrize(
    ("bound", "passed"),
    [
        (Bound(label="b", row="fast", metric="p99_ms", target=5.0, unit="ms"), True),
        (Bound(label="b", row="slow", metric="p99_ms", target=5.0, unit="ms"), False),
        (Bound(label="b", row="fast", metric="rss_mb", target=100.0, unit="MB"), False),
        (Bound(label="b", row="slow", metric="rate", target=950.0, unit="/s", at_least=True), True),
    ],
)
def test_bound_holds_a_figure_to_an_absolute_target(bound: Bound, passed: bool) -> None:
    (result,) = _scenario(bounds=(bound,)).evaluate(ROWS)

    assert result.passed is passed
    assert ("PASS" if passed else "FAIL") in result.describe()


def test_a_check_naming_a_missing_row_is_a_scenario_bug() -> None:
    bound = Bound(label="b", row="absent", metric="p99_ms", target=1.0, unit="ms")

    with pytest.raises(KeyError):
        _scenario(bounds=(bound,)).evaluate(ROWS)
