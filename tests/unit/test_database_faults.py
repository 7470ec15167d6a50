"""Which database errors are faults (503, retried by the group committer) and which are bugs
(``ledger.store.database.is_unavailable``, the one rule)."""

from __future__ import annotations

import asyncpg
import pytest

from ledger.store.database import is_unavailable

FAULTS = [
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.ConnectionFailureError("connection failure"),  # 08006
    asyncpg.CannotConnectNowError("the database system is starting up"),  # 57P03
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.CrashShutdownError("terminating connection due to crash of another process"),
    asyncpg.QueryCanceledError("canceling statement due to statement timeout"),  # 57014
    asyncpg.DiskFullError("could not extend file: No space left on device"),  # 53100
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),  # 53300
    asyncpg.OutOfMemoryError("out of memory"),  # 53200
    asyncpg.LockNotAvailableError("canceling statement due to lock timeout"),  # 55P03
    asyncpg.InterfaceError(
        "cannot call Transaction.__aexit__(): the underlying connection is closed"
    ),
    asyncpg.InterfaceError("connection is closed"),
    asyncpg.InterfaceError(
        "cannot call Connection.fetchval(): connection has been released back to the pool"
    ),
    asyncpg.InterfaceError("pool is closing"),
    ConnectionRefusedError(111, "Connect call failed"),
    ConnectionResetError(104, "Connection reset by peer"),
    OSError("Multiple exceptions: [Errno 111] Connect call failed"),
    TimeoutError(),  # waiting for a pooled connection, or asyncpg's own command timeout
]

BUGS = [
    asyncpg.UniqueViolationError("duplicate key value"),
    asyncpg.UndefinedTableError('relation "x" does not exist'),
    asyncpg.PostgresSyntaxError("syntax error"),
    asyncpg.CheckViolationError("new row violates check constraint"),
    asyncpg.SerializationError("could not serialize access"),
    asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
    asyncpg.DataError("invalid input for query argument $1"),
    RuntimeError("connection is closed"),  # the words alone are not enough
    ValueError("bad"),
]


@pytest.mark.parametrize("error", FAULTS, ids=repr)
def test_faults_are_unavailable(error: BaseException) -> None:
    assert is_unavailable(error)


@pytest.mark.parametrize("error", BUGS, ids=repr)
def test_other_errors_are_not(error: BaseException) -> None:
    assert not is_unavailable(error)


def test_an_interface_error_raised_while_handling_a_fault_is_one() -> None:
    # e.g. a rollback in ``__aexit__`` that fails because the server went away: Python sets
    # ``__context__`` to the fault being handled.
    error = asyncpg.InterfaceError("cannot perform operation")
    assert not is_unavailable(error)
    error.__context__ = asyncpg.AdminShutdownError("terminating connection")
    assert is_unavailable(error)
