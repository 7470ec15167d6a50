"""A tenant is told its own positions only (issue 12, item 9; docs/api.md §1, Positions):
``Ledger-Position`` and the ``known_at`` a read answers are the tenant's own last event
position up to what the data reflects, so another tenant's write volume never shows, while
``min_position`` still accepts any position."""

from __future__ import annotations

import httpx
import pytest

from ledger import limits
from ledger.bootstrap import Services, open_services
from ledger.commands.tenants import NewKey
from ledger.config import Settings
from ledger.projections import tracking
from tests.projections.helpers import Books, post

DAY = "2026-06-01"
B_JOURNALS = 25


def _journal(amount: int) -> dict[str, object]:
    return {
        "date": DAY,
        "entries": [
            {"ledger_code": "cash", "direction": "debit", "amount": amount},
            {"ledger_code": "rev", "direction": "credit", "amount": amount},
        ],
    }


async def _books(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[str, int]:
    """Two ledgers; the cash ledger's id and the position of the last write."""
    cash = await client.post(
        "/v1/ledgers", headers=headers, json={"code": "cash", "name": "Cash", "type": "asset"}
    )
    rev = await client.post(
        "/v1/ledgers", headers=headers, json={"code": "rev", "name": "Rev", "type": "income"}
    )
    assert cash.status_code == rev.status_code == 201
    return cash.json()["id"], int(rev.json()["position"])


@pytest.fixture
async def globex_key(services: Services) -> NewKey:
    key, _position = await services.tenants.create_tenant("globex", "USD", "Globex")
    return key


class Probes:
    """Counts the index probes requests make for a tenant's position."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        probe = tracking.tenant_position_at

        async def counted(*args: object) -> int:
            self.count += 1
            return await probe(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(tracking, "tenant_position_at", counted)


async def _reads(client: httpx.AsyncClient, headers: dict[str, str], cash: str) -> list[int]:
    """The ``Ledger-Position`` of several GETs and the ``known_at`` of two reads."""
    seen: list[int] = []
    for path in ("/v1/tenant", "/v1/ledgers", "/v1/journals"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, path
        seen.append(int(response.headers["ledger-position"]))
    balances = await client.get(
        f"/v1/ledgers/{cash}/balances", headers=headers, params={"as_of": "2026-12-31"}
    )
    trial = await client.get("/v1/trial-balance", headers=headers, params={"as_of": "2026-12-31"})
    seen += [int(balances.json()["known_at"]), int(trial.json()["known_at"])]
    seen += [int(balances.headers["ledger-position"]), int(trial.headers["ledger-position"])]
    return seen


async def test_another_tenants_writes_do_not_move_a_tenants_positions(
    client: httpx.AsyncClient, acme_key: NewKey, globex_key: NewKey, services: Services
) -> None:
    a = {"X-API-KEY": acme_key.api_key}
    b = {"X-API-KEY": globex_key.api_key}
    a_cash, _ = await _books(client, a)
    await _books(client, b)
    mine = await client.post("/v1/journals", headers=a, json=_journal(7))
    assert mine.status_code == 201
    a_last = int(mine.json()["position"])
    before = await _reads(client, a, a_cash)
    assert before == [a_last] * len(before)

    b_last = 0
    for amount in range(1, B_JOURNALS + 1):
        posted = await client.post("/v1/journals", headers=b, json=_journal(amount))
        assert posted.status_code == 201
        b_last = int(posted.json()["position"])
    assert services.tracker.log_position >= b_last > a_last + B_JOURNALS - 1

    assert await _reads(client, a, a_cash) == before
    # B sees its own position.
    assert int((await client.get("/v1/tenant", headers=b)).headers["ledger-position"]) == b_last


async def test_known_at_beyond_the_log_answers_the_tenants_own_last_position(
    client: httpx.AsyncClient, acme_key: NewKey, globex_key: NewKey
) -> None:
    a = {"X-API-KEY": acme_key.api_key}
    b = {"X-API-KEY": globex_key.api_key}
    a_cash, a_last = await _books(client, a)
    await _books(client, b)
    for amount in (1, 2, 3):
        assert (await client.post("/v1/journals", headers=b, json=_journal(amount))).is_success
    params: dict[str, str | int] = {"as_of": "2026-12-31", "known_at": limits.POSITION_MAX}
    balances = await client.get(f"/v1/ledgers/{a_cash}/balances", headers=a, params=params)
    trial = await client.get("/v1/trial-balance", headers=a, params=params)
    assert balances.json()["known_at"] == trial.json()["known_at"] == a_last


async def test_min_position_of_another_tenants_write_still_answers(
    client: httpx.AsyncClient, acme_key: NewKey, globex_key: NewKey
) -> None:
    a = {"X-API-KEY": acme_key.api_key}
    b = {"X-API-KEY": globex_key.api_key}
    a_cash, a_last = await _books(client, a)
    await _books(client, b)
    b_position = int(
        (await client.post("/v1/journals", headers=b, json=_journal(5))).json()["position"]
    )
    response = await client.get(
        f"/v1/ledgers/{a_cash}/balances", headers=a, params={"min_position": b_position}
    )
    assert response.status_code == 200
    assert int(response.headers["ledger-position"]) == a_last


async def test_the_503_of_an_unreached_min_position_tells_the_tenants_own_position(
    client: httpx.AsyncClient,
    acme_key: NewKey,
    globex_key: NewKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = {"X-API-KEY": acme_key.api_key}
    b = {"X-API-KEY": globex_key.api_key}
    _, a_last = await _books(client, a)
    await _books(client, b)
    monkeypatch.setattr(limits, "MIN_POSITION_WAIT_SECONDS_MAX", 0.2)
    response = await client.get("/v1/tenant", headers=a, params={"min_position": 10**12})
    assert response.status_code == 503
    assert response.json()["details"]["position"] == a_last
    assert int(response.headers["ledger-position"]) == a_last


async def test_in_process_writes_are_known_without_probing(
    client: httpx.AsyncClient,
    acme_key: NewKey,
    globex_key: NewKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = {"X-API-KEY": acme_key.api_key}
    b = {"X-API-KEY": globex_key.api_key}
    await _books(client, a)
    await _books(client, b)
    probes = Probes(monkeypatch)
    for amount in (1, 2, 3):
        mine = await client.post("/v1/journals", headers=a, json=_journal(amount))
        theirs = await client.post("/v1/journals", headers=b, json=_journal(amount))
        for headers, posted in ((a, mine), (b, theirs)):
            response = await client.get("/v1/tenant", headers=headers)
            assert int(response.headers["ledger-position"]) == posted.json()["position"]
    assert probes.count == 0


async def test_a_forgotten_tenant_is_answered_exactly_by_one_probe(
    client: httpx.AsyncClient,
    acme_key: NewKey,
    globex_key: NewKey,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = {"X-API-KEY": acme_key.api_key}
    b = {"X-API-KEY": globex_key.api_key}
    _, a_last = await _books(client, a)
    await _books(client, b)
    services.tracker.tenants.reset(services.tracker.log_position)
    probes = Probes(monkeypatch)
    for _ in range(3):
        response = await client.get("/v1/tenant", headers=a)
        assert int(response.headers["ledger-position"]) == a_last
    assert probes.count == 1  # then remembered


async def test_another_process_writes_are_told_exactly_to_their_tenant_only(
    client: httpx.AsyncClient,
    acme_key: NewKey,
    globex_key: NewKey,
    settings: Settings,
    services: Services,
) -> None:
    a = {"X-API-KEY": acme_key.api_key}
    b = {"X-API-KEY": globex_key.api_key}
    a_cash, _ = await _books(client, a)
    _, b_last = await _books(client, b)
    async with open_services(settings, run_projections=False) as other:
        tenant_id = await other.pool.fetchval("SELECT tenant_id FROM tenants WHERE slug = 'acme'")
        rows = await other.pool.fetch(
            "SELECT ledger_id FROM ledgers WHERE tenant_id = $1 ORDER BY num_id", tenant_id
        )
        books = Books(tenant_id, [r["ledger_id"] for r in rows])
        for amount in (5, 7, 11):
            _, position = await post(other, books, 0, 1, amount)
            mine = await client.get(
                f"/v1/ledgers/{a_cash}/balances",
                headers=a,
                params={"as_of": "2026-12-31", "min_position": position},
            )
            assert int(mine.headers["ledger-position"]) == position
            assert mine.json()["known_at"] == position
            theirs = await client.get("/v1/tenant", headers=b, params={"min_position": position})
            assert int(theirs.headers["ledger-position"]) == b_last
    assert services.tracker.log_position >= position
