"""Rate limits per API key (docs/api.md §1, Rate limits): 429 ``RATE_LIMITED`` with
``Retry-After`` once a key's bucket is empty, per key, on /v1 and /external/v1 alike, never on
the operational routes. The bucket's clock is a settable one: refill without sleeping."""

from __future__ import annotations

import httpx
import pytest
from litestar import Litestar

from ledger.api import create_app
from ledger.bootstrap import Services
from ledger.commands.tenants import NewKey
from ledger.config import Settings
from ledger.domain.rate_limits import KeyRateLimiter
from tests.api.client import http_client

PER_SECOND = 1
BURST = 3


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(settings: Settings, services: Services, clock: Clock) -> Litestar:
    limiter = KeyRateLimiter(PER_SECOND, BURST, clock=clock)
    return create_app(settings, services=services, rate_limiter=limiter)


def _auth(key: NewKey) -> dict[str, str]:
    return {"X-API-KEY": key.api_key}


async def _spend_burst(client: httpx.AsyncClient, key: NewKey) -> None:
    for _ in range(BURST):
        assert (await client.get("/v1/tenant", headers=_auth(key))).status_code == 200


def _assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == "RATE_LIMITED"
    assert body["details"] == {
        "retry_after_seconds": 1,
        "limit_per_second": PER_SECOND,
        "burst": BURST,
    }


async def test_the_request_after_the_burst_is_429_with_retry_after(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    await _spend_burst(client, acme_key)
    _assert_rate_limited(await client.get("/v1/tenant", headers=_auth(acme_key)))
    # Writes take from the same bucket, and a refused write runs nothing.
    refused = await client.post(
        "/v1/ledgers",
        headers=_auth(acme_key),
        json={"code": "cash", "name": "Cash", "type": "asset"},
    )
    _assert_rate_limited(refused)


async def test_a_refill_admits_the_key_again(
    client: httpx.AsyncClient, acme_key: NewKey, clock: Clock
) -> None:
    await _spend_burst(client, acme_key)
    _assert_rate_limited(await client.get("/v1/tenant", headers=_auth(acme_key)))
    clock.now += 1.0 / PER_SECOND  # one token
    assert (await client.get("/v1/tenant", headers=_auth(acme_key))).status_code == 200
    _assert_rate_limited(await client.get("/v1/tenant", headers=_auth(acme_key)))
    clock.now += BURST / PER_SECOND  # full again
    await _spend_burst(client, acme_key)


async def test_another_key_is_not_limited_by_the_first(
    client: httpx.AsyncClient, acme_key: NewKey, services: Services
) -> None:
    second_key, _ = await services.tenants.create_key("acme")
    other_tenant, _ = await services.tenants.create_tenant("globex", "EUR", "Globex")
    await _spend_burst(client, acme_key)
    _assert_rate_limited(await client.get("/v1/tenant", headers=_auth(acme_key)))
    await _spend_burst(client, second_key)
    await _spend_burst(client, other_tenant)


async def test_the_seed_compatible_path_shares_the_keys_bucket(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    await _spend_burst(client, acme_key)
    response = await client.post(
        "/external/v1/journal_entries/create/", headers=_auth(acme_key), json={}
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"


async def test_operational_routes_and_bad_keys_are_not_limited(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    await _spend_burst(client, acme_key)
    for _ in range(BURST + 2):
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/schema/openapi.json")).status_code == 200
        # No valid key: 401, whoever's bucket is empty.
        assert (await client.get("/v1/tenant")).status_code == 401


async def test_a_rate_of_zero_turns_limiting_off(
    settings: Settings, services: Services, acme_key: NewKey, clock: Clock
) -> None:
    off = create_app(settings, services=services, rate_limiter=KeyRateLimiter(0, 1, clock=clock))
    async with http_client(off) as client:
        for _ in range(10):
            assert (await client.get("/v1/tenant", headers=_auth(acme_key))).status_code == 200


async def test_every_authenticated_operation_documents_429(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    checked = 0
    for path, item in document["paths"].items():
        if not path.startswith(("/v1", "/external/v1")):
            continue
        for method, operation in item.items():
            assert "429" in operation["responses"], (path, method)
            checked += 1
    assert checked > 20
