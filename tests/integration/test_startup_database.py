"""Start-up against a configured database (issue 12, item 6).

No demo tenant and no key in the log unless the database is the embedded one; a database
that cannot be opened is retried while that may help, then one line on stderr and exit 69.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest

from ledger.cli import EXIT_DATABASE_UNAVAILABLE
from ledger.store.database import DatabaseUnavailable, wait_for_database
from tests.conftest import with_database
from tests.integration.test_cli import run_cli

HEALTH_ATTEMPTS = 600
HEALTH_PAUSE_SECONDS = 0.1
# Commands that open the database, each by its own path (services, or a migrated URL).
OPENING_COMMANDS = [
    ("migrate",),
    ("tenant", "create", "acme", "--base-currency", "USD"),
    ("projections", "status"),
    ("audit", "verify"),
]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _assert_one_line_failure(completed: subprocess.CompletedProcess[str], starts: str) -> str:
    """The command failed with exit 69 and a single final line (after any log lines)."""
    assert completed.returncode == EXIT_DATABASE_UNAVAILABLE, completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr
    lines = completed.stderr.splitlines()
    assert lines[-1].startswith(starts), completed.stderr
    # Everything before the last line is a log line (one per attempt).
    assert all(" WARNING " in line or " INFO " in line for line in lines[:-1]), completed.stderr
    return lines[-1]


@pytest.mark.parametrize("command", OPENING_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_closed_port_is_retried_then_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    port = _closed_port()
    url = f"postgresql://ledger:s3cret@127.0.0.1:{port}/ledger"
    completed = run_cli(url, tmp_path, *command, LEDGER_DATABASE_CONNECT_TIMEOUT="1")
    where = f"postgresql://ledger@127.0.0.1:{port}/ledger"
    line = _assert_one_line_failure(completed, f"ledger: cannot reach the database at {where}")
    assert "ConnectionRefusedError" in line
    assert "check that PostgreSQL is running" in line
    assert "LEDGER_DATABASE_CONNECT_TIMEOUT" in line
    assert "not reachable (attempt 1)" in completed.stderr
    assert "s3cret" not in completed.stderr


def test_serve_with_a_closed_port_is_one_line(tmp_path: Path) -> None:
    url = f"postgresql://ledger@127.0.0.1:{_closed_port()}/ledger"
    completed = run_cli(url, tmp_path, "serve", LEDGER_DATABASE_CONNECT_TIMEOUT="0")
    _assert_one_line_failure(completed, "ledger: cannot reach the database at")


def test_a_host_that_does_not_resolve_is_one_line(tmp_path: Path) -> None:
    url = "postgresql://ledger@no-such-host.invalid:5432/ledger"
    completed = run_cli(url, tmp_path, "migrate", LEDGER_DATABASE_CONNECT_TIMEOUT="0")
    line = _assert_one_line_failure(completed, "ledger: cannot reach the database at")
    assert "check the host name in LEDGER_DATABASE_URL" in line


def test_a_missing_database_fails_at_once(server_url: str, tmp_path: Path) -> None:
    url = with_database(server_url, "ledger_no_such_database")
    completed = run_cli(url, tmp_path, "migrate")  # the default wait: 30 s, never used
    line = _assert_one_line_failure(completed, "ledger: cannot open the database at")
    assert 'database "ledger_no_such_database" does not exist' in line
    assert "create the database" in line
    assert "attempt" not in completed.stderr  # not retried


def test_an_unknown_user_fails_at_once(server_url: str, tmp_path: Path) -> None:
    parts = urlsplit(server_url)
    url = parts._replace(netloc=f"ledger_nobody:pw@{parts.netloc.rpartition('@')[2]}").geturl()
    completed = run_cli(url, tmp_path, "tenant", "create", "acme", "--base-currency", "USD")
    line = _assert_one_line_failure(completed, "ledger: cannot open the database at")
    assert "ledger_nobody" in line
    assert ":pw@" not in completed.stderr
    assert "attempt" not in completed.stderr


class _Attempts(logging.Handler):
    """Sets an event when ``wait_for_database`` logs a failed attempt."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "not reachable" in record.getMessage():
            self.failed.set()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def _proxy(port: int, server_url: str) -> AsyncIterator[None]:
    """A TCP proxy on ``port`` to the test server (TCP or the embedded server's socket)."""
    target = urlsplit(server_url)
    socket_dir = parse_qs(target.query).get("host", [""])[0]

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if socket_dir:
            path = f"{socket_dir}/.s.PGSQL.{target.port or 5432}"
            up_reader, up_writer = await asyncio.open_unix_connection(path)
        else:
            up_reader, up_writer = await asyncio.open_connection(
                target.hostname, target.port or 5432
            )
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(forward, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()


async def test_the_wait_ends_when_the_database_comes_up(server_url: str) -> None:
    port = _closed_port()
    parts = urlsplit(server_url)
    user = parts.username or "postgres"
    url = f"postgresql://{user}@127.0.0.1:{port}{parts.path}"
    attempts = _Attempts()
    logger = logging.getLogger("ledger.store.database")
    logger.addHandler(attempts)
    try:
        waiting = asyncio.create_task(wait_for_database(url, within=600))
        await attempts.failed.wait()  # the database is down: at least one attempt failed
        assert not waiting.done()
        async with _proxy(port, server_url):
            await waiting  # ... and the wait ends once it is up
    finally:
        logger.removeHandler(attempts)


async def test_the_wait_gives_up_after_its_time() -> None:
    url = f"postgresql://ledger@127.0.0.1:{_closed_port()}/ledger"
    with pytest.raises(DatabaseUnavailable, match=r"after \d+ attempt\(s\)"):
        await wait_for_database(url, within=0)


@pytest.mark.slow
async def test_serve_on_a_configured_database_creates_no_demo_tenant(
    database_url: str, tmp_path: Path
) -> None:
    port = _closed_port()
    env = {**os.environ, "LEDGER_DATABASE_URL": database_url, "LEDGER_DATA_DIR": str(tmp_path)}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", "serve", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        try:
            for _ in range(HEALTH_ATTEMPTS):
                assert process.poll() is None, log.read_text()
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200:
                        break
                time.sleep(HEALTH_PAUSE_SECONDS)  # polling for start-up, not ordering anything
            else:
                raise AssertionError("ledger serve was not ready in time")
            process.send_signal(signal.SIGTERM)
            process.wait(60)
        finally:
            process.kill()
    text = log.read_text()
    assert "API key" not in text
    assert "ldg_" not in text
    assert "ledger tenant create" in text  # what to do instead
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM tenants") == 0
    finally:
        await conn.close()
