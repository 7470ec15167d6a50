"""Named benchmark scenarios, the rows they return, and the ratios they declare."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class BenchContext:
    """What a scenario gets: a fresh, migrated database of its own and the run's timings.

    ``database_url`` points at a database created for this run (dropped after it);
    ``server_url`` at the server's maintenance database, for scenarios that need another
    database of their own.
    """

    database_url: str
    server_url: str
    warmup_seconds: float
    duration_seconds: float
    quick: bool


@dataclass(frozen=True, kw_only=True)
class ResultRow:
    """One measured configuration: how many operations completed in the timed window.

    ``key`` names the row for ratios (unique within its scenario); ``label`` is for people.
    Latencies are per operation, from the caller's point of view, in milliseconds.
    """

    key: str
    label: str
    unit: str
    concurrency: int
    operations: int
    seconds: float
    p50_ms: float
    p99_ms: float
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.operations / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "unit": self.unit,
            "concurrency": self.concurrency,
            "operations": self.operations,
            "seconds": round(self.seconds, 4),
            "rate": round(self.rate, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "extra": {k: round(v, 3) for k, v in self.extra.items()},
        }


@dataclass(frozen=True, kw_only=True)
class Ratio:
    """``rate(numerator) / rate(denominator)``; with a ``target``, an acceptance check."""

    label: str
    numerator: str
    denominator: str
    target: float | None = None


@dataclass(frozen=True, kw_only=True)
class RatioResult:
    ratio: Ratio
    value: float

    @property
    def passed(self) -> bool | None:
        if self.ratio.target is None:
            return None
        return self.value >= self.ratio.target

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.ratio.label,
            "numerator": self.ratio.numerator,
            "denominator": self.ratio.denominator,
            "value": round(self.value, 3),
            "target": self.ratio.target,
            "passed": self.passed,
        }


ScenarioFunction = Callable[[BenchContext], Awaitable[list[ResultRow]]]


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    description: str
    run: ScenarioFunction
    ratios: tuple[Ratio, ...]

    def evaluate(self, rows: Sequence[ResultRow]) -> list[RatioResult]:
        """The declared ratios over ``rows``.

        Raises:
            KeyError: a ratio names a row the scenario did not return (a bug in the scenario).
        """
        by_key = {row.key: row for row in rows}
        assert len(by_key) == len(rows), "row keys must be unique within a scenario"
        results: list[RatioResult] = []
        for ratio in self.ratios:
            denominator = by_key[ratio.denominator].rate
            value = by_key[ratio.numerator].rate / denominator if denominator > 0 else 0.0
            results.append(RatioResult(ratio=ratio, value=value))
        return results


_SCENARIOS: dict[str, Scenario] = {}


def register(
    name: str, *, description: str, ratios: Sequence[Ratio] = ()
) -> Callable[[ScenarioFunction], ScenarioFunction]:
    """Register the decorated async function as scenario ``name`` (run in registration order)."""

    def decorate(function: ScenarioFunction) -> ScenarioFunction:
        assert name not in _SCENARIOS, f"scenario {name!r} registered twice"
        _SCENARIOS[name] = Scenario(
            name=name, description=description, run=function, ratios=tuple(ratios)
        )
        return function

    return decorate


def scenarios() -> dict[str, Scenario]:
    """Every registered scenario, by name, in registration order."""
    return dict(_SCENARIOS)
