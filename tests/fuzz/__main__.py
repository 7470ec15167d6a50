"""``python -m tests.fuzz``: run the schemathesis scenario standalone; exit 1 on any failure.

Against a running service::

    python -m tests.fuzz --base-url http://127.0.0.1:8000 --api-key KEY [--cases 10000]

Or let it start one: ``--database-url postgresql://...`` (an existing database, migrated here)
creates a tenant with ``ledger tenant create``, starts ``ledger serve`` on a free port, runs
the scenario and stops the server.
"""

from __future__ import annotations

import argparse
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

from tests.fuzz.scenario import DEFAULT_CASES, run_fuzz

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--base-url", help="a running service, e.g. http://127.0.0.1:8000")
    parser.add_argument("--api-key", help="a key of a tenant the run may write to")
    parser.add_argument("--database-url", help="start `ledger serve` on this database instead")
    parser.add_argument(
        "--cases",
        type=int,
        default=DEFAULT_CASES,
        help="at least this many random cases (default 2000)",
    )
    parser.add_argument(
        "--no-coverage",
        action="store_true",
        help="skip schemathesis' coverage phase (about 3,000 fixed cases before the random ones)",
    )
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    args = parser.parse_args(argv)

    def progress(line: str) -> None:
        print(line, flush=True)

    if args.database_url:
        with served(args.database_url) as (base_url, api_key):
            report = run_fuzz(
                base_url,
                api_key,
                cases=args.cases,
                coverage=not args.no_coverage,
                seed=args.seed,
                progress=progress,
            )
    elif args.base_url and args.api_key:
        report = run_fuzz(
            args.base_url,
            args.api_key,
            cases=args.cases,
            coverage=not args.no_coverage,
            seed=args.seed,
            progress=progress,
        )
    else:
        parser.error("give --base-url and --api-key, or --database-url")
    print(report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
