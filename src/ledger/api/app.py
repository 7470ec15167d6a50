"""The Litestar application: routes, auth, errors, limits and OpenAPI wired together.

Contract of :func:`create_app`:

- ``services=None`` (production): a lifespan opens ``open_services(settings)`` on start-up,
  stores it on ``app.state.services`` and closes it on shutdown.
  ``services`` given (tests, embedding): used as-is, never closed by the app.
- ``GET /health``, ``GET /ready`` at the root; everything else under ``/v1`` (and seed 002
  under ``/external/v1``, errors in its shape), where a middleware authenticates every
  request (``ledger.api.auth``), limits each API key's request rate
  (``ledger.api.rate_limits``), then refuses NUL, unknown query parameters and loose
  integers (``ledger.api.strict``), and GET responses carry ``Ledger-Position``
  (``ledger.api.positions``).
- Every error is the envelope of ``ledger.api.errors``, including 404/405 for unknown routes.
- Request bodies are limited to ``limits.REQUEST_BODY_BYTES_MAX`` (413 beyond).
- OpenAPI 3.1 at ``/schema/openapi.json`` (``ledger.api.openapi``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import IO, Final

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.types import ControllerRouterHandler, ExceptionHandlersMap

from ledger import limits
from ledger.api.allow import AllowEveryMethodMiddleware
from ledger.api.auth import (
    AuthenticationMiddleware,
    provide_api_key_id,
    provide_services,
    provide_tenant,
)
from ledger.api.body import BodySizeLimitMiddleware
from ledger.api.compat.journal_entries import SEED_EXCEPTION_HANDLERS
from ledger.api.errors import exception_handlers
from ledger.api.openapi import (
    V1_SECURITY,
    StrictStructSchemaPlugin,
    openapi_config,
)
from ledger.api.positions import LedgerPositionMiddleware
from ledger.api.rate_limits import RATE_LIMITER_STATE_KEY, RateLimitMiddleware, rate_limiter_of
from ledger.api.routes import EXTERNAL_V1_ROUTES, SYSTEM_ROUTES, V1_ROUTES
from ledger.api.strict import StrictInputMiddleware, install_query_specs
from ledger.bootstrap import Services, open_services
from ledger.config import Settings, load_settings
from ledger.domain.rate_limits import KeyRateLimiter

API_PREFIX = "/v1"
# Seed 002's path: authenticated like /v1, its errors in the seed's shape.
EXTERNAL_PREFIX = "/external/v1"


def _services_lifespan(
    settings: Settings, *, apply_migrations: bool = True, run_projections: bool = True
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_services(
            settings, apply_migrations=apply_migrations, run_projections=run_projections
        ) as services:
            app.state.services = services
            try:
                yield
            finally:
                # Requests still in flight after shutdown fail loudly instead of using a
                # closed pool.
                del app.state.services

    return lifespan


def _authenticated_router(
    path: str,
    routes: list[ControllerRouterHandler],
    exception_handlers: ExceptionHandlersMap | None = None,
) -> Router:
    """A router whose every request is authenticated (``ledger.api.auth``), then rate
    limited per API key (``ledger.api.rate_limits``)."""
    return Router(
        path,
        route_handlers=list(routes),
        dependencies={
            "tenant": Provide(provide_tenant, sync_to_thread=False),
            "api_key_id": Provide(provide_api_key_id, sync_to_thread=False),
        },
        # Authentication first: nothing else runs for a request without a valid key; then
        # the key's rate limit (an invalid request counts too). Strict input before
        # positions: an invalid request is refused at once, never held for ``min_position``.
        middleware=[
            AuthenticationMiddleware(),
            RateLimitMiddleware(),
            StrictInputMiddleware(),
            LedgerPositionMiddleware(),
        ],
        security=V1_SECURITY,
        exception_handlers=exception_handlers,
    )


def create_app(
    settings: Settings,
    *,
    services: Services | None = None,
    apply_migrations: bool = True,
    run_projections: bool = True,
    rate_limiter: KeyRateLimiter | None = None,
) -> Litestar:
    """Build the HTTP application (see the module docstring for the contract).

    ``apply_migrations`` and ``run_projections`` are passed to ``open_services`` when the
    app opens its own services (``services=None``). ``rate_limiter`` (tests: a settable
    clock) replaces the one ``settings`` configure; both routers share it, so a key has one
    bucket whichever path it calls.
    """
    limiter = rate_limiter if rate_limiter is not None else rate_limiter_of(settings)
    v1 = _authenticated_router(API_PREFIX, V1_ROUTES)
    external = _authenticated_router(
        EXTERNAL_PREFIX, EXTERNAL_V1_ROUTES, exception_handlers=SEED_EXCEPTION_HANDLERS
    )
    app = Litestar(
        route_handlers=[*SYSTEM_ROUTES, v1, external],
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        exception_handlers=exception_handlers(),
        middleware=[BodySizeLimitMiddleware(), AllowEveryMethodMiddleware()],
        request_max_body_size=limits.REQUEST_BODY_BYTES_MAX,
        openapi_config=openapi_config(),
        plugins=[StrictStructSchemaPlugin()],
        lifespan=[]
        if services is not None
        else [
            _services_lifespan(
                settings, apply_migrations=apply_migrations, run_projections=run_projections
            )
        ],
        state=State(
            {RATE_LIMITER_STATE_KEY: limiter}
            | ({"services": services} if services is not None else {})
        ),
        # Never render debug pages (they contain traces); errors are logged by our handlers
        # through the standard ``logging`` tree the process configures.
        debug=False,
        logging_config=None,
    )
    install_query_specs(app)
    return app


# ``ledger serve --workers N`` (N > 1): the parent has migrated and passes the database URL
# and the path of this lock file to its worker processes in the environment.
RUNNER_LOCK_VARIABLE: Final = "LEDGER_SERVE_RUNNER_LOCK"
_runner_lock: list[IO[bytes]] = []


def _claim_projection_runner(path: str) -> bool:
    """Whether this process runs the asynchronous projections: the one that holds an
    exclusive ``flock`` on ``path``, kept for the process's life. The kernel drops it when the
    process dies, so the worker uvicorn starts in its place (or any other) can take over
    at its next start. One runner is enough; two would be safe too (each step locks its
    tracking row), only wasteful."""
    import fcntl

    handle = open(path, "ab")  # noqa: SIM115 - held open for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    _runner_lock.append(handle)
    return True


def create_worker_app() -> Litestar:
    """The app of one ``ledger serve --workers N`` worker process (a uvicorn factory):
    settings from the environment, no migrations (the parent applied them), and the
    asynchronous projection runner only in the worker that holds the runner lock."""
    lock = os.environ.get(RUNNER_LOCK_VARIABLE)
    return create_app(
        load_settings(),
        apply_migrations=False,
        run_projections=_claim_projection_runner(lock) if lock else True,
    )
