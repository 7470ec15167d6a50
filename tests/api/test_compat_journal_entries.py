"""Seed 002 ``POST /external/v1/journal_entries/create/`` over HTTP (docs/api.md,
"Seed-compatible endpoints")."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import limits
from ledger.api.compat.journal_entries import amount_of, amount_text
from ledger.bootstrap import Services

PATH = "/external/v1/journal_entries/create/"


def seed_body(**fields: Any) -> dict[str, Any]:
    """The seed document's example request."""
    body: dict[str, Any] = {
        "domain_url": "acme-corp",
        "date": "2026-06-03",
        "memo": "API posted accrual",
        "transactionCurrency": "SGD",
        "reportingCurrency": "SGD",
        "external_id": "ext-inv-00912",
        "entries": [
            {"account": "5010", "debit": "1000.00", "credit": "0.00", "description": "Rent"},
            {"account": "2100", "debit": "0.00", "credit": "1000.00", "description": "Payable"},
        ],
    }
    body.update(fields)
    return body


async def _tenant(services: Services, slug: str) -> dict[str, str]:
    key, _ = await services.tenants.create_tenant(slug, "SGD", slug)
    tenant_id = await services.pool.fetchval("SELECT tenant_id FROM tenants WHERE slug = $1", slug)
    for code, name, kind in (
        ("5010", "Rent expense", "expense"),
        ("2100", "Payables", "liability"),
    ):
        await services.ledgers.open_ledger(tenant_id, code=code, name=name, type=kind)
    return {"X-API-Key": key.api_key}


@pytest.fixture
async def auth(services: Services) -> dict[str, str]:
    return await _tenant(services, "acme-corp")


async def _journal_count(services: Services) -> int:
    count = await services.pool.fetchval("SELECT count(*) FROM journals")
    assert isinstance(count, int)
    return count


def assert_seed_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"status", "status_code", "code", "message", "details"}
    assert (body["status"], body["status_code"], body["code"]) == ("error", status, code)
    details: dict[str, Any] = body["details"]
    return details


async def test_the_seed_example_posts_a_native_journal(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.post(PATH, json=seed_body(), headers=auth)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["status"], answer["status_code"]) == ("success", 200)
    data = answer["data"]
    assert data["journal_number"] == "JE-000001"
    assert {k: data[k] for k in data if k not in ("journal_entry_id", "journal_number")} == {
        "date": "2026-06-03",
        "memo": "API posted accrual",
        "entry_type": "Manual Journal",
        "transaction_currency": "SGD",
        "transaction_amount": "1000.00",
        "reporting_currency": "SGD",
        "reporting_amount": "1000.00",
        "exchange_rate": "1.00000000000",
        "transactions": [
            {
                "account": "5010",
                "account_name": "Rent expense",
                "debit": "1000.00",
                "credit": "0.00",
                "debit_reporting": "1000.00",
                "credit_reporting": "0.00",
                "description": "Rent",
            },
            {
                "account": "2100",
                "account_name": "Payables",
                "debit": "0.00",
                "credit": "1000.00",
                "debit_reporting": "0.00",
                "credit_reporting": "1000.00",
                "description": "Payable",
            },
        ],
        "bank_reconciliation_id": None,
    }
    native = await client.get(f"/v1/journals/{data['journal_entry_id']}", headers=auth)
    assert native.status_code == 200, native.text
    journal = native.json()
    assert (journal["number"], journal["status"], journal["external_id"]) == (
        "JE-000001",
        "posted",
        "ext-inv-00912",
    )
    assert (journal["currency"], journal["reporting_currency"]) == ("SGD", "SGD")


async def test_the_domain_form_names_the_tenant(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    body = seed_body(domain_url="Acme-Corp.example.com", external_id=None)
    response = await client.post(PATH, json=body, headers=auth)
    assert response.status_code == 200, response.text


async def test_a_reporting_currency_is_converted_and_stored(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    rate = await client.post(
        "/v1/fx-rates",
        json={"base": "SGD", "quote": "EUR", "rate": "0.6845", "date": "2026-06-01"},
        headers=auth,
    )
    assert rate.status_code == 201, rate.text
    body = seed_body(reportingCurrency="EUR")
    body["entries"][0]["debit"] = "1000.01"
    body["entries"][1]["credit"] = "1000.01"
    response = await client.post(PATH, json=body, headers=auth)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["reporting_currency"], data["reporting_amount"]) == ("EUR", "684.51")
    assert data["exchange_rate"] == "0.68450000000"
    assert data["transactions"][0]["debit_reporting"] == "684.51"
    native = (await client.get(f"/v1/journals/{data['journal_entry_id']}", headers=auth)).json()
    assert native["reporting_currency"] == "EUR"
    assert native["reporting_rates"] == {"SGD": "0.6845"}
    assert [e["amount_reporting"] for e in native["entries"]] == [68451, 68451]
    assert native["totals"][0]["debits_reporting"] == 68451


async def test_another_tenant_is_refused_as_unknown(
    client: httpx.AsyncClient, services: Services, auth: dict[str, str]
) -> None:
    await _tenant(services, "globex")
    for domain in ("globex", "globex.example.com", "nobody"):
        response = await client.post(PATH, json=seed_body(domain_url=domain), headers=auth)
        details = assert_seed_error(response, 404, "NOT_FOUND")
        assert details["field"] == "$.domain_url"
    assert await _journal_count(services) == 0


def _with_entry(index: int, **fields: Any) -> dict[str, Any]:
    body = seed_body()
    body["entries"][index].update(fields)
    return body


BAD: list[tuple[dict[str, Any], int, str, str]] = [
    (seed_body(memo="   "), 400, "VALIDATION_ERROR", "$.memo"),
    ({k: v for k, v in seed_body().items() if k != "memo"}, 400, "VALIDATION_ERROR", "$.memo"),
    (seed_body(date="03/06/2026"), 400, "VALIDATION_ERROR", "$.date"),
    (seed_body(extra=1), 400, "VALIDATION_ERROR", "$.extra"),
    (_with_entry(0, debit="1000.001"), 400, "VALIDATION_ERROR", "$.entries[0].debit"),
    (_with_entry(0, debit="-5.00"), 400, "VALIDATION_ERROR", "$.entries[0].debit"),
    (_with_entry(0, debit="1e3"), 400, "VALIDATION_ERROR", "$.entries[0].debit"),
    (_with_entry(0, credit="1.00"), 400, "VALIDATION_ERROR", "$.entries[0]"),
    (_with_entry(0, debit="0.00"), 400, "VALIDATION_ERROR", "$.entries[0]"),
    (_with_entry(0, account="9999"), 422, "LEDGER_NOT_FOUND", ""),
    (_with_entry(0, debit="999.99"), 422, "JOURNAL_UNBALANCED", ""),
    (seed_body(transactionCurrency="sgd"), 400, "VALIDATION_ERROR", "$.transactionCurrency"),
    (seed_body(transactionCurrency="XXQ"), 422, "CURRENCY_UNKNOWN", ""),
    (seed_body(reportingCurrency="ZZZ"), 422, "CURRENCY_UNKNOWN", ""),
    (seed_body(reportingCurrency="EUR"), 422, "FX_RATE_NOT_FOUND", ""),
]


@pytest.mark.parametrize(("body", "status", "code", "field"), BAD)
async def test_bad_input_is_refused_in_the_seed_shape(
    client: httpx.AsyncClient,
    services: Services,
    auth: dict[str, str],
    body: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    details = assert_seed_error(await client.post(PATH, json=body, headers=auth), status, code)
    if field:
        assert details["field"] == field
    if code == "LEDGER_NOT_FOUND":
        assert details["entry_index"] == 0
    assert await _journal_count(services) == 0


async def test_malformed_json_and_missing_key_are_in_the_seed_shape(
    client: httpx.AsyncClient, services: Services, auth: dict[str, str]
) -> None:
    response = await client.post(
        PATH, content=b"{", headers={**auth, "Content-Type": "application/json"}
    )
    assert_seed_error(response, 400, "VALIDATION_ERROR")
    assert_seed_error(await client.post(PATH, json=seed_body()), 401, "UNAUTHENTICATED")
    bad_key = {"X-API-Key": "nope"}
    assert_seed_error(
        await client.post(PATH, json=seed_body(), headers=bad_key), 401, "UNAUTHENTICATED"
    )
    assert await _journal_count(services) == 0


async def test_external_id_replays_and_conflicts(
    client: httpx.AsyncClient, services: Services, auth: dict[str, str]
) -> None:
    first = await client.post(PATH, json=seed_body(), headers=auth)
    assert first.status_code == 200, first.text
    again = await client.post(PATH, json=seed_body(), headers=auth)
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    changed = copy.deepcopy(seed_body(memo="another memo"))
    assert_seed_error(
        await client.post(PATH, json=changed, headers=auth), 409, "IDEMPOTENCY_CONFLICT"
    )
    assert await _journal_count(services) == 1


async def test_accrual_date_schedules(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.post(
        PATH, json=seed_body(accrual_date="2099-01-01", external_id=None), headers=auth
    )
    assert response.status_code == 200, response.text
    journal_id = response.json()["data"]["journal_entry_id"]
    native = (await client.get(f"/v1/journals/{journal_id}", headers=auth)).json()
    assert (native["status"], native["accrual_date"]) == ("scheduled", "2099-01-01")


async def test_bank_reconciliation_id_is_the_active_match(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    created = (await client.post(PATH, json=seed_body(), headers=auth)).json()["data"]
    native = (await client.get(f"/v1/journals/{created['journal_entry_id']}", headers=auth)).json()
    record = await client.post(
        "/v1/records",
        json={
            "amount": 100000,
            "direction": "credit",
            "date": "2026-06-03",
            "data_stream_key": "bank",
        },
        headers=auth,
    )
    assert record.status_code == 201, record.text
    matched = await client.post(
        "/v1/matches",
        json={
            "items": [{"record_id": record.json()["id"]}, {"entry_id": native["entries"][0]["id"]}]
        },
        headers=auth,
    )
    assert matched.status_code == 201, matched.text
    again = (await client.post(PATH, json=seed_body(), headers=auth)).json()["data"]
    assert again["bank_reconciliation_id"] == matched.json()["id"]


@given(
    minor=st.integers(min_value=0, max_value=limits.AMOUNT_MINOR_MAX),
    precision=st.integers(min_value=0, max_value=limits.CURRENCY_PRECISION_MAX),
)
def test_any_amount_text_round_trips_exactly(minor: int, precision: int) -> None:
    # What the answer writes reads back as the same amount.
    assert amount_of(amount_text(minor, precision), precision, "$.entries[0].debit") == minor
