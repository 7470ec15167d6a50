"""The embedded PostgreSQL stops with ``ledger serve`` on every way out (issue 12, item 5).

Each test runs ``ledger serve`` as a real process on a data directory of its own (so its own
embedded server), waits for ``/health``, ends it one way or another, waits for it to exit and
then checks the data directory: no ``postmaster.pid`` left, and the server process that
``postmaster.pid`` named while it ran is gone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.store.embedded import USERS_FILE, pgdata_of, postmaster_pid, process_alive

pytestmark = pytest.mark.slow

# /health polls while a server starts (initdb, migrations): bounded, not a clock.
HEALTH_ATTEMPTS = 1_200
HEALTH_PAUSE_SECONDS = 0.1
EXIT_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DATABASE_URL"}
    return {**env, "LEDGER_DATA_DIR": str(data_dir), "LEDGER_LOG_LEVEL": "INFO"}


def _ledger(data_dir: Path, *args: str) -> subprocess.Popen[bytes]:
    log = (data_dir / "ledger.log").open("ab")  # read it when a test fails
    return subprocess.Popen(
        [sys.executable, "-m", "ledger.cli", *args],
        env=_environment(data_dir),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


def _serve(data_dir: Path, port: int, *args: str) -> subprocess.Popen[bytes]:
    return _ledger(data_dir, "serve", "--port", str(port), *args)


def _wait_healthy(process: subprocess.Popen[bytes], port: int) -> None:
    for _ in range(HEALTH_ATTEMPTS):
        assert process.poll() is None, "ledger serve exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(HEALTH_PAUSE_SECONDS)  # polling for start-up, not ordering anything
    raise AssertionError("ledger serve was not healthy in time")


def _running_postgres(data_dir: Path) -> int:
    pid = postmaster_pid(pgdata_of(data_dir))
    assert pid is not None, "no postmaster.pid"
    assert process_alive(pid), "no embedded PostgreSQL is running"
    return pid


def _assert_stopped(data_dir: Path, pid: int) -> None:
    assert postmaster_pid(pgdata_of(data_dir)) is None, "postmaster.pid left behind"
    assert not process_alive(pid), f"embedded PostgreSQL {pid} still running"


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory whose embedded server is shut down even when the test fails.

    Under the system's temporary directory, not pytest's: run as root, the embedded server
    runs as another user, who must be able to traverse every parent directory, and pytest
    keeps its own base directory private (and other pytest sessions reset it).
    """
    with tempfile.TemporaryDirectory(prefix="ledger-lifecycle-") as directory:
        path = Path(directory)
        try:
            yield path
        finally:
            pid = postmaster_pid(pgdata_of(path))
            if pid is not None and process_alive(pid):
                os.kill(pid, signal.SIGQUIT)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_stops_the_embedded_server(data_dir: Path, signum: signal.Signals) -> None:
    port = _free_port()
    process = _serve(data_dir, port)
    try:
        _wait_healthy(process, port)
        pid = _running_postgres(data_dir)
        process.send_signal(signum)
        # A graceful shutdown, the server's stop, then the end the signal itself would give.
        assert process.wait(EXIT_SECONDS) == -signum
    finally:
        process.kill()
    _assert_stopped(data_dir, pid)
    # Still the developer's first start: the demo tenant and its key (embedded database).
    assert "Its API key" in (data_dir / "ledger.log").read_text()


def test_a_signal_during_start_up_stops_the_embedded_server(data_dir: Path) -> None:
    port = _free_port()
    process = _serve(data_dir, port)
    try:
        # As soon as the server exists: ledger is still starting it, migrating or starting
        # uvicorn, wherever the signal lands.
        for _ in range(HEALTH_ATTEMPTS):
            assert process.poll() is None, "ledger serve exited"
            pid = postmaster_pid(pgdata_of(data_dir))
            if pid is not None:
                break
            time.sleep(HEALTH_PAUSE_SECONDS / 10)  # polling for the file, not ordering
        else:
            raise AssertionError("the embedded server never started")
        process.send_signal(signal.SIGTERM)
        assert process.wait(EXIT_SECONDS) == -signal.SIGTERM
    finally:
        process.kill()
    _assert_stopped(data_dir, pid)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_with_workers_the_parent_stops_the_embedded_server(
    data_dir: Path, signum: signal.Signals
) -> None:
    port = _free_port()
    process = _serve(data_dir, port, "--workers", "2")
    try:
        _wait_healthy(process, port)
        pid = _running_postgres(data_dir)
        process.send_signal(signum)
        assert process.wait(EXIT_SECONDS) == 0
    finally:
        process.kill()
    _assert_stopped(data_dir, pid)


def test_a_failed_start_stops_the_embedded_server(data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _serve(data_dir, port)
        try:
            # The server started and migrated, then the HTTP port could not be bound.
            assert process.wait(EXIT_SECONDS) != 0
        finally:
            process.kill()
    assert "embedded PostgreSQL stopped" in (data_dir / "ledger.log").read_text()
    assert postmaster_pid(pgdata_of(data_dir)) is None


def test_a_short_command_stops_the_server_it_started(data_dir: Path) -> None:
    process = _ledger(data_dir, "migrate")
    assert process.wait(EXIT_SECONDS) == 0
    assert "embedded PostgreSQL stopped" in (data_dir / "ledger.log").read_text()
    assert postmaster_pid(pgdata_of(data_dir)) is None


def test_a_short_command_leaves_the_server_to_the_running_service(data_dir: Path) -> None:
    port = _free_port()
    process = _serve(data_dir, port)
    try:
        _wait_healthy(process, port)
        pid = _running_postgres(data_dir)
        assert _ledger(data_dir, "migrate").wait(EXIT_SECONDS) == 0
        assert process_alive(pid)
        assert httpx.get(f"http://127.0.0.1:{port}/ready", timeout=30).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(EXIT_SECONDS) == -signal.SIGTERM
    finally:
        process.kill()
    _assert_stopped(data_dir, pid)


def test_after_sigkill_the_next_start_adopts_the_orphan_and_stops_it(data_dir: Path) -> None:
    port = _free_port()
    first = _serve(data_dir, port)
    try:
        _wait_healthy(first, port)
        orphan = _running_postgres(data_dir)
        first.kill()  # SIGKILL: nothing can run, the server is orphaned
        first.wait(EXIT_SECONDS)
    finally:
        first.kill()
    assert process_alive(orphan)
    users = json.loads((pgdata_of(data_dir) / USERS_FILE).read_text())
    assert first.pid in users  # the stale entry that used to keep every later exit from stopping

    second = _serve(data_dir, port)
    try:
        _wait_healthy(second, port)
        assert _running_postgres(data_dir) == orphan  # adopted, not a second server
        second.send_signal(signal.SIGTERM)
        assert second.wait(EXIT_SECONDS) == -signal.SIGTERM
    finally:
        second.kill()
    _assert_stopped(data_dir, orphan)
