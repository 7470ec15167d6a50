"""Strict input (docs/api.md §1, issue 12): NUL, JSON nesting, integer query parameters,
unknown query parameters, and validation before a ``min_position`` wait.

The sweeps walk the OpenAPI document, so every body type, text field and query parameter the
API documents is driven through the central rules (``ledger.api.body``, ``ledger.api.strict``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from ledger import limits
from ledger.commands.tenants import NewKey

NUL = "\x00"
UNKNOWN = "metadata[foo]"
# Integer query values that are not plain decimal digits, or outside every documented range.
LOOSE_INTEGERS = ["1e2", "1.0", "+5", " 5", "5 ", "-1", "", "0x10", "\u0663", str(2**63), "1_0"]
_PATH_PARAMETER = re.compile(r"\{([^}]+)\}")

Path = tuple[str | int, ...]


def _headers(key: NewKey) -> dict[str, str]:
    return {"X-API-KEY": key.api_key}


async def _openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _operations(
    document: dict[str, Any], ids: dict[str, str] | None = None
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, url, operation) under /v1 and /external/v1; a path parameter is its value in
    ``ids`` (``"<collection>.<name>"`` first, then ``"<name>"``), else a fresh uuid."""
    known = ids or {}
    for path, item in document["paths"].items():
        if not path.startswith(("/v1/", "/external/v1/")):
            continue
        collection = path.split("/")[2]

        def value(match: re.Match[str], collection: str = collection) -> str:
            name = f"{collection}.{match[1]}"
            return known.get(name, known.get(match[1], str(uuid4())))

        url = _PATH_PARAMETER.sub(value, path)
        for method, operation in item.items():
            if method in {"get", "post", "patch", "put", "delete"}:
                yield method.upper(), url, operation


def _query_parameters(operation: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in operation.get("parameters", []) if p["in"] == "query"]


def _is_integer(schema: dict[str, Any]) -> bool:
    options = schema.get("oneOf") or schema.get("anyOf") or [schema]
    return any(option.get("type") == "integer" for option in options)


def _string_leaves(schema: dict[str, Any], path: Path = ()) -> Iterator[Path]:
    """The path of every text field (or free-form object's value) a body schema allows."""
    if len(path) > limits.JSON_NESTING_DEPTH_MAX // 2:
        return
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from _string_leaves(option, path)
    kind = schema.get("type")
    if kind == "string" or ("enum" in schema and kind is None):
        yield path
    elif kind == "array":
        yield from _string_leaves(schema.get("items", {}), (*path, 0))
    elif kind == "object":
        properties = schema.get("properties", {})
        for name, inner in properties.items():
            yield from _string_leaves(inner, (*path, name))
        if not properties:  # a free-form object such as ``metadata``
            yield (*path, "note")


def _body_with_nul(path: Path) -> Any:
    value: Any = "a" + NUL
    for step in reversed(path):
        value = [value] if isinstance(step, int) else {step: value}
    return value


def _json_path(path: Path) -> str:
    return "$" + "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)


def _body_leaves(document: dict[str, Any], ids: dict[str, str]) -> Iterator[tuple[str, str, Path]]:
    for method, url, operation in _operations(document, ids):
        content = operation.get("requestBody", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if schema is not None:
            for path in dict.fromkeys(_string_leaves(schema)):
                yield method, url, path


def _assert_400(response: httpx.Response, field: str) -> dict[str, Any]:
    assert response.status_code == 400, (response.request.url, response.text)
    body: dict[str, Any] = response.json()
    assert body["code"] == "VALIDATION_ERROR", body
    assert body["details"]["field"] == field, (response.request.url, body)
    return body


# NUL ---------------------------------------------------------------------------------------


async def _existing_ids(client: httpx.AsyncClient, key: NewKey) -> dict[str, str]:
    """Ids of a real ledger and journal: routes that read their resource before its body."""
    headers = _headers(key)
    for code, kind in (("cash", "asset"), ("revenue", "income")):
        body = {"code": code, "name": code, "type": kind}
        response = await client.post("/v1/ledgers", json=body, headers=headers)
        assert response.status_code == 201, response.text
    journal = {
        "date": "2026-06-03",
        "entries": [
            {"ledger_code": "cash", "direction": "debit", "amount": 100},
            {"ledger_code": "revenue", "direction": "credit", "amount": 100},
        ],
    }
    response = await client.post("/v1/journals", json=journal, headers=headers)
    assert response.status_code == 201, response.text
    posted = response.json()
    response = await client.get("/v1/manual-journals", headers=headers)
    return {
        "ledger_id": posted["entries"][0]["ledger_id"],
        "journal_id": posted["id"],
        "manual-journals.journal_id": response.json()["data"][0]["id"],
    }


async def test_nul_in_any_text_field_of_any_body_is_a_400_naming_it(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    ids = await _existing_ids(client, acme_key)
    leaves = list(_body_leaves(await _openapi(client), ids))
    # Every body type is covered, with its text fields (journals, ledgers, records ...).
    assert len({(method, url.split("/")[2]) for method, url, _ in leaves}) >= 10
    assert any(path[-1] == "description" for _, _, path in leaves)
    for method, url, path in leaves:
        response = await client.request(
            method, url, json=_body_with_nul(path), headers=_headers(acme_key)
        )
        _assert_400(response, _json_path(path))


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/v1/ledgers", {"code": "a\x00", "name": "Cash", "type": "asset"}, "$.code"),
        ("/v1/ledgers", {"code": "c", "name": "Ca\x00sh", "type": "asset"}, "$.name"),
        ("/v1/ledgers", {"code": "c", "metadata": {"k": "\x00"}}, "$.metadata.k"),
        ("/v1/ledgers", {"code": "c", "metadata": {"\x00": 1}}, "$.metadata.\\u0000"),
    ],
)  # fmt: skip
async def test_nul_reproductions_of_issue_12_are_400(
    client: httpx.AsyncClient, acme_key: NewKey, url: str, body: Any, field: str
) -> None:
    _assert_400(await client.post(url, json=body, headers=_headers(acme_key)), field)


async def test_an_escaped_backslash_before_u0000_is_plain_text(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    body = {"code": "c-1", "name": "\\u0000 is not NUL", "type": "asset"}
    response = await client.post("/v1/ledgers", json=body, headers=_headers(acme_key))
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "\\u0000 is not NUL"


async def test_nul_in_any_query_parameter_is_a_400_naming_it(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    checked = 0
    for method, url, operation in _operations(await _openapi(client)):
        for parameter in _query_parameters(operation):
            response = await client.request(
                method, url, params={parameter["name"]: "a" + NUL}, headers=_headers(acme_key)
            )
            _assert_400(response, parameter["name"])
            checked += 1
    assert checked >= 30


async def test_nul_in_a_query_string_path_or_header_is_a_400(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    headers = _headers(acme_key)
    _assert_400(await client.get("/v1/records?external_id=%00", headers=headers), "external_id")
    _assert_400(await client.get("/v1/journals?%00=1", headers=headers), "\\0")
    _assert_400(await client.get("/v1/ledgers/%00", headers=headers), "ledger_id")
    _assert_400(await client.get("/v1/records/1%00", headers=headers), "record_id")
    response = await client.post(
        "/v1/records",
        json={"data_stream_key": "bank:x", "external_id": "e", "amount": 1},
        headers={**headers, "Idempotency-Key": "k\x00"},
    )
    body = _assert_400(response, "Idempotency-Key")
    assert body["details"]["source"] == "header"


async def test_nul_in_a_statement_import_form_field_is_a_400_naming_it(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    response = await client.post(
        "/v1/records/import",
        files={"file": ("s.csv", b"date,amount\n", "text/csv")},
        data={"data_stream_key": "bank:\x00x"},
        headers=_headers(acme_key),
    )
    _assert_400(response, "data_stream_key")


# Nesting -----------------------------------------------------------------------------------


def _nested(levels: int) -> Any:
    value: Any = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


async def test_json_nested_beyond_the_limit_is_a_400_naming_the_limit(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    headers = {**_headers(acme_key), "Content-Type": "application/json"}
    deep = b'{"code": "c", "name": "n", "type": "asset", "metadata": ' + b"[" * 1000
    body = _assert_400(await client.post("/v1/ledgers", content=deep, headers=headers), "$")
    assert body["details"]["limit"] == "JSON_NESTING_DEPTH_MAX"
    assert body["details"]["depth_max"] == limits.JSON_NESTING_DEPTH_MAX
    # Every body route applies it: a journal, a record, a match, the seed's routes.
    for url in ["/v1/journals", "/v1/records", "/v1/matches", "/v1/transactions"]:
        response = await client.post(url, content=b"[" * 1000 + b"]" * 1000, headers=headers)
        assert response.status_code == 400, (url, response.text)
        assert response.json()["details"]["limit"] == "JSON_NESTING_DEPTH_MAX"


async def test_json_nested_exactly_to_the_limit_is_accepted(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    # The body is level 1; its metadata object the remaining levels.
    depth = limits.JSON_NESTING_DEPTH_MAX
    ledger = {"code": "deep", "name": "Deep", "type": "asset"}
    response = await client.post(
        "/v1/ledgers", json={**ledger, "metadata": _nested(depth - 1)}, headers=_headers(acme_key)
    )
    assert response.status_code == 201, response.text
    too_deep = {**ledger, "code": "deeper", "metadata": _nested(depth)}
    response = await client.post("/v1/ledgers", json=too_deep, headers=_headers(acme_key))
    assert response.status_code == 400
    assert response.json()["details"]["limit"] == "JSON_NESTING_DEPTH_MAX"


# Integer query parameters ------------------------------------------------------------------


async def test_every_integer_query_parameter_documents_its_maximum(
    client: httpx.AsyncClient,
) -> None:
    integers = [
        (url, p)
        for _, url, operation in _operations(await _openapi(client))
        for p in _query_parameters(operation)
        if _is_integer(p["schema"])
    ]
    assert len(integers) >= 10
    for url, parameter in integers:
        assert "maximum" in parameter["schema"], (url, parameter)


async def test_every_integer_query_parameter_is_strict_and_bounded(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    checked = 0
    for method, url, operation in _operations(await _openapi(client)):
        for parameter in _query_parameters(operation):
            if not _is_integer(parameter["schema"]):
                continue
            for value in LOOSE_INTEGERS:
                response = await client.request(
                    method, url, params={parameter["name"]: value}, headers=_headers(acme_key)
                )
                body = _assert_400(response, parameter["name"])
                assert body["details"]["source"] == "query"
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize(
    "url",
    [
        f"/v1/ledgers/{uuid4()}/balances?known_at={2**63}",
        f"/v1/records?known_at={2**63}",
        f"/v1/records/1?known_at={2**63}",
        f"/v1/reconciliation/summary?known_at={2**63}",
        f"/v1/matches?record_id={2**63}",
        "/v1/journals?limit=1e2",
        "/v1/journals?limit=1.0",
        "/v1/journals?limit=%2B5",
        "/v1/journals?limit=%205",
        f"/v1/journals?limit={limits.PAGE_SIZE_MAX + 1}",
        "/v1/journals?limit=0",
        f"/v1/tenant?min_position={2**63}",
        f"/v1/journals?limit={'9' * 5000}",  # beyond Python's int() of text
    ],
)
async def test_integer_reproductions_of_issue_12_are_400(
    client: httpx.AsyncClient, acme_key: NewKey, url: str
) -> None:
    field = url.rsplit("?", 1)[1].split("=")[0]
    body = _assert_400(await client.get(url, headers=_headers(acme_key)), field)
    assert "maximum" in body["details"]


async def test_a_path_id_of_thousands_of_digits_is_a_404(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    response = await client.get("/v1/records/" + "9" * 5000, headers=_headers(acme_key))
    assert response.status_code == 404, response.text


async def test_integer_query_parameters_in_range_are_accepted(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    headers = _headers(acme_key)
    response = await client.get(f"/v1/journals?limit={limits.PAGE_SIZE_MAX}", headers=headers)
    assert response.status_code == 200, response.text
    response = await client.get(f"/v1/records?known_at={2**63 - 1}&limit=1", headers=headers)
    assert response.status_code == 200, response.text


# Unknown query parameters ------------------------------------------------------------------


async def test_an_unknown_query_parameter_is_a_400_on_every_route(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    checked = 0
    for method, url, _ in _operations(await _openapi(client)):
        response = await client.request(
            method, url, params={UNKNOWN: "bar"}, headers=_headers(acme_key)
        )
        body = _assert_400(response, UNKNOWN)
        assert UNKNOWN in body["details"]["unknown"]
        checked += 1
    assert checked >= 40


async def test_the_issue_12_filter_is_not_silently_ignored(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    response = await client.get("/v1/journals?metadata[foo]=bar", headers=_headers(acme_key))
    body = _assert_400(response, UNKNOWN)
    assert body["details"]["unknown"] == [UNKNOWN]
    assert "metadata[foo]" in body["message"]


async def test_the_text_null_is_not_an_absent_parameter(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    # msgspec read ``null`` as None for an optional type: ``?ledger_id=null`` listed every
    # journal (schemathesis' negative_data_rejection, issue 12).
    headers = _headers(acme_key)
    for path, name in [
        ("/v1/journals?ledger_id=null", "ledger_id"),
        ("/v1/journals?status=null", "status"),
        ("/v1/journals?from=null", "from"),
        ("/v1/reconciliation/summary?as_of=null", "as_of"),
        ("/v1/ledgers?type=null", "type"),
    ]:
        _assert_400(await client.get(path, headers=headers), name)
    # A text parameter takes the text.
    response = await client.get("/v1/records?data_stream_key=null", headers=headers)
    assert response.status_code == 200, response.text


async def test_min_position_and_declared_parameters_stay_accepted(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    headers = _headers(acme_key)
    for method, url, _ in _operations(await _openapi(client)):
        if method == "GET":
            response = await client.get(url, params={"min_position": 0}, headers=headers)
            # Not refused for min_position (a route may still miss its required parameters).
            details = response.json().get("details", {})
            assert details.get("field") != "min_position", (url, response.text)
            assert "unknown" not in details, (url, response.text)
    # The seed-compatible route's own parameter: the 400 is about the (empty) body.
    response = await client.post("/v1/transactions?force=true", headers=headers)
    assert response.status_code == 400
    assert response.json()["details"]["field"] != "force"
    assert "unknown" not in response.json()["details"]


# Validation before the min_position wait --------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["limit=1000", "limit=abc", "metadata%5Bfoo%5D=bar", "from=yesterday", "status=lost"],
)
async def test_an_invalid_parameter_is_refused_before_waiting_for_min_position(
    client: httpx.AsyncClient, acme_key: NewKey, query: str
) -> None:
    # The position is far beyond the log: were it waited on first, the answer would be a 503
    # (after the wait), not a 400.
    url = f"/v1/journals?min_position={2**62}&{query}"
    response = await client.get(url, headers=_headers(acme_key))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"
