"""The ``ledger`` CLI, run as a real subprocess against a real database (docs/api.md §2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg

from ledger.queries.tenants import authenticate


def run_cli(
    database_url: str, tmp_path: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "LEDGER_DATABASE_URL": database_url,
        "LEDGER_DATA_DIR": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )


def only_json(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout
    parsed: dict[str, Any] = json.loads(lines[0])
    return parsed


async def test_tenant_create_prints_slug_and_a_working_key(
    database_url: str, tmp_path: Path
) -> None:
    done = run_cli(
        database_url,
        tmp_path,
        "tenant",
        "create",
        "acme",
        "--base-currency",
        "EUR",
        "--name",
        "Acme",
    )
    assert done.returncode == 0, done.stderr
    out = only_json(done.stdout)
    assert set(out) == {"tenant", "api_key"}
    assert out["tenant"] == "acme"
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        tenant = await authenticate(pool, out["api_key"])
    finally:
        await pool.close()
    assert tenant is not None
    assert (tenant.slug, tenant.name, tenant.base_currency) == ("acme", "Acme", "EUR")


async def test_tenant_create_twice_fails_with_a_clear_message(
    database_url: str, tmp_path: Path
) -> None:
    assert (
        run_cli(
            database_url, tmp_path, "tenant", "create", "acme", "--base-currency", "USD"
        ).returncode
        == 0
    )
    again = run_cli(database_url, tmp_path, "tenant", "create", "acme", "--base-currency", "USD")
    assert again.returncode == 1
    assert "acme" in again.stderr
    assert "exists" in again.stderr
    assert again.stdout == ""


async def test_tenant_create_rejects_an_unknown_base_currency(
    database_url: str, tmp_path: Path
) -> None:
    done = run_cli(database_url, tmp_path, "tenant", "create", "acme", "--base-currency", "XYZ")
    assert done.returncode == 1
    assert "ISO 4217" in done.stderr


async def test_key_create_then_revoke(database_url: str, tmp_path: Path) -> None:
    assert (
        run_cli(
            database_url, tmp_path, "tenant", "create", "acme", "--base-currency", "USD"
        ).returncode
        == 0
    )
    created = run_cli(database_url, tmp_path, "key", "create", "acme")
    assert created.returncode == 0, created.stderr
    key = only_json(created.stdout)
    assert set(key) == {"tenant", "key_id", "api_key"}
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        assert await authenticate(pool, key["api_key"]) is not None
        revoked = run_cli(database_url, tmp_path, "key", "revoke", key["key_id"])
        assert revoked.returncode == 0, revoked.stderr
        assert await authenticate(pool, key["api_key"]) is None
    finally:
        await pool.close()


async def test_key_create_for_an_unknown_tenant_fails(database_url: str, tmp_path: Path) -> None:
    done = run_cli(database_url, tmp_path, "key", "create", "nobody")
    assert done.returncode == 1
    assert "nobody" in done.stderr


async def test_key_revoke_of_an_unknown_key_fails(database_url: str, tmp_path: Path) -> None:
    done = run_cli(database_url, tmp_path, "key", "revoke", "00000000-0000-0000-0000-000000000001")
    assert done.returncode == 1
    bad = run_cli(database_url, tmp_path, "key", "revoke", "not-a-uuid")
    assert bad.returncode == 2


async def test_bad_configuration_is_reported_with_the_variable_name(
    database_url: str, tmp_path: Path
) -> None:
    done = run_cli(database_url, tmp_path, "migrate", LEDGER_PORT="eighty")
    assert done.returncode == 2
    assert "LEDGER_PORT" in done.stderr


async def test_migrate_is_safe_to_run_twice(database_url: str, tmp_path: Path) -> None:
    first = run_cli(database_url, tmp_path, "migrate")
    second = run_cli(database_url, tmp_path, "migrate")
    assert first.returncode == second.returncode == 0
    assert only_json(first.stdout) == only_json(second.stdout)
