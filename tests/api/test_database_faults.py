"""Database faults over HTTP (issue 12, item 2; ``ledger.store.database.is_unavailable``).

A lost connection, a server that goes away or a statement that times out answers 503
``UNAVAILABLE`` with ``Retry-After``, on reads and writes, native and seed-compatible,
never 500; a write whose outcome is unknown is settled by retrying it with the same
idempotency key; nothing is lost or written twice. Real PostgreSQL throughout: faults are
made by ``pg_terminate_backend``, a held table lock under a short ``statement_timeout``,
and a proxy that cuts a connection at its COMMIT (``tests/pg_proxy.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import get
from litestar.params import FromPath

from ledger.api import create_app
from ledger.bootstrap import Services, open_services
from ledger.config import Settings
from tests.api.client import http_client
from tests.pg_proxy import PgProxy

SEED_PATH = "/external/v1/journal_entries/create/"
# Short enough that a request held by a lock is cancelled soon, long enough that nothing
# else a test does comes near it.
STATEMENT_TIMEOUT_SECONDS = 0.5
# How often a test looks again for a state it waits on (a backend waiting for a lock).
POLL_SECONDS = 0.01


# The errors a lost or timed-out database raised in the reproduction and in the tests below,
# as a route would let them through: each is a 503, a real bug stays a 500.
RAISED: dict[str, Exception] = {
    "closed-in-aexit": asyncpg.InterfaceError(
        "cannot call Transaction.__aexit__(): the underlying connection is closed"
    ),
    "statement-timeout": asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
    "disk-full": asyncpg.DiskFullError("could not extend file"),
    "refused": ConnectionRefusedError(111, "Connect call failed"),
    "pool-timeout": TimeoutError(),
    "bug": asyncpg.UndefinedColumnError('column "secret_detail" does not exist'),
}


@get("/test/raise/{name:str}")
async def raise_named(name: FromPath[str]) -> None:
    raise RAISED[name]


@asynccontextmanager
async def _serving(
    settings: Settings, *, run_projections: bool = False
) -> AsyncIterator[tuple[Services, httpx.AsyncClient]]:
    async with (
        open_services(settings, run_projections=run_projections) as services,
        http_client(create_app(settings, services=services)) as client,
    ):
        yield services, client


async def _tenant(services: Services) -> dict[str, str]:
    """Tenant ``acme-corp`` (SGD) with ledgers 5010 and 2100, as the seed's example needs."""
    key, _ = await services.tenants.create_tenant("acme-corp", "SGD", "Acme")
    tenant_id = await services.pool.fetchval(
        "SELECT tenant_id FROM tenants WHERE slug = $1", "acme-corp"
    )
    for code, name, kind in (("5010", "Rent", "expense"), ("2100", "Payables", "liability")):
        await services.ledgers.open_ledger(tenant_id, code=code, name=name, type=kind)
    return {"X-API-KEY": key.api_key}


def journal(amount: int = 1000) -> dict[str, Any]:
    return {
        "date": "2026-06-03",
        "entries": [
            {"ledger_code": "5010", "direction": "debit", "amount": amount},
            {"ledger_code": "2100", "direction": "credit", "amount": amount},
        ],
    }


def seed_entry(external_id: str) -> dict[str, Any]:
    return {
        "domain_url": "acme-corp",
        "date": "2026-06-03",
        "memo": "rent",
        "transactionCurrency": "SGD",
        "reportingCurrency": "SGD",
        "external_id": external_id,
        "entries": [
            {"account": "5010", "debit": "10.00", "credit": "0.00", "description": "Rent"},
            {"account": "2100", "debit": "0.00", "credit": "10.00", "description": "Payable"},
        ],
    }


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "UNAVAILABLE"
    assert int(response.headers["retry-after"]) >= 1


@asynccontextmanager
async def _locked(database_url: str, *tables: str) -> AsyncIterator[int]:
    """Hold ``tables`` locked (ACCESS EXCLUSIVE) in an open transaction; yields its pid."""
    conn = await asyncpg.connect(database_url)
    try:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
        yield conn.get_server_pid()
        await transaction.rollback()
    finally:
        await conn.close()


async def _counts(services: Services) -> tuple[int, int, int]:
    """(journals, distinct external ids, events) as stored."""
    row = await services.pool.fetchrow(
        "SELECT (SELECT count(*) FROM journals) AS journals,"
        " (SELECT count(DISTINCT external_id) FROM journals) AS keys,"
        " (SELECT count(*) FROM ledger_events) AS events"
    )
    assert row is not None
    return row["journals"], row["keys"], row["events"]


async def test_a_statement_timeout_is_503_on_reads_and_writes_native_and_seed(
    settings: Settings,
) -> None:
    settings = dataclasses.replace(settings, statement_timeout_seconds=STATEMENT_TIMEOUT_SECONDS)
    assert settings.database_url is not None
    async with _serving(settings) as (services, client):
        auth = await _tenant(services)
        before = await _counts(services)
        key = {**auth, "Idempotency-Key": "inv-1"}
        async with _locked(
            settings.database_url, "ledger_events", "ledgers", "journals", "journal_entries"
        ):
            ledgers = await client.get("/v1/ledgers", headers=auth)
            manual = await client.get("/v1/manual-journals/", headers=auth)
            posted = await client.post("/v1/journals", json=journal(), headers=key)
            seed = await client.post(SEED_PATH, json=seed_entry("ext-1"), headers=auth)

        for response in (ledgers, manual, posted, seed):
            assert_unavailable(response)
        assert seed.json()["status"] == "error"  # the seed's shape, with the native code
        assert seed.json()["status_code"] == 503
        # Nothing half-written; once the lock is gone, the same requests go through.
        assert await _counts(services) == before
        assert (await client.post("/v1/journals", json=journal(), headers=key)).status_code == 201
        assert (await client.post(SEED_PATH, json=seed_entry("ext-1"), headers=auth)).is_success
        assert (await client.get("/v1/manual-journals/", headers=auth)).status_code == 200


@pytest.mark.parametrize("committed", [True, False], ids=["commit-done", "commit-lost"])
async def test_a_write_cut_off_during_commit_is_503_and_its_retry_posts_it_once(
    settings: Settings, database_url: str, committed: bool
) -> None:
    proxy = PgProxy(database_url)
    await proxy.start()
    try:
        settings = dataclasses.replace(settings, database_url=proxy.url(database_url))
        async with _serving(settings) as (services, client):
            auth = await _tenant(services)
            key = {**auth, "Idempotency-Key": "inv-1"}

            cut = proxy.arm(deliver=committed)
            first = await client.post("/v1/journals", json=journal(), headers=key)
            assert cut.is_set()
            assert_unavailable(first)
            retry = await client.post("/v1/journals", json=journal(), headers=key)

            # Written by the first attempt: the retry replays it; else the retry writes it.
            assert retry.status_code == (200 if committed else 201), retry.text
            assert (retry.headers.get("Idempotent-Replayed") == "true") is committed
            assert retry.json()["number"] == "JE-000001"

            cut = proxy.arm(deliver=committed)
            seed_first = await client.post(SEED_PATH, json=seed_entry("ext-1"), headers=auth)
            assert cut.is_set()
            assert_unavailable(seed_first)
            seed_retry = await client.post(SEED_PATH, json=seed_entry("ext-1"), headers=auth)
            assert seed_retry.status_code == 200, seed_retry.text
            assert seed_retry.json()["data"]["journal_number"] == "JE-000002"

            journals, keys, _events = await _counts(services)
            assert (journals, keys) == (2, 2)
    finally:
        await proxy.close()


async def _until_a_backend_waits_for_a_lock(admin: asyncpg.Connection[Any]) -> None:
    while not await admin.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock')"
    ):
        await asyncio.sleep(POLL_SECONDS)


@pytest.mark.slow
async def test_every_connection_terminated_under_load_answers_only_2xx_or_503(
    settings: Settings, database_url: str
) -> None:
    """Posts in flight (one batch held in its append by a table lock) and reads in flight
    when every connection of the app is terminated: each answer is a 2xx or a 503 with
    Retry-After; the 503'd posts, retried with their keys, post; one journal per key."""
    posts_count, reads_count = 20, 10
    async with _serving(settings, run_projections=True) as (services, client):
        auth = await _tenant(services)
        admin = await asyncpg.connect(database_url)
        try:
            async with _locked(database_url, "ledger_events") as holder:
                posts = [
                    asyncio.ensure_future(
                        client.post(
                            "/v1/journals",
                            json=journal(100 + i),
                            headers={**auth, "Idempotency-Key": f"k{i}"},
                        )
                    )
                    for i in range(posts_count)
                ]
                await _until_a_backend_waits_for_a_lock(admin)
                reads = [
                    asyncio.ensure_future(client.get("/v1/ledgers", headers=auth))
                    for _ in range(reads_count)
                ]
                # The app's backends (pool, listener, projection runner): every one but
                # this connection and the lock's (chosen first: SQL need not evaluate a
                # WHERE clause's conditions in order).
                pids = await admin.fetchval(
                    "SELECT array_agg(pid) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid NOT IN (pg_backend_pid(), $1)",
                    holder,
                )
                terminated = await admin.fetchval(
                    "SELECT count(*) FROM unnest($1::int[]) AS p"
                    " WHERE pg_terminate_backend(p, 600000)",
                    pids,
                )
                # (A backend that ended by itself in between is not counted.)
                assert terminated >= 1
            answers = await asyncio.gather(*posts, *reads)
        finally:
            await admin.close()

        for answer in answers:
            assert answer.status_code in (200, 201, 503), answer.text
            if answer.status_code == 503:
                assert_unavailable(answer)
        for i, answer in enumerate(answers[:posts_count]):
            if answer.status_code == 503:
                again = await client.post(
                    "/v1/journals",
                    json=journal(100 + i),
                    headers={**auth, "Idempotency-Key": f"k{i}"},
                )
                assert again.status_code in (200, 201), again.text
        journals, keys, _events = await _counts(services)
        assert (journals, keys) == (posts_count, posts_count)
        numbers = await services.pool.fetchval(
            "SELECT array_agg(number ORDER BY number) FROM journals"
        )
        assert numbers == list(range(1, posts_count + 1))


@pytest.mark.parametrize("name", [n for n in RAISED if n != "bug"])
async def test_a_database_fault_from_any_route_is_503_and_a_bug_stays_500(
    settings: Settings, services: Services, name: str
) -> None:
    app = create_app(settings, services=services)
    app.register(raise_named)
    async with http_client(app) as client:
        assert_unavailable(await client.get(f"/test/raise/{name}"))
        bug = await client.get("/test/raise/bug")
    assert bug.status_code == 500
    assert "secret_detail" not in bug.text
