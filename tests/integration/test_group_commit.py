"""Group commit: many commands, few transactions, and each command's outcome its own.

Handlers here are test-only; their events are the ``Widget`` and ``Ticket`` aggregates of
``tests/store_helpers.py`` (an importable module, so the stored topics resolve).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from ledger import limits
from ledger.errors import (
    ConcurrencyConflict,
    InsufficientFunds,
    LedgerError,
    PayloadTooLarge,
    Unavailable,
)
from ledger.store.database import DbConnection, create_pool
from ledger.store.event_store import EventStore
from ledger.store.group_commit import (
    Batch,
    BatchKey,
    CommandHandler,
    Committed,
    Decision,
    GroupCommitter,
    InlineProjection,
    PositionedEvent,
)
from tests.pg_proxy import PgProxy
from tests.store_helpers import Ticket, Widget, read_log

# --- commands and handlers ---------------------------------------------------------------


@dataclass(frozen=True)
class CreateWidget:
    name: str
    widget_id: UUID | None = None
    fail_with: LedgerError | None = None  # a rule this command breaks
    crash: bool = False  # a bug in the handler for this command


class CreateWidgetHandler(CommandHandler[CreateWidget, UUID]):
    """Creates a widget; fails one command by a rule or by a bug, as the command asks."""

    def __init__(self) -> None:
        self.decided: list[str] = []

    def decide(self, batch: Batch, command: CreateWidget) -> Decision[UUID]:
        self.decided.append(command.name)
        if command.crash:
            raise ZeroDivisionError("a bug in the handler")
        if command.fail_with is not None:
            raise command.fail_with
        widget = Widget.create(command.name, widget_id=command.widget_id)
        return Decision(events=widget.collect_events(), result=widget.id, tenant_id=None)


@dataclass(frozen=True)
class RenameWidget:
    widget_id: UUID
    version: int  # the version the caller read: the rename is appended at version + 1
    name: str


class RenameWidgetHandler(CommandHandler[RenameWidget, str]):
    """A blind rename at the version the caller read (stale reads make conflicts)."""

    def decide(self, batch: Batch, command: RenameWidget) -> Decision[str]:
        event = Widget.renamed_event(command.widget_id, command.version + 1, command.name)
        return Decision(events=[event], result=command.name, tenant_id=None)


# {quota name: [used, cap]} of the quotas loaded (locked), as the batch's decisions count them.
QUOTAS: BatchKey[dict[str, list[int]]] = BatchKey("tests.group_commit.quotas", dict)


class TakeTicketHandler(CommandHandler[str, UUID]):
    """Takes one ticket from a quota (command = quota name); refuses once it is used up.

    The quota row is loaded ``FOR UPDATE`` once per batch; each decision counts in the
    batch's state so the next command in the same batch sees it.
    """

    async def load(self, batch: Batch, commands: Sequence[str]) -> None:
        rows = await batch.conn.fetch(
            "SELECT name, used, cap FROM gc_quota WHERE name = ANY($1::text[]) FOR UPDATE",
            sorted(set(commands)),
        )
        state = batch.state(QUOTAS)
        state.update({r["name"]: [r["used"], r["cap"]] for r in rows})

    def decide(self, batch: Batch, command: str) -> Decision[UUID]:
        state = batch.state(QUOTAS)
        used, cap = state[command]
        if used >= cap:
            raise InsufficientFunds("the quota is used up", {"quota": command})
        ticket = Ticket.issue(command)
        state[command][0] = used + 1
        return Decision(events=ticket.collect_events(), result=ticket.id, tenant_id=None)


class QuotaProjection(InlineProjection):
    name = "gc_quota"

    async def apply(self, conn: DbConnection, events: Sequence[PositionedEvent]) -> None:
        for positioned in events:
            if isinstance(positioned.event, Ticket.Issued):
                await conn.execute(
                    "UPDATE gc_quota SET used = used + 1 WHERE name = $1", positioned.event.quota
                )


class WidgetNamesProjection(InlineProjection):
    """One row per widget event; the table refuses the name 'forbidden' (CHECK)."""

    name = "gc_widget_names"

    async def apply(self, conn: DbConnection, events: Sequence[PositionedEvent]) -> None:
        for positioned in events:
            event = positioned.event
            if isinstance(event, Widget.Created | Widget.Renamed):
                await conn.execute(
                    "INSERT INTO gc_widget_names (position, widget_id, version, name)"
                    " VALUES ($1, $2, $3, $4)",
                    positioned.position,
                    event.originator_id,
                    event.originator_version,
                    event.name,
                )


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool[Any]]:
    pool = await create_pool(database_url, min_size=1, max_size=8)
    await pool.execute(
        "CREATE TABLE gc_quota (name text PRIMARY KEY, used int NOT NULL, cap int NOT NULL);"
        "CREATE TABLE gc_widget_names (position bigint PRIMARY KEY, widget_id uuid NOT NULL,"
        " version bigint NOT NULL, name text NOT NULL CHECK (name <> 'forbidden'))"
    )
    yield pool
    await pool.close()


@pytest.fixture
async def committer(pool: asyncpg.Pool[Any]) -> AsyncIterator[GroupCommitter]:
    committer = GroupCommitter(pool, projections=[QuotaProjection(), WidgetNamesProjection()])
    await committer.start()
    yield committer
    await committer.stop()


async def _submit_all(
    committer: GroupCommitter, handler: CommandHandler[Any, Any], commands: Sequence[Any]
) -> list[Committed[Any] | BaseException]:
    """Submit ``commands`` at once (so they queue before the writer wakes: one batch)."""
    return await asyncio.gather(
        *(committer.submit(handler, c) for c in commands), return_exceptions=True
    )


def _committed(outcome: Committed[Any] | BaseException) -> Committed[Any]:
    assert isinstance(outcome, Committed), outcome
    return outcome


async def _widget_names(pool: asyncpg.Pool[Any]) -> list[tuple[int, str]]:
    rows = await pool.fetch("SELECT position, name FROM gc_widget_names ORDER BY position")
    return [(r["position"], r["name"]) for r in rows]


# --- tests --------------------------------------------------------------------------------


async def test_concurrent_submits_share_few_batches_with_consecutive_positions(
    committer: GroupCommitter, pool: asyncpg.Pool[Any]
) -> None:
    handler = CreateWidgetHandler()
    commands = [CreateWidget(f"w{i}") for i in range(200)]

    outcomes = [_committed(o) for o in await _submit_all(committer, handler, commands)]

    assert committer.commands_committed == 200
    assert 1 <= committer.batches_committed < 200
    assert committer.batches_committed <= 5
    positions = [o.position for o in outcomes]
    assert all(len(o.positions) == 1 for o in outcomes)
    assert sorted(p for p in positions if p is not None) == list(range(1, 201))
    # Commands commit in arrival order, and each caller gets its own result.
    assert positions == list(range(1, 201))
    rows = await read_log(pool)
    assert [(r.position, r.originator_id) for r in rows] == [
        (o.position, o.result) for o in outcomes
    ]


async def test_domain_error_fails_only_its_caller(
    committer: GroupCommitter, pool: asyncpg.Pool[Any]
) -> None:
    handler = CreateWidgetHandler()
    commands = [
        CreateWidget("a"),
        CreateWidget("b"),
        CreateWidget("broke", fail_with=InsufficientFunds("not enough")),
        CreateWidget("c"),
    ]

    outcomes = await _submit_all(committer, handler, commands)

    assert isinstance(outcomes[2], InsufficientFunds)
    assert [_committed(outcomes[i]).position for i in (0, 1, 3)] == [1, 2, 3]
    assert committer.batches_committed == 1  # all four were decided in one batch
    assert handler.decided == ["a", "b", "broke", "c"]  # a rule failure is not re-decided
    assert [name for _, name in await _widget_names(pool)] == ["a", "b", "c"]


async def test_event_over_the_state_bound_fails_only_its_caller_unwritten(
    committer: GroupCommitter, pool: asyncpg.Pool[Any]
) -> None:
    handler = CreateWidgetHandler()
    commands = [
        CreateWidget("a"),
        CreateWidget("x" * limits.STATE_BYTES_MAX),  # its event is refused by the mapper
        CreateWidget("b"),
    ]

    outcomes = await _submit_all(committer, handler, commands)

    assert isinstance(outcomes[1], PayloadTooLarge)
    assert outcomes[1].status_code == 413
    assert [_committed(outcomes[i]).position for i in (0, 2)] == [1, 2]
    assert [name for _, name in await _widget_names(pool)] == ["a", "b"]
    assert len(await read_log(pool)) == 2


async def test_version_conflict_with_stored_event_fails_only_its_caller(
    committer: GroupCommitter, pool: asyncpg.Pool[Any]
) -> None:
    existing = Widget.create("existing")
    existing_id = existing.id
    await EventStore(pool).append(existing.collect_events(), tenant_id=None)
    await EventStore(pool).append([Widget.renamed_event(existing_id, 2, "renamed")], None)
    create = CreateWidgetHandler()
    rename = RenameWidgetHandler()

    outcomes = await asyncio.gather(
        committer.submit(create, CreateWidget("before")),
        committer.submit(rename, RenameWidget(existing_id, version=1, name="stale")),
        committer.submit(create, CreateWidget("after")),
        return_exceptions=True,
    )

    assert isinstance(outcomes[1], ConcurrencyConflict)
    assert [_committed(outcomes[i]).position for i in (0, 2)] == [3, 4]
    assert committer.batches_committed == 1
    widget = await EventStore(pool).get(existing_id, Widget)
    assert widget is not None
    assert widget.name == "renamed"
    assert widget.version == 2
    # The excluded command left no projection row; the others' rows have their positions.
    assert await _widget_names(pool) == [(3, "before"), (4, "after")]


async def test_same_version_twice_in_one_batch_admits_exactly_one(
    committer: GroupCommitter, pool: asyncpg.Pool[Any]
) -> None:
    existing = Widget.create("existing")
    existing_id = existing.id
    await EventStore(pool).append(existing.collect_events(), tenant_id=None)
    rename = RenameWidgetHandler()
    create = CreateWidgetHandler()
    shared_id = uuid.uuid4()

    outcomes = await asyncio.gather(
        committer.submit(rename, RenameWidget(existing_id, version=1, name="first")),
        committer.submit(create, CreateWidget("new one", widget_id=shared_id)),
        committer.submit(rename, RenameWidget(existing_id, version=1, name="second")),
        committer.submit(create, CreateWidget("new two", widget_id=shared_id)),
        committer.submit(create, CreateWidget("bystander")),
        return_exceptions=True,
    )

    assert isinstance(outcomes[2], ConcurrencyConflict)
    assert isinstance(outcomes[3], ConcurrencyConflict)
    assert [_committed(outcomes[i]).result for i in (0, 1)] == ["first", shared_id]
    assert _committed(outcomes[4]).position == 4
    assert committer.batches_committed == 1
    rows = await read_log(pool)
    assert [(r.originator_id, r.originator_version) for r in rows].count((existing_id, 2)) == 1
    assert [(r.originator_id, r.originator_version) for r in rows].count((shared_id, 1)) == 1
    renamed = await EventStore(pool).get(existing_id, Widget)
    assert renamed is not None
    assert renamed.name == "first"
    created = await EventStore(pool).get(shared_id, Widget)
    assert created is not None
    assert created.name == "new one"


async def test_ordered_limit_admits_exactly_k_across_batches_and_committers(
    committer: GroupCommitter, pool: asyncpg.Pool[Any], database_url: str
) -> None:
    cap = 37
    await pool.execute("INSERT INTO gc_quota (name, used, cap) VALUES ('q', 0, $1)", cap)
    # A second "process": its own pool and committer, writing to the same database.
    other_pool = await create_pool(database_url, min_size=1, max_size=4)
    other = GroupCommitter(other_pool, projections=[QuotaProjection()], commands_max=8)
    small = GroupCommitter(pool, projections=[QuotaProjection()], commands_max=8)
    await other.start()
    await small.start()
    try:
        handler = TakeTicketHandler()

        async def take(target: GroupCommitter, delay: float) -> Committed[UUID] | BaseException:
            # Spreads the submissions over several batches; no outcome depends on the order.
            await asyncio.sleep(delay)
            try:
                return await target.submit(handler, "q")
            except LedgerError as e:
                return e

        outcomes = await asyncio.gather(
            *(take((small, other)[i % 2], (i % 10) * 0.001) for i in range(100))
        )
    finally:
        await small.stop()
        await other.stop()
        await other_pool.close()

    admitted = [o for o in outcomes if isinstance(o, Committed)]
    refused = [o for o in outcomes if not isinstance(o, Committed)]
    assert len(admitted) == cap
    assert len(refused) == 100 - cap
    assert all(isinstance(e, InsufficientFunds) for e in refused)
    assert small.batches_committed + other.batches_committed > 2  # many batches took part
    assert await pool.fetchval("SELECT used FROM gc_quota WHERE name = 'q'") == cap
    tickets = [r for r in await read_log(pool) if r.topic.endswith("Ticket.Issued")]
    assert len(tickets) == cap
    assert sorted(t.originator_id for t in tickets) == sorted(o.result for o in admitted)


async def test_handler_bug_fails_only_its_caller(
    committer: GroupCommitter, pool: asyncpg.Pool[Any], caplog: pytest.LogCaptureFixture
) -> None:
    handler = CreateWidgetHandler()
    commands = [CreateWidget("a"), CreateWidget("bug", crash=True), CreateWidget("b")]

    outcomes = await _submit_all(committer, handler, commands)

    assert isinstance(outcomes[1], ZeroDivisionError)
    assert [_committed(outcomes[i]).position for i in (0, 2)] == [1, 2]
    assert [name for _, name in await _widget_names(pool)] == ["a", "b"]
    assert "non-domain error" in caplog.text


async def test_projection_rows_commit_in_the_append_transaction(
    committer: GroupCommitter, pool: asyncpg.Pool[Any]
) -> None:
    handler = CreateWidgetHandler()
    rename = RenameWidgetHandler()
    first = _committed(await committer.submit(handler, CreateWidget("first")))
    assert first.positions == (1,)
    assert await _widget_names(pool) == [(1, "first")]

    # The projection refuses one command's row after the batch's events were appended and
    # other rows written: the whole transaction rolls back, and the others commit alone.
    outcomes = await asyncio.gather(
        committer.submit(handler, CreateWidget("ok 1")),
        committer.submit(handler, CreateWidget("forbidden")),
        committer.submit(rename, RenameWidget(first.result, version=1, name="ok 2")),
        return_exceptions=True,
    )

    assert isinstance(outcomes[1], asyncpg.CheckViolationError)
    assert [_committed(outcomes[i]).position for i in (0, 2)] == [2, 3]
    # Events and projection rows agree: none for the refused command, and no position was
    # burnt by the rolled-back attempt.
    assert await _widget_names(pool) == [(1, "first"), (2, "ok 1"), (3, "ok 2")]
    rows = await read_log(pool)
    assert [r.position for r in rows] == [1, 2, 3]
    assert [(r.originator_id, r.originator_version) for r in rows][2] == (first.result, 2)

    # A command whose append conflicts leaves no projection row either.
    stale = await asyncio.gather(
        committer.submit(rename, RenameWidget(first.result, version=1, name="stale")),
        return_exceptions=True,
    )
    assert isinstance(stale[0], ConcurrencyConflict)
    assert await _widget_names(pool) == [(1, "first"), (2, "ok 1"), (3, "ok 2")]


class HeldLoadHandler(CreateWidgetHandler):
    """Creates widgets after a load that waits for ``release``, so a batch stays under way
    for as long as the test needs; ``loading`` is set when the writer is inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.loading = asyncio.Event()
        self.release = asyncio.Event()

    async def load(self, batch: Batch, commands: Sequence[CreateWidget]) -> None:
        self.loading.set()
        await self.release.wait()


async def test_stop_finishes_the_batch_under_way_and_fails_the_queued(
    committer: GroupCommitter, pool: asyncpg.Pool[Any]
) -> None:
    handler = HeldLoadHandler()
    under_way = asyncio.ensure_future(committer.submit(handler, CreateWidget("under way")))
    await handler.loading.wait()  # the writer took it and is loading
    queued = asyncio.ensure_future(committer.submit(handler, CreateWidget("queued")))
    stopping = asyncio.ensure_future(committer.stop())
    # One turn of the loop: the two tasks just created take their first step, in order
    # (``submit`` queues its command, ``stop`` stops taking commands) before the load goes on.
    await asyncio.sleep(0)
    with pytest.raises(Unavailable):
        await committer.submit(handler, CreateWidget("after stop"))
    assert not under_way.done()
    handler.release.set()

    await stopping
    outcomes = await asyncio.gather(under_way, queued, return_exceptions=True)

    assert isinstance(outcomes[1], Unavailable)
    assert _committed(outcomes[0]).positions == (1,)
    assert [name for _, name in await _widget_names(pool)] == ["under way"]


# --- database faults (module docstring, "Database faults") ---------------------------------


async def _terminate(database_url: str, pid: int) -> None:
    """End backend ``pid`` from another connection, as an operator or a crash would."""
    conn = await asyncpg.connect(database_url)
    try:
        # The second argument: wait until the backend is gone, so the test goes on after it.
        assert await conn.fetchval("SELECT pg_terminate_backend($1, 600000)", pid)
    finally:
        await conn.close()


class TerminatedLoadHandler(CreateWidgetHandler):
    """Its first load waits for ``release`` (``loading`` set, the backend's pid recorded), so
    the test can end that backend while the batch is open; later loads go straight on."""

    def __init__(self) -> None:
        super().__init__()
        self.loading = asyncio.Event()
        self.release = asyncio.Event()
        self.pids: list[int] = []

    async def load(self, batch: Batch, commands: Sequence[CreateWidget]) -> None:
        self.pids.append(batch.conn.get_server_pid())
        if len(self.pids) == 1:
            self.loading.set()
            await self.release.wait()
        await batch.conn.fetchval("SELECT count(*) FROM gc_widget_names")  # what a load does


async def test_connection_lost_before_commit_writes_the_whole_batch_again(
    committer: GroupCommitter, pool: asyncpg.Pool[Any], database_url: str
) -> None:
    handler = TerminatedLoadHandler()
    names = [f"w{i}" for i in range(5)]
    submitted = asyncio.ensure_future(
        _submit_all(committer, handler, [CreateWidget(n) for n in names])
    )
    await handler.loading.wait()
    await _terminate(database_url, handler.pids[0])
    handler.release.set()

    outcomes = [_committed(o) for o in await submitted]

    # Every command succeeded, on another connection, once: nothing lost, nothing twice.
    assert len(handler.pids) == 2
    assert handler.pids[1] != handler.pids[0]
    assert sorted(o.position for o in outcomes if o.position is not None) == [1, 2, 3, 4, 5]
    assert committer.batches_committed == 1
    assert [name for _, name in await _widget_names(pool)] == names
    assert len(await read_log(pool)) == 5


class SelfTerminatingHandler(CreateWidgetHandler):
    """Every load ends its own backend: a database that is gone for as long as one tries."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    async def load(self, batch: Batch, commands: Sequence[CreateWidget]) -> None:
        self.loads += 1
        await batch.conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")


async def test_a_database_fault_that_persists_fails_the_batch_unavailable_after_bounded_retries(
    committer: GroupCommitter, pool: asyncpg.Pool[Any]
) -> None:
    handler = SelfTerminatingHandler()

    outcomes = await _submit_all(committer, handler, [CreateWidget("a"), CreateWidget("b")])

    assert all(isinstance(o, Unavailable) for o in outcomes), outcomes
    assert handler.loads == limits.GROUP_COMMIT_RETRIES_MAX + 1
    assert await read_log(pool) == []
    # The committer goes on: the next command is written, first in the log.
    assert _committed(
        await committer.submit(CreateWidgetHandler(), CreateWidget("after"))
    ).positions == (1,)


@pytest.mark.parametrize("committed", [True, False], ids=["commit-done", "commit-lost"])
async def test_connection_lost_during_commit_fails_the_batch_unavailable_and_never_rewrites_it(
    database_url: str, committed: bool
) -> None:
    proxy = PgProxy(database_url)
    await proxy.start()
    pool = await create_pool(proxy.url(database_url), min_size=1, max_size=2)
    committer = GroupCommitter(pool)
    await committer.start()
    try:
        handler = CreateWidgetHandler()
        cut = proxy.arm(deliver=committed)

        outcomes = await _submit_all(committer, handler, [CreateWidget(f"w{i}") for i in range(3)])

        assert cut.is_set()
        for outcome in outcomes:
            assert isinstance(outcome, Unavailable), outcome
            assert "may or may not have been written" in outcome.message
        # Written once (the server committed before the answer was lost) or not at all
        # (the COMMIT never reached it); never twice: the committer did not write it again.
        assert len(await read_log(pool)) == (3 if committed else 0)
        after = _committed(await committer.submit(handler, CreateWidget("after")))
        assert after.positions == ((4,) if committed else (1,))
    finally:
        await committer.stop()
        await pool.close()
        await proxy.close()


async def test_statement_timeout_on_the_append_is_unavailable_and_writes_nothing(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2, statement_timeout_seconds=0.2)
    committer = GroupCommitter(pool)
    await committer.start()
    holder = await asyncpg.connect(database_url)
    try:
        lock = holder.transaction()
        await lock.start()
        # The append's own lock on the log (EXCLUSIVE) waits behind this one until the
        # server cancels it (57014), every attempt.
        await holder.execute("LOCK TABLE ledger_events IN ACCESS EXCLUSIVE MODE")

        outcome = await _submit_all(committer, CreateWidgetHandler(), [CreateWidget("late")])

        await lock.rollback()
        assert isinstance(outcome[0], Unavailable), outcome
        assert await read_log(pool) == []
        after = await committer.submit(CreateWidgetHandler(), CreateWidget("after"))
        assert _committed(after).positions == (1,)
    finally:
        await holder.close()
        await committer.stop()
        await pool.close()
