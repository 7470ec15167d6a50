"""Real responses against the schemas ``/schema/openapi.json`` declares for them.

Each response is looked up in the OpenAPI document by route and status; the Struct the schema
names (one of ``ledger.api.schemas`` or a document Struct of ``ledger.documents``, which are
the schemas of the journals, records and matches they render, or the reconciliation
summary's Structs in ``ledger.queries.records``) must decode it with unknown
fields refused, and encoding the decoded value must give back the same JSON (so no field is
missing from the Struct, none is only filled by a default, none changes type). A document
Struct encodes the answer itself, so its re-encoding is the answer byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from ledger.api import schemas
from ledger.commands.tenants import NewKey
from ledger.documents import journals as journal_documents
from ledger.documents import records as record_documents
from ledger.queries import records as record_queries

STATEMENTS = Path(__file__).parent.parent / "fixtures" / "statements"
COMPONENT_PREFIX = "#/components/schemas/"
# The reconciliation summary's Structs are the query's own answer.
DOCUMENT_MODULES = (journal_documents, record_documents, record_queries)
# OpenAPI components are named after their Structs' classes.
STRUCTS: dict[str, type[msgspec.Struct]] = {
    name: value
    for module in (schemas, *DOCUMENT_MODULES)
    for name, value in vars(module).items()
    if isinstance(value, type) and issubclass(value, msgspec.Struct)
}


@pytest.fixture
def auth(acme_key: NewKey) -> dict[str, str]:
    return {"X-API-KEY": acme_key.api_key}


async def _openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    document: dict[str, Any] = (await client.get("/schema/openapi.json")).json()
    return document


def assert_matches_declared_schema(
    openapi: dict[str, Any], method: str, route: str, response: httpx.Response
) -> dict[str, Any]:
    """Check ``response`` against the schema declared for ``method route`` and its status;
    return its JSON."""
    declared = openapi["paths"][route][method]["responses"][str(response.status_code)]
    ref = declared["content"]["application/json"]["schema"]["$ref"]
    assert ref.startswith(COMPONENT_PREFIX), (route, ref)
    struct = STRUCTS[ref.removeprefix(COMPONENT_PREFIX)]
    decoded = msgspec.json.decode(response.content, type=struct)
    answered: dict[str, Any] = response.json()
    assert msgspec.json.decode(msgspec.json.encode(decoded)) == answered, route
    if struct.__module__ in {module.__name__ for module in DOCUMENT_MODULES}:
        assert msgspec.json.encode(decoded) == response.content, route
    return answered


def _journal(status: str = "posted", **fields: Any) -> dict[str, Any]:
    return {
        "date": "2026-06-03",
        "status": status,
        "metadata": {"source": {"system": "test", "ids": [1, 2]}},
        "entries": [
            {"ledger_code": "cash", "direction": "debit", "amount": 1000},
            {
                "ledger_code": "revenue",
                "direction": "credit",
                "amount": 1000,
                "description": "sale",
            },
        ],
        **fields,
    }


async def test_journal_and_balance_responses_match_their_schemas(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    openapi = await _openapi(client)
    for code, kind in (("cash", "asset"), ("revenue", "income")):
        opened = await client.post(
            "/v1/ledgers", json={"code": code, "name": code, "type": kind}, headers=auth
        )
        assert opened.status_code == 201, opened.text
    keyed = {**auth, "Idempotency-Key": "order-1"}

    posted = await client.post("/v1/journals", json=_journal(), headers=keyed)
    assert posted.status_code == 201, posted.text
    journal = assert_matches_declared_schema(openapi, "post", "/v1/journals", posted)
    replayed = await client.post("/v1/journals", json=_journal(), headers=keyed)
    assert replayed.status_code == 200
    assert replayed.content == posted.content
    assert_matches_declared_schema(openapi, "post", "/v1/journals", replayed)

    route = "/v1/journals/{journal_id}"
    read = await client.get(f"/v1/journals/{journal['id']}", headers=auth)
    assert_matches_declared_schema(openapi, "get", route, read)

    for action in ("commit", "void"):
        pending = await client.post("/v1/journals", json=_journal("pending"), headers=auth)
        settled = await client.post(f"/v1/journals/{pending.json()['id']}/{action}", headers=auth)
        assert settled.status_code == 200, settled.text
        assert_matches_declared_schema(openapi, "post", f"{route}/{action}", settled)

    reversal = await client.post(f"/v1/journals/{journal['id']}/reverse", headers=auth)
    assert reversal.status_code == 201, reversal.text
    assert_matches_declared_schema(openapi, "post", f"{route}/reverse", reversal)
    read_reversed = await client.get(f"/v1/journals/{journal['id']}", headers=auth)
    assert read_reversed.json()["reversed_by"] == reversal.json()["id"]
    assert_matches_declared_schema(openapi, "get", route, read_reversed)

    unbalanced = _journal()
    unbalanced["entries"][0]["amount"] = 999
    bulk = await client.post(
        "/v1/journals/bulk", json={"journals": [_journal(), unbalanced]}, headers=auth
    )
    assert [item["status"] for item in bulk.json()["data"]] == [201, 422]
    assert_matches_declared_schema(openapi, "post", "/v1/journals/bulk", bulk)
    listed = await client.get("/v1/journals?limit=1", headers=auth)
    assert assert_matches_declared_schema(openapi, "get", "/v1/journals", listed)["next_cursor"]

    cash = journal["entries"][0]["ledger_id"]
    balances = await client.get(f"/v1/ledgers/{cash}/balances", headers=auth)
    answer = assert_matches_declared_schema(
        openapi, "get", "/v1/ledgers/{ledger_id}/balances", balances
    )
    assert answer["balances"][0]["posted"] > 0
    statement = await client.get(f"/v1/ledgers/{cash}/entries?limit=2", headers=auth)
    page = assert_matches_declared_schema(
        openapi, "get", "/v1/ledgers/{ledger_id}/entries", statement
    )
    assert len(page["data"]) == 2
    assert page["next_cursor"] is not None


def _record(stream: str, amount: int, **fields: Any) -> dict[str, Any]:
    return {
        "amount": amount,
        "direction": fields.pop("direction", "credit"),
        "date": fields.pop("date", "2026-06-03"),
        "data_stream_key": stream,
        **fields,
    }


async def test_record_and_reconciliation_responses_match_their_schemas(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    openapi = await _openapi(client)
    first = _record("bank", 1000, external_id="r-1", description="in", metadata={"k": [1]})
    created = await client.post("/v1/records", json=first, headers=auth)
    assert created.status_code == 201, created.text
    record = assert_matches_declared_schema(openapi, "post", "/v1/records", created)
    replayed = await client.post("/v1/records", json=first, headers=auth)
    assert replayed.status_code == 200
    assert replayed.content == created.content
    assert_matches_declared_schema(openapi, "post", "/v1/records", replayed)

    bulk = await client.post(
        "/v1/records/bulk",
        json={
            "records": [
                _record("bank", 7, external_id="r-1"),
                _record("psp", 1000, direction="debit"),
                _record("psp", 500, direction="debit", date="2026-06-04"),
                _record("bank", 500, date="2026-06-04"),
            ]
        },
        headers=auth,
    )
    assert [item["status"] for item in bulk.json()["data"]] == [409, 201, 201, 201]
    assert_matches_declared_schema(openapi, "post", "/v1/records/bulk", bulk)

    psp_id = bulk.json()["data"][1]["record"]["id"]
    match = await client.post(
        "/v1/matches",
        json={"items": [{"record_id": record["id"]}, {"record_id": psp_id}], "note": "by hand"},
        headers=auth,
    )
    assert match.status_code == 201, match.text
    match_id = assert_matches_declared_schema(openapi, "post", "/v1/matches", match)["id"]
    matched = await client.get(f"/v1/records/{record['id']}", headers=auth)
    assert matched.json()["matched_records"]
    assert_matches_declared_schema(openapi, "get", "/v1/records/{record_id}", matched)
    records = await client.get("/v1/records?limit=2", headers=auth)
    assert_matches_declared_schema(openapi, "get", "/v1/records", records)

    for dry_run in (True, False):
        run = await client.post(
            "/v1/reconciliation-runs",
            json={"left": "bank", "right": "psp", "dry_run": dry_run},
            headers=auth,
        )
        assert run.status_code == 201, run.text
        answer = assert_matches_declared_schema(openapi, "post", "/v1/reconciliation-runs", run)
        assert answer["matched"] == 1
    read_run = await client.get(f"/v1/reconciliation-runs/{answer['id']}", headers=auth)
    assert_matches_declared_schema(openapi, "get", "/v1/reconciliation-runs/{run_id}", read_run)
    run_match = answer["matches"][0]["id"]
    ruled = await client.get(f"/v1/matches/{run_match}", headers=auth)
    assert ruled.json()["rule"] is not None
    assert_matches_declared_schema(openapi, "get", "/v1/matches/{match_id}", ruled)

    unmatched = await client.delete(f"/v1/matches/{match_id}", headers=auth)
    assert unmatched.status_code == 200, unmatched.text
    assert_matches_declared_schema(openapi, "delete", "/v1/matches/{match_id}", unmatched)
    matches = await client.get("/v1/matches", headers=auth)
    assert len(assert_matches_declared_schema(openapi, "get", "/v1/matches", matches)["data"]) == 2

    for query in ("", "?data_stream_key=bank&as_of=2026-06-30&known_at=1"):
        summary = await client.get(f"/v1/reconciliation/summary{query}", headers=auth)
        assert_matches_declared_schema(openapi, "get", "/v1/reconciliation/summary", summary)

    name = "statement.camt053.xml"
    imported = await client.post(
        "/v1/records/import",
        files={"file": (name, (STATEMENTS / name).read_bytes())},
        data={"data_stream_key": "bank"},
        headers=auth,
    )
    assert imported.status_code == 200, imported.text
    assert_matches_declared_schema(openapi, "post", "/v1/records/import", imported)

    csv = b"Date;Amount;Text\n2026-06-05;12,00;fee\n2026-06-06;0,00;nothing\n"
    mapping = {
        "date": "Date",
        "amount": "Amount",
        "description": "Text",
        "delimiter": ";",
        "decimal_separator": ",",
    }
    with_skipped = await client.post(
        "/v1/records/import",
        files={"file": ("lines.csv", csv)},
        data={"data_stream_key": "cash", "format": "csv", "mapping": json.dumps(mapping)},
        headers=auth,
    )
    assert with_skipped.status_code == 200, with_skipped.text
    report = assert_matches_declared_schema(openapi, "post", "/v1/records/import", with_skipped)
    assert report["skipped_lines"][0]["reason"] == "zero_amount"
