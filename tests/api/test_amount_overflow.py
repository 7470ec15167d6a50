"""Totals and balances stay int64 (docs/api.md §1 Money, issue 12): a write that would take
one beyond 2^63-1 is 422 AMOUNT_OVERFLOW and writes nothing; a read whose total would be
beyond answers the same 422, never a 500 or a number an int64 client cannot hold."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ledger import limits
from ledger.bootstrap import Services
from ledger.commands.tenants import NewKey

MAX = limits.TOTAL_MINOR_MAX
HALF = MAX // 2 + 1  # two of these are beyond the range


@pytest.fixture
def auth(acme_key: NewKey) -> dict[str, str]:
    return {"X-API-KEY": acme_key.api_key}


async def open_ledger(
    client: httpx.AsyncClient, auth: dict[str, str], code: str, **fields: Any
) -> dict[str, Any]:
    body = {"code": code, "name": code, "type": fields.pop("type", "asset"), **fields}
    response = await client.post("/v1/ledgers", json=body, headers=auth)
    assert response.status_code == 201, response.text
    opened: dict[str, Any] = response.json()
    return opened


async def post(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    entries: list[tuple[str, str, int]],
    **fields: Any,
) -> httpx.Response:
    body = {
        "date": "2026-06-03",
        "entries": [
            {"ledger_code": code, "direction": direction, "amount": amount}
            for code, direction, amount in entries
        ],
        **fields,
    }
    return await client.post("/v1/journals", json=body, headers=auth)


async def events(client: httpx.AsyncClient, auth: dict[str, str]) -> list[Any]:
    answer = await client.get("/v1/events?limit=500", headers=auth)
    assert answer.status_code == 200, answer.text
    data: list[Any] = answer.json()["data"]
    return data


async def balances(client: httpx.AsyncClient, auth: dict[str, str], ledger_id: str) -> Any:
    answer = await client.get(f"/v1/ledgers/{ledger_id}/balances", headers=auth)
    assert answer.status_code == 200, answer.text
    return answer.json()["balances"]


async def assert_refused(
    client: httpx.AsyncClient, auth: dict[str, str], response: httpx.Response
) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()
    assert error["code"] == "AMOUNT_OVERFLOW"
    return error


async def test_posting_the_largest_amount_twice_to_one_ledger_is_refused_unwritten(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    # The reproduction of issue 12: it answered `posted: 18446744073709551614`.
    cash = await open_ledger(client, auth, "cash")
    for code in ("rev1", "rev2"):
        await open_ledger(client, auth, code, type="income")
    first = await post(client, auth, [("cash", "debit", MAX), ("rev1", "credit", MAX)])
    assert first.status_code == 201, first.text
    before_events = await events(client, auth)
    before = await balances(client, auth, cash["id"])
    second = await post(client, auth, [("cash", "debit", MAX), ("rev2", "credit", MAX)])
    error = await assert_refused(client, auth, second)
    assert error["details"]["ledger_id"] == cash["id"]
    assert (error["details"]["currency"], error["details"]["side"]) == ("USD", "debit")
    assert await events(client, auth) == before_events
    assert await balances(client, auth, cash["id"]) == before
    assert before[0]["posted"] == MAX


async def test_a_parents_roll_up_is_guarded(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    parent = await open_ledger(client, auth, "assets")
    for code in ("a", "b"):
        await open_ledger(client, auth, code, parent={"ledger_code": "assets"})
    for code in ("ra", "rb"):
        await open_ledger(client, auth, code, type="income")
    ok = await post(client, auth, [("a", "debit", HALF), ("ra", "credit", HALF)])
    assert ok.status_code == 201, ok.text
    # Each child alone stays in range; their parent's including_children would not.
    refused = await post(client, auth, [("b", "debit", HALF), ("rb", "credit", HALF)])
    error = await assert_refused(client, auth, refused)
    assert error["details"]["ledger_id"] == parent["id"]
    rolled = await balances(client, auth, parent["id"])
    assert rolled[0]["including_children"]["debits_posted"] == HALF


async def test_pending_counts_toward_the_range(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await open_ledger(client, auth, "cash")
    await open_ledger(client, auth, "rev", type="income")
    held = await post(
        client, auth, [("cash", "debit", MAX), ("rev", "credit", MAX)], status="pending"
    )
    assert held.status_code == 201, held.text
    await assert_refused(
        client, auth, await post(client, auth, [("cash", "debit", 1), ("rev", "credit", 1)])
    )
    # Voiding the hold frees the room again.
    voided = await client.post(f"/v1/journals/{held.json()['id']}/void", headers=auth)
    assert voided.status_code == 200, voided.text
    again = await post(client, auth, [("cash", "debit", 1), ("rev", "credit", 1)])
    assert again.status_code == 201, again.text


async def test_a_journals_own_totals_are_guarded(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await open_ledger(client, auth, "cash")
    await open_ledger(client, auth, "rev", type="income")
    # Each amount is valid; the journal's debits total is not (nor would it balance).
    response = await post(
        client, auth, [("cash", "debit", MAX), ("cash", "debit", MAX), ("rev", "credit", MAX)]
    )
    error = await assert_refused(client, auth, response)
    assert error["details"] == {"currency": "USD", "side": "debit", "limit": MAX}


async def test_a_trial_balance_beyond_the_range_is_a_422(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    # Each ledger and each journal is in range; the tenant's grand totals are not.
    for code, kind in (("c1", "asset"), ("c2", "asset"), ("r1", "income"), ("r2", "income")):
        await open_ledger(client, auth, code, type=kind)
    for cash, revenue in (("c1", "r1"), ("c2", "r2")):
        posted = await post(client, auth, [(cash, "debit", MAX), (revenue, "credit", MAX)])
        assert posted.status_code == 201, posted.text
    report = await client.get("/v1/trial-balance?as_of=2026-06-30", headers=auth)
    error = await assert_refused(client, auth, report)
    assert error["details"]["field"] == "totals.debits"


async def test_the_database_refuses_what_the_decision_does_not_see(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services
) -> None:
    # A ledger's base totals are bounded by the database's check (migration 0012), the
    # second line of defence: 5 * 10^16 JPY is 5 * 10^18 USD cents at 1 JPY = 1 USD, so
    # each journal and the ledger's JPY totals are in range, its USD (base) totals after two
    # such journals are not. The refusal is the same 422, and nothing is written.
    rate = await client.post(
        "/v1/fx-rates",
        json={"base": "JPY", "quote": "USD", "rate": "1", "date": "2026-01-01"},
        headers=auth,
    )
    assert rate.status_code == 201, rate.text
    cash = await open_ledger(client, auth, "cash")
    await open_ledger(client, auth, "rev", type="income")
    amount = 5 * 10**16
    entries = [("cash", "debit", amount), ("rev", "credit", amount)]
    first = await post(client, auth, entries, currency="JPY")
    assert first.status_code == 201, first.text
    before_events = await events(client, auth)
    before = await balances(client, auth, cash["id"])
    second = await post(client, auth, entries, currency="JPY")
    await assert_refused(client, auth, second)
    assert await events(client, auth) == before_events
    assert await balances(client, auth, cash["id"]) == before
    assert await services.pool.fetchval("SELECT count(*) FROM journals") == 1


async def test_record_sums_beyond_the_range_are_a_422(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    for stream, direction in (("bank", "credit"), ("bank", "credit"), ("psp", "debit")):
        record = {"amount": MAX, "direction": direction, "date": "2026-06-03"}
        created = await client.post(
            "/v1/records", json={**record, "data_stream_key": stream}, headers=auth
        )
        assert created.status_code == 201, created.text
    summary = await client.get("/v1/reconciliation/summary?data_stream_key=bank", headers=auth)
    await assert_refused(client, auth, summary)
    match = await client.post(
        "/v1/matches",
        json={"items": [{"record_id": 1}, {"record_id": 2}, {"record_id": 3}]},
        headers=auth,
    )
    error = await assert_refused(client, auth, match)
    assert error["details"]["side"] == "credit"
    assert (await client.get("/v1/matches", headers=auth)).json()["data"] == []
