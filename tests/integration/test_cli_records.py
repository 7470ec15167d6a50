"""``ledger records import``, run as a real subprocess against a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg

STATEMENTS = Path(__file__).parent.parent / "fixtures" / "statements"


def run(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "LEDGER_DATABASE_URL": database_url, "LEDGER_DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli_records", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )


def output(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout + done.stderr
    parsed: dict[str, Any] = json.loads(lines[0])
    return parsed


async def test_import_a_camt053_file_twice(database_url: str, tmp_path: Path) -> None:
    created = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "tenant", "create", "acme", "--base-currency", "EUR"],
        capture_output=True,
        text=True,
        env={**os.environ, "LEDGER_DATABASE_URL": database_url, "LEDGER_DATA_DIR": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    args = ("records", "import", str(STATEMENTS / "statement.camt053.xml"))
    first = run(database_url, tmp_path, *args, "--stream", "bank:de", "--tenant", "acme")
    assert first.returncode == 0, first.stderr
    report = output(first)
    assert {k: report[k] for k in ("tenant", "file", "data_stream_key", "format", "kind")} == {
        "tenant": "acme",
        "file": "statement.camt053.xml",
        "data_stream_key": "bank:de",
        "format": "camt053",
        "kind": "camt.053",
    }
    assert (report["created"], report["existing"], report["refused"]) == (4, 0, 0)
    assert (report["skipped_lines"], report["errors"]) == ([], [])
    again = run(database_url, tmp_path, *args, "--stream", "bank:de", "--tenant", "acme")
    assert (output(again)["created"], output(again)["existing"]) == (0, 4)
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM records") == 4
    finally:
        await conn.close()
    missing = run(database_url, tmp_path, *args, "--stream", "bank:de", "--tenant", "nobody")
    assert missing.returncode == 1
    assert "no tenant" in missing.stderr
    bad = run(
        database_url,
        tmp_path,
        "records",
        "import",
        str(STATEMENTS / "statement.ofx"),
        "--stream",
        "bank",
        "--tenant",
        "acme",
        "--format",
        "mt940",
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("ledger: statement.ofx: ")
    unreadable = run(
        database_url,
        tmp_path,
        "records",
        "import",
        str(tmp_path / "nope.ofx"),
        "--stream",
        "bank",
        "--tenant",
        "acme",
    )
    assert unreadable.returncode == 2
