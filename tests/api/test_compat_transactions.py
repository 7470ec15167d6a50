"""Seed 003 over HTTP: ``POST /v1/transactions?force=`` (bookkeeping transactions).

The seed's example request (with ledgers that exist) is posted as one native journal, visible
through the native API; bad input is a 4xx envelope that posts nothing; a similar transaction
answers ``ALREADY_EXISTS`` unless ``force=true``, also under concurrency.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import limits
from ledger.api.compat.amounts import minor_units_of
from ledger.api.compat.transactions import TransactionAnswerOut
from ledger.bootstrap import Services
from ledger.commands.tenants import NewKey
from ledger.domain.money import major_units
from ledger.queries.ledgers import LedgerRef

ANSWER_ENCODER = msgspec.json.Encoder(decimal_format="number")
SEED_TRANSACTION_FIELDS = [
    "_id",
    "projectId",
    "currency",
    "totalAmount",
    "transactionDate",
    "paymentMethod",
    "source",
    "isReconciled",
    "nonProfitAllocations",
    "entries",
    "classes",
    "attachmentsIds",
    "createdAt",
    "updatedAt",
    "refNo",
    "originalAmount",
    "originalCurrency",
    "counterParty",
    "account",
    "nonProfitGrantId",
    "attachedTransactionId",
]


class Books:
    """The acme tenant's ledgers (ids by code) and its bearer header."""

    def __init__(self, headers: dict[str, str], ids: dict[str, str]) -> None:
        self.headers = headers
        self.ids = ids


@pytest.fixture
async def books(services: Services, acme_key: NewKey) -> Books:
    tenant_id = await services.pool.fetchval("SELECT tenant_id FROM tenants WHERE slug = 'acme'")
    ledgers = services.ledgers
    assets = await ledgers.open_ledger(tenant_id, code="1", name="Assets", type="asset")
    opened = [
        assets,
        await ledgers.open_ledger(
            tenant_id,
            code="1000",
            name="Bank",
            type="asset",
            parent=LedgerRef.by_id(assets.ledger_id),
        ),
        await ledgers.open_ledger(tenant_id, code="4000", name="Sales", type="income"),
        await ledgers.open_ledger(tenant_id, code="6000", name="Office supplies", type="expense"),
        await ledgers.open_ledger(tenant_id, code="6100", name="Misc", type="expense"),
        await ledgers.open_ledger(tenant_id, code="6200", name="Misc", type="expense"),
        await ledgers.open_ledger(tenant_id, code="2000", name="Loans", type="liability"),
    ]
    return Books(
        {"Authorization": f"Bearer {acme_key.api_key}"},
        {ledger.code: str(ledger.ledger_id) for ledger in opened},
    )


def seed_request(books: Books, **fields: Any) -> dict[str, Any]:
    """The seed's example request, with a category and an account that exist."""
    return {
        "totalAmount": 123,
        "transactionDate": "2023-11-07T05:31:56Z",
        "paymentMethod": {},
        "isReconciled": True,
        "entries": [
            {
                "id": "line-1",
                "amount": 123,
                "type": "DEBIT",
                "category": "Sales",
                "parentCategory": "INCOME",
                "isMain": True,
                "note": "refund",
            }
        ],
        "refNo": "INV-1",
        "currency": "USD",
        "counterParty": "666666666666666666666666",
        "account": books.ids["1000"],
        **fields,
    }


def two_sided(books: Books, amount: Any = 12.5, **fields: Any) -> dict[str, Any]:
    return {
        "totalAmount": amount,
        "transactionDate": "2026-06-03T23:30:00-02:00",
        "paymentMethod": {"type": "card"},
        "isReconciled": False,
        "entries": [
            {"amount": amount, "type": "DEBIT", "category": "6000", "parentCategory": "EXPENSE"},
            {"amount": amount, "type": "CREDIT", "category": "Bank"},
        ],
        **fields,
    }


async def post(
    client: httpx.AsyncClient, books: Books, body: Any, query: str = ""
) -> httpx.Response:
    return await client.post(f"/v1/transactions{query}", json=body, headers=books.headers)


def exact(response: httpx.Response) -> Any:
    """The answer with its numbers as Decimals (read from the text, never a float)."""
    return json.loads(response.text, parse_float=Decimal)


async def journal_count(client: httpx.AsyncClient, books: Books) -> int:
    listed = await client.get("/v1/journals?limit=500", headers=books.headers)
    assert listed.status_code == 200
    return len(listed.json()["data"])


async def test_the_seed_example_posts_one_journal(client: httpx.AsyncClient, books: Books) -> None:
    response = await post(client, books, seed_request(books))
    assert response.status_code == 201, response.text
    answer = exact(response)
    assert list(answer) == ["message", "metaData", "data"]
    # The bytes are exactly the documented schema's (decoded strictly, encoded back the same).
    documented = msgspec.json.decode(response.content, type=TransactionAnswerOut, strict=True)
    assert ANSWER_ENCODER.encode(documented) == response.content
    assert answer["metaData"] == {"warnings": []}
    assert answer["data"]["action"] == "CREATED"
    transaction = answer["data"]["transaction"]
    assert list(transaction) == SEED_TRANSACTION_FIELDS
    journal_id = transaction["_id"]
    UUID(journal_id)
    assert transaction["projectId"] == "acme"
    assert (transaction["currency"], transaction["totalAmount"]) == ("USD", 123)
    assert (transaction["originalCurrency"], transaction["originalAmount"]) == ("USD", 123)
    assert transaction["transactionDate"] == "2023-11-07T05:31:56Z"
    assert transaction["paymentMethod"] == {}
    assert transaction["source"] == {"type": "api"}
    # From the reconciliation projection, not the request's isReconciled.
    assert transaction["isReconciled"] is False
    assert transaction["refNo"] == "INV-1"
    assert transaction["counterParty"] == {
        "_id": "666666666666666666666666",
        "accountName": None,
        "accountNumber": None,
        "email": None,
        "phone": None,
        "type": None,
    }
    assert transaction["account"] == {
        "_id": books.ids["1000"],
        "accountType": "Depository",
        "accountName": "Bank",
        "accountNumber": "1000",
    }
    assert transaction["nonProfitAllocations"] == transaction["classes"] == []
    assert transaction["attachmentsIds"] == []
    assert transaction["nonProfitGrantId"] is transaction["attachedTransactionId"] is None
    (entry,) = transaction["entries"]
    assert entry["amount"] == 123
    assert (entry["type"], entry["parentCategory"]) == ("DEBIT", "INCOME")
    assert entry["category"] == {
        "_id": books.ids["4000"],
        "name": "Sales",
        "emoji": None,
        "parentCategory": "INCOME",
        "number": "4000",
        "group": None,
    }
    assert (entry["isMain"], entry["note"]) == (True, "refund")

    native = (await client.get(f"/v1/journals/{journal_id}", headers=books.headers)).json()
    assert native["date"] == "2023-11-07"
    assert native["reference"] == "INV-1"
    assert native["metadata"] == {
        "transactionDate": "2023-11-07T05:31:56+00:00",
        "paymentMethod": {},
        "isReconciled": True,
        "counterParty": "666666666666666666666666",
        "account": books.ids["1000"],
    }
    lines = [(e["ledger_code"], e["direction"], e["amount"]) for e in native["entries"]]
    assert lines == [("4000", "debit", 12300), ("1000", "credit", 12300)]
    assert native["entries"][0]["id"] == entry["id"]
    assert native["entries"][0]["description"] == "refund"
    assert native["entries"][0]["metadata"] == {"isMain": True, "clientEntryId": "line-1"}
    assert native["entries"][1]["metadata"] == {"balancing": True}
    balances = await client.get(
        f"/v1/ledgers/{books.ids['1']}/balances?as_of=2023-11-30", headers=books.headers
    )
    (usd,) = balances.json()["balances"]
    assert usd["including_children"]["posted"] == -12300


async def test_two_sided_transaction_and_the_utc_date(
    client: httpx.AsyncClient, books: Books
) -> None:
    response = await post(client, books, two_sided(books))
    assert response.status_code == 201, response.text
    transaction = exact(response)["data"]["transaction"]
    assert transaction["totalAmount"] == Decimal("12.5")
    assert transaction["account"] is None
    assert transaction["counterParty"] is None
    assert transaction["refNo"] is None
    # 23:30 at -02:00 is 01:30 UTC the next day: the journal's date is the UTC date.
    assert transaction["transactionDate"] == "2026-06-04T01:30:00Z"
    assert [(e["type"], e["amount"], e["category"]["number"]) for e in transaction["entries"]] == [
        ("DEBIT", Decimal("12.5"), "6000"),
        ("CREDIT", Decimal("12.5"), "1000"),
    ]
    assert transaction["entries"][1]["category"]["group"] == "1"
    native = (await client.get(f"/v1/journals/{transaction['_id']}", headers=books.headers)).json()
    assert native["date"] == "2026-06-04"
    assert [e["amount"] for e in native["entries"]] == [1250, 1250]


async def test_amounts_are_read_exactly(client: httpx.AsyncClient, books: Books) -> None:
    body = seed_request(books, totalAmount=0.3, refNo=None)
    body["entries"] = [
        {"amount": 0.1, "type": "CREDIT", "category": "4000"},
        {"amount": 0.2, "type": "CREDIT", "category": "4000"},
    ]
    response = await post(client, books, body)
    assert response.status_code == 201, response.text
    transaction = exact(response)["data"]["transaction"]
    assert transaction["totalAmount"] == Decimal("0.3")
    native = (await client.get(f"/v1/journals/{transaction['_id']}", headers=books.headers)).json()
    assert [(e["direction"], e["amount"]) for e in native["entries"]] == [
        ("credit", 10),
        ("credit", 20),
        ("debit", 30),
    ]
    largest = "92233720368547758.07"
    # Into ledgers with nothing posted yet: 1000 holds 0.30 already, and 0.30 more than the
    # largest amount would leave the int64 range (422 AMOUNT_OVERFLOW).
    raw = (
        f'{{"totalAmount": {largest}, "transactionDate": "2026-01-01T00:00:00Z",'
        ' "paymentMethod": {}, "isReconciled": false, "entries": ['
        f'{{"amount": {largest}, "type": "DEBIT", "category": "6100"}},'
        f'{{"amount": {largest}, "type": "CREDIT", "category": "2000"}}]}}'
    )
    response = await client.post(
        "/v1/transactions",
        content=raw,
        headers={**books.headers, "content-type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert f'"totalAmount":{largest}' in response.text


def _without(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != name}


def _entry(books: Books, **fields: Any) -> dict[str, Any]:
    body = seed_request(books)
    body["entries"] = [{**body["entries"][0], **fields}]
    return body


BAD: list[tuple[str, Any, str, int, str, str | None]] = [
    # (name, body maker or (body maker, query), ..., status, code, details.field)
    ("string amount", lambda b: _entry(b, amount="123"), "", 400, "VALIDATION_ERROR",
     "$.entries[0].amount"),
    ("zero amount", lambda b: _entry(b, amount=0), "", 400, "VALIDATION_ERROR",
     "$.entries[0].amount"),
    ("negative amount", lambda b: _entry(b, amount=-1), "", 400, "VALIDATION_ERROR",
     "$.entries[0].amount"),
    ("three decimals in USD", lambda b: _entry(b, amount=1.234), "", 400, "VALIDATION_ERROR",
     "$.entries[0].amount"),
    ("total with three decimals", lambda b: seed_request(b, totalAmount=123.001), "", 400,
     "VALIDATION_ERROR", "$.totalAmount"),
    ("huge exponent", lambda b: json.dumps(seed_request(b)).replace(
        '"totalAmount": 123', '"totalAmount": 1e999999'), "", 400, "VALIDATION_ERROR",
     "$.totalAmount"),
    ("decimals in JPY", lambda b: seed_request(b, currency="JPY", totalAmount=1.5), "", 400,
     "VALIDATION_ERROR", "$.totalAmount"),
    ("missing date", lambda b: _without(seed_request(b), "transactionDate"), "", 400,
     "VALIDATION_ERROR", "$.transactionDate"),
    ("date without offset", lambda b: seed_request(b, transactionDate="2023-11-07T05:31:56"),
     "", 400, "VALIDATION_ERROR", "$.transactionDate"),
    ("missing paymentMethod", lambda b: _without(seed_request(b), "paymentMethod"), "", 400,
     "VALIDATION_ERROR", "$.paymentMethod"),
    ("unknown field", lambda b: seed_request(b, memo="x"), "", 400, "VALIDATION_ERROR",
     "$.memo"),
    ("lower-case type", lambda b: _entry(b, type="debit"), "", 400, "VALIDATION_ERROR",
     "$.entries[0].type"),
    ("unknown parentCategory", lambda b: _entry(b, parentCategory="REVENUE"), "", 400,
     "VALIDATION_ERROR", "$.entries[0].parentCategory"),
    ("no entries", lambda b: seed_request(b, entries=[]), "", 400, "VALIDATION_ERROR",
     "$.entries"),
    ("force=yes", seed_request, "?force=yes", 400, "VALIDATION_ERROR", "force"),
    ("unknown currency", lambda b: seed_request(b, currency="XYZ"), "", 422,
     "CURRENCY_UNKNOWN", "$.currency"),
    ("unknown category", lambda b: _entry(b, category="Rent"), "", 422, "LEDGER_NOT_FOUND",
     "$.entries[0].category"),
    ("ambiguous category name", lambda b: _entry(b, category="Misc", parentCategory=None), "",
     422, "LEDGER_AMBIGUOUS", "$.entries[0].category"),
    ("parentCategory disagrees", lambda b: _entry(b, parentCategory="EXPENSE"), "", 422,
     "LEDGER_TYPE_MISMATCH", "$.entries[0].parentCategory"),
    ("unknown account", lambda b: seed_request(b, account="9999"), "", 422, "LEDGER_NOT_FOUND",
     "$.account"),
    ("unknown account id", lambda b: seed_request(b, account=str(UUID(int=7))), "", 422,
     "LEDGER_NOT_FOUND", "$.account"),
    ("account not an asset", lambda b: seed_request(b, account="2000"), "", 422,
     "LEDGER_TYPE_MISMATCH", "$.account"),
    ("one side, no account", lambda b: _without(seed_request(b), "account"), "", 422,
     "JOURNAL_UNBALANCED", None),
    ("two sides that differ", lambda b: {**two_sided(b), "entries": [
        {"amount": 2, "type": "DEBIT", "category": "6000"},
        {"amount": 1, "type": "CREDIT", "category": "1000"}]}, "", 422, "JOURNAL_UNBALANCED",
     None),
    ("total is not the debits", lambda b: seed_request(b, totalAmount=122), "", 422,
     "TOTAL_MISMATCH", "$.totalAmount"),
    ("currency without a rate", lambda b: seed_request(b, currency="EUR"), "", 422,
     "FX_RATE_NOT_FOUND", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "query", "status", "code", "field"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
async def test_bad_input_is_refused_and_posts_nothing(
    client: httpx.AsyncClient,
    books: Books,
    make: Any,
    query: str,
    status: int,
    code: str,
    field: str | None,
) -> None:
    body = make(books)
    response = await client.post(
        f"/v1/transactions{query}",
        content=body if isinstance(body, str) else json.dumps(body),
        headers={**books.headers, "content-type": "application/json"},
    )
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    if field is not None:
        assert error["details"]["field"] == field
    assert await journal_count(client, books) == 0


async def test_a_closed_account_names_the_account(client: httpx.AsyncClient, books: Books) -> None:
    closed = await client.post(f"/v1/ledgers/{books.ids['1000']}/close", headers=books.headers)
    assert closed.status_code == 200, closed.text
    response = await post(client, books, seed_request(books))
    assert response.status_code == 422
    assert response.json()["code"] == "LEDGER_CLOSED"
    assert response.json()["details"]["field"] == "$.account"
    assert await journal_count(client, books) == 0


async def test_without_auth_is_401(client: httpx.AsyncClient, books: Books) -> None:
    response = await client.post("/v1/transactions", json=seed_request(books))
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"


async def test_a_similar_transaction_already_exists_unless_forced(
    client: httpx.AsyncClient, books: Books
) -> None:
    first = await post(client, books, seed_request(books))
    assert first.status_code == 201
    first_id = first.json()["data"]["transaction"]["_id"]
    # Same date (another time of day), amounts, categories and refNo.
    again = await post(
        client, books, seed_request(books, transactionDate="2023-11-07T18:00:00Z"), "?force=false"
    )
    assert again.status_code == 200, again.text
    answer = again.json()
    assert answer["data"]["action"] == "ALREADY_EXISTS"
    assert answer["data"]["transaction"] == first.json()["data"]["transaction"]
    assert answer["metaData"]["warnings"] == []
    assert await journal_count(client, books) == 1
    forced = await post(client, books, seed_request(books), "?force=true")
    assert forced.status_code == 201, forced.text
    answer = forced.json()
    assert answer["data"]["action"] == "CREATED"
    assert answer["data"]["transaction"]["_id"] != first_id
    (warning,) = answer["metaData"]["warnings"]
    assert first_id in warning
    native = await client.get(
        f"/v1/journals/{answer['data']['transaction']['_id']}", headers=books.headers
    )
    assert native.json()["warnings"][0]["journal_id"] == first_id
    other = await post(client, books, seed_request(books, refNo="INV-2"))
    assert other.status_code == 201
    assert await journal_count(client, books) == 3


async def test_concurrent_similar_transactions_create_one(
    client: httpx.AsyncClient, books: Books
) -> None:
    responses = await asyncio.gather(*(post(client, books, two_sided(books)) for _ in range(6)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 200, 200, 200, 201], [r.text for r in responses]
    ids = {r.json()["data"]["transaction"]["_id"] for r in responses}
    assert len(ids) == 1
    assert await journal_count(client, books) == 1


async def test_is_reconciled_comes_from_the_reconciliation(
    client: httpx.AsyncClient, books: Books
) -> None:
    body = seed_request(books, isReconciled=False)
    created = (await post(client, books, body)).json()["data"]["transaction"]
    assert created["isReconciled"] is False
    record = await client.post(
        "/v1/records",
        json={
            "amount": 12300,
            "direction": "credit",
            "date": "2023-11-07",
            "data_stream_key": "bank",
        },
        headers=books.headers,
    )
    assert record.status_code == 201, record.text
    entry_id = created["entries"][0]["id"]
    matched = await client.post(
        "/v1/matches",
        json={"items": [{"record_id": record.json()["id"]}, {"entry_id": entry_id}]},
        headers=books.headers,
    )
    assert matched.status_code == 201, matched.text
    again = (await post(client, books, body)).json()
    assert again["data"]["action"] == "ALREADY_EXISTS"
    assert again["data"]["transaction"]["isReconciled"] is True
    assert again["data"]["transaction"]["updatedAt"] >= created["createdAt"]


@given(
    minor=st.integers(min_value=1, max_value=limits.AMOUNT_MINOR_MAX),
    precision=st.integers(min_value=0, max_value=limits.CURRENCY_PRECISION_MAX),
    zeros=st.integers(min_value=0, max_value=30),
)
def test_any_amount_text_round_trips_exactly(minor: int, precision: int, zeros: int) -> None:
    # What the answer writes (msgspec writes a Decimal as its str(): 12.3, 12, or 1E-7 for
    # amounts below a millionth) reads back as the same amount, as does its plain notation
    # with any number of trailing zeros.
    rendered = major_units(minor, precision)
    assert minor_units_of(Decimal(str(rendered)), precision, "$.amount") == minor
    plain = format(rendered, "f")
    padded = plain + ("." if "." not in plain and zeros else "") + "0" * zeros
    assert minor_units_of(Decimal(padded), precision, "$.amount") == minor


async def test_a_native_journal_can_be_the_existing_transaction(
    client: httpx.AsyncClient, books: Books
) -> None:
    native = await client.post(
        "/v1/journals",
        json={
            "date": "2026-06-04",
            "reference": "R-9",
            "entries": [
                {"ledger_code": "6000", "direction": "debit", "amount": 1250},
                {"ledger_code": "1000", "direction": "credit", "amount": 1250},
            ],
        },
        headers=books.headers,
    )
    assert native.status_code == 201, native.text
    response = await post(client, books, two_sided(books, refNo="R-9"))
    assert response.status_code == 200, response.text
    answer = exact(response)["data"]
    assert answer["action"] == "ALREADY_EXISTS"
    transaction = answer["transaction"]
    assert transaction["_id"] == native.json()["id"]
    assert transaction["transactionDate"] == "2026-06-04T00:00:00Z"
    assert transaction["totalAmount"] == Decimal("12.5")
    assert (transaction["paymentMethod"], transaction["counterParty"]) == (None, None)
    assert transaction["account"] is None
    assert [(e["isMain"], e["note"]) for e in transaction["entries"]] == [
        (False, None),
        (False, None),
    ]
    assert await journal_count(client, books) == 1
