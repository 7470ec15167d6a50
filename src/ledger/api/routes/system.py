"""Liveness and readiness probes (no authentication, no ``/v1`` prefix).

- ``GET /health`` → 200 ``{"status": "ok"}`` whenever the process serves HTTP; it touches
  no dependency, so an orchestrator never restarts us because the database is down.
- ``GET /ready`` → 200 ``{"status": "ready"}`` when ``SELECT 1`` on the pool answers within
  :data:`READY_TIMEOUT_SECONDS`, else 503 ``UNAVAILABLE`` with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final, Literal

import msgspec
from litestar import Controller, get

from ledger import limits
from ledger.api.auth import ServicesDep
from ledger.api.errors import error_responses
from ledger.errors import Unavailable

log = logging.getLogger(__name__)

# A module name, so a test can shorten it.
READY_TIMEOUT_SECONDS: Final = limits.READY_TIMEOUT_SECONDS


class HealthBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    status: Literal["ok"]


class ReadyBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    status: Literal["ready"]


class SystemController(Controller):
    """The probes ``/health`` and ``/ready`` (served at the root, without authentication)."""

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
            f"200 when the database answers `SELECT 1` within {READY_TIMEOUT_SECONDS:g} s."
        ),
        responses=error_responses(500, 503),
    )
    async def ready(self, services: ServicesDep) -> ReadyBody:
        try:
            # The timeout covers waiting for a pooled connection too: an exhausted pool is as
            # unready as a dead server.
            await asyncio.wait_for(services.pool.fetchval("SELECT 1"), READY_TIMEOUT_SECONDS)
        except Exception as exc:  # any failure means "not ready"; the reason goes to the log
            log.warning("readiness check failed: %r", exc)
            raise Unavailable(
                "the database is not answering",
                {"retry_after_seconds": limits.READY_RETRY_AFTER_SECONDS},
            ) from None
        return ReadyBody(status="ready")
