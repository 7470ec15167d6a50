"""``ledger projections rebuild`` while the API serves: no request fails, no balance read is
wrong, before, during or after the swap (the rebuild runs as the real CLI, in a subprocess)."""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import sys
from pathlib import Path

import httpx
import pytest

from ledger.bootstrap import Services
from ledger.commands.tenants import NewKey
from tests.projections.helpers import fresh_replay_differences

AS_OF = "2026-12-31"


def _journal(amount: int) -> dict[str, object]:
    return {
        "date": "2026-06-01",
        "entries": [
            {"ledger_code": "cash", "direction": "debit", "amount": amount},
            {"ledger_code": "rev", "direction": "credit", "amount": amount},
        ],
    }


@pytest.mark.slow
async def test_rebuild_while_the_api_serves(
    client: httpx.AsyncClient,
    acme_key: NewKey,
    services: Services,
    database_url: str,
    server_url: str,
    tmp_path: Path,
) -> None:
    headers = {"X-API-KEY": acme_key.api_key}
    for code, kind in (("cash", "asset"), ("rev", "income")):
        opened = await client.post(
            "/v1/ledgers", headers=headers, json={"code": code, "name": code, "type": kind}
        )
        assert opened.status_code == 201
    cash = (await client.get("/v1/ledgers", headers=headers, params={"code": "cash"})).json()
    cash_id = cash["data"][0]["id"]
    total = 0
    for batch in range(12):
        bulk = await client.post(
            "/v1/journals/bulk",
            headers=headers,
            json={"journals": [_journal(batch * 100 + i + 1) for i in range(100)]},
        )
        assert bulk.status_code == 200
        total += sum(batch * 100 + i + 1 for i in range(100))
    # (position, cash balance after it), one per write, in order.
    history = [(await services.store.max_position(), total)]
    samples: list[tuple[str, int, int]] = []  # (what, Ledger-Position, value read)
    failures: list[str] = []

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ledger.cli",
        "projections",
        "rebuild",
        "--batch-events",
        "100",
        env={**os.environ, "LEDGER_DATABASE_URL": database_url, "LEDGER_DATA_DIR": str(tmp_path)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    done = asyncio.create_task(process.communicate())

    async def balance(params: dict[str, int]) -> tuple[int, int]:
        response = await client.get(
            f"/v1/ledgers/{cash_id}/balances", headers=headers, params={"as_of": AS_OF, **params}
        )
        if response.status_code != 200:
            failures.append(f"balances {response.status_code} {response.text}")
            return -1, -1
        return int(response.headers["ledger-position"]), response.json()["balances"][0]["posted"]

    async def trial(params: dict[str, int]) -> tuple[int, int]:
        response = await client.get(
            "/v1/trial-balance", headers=headers, params={"as_of": AS_OF, **params}
        )
        if response.status_code != 200:
            failures.append(f"trial balance {response.status_code} {response.text}")
            return -1, -1
        totals = response.json()["totals"]
        if totals["debits"] != totals["credits"]:
            failures.append(f"unequal totals {totals}")
        return int(response.headers["ledger-position"]), totals["debits"]

    async def writer() -> None:
        nonlocal total
        amount = 1
        while not done.done():
            posted = await client.post("/v1/journals", headers=headers, json=_journal(amount))
            if posted.status_code != 201:
                failures.append(f"post {posted.status_code} {posted.text}")
                continue
            total += amount
            position = posted.json()["position"]
            history.append((position, total))
            # Read-your-writes holds throughout, exactly.
            for read in (balance, trial):
                _, value = await read({"min_position": position})
                if value != total:
                    failures.append(f"{read.__name__} at {position}: {value} != {total}")
            amount += 1

    async def reader() -> None:
        while not done.done():
            for read in (balance, trial):
                position, value = await read({})
                samples.append((read.__name__, position, value))
            await asyncio.sleep(0)

    await asyncio.gather(writer(), reader(), reader())
    stdout, stderr = await done
    assert process.returncode == 0, stderr.decode()
    report = json.loads(stdout)
    assert "books" in report["rebuilt"]
    assert "trial_balance" in report["rebuilt"]
    assert failures == []
    assert len(history) > 5

    # Every value read without min_position is the balance at some position at or after
    # the one the response claimed to reflect.
    positions = [p for p, _ in history]
    totals = [t for _, t in history]
    for what, position, value in samples:
        index = bisect.bisect_right(positions, position) - 1
        assert index >= 0, (what, position)
        assert value in totals[index:], (what, position, value, history[index])

    _, final = await balance({"min_position": history[-1][0]})
    assert final == total
    assert (await trial({"min_position": history[-1][0]}))[1] == total
    assert await fresh_replay_differences(services, server_url) == {}
