"""Fixtures for the HTTP tests: the real app on a fresh database, driven in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from ledger.api import create_app
from ledger.bootstrap import Services
from ledger.commands.tenants import NewKey
from ledger.config import Settings
from tests.api.client import http_client


@pytest.fixture
def app(settings: Settings, services: Services) -> Litestar:
    return create_app(settings, services=services)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as client:
        yield client


@pytest.fixture
async def acme_key(services: Services) -> NewKey:
    key, _position = await services.tenants.create_tenant("acme", "USD", "Acme Corp")
    return key
