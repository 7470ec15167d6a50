"""Authentication of /v1 and GET /v1/tenant (docs/api.md §1 Auth, §2)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from ledger.api.allow import AllowEveryMethodMiddleware
from ledger.api.auth import AuthenticationMiddleware
from ledger.api.body import BodySizeLimitMiddleware
from ledger.bootstrap import Services
from ledger.commands.tenants import NewKey, TenantCommands

ACME = {"slug": "acme", "name": "Acme Corp", "base_currency": "USD"}


def assert_unauthenticated(response: Any) -> None:
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "ledger-position" not in response.headers


async def test_tenant_with_x_api_key(client: httpx.AsyncClient, acme_key: NewKey) -> None:
    response = await client.get("/v1/tenant", headers={"X-API-KEY": acme_key.api_key})
    assert response.status_code == 200
    assert response.json() == ACME


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
async def test_tenant_with_bearer(client: httpx.AsyncClient, acme_key: NewKey, scheme: str) -> None:
    response = await client.get(
        "/v1/tenant", headers={"Authorization": f"{scheme} {acme_key.api_key}"}
    )
    assert response.status_code == 200
    assert response.json() == ACME


async def test_both_headers_with_the_same_key_are_fine(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    key = acme_key.api_key
    response = await client.get(
        "/v1/tenant", headers={"X-API-KEY": key, "Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200


async def test_no_key_is_401(client: httpx.AsyncClient) -> None:
    assert_unauthenticated(await client.get("/v1/tenant"))


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-KEY": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-KEY": "not-a-key"},
        {"X-API-KEY": "x" * 10_000},
    ],
)
async def test_missing_or_malformed_key_is_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    assert_unauthenticated(await client.get("/v1/tenant", headers=headers))


async def test_unknown_key_is_401(
    client: httpx.AsyncClient, services: Services, acme_key: NewKey
) -> None:
    # Same shape as a real key, but never issued: issue one for another tenant and tamper
    # with its secret.
    other, _ = await services.tenants.create_tenant("other", "EUR")
    forged = other.api_key[:-4] + ("AAAA" if not other.api_key.endswith("AAAA") else "BBBB")
    assert_unauthenticated(await client.get("/v1/tenant", headers={"X-API-KEY": forged}))
    assert_unauthenticated(
        await client.get("/v1/tenant", headers={"Authorization": f"Bearer {forged}"})
    )


async def test_revoked_key_is_401(
    client: httpx.AsyncClient, services: Services, acme_key: NewKey
) -> None:
    headers = {"X-API-KEY": acme_key.api_key}
    assert (await client.get("/v1/tenant", headers=headers)).status_code == 200
    await services.tenants.revoke_key(acme_key.key_id)
    assert_unauthenticated(await client.get("/v1/tenant", headers=headers))


async def test_another_key_of_a_revoked_tenant_still_works(
    client: httpx.AsyncClient, services: Services, acme_key: NewKey
) -> None:
    second, _ = await services.tenants.create_key("acme")
    await services.tenants.revoke_key(acme_key.key_id)
    response = await client.get("/v1/tenant", headers={"X-API-KEY": second.api_key})
    assert response.status_code == 200
    assert response.json() == ACME


async def test_conflicting_keys_are_401(
    client: httpx.AsyncClient, services: Services, acme_key: NewKey
) -> None:
    other, _ = await services.tenants.create_tenant("other", "EUR")
    response = await client.get(
        "/v1/tenant",
        headers={"X-API-KEY": acme_key.api_key, "Authorization": f"Bearer {other.api_key}"},
    )
    assert_unauthenticated(response)


async def test_each_key_sees_its_own_tenant(
    client: httpx.AsyncClient, services: Services, acme_key: NewKey
) -> None:
    globex, _ = await services.tenants.create_tenant("globex", "JPY", "Globex")
    acme = await client.get("/v1/tenant", headers={"X-API-KEY": acme_key.api_key})
    other = await client.get("/v1/tenant", headers={"Authorization": f"Bearer {globex.api_key}"})
    assert acme.json() == ACME
    assert other.json() == {"slug": "globex", "name": "Globex", "base_currency": "JPY"}


async def test_get_carries_ledger_position(client: httpx.AsyncClient, services: Services) -> None:
    key, position = await services.tenants.create_tenant("acme", "USD")
    response = await client.get("/v1/tenant", headers={"X-API-KEY": key.api_key})
    assert response.status_code == 200
    header = response.headers["ledger-position"]
    assert header.isdigit()
    # The tenant's creation is reflected in what this GET read.
    assert int(header) >= position

    _, later = await services.tenants.create_key("acme")
    response = await client.get("/v1/tenant", headers={"X-API-KEY": key.api_key})
    assert int(response.headers["ledger-position"]) >= later > position


async def test_unauthenticated_request_does_not_reach_the_handler_for_any_v1_route(
    app: Litestar,
) -> None:
    # Every /v1 handler is behind the middleware, outermost: a new route cannot forget it.
    v1_routes = [r for r in app.routes if r.path.startswith("/v1")]
    assert v1_routes
    for route in v1_routes:
        assert isinstance(route, HTTPRoute), route.path
        for handler in route.route_handlers:
            # Innermost first; only the app's body size check and the OPTIONS ``Allow``
            # rewrite (no work, no DB) are outside it.
            outer_first = list(reversed(handler.resolve_middleware()))
            assert isinstance(outer_first[0], BodySizeLimitMiddleware), route.path
            assert isinstance(outer_first[1], AllowEveryMethodMiddleware), route.path
            assert isinstance(outer_first[2], AuthenticationMiddleware), route.path


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-KEY": "not-a-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
async def test_writes_get_the_same_401(
    client: httpx.AsyncClient, acme_key: NewKey, headers: dict[str, str]
) -> None:
    body = {"code": "cash", "name": "Cash", "type": "asset"}
    assert_unauthenticated(await client.post("/v1/ledgers", json=body, headers=headers))


async def test_a_cached_key_revoked_elsewhere_cannot_write(
    client: httpx.AsyncClient, services: Services, acme_key: NewKey
) -> None:
    headers = {"X-API-KEY": acme_key.api_key}
    assert (await client.get("/v1/tenant", headers=headers)).status_code == 200
    assert services.api_keys.get(acme_key.key_id) is not None
    # Revoked as another process would (``ledger key revoke``): this process's cache is not
    # told, so the write must be refused by the batch's own check, not by a cache miss.
    await TenantCommands(services.committer).revoke_key(acme_key.key_id)
    assert services.api_keys.get(acme_key.key_id) is not None

    body = {"code": "cash", "name": "Cash", "type": "asset"}
    assert_unauthenticated(await client.post("/v1/ledgers", json=body, headers=headers))
    # The batch that refused it evicted it: reads are refused from now on too.
    assert services.api_keys.get(acme_key.key_id) is None
    assert_unauthenticated(await client.get("/v1/tenant", headers=headers))
    # Nothing was written.
    second, _ = await services.tenants.create_key("acme")
    listed = await client.get("/v1/ledgers", headers={"X-API-KEY": second.api_key})
    assert listed.status_code == 200
    assert listed.json()["data"] == []


async def test_a_key_revoked_here_is_refused_at_once(
    client: httpx.AsyncClient, services: Services, acme_key: NewKey
) -> None:
    headers = {"X-API-KEY": acme_key.api_key}
    assert (await client.get("/v1/tenant", headers=headers)).status_code == 200
    await services.tenants.revoke_key(acme_key.key_id)
    assert services.api_keys.get(acme_key.key_id) is None
    assert_unauthenticated(await client.get("/v1/tenant", headers=headers))


async def test_a_valid_key_is_read_once_per_ttl(
    client: httpx.AsyncClient, services: Services, acme_key: NewKey
) -> None:
    headers = {"X-API-KEY": acme_key.api_key}
    for _ in range(3):
        assert (await client.get("/v1/tenant", headers=headers)).status_code == 200
    assert services.api_keys.get(acme_key.key_id) is not None
    # A wrong secret for a cached key id is still refused (the digest is compared each time).
    forged = acme_key.api_key[:-4] + ("AAAA" if not acme_key.api_key.endswith("AAAA") else "BBBB")
    assert_unauthenticated(await client.get("/v1/tenant", headers={"X-API-KEY": forged}))


async def test_a_cached_key_revoked_elsewhere_cannot_post_a_journal(
    client: httpx.AsyncClient, services: Services, acme_key: NewKey
) -> None:
    # The journal handler reads the revocation in its counter query (one round trip less):
    # the same refusal as the committer's own check.
    headers = {"X-API-KEY": acme_key.api_key}
    for code in ("cash", "sales"):
        body = {"code": code, "name": code, "type": "asset"}
        assert (await client.post("/v1/ledgers", json=body, headers=headers)).status_code == 201
    journal = {
        "date": "2026-01-02",
        "entries": [
            {"ledger_code": "cash", "direction": "debit", "amount": 5},
            {"ledger_code": "sales", "direction": "credit", "amount": 5},
        ],
    }
    assert (await client.post("/v1/journals", json=journal, headers=headers)).status_code == 201
    await TenantCommands(services.committer).revoke_key(acme_key.key_id)
    assert services.api_keys.get(acme_key.key_id) is not None

    assert_unauthenticated(await client.post("/v1/journals", json=journal, headers=headers))
    assert services.api_keys.get(acme_key.key_id) is None
    assert await services.pool.fetchval("SELECT count(*) FROM journals") == 1
