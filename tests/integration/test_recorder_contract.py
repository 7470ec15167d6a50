"""eventsourcing's own recorder test cases, run against our store.

``AsyncpgApplicationRecorder`` is a synchronous ``ApplicationRecorder`` over our asyncpg
code (``append_stored_events`` and plain reads of ``ledger_events``), run on a private event
loop in a background thread. Passing the library's cases shows that the log behaves as
eventsourcing expects of an application sequence: atomic inserts, version conflicts as
``IntegrityError``, contiguous notification ids from 1, and no interleaving of concurrent
inserts.

Each test case gets a fresh database cloned from the session's migrated template. The cases
are ``unittest.TestCase`` classes, so an autouse fixture hands them the server's URL and the
template's name through a module-level holder.
"""

from __future__ import annotations

import asyncio
import threading
import unittest
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from uuid import UUID

import asyncpg
import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    IntegrityError,
    Notification,
    StoredEvent,
    Subscription,
)
from eventsourcing.tests import persistence as es_cases

from ledger.store.database import create_pool
from ledger.store.event_store import append_stored_events
from tests.store_helpers import (
    create_database,
    drop_database,
    scratch_database_name,
    with_database,
)

T = TypeVar("T")


class _LoopThread:
    """An event loop of its own in a daemon thread: sync callers run coroutines on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="recorder-loop", daemon=True
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


def _run_once(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to the end on a short-lived loop thread (never the test's own loop)."""
    runner = _LoopThread()
    try:
        return runner.run(coro)
    finally:
        runner.close()


_SELECT = (
    "SELECT notification_id, originator_id, originator_version, topic, state FROM ledger_events"
)


class AsyncpgApplicationRecorder(ApplicationRecorder):
    """eventsourcing's ``ApplicationRecorder`` interface over our asyncpg store."""

    def __init__(self, database_url: str, *, pool_size: int = 12) -> None:
        self._runner = _LoopThread()
        self._pool = self._runner.run(create_pool(database_url, min_size=1, max_size=pool_size))

    def close(self) -> None:
        self._runner.run(self._pool.close())
        self._runner.close()

    # -- writing -------------------------------------------------------------------------

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        return self._runner.run(self._insert(list(stored_events)))

    async def _insert(self, events: list[StoredEvent]) -> list[int]:
        try:
            async with self._pool.acquire() as proxy, proxy.transaction():
                conn = cast("asyncpg.Connection[Any]", proxy)
                outcome = await append_stored_events(conn, events, [None] * len(events))
        except asyncpg.UniqueViolationError as e:  # a version twice within this call
            raise IntegrityError(str(e)) from e
        if outcome.first_position is None:
            clashes = [
                (events[i].originator_id, events[i].originator_version) for i in outcome.conflicts
            ]
            raise IntegrityError(f"versions exist already: {clashes}")
        return list(range(outcome.first_position, outcome.first_position + len(events)))

    # -- reading -------------------------------------------------------------------------

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        sql = "SELECT originator_id, originator_version, topic, state FROM ledger_events"
        params: list[Any] = [originator_id]
        sql += " WHERE originator_id = $1"
        if gt is not None:
            params.append(gt)
            sql += f" AND originator_version > ${len(params)}"
        if lte is not None:
            params.append(lte)
            sql += f" AND originator_version <= ${len(params)}"
        sql += " ORDER BY originator_version" + (" DESC" if desc else "")
        if limit is not None:
            params.append(limit)
            sql += f" LIMIT ${len(params)}"
        rows = self._runner.run(self._pool.fetch(sql, *params))
        return [
            StoredEvent(
                originator_id=r["originator_id"],
                originator_version=r["originator_version"],
                topic=r["topic"],
                state=bytes(r["state"]),
            )
            for r in rows
        ]

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        conditions: list[str] = []
        params: list[Any] = []
        if start is not None:
            params.append(start)
            conditions.append(f"notification_id {'>=' if inclusive_of_start else '>'} $1")
        if stop is not None:
            params.append(stop)
            conditions.append(f"notification_id <= ${len(params)}")
        if topics:
            params.append(list(topics))
            conditions.append(f"topic = ANY(${len(params)}::text[])")
        params.append(limit)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = f"{_SELECT}{where} ORDER BY notification_id LIMIT ${len(params)}"
        rows = self._runner.run(self._pool.fetch(sql, *params))
        return [
            Notification(
                id=r["notification_id"],
                originator_id=r["originator_id"],
                originator_version=r["originator_version"],
                topic=r["topic"],
                state=bytes(r["state"]),
            )
            for r in rows
        ]

    def max_notification_id(self) -> int | None:
        value = self._runner.run(
            self._pool.fetchval("SELECT max(notification_id) FROM ledger_events")
        )
        return None if value is None else int(value)

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        raise NotImplementedError("the ledger's event feed is not this recorder's job")


class AsyncpgAggregateRecorder(AsyncpgApplicationRecorder):
    """The same store seen as an ``AggregateRecorder`` (whose inserts return nothing)."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super().insert_events(stored_events, **kwargs)


# --- wiring the unittest cases to the session's PostgreSQL --------------------------------


@dataclass
class _Server:
    url: str = ""
    template: str = ""


_server = _Server()
R = TypeVar("R", bound=AsyncpgApplicationRecorder)


@pytest.fixture(autouse=True)
def _server_for_unittest_cases(server_url: str, template_database: str) -> None:
    _server.url = server_url
    _server.template = template_database


def _fresh_recorder(case: unittest.TestCase, recorder_class: type[R]) -> R:
    """A recorder on a new migrated database, closed and dropped when ``case`` ends."""
    assert _server.url, "the autouse fixture sets the server first"
    server_url, name = _server.url, scratch_database_name("ledger_rec")
    _run_once(create_database(server_url, name, template=_server.template))
    case.addCleanup(lambda: _run_once(drop_database(server_url, name)))
    recorder = recorder_class(with_database(server_url, name))
    case.addCleanup(recorder.close)  # cleanups run last-in first-out: before the drop
    return recorder


class TestApplicationRecorderContract(es_cases.ApplicationRecorderTestCase[ApplicationRecorder]):
    def create_recorder(self) -> ApplicationRecorder:
        return _fresh_recorder(self, AsyncpgApplicationRecorder)

    # test_performance (110 single inserts) and test_concurrent_throughput (4 writers x 50
    # events) only print timings and take well under a second here, so they run too.


class TestNonInterleavingNotificationIds(es_cases.NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> ApplicationRecorder:
        return _fresh_recorder(self, AsyncpgApplicationRecorder)


class TestAggregateRecorderContract(es_cases.AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return _fresh_recorder(self, AsyncpgAggregateRecorder)
