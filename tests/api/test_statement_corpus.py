"""The corpus of real statements through ``POST /v1/records/import``, twice.

For every file of ``tests/fixtures/statements/corpus``: the first import creates exactly the
manifest's lines (their stored count and signed sum per currency equal the file's), the
second creates nothing and finds them all, and a file that is not a statement is refused
with its manifest's 4xx — never a 5xx.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledger.commands.tenants import NewKey
from tests.statement_corpus import corpus_files, expected_sums, signed


@pytest.fixture
def auth(acme_key: NewKey) -> dict[str, str]:
    return {"X-API-KEY": acme_key.api_key}


async def _stored(client: httpx.AsyncClient, auth: dict[str, str], stream: str) -> list[Any]:
    records: list[Any] = []
    cursor = None
    while True:
        query = f"/v1/records?data_stream_key={stream}&limit=500"
        page = (
            await client.get(query + (f"&cursor={cursor}" if cursor else ""), headers=auth)
        ).json()
        records.extend(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return records


@pytest.mark.slow
async def test_every_corpus_file_imports_to_its_numbers_once(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    files = corpus_files()
    assert files
    for number, corpus_file in enumerate(files):
        stream = f"corpus-{number}"
        form = {"data_stream_key": stream, "format": corpus_file.format, "split_by_account": "true"}
        upload = {"file": (corpus_file.path.name, corpus_file.path.read_bytes())}
        first = await client.post("/v1/records/import", files=upload, data=form, headers=auth)
        refused = corpus_file.refused
        if refused is not None:
            assert first.status_code == refused["status"], (corpus_file.id, first.text)
            assert first.json()["code"] == refused["code"], corpus_file.id
            continue
        assert first.status_code == 200, (corpus_file.id, first.text)
        report = first.json()
        lines = corpus_file.entry["lines"]
        assert (report["created"], report["existing"], report["refused"]) == (lines, 0, 0), (
            corpus_file.id
        )
        assert report["skipped"] == corpus_file.entry.get("skipped", 0), corpus_file.id
        again = await client.post("/v1/records/import", files=upload, data=form, headers=auth)
        assert (again.json()["created"], again.json()["existing"]) == (0, lines), corpus_file.id
        sums: dict[str, Decimal] = {}
        count = 0
        for key in report["data_stream_keys"]:
            for record in await _stored(client, auth, key):
                count += 1
                currency = record["metadata"].get("currency", "?")
                sums[currency] = sums.get(currency, Decimal(0)) + signed(
                    record["amount"], record["direction"], record["decimal_places"]
                )
        assert count == lines, corpus_file.id
        assert {k: v for k, v in sums.items() if v} == expected_sums(corpus_file.entry), (
            corpus_file.id
        )
