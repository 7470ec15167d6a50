"""``PATCH /v1/journals/{id}``: annotations (docs/api.md §5, "Annotations")."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from ledger.bootstrap import Services
from tests.api.test_journals import auth, body
from tests.projections.helpers import fresh_replay_differences

__all__ = ["auth"]  # the fixture, shared with the journal tests


async def _post(client: httpx.AsyncClient, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/journals", json=body(**fields), headers=auth)
    assert response.status_code == 201, response.text
    journal: dict[str, Any] = response.json()
    return journal


async def _patch(
    client: httpx.AsyncClient, auth: dict[str, str], journal_id: str, payload: Any
) -> httpx.Response:
    return await client.patch(f"/v1/journals/{journal_id}", json=payload, headers=auth)


async def _get(client: httpx.AsyncClient, auth: dict[str, str], journal_id: str) -> httpx.Response:
    response = await client.get(f"/v1/journals/{journal_id}", headers=auth)
    assert response.status_code == 200, response.text
    return response


def _without_position(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "position"}


async def _events(services: Services) -> int:
    count: int = await services.pool.fetchval("SELECT count(*) FROM ledger_events")
    return count


async def test_patch_answers_the_current_document_with_the_annotations_position(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    journal = await _post(client, auth, description="sale", reference="inv-1")
    cash = journal["entries"][0]["ledger_id"]
    balances = await client.get(f"/v1/ledgers/{cash}/balances", headers=auth)
    response = await _patch(
        client, auth, journal["id"], {"description": "refund", "metadata": {"k": "v"}}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["description"], answer["reference"], answer["metadata"]) == (
        "refund",
        "inv-1",
        {"k": "v"},
    )
    assert answer["position"] > journal["position"]
    got = (await _get(client, auth, journal["id"])).json()
    # The GET document, with the annotation's position instead of the posting's.
    assert _without_position(answer) == _without_position(got)
    assert got["position"] == journal["position"]
    # Nothing else of the journal changed: no reposting, no money effect.
    notes = {"description", "metadata", "position", "reconciled", "reconciled_at", "entries"}
    assert {k: v for k, v in got.items() if k not in notes} == {
        k: v for k, v in journal.items() if k not in notes
    }
    assert [{k: e[k] for k in journal["entries"][0]} for e in got["entries"]] == (
        journal["entries"]
    )
    after = await client.get(f"/v1/ledgers/{cash}/balances", headers=auth)
    assert after.json().pop("known_at") == answer["position"]
    assert after.json() | {"known_at": None} == balances.json() | {"known_at": None}


async def test_null_clears_and_metadata_merges(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    journal = await _post(
        client, auth, description="sale", reference="inv-1", metadata={"a": 1, "b": 2}
    )
    response = await _patch(
        client, auth, journal["id"], {"reference": None, "metadata": {"b": "", "c": [3]}}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["description"] == "sale"  # not named: unchanged
    assert answer["reference"] is None
    assert answer["metadata"] == {"a": 1, "c": [3]}
    response = await _patch(client, auth, journal["id"], {"description": None})
    assert response.json()["description"] is None
    assert response.json()["metadata"] == {"a": 1, "c": [3]}


async def test_the_201_and_its_replays_keep_their_bytes(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    first = await client.post(
        "/v1/journals", json=body(external_id="inv-7", description="sale"), headers=auth
    )
    assert first.status_code == 201
    journal_id = first.json()["id"]
    patched = await _patch(client, auth, journal_id, {"description": "changed"})
    assert patched.status_code == 200
    again = await client.post(
        "/v1/journals", json=body(external_id="inv-7", description="sale"), headers=auth
    )
    assert again.status_code == 200
    assert again.content == first.content
    assert (await _get(client, auth, journal_id)).json()["description"] == "changed"


async def test_a_patch_that_changes_nothing_writes_nothing(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services
) -> None:
    journal = await _post(client, auth, description="sale", metadata={"a": 1})
    before = await _events(services)
    payloads: list[dict[str, Any]] = [
        {"description": "sale"},
        {"metadata": {}},
        {"metadata": {"a": 1, "x": ""}},
    ]
    for payload in payloads:
        response = await _patch(client, auth, journal["id"], payload)
        assert response.status_code == 200, response.text
        assert response.content == (await _get(client, auth, journal["id"])).content
    assert await _events(services) == before


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"status": "voided"},
        {"description": "x", "amount": 5},
        {"entries": []},
        {"description": "x" * 1001},
        {"description": 5},
        {"reference": ""},
        {"reference": "r" * 256},
        {"metadata": None},
        {"metadata": ["a"]},
        [],
        "text",
    ],
)
async def test_bad_bodies_are_400_and_write_nothing(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services, payload: Any
) -> None:
    journal = await _post(client, auth, description="sale")
    before = await _events(services)
    response = await _patch(client, auth, journal["id"], payload)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert await _events(services) == before
    assert (await _get(client, auth, journal["id"])).json()["description"] == "sale"


async def test_the_bounds_are_those_of_a_post(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    journal = await _post(client, auth)
    response = await _patch(
        client, auth, journal["id"], {"description": "d" * 1000, "reference": "r" * 255}
    )
    assert response.status_code == 200, response.text


async def test_unknown_and_foreign_journals_are_404_and_write_nothing(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services
) -> None:
    journal = await _post(client, auth, description="sale")
    other_key, _ = await services.tenants.create_tenant("globex", "EUR")
    globex = {"X-API-KEY": other_key.api_key}
    before = await _events(services)
    for journal_id, headers in (
        (journal["id"], globex),
        ("00000000-0000-4000-8000-000000000000", auth),
        ("not-a-uuid", auth),
    ):
        response = await _patch(client, headers, journal_id, {"description": "theirs"})
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "NOT_FOUND"
    assert await _events(services) == before
    assert (await _get(client, auth, journal["id"])).json()["description"] == "sale"


async def test_lists_filter_by_the_annotated_reference(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    journal = await _post(client, auth, reference="old-ref")
    await _post(client, auth, reference="other")
    assert (await _patch(client, auth, journal["id"], {"reference": "new-ref"})).status_code == 200
    found = await client.get("/v1/journals", params={"reference": "new-ref"}, headers=auth)
    assert [j["id"] for j in found.json()["data"]] == [journal["id"]]
    assert found.json()["data"][0]["reference"] == "new-ref"
    gone = await client.get("/v1/journals", params={"reference": "old-ref"}, headers=auth)
    assert gone.json()["data"] == []


async def test_any_status_may_be_annotated(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    voided = await _post(client, auth, status="pending")
    assert (await client.post(f"/v1/journals/{voided['id']}/void", headers=auth)).status_code == 200
    reversed_ = await _post(client, auth)
    reversal = await client.post(f"/v1/journals/{reversed_['id']}/reverse", headers=auth)
    assert reversal.status_code == 201
    pending = await _post(client, auth, status="pending")
    for journal, status in ((voided, "voided"), (reversed_, "reversed"), (pending, "pending")):
        response = await _patch(client, auth, journal["id"], {"description": "noted"})
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["description"]) == (status, "noted")
    # An annotated pending journal can still be committed, and keeps its notes.
    committed = await client.post(f"/v1/journals/{pending['id']}/commit", headers=auth)
    assert committed.status_code == 200, committed.text
    assert (committed.json()["status"], committed.json()["description"]) == ("posted", "noted")


async def test_concurrent_patches_all_apply_in_order(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    journal = await _post(client, auth, status="pending")
    patches = [
        _patch(client, auth, journal["id"], {"description": f"d{i}", "metadata": {f"k{i}": i}})
        for i in range(12)
    ]
    responses = await asyncio.gather(
        *patches, client.post(f"/v1/journals/{journal['id']}/commit", headers=auth)
    )
    assert [r.status_code for r in responses] == [200] * 13, [r.text for r in responses]
    answers = [r.json() for r in responses[:12]]
    assert len({a["position"] for a in answers}) == 12
    last = max(answers, key=lambda a: a["position"])
    final = (await _get(client, auth, journal["id"])).json()
    assert final["description"] == last["description"]
    assert final["metadata"] == {f"k{i}": i for i in range(12)}  # every merge applied
    assert final["status"] == "posted"
    assert _without_position(final) == _without_position(last)


async def test_the_event_feed_shows_the_annotation(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    journal = await _post(client, auth, description="sale")
    patched = await _patch(client, auth, journal["id"], {"reference": "r-1"})
    feed = await client.get("/v1/events", params={"after": journal["position"]}, headers=auth)
    event = feed.json()["data"][0]
    assert (event["type"], event["position"]) == ("JournalAnnotated", patched.json()["position"])
    assert event["data"]["reference_set"] is True
    assert event["data"]["reference"] == "r-1"
    assert event["data"]["description_set"] is False
    assert event["data"]["metadata"] is None


async def test_a_fresh_replay_reproduces_the_annotated_rows(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services, server_url: str
) -> None:
    first = await _post(client, auth, reference="a", metadata={"x": 1})
    second = await _post(client, auth, status="pending")
    await _patch(client, auth, first["id"], {"reference": "b", "metadata": {"y": 2}})
    await _patch(client, auth, second["id"], {"description": "held"})
    await client.post(f"/v1/journals/{second['id']}/commit", headers=auth)
    await _patch(client, auth, second["id"], {"metadata": {"after": True}})
    await _patch(client, auth, first["id"], {"metadata": {"x": ""}})
    assert await fresh_replay_differences(services, server_url) == {}
