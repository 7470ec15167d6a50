"""docs/api.md documents every operation the service serves.

The OpenAPI document is generated from the code, so it cannot forget a route; the prose of
docs/api.md can. An operation is documented when ``METHOD /path`` (as in the schema, path
parameters in braces) appears in the page, followed by anything but more path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import httpx

API_DOC: Final = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _documented(text: str, method: str, path: str) -> bool:
    return re.search(re.escape(f"{method} {path}") + r"(?![\w/{}-])", text) is not None


def test_the_match_needs_the_whole_path() -> None:
    text = "`POST /v1/ledgers/{ledger_id}/close` and `GET /v1/ledgers?code=`"
    assert _documented(text, "POST", "/v1/ledgers/{ledger_id}/close")
    assert _documented(text, "GET", "/v1/ledgers")
    assert not _documented(text, "POST", "/v1/ledgers")
    assert not _documented(text, "POST", "/v1/ledgers/{ledger_id}")


async def test_every_operation_is_in_docs_api_md(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    text = API_DOC.read_text(encoding="utf-8")
    missing = [
        f"{method.upper()} {path}"
        for path, item in response.json()["paths"].items()
        for method in item
        if not _documented(text, method.upper(), path)
    ]
    assert missing == []
