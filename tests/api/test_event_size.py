"""The API's input bounds keep every event far under ``limits.STATE_BYTES_MAX``.

``limits`` asserts ``4 * REQUEST_BODY_BYTES_MAX <= STATE_BYTES_MAX`` on the grounds that an
event is built from one body and grows little beyond it. These tests post the two extreme
journals a body allows (the largest body; the most entries in the smallest body) and measure
what is stored, so that ground is checked, not assumed.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ledger import limits
from ledger.bootstrap import Services
from ledger.commands.tenants import NewKey
from tests.store_helpers import read_log


@pytest.fixture
async def auth(services: Services, acme_key: NewKey) -> dict[str, str]:
    tenant_id = await services.pool.fetchval("SELECT tenant_id FROM tenants WHERE slug = 'acme'")
    await services.ledgers.open_ledger(tenant_id, code="cash", name="Cash", type="asset")
    await services.ledgers.open_ledger(tenant_id, code="revenue", name="Revenue", type="income")
    return {"X-API-KEY": acme_key.api_key}


def _entries(description: str | None) -> list[dict[str, Any]]:
    half = limits.JOURNAL_ENTRIES_MAX // 2
    entries = [
        {"ledger_code": code, "direction": direction, "amount": 1}
        for code, direction in (("cash", "debit"), ("revenue", "credit"))
        for _ in range(half)
    ]
    if description is not None:
        for entry in entries:
            entry["description"] = description
    return entries


async def _posted_state_bytes(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services, body: bytes
) -> int:
    response = await client.post(
        "/v1/journals", content=body, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text[:500]
    (posted,) = [e for e in await read_log(services.pool) if e.topic.endswith("JournalPosted")]
    return len(posted.state)


async def test_the_largest_journal_body_is_stored_well_under_the_state_bound(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services
) -> None:
    # The most entries, each with a description, and the metadata filling the rest of the
    # body with characters that re-encode as long as they were sent (\u0001: six bytes).
    journal: dict[str, Any] = {
        "date": "2026-06-03",
        "description": "d" * limits.JOURNAL_TEXT_LENGTH_MAX,
        "entries": _entries("d" * 100),
        "metadata": {"pad": ""},
    }
    template = json.dumps(journal, separators=(",", ":"))
    room = limits.REQUEST_BODY_BYTES_MAX - len(template.encode())
    pad = "\\u0001" * (room // 6) + "x" * (room % 6)
    body = template.replace('"pad":""', f'"pad":"{pad}"').encode()
    assert len(body) == limits.REQUEST_BODY_BYTES_MAX

    state_bytes = await _posted_state_bytes(client, auth, services, body)

    assert state_bytes <= 2 * limits.REQUEST_BODY_BYTES_MAX
    assert state_bytes <= limits.STATE_BYTES_MAX // 4


async def test_the_most_entries_in_the_smallest_body_are_stored_well_under_the_state_bound(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services
) -> None:
    # Here the derived fields (ids, base amounts) outweigh the body most.
    journal = {"date": "2026-06-03", "entries": _entries(None)}
    body = json.dumps(journal, separators=(",", ":")).encode()

    state_bytes = await _posted_state_bytes(client, auth, services, body)

    assert state_bytes <= limits.STATE_BYTES_MAX // 4
