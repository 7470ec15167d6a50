"""GET /health and GET /ready."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar

from ledger.api import create_app
from ledger.api.routes import system
from ledger.bootstrap import Services
from ledger.config import Settings
from ledger.store.database import create_pool
from tests.api.client import http_client


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def _get(app: Litestar, path: str) -> httpx.Response:
    async with http_client(app) as client:
        return await client.get(path)


async def test_not_ready_when_the_database_is_gone(
    settings: Settings, services: Services, database_url: str
) -> None:
    closed = await create_pool(database_url, min_size=0, max_size=1)
    await closed.close()
    app = create_app(settings, services=dataclasses.replace(services, pool=closed))
    response = await _get(app, "/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "UNAVAILABLE"
    assert set(body) == {"code", "message", "details"}
    assert int(response.headers["retry-after"]) >= 1
    # Liveness does not depend on the database.
    assert (await _get(app, "/health")).status_code == 200


class _HangingPool:
    async def fetch(self, query: str) -> Any:
        await asyncio.sleep(60)


async def test_not_ready_when_the_database_hangs(
    settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(system, "READY_TIMEOUT_SECONDS", 0.05)
    hanging = dataclasses.replace(services, pool=cast(Any, _HangingPool()))
    response = await _get(create_app(settings, services=hanging), "/ready")
    assert response.status_code == 503
    assert response.json()["code"] == "UNAVAILABLE"
    assert "retry-after" in response.headers


async def test_app_opens_and_closes_its_own_services(settings: Settings) -> None:
    app = create_app(settings)
    async with app.lifespan(), http_client(app) as client:
        assert isinstance(app.state.services, Services)
        assert (await client.get("/ready")).status_code == 200
        assert (await client.get("/v1/tenant")).status_code == 401
    assert "services" not in app.state
