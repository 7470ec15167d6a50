"""Liveness, readiness and metrics (no authentication, no ``/v1`` prefix).

- ``GET /health`` → 200 ``{"status": "ok"}`` whenever the process serves HTTP; it touches
  no dependency, so an orchestrator never restarts us because the database is down.
- ``GET /ready`` → 200 ``{"status": "ready"}`` when the database answers (reading the
  projection failures, ``ledger.projections.failures``) within :data:`READY_TIMEOUT_SECONDS`
  and no asynchronous projection is failing; else 503 ``UNAVAILABLE`` with ``Retry-After``
  (a failing projection is named in ``details.failing_projections``).
- ``GET /metrics`` → 200 Prometheus text (``ledger.api.metrics``), no tenant data; 503 when
  the database does not answer within the same timeout.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final, Literal

import msgspec
from litestar import Controller, Response, get

from ledger import limits
from ledger.api.auth import ServicesDep
from ledger.api.errors import error_responses
from ledger.api.metrics import CONTENT_TYPE, METRICS, ProjectionSnapshot
from ledger.bootstrap import Services, async_projections
from ledger.errors import Unavailable
from ledger.projections.failures import FailureRecord, read_failures

log = logging.getLogger(__name__)

# A module name, so a test can shorten it.
READY_TIMEOUT_SECONDS: Final = limits.READY_TIMEOUT_SECONDS


class HealthBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    status: Literal["ok"]


class ReadyBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    status: Literal["ready"]


async def _failures(services: Services) -> dict[str, FailureRecord]:
    """The recorded projection failures, or :class:`Unavailable` when the database does not
    answer within :data:`READY_TIMEOUT_SECONDS`."""
    try:
        # The timeout covers waiting for a pooled connection too: an exhausted pool is as
        # unready as a dead server.
        return await asyncio.wait_for(read_failures(services.pool), READY_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        log.warning("the database did not answer a probe: %r", exc)
        raise Unavailable(
            "the database is not answering",
            {"retry_after_seconds": limits.READY_RETRY_AFTER_SECONDS},
        ) from None


def _failing_details(failures: dict[str, FailureRecord]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "position": record.failing.position,
            "error_class": record.failing.error_class,
            "attempts": record.failing.attempts,
            "since": record.failing.since.isoformat(),
        }
        for name, record in sorted(failures.items())
        if record.failing is not None
    ]


class SystemController(Controller):
    """The probes ``/health`` and ``/ready`` and ``/metrics`` (at the root, no authentication)."""

    path = "/"
    tags = ["system"]

    @get(
        "/health",
        summary="Liveness",
        description="200 while the process serves HTTP. Does not touch the database.",
        responses=error_responses(500),
    )
    async def health(self) -> HealthBody:
        return HealthBody(status="ok")

    @get(
        "/ready",
        summary="Readiness",
        description=(
            f"200 when the database answers within {READY_TIMEOUT_SECONDS:g} s and no"
            " asynchronous projection is failing; 503 names a failing projection and the"
            " position of the event it cannot apply in `details.failing_projections`."
        ),
        responses=error_responses(500, 503),
    )
    async def ready(self, services: ServicesDep) -> ReadyBody:
        failing = _failing_details(await _failures(services))
        if failing:
            first = failing[0]
            raise Unavailable(
                f"projection {first['name']} cannot apply the event at position"
                f" {first['position']} (ledger projections status)",
                {
                    "retry_after_seconds": limits.READY_RETRY_AFTER_SECONDS,
                    "failing_projections": failing,
                },
            )
        return ReadyBody(status="ready")

    @get(
        "/metrics",
        summary="Prometheus metrics",
        description=(
            "Prometheus text format 0.0.4: the log's position and, per asynchronous"
            " projection, its position, lag, whether it is failing and its failed attempts."
            " No tenant data."
        ),
        media_type=CONTENT_TYPE,
        responses=error_responses(500, 503),
    )
    async def metrics(self, services: ServicesDep) -> Response[bytes]:
        failures = await _failures(services)
        runner = services.runner
        names = [p.name for p in (runner.projections if runner else async_projections())]
        tracker = services.tracker
        snapshot = ProjectionSnapshot(
            log_position=tracker.log_position,
            positions={name: tracker.position(name) for name in {*names, *failures}},
            failures=failures,
        )
        return Response(METRICS.render(snapshot), media_type=CONTENT_TYPE)
