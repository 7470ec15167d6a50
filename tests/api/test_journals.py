"""Journals, balances and statements over HTTP (docs/api.md §4-§5)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from ledger.bootstrap import Services
from ledger.commands.tenants import NewKey
from ledger.queries.ledgers import LedgerRef


@pytest.fixture
async def auth(services: Services, acme_key: NewKey) -> dict[str, str]:
    tenant_id = await services.pool.fetchval("SELECT tenant_id FROM tenants WHERE slug = 'acme'")
    ledgers = services.ledgers
    assets = await ledgers.open_ledger(tenant_id, code="assets", name="Assets", type="asset")
    await ledgers.open_ledger(
        tenant_id,
        code="cash",
        name="Cash",
        type="asset",
        currency="USD",
        min_balance=0,
        parent=LedgerRef.by_id(assets.ledger_id),
    )
    await ledgers.open_ledger(tenant_id, code="revenue", name="Revenue", type="income")
    return {"X-API-KEY": acme_key.api_key}


def body(amount: Any = 1000, **fields: Any) -> dict[str, Any]:
    return {
        "date": "2026-06-03",
        "entries": [
            {"ledger_code": "cash", "direction": "debit", "amount": amount},
            {"ledger_code": "revenue", "direction": "credit", "amount": amount},
        ],
        **fields,
    }


async def test_post_answers_201_with_the_journal(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.post("/v1/journals", json=body(description="sale"), headers=auth)
    assert response.status_code == 201, response.text
    journal = response.json()
    for name in (
        "id",
        "number",
        "status",
        "date",
        "accrual_date",
        "description",
        "reference",
        "external_id",
        "currency",
        "base_currency",
        "totals",
        "exchange_rates",
        "reporting_currency",
        "reporting_rates",
        "entries",
        "reversal_of",
        "reversed_by",
        "amends",
        "amended_by",
        "warnings",
        "metadata",
        "created_at",
        "position",
    ):
        assert name in journal
    assert journal["number"] == "JE-000001"
    assert journal["currency"] == journal["base_currency"] == "USD"
    entry = journal["entries"][0]
    assert set(entry) >= {
        "id",
        "ledger_id",
        "ledger_code",
        "direction",
        "amount",
        "currency",
        "amount_base",
        "amount_reporting",
        "description",
        "metadata",
    }
    got = await client.get(f"/v1/journals/{journal['id']}", headers=auth)
    assert got.status_code == 200
    assert got.json()["id"] == journal["id"]
    assert int(got.headers["Ledger-Position"]) >= journal["position"]


async def test_idempotent_retry_replays_byte_for_byte(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    first = await client.post("/v1/journals", json=body(external_id="inv-1"), headers=auth)
    again = await client.post("/v1/journals", json=body(external_id="inv-1"), headers=auth)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    header = await client.post(
        "/v1/journals", json=body(), headers={**auth, "Idempotency-Key": "inv-1"}
    )
    assert header.status_code == 409
    assert header.json()["code"] == "IDEMPOTENCY_CONFLICT"
    assert header.json()["details"]["journal_id"] == first.json()["id"]


async def test_key_header_and_external_id_must_agree(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/journals", json=body(external_id="a"), headers={**auth, "Idempotency-Key": "b"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


async def test_an_empty_idempotency_key_is_refused_not_used(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """An empty ``Idempotency-Key`` is a client bug, not the key "": a 400 naming the header,
    and nothing posted (a second such request is refused the same way, never a 409)."""
    before = (await client.get("/v1/journals", headers=auth)).json()["data"]
    for _ in range(2):
        response = await client.post(
            "/v1/journals", json=body(), headers={**auth, "Idempotency-Key": ""}
        )
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "VALIDATION_ERROR"
        assert "Idempotency-Key" in response.text
    assert (await client.get("/v1/journals", headers=auth)).json()["data"] == before


@pytest.mark.parametrize("amount", [10.5, "1000", 1e3, 0, -5, 2**63])
async def test_amounts_must_be_positive_integers(
    client: httpx.AsyncClient, auth: dict[str, str], amount: Any
) -> None:
    response = await client.post("/v1/journals", json=body(amount=amount), headers=auth)
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert "entries" in response.json()["details"]["field"]


async def test_one_entry_is_not_a_journal(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    one = body()
    one["entries"] = one["entries"][:1]
    response = await client.post("/v1/journals", json=one, headers=auth)
    assert response.status_code == 400


async def test_ledger_ref_needs_exactly_one_key(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    two = body()
    two["entries"][0]["ledger_num_id"] = 1
    response = await client.post("/v1/journals", json=two, headers=auth)
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "$.entries[0]"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (
            {
                "entries": [
                    {"ledger_code": "cash", "direction": "debit", "amount": 5},
                    {"ledger_code": "revenue", "direction": "credit", "amount": 4},
                ]
            },
            422,
            "JOURNAL_UNBALANCED",
        ),
        (
            {
                "entries": [
                    {"ledger_code": "cash", "direction": "debit", "amount": 5},
                    {"ledger_code": "gone", "direction": "credit", "amount": 5},
                ]
            },
            422,
            "LEDGER_NOT_FOUND",
        ),
        ({"currency": "QQQ"}, 422, "CURRENCY_UNKNOWN"),
        ({"currency": "EUR"}, 422, "FX_RATE_NOT_FOUND"),
        (
            {
                "entries": [
                    {"ledger_code": "revenue", "direction": "debit", "amount": 5},
                    {"ledger_code": "cash", "direction": "credit", "amount": 5},
                ]
            },
            422,
            "INSUFFICIENT_FUNDS",
        ),
    ],
)
async def test_domain_errors_use_the_contract_codes(
    client: httpx.AsyncClient, auth: dict[str, str], change: dict[str, Any], status: int, code: str
) -> None:
    response = await client.post("/v1/journals", json={**body(), **change}, headers=auth)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


async def test_reverse_once(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    posted = (await client.post("/v1/journals", json=body(), headers=auth)).json()
    reversed_ = await client.post(f"/v1/journals/{posted['id']}/reverse", json={}, headers=auth)
    assert reversed_.status_code == 201, reversed_.text
    assert reversed_.json()["reversal_of"] == posted["id"]
    original = (await client.get(f"/v1/journals/{posted['id']}", headers=auth)).json()
    assert (original["status"], original["reversed_by"]) == ("reversed", reversed_.json()["id"])
    again = await client.post(f"/v1/journals/{posted['id']}/reverse", json={}, headers=auth)
    assert again.status_code == 409
    assert again.json()["code"] == "ALREADY_REVERSED"


async def test_amend_reverses_and_reposts_with_lineage(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    posted = (await client.post("/v1/journals", json=body(), headers=auth)).json()
    assert (posted["amends"], posted["amended_by"]) == (None, None)
    amended = await client.post(
        f"/v1/journals/{posted['id']}/amend", json=body(1500, description="fixed"), headers=auth
    )
    assert amended.status_code == 201, amended.text
    new = amended.json()
    assert (new["amends"], new["amended_by"], new["status"]) == (posted["id"], None, "posted")
    assert [e["amount"] for e in new["entries"]] == [1500, 1500]
    assert new["number"] == "JE-000003"  # the reversal is JE-000002
    original = (await client.get(f"/v1/journals/{posted['id']}", headers=auth)).json()
    assert original["status"] == "reversed"
    assert original["amended_by"] == new["id"]
    reversal = (await client.get(f"/v1/journals/{original['reversed_by']}", headers=auth)).json()
    assert reversal["reversal_of"] == posted["id"]
    assert [e["direction"] for e in reversal["entries"]] == ["credit", "debit"]
    got = (await client.get(f"/v1/journals/{new['id']}", headers=auth)).json()
    assert (got["amends"], got["amended_by"]) == (posted["id"], None)
    cash = new["entries"][0]["ledger_id"]
    balance = await client.get(
        f"/v1/ledgers/{cash}/balances", params={"as_of": "2026-06-30"}, headers=auth
    )
    assert balance.json()["balances"][0]["posted"] == 1500  # 1000 - 1000 + 1500


async def test_amend_refuses_what_has_no_current_version(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    posted = (await client.post("/v1/journals", json=body(), headers=auth)).json()
    first = await client.post(f"/v1/journals/{posted['id']}/amend", json=body(2), headers=auth)
    assert first.status_code == 201, first.text
    again = await client.post(f"/v1/journals/{posted['id']}/amend", json=body(3), headers=auth)
    assert (again.status_code, again.json()["code"]) == (409, "ALREADY_REVERSED")
    voided = (await client.post("/v1/journals", json=body(status="pending"), headers=auth)).json()
    await client.post(f"/v1/journals/{voided['id']}/void", headers=auth)
    response = await client.post(f"/v1/journals/{voided['id']}/amend", json=body(), headers=auth)
    assert (response.status_code, response.json()["code"]) == (409, "ALREADY_REVERSED")
    pending = (await client.post("/v1/journals", json=body(status="pending"), headers=auth)).json()
    response = await client.post(f"/v1/journals/{pending['id']}/amend", json=body(), headers=auth)
    assert (response.status_code, response.json()["code"]) == (422, "INVALID_STATE")
    unknown = "00000000-0000-0000-0000-000000000000"
    response = await client.post(f"/v1/journals/{unknown}/amend", json=body(), headers=auth)
    assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")
    # A new version that is not a valid journal leaves the original as it was.
    live = (await client.post("/v1/journals", json=body(), headers=auth)).json()
    bad = body(entries=[{**body()["entries"][0], "ledger_code": "nope"}, body()["entries"][1]])
    response = await client.post(f"/v1/journals/{live['id']}/amend", json=bad, headers=auth)
    assert (response.status_code, response.json()["code"]) == (422, "LEDGER_NOT_FOUND")
    after = (await client.get(f"/v1/journals/{live['id']}", headers=auth)).json()
    assert (after["status"], after["reversed_by"], after["amended_by"]) == ("posted", None, None)


async def test_amend_replays_the_same_amendment_byte_for_byte(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    posted = (await client.post("/v1/journals", json=body(), headers=auth)).json()
    path = f"/v1/journals/{posted['id']}/amend"
    keyed = {**auth, "Idempotency-Key": "fix-1"}
    first = await client.post(path, json=body(1200), headers=keyed)
    again = await client.post(path, json=body(1200), headers=keyed)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await client.post(path, json=body(1300), headers=keyed)
    assert (other.status_code, other.json()["code"]) == (409, "IDEMPOTENCY_CONFLICT")
    # The same key and body posted (not as an amendment) is another request.
    plain = await client.post("/v1/journals", json=body(1200), headers=keyed)
    assert (plain.status_code, plain.json()["code"]) == (409, "IDEMPOTENCY_CONFLICT")


async def test_two_amendments_of_one_journal_at_once_one_wins(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    posted = (await client.post("/v1/journals", json=body(), headers=auth)).json()
    path = f"/v1/journals/{posted['id']}/amend"
    answers = await asyncio.gather(
        *(client.post(path, json=body(amount), headers=auth) for amount in (10, 20))
    )
    assert sorted(a.status_code for a in answers) == [201, 409]
    loser = next(a for a in answers if a.status_code == 409)
    assert loser.json()["code"] == "ALREADY_REVERSED"
    winner = next(a for a in answers if a.status_code == 201).json()
    original = (await client.get(f"/v1/journals/{posted['id']}", headers=auth)).json()
    assert original["amended_by"] == winner["id"]


async def test_a_reporting_currency_is_converted_stored_and_mirrored(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    plain = (await client.post("/v1/journals", json=body(), headers=auth)).json()
    assert (plain["reporting_currency"], plain["reporting_rates"]) == (None, {})
    assert [e["amount_reporting"] for e in plain["entries"]] == [None, None]
    assert (plain["totals"][0]["debits_reporting"], plain["totals"][0]["credits_reporting"]) == (
        None,
        None,
    )
    rate = {"base": "USD", "quote": "EUR", "rate": "0.9215", "date": "2026-06-01"}
    assert (await client.post("/v1/fx-rates", json=rate, headers=auth)).status_code == 201
    posted = await client.post(
        "/v1/journals", json=body(1001, reporting_currency="EUR"), headers=auth
    )
    assert posted.status_code == 201, posted.text
    journal = posted.json()
    assert (journal["reporting_currency"], journal["reporting_rates"]) == ("EUR", {"USD": "0.9215"})
    # 1001 x 0.9215 = 922.4215 -> 922 on both sides.
    assert [e["amount_reporting"] for e in journal["entries"]] == [922, 922]
    assert journal["totals"] == [
        {
            "currency": "USD",
            "debits": 1001,
            "credits": 1001,
            "debits_base": 1001,
            "credits_base": 1001,
            "debits_reporting": 922,
            "credits_reporting": 922,
        }
    ]
    got = (await client.get(f"/v1/journals/{journal['id']}", headers=auth)).json()
    assert got["reporting_rates"] == {"USD": "0.9215"}
    # A later rate changes nothing already posted: the reversal mirrors the stored amounts.
    later = {**rate, "rate": "2", "date": "2026-06-02"}
    assert (await client.post("/v1/fx-rates", json=later, headers=auth)).status_code == 201
    reversal = await client.post(f"/v1/journals/{journal['id']}/reverse", json={}, headers=auth)
    assert reversal.status_code == 201, reversal.text
    mirrored = reversal.json()
    assert (mirrored["reporting_currency"], mirrored["reporting_rates"]) == (
        "EUR",
        {"USD": "0.9215"},
    )
    assert [(e["direction"], e["amount_reporting"]) for e in mirrored["entries"]] == [
        ("credit", 922),
        ("debit", 922),
    ]
    amended = await client.post(
        f"/v1/journals/{plain['id']}/amend", json=body(10, reporting_currency="EUR"), headers=auth
    )
    assert amended.status_code == 201, amended.text
    assert [e["amount_reporting"] for e in amended.json()["entries"]] == [20, 20]  # at 2
    bulk = await client.post(
        "/v1/journals/bulk",
        json={"journals": [body(3, reporting_currency="EUR")], "atomic": True},
        headers=auth,
    )
    assert bulk.json()["data"][0]["journal"]["entries"][0]["amount_reporting"] == 6


@pytest.mark.parametrize(
    ("reporting", "code"), [("ABC", "CURRENCY_UNKNOWN"), ("GBP", "FX_RATE_NOT_FOUND")]
)
async def test_a_reporting_currency_needs_a_currency_and_a_rate(
    client: httpx.AsyncClient, auth: dict[str, str], reporting: str, code: str
) -> None:
    response = await client.post(
        "/v1/journals", json=body(reporting_currency=reporting), headers=auth
    )
    assert (response.status_code, response.json()["code"]) == (422, code), response.text


async def test_commit_and_void_only_pending(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    posted = (await client.post("/v1/journals", json=body(), headers=auth)).json()
    response = await client.post(f"/v1/journals/{posted['id']}/commit", headers=auth)
    assert response.status_code == 422
    assert response.json()["code"] == "INVALID_STATE"
    pending = (await client.post("/v1/journals", json=body(status="pending"), headers=auth)).json()
    assert pending["status"] == "pending"
    committed = await client.post(f"/v1/journals/{pending['id']}/commit", headers=auth)
    assert committed.status_code == 200
    assert committed.json()["status"] == "posted"
    assert committed.json()["position"] > pending["position"]  # the commit's own position
    void = await client.post(f"/v1/journals/{pending['id']}/void", headers=auth)
    assert void.status_code == 422


async def test_unknown_journal_is_404(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for path in ("/v1/journals/00000000-0000-0000-0000-000000000000", "/v1/journals/not-a-uuid"):
        response = await client.get(path, headers=auth)
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"


async def test_list_filters_and_pages(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for i in range(3):
        await client.post("/v1/journals", json=body(reference=f"r{i % 2}"), headers=auth)
    page = (await client.get("/v1/journals", params={"limit": 2}, headers=auth)).json()
    assert len(page["data"]) == 2
    assert page["next_cursor"]
    rest = (
        await client.get(
            "/v1/journals", params={"limit": 2, "cursor": page["next_cursor"]}, headers=auth
        )
    ).json()
    assert len(rest["data"]) == 1
    assert rest["next_cursor"] is None
    filtered = (await client.get("/v1/journals", params={"reference": "r0"}, headers=auth)).json()
    assert [j["reference"] for j in filtered["data"]] == ["r0", "r0"]


async def test_bulk_non_atomic_and_atomic(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    bad = body()
    bad["entries"][1]["ledger_code"] = "gone"
    response = await client.post(
        "/v1/journals/bulk", json={"journals": [body(), bad]}, headers=auth
    )
    assert response.status_code == 200
    items = response.json()["data"]
    assert [i["status"] for i in items] == [201, 422]
    assert items[1]["error"]["code"] == "LEDGER_NOT_FOUND"
    atomic = await client.post(
        "/v1/journals/bulk", json={"journals": [body(), bad], "atomic": True}, headers=auth
    )
    assert [i["status"] for i in atomic.json()["data"]] == [409, 422]
    listed = (await client.get("/v1/journals", headers=auth)).json()["data"]
    assert len(listed) == 1


async def test_balances_and_statement(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services
) -> None:
    await client.post("/v1/journals", json=body(amount=100), headers=auth)
    await client.post("/v1/journals", json={**body(amount=50), "date": "2026-06-01"}, headers=auth)
    cash_id = await services.pool.fetchval("SELECT ledger_id FROM ledgers WHERE code = 'cash'")
    assets_id = await services.pool.fetchval("SELECT ledger_id FROM ledgers WHERE code = 'assets'")
    balances = await client.get(
        f"/v1/ledgers/{cash_id}/balances", params={"as_of": "2026-06-30"}, headers=auth
    )
    assert balances.status_code == 200
    data = balances.json()
    assert set(data) >= {"ledger_id", "as_of", "known_at", "balances"}
    usd = data["balances"][0]
    assert (usd["currency"], usd["posted"], usd["available"], usd["debits_posted"]) == (
        "USD",
        150,
        150,
        150,
    )
    parent = await client.get(
        f"/v1/ledgers/{assets_id}/balances", params={"as_of": "2026-06-30"}, headers=auth
    )
    assert parent.json()["balances"][0]["including_children"]["posted"] == 150
    lines = (await client.get(f"/v1/ledgers/{cash_id}/entries", headers=auth)).json()["data"]
    assert [(line["date"], line["running_balance"]) for line in lines] == [
        ("2026-06-01", 50),
        ("2026-06-03", 150),
    ]
    missing = await client.get(
        "/v1/ledgers/00000000-0000-0000-0000-000000000000/balances", headers=auth
    )
    assert missing.status_code == 404


async def _statement_ids(services: Services) -> tuple[str, str]:
    cash = await services.pool.fetchval("SELECT ledger_id FROM ledgers WHERE code = 'cash'")
    assets = await services.pool.fetchval("SELECT ledger_id FROM ledgers WHERE code = 'assets'")
    return str(cash), str(assets)


async def test_statement_pages_both_ways_with_true_running_balances(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services
) -> None:
    for day, amount in (
        ("2026-06-05", 10),
        ("2026-06-01", 20),
        ("2026-06-09", 30),
        ("2026-06-03", 40),
        ("2026-06-07", 50),
    ):
        posted = await client.post(
            "/v1/journals", json={**body(amount=amount), "date": day}, headers=auth
        )
        assert posted.status_code == 201
    cash, _ = await _statement_ids(services)
    url = f"/v1/ledgers/{cash}/entries"
    want = [
        ("2026-06-01", 20),
        ("2026-06-03", 60),
        ("2026-06-05", 70),
        ("2026-06-07", 120),
        ("2026-06-09", 150),
    ]

    async def walk(**params: Any) -> tuple[list[list[tuple[str, int]]], list[dict[str, Any]]]:
        pages, answers = [], []
        query: dict[str, Any] = {"limit": 2, **params}
        while True:
            answer = (await client.get(url, params=query, headers=auth)).json()
            answers.append(answer)
            pages.append([(line["date"], line["running_balance"]) for line in answer["data"]])
            if answer["next_cursor"] is None:
                return pages, answers
            query = {"limit": 2, "cursor": answer["next_cursor"]}

    pages, answers = await walk()
    assert [line for page in pages for line in page] == want
    assert answers[0]["prev_cursor"] is None
    # The newest page first, newest line first: the same balances.
    newest, _ = await walk(order="desc")
    assert [line for page in newest for line in page] == want[::-1]
    assert newest[0] == [("2026-06-09", 150), ("2026-06-07", 120)]
    # Back from the last page: prev_cursor gives the pages before, then null.
    back = (
        await client.get(
            url, params={"limit": 2, "cursor": answers[-1]["prev_cursor"]}, headers=auth
        )
    ).json()
    assert [(line["date"], line["running_balance"]) for line in back["data"]] == want[2:4]
    assert back["next_cursor"] is not None
    first = (
        await client.get(url, params={"limit": 2, "cursor": back["prev_cursor"]}, headers=auth)
    ).json()
    assert [(line["date"], line["running_balance"]) for line in first["data"]] == want[:2]
    assert first["prev_cursor"] is None
    # A page from a date still counts everything before it.
    later = (await client.get(url, params={"from": "2026-06-06"}, headers=auth)).json()
    assert [(line["date"], line["running_balance"]) for line in later["data"]] == want[3:]


async def test_statement_refuses_foreign_cursors_and_orders(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services
) -> None:
    for amount in (1, 2, 3):
        await client.post("/v1/journals", json=body(amount=amount), headers=auth)
    cash, _ = await _statement_ids(services)
    url = f"/v1/ledgers/{cash}/entries"
    page = (await client.get(url, params={"limit": 1}, headers=auth)).json()
    mixed = await client.get(
        url, params={"cursor": page["next_cursor"], "order": "desc"}, headers=auth
    )
    assert mixed.status_code == 400
    assert mixed.json()["details"]["field"] == "order"
    for cursor in ("nonsense", "WyJhc2MiLCJuZXh0IiwieCIsMSwxXQ", "WzEsMiwzXQ"):
        bad = await client.get(url, params={"cursor": cursor}, headers=auth)
        assert bad.status_code == 400, cursor
        assert bad.json()["code"] == "VALIDATION_ERROR"
    sideways = await client.get(url, params={"order": "sideways"}, headers=auth)
    assert sideways.status_code == 400


async def test_balances_report_the_position_they_reflect(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services
) -> None:
    first = (await client.post("/v1/journals", json=body(amount=100), headers=auth)).json()
    second = (await client.post("/v1/journals", json=body(amount=5), headers=auth)).json()
    cash, assets = await _statement_ids(services)
    url = f"/v1/ledgers/{cash}/balances"
    now = (await client.get(url, params={"as_of": "2026-12-31"}, headers=auth)).json()
    assert now["known_at"] == second["position"]
    then = (
        await client.get(
            url, params={"as_of": "2026-12-31", "known_at": first["position"]}, headers=auth
        )
    ).json()
    assert then["known_at"] == first["position"]
    assert then["balances"][0]["posted"] == 100
    beyond = (
        await client.get(url, params={"as_of": "2026-12-31", "known_at": 10**15}, headers=auth)
    ).json()
    assert beyond["known_at"] == second["position"]  # the data reflects the log's end
    top = (
        await client.get(
            f"/v1/ledgers/{assets}/balances",
            params={"as_of": "2026-12-31", "known_at": first["position"]},
            headers=auth,
        )
    ).json()
    assert top["balances"][0]["including_children"]["posted"] == 100
    assert top["balances"][0]["posted"] == 0
