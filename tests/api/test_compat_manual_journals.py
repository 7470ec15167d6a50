"""Seed-compatible manual journals over HTTP (docs/api.md, "Manual journals")."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import httpx
import pytest

from ledger.api.compat.manual_journals import ACCOUNT_PREFIX
from ledger.bootstrap import Services
from ledger.domain.public_ids import decode_id, encode_id

URL = "/v1/manual-journals/"
CONTACT = "co_bhpSXLJV8vnDGTQod4v9zf"


class Books:
    def __init__(self, headers: dict[str, str], ledgers: dict[str, UUID]) -> None:
        self.headers = headers
        self.ledgers = ledgers


async def _tenant(services: Services, slug: str) -> Books:
    key, _ = await services.tenants.create_tenant(slug, "SAR", slug)
    tenant_id = await services.pool.fetchval("SELECT tenant_id FROM tenants WHERE slug = $1", slug)
    ledgers = {
        code: (
            await services.ledgers.open_ledger(tenant_id, code=code, name=code, type=kind)
        ).ledger_id
        for code, kind in (("cash", "asset"), ("sales", "income"), ("fees", "expense"))
    }
    return Books({"X-API-KEY": key.api_key}, ledgers)


@pytest.fixture
async def books(services: Services) -> Books:
    return await _tenant(services, "books")


@pytest.fixture
async def other(services: Services) -> Books:
    return await _tenant(services, "other")


def seed_body(credit: str = "sales", debit: str = "cash", **fields: Any) -> dict[str, Any]:
    """The seed document's example request (its ids left out: the server assigns them)."""
    return {
        "date": "2021-04-15",
        "reference": "10edfd426868c82c874ea38d2f25b91a",
        "notes": "0e4375a38e2438c54be5a784978340f3",
        "currency": "SAR",
        "line_items": [
            {
                "description": "description 1",
                "contact": CONTACT,
                "account": credit,
                "amount": -100.00,
                "currency": "SAR",
            },
            {
                "description": "description 2",
                "contact": CONTACT,
                "account": debit,
                "amount": 100.00,
                "currency": "SAR",
            },
        ],
        **fields,
    }


def account(books: Books, code: str) -> str:
    return encode_id(ACCOUNT_PREFIX, books.ledgers[code])


async def journal_count(client: httpx.AsyncClient, books: Books) -> int:
    response = await client.get("/v1/journals", params={"limit": 500}, headers=books.headers)
    assert response.status_code == 200
    return len(response.json()["data"])


async def posted(client: httpx.AsyncClient, books: Books, code: str) -> int:
    response = await client.get(
        f"/v1/ledgers/{books.ledgers[code]}/balances", headers=books.headers
    )
    assert response.status_code == 200, response.text
    return sum(b["posted"] for b in response.json()["balances"])


def native_id(text: str) -> UUID:
    decoded = decode_id("jou", text)
    assert decoded is not None
    return decoded


@pytest.mark.parametrize("form", ["code", "acc", "uuid"])
async def test_the_seed_example_creates_a_manual_journal(
    client: httpx.AsyncClient, books: Books, form: str
) -> None:
    refs = {
        "code": ("sales", "cash"),
        "acc": (account(books, "sales"), account(books, "cash")),
        "uuid": (str(books.ledgers["sales"]), str(books.ledgers["cash"])),
    }[form]
    response = await client.post(URL, json=seed_body(*refs), headers=books.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert list(created) == ["id", "date", "reference", "notes", "currency", "line_items"]
    assert created["id"].startswith("jou_")
    assert len(created["id"]) == 26
    assert created["date"] == "2021-04-15"
    assert created["reference"] == "10edfd426868c82c874ea38d2f25b91a"
    assert created["notes"] == "0e4375a38e2438c54be5a784978340f3"
    assert created["currency"] == "SAR"
    lines = created["line_items"]
    assert [list(line) for line in lines] == [
        ["id", "description", "contact", "account", "amount", "currency"]
    ] * 2
    assert [(line["account"], line["amount"], line["contact"]) for line in lines] == [
        (account(books, "sales"), -100, CONTACT),
        (account(books, "cash"), 100, CONTACT),
    ]
    assert b'"amount":-100.00,' in response.content  # the currency's decimals, a JSON number
    # The same journal natively: notes are its description, contact its entries' metadata.
    native = await client.get(f"/v1/journals/{native_id(created['id'])}", headers=books.headers)
    assert native.status_code == 200
    journal = native.json()
    assert journal["description"] == created["notes"]
    assert journal["reference"] == created["reference"]
    assert [(e["ledger_code"], e["direction"], e["amount"]) for e in journal["entries"]] == [
        ("sales", "credit", 10000),
        ("cash", "debit", 10000),
    ]
    assert [e["metadata"] for e in journal["entries"]] == [{"contact": CONTACT}] * 2
    assert [encode_id("jli", UUID(e["id"])) for e in journal["entries"]] == [
        line["id"] for line in lines
    ]
    assert await posted(client, books, "cash") == 10000


async def test_get_answers_the_journal_with_or_without_the_trailing_slash(
    client: httpx.AsyncClient, books: Books
) -> None:
    created = await client.post(URL, json=seed_body(), headers=books.headers)
    journal_id = created.json()["id"]
    for path in (f"{URL}{journal_id}/", f"{URL}{journal_id}"):
        response = await client.get(path, headers=books.headers)
        assert response.status_code == 200, response.text
        assert response.content == created.content
        assert "Ledger-Position" in response.headers


async def test_optional_fields_default(client: httpx.AsyncClient, books: Books) -> None:
    body = {
        "date": "2026-01-02",
        "line_items": [
            {"account": "fees", "amount": 0.5},
            {"account": "cash", "amount": -0.25},
            {"account": "cash", "amount": -0.25},
        ],
    }
    response = await client.post(URL.rstrip("/"), json=body, headers=books.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["reference"], created["notes"], created["currency"]) == (None, None, "SAR")
    assert [
        (line["contact"], line["description"], line["currency"]) for line in created["line_items"]
    ] == [(None, None, "SAR")] * 3
    assert b'"amount":0.50,' in response.content


async def test_list_filters_and_pages(client: httpx.AsyncClient, books: Books) -> None:
    ids = []
    for reference, date in (("a", "2026-03-01"), ("b", "2026-03-01"), ("a", "2026-03-02")):
        response = await client.post(
            URL, json=seed_body(reference=reference, date=date), headers=books.headers
        )
        assert response.status_code == 201
        ids.append(response.json()["id"])

    async def listed(**params: Any) -> tuple[list[str], str | None]:
        response = await client.get(URL, params=params, headers=books.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert list(page) == ["data", "next_cursor"]
        return [j["id"] for j in page["data"]], page["next_cursor"]

    assert await listed() == (ids, None)
    assert await listed(reference="a") == ([ids[0], ids[2]], None)
    assert await listed(date="2026-03-01") == (ids[:2], None)
    assert await listed(reference="a", date="2026-03-02") == ([ids[2]], None)
    assert await listed(reference="zzz") == ([], None)
    first, cursor = await listed(limit=2)
    assert first == ids[:2]
    assert cursor is not None
    assert await listed(limit=2, cursor=cursor) == ([ids[2]], None)
    # Same objects as GET.
    page = (await client.get(URL, headers=books.headers)).json()
    one = (await client.get(f"{URL}{ids[0]}/", headers=books.headers)).json()
    assert page["data"][0] == one


@pytest.mark.parametrize(
    "params", [{"date": "yesterday"}, {"limit": 0}, {"limit": 501}, {"cursor": "@@"}]
)
async def test_bad_list_parameters_are_400(
    client: httpx.AsyncClient, books: Books, params: dict[str, Any]
) -> None:
    response = await client.get(URL, params=params, headers=books.headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"


async def test_delete_reverses_the_journal(client: httpx.AsyncClient, books: Books) -> None:
    created = (await client.post(URL, json=seed_body(), headers=books.headers)).json()
    journal_id = created["id"]
    response = await client.delete(f"{URL}{journal_id}/", headers=books.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""
    gone = await client.get(f"{URL}{journal_id}/", headers=books.headers)
    assert gone.status_code == 404
    assert gone.json()["code"] == "NOT_FOUND"
    assert (await client.get(URL, headers=books.headers)).json()["data"] == []
    native = (
        await client.get(f"/v1/journals/{native_id(journal_id)}", headers=books.headers)
    ).json()
    assert native["status"] == "reversed"
    reversal = (
        await client.get(f"/v1/journals/{native['reversed_by']}", headers=books.headers)
    ).json()
    assert reversal["reversal_of"] == str(native_id(journal_id))
    assert reversal["date"] == "2021-04-15"
    assert await posted(client, books, "cash") == 0
    assert await posted(client, books, "sales") == 0
    again = await client.delete(f"{URL}{journal_id}", headers=books.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "ALREADY_REVERSED"
    # The reversal is no manual journal either.
    mirror = encode_id("jou", UUID(native["reversed_by"]))
    for method in ("GET", "DELETE"):
        answer = await client.request(method, f"{URL}{mirror}/", headers=books.headers)
        assert answer.status_code == 404, method
    assert await journal_count(client, books) == 2


def _line(amount: Any, account: str = "cash", **fields: Any) -> dict[str, Any]:
    return {"account": account, "amount": amount, **fields}


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (seed_body(date=None), 400, "VALIDATION_ERROR", "$.date"),
        ({"line_items": [_line(1), _line(-1)]}, 400, "VALIDATION_ERROR", "$.date"),
        (seed_body(extra=1), 400, "VALIDATION_ERROR", "$.extra"),
        (seed_body(line_items=[_line(0)]), 400, "VALIDATION_ERROR", "$.line_items"),
        (
            seed_body(line_items=[_line(1), _line("-1")]),
            400,
            "VALIDATION_ERROR",
            "$.line_items[1].amount",
        ),
        (
            seed_body(line_items=[_line(1), _line(True)]),
            400,
            "VALIDATION_ERROR",
            "$.line_items[1].amount",
        ),
        (
            seed_body(line_items=[_line(1), _line(None)]),
            400,
            "VALIDATION_ERROR",
            "$.line_items[1].amount",
        ),
        (
            seed_body(line_items=[_line(0), _line(0.0)]),
            400,
            "VALIDATION_ERROR",
            "$.line_items[0].amount",
        ),
        (
            seed_body(line_items=[_line(1.001), _line(-1.001)]),
            400,
            "VALIDATION_ERROR",
            "$.line_items[0].amount",
        ),
        (
            seed_body(line_items=[_line(10**17), _line(-(10**17))]),
            400,
            "VALIDATION_ERROR",
            "$.line_items[0].amount",
        ),
        (
            seed_body(line_items=[_line(1), _line(-1, id="jli_x")]),
            400,
            "VALIDATION_ERROR",
            "$.line_items[1].id",
        ),
        (
            seed_body(line_items=[_line(1), _line(-1, account="")]),
            400,
            "VALIDATION_ERROR",
            "$.line_items[1].account",
        ),
        (seed_body(currency="sar"), 400, "VALIDATION_ERROR", "$.currency"),
        (seed_body(line_items=[_line(1), _line(-2, "sales")]), 422, "JOURNAL_UNBALANCED", None),
        (seed_body(line_items=[_line(1), _line(-1, "nope")]), 422, "LEDGER_NOT_FOUND", None),
        (seed_body(currency="ZZZ"), 422, "CURRENCY_UNKNOWN", None),
    ],
)
async def test_bad_input_is_refused_and_posts_nothing(
    client: httpx.AsyncClient,
    books: Books,
    body: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    response = await client.post(URL, json=body, headers=books.headers)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["code"] == code
    if field is not None:
        assert error["details"]["field"] == field
    if code == "JOURNAL_UNBALANCED":
        assert error["details"] == {"currency": "SAR", "debits": 100, "credits": 200}
    assert await journal_count(client, books) == 0
    assert await posted(client, books, "cash") == 0


async def test_amounts_are_read_exactly(client: httpx.AsyncClient, books: Books) -> None:
    # 92233720368547758.07 is 2^63-1 cents: a float would round it.
    raw = (
        b'{"date":"2026-01-01","line_items":[{"account":"cash","amount":92233720368547758.07},'
        b'{"account":"sales","amount":-92233720368547758.07}]}'
    )
    response = await client.post(
        URL, content=raw, headers={**books.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert b'"amount":92233720368547758.07,' in response.content
    assert await posted(client, books, "cash") == 2**63 - 1


@pytest.mark.parametrize(
    "journal_id",
    [
        "jou_33dCzmjULSzy3uaFBLfC4w",  # well formed, unknown
        "jou_33dCzmjULSzy3uaFBLfC4",
        "jli_33dCzmjULSzy3uaFBLfC4w",
        "jou_0000000000000000000000",
        "05c7ab04-f4ef-49ad-a99b-d5f1f1591b00",
        "x",
    ],
)
async def test_unknown_ids_are_404(
    client: httpx.AsyncClient, books: Books, journal_id: str
) -> None:
    for method in ("GET", "DELETE"):
        response = await client.request(method, f"{URL}{journal_id}/", headers=books.headers)
        assert response.status_code == 404, (method, response.text)
        assert response.json() == {
            "code": "NOT_FOUND",
            "message": "no such journal",
            "details": {"journal_id": journal_id},
        }
    response = await client.patch(f"{URL}{journal_id}/", json={"notes": "n"}, headers=books.headers)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "NOT_FOUND"


async def test_another_tenants_journal_is_404(
    client: httpx.AsyncClient, books: Books, other: Books
) -> None:
    created = (await client.post(URL, json=seed_body(), headers=books.headers)).json()
    for method in ("GET", "DELETE"):
        response = await client.request(method, f"{URL}{created['id']}/", headers=other.headers)
        assert response.status_code == 404, method
    response = await client.patch(
        f"{URL}{created['id']}/", json={"notes": "n"}, headers=other.headers
    )
    assert response.status_code == 404
    assert (await client.get(URL, headers=other.headers)).json()["data"] == []
    # Nor can a line name another tenant's account.
    refused = await client.post(URL, json=seed_body(account(books, "sales")), headers=other.headers)
    assert refused.status_code == 422
    assert refused.json()["code"] == "LEDGER_NOT_FOUND"
    assert (await client.get(f"{URL}{created['id']}/", headers=books.headers)).status_code == 200


async def native(client: httpx.AsyncClient, books: Books, journal_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/journals/{native_id(journal_id)}", headers=books.headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_patch_of_reference_or_notes_annotates(
    client: httpx.AsyncClient, books: Books
) -> None:
    created = (await client.post(URL, json=seed_body(), headers=books.headers)).json()
    journal_id = created["id"]
    response = await client.patch(
        f"{URL}{journal_id}/",
        json={"notes": "new notes", "reference": "R-2"},
        headers=books.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {**created, "notes": "new notes", "reference": "R-2"}
    cleared = await client.patch(f"{URL}{journal_id}", json={"notes": None}, headers=books.headers)
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["id"], cleared.json()["notes"]) == (journal_id, None)
    journal = await native(client, books, journal_id)
    assert (journal["status"], journal["description"], journal["reference"]) == (
        "posted",
        None,
        "R-2",
    )
    assert journal["amended_by"] is None
    assert await journal_count(client, books) == 1
    assert await posted(client, books, "cash") == 10000


async def test_patch_that_changes_nothing_answers_the_journal(
    client: httpx.AsyncClient, books: Books
) -> None:
    created = await client.post(URL, json=seed_body(), headers=books.headers)
    journal_id = created.json()["id"]
    # Lines compare with accounts as their acc_ ids; a missing currency is the journal's.
    same = seed_body(account(books, "sales"), account(books, "cash"))
    del same["line_items"][0]["currency"]
    for body in ({}, same, {"notes": created.json()["notes"], "date": "2021-04-15"}):
        response = await client.patch(f"{URL}{journal_id}/", json=body, headers=books.headers)
        assert response.status_code == 200, response.text
        assert response.content == created.content
    assert (await native(client, books, journal_id))["description"] == created.json()["notes"]
    assert await journal_count(client, books) == 1


def _lines(amount: float, debit: str = "cash") -> list[dict[str, Any]]:
    return [_line(amount, debit, contact=CONTACT), _line(-amount, "sales")]


async def test_patch_of_lines_or_date_amends(client: httpx.AsyncClient, books: Books) -> None:
    created = (await client.post(URL, json=seed_body(), headers=books.headers)).json()
    first = created["id"]
    response = await client.patch(
        f"{URL}{first}/", json={"line_items": _lines(250.5)}, headers=books.headers
    )
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["id"] != first
    assert (second["date"], second["notes"], second["reference"]) == (
        created["date"],
        created["notes"],
        created["reference"],
    )
    assert [(line["account"], line["amount"]) for line in second["line_items"]] == [
        (account(books, "cash"), 250.5),
        (account(books, "sales"), -250.5),
    ]
    old, new = await native(client, books, first), await native(client, books, second["id"])
    assert (old["status"], old["amended_by"]) == ("reversed", str(native_id(second["id"])))
    assert (new["status"], new["amends"]) == ("posted", str(native_id(first)))
    assert await posted(client, books, "cash") == 25050
    assert await posted(client, books, "sales") == 25050  # income: credit-normal
    # The old id names the current version, for GET, PATCH and the list alike.
    current = await client.get(f"{URL}{first}/", headers=books.headers)
    assert current.content == response.content
    redated = await client.patch(
        f"{URL}{first}", json={"date": "2021-05-01"}, headers=books.headers
    )
    assert redated.status_code == 200, redated.text
    third = redated.json()
    assert third["id"] not in (first, second["id"])
    assert third["date"] == "2021-05-01"
    assert third["line_items"][0]["amount"] == 250.5
    assert (await native(client, books, third["id"]))["amends"] == str(native_id(second["id"]))
    for journal_id in (first, second["id"], third["id"]):
        answer = await client.get(f"{URL}{journal_id}/", headers=books.headers)
        assert answer.content == redated.content
    assert [j["id"] for j in (await client.get(URL, headers=books.headers)).json()["data"]] == [
        third["id"]
    ]
    assert await journal_count(client, books) == 5  # 3 versions, 2 reversals
    # DELETE by the first id reverses the current version; then every id is 404.
    deleted = await client.delete(f"{URL}{first}/", headers=books.headers)
    assert deleted.status_code == 204, deleted.text
    assert (await native(client, books, third["id"]))["status"] == "reversed"
    assert await posted(client, books, "cash") == 0
    for journal_id in (first, third["id"]):
        gone = await client.patch(f"{URL}{journal_id}/", json={"notes": "n"}, headers=books.headers)
        assert gone.status_code == 404, gone.text
        assert gone.json()["code"] == "NOT_FOUND"
        assert (await client.get(f"{URL}{journal_id}/", headers=books.headers)).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"date": None}, 400, "VALIDATION_ERROR"),
        ({"date": "15/04/2021"}, 400, "VALIDATION_ERROR"),
        ({"memo": "x"}, 400, "VALIDATION_ERROR"),
        ({"currency": "sar"}, 400, "VALIDATION_ERROR"),
        ({"line_items": [_line(1)]}, 400, "VALIDATION_ERROR"),
        ({"line_items": [_line(1.001), _line(-1.001, "sales")]}, 400, "VALIDATION_ERROR"),
        ({"line_items": [_line("1"), _line(-1, "sales")]}, 400, "VALIDATION_ERROR"),
        ({"line_items": [_line(1), _line(-2, "sales")]}, 422, "JOURNAL_UNBALANCED"),
        ({"line_items": [_line(1), _line(-1, "nope")]}, 422, "LEDGER_NOT_FOUND"),
        ({"currency": "XXX"}, 422, "CURRENCY_UNKNOWN"),
    ],
)
async def test_bad_patch_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, books: Books, body: dict[str, Any], status: int, code: str
) -> None:
    created = await client.post(URL, json=seed_body(), headers=books.headers)
    journal_id = created.json()["id"]
    response = await client.patch(f"{URL}{journal_id}/", json=body, headers=books.headers)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert (await client.get(f"{URL}{journal_id}/", headers=books.headers)).content == (
        created.content
    )
    assert (await native(client, books, journal_id))["status"] == "posted"
    assert await journal_count(client, books) == 1
    assert await posted(client, books, "cash") == 10000


async def test_concurrent_amendments_one_wins(client: httpx.AsyncClient, books: Books) -> None:
    created = (await client.post(URL, json=seed_body(), headers=books.headers)).json()
    responses = await asyncio.gather(
        *(
            client.patch(
                f"{URL}{created['id']}/", json={"line_items": _lines(amount)}, headers=books.headers
            )
            for amount in (1, 2)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    (winner,) = (r.json() for r in responses if r.status_code == 200)
    (loser,) = (r.json() for r in responses if r.status_code == 409)
    assert loser["code"] == "ALREADY_REVERSED"
    assert await journal_count(client, books) == 3  # the original, its reversal, the winner
    amount = winner["line_items"][0]["amount"]
    assert await posted(client, books, "cash") == amount * 100
    current = await client.get(f"{URL}{created['id']}/", headers=books.headers)
    assert current.json() == winner


async def test_concurrent_annotations_all_apply(client: httpx.AsyncClient, books: Books) -> None:
    created = (await client.post(URL, json=seed_body(), headers=books.headers)).json()
    responses = await asyncio.gather(
        *(
            client.patch(f"{URL}{created['id']}/", json=body, headers=books.headers)
            for body in ({"notes": "a"}, {"reference": "b"})
        )
    )
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    current = (await client.get(f"{URL}{created['id']}/", headers=books.headers)).json()
    assert (current["id"], current["notes"], current["reference"]) == (created["id"], "a", "b")
    assert await journal_count(client, books) == 1
