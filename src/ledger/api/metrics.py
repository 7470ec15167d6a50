"""``GET /metrics``: the process's Prometheus registry (text format 0.0.4, no tenant data).

Contract
--------
- :data:`METRICS` owns the one ``prometheus_client.CollectorRegistry`` of the process. A
  family is added by registering a collector (or a ``Counter``/``Histogram`` built with
  ``registry=METRICS.registry``) here; nothing else creates a registry.
- Projection families are read, per scrape, from memory (the process's
  :class:`~ledger.projections.tracking.PositionTracker`) and from the small
  ``ledger_projection_failures`` table (any process's runner records there): never a scan of
  the log. Labels are projection names only.

Families: ``ledger_event_store_position``; per asynchronous projection (label
``projection``) ``ledger_projection_position``, ``ledger_projection_lag_events``,
``ledger_projection_failing`` (0/1) and ``ledger_projection_failures_total``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ledger.projections.failures import FailureRecord

# What ``generate_latest`` writes (the classic text format every Prometheus reads).
CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4
PROJECTION_LABEL: Final = "projection"


@dataclass(frozen=True, slots=True)
class ProjectionSnapshot:
    """What one scrape reports about the log and the asynchronous projections."""

    log_position: int
    # Each asynchronous projection's tracking position.
    positions: Mapping[str, int]
    failures: Mapping[str, FailureRecord] = field(default_factory=dict)


class _ProjectionCollector:
    """Yields the projection families of the snapshot it was last given."""

    def __init__(self) -> None:
        self.snapshot = ProjectionSnapshot(0, {})

    def describe(self) -> list[Metric]:
        # Nothing to check for name clashes at registration (families are built per scrape).
        return []

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        yield GaugeMetricFamily(
            "ledger_event_store_position",
            "The last committed position of the event log.",
            value=snap.log_position,
        )
        position = GaugeMetricFamily(
            "ledger_projection_position",
            "The last log position the projection's tables reflect.",
            labels=[PROJECTION_LABEL],
        )
        lag = GaugeMetricFamily(
            "ledger_projection_lag_events",
            "Log positions committed but not yet folded into the projection.",
            labels=[PROJECTION_LABEL],
        )
        failing = GaugeMetricFamily(
            "ledger_projection_failing",
            "1 while the projection cannot apply an event (ledger projections status).",
            labels=[PROJECTION_LABEL],
        )
        failures = CounterMetricFamily(
            "ledger_projection_failures",
            "Failed attempts to apply an event, ever recorded.",
            labels=[PROJECTION_LABEL],
        )
        for name in sorted({*snap.positions, *snap.failures}):
            reached = snap.positions.get(name, 0)
            record = snap.failures.get(name)
            position.add_metric([name], reached)
            lag.add_metric([name], max(snap.log_position - reached, 0))
            failing.add_metric([name], int(record is not None and record.failing is not None))
            failures.add_metric([name], record.failures_total if record is not None else 0)
        yield from (position, lag, failing, failures)


class LedgerMetrics:
    """The process's registry and its collectors (module doc)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._projections = _ProjectionCollector()
        self.registry.register(self._projections)

    def render(self, snapshot: ProjectionSnapshot) -> bytes:
        """The exposition text with ``snapshot``'s projection values."""
        # No await between setting and rendering: concurrent scrapes never mix snapshots.
        self._projections.snapshot = snapshot
        return generate_latest(self.registry)


METRICS: Final = LedgerMetrics()
