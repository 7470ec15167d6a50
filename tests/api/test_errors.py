"""Every error is the envelope, whatever raised it (docs/api.md §1)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar, Request, get, post
from litestar.params import FromQuery, JSONBody
from litestar.types import Message, Scope

from ledger import limits
from ledger.api import create_app
from ledger.api.body import decode_body
from ledger.bootstrap import Services
from ledger.commands.tenants import NewKey
from ledger.config import Settings
from ledger.errors import JournalUnbalanced, RateLimited, Unavailable
from tests.api.client import http_client

SECRET = "s3cr3t-detail-that-must-not-leak"
MIB = 1024 * 1024


class Echo(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    amount: int


@post("/test/echo", status_code=200)
async def echo(request: Request[Any, Any, Any]) -> Echo:
    return await decode_body(request, Echo)


@post("/test/ignores-body", status_code=200)
async def ignores_body() -> dict[str, bool]:
    return {"ok": True}


@get("/test/boom")
async def boom() -> None:
    raise RuntimeError(SECRET)


@get("/test/unbalanced")
async def unbalanced() -> None:
    raise JournalUnbalanced(
        "debits and credits differ", {"currency": "USD", "debits": 100, "credits": 90}
    )


@get("/test/rate-limited")
async def rate_limited() -> None:
    raise RateLimited("slow down", {"retry_after_seconds": 7})


@get("/test/unavailable")
async def unavailable() -> None:
    raise Unavailable("try later")


@get("/test/db-down")
async def db_down() -> None:
    raise asyncpg.CannotConnectNowError("the database system is starting up")


@post("/test/litestar-body", status_code=200)
async def litestar_body(data: JSONBody[Echo]) -> Echo:
    # Litestar's own body path (lenient; handlers use decode_body): its errors are mapped too.
    return data


@get("/test/query")
async def query(limit: FromQuery[int]) -> dict[str, int]:
    return {"limit": limit}


TEST_ROUTES = [
    echo,
    ignores_body,
    boom,
    unbalanced,
    rate_limited,
    unavailable,
    db_down,
    litestar_body,
    query,
]


@pytest.fixture
def app(settings: Settings, services: Services) -> Litestar:
    app = create_app(settings, services=services)
    for route in TEST_ROUTES:
        app.register(route)
    return app


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as client:
        yield client


def envelope(body: Any) -> dict[str, Any]:
    assert isinstance(body, dict)
    assert set(body) == {"code", "message", "details"}
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["details"], dict)
    return body


async def test_unknown_path_is_404_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert envelope(response.json())["code"] == "NOT_FOUND"


async def test_unknown_v1_path_is_404_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nope")
    assert response.status_code == 404
    assert envelope(response.json())["code"] == "NOT_FOUND"


async def test_unknown_schema_path_is_404_envelope(client: httpx.AsyncClient) -> None:
    for path in ("/schema/nope", "/schema/nope.json"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert envelope(response.json())["code"] == "NOT_FOUND"


async def test_wrong_method_is_405_envelope(client: httpx.AsyncClient, acme_key: NewKey) -> None:
    response = await client.delete("/v1/tenant", headers={"X-API-KEY": acme_key.api_key})
    assert response.status_code == 405
    assert envelope(response.json())["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response.headers["allow"]


async def test_options_allow_lists_every_documented_method_of_the_path(
    client: httpx.AsyncClient, acme_key: NewKey
) -> None:
    # Litestar's own OPTIONS answer listed only the first handler's methods of a path
    # (``GET, OPTIONS`` on /v1/currencies): schemathesis' allow_header_conformance (issue 12).
    headers = {"X-API-KEY": acme_key.api_key}
    expected = {
        "/v1/currencies": "GET, OPTIONS, POST",
        "/v1/records": "GET, OPTIONS, POST",
        "/v1/matches/1": "DELETE, GET, OPTIONS",
        "/v1/manual-journals/x": "DELETE, GET, OPTIONS, PATCH",
        # GET and PATCH of the static path answer as for a ledger id "journals" (a 404).
        "/v1/ledgers/journals": "OPTIONS, POST",
        "/v1/tenant": "GET, OPTIONS",
    }
    for path, allow in expected.items():
        response = await client.options(path, headers=headers)
        assert response.status_code == 204, path
        assert response.headers["allow"] == allow, path


async def test_body_over_one_mib_is_413(client: httpx.AsyncClient) -> None:
    body = b'{"amount": 1, "pad": "' + b"x" * MIB + b'"}'
    response = await client.post(
        "/test/echo", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    payload = envelope(response.json())
    assert payload["code"] == "PAYLOAD_TOO_LARGE"
    assert str(limits.REQUEST_BODY_BYTES_MAX) in payload["message"]


async def test_body_of_exactly_the_limit_is_read(client: httpx.AsyncClient) -> None:
    prefix, suffix = b'{"amount": 1', b"}"
    body = prefix + b" " * (limits.REQUEST_BODY_BYTES_MAX - len(prefix) - len(suffix)) + suffix
    assert len(body) == limits.REQUEST_BODY_BYTES_MAX
    response = await client.post(
        "/test/echo", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {"amount": 1}


async def test_oversized_body_is_413_even_where_the_body_is_ignored(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/test/ignores-body", content=b"x" * (MIB + 1))
    assert response.status_code == 413
    assert envelope(response.json())["code"] == "PAYLOAD_TOO_LARGE"


async def _raw_post(app: Litestar, path: str, chunks: list[bytes]) -> tuple[int, bytes]:
    """POST ``chunks`` as a chunked body (no Content-Length) straight through ASGI."""
    raw_scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "state": {},
        "extensions": {},
    }
    scope = cast(Scope, raw_scope)
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Any:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m["body"] for m in sent if m["type"] == "http.response.body")
    return status, body


async def test_chunked_body_over_the_limit_is_413(app: Litestar) -> None:
    half = b" " * (MIB // 2 + 1)
    status, body = await _raw_post(app, "/test/echo", [b'{"amount": 1', half, half, b"}"])
    assert status == 413
    assert envelope(msgspec.json.decode(body))["code"] == "PAYLOAD_TOO_LARGE"


async def test_chunked_body_under_the_limit_is_read(app: Litestar) -> None:
    status, body = await _raw_post(app, "/test/echo", [b'{"amount":', b" 5}"])
    assert status == 200
    assert msgspec.json.decode(body) == {"amount": 5}


async def test_non_json_content_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/test/echo", content=b"amount=1", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert envelope(response.json())["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_non_utf8_json_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/test/echo",
        content=b'{"amount": 1}',
        headers={"content-type": "application/json; charset=latin-1"},
    )
    assert response.status_code == 415


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=UTF-8", "application/x+json"]
)
async def test_json_content_types_are_accepted(
    client: httpx.AsyncClient, content_type: str
) -> None:
    response = await client.post(
        "/test/echo", content=b'{"amount": 1}', headers={"content-type": content_type}
    )
    assert response.status_code == 200


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/test/echo", content=b'{"amount": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    payload = envelope(response.json())
    assert payload["code"] == "VALIDATION_ERROR"
    assert payload["details"]["field"] == "$"


async def test_float_for_int_is_400_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/test/echo", json={"amount": 1.5})
    assert response.status_code == 400
    payload = envelope(response.json())
    assert payload["code"] == "VALIDATION_ERROR"
    assert payload["details"]["field"] == "$.amount"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"amount": ', "$"),
        (b'{"amount": 1.5}', "$.amount"),
        (b'{"amount": 1, "x": 2}', "$.x"),
        (b"{}", "$.amount"),
    ],
)
async def test_litestar_body_errors_are_400_naming_the_field(
    client: httpx.AsyncClient, body: bytes, field: str
) -> None:
    response = await client.post(
        "/test/litestar-body", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    payload = envelope(response.json())
    assert payload["code"] == "VALIDATION_ERROR"
    assert payload["details"]["field"] == field


async def test_query_parameter_error_is_400_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/test/query", params={"limit": "many"})
    assert response.status_code == 400
    payload = envelope(response.json())
    assert payload["code"] == "VALIDATION_ERROR"
    assert payload["details"]["field"] == "limit"
    assert payload["details"]["source"] == "query"


async def test_missing_query_parameter_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/test/query")
    assert response.status_code == 400
    assert envelope(response.json())["details"]["field"] == "limit"


async def test_unexpected_exception_is_500_without_trace(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="ledger.api.errors"):
        response = await client.get("/test/boom")
    assert response.status_code == 500
    payload = envelope(response.json())
    assert payload["code"] == "INTERNAL_ERROR"
    assert payload["details"] == {}
    assert SECRET not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    # ... but the server log has it all.
    assert any(r.exc_info and SECRET in str(r.exc_info[1]) for r in caplog.records)


async def test_domain_error_keeps_its_status_code_and_details(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/test/unbalanced")
    assert response.status_code == 422
    assert response.json() == {
        "code": "JOURNAL_UNBALANCED",
        "message": "debits and credits differ",
        "details": {"currency": "USD", "debits": 100, "credits": 90},
    }


async def test_429_carries_retry_after(client: httpx.AsyncClient) -> None:
    response = await client.get("/test/rate-limited")
    assert response.status_code == 429
    assert envelope(response.json())["code"] == "RATE_LIMITED"
    assert response.headers["retry-after"] == "7"


async def test_503_carries_retry_after(client: httpx.AsyncClient) -> None:
    response = await client.get("/test/unavailable")
    assert response.status_code == 503
    assert envelope(response.json())["code"] == "UNAVAILABLE"
    assert int(response.headers["retry-after"]) >= 1


async def test_lost_database_is_503_not_500(client: httpx.AsyncClient) -> None:
    response = await client.get("/test/db-down")
    assert response.status_code == 503
    assert envelope(response.json())["code"] == "UNAVAILABLE"
    assert "starting up" not in response.text
    assert int(response.headers["retry-after"]) >= 1
