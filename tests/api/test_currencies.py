"""``/v1/currencies`` and ``/v1/fx-rates`` over HTTP (docs/api.md §1, §3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from litestar import Litestar

from ledger.bootstrap import Services
from ledger.domain.money import inverse_rate
from tests.api.client import http_client


@pytest.fixture
async def http(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as client:
        yield client


@pytest.fixture
async def headers(services: Services) -> dict[str, str]:
    key, _ = await services.tenants.create_tenant("acme", "USD", "Acme Corp")
    return {"X-API-KEY": key.api_key}


@pytest.fixture
async def other_headers(services: Services) -> dict[str, str]:
    key, _ = await services.tenants.create_tenant("globex", "EUR", "Globex")
    return {"X-API-KEY": key.api_key}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    details: dict[str, Any] = body["details"]
    return details


# --- currencies ---------------------------------------------------------------------------


async def test_add_and_list_a_custom_currency(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.post(
        "/v1/currencies", json={"code": "BTC", "precision": 8}, headers=headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"code", "precision", "custom", "position"}
    assert (body["code"], body["precision"], body["custom"]) == ("BTC", 8, True)
    assert isinstance(body["position"], int)

    listed = await http.get("/v1/currencies", params={"limit": 500}, headers=headers)
    assert listed.status_code == 200
    assert int(listed.headers["ledger-position"]) >= body["position"]
    page = listed.json()
    assert set(page) == {"data", "next_cursor"}
    assert page["next_cursor"] is None
    by_code = {row["code"]: row for row in page["data"]}
    assert by_code["BTC"] == {"code": "BTC", "precision": 8, "custom": True}
    assert by_code["USD"] == {"code": "USD", "precision": 2, "custom": False}
    assert by_code["JPY"]["precision"] == 0
    assert by_code["KWD"]["precision"] == 3
    codes = [row["code"] for row in page["data"]]
    assert codes == sorted(codes)


async def test_currencies_page_with_cursor(
    http: httpx.AsyncClient, headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    await http.post("/v1/currencies", json={"code": "ZZTOP", "precision": 2}, headers=headers)
    await http.post("/v1/currencies", json={"code": "OTHER", "precision": 2}, headers=other_headers)
    codes: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 25}
        if cursor is not None:
            params["cursor"] = cursor
        response = await http.get("/v1/currencies", params=params, headers=headers)
        assert response.status_code == 200
        page = response.json()
        assert len(page["data"]) <= 25
        codes.extend(row["code"] for row in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert codes == sorted(set(codes))
    assert "ZZTOP" in codes
    assert "OTHER" not in codes  # another tenant's
    default = (await http.get("/v1/currencies", headers=headers)).json()
    assert len(default["data"]) == 50
    assert isinstance(default["next_cursor"], str)


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 501}, {"limit": "x"}, {"cursor": "%%%"}]
)
async def test_bad_paging_is_400(
    http: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any]
) -> None:
    response = await http.get("/v1/currencies", params=params, headers=headers)
    assert_error(response, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("code", ["USD", "EUR", "XAU"])
async def test_adding_an_iso_code_is_409(
    http: httpx.AsyncClient, headers: dict[str, str], code: str
) -> None:
    response = await http.post(
        "/v1/currencies", json={"code": code, "precision": 2}, headers=headers
    )
    details = assert_error(response, 409, "DUPLICATE_CODE")
    assert details["code"] == code


async def test_adding_an_existing_code_is_409(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    first = await http.post("/v1/currencies", json={"code": "PTS", "precision": 0}, headers=headers)
    assert first.status_code == 201
    again = await http.post("/v1/currencies", json={"code": "PTS", "precision": 0}, headers=headers)
    assert_error(again, 409, "DUPLICATE_CODE")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"code": "btc", "precision": 8}', "$.code"),
        (b'{"code": "BT", "precision": 8}', "$.code"),
        (b'{"code": "ABCDEFGHIJK", "precision": 8}', "$.code"),
        (b'{"code": 123, "precision": 8}', "$.code"),
        (b'{"code": "BTC", "precision": 19}', "$.precision"),
        (b'{"code": "BTC", "precision": -1}', "$.precision"),
        (b'{"code": "BTC", "precision": "8"}', "$.precision"),
        (b'{"code": "BTC", "precision": 8.0}', "$.precision"),
        (b'{"code": "BTC", "precision": true}', "$.precision"),
        (b'{"code": "BTC"}', "$.precision"),
        (b'{"code": "BTC", "precision": 8, "name": "Bitcoin"}', "$.name"),
        (b'{"code": "BTC", "precision": 8', "$"),
        (b"[]", "$"),
    ],
)
async def test_invalid_currency_body_is_400(
    http: httpx.AsyncClient, headers: dict[str, str], body: bytes, field: str
) -> None:
    response = await http.post(
        "/v1/currencies",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )
    details = assert_error(response, 400, "VALIDATION_ERROR")
    assert details["field"] == field


async def test_currency_routes_need_a_key(http: httpx.AsyncClient) -> None:
    assert_error(await http.get("/v1/currencies"), 401, "UNAUTHENTICATED")
    response = await http.post("/v1/currencies", json={"code": "BTC", "precision": 8})
    assert_error(response, 401, "UNAUTHENTICATED")
    assert_error(await http.get("/v1/fx-rates?base=EUR&quote=USD"), 401, "UNAUTHENTICATED")


# --- FX rates -----------------------------------------------------------------------------


async def _set(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    base: str,
    quote: str,
    rate: str,
    day: str,
) -> dict[str, Any]:
    response = await http.post(
        "/v1/fx-rates",
        json={"base": base, "quote": quote, "rate": rate, "date": day},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_set_and_get_rates(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    stored = await _set(http, headers, "EUR", "USD", "1.0842", "2026-06-01")
    assert set(stored) == {"base", "quote", "rate", "date", "version", "position"}
    assert stored["base"] == "EUR"
    assert stored["quote"] == "USD"
    assert stored["rate"] == "1.0842"
    assert stored["date"] == "2026-06-01"
    assert stored["version"] == 1
    again = await _set(http, headers, "EUR", "USD", "1.0900", "2026-06-01")
    assert again["version"] == 2
    assert again["position"] > stored["position"]

    response = await http.get(
        "/v1/fx-rates",
        params={"base": "EUR", "quote": "USD", "date": "2026-06-15"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert int(response.headers["ledger-position"]) >= again["position"]
    assert response.json() == {
        "base": "EUR",
        "quote": "USD",
        "date": "2026-06-15",
        "rate": "1.0900",
        "inverse": False,
        "effective_date": "2026-06-01",
    }

    inverse = await http.get(
        "/v1/fx-rates",
        params={"base": "USD", "quote": "EUR", "date": "2026-06-15"},
        headers=headers,
    )
    assert inverse.status_code == 200
    body = inverse.json()
    assert body["inverse"] is True
    assert body["effective_date"] == "2026-06-01"
    assert Decimal(body["rate"]) == inverse_rate(Decimal("1.0900"))
    assert "E" not in body["rate"]


async def test_a_rate_keeps_every_digit(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    rate = "1234567890.123456789012345678901234567890"  # 40 significant digits
    stored = await _set(http, headers, "EUR", "USD", rate, "2026-01-01")
    assert stored["rate"] == rate
    response = await http.get(
        "/v1/fx-rates",
        params={"base": "EUR", "quote": "USD", "date": "2026-01-01"},
        headers=headers,
    )
    assert response.json()["rate"] == rate


async def test_rate_not_found_is_422(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await _set(http, headers, "EUR", "USD", "1.1", "2026-06-01")
    response = await http.get(
        "/v1/fx-rates",
        params={"base": "EUR", "quote": "USD", "date": "2026-05-31"},
        headers=headers,
    )
    assert_error(response, 422, "FX_RATE_NOT_FOUND")
    response = await http.get(
        "/v1/fx-rates",
        params={"base": "EUR", "quote": "GBP", "date": "2026-06-30"},
        headers=headers,
    )
    assert_error(response, 422, "FX_RATE_NOT_FOUND")


async def test_rates_are_per_tenant(
    http: httpx.AsyncClient, headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    await _set(http, headers, "EUR", "USD", "1.1", "2026-06-01")
    response = await http.get(
        "/v1/fx-rates",
        params={"base": "EUR", "quote": "USD", "date": "2026-06-30"},
        headers=other_headers,
    )
    assert_error(response, 422, "FX_RATE_NOT_FOUND")


async def test_rates_of_custom_currencies(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    unknown = await http.post(
        "/v1/fx-rates",
        json={"base": "BTC", "quote": "USD", "rate": "65000", "date": "2026-01-01"},
        headers=headers,
    )
    details = assert_error(unknown, 422, "CURRENCY_UNKNOWN")
    assert details["field"] == "base"
    await http.post("/v1/currencies", json={"code": "BTC", "precision": 8}, headers=headers)
    await _set(http, headers, "BTC", "USD", "65000", "2026-01-01")
    response = await http.get(
        "/v1/fx-rates",
        params={"base": "BTC", "quote": "USD", "date": "2026-01-01"},
        headers=headers,
    )
    assert response.json()["rate"] == "65000"


async def test_getting_an_unknown_currency_is_422(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.get(
        "/v1/fx-rates",
        params={"base": "EUR", "quote": "NOPE", "date": "2026-01-01"},
        headers=headers,
    )
    assert_error(response, 422, "CURRENCY_UNKNOWN")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"base": "EUR", "quote": "USD", "rate": 1.0842, "date": "2026-06-01"}', "$.rate"),
        (b'{"base": "EUR", "quote": "USD", "rate": 1, "date": "2026-06-01"}', "$.rate"),
        (b'{"base": "EUR", "quote": "USD", "rate": "abc", "date": "2026-06-01"}', "$.rate"),
        (b'{"base": "EUR", "quote": "USD", "rate": "0", "date": "2026-06-01"}', "$.rate"),
        (b'{"base": "EUR", "quote": "USD", "rate": "0.000", "date": "2026-06-01"}', "$.rate"),
        (b'{"base": "EUR", "quote": "USD", "rate": "-1.5", "date": "2026-06-01"}', "$.rate"),
        (b'{"base": "EUR", "quote": "USD", "rate": "1e3", "date": "2026-06-01"}', "$.rate"),
        (b'{"base": "EUR", "quote": "USD", "rate": "NaN", "date": "2026-06-01"}', "$.rate"),
        (b'{"base": "EUR", "quote": "USD", "rate": "Infinity", "date": "2026-06-01"}', "$.rate"),
        (
            b'{"base": "EUR", "quote": "USD", "rate": "1.'
            + b"1" * 40
            + b'", "date": "2026-06-01"}',
            "$.rate",
        ),
        (b'{"base": "EUR", "quote": "EUR", "rate": "1", "date": "2026-06-01"}', "$.quote"),
        (b'{"base": "eur", "quote": "USD", "rate": "1", "date": "2026-06-01"}', "$.base"),
        (b'{"base": "EUR", "quote": "USD", "rate": "1", "date": "2026-13-01"}', "$.date"),
        (b'{"base": "EUR", "quote": "USD", "rate": "1", "date": "01/06/2026"}', "$.date"),
        (b'{"base": "EUR", "quote": "USD", "rate": "1"}', "$.date"),
        (b'{"base": "EUR", "quote": "USD", "rate": "1", "date": "2026-06-01", "x": 1}', "$.x"),
    ],
)
async def test_invalid_rate_body_is_400(
    http: httpx.AsyncClient, headers: dict[str, str], body: bytes, field: str
) -> None:
    response = await http.post(
        "/v1/fx-rates", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    details = assert_error(response, 400, "VALIDATION_ERROR")
    assert details["field"] == field


@pytest.mark.parametrize(
    "params",
    [
        {"quote": "USD", "date": "2026-01-01"},
        {"base": "EUR", "date": "2026-01-01"},
        {"base": "eur", "quote": "USD", "date": "2026-01-01"},
        {"base": "EUR", "quote": "USD", "date": "2026-02-30"},
    ],
)
async def test_invalid_rate_query_is_400(
    http: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str]
) -> None:
    response = await http.get("/v1/fx-rates", params=params, headers=headers)
    assert_error(response, 400, "VALIDATION_ERROR")


async def test_same_currency_rate_is_one(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await http.get(
        "/v1/fx-rates",
        params={"base": "USD", "quote": "USD", "date": "2026-01-01"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.json() == {
        "base": "USD",
        "quote": "USD",
        "date": "2026-01-01",
        "rate": "1",
        "inverse": False,
        "effective_date": None,
    }


async def test_date_defaults_to_today(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await _set(http, headers, "EUR", "USD", "1.2", "2000-01-01")
    response = await http.get(
        "/v1/fx-rates", params={"base": "EUR", "quote": "USD"}, headers=headers
    )
    assert response.status_code == 200
    assert response.json()["effective_date"] == "2000-01-01"


async def test_openapi_documents_the_routes(http: httpx.AsyncClient) -> None:
    document = (await http.get("/schema/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/v1/currencies"]) >= {"get", "post"}
    assert set(paths["/v1/fx-rates"]) >= {"get", "post"}
    post_currency = paths["/v1/currencies"]["post"]["responses"]
    assert {"201", "400", "401", "409", "413", "415"} <= set(post_currency)
    assert {"201", "400", "422"} <= set(paths["/v1/fx-rates"]["post"]["responses"])
    assert {"200", "400", "422"} <= set(paths["/v1/fx-rates"]["get"]["responses"])
    for path in ("/v1/currencies", "/v1/fx-rates"):
        for method, operation in paths[path].items():
            assert operation["security"] == [{"ApiKeyHeader": []}, {"BearerAuth": []}]
            responses = operation["responses"]
            assert {"401", "500", "503"} <= set(responses), (path, method)
            for status, response in responses.items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)
            if method == "get":
                assert "Ledger-Position" in responses["200"]["headers"]
    body = paths["/v1/fx-rates"]["post"]["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["base", "quote", "rate", "date"]
    assert schema["properties"]["rate"]["type"] == "string"
    currency = paths["/v1/currencies"]["post"]["requestBody"]["content"]["application/json"]
    assert currency["schema"]["properties"]["precision"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 18,
        "description": "Digits after the decimal point of the minor unit.",
    }
