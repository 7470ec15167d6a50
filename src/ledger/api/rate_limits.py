"""Rate limits per API key on the authenticated routers (docs/api.md §1, Rate limits).

Contract:

- Every request of ``/v1`` and of the seed-compatible ``/external/v1`` takes one token of
  its API key's bucket (``ledger.domain.rate_limits``) once it is authenticated; ``/health``,
  ``/ready``, ``/metrics`` and ``/schema`` are not limited, and a request without a valid key
  is a 401 before it reaches the limiter (it takes no one's tokens).
- A request that finds the bucket empty is answered 429 ``RATE_LIMITED`` with the error
  envelope and ``Retry-After`` (whole seconds, at least 1) and is not run at all;
  ``details`` gives ``retry_after_seconds``, ``limit_per_second`` and ``burst``.
- The buckets live in this process's memory: with ``ledger serve --workers N`` a key may
  make up to N times the configured rate in total.
- ``LEDGER_RATE_LIMIT_PER_SECOND`` and ``LEDGER_RATE_LIMIT_BURST`` (``ledger.config``)
  configure it; a rate of 0 turns it off.
"""

from __future__ import annotations

import time
from typing import Final
from uuid import UUID

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from ledger.api.auth import API_KEY_ID_STATE_KEY
from ledger.config import Settings
from ledger.domain.rate_limits import KeyRateLimiter
from ledger.errors import RateLimited

# The key of the process's limiter on ``app.state`` (set by ``create_app``).
RATE_LIMITER_STATE_KEY: Final = "rate_limiter"
RATE_LIMITED_MESSAGE: Final = "too many requests for this API key; retry after Retry-After seconds"


def rate_limiter_of(settings: Settings) -> KeyRateLimiter:
    """The process's limiter as ``settings`` configure it, on the monotonic clock."""
    return KeyRateLimiter(
        settings.rate_limit_per_second, settings.rate_limit_burst, clock=time.monotonic
    )


def limiter_of(app: Litestar) -> KeyRateLimiter:
    """The limiter ``create_app`` stored on ``app.state``."""
    limiter = app.state.get(RATE_LIMITER_STATE_KEY)
    assert isinstance(limiter, KeyRateLimiter), "create_app stores the rate limiter"
    return limiter


class RateLimitMiddleware(ASGIMiddleware):
    """Refuses a request whose API key has no token left (see the module docstring).

    Mount it after :class:`~ledger.api.auth.AuthenticationMiddleware`: it limits the key
    the authentication stored in the request's state. The buckets are the app's
    (:func:`limiter_of`), not the middleware's: Litestar copies a router's middleware, and
    every router must share one bucket per key.
    """

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        key_id = scope.get("state", {}).get(API_KEY_ID_STATE_KEY)
        if isinstance(key_id, UUID):
            limiter = limiter_of(scope["litestar_app"])
            wait = limiter.take(key_id)
            if wait > 0:
                seconds = KeyRateLimiter.retry_after_seconds(wait)
                raise RateLimited(
                    RATE_LIMITED_MESSAGE,
                    {
                        "retry_after_seconds": seconds,
                        "limit_per_second": limiter.per_second,
                        "burst": limiter.burst,
                    },
                )
        await next_app(scope, receive, send)
