"""Read-your-writes (docs/api.md §1, Positions): ``min_position`` on every GET, the
``Ledger-Position`` header, and 503 when a position is not reached in time."""

from __future__ import annotations

import asyncio
import time

import httpx

from ledger import limits
from ledger.bootstrap import Services, open_services
from ledger.commands.tenants import NewKey
from ledger.config import Settings
from tests.projections.helpers import Books, post

DAY = "2026-06-01"


async def _ledgers(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[str, str]:
    cash = await client.post(
        "/v1/ledgers", headers=headers, json={"code": "cash", "name": "Cash", "type": "asset"}
    )
    revenue = await client.post(
        "/v1/ledgers", headers=headers, json={"code": "rev", "name": "Revenue", "type": "income"}
    )
    assert cash.status_code == revenue.status_code == 201
    return cash.json()["id"], revenue.json()["id"]


def _journal(amount: int) -> dict[str, object]:
    return {
        "date": DAY,
        "entries": [
            {"ledger_code": "cash", "direction": "debit", "amount": amount},
            {"ledger_code": "rev", "direction": "credit", "amount": amount},
        ],
    }


async def test_a_get_with_the_position_of_a_write_always_reflects_it(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    headers = {"X-API-KEY": acme_key.api_key}
    cash, _ = await _ledgers(client, headers)
    total = 0
    for amount in range(1, 31):
        posted = await client.post("/v1/journals", headers=headers, json=_journal(amount))
        assert posted.status_code == 201
        total += amount
        position = posted.json()["position"]
        # Inline data (balances) and asynchronous data (trial balance) alike.
        balances = await client.get(
            f"/v1/ledgers/{cash}/balances",
            headers=headers,
            params={"as_of": "2026-12-31", "min_position": position},
        )
        assert balances.status_code == 200
        assert int(balances.headers["ledger-position"]) >= position
        assert balances.json()["balances"][0]["posted"] == total
        trial = await client.get(
            "/v1/trial-balance",
            headers=headers,
            params={"as_of": "2026-12-31", "min_position": position},
        )
        assert trial.status_code == 200
        assert int(trial.headers["ledger-position"]) >= position
        assert trial.json()["totals"] == {"debits": total, "credits": total}


async def test_a_write_by_another_process_is_waited_for(
    client: httpx.AsyncClient, acme_key: NewKey, settings: Settings, services: Services
) -> None:
    # Another process: its own pool and committer; this app learns positions by NOTIFY.
    headers = {"X-API-KEY": acme_key.api_key}
    cash, _ = await _ledgers(client, headers)
    async with open_services(settings, run_projections=False) as other:
        tenant_id = await other.pool.fetchval("SELECT tenant_id FROM tenants WHERE slug = 'acme'")
        rows = await other.pool.fetch(
            "SELECT ledger_id FROM ledgers WHERE tenant_id = $1 ORDER BY num_id", tenant_id
        )
        books = Books(tenant_id, [r["ledger_id"] for r in rows])
        for amount in (5, 7, 11):
            _, position = await post(other, books, 0, 1, amount)
            response = await client.get(
                f"/v1/ledgers/{cash}/balances",
                headers=headers,
                params={"as_of": "2026-12-31", "min_position": position},
            )
            assert response.status_code == 200
            assert int(response.headers["ledger-position"]) >= position
            trial = await client.get(
                "/v1/trial-balance",
                headers=headers,
                params={"as_of": "2026-12-31", "min_position": position},
            )
            assert trial.status_code == 200
        assert response.json()["balances"][0]["posted"] == 23
        assert trial.json()["totals"]["debits"] == 23
    assert services.tracker.log_position >= position


async def test_an_unreachable_min_position_answers_503_after_the_wait(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    started = time.monotonic()
    response = await client.get(
        "/v1/tenant", headers={"X-API-KEY": acme_key.api_key}, params={"min_position": 10**12}
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["code"] == "UNAVAILABLE"
    assert response.json()["details"]["min_position"] == 10**12
    assert response.headers["retry-after"].isdigit()
    assert "ledger-position" in response.headers
    assert (
        limits.MIN_POSITION_WAIT_SECONDS_MAX - 0.5
        <= elapsed
        < limits.MIN_POSITION_WAIT_SECONDS_MAX + 2
    )


async def test_a_waiting_get_answers_as_soon_as_the_position_commits(
    client: httpx.AsyncClient, acme_key: NewKey, services: Services
) -> None:
    headers = {"X-API-KEY": acme_key.api_key}
    await _ledgers(client, headers)
    target = services.tracker.log_position + 1
    waiting = asyncio.create_task(
        client.get("/v1/trial-balance", headers=headers, params={"min_position": target})
    )
    await asyncio.sleep(0.2)
    assert not waiting.done()
    started = time.monotonic()
    posted = await client.post("/v1/journals", headers=headers, json=_journal(9))
    assert posted.json()["position"] == target
    response = await waiting
    assert response.status_code == 200
    assert time.monotonic() - started < 1.0


async def test_min_position_must_be_a_non_negative_integer(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    for value in ("-1", "abc", "1.5", ""):
        response = await client.get(
            "/v1/tenant", headers={"X-API-KEY": acme_key.api_key}, params={"min_position": value}
        )
        assert response.status_code == 400, value
        assert response.json()["details"]["field"] == "min_position"


async def test_a_request_without_a_key_is_401_at_once_whatever_its_min_position(
    client: httpx.AsyncClient,
) -> None:
    started = time.monotonic()
    response = await client.get("/v1/tenant", params={"min_position": 10**12})
    assert response.status_code == 401
    assert time.monotonic() - started < 1.0


async def test_a_reached_min_position_answers_at_once(
    client: httpx.AsyncClient, acme_key: NewKey, services: Services
) -> None:
    response = await client.get(
        "/v1/tenant",
        headers={"X-API-KEY": acme_key.api_key},
        params={"min_position": services.tracker.log_position},
    )
    assert response.status_code == 200
    assert int(response.headers["ledger-position"]) >= services.tracker.log_position
