"""Named benchmark scenarios, the rows they return, and the checks they declare.

A check compares figures of one run against a target:

- :class:`Ratio`: one row's figure over another's (a contender over its baseline measured in
  the same run, or a latency at 1M postings over the same at 10k); a floor by default, a
  ceiling with ``at_most``.
- :class:`Bound`: one row's figure against an absolute target (a p99 in ms, an RSS in MB).
  Absolute figures depend on the machine: read them beside the ratios, not instead of them.

Static checks are given to :func:`register`; a scenario whose rows depend on the run's size
(``--quick`` stops earlier than a full run) computes its checks from its rows (``checks``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class BenchContext:
    """What a scenario gets: a fresh, migrated database of its own and the run's timings.

    ``database_url`` points at a database created for this run (dropped after it);
    ``server_url`` at the server's maintenance database, for scenarios that need another
    database of their own. ``quick`` asks for smaller sizes; ``tiny`` for the smallest that
    still runs every step (the test suite runs every scenario so), and wins over ``quick``.
    """

    database_url: str
    server_url: str
    warmup_seconds: float
    duration_seconds: float
    quick: bool
    tiny: bool = False


@dataclass(frozen=True, kw_only=True)
class ResultRow:
    """One measured configuration: how many operations completed in the timed window.

    ``key`` names the row for checks (unique within its scenario); ``label`` is for people.
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

    def metric(self, name: str) -> float:
        """``rate``, ``p50_ms``, ``p99_ms`` or a key of ``extra``.

        Raises:
            KeyError: no such figure on this row (a bug in the scenario's checks).
        """
        if name == "rate":
            return self.rate
        if name == "p50_ms":
            return self.p50_ms
        if name == "p99_ms":
            return self.p99_ms
        return self.extra[name]

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
    """``metric(numerator) / metric(denominator)``; with a ``target``, an acceptance check.

    The target is a floor (throughput against a baseline), or a ceiling with ``at_most``
    (latency growth: p99 at 1M postings over p99 at 10k).
    """

    label: str
    numerator: str
    denominator: str
    target: float | None = None
    metric: str = "rate"
    at_most: bool = False


@dataclass(frozen=True, kw_only=True)
class Bound:
    """``metric(row)`` against an absolute ``target``: a ceiling, or a floor with ``at_least``.

    ``unit`` is how the figure prints (``ms``, ``MB``, ``journals/s``).
    """

    label: str
    row: str
    metric: str
    target: float
    unit: str
    at_least: bool = False


Check = Ratio | Bound


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """A check's figure; ``passed`` is None for a ratio shown without a target."""

    check: Check
    value: float

    @property
    def passed(self) -> bool | None:
        check = self.check
        if check.target is None:
            return None
        upper = check.at_most if isinstance(check, Ratio) else not check.at_least
        return self.value <= check.target if upper else self.value >= check.target

    def describe(self) -> str:
        """``label: value (target <= t) PASS``, as the report prints it."""
        check = self.check
        unit = "x" if isinstance(check, Ratio) else f" {check.unit}"
        text = f"{check.label}: {_number(self.value)}{unit}"
        if check.target is not None:
            upper = check.at_most if isinstance(check, Ratio) else not check.at_least
            verdict = "PASS" if self.passed else "FAIL"
            text += f"  (target {'<=' if upper else '>='} {_number(check.target)}{unit})  {verdict}"
        return text

    def as_json(self) -> dict[str, Any]:
        check = self.check
        common = {
            "label": check.label,
            "metric": check.metric,
            "value": round(self.value, 3),
            "target": check.target,
            "passed": self.passed,
        }
        if isinstance(check, Ratio):
            return {
                "kind": "ratio",
                **common,
                "numerator": check.numerator,
                "denominator": check.denominator,
                "at_most": check.at_most,
            }
        return {
            "kind": "bound",
            **common,
            "row": check.row,
            "unit": check.unit,
            "at_least": check.at_least,
        }


def _number(value: float) -> str:
    """``1,234`` / ``12.3`` / ``0.8``: whole numbers from 100 up, else at most 2 decimals."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


ScenarioFunction = Callable[[BenchContext], Awaitable[list[ResultRow]]]
ChecksFunction = Callable[[Sequence[ResultRow]], Sequence[Check]]
RenderFunction = Callable[[Sequence[ResultRow]], list[str]]


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A registered scenario. ``render``, when set, prints its rows instead of the default
    table (a growth table, say); the JSON report always holds every row."""

    name: str
    description: str
    run: ScenarioFunction
    ratios: tuple[Ratio, ...]
    bounds: tuple[Bound, ...] = ()
    checks: ChecksFunction | None = None
    render: RenderFunction | None = None

    def evaluate(self, rows: Sequence[ResultRow]) -> list[CheckResult]:
        """The declared checks over ``rows``: static ratios, static bounds, then computed ones.

        Raises:
            KeyError: a check names a row or figure the scenario did not return (a bug in
                the scenario).
        """
        by_key = {row.key: row for row in rows}
        assert len(by_key) == len(rows), "row keys must be unique within a scenario"
        computed = tuple(self.checks(rows)) if self.checks is not None else ()
        results: list[CheckResult] = []
        for check in (*self.ratios, *self.bounds, *computed):
            if isinstance(check, Ratio):
                denominator = by_key[check.denominator].metric(check.metric)
                numerator = by_key[check.numerator].metric(check.metric)
                value = numerator / denominator if denominator > 0 else 0.0
            else:
                value = by_key[check.row].metric(check.metric)
            results.append(CheckResult(check=check, value=value))
        return results


_SCENARIOS: dict[str, Scenario] = {}


def register(
    name: str,
    *,
    description: str,
    ratios: Sequence[Ratio] = (),
    bounds: Sequence[Bound] = (),
    checks: ChecksFunction | None = None,
    render: RenderFunction | None = None,
) -> Callable[[ScenarioFunction], ScenarioFunction]:
    """Register the decorated async function as scenario ``name`` (run in registration order)."""

    def decorate(function: ScenarioFunction) -> ScenarioFunction:
        assert name not in _SCENARIOS, f"scenario {name!r} registered twice"
        _SCENARIOS[name] = Scenario(
            name=name,
            description=description,
            run=function,
            ratios=tuple(ratios),
            bounds=tuple(bounds),
            checks=checks,
            render=render,
        )
        return function

    return decorate


def scenarios() -> dict[str, Scenario]:
    """Every registered scenario, by name, in registration order."""
    return dict(_SCENARIOS)
