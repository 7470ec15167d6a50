"""Fixtures for the HTTP tests: the real app on a fresh database, driven in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from ledger import limits
from ledger.api import create_app
from ledger.bootstrap import Services
from ledger.commands.tenants import NewKey
from ledger.config import Settings
from tests.api.client import http_client

# A reachable ``min_position`` is waited for however slow the machine is: the tests check
# what is read, never how soon (the test of the 503 sets a short wait of its own).
PATIENT_WAIT_SECONDS = 120.0


@pytest.fixture(autouse=True)
def patient_position_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MIN_POSITION_WAIT_SECONDS_MAX", PATIENT_WAIT_SECONDS)


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
