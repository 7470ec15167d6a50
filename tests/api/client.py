"""An in-process HTTP client for the app under test.

``httpx.AsyncClient`` over ``httpx.ASGITransport`` runs the app on the test's own event loop.
Litestar 2's ``AsyncTestClient`` runs the app in another thread and loop (a blocking portal,
litestar#1920), where the asyncpg pool of the ``services`` fixture cannot be used.
"""

from __future__ import annotations

from typing import Any, cast

import httpx
from litestar import Litestar

BASE_URL = "http://ledger.test"


def http_client(app: Litestar) -> httpx.AsyncClient:
    """A client for ``app``. It does not run the lifespan: wrap in ``app.lifespan()`` for that."""
    # cast: httpx types the ASGI callable loosely, Litestar precisely; both are ASGI 3.
    transport = httpx.ASGITransport(app=cast(Any, app))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)
