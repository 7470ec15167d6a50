"""Opening the database: waiting for it at start-up, and the connection pool.

The database is a configured URL (``LEDGER_DATABASE_URL``) or the embedded PostgreSQL
(``ledger.store.embedded``). :func:`wait_for_database` is the one place start-up meets an
unreachable database: it retries what may heal and turns what will not into one line.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any, TypeAlias
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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


class DatabaseUnavailable(Exception):
    """The database could not be opened; ``str(self)`` is one line for the operator (what,
    where, why, what to check), with no password in it."""


# Failures that retrying will not heal: the server answered and refused.
_REFUSALS: tuple[type[BaseException], ...] = (
    asyncpg.InvalidPasswordError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidCatalogNameError,
)
# Failures that may heal: nothing listens yet, the name does not resolve yet, the server is
# starting up or out of connections, the network dropped the attempt.
_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
)


def redact_url(url: str) -> str:
    """``url`` without its password (in the user part or a ``password=`` parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}@{host}"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "password"], safe="/"
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _hint(error: BaseException) -> str:
    """What the operator should check for ``error``."""
    if isinstance(error, asyncpg.InvalidPasswordError):
        return "check the user and password in LEDGER_DATABASE_URL"
    if isinstance(error, asyncpg.InvalidAuthorizationSpecificationError):
        return "check the user in LEDGER_DATABASE_URL and the server's pg_hba.conf"
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return "create the database (createdb) or fix its name in LEDGER_DATABASE_URL"
    if isinstance(error, socket.gaierror):
        return "check the host name in LEDGER_DATABASE_URL"
    if isinstance(error, ConnectionRefusedError):
        return "check that PostgreSQL is running and the host and port in LEDGER_DATABASE_URL"
    if isinstance(error, asyncpg.CannotConnectNowError | asyncpg.TooManyConnectionsError):
        return "the server is starting, shutting down or out of connections; check its log"
    return "check that PostgreSQL is running and reachable (host, port, firewall)"


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if isinstance(error, asyncpg.PostgresError) else f"{type(error).__name__}: {text}"


async def wait_for_database(url: str, *, within: float) -> None:
    """Return once a connection to ``url`` opens; retry what may heal for ``within`` seconds.

    Each failed attempt logs one warning line. Backs off from
    ``limits.DATABASE_CONNECT_RETRY_FIRST_SECONDS`` doubling up to
    ``limits.DATABASE_CONNECT_RETRY_MAX_SECONDS``.

    Raises:
        DatabaseUnavailable: at once when the server refuses (wrong password or user, missing
            database), else when ``within`` seconds have passed without a connection.
    """
    where = redact_url(url)
    started = time.monotonic()
    pause = limits.DATABASE_CONNECT_RETRY_FIRST_SECONDS
    attempt = 0
    while True:
        attempt += 1
        left = within - (time.monotonic() - started)
        try:
            conn = await asyncpg.connect(
                url, timeout=max(min(limits.CONNECT_TIMEOUT_SECONDS, left), 1.0)
            )
        except _REFUSALS as e:
            raise DatabaseUnavailable(
                f"cannot open the database at {where}: {_reason(e)}; {_hint(e)}"
            ) from e
        except _TRANSIENT as e:
            left = within - (time.monotonic() - started)
            if left <= 0:
                raise DatabaseUnavailable(
                    f"cannot reach the database at {where} after {attempt} attempt(s) in"
                    f" {time.monotonic() - started:.0f} s: {_reason(e)}; {_hint(e)}"
                    " (LEDGER_DATABASE_CONNECT_TIMEOUT sets how long to wait)"
                ) from e
            pause = min(pause, left)
            log.warning(
                "database at %s not reachable (attempt %d): %s; retrying in %.1f s",
                where,
                attempt,
                _reason(e),
                pause,
            )
            await asyncio.sleep(pause)
            pause = min(pause * 2, limits.DATABASE_CONNECT_RETRY_MAX_SECONDS)
        else:
            await conn.close()
            if attempt > 1:
                log.info("database at %s reachable (attempt %d)", where, attempt)
            return
