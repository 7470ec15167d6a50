"""``GET /v1/trial-balance`` and ``GET /v1/events`` (docs/api.md §7), and ``ledger audit
replay`` giving the trial balance that was served at a position."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from ledger.bootstrap import Services
from ledger.commands.tenants import NewKey
from tests.integration.test_cli import run_cli

AS_OF = "2026-12-31"


async def _setup(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for code, kind in (("cash", "asset"), ("rev", "income"), ("fees", "expense")):
        response = await client.post(
            "/v1/ledgers", headers=headers, json={"code": code, "name": code.title(), "type": kind}
        )
        assert response.status_code == 201


async def _post(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    debit: str,
    credit: str,
    amount: int,
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "date": "2026-06-01",
        "entries": [
            {"ledger_code": debit, "direction": "debit", "amount": amount},
            {"ledger_code": credit, "direction": "credit", "amount": amount},
        ],
        **extra,
    }
    response = await client.post("/v1/journals", headers=headers, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _trial(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> httpx.Response:
    return await client.get("/v1/trial-balance", headers=headers, params={"as_of": AS_OF, **params})


async def test_trial_balance_per_ledger_with_equal_grand_totals(
    client: httpx.AsyncClient, acme_key: NewKey, services: Services
) -> None:
    headers = {"X-API-KEY": acme_key.api_key}
    await _setup(client, headers)
    await _post(client, headers, "cash", "rev", 1000)
    await _post(client, headers, "fees", "cash", 250)
    pending = await _post(client, headers, "cash", "rev", 99, status="pending")
    voided = await _post(client, headers, "cash", "rev", 77, status="pending")
    await client.post(f"/v1/journals/{voided['id']}/void", headers=headers)
    await client.post(f"/v1/journals/{pending['id']}/commit", headers=headers)
    commit_position = await services.store.max_position()
    later = await _post(client, headers, "cash", "rev", 5, date="2027-01-05")

    response = await _trial(client, headers, min_position=later["position"])
    assert response.status_code == 200
    body = response.json()
    assert body["currency"] == "USD"
    assert body["precision"] == 2
    rows = {r["ledger_code"]: (r["debits"], r["credits"], r["balance"]) for r in body["data"]}
    # The pending journal counts once committed; the voided one never; 2027 is after as_of.
    assert rows == {"cash": (1099, 250, 849), "rev": (0, 1099, 1099), "fees": (250, 0, 250)}
    assert body["totals"] == {"debits": 1349, "credits": 1349}
    assert [r["ledger_num_id"] for r in body["data"]] == [1, 2, 3]

    # known_at: what the books said at an earlier position (before the commit).
    earlier = await _trial(client, headers, known_at=commit_position - 1)
    assert earlier.json()["totals"] == {"debits": 1250, "credits": 1250}
    assert earlier.json()["known_at"] == commit_position - 1
    # Both sources agree at the current position.
    now = await _trial(client, headers, known_at=later["position"])
    assert now.json()["data"] == body["data"]


async def test_trial_balance_pages_keep_the_grand_totals(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    headers = {"X-API-KEY": acme_key.api_key}
    await _setup(client, headers)
    await _post(client, headers, "cash", "rev", 10)
    last = await _post(client, headers, "fees", "cash", 4)
    seen = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1, "min_position": last["position"]}
        if cursor:
            params["cursor"] = cursor
        page = (await _trial(client, headers, **params)).json()
        assert page["totals"] == {"debits": 14, "credits": 14}
        seen += [r["ledger_code"] for r in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["cash", "rev", "fees"]


async def test_event_feed_is_the_tenants_own_events_in_pages(
    client: httpx.AsyncClient, acme_key: NewKey, services: Services
) -> None:
    headers = {"X-API-KEY": acme_key.api_key}
    globex, _ = await services.tenants.create_tenant("globex", "EUR")
    await _setup(client, headers)
    await _post(client, headers, "cash", "rev", 10)
    other = {"X-API-KEY": globex.api_key}
    await client.post(
        "/v1/ledgers", headers=other, json={"code": "x", "name": "X", "type": "asset"}
    )

    feed: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await client.get("/v1/events", headers=headers, params={"after": after, "limit": 2})
        assert page.status_code == 200
        body = page.json()
        feed += body["data"]
        if body["next_cursor"] is None:
            break
        after = body["data"][-1]["position"]
    types = [e["type"] for e in feed]
    assert types == [
        "TenantCreated",
        "ApiKeyIssued",
        "LedgerOpened",
        "LedgerOpened",
        "LedgerOpened",
        "JournalPosted",
    ]
    positions = [e["position"] for e in feed]
    assert positions == sorted(positions)
    assert all(
        set(e) == {"position", "type", "originator_id", "originator_version", "recorded_at", "data"}
        for e in feed
    )
    assert all(e["recorded_at"].endswith("Z") for e in feed)
    assert "secret_sha256" not in feed[1]["data"]
    assert feed[-1]["data"]["entries"][0]["amount"] == 10
    # Globex sees only its own.
    theirs = (await client.get("/v1/events", headers=other)).json()["data"]
    assert [e["type"] for e in theirs] == ["TenantCreated", "ApiKeyIssued", "LedgerOpened"]
    assert not {e["position"] for e in theirs} & set(positions)
    # The cursor continues where a page ended.
    first = (await client.get("/v1/events", headers=headers, params={"limit": 4})).json()
    rest = (
        await client.get("/v1/events", headers=headers, params={"cursor": first["next_cursor"]})
    ).json()
    assert [e["position"] for e in first["data"] + rest["data"]] == positions


async def test_audit_replay_until_gives_the_trial_balance_served_at_that_position(
    client: httpx.AsyncClient,
    acme_key: NewKey,
    services: Services,
    database_url: str,
    tmp_path: Path,
) -> None:
    headers = {"X-API-KEY": acme_key.api_key}
    await _setup(client, headers)
    await _post(client, headers, "cash", "rev", 1000)
    pending = await _post(client, headers, "fees", "cash", 40, status="pending")
    committed = await client.post(f"/v1/journals/{pending['id']}/commit", headers=headers)
    assert committed.status_code == 200
    # The commit's own position (the commit answer carries the journal's posting position).
    position = await services.store.max_position()
    served = await _trial(client, headers, min_position=position)
    assert int(served.headers["ledger-position"]) == position
    # History goes on after that.
    await _post(client, headers, "cash", "rev", 500)
    await client.patch(
        f"/v1/ledgers/{served.json()['data'][0]['ledger_id']}",
        headers=headers,
        json={"name": "Renamed later"},
    )

    done = run_cli(
        database_url,
        tmp_path,
        "audit",
        "replay",
        "--tenant",
        "acme",
        "--until",
        str(position),
        "--date",
        AS_OF,
    )
    assert done.returncode == 0, done.stderr
    replayed = json.loads(done.stdout)
    assert replayed["known_at"] == position
    assert replayed["data"] == served.json()["data"]
    assert replayed["totals"] == served.json()["totals"]

    now = await _trial(client, headers)
    later = run_cli(
        database_url,
        tmp_path,
        "audit",
        "replay",
        "--tenant",
        "acme",
        "--as-of",
        "2999-01-01T00:00:00Z",
        "--date",
        AS_OF,
    )
    assert json.loads(later.stdout)["totals"] == now.json()["totals"]
    unknown = run_cli(database_url, tmp_path, "audit", "replay", "--tenant", "nope", "--until", "1")
    assert unknown.returncode == 1
