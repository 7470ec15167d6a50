"""Records, matches, runs, imports and reports over HTTP (docs/api.md §6)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.bootstrap import Services
from ledger.commands.tenants import NewKey

STATEMENTS = Path(__file__).parent.parent / "fixtures" / "statements"
SEED_RECORD = {
    "amount": 123,
    "direction": "credit",
    "date": "2023-12-25",
    "data_stream_key": "<string>",
    "id": 123,
    "decimal_places": 2,
    "description": "<string>",
    "metadata": {},
    "status": "reconciled",
    "external_id": "<string>",
    "matched_records": [
        {
            "id": 123,
            "amount": 123,
            "decimal_places": 2,
            "direction": "credit",
            "data_stream_key": "<string>",
        }
    ],
}
SEED_FIELDS = [
    "amount",
    "direction",
    "date",
    "data_stream_key",
    "id",
    "decimal_places",
    "description",
    "metadata",
    "status",
    "external_id",
    "matched_records",
    "position",
]


@pytest.fixture
def auth(acme_key: NewKey) -> dict[str, str]:
    return {"X-API-KEY": acme_key.api_key}


def rec(stream: str = "bank", amount: int = 1000, **fields: Any) -> dict[str, Any]:
    return {
        "amount": amount,
        "direction": fields.pop("direction", "credit"),
        "date": fields.pop("date", "2026-06-03"),
        "data_stream_key": stream,
        **fields,
    }


async def create(client: httpx.AsyncClient, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/records", json=rec(**fields), headers=auth)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_seed_request_is_accepted_verbatim(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.post("/v1/records", json=SEED_RECORD, headers=auth)
    assert response.status_code == 201, response.text
    record = response.json()
    assert list(record) == SEED_FIELDS
    assert record["id"] == 1  # read-only fields of the request are ignored
    assert record["status"] == "unreconciled"
    assert record["matched_records"] == []
    assert isinstance(record["position"], int)
    again = await client.post("/v1/records", json=SEED_RECORD, headers=auth)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == response.content
    changed = await client.post("/v1/records", json={**SEED_RECORD, "amount": 5}, headers=auth)
    assert changed.status_code == 409
    assert changed.json()["code"] == "IDEMPOTENCY_CONFLICT"
    assert changed.json()["details"]["record_id"] == 1
    got = await client.get("/v1/records/1", headers=auth)
    assert got.status_code == 200
    assert got.json() == record
    assert int(got.headers["Ledger-Position"]) >= record["position"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 0}, "$.amount"),
        ({"amount": 10.5}, "$.amount"),
        ({"amount": "10"}, "$.amount"),
        ({"direction": "up"}, "$.direction"),
        ({"date": "2026-13-01"}, "$.date"),
        ({"data_stream_key": "ledger:cash"}, "$.data_stream_key"),
        ({"data_stream_key": ""}, "$.data_stream_key"),
        ({"decimal_places": 19}, "$.decimal_places"),
        ({"colour": "red"}, "$.colour"),
    ],
)
async def test_bad_records_are_400(
    client: httpx.AsyncClient, auth: dict[str, str], change: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/records", json={**rec(), **change}, headers=auth)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["details"]["field"] == field


async def test_an_empty_idempotency_key_is_a_400(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.post("/v1/records", json=rec(), headers={**auth, "Idempotency-Key": ""})
    assert response.status_code == 400, response.text
    assert response.json()["details"]["field"] == "Idempotency-Key"
    listed = await client.get("/v1/records", headers=auth)
    assert listed.json()["data"] == []


async def test_unknown_and_foreign_records_are_404(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services
) -> None:
    other, _ = await services.tenants.create_tenant("other", "USD")
    mine = await create(client, auth)
    theirs = await client.get(f"/v1/records/{mine['id']}", headers={"X-API-KEY": other.api_key})
    assert theirs.status_code == 404
    for path in ("/v1/records/999", "/v1/records/abc", "/v1/records/0"):
        response = await client.get(path, headers=auth)
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"


async def test_bulk_answers_per_record(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create(client, auth, external_id="x-1")
    body = {
        "records": [
            rec(external_id="x-1"),
            rec(amount=7, external_id="x-1"),
            rec(amount=3),
            rec("processor", external_id="x-1"),
        ]
    }
    response = await client.post("/v1/records/bulk", json=body, headers=auth)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [d["status"] for d in data] == [200, 409, 201, 201]
    assert data[0]["record"]["id"] == 1
    assert data[1]["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert [data[2]["record"]["id"], data[3]["record"]["id"]] == [2, 3]
    bad = await client.post(
        "/v1/records/bulk", json={"records": [rec(), rec(amount=-1)]}, headers=auth
    )
    assert bad.status_code == 400
    assert bad.json()["details"]["field"] == "$.records[1].amount"
    too_many = await client.post(
        "/v1/records/bulk", json={"records": [rec()] * 10_001}, headers=auth
    )
    assert too_many.status_code == 400


async def test_bulk_of_ten_thousand(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    records = [
        rec(amount=i + 1, external_id=f"payout-{i:06d}", description=f"charge {i}")
        for i in range(10_000)
    ]
    response = await client.post("/v1/records/bulk", json={"records": records}, headers=auth)
    assert response.status_code == 200
    assert len(response.content) > 1024 * 1024
    data = response.json()["data"]
    assert {d["status"] for d in data} == {201}
    assert data[-1]["record"]["id"] == 10_000
    listed = await client.get("/v1/records?limit=500&status=unreconciled", headers=auth)
    assert len(listed.json()["data"]) == 500
    assert listed.json()["next_cursor"] is not None


async def ledger_entry(client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    for code, kind in (("cash", "asset"), ("revenue", "income")):
        opened = await client.post(
            "/v1/ledgers", json={"code": code, "name": code, "type": kind}, headers=auth
        )
        assert opened.status_code == 201, opened.text
    posted = await client.post(
        "/v1/journals",
        json={
            "date": "2026-06-03",
            "entries": [
                {"ledger_code": "cash", "direction": "debit", "amount": 1000},
                {"ledger_code": "revenue", "direction": "credit", "amount": 1000},
            ],
        },
        headers=auth,
    )
    assert posted.status_code == 201
    journal: dict[str, Any] = posted.json()
    return journal


async def test_matches_reconcile_and_unmatch(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    journal = await ledger_entry(client, auth)
    cash_entry = journal["entries"][0]["id"]
    bank = await create(client, auth)
    response = await client.post(
        "/v1/matches",
        json={"items": [{"record_id": bank["id"]}, {"entry_id": cash_entry}], "note": "june"},
        headers=auth,
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert set(made) >= {"id", "items", "difference", "rule", "status", "created_at", "position"}
    assert (made["status"], made["difference"], made["rule"]) == ("active", 0, None)
    assert made["items"][1] == {
        "entry_id": cash_entry,
        "data_stream_key": "ledger:cash",
        "amount": 1000,
        "direction": "debit",
        "decimal_places": 2,
    }
    record = (await client.get(f"/v1/records/{bank['id']}", headers=auth)).json()
    assert record["status"] == "reconciled"
    assert record["matched_records"] == [
        {
            "id": cash_entry,
            "amount": 1000,
            "decimal_places": 2,
            "direction": "debit",
            "data_stream_key": "ledger:cash",
        }
    ]
    shown = (await client.get(f"/v1/journals/{journal['id']}", headers=auth)).json()
    assert shown["reconciled"] is True
    assert shown["entries"][0]["reconciled"] is True
    assert shown["entries"][0]["reconciled_at"] == made["created_at"]
    listed = (await client.get("/v1/journals", headers=auth)).json()["data"]
    assert listed[0]["reconciled"] is True
    again = await client.post(
        "/v1/matches",
        json={"items": [{"record_id": bank["id"]}, {"entry_id": cash_entry}]},
        headers=auth,
    )
    assert again.status_code == 409
    assert again.json()["code"] == "ALREADY_MATCHED"
    removed = await client.delete(f"/v1/matches/{made['id']}", headers=auth)
    assert removed.status_code == 200
    assert removed.json()["status"] == "unmatched"
    assert removed.json()["position"] > made["position"]
    assert (await client.delete(f"/v1/matches/{made['id']}", headers=auth)).status_code == 422
    record = (await client.get(f"/v1/records/{bank['id']}", headers=auth)).json()
    assert (record["status"], record["matched_records"]) == ("unreconciled", [])
    back_then = await client.get(
        f"/v1/records/{bank['id']}?known_at={made['position']}", headers=auth
    )
    assert back_then.json()["status"] == "reconciled"
    assert (await client.get(f"/v1/journals/{journal['id']}", headers=auth)).json()[
        "reconciled"
    ] is False
    got = (await client.get(f"/v1/matches/{made['id']}", headers=auth)).json()
    assert got["status"] == "unmatched"
    assert (await client.get("/v1/matches/nope", headers=auth)).status_code == 404


@pytest.mark.parametrize(
    ("items", "status", "code"),
    [
        ([{"record_id": 1}], 400, "VALIDATION_ERROR"),
        ([{"record_id": 1}, {"record_id": 1}], 400, "VALIDATION_ERROR"),
        ([{"record_id": 1}, {"record_id": 2, "entry_id": None}], 201, None),
        ([{"record_id": 1}, {}], 400, "VALIDATION_ERROR"),
        ([{"record_id": 1}, {"record_id": 99}], 404, "NOT_FOUND"),
        ([{"record_id": 1}, {"record_id": 3}], 422, "MATCH_UNBALANCED"),
        ([{"record_id": 1}, {"record_id": 4}], 422, "MATCH_UNBALANCED"),
    ],
)
async def test_match_rules(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    items: list[dict[str, Any]],
    status: int,
    code: str | None,
) -> None:
    await create(client, auth)  # 1: bank credit 1000
    await create(client, auth, stream="processor", direction="debit")  # 2
    await create(client, auth, stream="processor", direction="debit", amount=999)  # 3
    await create(client, auth, direction="debit")  # 4: same stream as 1
    response = await client.post("/v1/matches", json={"items": items}, headers=auth)
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["code"] == code


async def test_tolerance_allows_a_difference(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    a = await create(client, auth)
    b = await create(client, auth, stream="processor", direction="debit", amount=990)
    response = await client.post(
        "/v1/matches",
        json={"items": [{"record_id": a["id"]}, {"record_id": b["id"]}], "tolerance": 10},
        headers=auth,
    )
    assert response.status_code == 201
    assert response.json()["difference"] == 10


async def test_two_concurrent_requests_matching_one_record_one_wins(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    shared = await create(client, auth)
    x = await create(client, auth, stream="processor", direction="debit")
    y = await create(client, auth, stream="psp", direction="debit")
    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/matches",
                json={"items": [{"record_id": shared["id"]}, {"record_id": other["id"]}]},
                headers=auth,
            )
            for other in (x, y)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409]
    listed = (await client.get("/v1/matches?status=active", headers=auth)).json()["data"]
    assert len(listed) == 1


async def test_a_run_matches_by_rules_and_explains_why(
    client: httpx.AsyncClient, auth: dict[str, str], services: Services
) -> None:
    body = {
        "records": [
            rec("bank", 1000, date="2026-06-01"),
            rec("bank", 2500, date="2026-06-02", external_id="po-9"),
            rec("bank", 600, date="2026-06-10"),
            rec("bank", 777, date="2026-06-10"),
            rec("psp", 1000, direction="debit", date="2026-06-03"),
            rec("psp", 2500, direction="debit", date="2026-06-09"),
            rec("psp", 200, direction="debit", date="2026-06-09"),
            rec("psp", 400, direction="debit", date="2026-06-11"),
        ]
    }
    assert (await client.post("/v1/records/bulk", json=body, headers=auth)).status_code == 200
    run = {
        "left": "bank",
        "right": "psp",
        "rules": {"match_on": ["amount", "date"], "date_window_days": 3, "allow_one_to_many": True},
    }
    before = await services.store.max_position()
    dry = await client.post("/v1/reconciliation-runs", json={**run, "dry_run": True}, headers=auth)
    assert dry.status_code == 201, dry.text
    proposed = dry.json()
    assert await services.store.max_position() == before  # a dry run writes nothing
    assert (proposed["matched"], proposed["unmatched_left"], proposed["unmatched_right"]) == (
        2,
        2,
        1,
    )
    assert [m["status"] for m in proposed["matches"]] == ["proposed", "proposed"]
    assert proposed["position"] is None
    real = await client.post("/v1/reconciliation-runs", json=run, headers=auth)
    assert real.status_code == 201
    result = real.json()
    assert set(result) >= {"id", "matched", "unmatched_left", "unmatched_right", "matches"}
    assert result["matched"] == proposed["matched"]
    one, many = result["matches"]
    assert [i["record_id"] for i in one["items"]] == [1, 5]
    assert one["rule"]["kind"] == "one_to_one"
    assert (one["rule"]["amount_difference"], one["rule"]["days_apart"]) == (0, 2)
    assert one["rule"]["run_id"] == result["id"]
    assert many["rule"]["kind"] == "one_to_many"
    assert [i["record_id"] for i in many["items"]] == [3, 7, 8]
    stored = (await client.get(f"/v1/matches/{one['id']}", headers=auth)).json()
    assert stored["rule"] == one["rule"]
    by_run = (await client.get(f"/v1/matches?run_id={result['id']}", headers=auth)).json()
    assert len(by_run["data"]) == 2
    got_run = (await client.get(f"/v1/reconciliation-runs/{result['id']}", headers=auth)).json()
    assert (got_run["matched"], got_run["unmatched_left"]) == (2, 2)
    # Running again finds nothing new: matched items are no longer candidates.
    rerun = (await client.post("/v1/reconciliation-runs", json=run, headers=auth)).json()
    assert rerun["matched"] == 0
    by_external = await client.post(
        "/v1/reconciliation-runs",
        json={"left": "bank", "right": "psp", "rules": {"match_on": ["external_id"]}},
        headers=auth,
    )
    assert by_external.json()["matched"] == 0  # po-9 has no partner with that external_id


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"left": "bank", "right": "bank"}, 400, "VALIDATION_ERROR"),
        ({"left": "bank", "right": "psp", "rules": {"match_on": []}}, 400, "VALIDATION_ERROR"),
        ({"left": "bank", "right": "psp", "rules": {"match_on": ["x"]}}, 400, "VALIDATION_ERROR"),
        (
            {"left": "bank", "right": "psp", "rules": {"date_window_days": 32}},
            400,
            "VALIDATION_ERROR",
        ),
        ({"left": "bank", "right": "ledger:nope"}, 422, "LEDGER_NOT_FOUND"),
        ({"left": "ledger:nope", "right": "bank"}, 422, "LEDGER_NOT_FOUND"),
        ({"left": "bank", "right": "nope"}, 422, "DATA_STREAM_NOT_FOUND"),
        ({"left": "nope", "right": "ledger:cash"}, 422, "DATA_STREAM_NOT_FOUND"),
        ({"left": "bank", "right": "psp"}, 201, None),
        ({"left": "bank", "right": "ledger:cash"}, 201, None),
    ],
)
async def test_run_requests_are_checked(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    body: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    # Streams that exist: "bank" and "psp" have a record, "ledger:cash" is a ledger.
    # "nope" names neither: unknown record and ledger streams both answer 422 (dry or not),
    # naming the stream, and write nothing.
    await ledger_entry(client, auth)
    await create(client, auth, stream="bank")
    await create(client, auth, stream="psp", direction="debit")
    before = (await client.get("/v1/events", headers=auth)).json()["data"]
    for dry_run in (True, False):
        response = await client.post(
            "/v1/reconciliation-runs", json={**body, "dry_run": dry_run}, headers=auth
        )
        assert response.status_code == status, response.text
        if code is None:
            continue
        error = response.json()
        assert error["code"] == code
        if status == 422:
            assert error["details"]["data_stream_key"] in ("nope", "ledger:nope")
            assert error["details"]["field"] in ("left", "right")
            assert (await client.get("/v1/events", headers=auth)).json()["data"] == before


async def test_a_dry_run_answers_no_id(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    # A dry run writes nothing, so it answers no id that would then 404: its id and
    # position are null, and so are each proposal's id and rule.run_id.
    await create(client, auth, stream="bank")
    await create(client, auth, stream="psp", direction="debit")
    run = {"left": "bank", "right": "psp", "dry_run": True}
    dry = await client.post("/v1/reconciliation-runs", json=run, headers=auth)
    assert dry.status_code == 201, dry.text
    answer = dry.json()
    assert (answer["id"], answer["position"], answer["dry_run"]) == (None, None, True)
    (proposal,) = answer["matches"]
    assert (proposal["id"], proposal["status"], proposal["rule"]["run_id"]) == (
        None,
        "proposed",
        None,
    )
    real = (
        await client.post("/v1/reconciliation-runs", json={**run, "dry_run": False}, headers=auth)
    ).json()
    assert real["id"] is not None
    assert real["matches"][0]["rule"]["run_id"] == real["id"]
    read = await client.get(f"/v1/reconciliation-runs/{real['id']}", headers=auth)
    assert read.status_code == 200, read.text


async def test_a_ledger_stream_summary_is_one_row_keyed_as_asked(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await ledger_entry(client, auth)  # cash: one debit entry of 1000
    summary = (
        await client.get("/v1/reconciliation/summary?data_stream_key=ledger:cash", headers=auth)
    ).json()
    assert summary["data_stream_key"] == "ledger:cash"
    unreconciled = {"count": 1, "amount": 1000, "debits": 1000, "credits": 0}
    assert summary["streams"] == [
        {
            "data_stream_key": "ledger:cash",
            "reconciled": {"count": 0, "amount": 0, "debits": 0, "credits": 0},
            "unreconciled": unreconciled,
        }
    ]
    assert summary["unreconciled"] == unreconciled


async def test_a_run_against_a_ledger(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    journal = await ledger_entry(client, auth)
    await create(client, auth, date="2026-06-04")
    response = await client.post(
        "/v1/reconciliation-runs",
        json={
            "left": "bank",
            "right": "ledger:cash",
            "rules": {"match_on": ["amount", "date"], "date_window_days": 1},
        },
        headers=auth,
    )
    assert response.status_code == 201, response.text
    (made,) = response.json()["matches"]
    assert made["items"][1]["entry_id"] == journal["entries"][0]["id"]
    summary = (
        await client.get("/v1/reconciliation/summary?data_stream_key=ledger:cash", headers=auth)
    ).json()
    assert summary["reconciled"]["count"] == 1


def form(fmt: str | None, stream: str = "bank", **extra: str) -> dict[str, str]:
    data = {"data_stream_key": stream, **extra}
    if fmt is not None:
        data["format"] = fmt
    return data


@pytest.mark.parametrize(
    ("name", "fmt", "count"),
    [
        ("statement.ofx", "ofx", 3),
        ("statement.camt053.xml", "camt053", 4),
        ("statement.mt940", "mt940", 3),
        ("statement.ofx", None, 3),
        ("statement.camt053.xml", None, 4),
    ],
)
async def test_importing_a_statement_twice_creates_its_records_once(
    client: httpx.AsyncClient, auth: dict[str, str], name: str, fmt: str | None, count: int
) -> None:
    content = (STATEMENTS / name).read_bytes()
    first = await client.post(
        "/v1/records/import", files={"file": (name, content)}, data=form(fmt), headers=auth
    )
    assert first.status_code == 200, first.text
    assert (first.json()["created"], first.json()["existing"]) == (count, 0)
    again = await client.post(
        "/v1/records/import", files={"file": (name, content)}, data=form(fmt), headers=auth
    )
    assert (again.json()["created"], again.json()["existing"], again.json()["failed"]) == (
        0,
        count,
        0,
    )
    listed = (await client.get("/v1/records?data_stream_key=bank", headers=auth)).json()["data"]
    assert len(listed) == count


async def test_importing_csv_with_a_mapping(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    mapping = {
        "date": "Booking Date",
        "description": "Text",
        "amount": "Amount",
        "external_id": "Reference",
        "date_format": "%d.%m.%Y",
        "delimiter": ";",
        "decimal_separator": ",",
        "thousands_separator": ".",
    }
    content = (STATEMENTS / "statement.csv").read_bytes()
    response = await client.post(
        "/v1/records/import",
        files={"file": ("statement.csv", content)},
        data=form("csv", mapping=json.dumps(mapping)),
        headers=auth,
    )
    assert response.status_code == 200, response.text
    records = [d["record"] for d in response.json()["data"]]
    assert [(r["amount"], r["direction"], r["date"]) for r in records] == [
        (15000, "credit", "2026-06-01"),
        (2550, "debit", "2026-06-02"),
        (2550, "debit", "2026-06-02"),
        (109999, "debit", "2026-06-03"),
    ]
    no_mapping = await client.post(
        "/v1/records/import",
        files={"file": ("statement.csv", content)},
        data=form("csv"),
        headers=auth,
    )
    assert no_mapping.status_code == 400
    assert no_mapping.json()["details"]["field"] == "mapping"


@pytest.mark.parametrize(
    ("files", "data", "field"),
    [
        ({"file": ("x.ofx", b"garbage")}, form("ofx"), "file"),
        ({"file": ("x.bin", b"garbage")}, form(None), "format"),
        ({"file": ("x.ofx", b"garbage")}, form("pdf"), "format"),
        ({"file": ("x.ofx", b"garbage")}, form("ofx", stream="ledger:cash"), "data_stream_key"),
        ({"other": ("x.ofx", b"garbage")}, form("ofx"), "file"),
    ],
)
async def test_bad_imports_are_400(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    files: dict[str, Any],
    data: dict[str, str],
    field: str,
) -> None:
    response = await client.post("/v1/records/import", files=files, data=data, headers=auth)
    assert response.status_code == 400, response.text
    assert response.json()["details"]["field"] == field


async def test_import_needs_multipart(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.post("/v1/records/import", json={"file": "x"}, headers=auth)
    assert response.status_code == 415


async def test_summary_as_of_and_known_at(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    a = await create(client, auth, date="2026-06-01")
    b = await create(client, auth, stream="psp", direction="debit", date="2026-06-01")
    await create(client, auth, amount=50, date="2026-06-20")
    made = (
        await client.post(
            "/v1/matches",
            json={"items": [{"record_id": a["id"]}, {"record_id": b["id"]}]},
            headers=auth,
        )
    ).json()
    now = (await client.get("/v1/reconciliation/summary", headers=auth)).json()
    assert now["reconciled"] == {"count": 2, "amount": 2000, "debits": 1000, "credits": 1000}
    assert now["unreconciled"]["count"] == 1
    bank = (
        await client.get(
            "/v1/reconciliation/summary?data_stream_key=bank&as_of=2026-06-10", headers=auth
        )
    ).json()
    assert (bank["reconciled"]["count"], bank["unreconciled"]["count"]) == (1, 0)
    before = (
        await client.get(
            f"/v1/reconciliation/summary?known_at={made['position'] - 1}", headers=auth
        )
    ).json()
    assert (before["reconciled"]["count"], before["unreconciled"]["count"]) == (0, 3)
    assert before["known_at"] == made["position"] - 1


async def test_the_schema_documents_the_routes(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    for path in (
        "/v1/records",
        "/v1/records/bulk",
        "/v1/records/import",
        "/v1/records/{record_id}",
        "/v1/matches",
        "/v1/matches/{match_id}",
        "/v1/reconciliation-runs",
        "/v1/reconciliation/summary",
    ):
        assert path in paths, path
    assert "409" in paths["/v1/matches"]["post"]["responses"]
    assert "422" in paths["/v1/matches"]["post"]["responses"]


async def test_a_record_id_that_is_not_ascii_digits_is_a_404(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    # "²".isdigit() is true, but it is no integer: int("²") raises.
    for text in ("²", "١٢", "0", "-1", str(2**63)):
        response = await client.get(f"/v1/records/{text}", headers=auth)
        assert response.status_code == 404, (text, response.text)
        assert response.json()["code"] == "NOT_FOUND"
