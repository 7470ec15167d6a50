"""The OpenAPI document at /schema/openapi.json."""

from __future__ import annotations

from typing import Any

import httpx

import ledger


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert isinstance(document, dict)
    return document


async def test_document_is_openapi_3_1(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "ledger"
    assert document["info"]["version"] == ledger.__version__


async def test_document_lists_the_routes(client: httpx.AsyncClient) -> None:
    paths = (await _document(client))["paths"]
    assert {"/health", "/ready", "/metrics", "/v1/tenant"} <= set(paths)
    assert not any(path.startswith("/schema") for path in paths)


# Routes behind the API key: /v1, and seed 002's /external/v1.
AUTHENTICATED_PREFIXES = ("/v1", "/external/v1")


async def test_v1_routes_require_either_security_scheme(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"] == {
        "type": "apiKey",
        "name": "X-API-KEY",
        "in": "header",
        "description": schemes["ApiKeyHeader"]["description"],
    }
    assert schemes["BearerAuth"]["type"] == "http"
    assert schemes["BearerAuth"]["scheme"] == "bearer"
    for path, item in document["paths"].items():
        for operation in item.values():
            security = operation.get("security")
            if path.startswith(AUTHENTICATED_PREFIXES):
                assert security == [{"ApiKeyHeader": []}, {"BearerAuth": []}], path
            else:
                assert not security, path


async def test_every_error_response_is_the_envelope(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "500" in responses, (path, method)
            if path.startswith(AUTHENTICATED_PREFIXES):
                assert "401" in responses, (path, method)
            # Seed 002's path answers the envelope with its seed's status fields.
            envelope = "SeedErrorBody" if path.startswith("/external/") else "ErrorBody"
            for status, response in responses.items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": f"#/components/schemas/{envelope}"}, (path, status)


async def test_envelope_schema(client: httpx.AsyncClient) -> None:
    error_body = (await _document(client))["components"]["schemas"]["ErrorBody"]
    assert set(error_body["required"]) == {"code", "message", "details"}
    assert error_body["additionalProperties"] is False


async def test_strict_structs_forbid_additional_properties(
    client: httpx.AsyncClient,
) -> None:
    schemas = (await _document(client))["components"]["schemas"]
    for name in ("TenantBody", "HealthBody", "ReadyBody", "ErrorBody"):
        assert schemas[name]["additionalProperties"] is False, name


async def test_v1_gets_document_ledger_position(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    for path, item in document["paths"].items():
        if path.startswith("/v1") and "get" in item:
            headers = item["get"]["responses"]["200"]["headers"]
            assert "Ledger-Position" in headers, path


async def test_interactive_docs_are_served(client: httpx.AsyncClient) -> None:
    for path in ("/schema", "/schema/swagger", "/schema/redoc"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")


# Successes that are not JSON: GET /metrics answers Prometheus text.
TEXT_SUCCESSES = {("/metrics", "get", "200")}


def _success_schemas(document: dict[str, Any]) -> dict[tuple[str, str, str], Any]:
    """(path, method, status) -> the JSON schema of every 2xx response with a JSON body (a
    204 has none; ``TEXT_SUCCESSES`` are text)."""
    found = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if 200 <= int(status) < 300 and status != "204":
                    if (path, method, status) in TEXT_SUCCESSES:
                        continue
                    content = response.get("content") or {}
                    found[path, method, status] = content.get("application/json", {}).get("schema")
    return found


async def test_metrics_is_documented_as_prometheus_text(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    content = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert content == {"text/plain; version=0.0.4; charset=utf-8": {"schema": {"type": "string"}}}


async def test_every_success_response_references_a_document_schema(
    client: httpx.AsyncClient,
) -> None:
    document = await _document(client)
    components = document["components"]["schemas"]
    schemas = _success_schemas(document)
    assert len(schemas) >= 35
    for where, schema in schemas.items():
        assert schema, where
        ref = schema.get("$ref", "")
        assert ref.startswith("#/components/schemas/"), (where, schema)
        component = components[ref.removeprefix("#/components/schemas/")]
        assert component["type"] == "object", where
        assert component["properties"], where


async def test_idempotent_replays_are_documented(client: httpx.AsyncClient) -> None:
    schemas = _success_schemas(await _document(client))
    for path in ("/v1/journals", "/v1/records"):
        created = schemas[path, "post", "201"]
        assert schemas[path, "post", "200"] == created, path
    assert schemas["/v1/journals", "post", "201"] == {"$ref": "#/components/schemas/JournalOut"}
    assert schemas["/v1/records", "post", "201"] == {"$ref": "#/components/schemas/RecordOut"}
    assert schemas["/v1/ledgers/{ledger_id}/balances", "get", "200"] == {
        "$ref": "#/components/schemas/BalancesOut"
    }


async def test_error_responses_document_the_headers_they_carry(
    client: httpx.AsyncClient,
) -> None:
    # Schemathesis' response_headers_conformance (tests/fuzz) checks only documented headers.
    document = await _document(client)
    expected = {"401": "WWW-Authenticate", "429": "Retry-After", "503": "Retry-After"}
    seen = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status in expected:
                    header = response["headers"][expected[status]]
                    assert header["required"] is True, (path, method, status)
                    seen.add(status)
    assert {"401", "503"} <= seen
    retry_after = document["paths"]["/v1/tenant"]["get"]["responses"]["503"]["headers"]
    assert retry_after["Retry-After"]["schema"] == {"type": "string", "pattern": "^[0-9]+$"}
