"""A fresh tenant and ``ledger serve`` on a given database, for the standalone run and its test."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import httpx

START_SECONDS: Final = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ledger(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"ledger {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def _wait_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("ledger serve exited before it was ready")
        try:
            if httpx.get(f"{base_url}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # polling for start-up, not ordering anything
    raise SystemExit("ledger serve was not ready in time")


@contextmanager
def served(database_url: str) -> Iterator[tuple[str, str]]:
    """A fresh tenant and ``ledger serve`` on ``database_url``: (base URL, API key)."""
    with tempfile.TemporaryDirectory(prefix="ledger-fuzz-") as data_dir:
        env = {
            **os.environ,
            "LEDGER_DATABASE_URL": database_url,
            "LEDGER_DATA_DIR": data_dir,
            "LEDGER_LOG_LEVEL": "WARNING",
        }
        _ledger(env, "migrate")
        slug = f"fuzz-{uuid.uuid4().hex[:8]}"
        created = _ledger(env, "tenant", "create", slug, "--base-currency", "USD")
        api_key = str(json.loads(created.strip().splitlines()[-1])["api_key"])
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        log_path = Path(data_dir) / "serve.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "ledger.cli", "serve", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_ready(base_url, process)
                yield base_url, api_key
            finally:
                process.terminate()
                process.wait(timeout=30)
        sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
