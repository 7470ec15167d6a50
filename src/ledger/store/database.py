"""Opening the database, and which of its failures mean "unavailable".

The database is a configured URL (``LEDGER_DATABASE_URL``) or the embedded PostgreSQL
(``ledger.store.embedded``). :func:`wait_for_database` is the one place start-up meets an
unreachable database: it retries what may heal and turns what will not into one line.

:func:`is_unavailable` is the one rule for telling a database fault (the server or the
connection is gone, busy, out of resources, or a statement ran out of time: retrying later
can succeed) from a bug; the API answers the first 503 ``UNAVAILABLE`` and the group
committer retries it (``ledger.store.group_commit``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any, Final, TypeAlias
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
