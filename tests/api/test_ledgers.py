"""``/v1/ledgers`` over HTTP (docs/api.md §1, §4): shapes, status codes and error codes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from ledger.bootstrap import Services
from ledger.commands.tenants import NewKey

LEDGER_FIELDS = {
    "id",
    "num_id",
    "code",
    "name",
    "type",
    "normal_balance",
    "parent_id",
    "currency",
    "min_balance",
    "status",
    "metadata",
    "created_at",
    "position",
}


@pytest.fixture
def acme(acme_key: NewKey) -> dict[str, str]:
    return {"X-API-KEY": acme_key.api_key}


@pytest.fixture
async def globex(services: Services) -> dict[str, str]:
    key, _ = await services.tenants.create_tenant("globex", "EUR")
    return {"X-API-KEY": key.api_key}


async def open_ledger(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    body.setdefault("name", str(body.get("code", "")).title() or "Name")
    body.setdefault("type", "asset")
    response = await client.post("/v1/ledgers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    opened: dict[str, Any] = response.json()
    return opened


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    details: dict[str, Any] = body["details"]
    return details


# --- POST /v1/ledgers -----------------------------------------------------------------------


async def test_open_answers_201_with_the_ledger(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/ledgers",
        json={
            "code": "1000",
            "name": "Cash",
            "type": "asset",
            "currency": "USD",
            "min_balance": -5000,
            "metadata": {"desk": "ny", "n": 12345678901234567890},
        },
        headers=acme,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == LEDGER_FIELDS
    uuid.UUID(body["id"])
    assert body["num_id"] == 1
    assert (body["code"], body["name"], body["type"]) == ("1000", "Cash", "asset")
    assert (body["normal_balance"], body["parent_id"], body["status"]) == ("debit", None, "open")
    assert (body["currency"], body["min_balance"]) == ("USD", -5000)
    assert body["metadata"] == {"desk": "ny", "n": 12345678901234567890}
    assert body["created_at"].endswith("Z")
    assert isinstance(body["position"], int)
    assert body["position"] > 0


async def test_open_minimal_body_has_nulls_and_defaults(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    body = await open_ledger(client, acme, code="sales", type="income")
    assert body["normal_balance"] == "credit"
    assert (body["currency"], body["min_balance"], body["parent_id"]) == (None, None, None)
    assert body["metadata"] == {}


async def test_num_ids_count_up(client: httpx.AsyncClient, acme: dict[str, str]) -> None:
    nums = [(await open_ledger(client, acme, code=f"c{i}"))["num_id"] for i in range(3)]
    assert nums == [1, 2, 3]


@pytest.mark.parametrize("key", ["ledger_id", "ledger_code", "ledger_num_id"])
async def test_open_under_a_parent_by_each_ref(
    client: httpx.AsyncClient, acme: dict[str, str], key: str
) -> None:
    root = await open_ledger(client, acme, code="assets")
    value = {"ledger_id": root["id"], "ledger_code": "assets", "ledger_num_id": 1}[key]
    child = await open_ledger(client, acme, code="cash", parent={key: value})
    assert child["parent_id"] == root["id"]


async def test_duplicate_code_is_409(client: httpx.AsyncClient, acme: dict[str, str]) -> None:
    first = await open_ledger(client, acme, code="cash")
    response = await client.post(
        "/v1/ledgers", json={"code": "cash", "name": "Again", "type": "asset"}, headers=acme
    )
    details = assert_error(response, 409, "DUPLICATE_CODE")
    assert details["ledger_id"] == first["id"]


@pytest.mark.parametrize(
    "parent",
    [{"ledger_code": "nope"}, {"ledger_num_id": 42}, {"ledger_id": str(uuid.uuid4())}],
)
async def test_unknown_parent_is_422_ledger_not_found(
    client: httpx.AsyncClient, acme: dict[str, str], parent: dict[str, Any]
) -> None:
    response = await client.post(
        "/v1/ledgers",
        json={"code": "c", "name": "C", "type": "asset", "parent": parent},
        headers=acme,
    )
    details = assert_error(response, 422, "LEDGER_NOT_FOUND")
    assert details["field"] == "parent"


async def test_another_tenants_parent_is_422_ledger_not_found(
    client: httpx.AsyncClient, acme: dict[str, str], globex: dict[str, str]
) -> None:
    theirs = await open_ledger(client, globex, code="assets")
    response = await client.post(
        "/v1/ledgers",
        json={"code": "c", "name": "C", "type": "asset", "parent": {"ledger_id": theirs["id"]}},
        headers=acme,
    )
    assert_error(response, 422, "LEDGER_NOT_FOUND")


async def test_closed_parent_is_422_ledger_closed(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    root = await open_ledger(client, acme, code="old")
    assert (await client.post(f"/v1/ledgers/{root['id']}/close", headers=acme)).status_code == 200
    response = await client.post(
        "/v1/ledgers",
        json={"code": "c", "name": "C", "type": "asset", "parent": {"ledger_code": "old"}},
        headers=acme,
    )
    assert assert_error(response, 422, "LEDGER_CLOSED")["field"] == "parent"


async def test_depth_seventeen_is_400(client: httpx.AsyncClient, acme: dict[str, str]) -> None:
    parent: dict[str, Any] | None = None
    for level in range(1, 17):
        body: dict[str, Any] = {"code": f"l{level}"}
        if parent is not None:
            body["parent"] = parent
        await open_ledger(client, acme, **body)
        parent = {"ledger_num_id": level}
    response = await client.post(
        "/v1/ledgers",
        json={"code": "l17", "name": "L17", "type": "asset", "parent": parent},
        headers=acme,
    )
    details = assert_error(response, 400, "VALIDATION_ERROR")
    assert (details["field"], details["depth_max"]) == ("parent", 16)


async def test_unknown_currency_is_422(client: httpx.AsyncClient, acme: dict[str, str]) -> None:
    response = await client.post(
        "/v1/ledgers",
        json={"code": "c", "name": "C", "type": "asset", "currency": "XYZ"},
        headers=acme,
    )
    assert assert_error(response, 422, "CURRENCY_UNKNOWN")["field"] == "currency"


async def test_min_balance_without_currency_is_400(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/ledgers",
        json={"code": "c", "name": "C", "type": "asset", "min_balance": 0},
        headers=acme,
    )
    assert assert_error(response, 400, "VALIDATION_ERROR")["field"] == "min_balance"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"name": "C", "type": "asset"}', "$.code"),
        (b'{"code": "c", "type": "asset"}', "$.name"),
        (b'{"code": "c", "name": "C"}', "$.type"),
        (b'{"code": "c", "name": "C", "type": "revenue"}', "$.type"),
        (b'{"code": "", "name": "C", "type": "asset"}', "$.code"),
        (b'{"code": 7, "name": "C", "type": "asset"}', "$.code"),
        (b'{"code": "c", "name": "C", "type": "asset", "color": "red"}', "$.color"),
        (
            b'{"code": "c", "name": "C", "type": "asset", "normal_balance": "up"}',
            "$.normal_balance",
        ),
        (
            b'{"code": "c", "name": "C", "type": "asset", "currency": "USD", "min_balance": 1.5}',
            "$.min_balance",
        ),
        (
            b'{"code": "c", "name": "C", "type": "asset", "currency": "USD", "min_balance": 1e3}',
            "$.min_balance",
        ),
        (
            b'{"code": "c", "name": "C", "type": "asset", "currency": "USD", "min_balance": "5"}',
            "$.min_balance",
        ),
        (
            b'{"code": "c", "name": "C", "type": "asset", "currency": "USD",'
            b' "min_balance": 9223372036854775808}',
            "$.min_balance",
        ),
        (b'{"code": "c", "name": "C", "type": "asset", "metadata": []}', "$.metadata"),
        (b'{"code": "c", "name": "C", "type": "asset", "parent": "root"}', "$.parent"),
        (b'{"code": "c", "name": "C", "type": "asset", "parent": {}}', "parent"),
        (
            b'{"code": "c", "name": "C", "type": "asset",'
            b' "parent": {"ledger_code": "a", "ledger_num_id": 1}}',
            "parent",
        ),
        (
            b'{"code": "c", "name": "C", "type": "asset", "parent": {"ledger_key": "a"}}',
            "$.parent.ledger_key",
        ),
        (
            b'{"code": "c", "name": "C", "type": "asset", "parent": {"ledger_id": "xyz"}}',
            "$.parent.ledger_id",
        ),
        (
            b'{"code": "c", "name": "C", "type": "asset", "parent": {"ledger_num_id": 0}}',
            "$.parent.ledger_num_id",
        ),
        (
            b'{"code": "c", "name": "C", "type": "asset", "parent": {"ledger_id": null}}',
            "$.parent.ledger_id",
        ),
        (b"[]", "$"),
        (b"{", "$"),
    ],
)
async def test_bad_bodies_are_400_naming_the_field(
    client: httpx.AsyncClient, acme: dict[str, str], raw: bytes, field: str
) -> None:
    response = await client.post(
        "/v1/ledgers", content=raw, headers={**acme, "Content-Type": "application/json"}
    )
    assert assert_error(response, 400, "VALIDATION_ERROR")["field"] == field


async def test_open_without_a_key_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/ledgers", json={"code": "c", "name": "C", "type": "asset"})
    assert_error(response, 401, "UNAUTHENTICATED")


async def test_open_with_a_non_json_body_is_415(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/ledgers", content=b"code=c", headers={**acme, "Content-Type": "text/plain"}
    )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


# --- GET /v1/ledgers/{id} -------------------------------------------------------------------


async def test_get_answers_the_ledger_with_its_position_header(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    opened = await open_ledger(client, acme, code="cash", currency="EUR")
    response = await client.get(f"/v1/ledgers/{opened['id']}", headers=acme)
    assert response.status_code == 200
    assert response.json() == opened
    assert int(response.headers["ledger-position"]) >= opened["position"]


@pytest.mark.parametrize("ledger_id", [str(uuid.uuid4()), "not-a-uuid", "12"])
async def test_get_unknown_or_malformed_id_is_404(
    client: httpx.AsyncClient, acme: dict[str, str], ledger_id: str
) -> None:
    assert_error(await client.get(f"/v1/ledgers/{ledger_id}", headers=acme), 404, "NOT_FOUND")


async def test_get_another_tenants_ledger_is_404(
    client: httpx.AsyncClient, acme: dict[str, str], globex: dict[str, str]
) -> None:
    theirs = await open_ledger(client, globex, code="cash")
    assert_error(await client.get(f"/v1/ledgers/{theirs['id']}", headers=acme), 404, "NOT_FOUND")


# --- GET /v1/ledgers ------------------------------------------------------------------------


async def test_list_filters_and_pages(
    client: httpx.AsyncClient, acme: dict[str, str], globex: dict[str, str]
) -> None:
    await open_ledger(client, globex, code="theirs")
    root = await open_ledger(client, acme, code="root", type="equity")
    for code in ("a", "b", "c"):
        await open_ledger(client, acme, code=code, parent={"ledger_code": "root"})
    await open_ledger(client, acme, code="d", type="expense")

    async def codes(**params: Any) -> list[str]:
        response = await client.get("/v1/ledgers", params=params, headers=acme)
        assert response.status_code == 200, response.text
        assert "ledger-position" in response.headers
        return [ledger["code"] for ledger in response.json()["data"]]

    assert await codes() == ["root", "a", "b", "c", "d"]
    assert await codes(code="b") == ["b"]
    assert await codes(num_id=5) == ["d"]
    assert await codes(parent_id=root["id"]) == ["a", "b", "c"]
    assert await codes(type="expense") == ["d"]
    assert await codes(type="asset", parent_id=root["id"], code="c") == ["c"]

    first = (await client.get("/v1/ledgers", params={"limit": 2}, headers=acme)).json()
    assert [ledger["num_id"] for ledger in first["data"]] == [1, 2]
    assert set(first["data"][0]) == LEDGER_FIELDS
    second = (
        await client.get(
            "/v1/ledgers", params={"limit": 2, "cursor": first["next_cursor"]}, headers=acme
        )
    ).json()
    assert [ledger["num_id"] for ledger in second["data"]] == [3, 4]
    third = (
        await client.get(
            "/v1/ledgers", params={"limit": 2, "cursor": second["next_cursor"]}, headers=acme
        )
    ).json()
    assert [ledger["num_id"] for ledger in third["data"]] == [5]
    assert third["next_cursor"] is None


async def test_list_is_empty_for_a_new_tenant(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    response = await client.get("/v1/ledgers", headers=acme)
    assert response.json() == {"data": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"type": "revenue"}, "type"),
        ({"num_id": "1.5"}, "num_id"),
        ({"parent_id": "nope"}, "parent_id"),
    ],
)
async def test_list_bad_parameters_are_400(
    client: httpx.AsyncClient, acme: dict[str, str], params: dict[str, str], field: str
) -> None:
    response = await client.get("/v1/ledgers", params=params, headers=acme)
    assert assert_error(response, 400, "VALIDATION_ERROR")["field"] == field


# --- PATCH /v1/ledgers/{id} -----------------------------------------------------------------


async def test_patch_changes_name_metadata_and_min_balance(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    opened = await open_ledger(client, acme, code="cash", currency="USD", metadata={"a": 1})
    response = await client.patch(
        f"/v1/ledgers/{opened['id']}",
        json={"name": "Petty cash", "metadata": {"b": 2}, "min_balance": -100},
        headers=acme,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == LEDGER_FIELDS
    assert (body["name"], body["metadata"], body["min_balance"]) == ("Petty cash", {"b": 2}, -100)
    assert body["position"] > opened["position"]
    assert {
        k: v for k, v in body.items() if k not in ("name", "metadata", "min_balance", "position")
    } == {
        k: v for k, v in opened.items() if k not in ("name", "metadata", "min_balance", "position")
    }
    fetched = (await client.get(f"/v1/ledgers/{opened['id']}", headers=acme)).json()
    assert fetched == body

    cleared = await client.patch(
        f"/v1/ledgers/{opened['id']}", json={"min_balance": None}, headers=acme
    )
    assert cleared.status_code == 200
    assert cleared.json()["min_balance"] is None
    assert cleared.json()["name"] == "Petty cash"


async def test_patch_with_an_empty_body_changes_nothing(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    opened = await open_ledger(client, acme, code="cash")
    response = await client.patch(f"/v1/ledgers/{opened['id']}", json={}, headers=acme)
    assert response.status_code == 200
    assert response.json() == opened


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "other"}, "$.code"),
        ({"type": "liability"}, "$.type"),
        ({"currency": "EUR"}, "$.currency"),
        ({"name": None}, "$.name"),
        ({"name": ""}, "$.name"),
        ({"metadata": None}, "$.metadata"),
        ({"min_balance": 1.0}, "$.min_balance"),
        ({"min_balance": 5}, "min_balance"),  # the ledger has no currency
    ],
)
async def test_patch_bad_bodies_are_400(
    client: httpx.AsyncClient, acme: dict[str, str], body: dict[str, Any], field: str
) -> None:
    opened = await open_ledger(client, acme, code="cash")
    response = await client.patch(f"/v1/ledgers/{opened['id']}", json=body, headers=acme)
    assert assert_error(response, 400, "VALIDATION_ERROR")["field"] == field


async def test_patch_unknown_foreign_or_malformed_id_is_404(
    client: httpx.AsyncClient, acme: dict[str, str], globex: dict[str, str]
) -> None:
    theirs = await open_ledger(client, globex, code="cash")
    for ledger_id in (theirs["id"], str(uuid.uuid4()), "nope"):
        response = await client.patch(f"/v1/ledgers/{ledger_id}", json={"name": "x"}, headers=acme)
        assert_error(response, 404, "NOT_FOUND")
    fetched = (await client.get(f"/v1/ledgers/{theirs['id']}", headers=globex)).json()
    assert fetched["name"] == "Cash"


# --- POST /v1/ledgers/{id}/close ------------------------------------------------------------


async def test_close_answers_200_closed_with_position(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    opened = await open_ledger(client, acme, code="cash")
    response = await client.post(f"/v1/ledgers/{opened['id']}/close", headers=acme)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == LEDGER_FIELDS
    assert body["status"] == "closed"
    assert body["position"] > opened["position"]
    assert (await client.get(f"/v1/ledgers/{opened['id']}", headers=acme)).json() == body


async def test_close_twice_is_422_invalid_state(
    client: httpx.AsyncClient, acme: dict[str, str]
) -> None:
    opened = await open_ledger(client, acme, code="cash")
    await client.post(f"/v1/ledgers/{opened['id']}/close", headers=acme)
    response = await client.post(f"/v1/ledgers/{opened['id']}/close", headers=acme)
    assert_error(response, 422, "INVALID_STATE")


async def test_close_unknown_foreign_or_malformed_id_is_404(
    client: httpx.AsyncClient, acme: dict[str, str], globex: dict[str, str]
) -> None:
    theirs = await open_ledger(client, globex, code="cash")
    for ledger_id in (theirs["id"], str(uuid.uuid4()), "nope"):
        response = await client.post(f"/v1/ledgers/{ledger_id}/close", headers=acme)
        assert_error(response, 404, "NOT_FOUND")
    assert (await client.get(f"/v1/ledgers/{theirs['id']}", headers=globex)).json()[
        "status"
    ] == "open"


# --- OpenAPI --------------------------------------------------------------------------------


async def test_openapi_documents_the_ledger_routes(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    assert {"post", "get"} <= set(paths["/v1/ledgers"])
    assert {"get", "patch"} <= set(paths["/v1/ledgers/{ledger_id}"])
    assert "post" in paths["/v1/ledgers/{ledger_id}/close"]
    post = paths["/v1/ledgers"]["post"]
    assert {"201", "400", "401", "409", "422"} <= set(post["responses"])
    assert {"200", "404", "422"} <= set(paths["/v1/ledgers/{ledger_id}/close"]["post"]["responses"])
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["code", "name", "type"]
    assert body["additionalProperties"] is False
    parent = body["properties"]["parent"]["anyOf"][0]
    assert set(parent["properties"]) == {"ledger_id", "ledger_code", "ledger_num_id"}
    assert (parent["minProperties"], parent["maxProperties"]) == (1, 1)
    patch = paths["/v1/ledgers/{ledger_id}"]["patch"]
    patch_body = patch["requestBody"]["content"]["application/json"]["schema"]
    assert set(patch_body["properties"]) == {"name", "metadata", "min_balance"}
    ledger = schema["components"]["schemas"]["LedgerOut"]
    assert set(ledger["properties"]) == LEDGER_FIELDS
    assert ledger["additionalProperties"] is False
