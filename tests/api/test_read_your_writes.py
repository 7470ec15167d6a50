"""Read-your-writes (docs/api.md §1, Positions): ``min_position`` on every GET, the
``Ledger-Position`` header, and 503 when a position is not reached in time.

The tests assert what a request waited for and what it answered, never how long it took
(durations belong to ``make bench``): a busy machine makes every step slower, not different.
"""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest
from litestar import Litestar

from ledger import limits
from ledger.api import create_app
from ledger.bootstrap import Services, open_services
from ledger.commands.tenants import NewKey
from ledger.config import Settings
from ledger.projections.tracking import PositionTracker
from tests.projections.helpers import Books, post

DAY = "2026-06-01"
# The 503 test's wait (the others wait patiently: see ``tests/api/conftest.py``).
SHORT_WAIT_SECONDS = 0.5


class RecordedWaits(PositionTracker):
    """What the app sees of ``tracker``: the same positions, and a record of every wait the
    API starts (what it waited for and what the wait returned); ``begun`` is set when the
    first one starts. The projection runner's own waits, on ``tracker``, are not recorded."""

    def __init__(self, tracker: PositionTracker) -> None:
        super().__init__()
        self.tracker = tracker
        self.tenants = tracker.tenants
        self.started: list[tuple[str | None, int, float]] = []
        self.returned: list[int | None] = []
        self.begun = asyncio.Event()

    @property
    def log_position(self) -> int:
        return self.tracker.log_position

    def position(self, source: str | None = None) -> int:
        return self.tracker.position(source)

    def projections(self) -> dict[str, int]:
        return self.tracker.projections()

    def advance_log(self, position: int) -> None:
        self.tracker.advance_log(position)

    def advance_projection(self, name: str, position: int) -> None:
        self.tracker.advance_projection(name, position)

    async def wait_for(self, source: str | None, position: int, wait_seconds: float) -> int | None:
        self.started.append((source, position, wait_seconds))
        self.begun.set()
        reached = await self.tracker.wait_for(source, position, wait_seconds)
        self.returned.append(reached)
        return reached


@pytest.fixture
def waits(services: Services) -> RecordedWaits:
    return RecordedWaits(services.tracker)


@pytest.fixture
def app(settings: Settings, services: Services, waits: RecordedWaits) -> Litestar:
    """The app of ``tests/api/conftest.py``, seeing the positions through ``waits``."""
    return create_app(settings, services=dataclasses.replace(services, tracker=waits))


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
    client: httpx.AsyncClient,
    acme_key: NewKey,
    waits: RecordedWaits,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "MIN_POSITION_WAIT_SECONDS_MAX", SHORT_WAIT_SECONDS)
    response = await client.get(
        "/v1/tenant", headers={"X-API-KEY": acme_key.api_key}, params={"min_position": 10**12}
    )
    assert response.status_code == 503
    assert response.json()["code"] == "UNAVAILABLE"
    assert response.json()["details"]["min_position"] == 10**12
    assert response.headers["retry-after"].isdigit()
    assert "ledger-position" in response.headers
    # It answered because the whole allowed wait expired, not before.
    assert waits.started == [(None, 10**12, SHORT_WAIT_SECONDS)]
    assert waits.returned == [None]


async def test_a_waiting_get_answers_as_soon_as_the_position_commits(
    client: httpx.AsyncClient, acme_key: NewKey, services: Services, waits: RecordedWaits
) -> None:
    headers = {"X-API-KEY": acme_key.api_key}
    await _ledgers(client, headers)
    target = services.tracker.log_position + 1
    waiting = asyncio.create_task(
        client.get("/v1/trial-balance", headers=headers, params={"min_position": target})
    )
    await waits.begun.wait()
    assert not waiting.done()
    posted = await client.post("/v1/journals", headers=headers, json=_journal(9))
    assert posted.json()["position"] == target
    response = await waiting
    assert response.status_code == 200
    assert int(response.headers["ledger-position"]) >= target
    assert response.json()["totals"]["debits"] == 9
    # The wait ended because the position was reached (not by expiring).
    assert len(waits.returned) == 1
    reached = waits.returned[0]
    assert reached is not None
    assert reached >= target


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
    client: httpx.AsyncClient, waits: RecordedWaits
) -> None:
    response = await client.get("/v1/tenant", params={"min_position": 10**12})
    assert response.status_code == 401
    assert waits.started == []


async def test_a_reached_min_position_answers_at_once(
    client: httpx.AsyncClient, acme_key: NewKey, services: Services, waits: RecordedWaits
) -> None:
    response = await client.get(
        "/v1/tenant",
        headers={"X-API-KEY": acme_key.api_key},
        params={"min_position": services.tracker.log_position},
    )
    assert response.status_code == 200
    assert int(response.headers["ledger-position"]) >= services.tracker.log_position
    assert waits.started == []
