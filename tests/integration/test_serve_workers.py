"""``ledger serve --workers N``: several server processes on one database.

Light on purpose: the processes start, serve writes concurrently, positions stay gap-free
and in commit order across them, and journal numbers stay gap-free per tenant.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.integration.test_cli import only_json, run_cli

START_SECONDS = 60.0
JOURNALS = 60
CLIENTS = 6


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_ready(client: httpx.AsyncClient, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert process.returncode is None, "ledger serve exited"
        try:
            if (await client.get("/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)  # polling for start-up, not ordering anything
    raise AssertionError("ledger serve --workers 2 was not ready in time")


@pytest.mark.slow
async def test_two_workers_serve_with_gap_free_positions(database_url: str, tmp_path: Path) -> None:
    created = run_cli(database_url, tmp_path, "tenant", "create", "acme", "--base-currency", "USD")
    assert created.returncode == 0, created.stderr
    headers = {"X-API-KEY": only_json(created.stdout)["api_key"]}
    port = _free_port()
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": database_url,
        "LEDGER_DATA_DIR": str(tmp_path),
        "LEDGER_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "serve.log").open("wb")  # read it when this test fails
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ledger.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        "2",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await _wait_ready(http, process)
            for code in ("cash", "sales"):
                opened = await http.post(
                    "/v1/ledgers",
                    json={"code": code, "name": code, "type": "asset"},
                    headers=headers,
                )
                assert opened.status_code == 201, opened.text

            async def post(index: int) -> None:
                # Separate connections, so both workers take requests.
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}", timeout=30
                ) as client:
                    for n in range(index, JOURNALS, CLIENTS):
                        answer = await client.post(
                            "/v1/journals",
                            json={
                                "date": "2026-01-02",
                                "reference": f"r{n}",
                                "entries": [
                                    {"ledger_code": "cash", "direction": "debit", "amount": 5},
                                    {"ledger_code": "sales", "direction": "credit", "amount": 5},
                                ],
                            },
                            headers=headers,
                        )
                        assert answer.status_code == 201, answer.text

            async with asyncio.TaskGroup() as group:
                for index in range(CLIENTS):
                    group.create_task(post(index))
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
        log.close()

    conn = await asyncpg.connect(database_url)
    try:
        positions = [
            r[0] for r in await conn.fetch("SELECT notification_id FROM ledger_events ORDER BY 1")
        ]
        assert positions == list(range(1, len(positions) + 1))
        numbers = [r[0] for r in await conn.fetch("SELECT number FROM journals ORDER BY number")]
        assert numbers == list(range(1, JOURNALS + 1))
    finally:
        await conn.close()
