"""The seed-compatible ``POST /v1/ledgers/journals`` (docs/api.md, "Seed-compatible endpoints")."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any, Literal

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.api.compat.ledgers_journals import (
    LedgersJournalBody,
    LedgersJournalEntry,
    LedgersJournalTransaction,
    check_total,
    transaction_currency,
)
from ledger.bootstrap import Services
from ledger.commands.tenants import NewKey
from ledger.errors import TotalMismatch

PATH = "/v1/ledgers/journals"
# The seed's answer, field for field and in its order.
SEED_FIELDS = [
    "id",
    "type",
    "status",
    "total_amount",
    "currency_id",
    "currency_code",
    "description",
    "reference_id",
    "timestamp",
    "value_date",
    "completed_at",
    "reconciled_at",
    "metadata",
    "created_at",
    "modified_at",
    "created_by",
    "modified_by",
    "total_debit_lcy",
    "total_credit_lcy",
    "active",
    "id_client",
]
# The seed document's example request, as written (no ledgers, amounts 0).
SEED_EXAMPLE = {
    "transaction": {"type": "string", "total_amount": 0},
    "entries": [{"amount": 0, "type": "credit"}, {"amount": 0, "type": "credit"}],
}
USD_ID = str(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, "urn:ledger:currency"), "USD"))


@pytest.fixture
async def ledgers(services: Services, acme_key: NewKey) -> dict[str, Any]:
    tenant_id = await services.pool.fetchval("SELECT tenant_id FROM tenants WHERE slug = 'acme'")
    opened = services.ledgers
    cash = await opened.open_ledger(
        tenant_id, code="cash", name="Cash", type="asset", currency="USD", min_balance=0
    )
    revenue = await opened.open_ledger(tenant_id, code="revenue", name="Revenue", type="income")
    wallet = await opened.open_ledger(tenant_id, code="wallet", name="Wallet", type="asset")
    return {"cash": cash, "revenue": revenue, "wallet": wallet, "tenant_id": tenant_id}


@pytest.fixture
def auth(acme_key: NewKey, ledgers: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {acme_key.api_key}"}


def seed_body(amount: int = 1000, **transaction: Any) -> dict[str, Any]:
    """The seed example with ledgers that exist: each of the three ways to name one."""
    return {
        "transaction": {"type": "sale", "total_amount": amount, **transaction},
        "entries": [
            {"amount": amount, "type": "debit", "ledger_code": "cash"},
            {"amount": amount, "type": "credit", "ledger_num_id": 2},
        ],
    }


async def journal_count(services: Services) -> int:
    count = await services.pool.fetchval("SELECT count(*) FROM journals")
    assert isinstance(count, int)
    return count


async def test_the_seed_example_with_ledgers_posts_and_answers_the_seed_shape(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    acme_key: NewKey,
    ledgers: dict[str, Any],
) -> None:
    request = seed_body(
        description="June sale",
        reference_id="inv-7",
        value_date="2026-06-03T14:15:22Z",
        metadata={"channel": "web"},
        id_client="client-1",
    )
    request["entries"][1] = {
        "amount": 1000,
        "type": "credit",
        "ledger_id": str(ledgers["revenue"].ledger_id),
        "currency": "USD",
    }
    response = await client.post(PATH, json=request, headers=auth)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert list(answer) == SEED_FIELDS
    usd = {"amount": "1000", "currency": "USD", "precision": 2}
    created = answer["created_at"]
    assert answer == {
        "id": answer["id"],
        "type": "sale",
        "status": "posted",
        "total_amount": usd,
        "currency_id": USD_ID,
        "currency_code": "USD",
        "description": "June sale",
        "reference_id": "inv-7",
        "timestamp": created,
        "value_date": "2026-06-03T00:00:00Z",
        # Posted on creation (the value date is in the past).
        "completed_at": created,
        "reconciled_at": None,
        "metadata": {"channel": "web"},
        "created_at": created,
        "modified_at": created,
        "created_by": str(acme_key.key_id),
        "modified_by": str(acme_key.key_id),
        "total_debit_lcy": usd,
        "total_credit_lcy": usd,
        "active": True,
        "id_client": "client-1",
    }
    assert int(response.headers["ledger-position"]) > 0

    native = await client.get(f"/v1/journals/{answer['id']}", headers=auth)
    assert native.status_code == 200
    journal = native.json()
    assert (journal["date"], journal["external_id"], journal["reference"]) == (
        "2026-06-03",
        "client-1",
        "inv-7",
    )
    assert journal["metadata"] == {
        "channel": "web",
        "ledgers_journals": {"type": "sale", "created_by": str(acme_key.key_id)},
    }
    assert [(e["ledger_code"], e["direction"], e["amount"]) for e in journal["entries"]] == [
        ("cash", "debit", 1000),
        ("revenue", "credit", 1000),
    ]
    balances = await client.get(
        f"/v1/ledgers/{ledgers['cash'].ledger_id}/balances",
        params={"as_of": "2026-06-30"},
        headers=auth,
    )
    assert balances.json()["balances"][0]["posted"] == 1000


async def test_the_literal_seed_example_is_a_400_naming_what_is_missing(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services
) -> None:
    response = await client.post(PATH, json=SEED_EXAMPLE, headers=auth)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == "$.entries[0]"
    assert [e["field"] for e in error["details"]["errors"]] == [
        "$.entries[0]",
        "$.entries[0].amount",
        "$.entries[1]",
        "$.entries[1].amount",
    ]
    assert "ledger_id, ledger_code or ledger_num_id" in error["message"]
    assert "must be > 0" in error["message"]
    assert await journal_count(services) == 0


def _with(change: dict[str, Any], entries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    request = seed_body()
    request["transaction"].update(change)
    if entries is not None:
        request["entries"] = entries
    return request


_DEBIT_CASH = {"amount": 1000, "type": "debit", "ledger_code": "cash"}
_CREDIT_REVENUE = {"amount": 1000, "type": "credit", "ledger_code": "revenue"}


@pytest.mark.parametrize(
    ("request_body", "status", "code", "field"),
    [
        (_with({"unknown": 1}), 400, "VALIDATION_ERROR", "$.transaction.unknown"),
        (_with({"total_amount": "1000"}), 400, "VALIDATION_ERROR", "$.transaction.total_amount"),
        (_with({"total_amount": 10.5}), 400, "VALIDATION_ERROR", "$.transaction.total_amount"),
        (_with({}, [_DEBIT_CASH]), 400, "VALIDATION_ERROR", "$.entries"),
        (
            _with({}, [{**_DEBIT_CASH, "ledger_num_id": 1}, _CREDIT_REVENUE]),
            400,
            "VALIDATION_ERROR",
            "$.entries[0]",
        ),
        (
            _with({}, [_DEBIT_CASH, {**_CREDIT_REVENUE, "amount": 1e3}]),
            400,
            "VALIDATION_ERROR",
            "$.entries[1].amount",
        ),
        (
            _with({}, [_DEBIT_CASH, {**_CREDIT_REVENUE, "type": "CREDIT"}]),
            400,
            "VALIDATION_ERROR",
            "$.entries[1].type",
        ),
        (_with({"value_date": "2026-13-01"}), 400, "VALIDATION_ERROR", "$.transaction.value_date"),
        (
            _with({"value_date": "2026-06-03T10:00:00"}),
            400,
            "VALIDATION_ERROR",
            "$.transaction.value_date",
        ),
        (
            _with({"metadata": {"ledgers_journals": {}}}),
            400,
            "VALIDATION_ERROR",
            "$.transaction.metadata.ledgers_journals",
        ),
        (_with({"type": ""}), 400, "VALIDATION_ERROR", "$.transaction.type"),
        (_with({"total_amount": 999}), 422, "TOTAL_MISMATCH", "$.transaction.total_amount"),
        (_with({"total_amount": 0}), 422, "TOTAL_MISMATCH", "$.transaction.total_amount"),
        (
            _with({}, [_DEBIT_CASH, {**_CREDIT_REVENUE, "amount": 999}]),
            422,
            "JOURNAL_UNBALANCED",
            None,
        ),
        (
            _with({}, [_DEBIT_CASH, {**_CREDIT_REVENUE, "ledger_code": "nope"}]),
            422,
            "LEDGER_NOT_FOUND",
            None,
        ),
        (
            _with(
                {},
                [{**_DEBIT_CASH, "currency": "ZZZ"}, {**_CREDIT_REVENUE, "currency": "ZZZ"}],
            ),
            422,
            "CURRENCY_UNKNOWN",
            None,
        ),
        # A credit to an asset with a minimum balance of 0.
        (
            _with(
                {},
                [
                    {"amount": 1000, "type": "debit", "ledger_code": "revenue"},
                    {"amount": 1000, "type": "credit", "ledger_code": "cash"},
                ],
            ),
            422,
            "INSUFFICIENT_FUNDS",
            None,
        ),
        ([], 400, "VALIDATION_ERROR", "$"),
    ],
)
async def test_bad_input_is_a_4xx_and_posts_nothing(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    services: Services,
    request_body: Any,
    status: int,
    code: str,
    field: str | None,
) -> None:
    response = await client.post(PATH, json=request_body, headers=auth)
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    if field is not None:
        assert error["details"]["field"] == field
    assert await journal_count(services) == 0


async def test_malformed_json_and_differing_keys_are_400s(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services
) -> None:
    malformed = await client.post(
        PATH, content=b'{"transaction": ', headers={**auth, "content-type": "application/json"}
    )
    assert (malformed.status_code, malformed.json()["code"]) == (400, "VALIDATION_ERROR")
    differing = await client.post(
        PATH, json=seed_body(id_client="a"), headers={**auth, "Idempotency-Key": "b"}
    )
    assert differing.status_code == 400
    assert differing.json()["details"]["field"] == "$.transaction.id_client"
    assert await journal_count(services) == 0


async def test_a_retry_replays_the_answer_and_another_body_conflicts(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services, acme_key: NewKey
) -> None:
    first = await client.post(PATH, json=seed_body(id_client="k-1"), headers=auth)
    assert first.status_code == 201, first.text
    # Another key of the tenant retrying: the same answer, created_by still the first key.
    other, _ = await services.tenants.create_key("acme")
    again = await client.post(
        PATH, json=seed_body(id_client="k-1"), headers={"X-API-KEY": other.api_key}
    )
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.json()["created_by"] == str(acme_key.key_id)
    # The key as the Idempotency-Key header is the same key.
    by_header = await client.post(
        PATH, json=seed_body(), headers={**auth, "Idempotency-Key": "k-1"}
    )
    assert (by_header.status_code, by_header.content) == (200, first.content)
    conflict = await client.post(PATH, json=seed_body(2000, id_client="k-1"), headers=auth)
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "IDEMPOTENCY_CONFLICT"
    assert await journal_count(services) == 1


async def test_concurrent_retries_post_one_journal(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services
) -> None:
    answers = await asyncio.gather(
        *(client.post(PATH, json=seed_body(id_client="k-3"), headers=auth) for _ in range(8))
    )
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.content for a in answers}) == 1
    assert await journal_count(services) == 1


async def test_a_future_value_date_is_scheduled_and_not_completed(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    later = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()
    response = await client.post(PATH, json=seed_body(value_date=later), headers=auth)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert (answer["status"], answer["completed_at"], answer["active"]) == (
        "scheduled",
        None,
        True,
    )
    assert answer["value_date"] == f"{later}T00:00:00Z"


async def test_a_date_time_value_date_is_taken_in_utc(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.post(
        PATH, json=seed_body(value_date="2026-06-03T23:30:00-05:00"), headers=auth
    )
    assert response.status_code == 201, response.text
    assert response.json()["value_date"] == "2026-06-04T00:00:00Z"


async def test_reconciliation_and_reversal_show_in_a_replay(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    request = seed_body(id_client="k-2", value_date="2026-06-03")
    answer = (await client.post(PATH, json=request, headers=auth)).json()
    journal = (await client.get(f"/v1/journals/{answer['id']}", headers=auth)).json()
    record = await client.post(
        "/v1/records",
        json={"amount": 1000, "direction": "credit", "date": "2026-06-03", "data_stream_key": "b"},
        headers=auth,
    )
    match = await client.post(
        "/v1/matches",
        json={
            "items": [{"record_id": record.json()["id"]}, {"entry_id": journal["entries"][0]["id"]}]
        },
        headers=auth,
    )
    assert match.status_code == 201, match.text
    reversed_ = await client.post(f"/v1/journals/{answer['id']}/reverse", headers=auth)
    assert reversed_.status_code == 201, reversed_.text
    replay = (await client.post(PATH, json=request, headers=auth)).json()
    assert replay["reconciled_at"] == match.json()["created_at"]
    assert (replay["status"], replay["active"]) == ("reversed", False)
    assert replay["completed_at"] == answer["completed_at"]


async def test_multi_currency_totals_in_the_base_currency(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    rate = await client.post(
        "/v1/fx-rates",
        json={"base": "EUR", "quote": "USD", "rate": "1.0842", "date": "2026-06-01"},
        headers=auth,
    )
    assert rate.status_code == 201, rate.text
    request = {
        "transaction": {"type": "fx", "total_amount": 1000, "value_date": "2026-06-03"},
        "entries": [
            {"amount": 1000, "type": "debit", "ledger_code": "wallet", "currency": "EUR"},
            {"amount": 1000, "type": "credit", "ledger_code": "revenue"},
        ],
    }
    response = await client.post(PATH, json=request, headers=auth)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["currency_code"] == "EUR"
    assert answer["currency_id"] == str(
        uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, "urn:ledger:currency"), "EUR")
    )
    assert answer["total_amount"] == {"amount": "1000", "currency": "EUR", "precision": 2}
    assert answer["total_debit_lcy"] == {"amount": "1084", "currency": "USD", "precision": 2}
    assert answer["total_credit_lcy"] == answer["total_debit_lcy"]


async def test_the_static_path_leaves_the_ledger_routes_as_they_were(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    for method, path in (
        ("GET", "/v1/ledgers/journals"),
        ("PATCH", "/v1/ledgers/journals"),
        ("POST", "/v1/ledgers/journals/close"),
    ):
        response = await client.request(method, path, json={}, headers=auth)
        other = await client.request(
            method, path.replace("journals", "other"), json={}, headers=auth
        )
        assert response.status_code == other.status_code == 404, (method, path)
        assert response.json()["code"] == "NOT_FOUND"
    unauthenticated = await client.post(PATH, json=SEED_EXAMPLE)
    assert unauthenticated.status_code == 401
    document = (await client.get("/schema/openapi.json")).json()
    assert set(document["paths"]["/v1/ledgers/journals"]) == {"post"}
    operation = document["paths"]["/v1/ledgers/journals"]["post"]
    assert operation["tags"] == ["compat: ledgers/journals"]
    assert operation["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LedgersJournalOut"
    }


def _entry(
    amount: int, kind: Literal["debit", "credit"], currency: str | None
) -> LedgersJournalEntry:
    return LedgersJournalEntry(amount=amount, type=kind, ledger_code="x", currency=currency)


_entries = st.lists(
    st.builds(
        _entry,
        st.integers(min_value=1, max_value=2**63 - 1),
        st.sampled_from(["debit", "credit"]),
        st.sampled_from([None, "USD", "EUR"]),
    ),
    min_size=2,
    max_size=6,
)


@given(entries=_entries, delta=st.integers(min_value=-3, max_value=3))
def test_the_total_is_exactly_the_debits_in_the_transaction_currency(
    entries: list[LedgersJournalEntry], delta: int
) -> None:
    currency = transaction_currency(entries, "USD")
    debits = sum(
        e.amount for e in entries if e.type == "debit" and (e.currency or currency) == currency
    )
    total = max(debits + delta, 0)
    body = LedgersJournalBody(
        transaction=LedgersJournalTransaction(type="t", total_amount=total),
        entries=entries,
    )
    if total == debits:
        check_total(body, currency)
    else:
        with pytest.raises(TotalMismatch) as raised:
            check_total(body, currency)
        assert raised.value.details["debits"] == debits


def test_transaction_currency_is_the_first_named() -> None:
    assert (
        transaction_currency([_entry(1, "debit", None), _entry(1, "credit", "EUR")], "USD") == "EUR"
    )
    assert transaction_currency([_entry(1, "debit", None)], "USD") == "USD"
