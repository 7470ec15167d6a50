"""Group commit: many concurrent commands, one transaction, one table lock.

Design
------
Callers ``submit(handler, command)`` and await their own outcome. One writer task takes
every command waiting in the queue (up to ``commands_max``; no timer: commands that arrive
while a batch is being written form the next batch, so an idle service adds no latency and a
busy one writes big batches) and commits them together:

1. ``BEGIN``; each handler kind present ``load``\\ s the state its commands need, in one query
   for the whole batch, locking the rows a decision reads (``SELECT … FOR UPDATE``), so no
   other process can change them before the commit (no write skew).
2. Commands are ``decide``\\ d one by one, in arrival order, by pure code against that state;
   each decision records its effects in the batch's state (``Batch.state``) so the next
   command sees them. A command whose rules fail raises a
   :class:`~ledger.errors.LedgerError`: only that caller gets the error; the rest of the
   batch goes on.
3. The accepted events are appended in one call (``event_store.append_stored_events``: the
   table lock, gap-free positions, hash chain, one NOTIFY), inline projections apply them in
   the same transaction, and the transaction commits.
4. Only after the commit does each caller learn its result and positions.

If the append reports a version conflict, or a decision raises something that is not a
domain error (a bug), the transaction is rolled back and the batch is decided again without
that command (decisions after it may have depended on its effects). If the database rejects
a batch for any other reason but a fault (below), each command is retried alone, so one bad
command cannot fail the others; a command alone that lost a race with another server process
(unique violation, deadlock, serialization failure) is decided once more, against what that
process committed.

Database faults
---------------
A fault of the database rather than of the batch (``store.database.is_unavailable``: the
connection or server is lost, a statement timed out, the disk is full …) is handled by
where it struck:

- **Before COMMIT was sent** (acquiring a connection, ``BEGIN``, load, decide, append,
  projections): nothing was written, so the whole batch is written again in a new
  transaction (the pool replaces a lost connection), after a short wait, at most
  ``limits.GROUP_COMMIT_RETRIES_MAX`` times per batch (the count is shared with its
  one-by-one retries); after that each command fails with ``Unavailable`` (503 +
  ``Retry-After``). A fault is never answered with a rule's
  verdict: the batch is decided afresh each time.
- **While COMMIT was in flight**: the batch may or may not be written, so it is not written
  again (that could write it twice); every command of the batch fails with ``Unavailable``.
  The client's retry settles it: a command with an idempotency key (``Idempotency-Key``,
  ``external_id``) replays the stored result if the batch was written, and is written
  now if it was not.

So a lost connection fails only commands whose outcome is unknown, and no fault reaches a
caller as anything but ``Unavailable``.

This is the place for every check that needs serialised state (idempotency keys, balance
limits): write a :class:`CommandHandler`.

Revoked API keys
----------------
A command submitted while :data:`ACTING_KEY` holds an API key id (the HTTP layer sets it for
the request it authenticated, possibly from a cache) is refused with ``Unauthenticated``
if that key is revoked when its batch is written: the batch's transaction reads the
revocation of the batch's distinct keys in one query, before any command is decided
(a handler may fold that query into its own first one: ``Batch.revoked_keys``). So no
write depends on how fresh the authentication cache is, and a revocation committed before
the batch's check is never outrun by a write.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar, cast
from uuid import UUID

import asyncpg
from asyncpg.transaction import Transaction
from eventsourcing.domain import DomainEventProtocol

from ledger import limits
from ledger.errors import ConcurrencyConflict, LedgerError, Unauthenticated, Unavailable
from ledger.store.database import DbConnection, is_unavailable
from ledger.store.event_store import append_stored_events
from ledger.store.mapper import MsgspecMapper

log = logging.getLogger(__name__)

C = TypeVar("C")
R = TypeVar("R")
T = TypeVar("T")

# The API key the current task acts under (None: an operator command, e.g. the CLI).
# ``submit`` records it with the command; see "Revoked API keys" in the module docstring.
ACTING_KEY: contextvars.ContextVar[UUID | None] = contextvars.ContextVar(
    "ledger_acting_key", default=None
)

# Errors that mean another writer got there first; a lone command is decided again once.
_RACES = (
    asyncpg.UniqueViolationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)

_SELECT_REVOKED = (
    "SELECT key_id FROM api_keys WHERE key_id = ANY($1::uuid[]) AND revoked_at IS NOT NULL"
)


@dataclass(frozen=True, slots=True)
class Decision(Generic[R]):
    """What a handler decided for one command: events to append and the caller's result.

    ``tenant_id`` is written beside each event (the event feed filters on it).
    """

    events: Sequence[DomainEventProtocol[UUID]]
    result: R
    tenant_id: UUID | None


@dataclass(frozen=True, slots=True)
class Committed(Generic[R]):
    """A command's outcome after commit: its result, the positions of its events and the
    tenant they were written for."""

    result: R
    positions: tuple[int, ...]
    tenant_id: UUID | None = None

    @property
    def position(self) -> int | None:
        """The position of the last event the command appended (None if it appended none)."""
        return self.positions[-1] if self.positions else None


@dataclass(frozen=True, slots=True)
class PositionedEvent:
    """An event with the position it was given, as inline projections receive it."""

    position: int
    tenant_id: UUID | None
    event: DomainEventProtocol[UUID]


class BatchKey(Generic[T]):
    """Names one piece of per-batch state and makes its empty value.

    Handlers that share state (e.g. every handler that reads custom currencies) share the
    key; define keys at module level, so every handler instance of a batch sees the same
    state. Keys compare by identity: two keys with the same name are different state.
    """

    __slots__ = ("factory", "name")

    def __init__(self, name: str, factory: Callable[[], T]) -> None:
        self.name = name
        self.factory = factory

    def __repr__(self) -> str:
        return f"BatchKey({self.name!r})"


class BatchSnapshot:
    """A deep copy of some of a batch's state, to put back with :meth:`Batch.restore`."""

    __slots__ = ("_states",)

    def __init__(self, states: dict[BatchKey[Any], object]) -> None:
        self._states = states


class Batch:
    """The transaction under way, as handlers see it."""

    def __init__(self, conn: DbConnection, key_ids: Sequence[UUID] = ()) -> None:
        self.conn = conn
        # Values are always of their key's type: only ``state`` and ``restore`` write here.
        self._states: dict[BatchKey[Any], object] = {}
        # The distinct API keys the batch's commands act under (see "Revoked API keys").
        self.key_ids = list(key_ids)
        # Which of them are revoked, once read: a handler's ``load`` may read it in the
        # same statement as its own first query (one round trip less per batch); the
        # committer reads it itself if no handler did.
        self.revoked_keys: set[UUID] | None = None if self.key_ids else set()

    def state(self, key: BatchKey[T]) -> T:
        """The batch's state under ``key`` (made by ``key.factory`` on first use): what
        handlers loaded and what the batch's decisions so far recorded."""
        if key not in self._states:
            self._states[key] = key.factory()
        return cast(T, self._states[key])

    def snapshot(self, *keys: BatchKey[Any]) -> BatchSnapshot:
        """A deep copy of the state under ``keys`` (made first if absent), for ``restore``."""
        return BatchSnapshot({key: copy.deepcopy(self.state(key)) for key in keys})

    def restore(self, snapshot: BatchSnapshot) -> None:
        """Put back the state ``snapshot`` copied: later changes under its keys are undone.

        The snapshot's copies become the live state, so restore a snapshot at most once.
        """
        self._states.update(snapshot._states)


class CommandHandler(ABC, Generic[C, R]):
    """Checks one kind of command against serialised state. See the module docstring."""

    async def load(self, batch: Batch, commands: Sequence[C]) -> None:
        """Read (and lock) what ``commands`` need, once per batch. Default: nothing."""

    @abstractmethod
    def decide(self, batch: Batch, command: C) -> Decision[R]:
        """Decide one command: pure code over ``batch`` state, no I/O.

        Validate everything first and record effects in batch state last: a command that
        raises must leave the state as it found it.

        Raises:
            LedgerError: the command breaks a rule; only its caller sees the error.
        """


class InlineProjection(ABC):
    """A projection written in the append's transaction (exact state for later decisions)."""

    name: str
    # The read tables it writes (rebuild and audit compare them with a fresh replay).
    tables: tuple[str, ...]

    @abstractmethod
    async def apply(self, conn: DbConnection, events: Sequence[PositionedEvent]) -> None:
        """Fold ``events`` (in position order) into this projection's rows."""


@dataclass(eq=False, slots=True)
class _Item:
    handler: CommandHandler[Any, Any]
    command: Any
    future: asyncio.Future[Committed[Any]]
    key_id: UUID | None = None
    decision: Decision[Any] | None = None
    error: BaseException | None = None
    positions: tuple[int, ...] = field(default=())


class _Exclude(Exception):
    """Roll back, fail ``item`` with ``error``, and decide the rest of the batch again."""

    def __init__(self, item: _Item, error: BaseException) -> None:
        self.item = item
        self.error = error


COMMIT_IN_DOUBT_MESSAGE: Final = (
    "the connection to the database was lost while the write was being committed, so it may"
    " or may not have been written; retry with the same idempotency key to find out"
)
DATABASE_UNAVAILABLE_MESSAGE: Final = "the database is unavailable; retry shortly"


class _CommitInDoubt(Exception):
    """The connection failed while COMMIT was in flight: the batch may have been written."""


async def _roll_back(transaction: Transaction) -> None:
    """Roll back after a failure before COMMIT; on a lost connection the server already has."""
    try:
        await transaction.rollback()
    except Exception as e:
        # The original error says what happened; a closed connection cannot roll back
        # (and need not: an open transaction ends with its session).
        log.debug("rollback after a failed batch failed too: %r", e)


@dataclass(slots=True)
class _Faults:
    """The database faults one batch has met (``is_unavailable``), shared by the retries of
    its commands one by one, so a database that is down costs a batch at most
    ``limits.GROUP_COMMIT_RETRIES_MAX`` waits, not that many per command."""

    count: int = 0

    async def retry(self, error: Exception, commands: int) -> bool:
        """Count ``error``; wait and say True if the batch is to be written again."""
        self.count += 1
        if self.count > limits.GROUP_COMMIT_RETRIES_MAX:
            log.warning("database fault (%r); failing %d commands with 503", error, commands)
            return False
        log.warning(
            "database fault before COMMIT (%r); writing %d commands again (%d of %d)",
            error,
            commands,
            self.count,
            limits.GROUP_COMMIT_RETRIES_MAX,
        )
        await asyncio.sleep(self.count * limits.GROUP_COMMIT_RETRY_BACKOFF_SECONDS)
        return True


class GroupCommitter:
    """The one write path for commands. Start it before use; stop it to drain and close."""

    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        *,
        mapper: MsgspecMapper | None = None,
        projections: Sequence[InlineProjection] = (),
        commands_max: int = limits.GROUP_COMMIT_COMMANDS_MAX,
        on_revoked: Callable[[set[UUID]], None] | None = None,
    ) -> None:
        """``on_revoked`` learns the keys a batch found revoked (to evict them from a cache)."""
        assert 1 <= commands_max <= limits.GROUP_COMMIT_COMMANDS_MAX
        self.pool = pool
        self.mapper = mapper or MsgspecMapper()
        self.projections = list(projections)
        self.commands_max = commands_max
        self.on_revoked = on_revoked
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # Counters for the benchmark and operators: batches written, commands in them.
        self.batches_committed = 0
        self.commands_committed = 0

    async def start(self) -> None:
        assert self._task is None, "already started"
        self._task = asyncio.create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        """Stop taking commands, finish the batch under way, fail what is still queued."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if not item.future.done():
                item.future.set_exception(Unavailable("the service is shutting down"))

    async def submit(self, handler: CommandHandler[C, R], command: C) -> Committed[R]:
        """Queue ``command`` for the next batch and wait for its outcome.

        Raises:
            LedgerError: the handler rejected the command (or ``ConcurrencyConflict``).
            Unavailable: the committer is stopping.
        """
        if self._closing or self._task is None:
            raise Unavailable("the service is not accepting writes")
        future: asyncio.Future[Committed[R]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(handler, command, future, ACTING_KEY.get()))
        # Shield: a caller that goes away (client disconnect) must not cancel the batch.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            items = [first]
            while len(items) < self.commands_max and not self._queue.empty():
                items.append(self._queue.get_nowait())
            commit = asyncio.ensure_future(self._commit(items))
            try:
                await asyncio.shield(commit)
            except asyncio.CancelledError:
                # stop(): let the batch under way finish, so its callers learn the real
                # outcome (a write cut off during COMMIT may have committed all the same).
                try:
                    await commit
                except Exception:
                    log.exception("group commit failed")
                for item in items:
                    if not item.future.done():
                        item.future.set_exception(Unavailable("the write was interrupted"))
                raise
            except Exception as e:  # pragma: no cover - _commit reports per item
                log.exception("group commit failed")
                for item in items:
                    if not item.future.done():
                        item.future.set_exception(e)

    async def _commit(
        self, items: list[_Item], *, retried: bool = False, faults: _Faults | None = None
    ) -> None:
        """Write ``items`` and finish each (see "Database faults" in the module docstring)."""
        if faults is None:
            faults = _Faults()
        pending = items
        while pending:
            try:
                await self._commit_once(pending)
            except _Exclude as excluded:
                excluded.item.error = excluded.error
                self._finish(excluded.item)
                pending = [i for i in pending if i is not excluded.item]
                continue
            except _CommitInDoubt as doubt:
                log.warning("connection lost during COMMIT of %d commands: %r", len(pending), doubt)
                self._fail_unavailable(pending, COMMIT_IN_DOUBT_MESSAGE)
                return
            except Exception as e:
                if not is_unavailable(e):
                    await self._rejected(pending, e, retried=retried, faults=faults)
                    return
                if not await faults.retry(e, len(pending)):
                    self._fail_unavailable(pending, DATABASE_UNAVAILABLE_MESSAGE)
                    return
                continue
            for item in pending:
                self._finish(item)
            self.batches_committed += 1
            self.commands_committed += len(pending)
            return

    async def _rejected(
        self, pending: list[_Item], e: Exception, *, retried: bool, faults: _Faults
    ) -> None:
        """The database (or a handler) refused the batch for a reason of its own, not a
        fault: nothing was written. Retry as the module docstring says, or fail."""
        if not isinstance(e, LedgerError | asyncpg.PostgresError):
            self._fail(pending, e)
            raise e
        if len(pending) == 1 and isinstance(e, _RACES) and not retried:
            # Another process committed the same row first (a journal number, an
            # idempotency key) or deadlocked with us: decided again, once, the
            # command sees what it committed (a replay, the next number).
            await self._commit(pending, retried=True, faults=faults)
            return
        if len(pending) == 1:
            self._fail(pending, e)
            return
        log.warning("batch of %d failed (%s); retrying one by one", len(pending), e)
        for item in pending:
            await self._commit([item], faults=faults)

    async def _commit_once(self, items: list[_Item]) -> None:
        """One transaction for ``items``.

        Raises:
            _CommitInDoubt: the connection failed while COMMIT was in flight.
            Exception: anything raised before COMMIT was sent (the transaction is rolled
                back, or the server rolls it back as the connection is gone).
        """
        async with self.pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                batch = Batch(conn, list({i.key_id for i in items if i.key_id is not None}))
                await self._load(batch, items)
                items = await self._refuse_revoked(batch, items)
                accepted = self._decide(batch, items)
                if accepted:
                    await self._append(conn, accepted)
            except BaseException:
                await _roll_back(transaction)
                raise
            try:
                await transaction.commit()
            except Exception as e:
                if is_unavailable(e):
                    raise _CommitInDoubt(e) from e
                raise

    @staticmethod
    def _fail(items: list[_Item], error: BaseException) -> None:
        for item in items:
            item.error = error
            GroupCommitter._finish(item)

    @staticmethod
    def _fail_unavailable(items: list[_Item], message: str) -> None:
        # One exception per caller: each raises its own (a shared one collects tracebacks).
        for item in items:
            item.error = Unavailable(message)
            GroupCommitter._finish(item)

    async def _refuse_revoked(self, batch: Batch, items: list[_Item]) -> list[_Item]:
        """Fail the items whose API key is revoked; the others, in order. The revocation is
        read by a handler's load (``batch.revoked_keys``) or here, in one query.

        The failed items keep their error and are finished with the rest of the batch.
        """
        if batch.revoked_keys is None:
            rows = await batch.conn.fetch(_SELECT_REVOKED, batch.key_ids)
            batch.revoked_keys = {r["key_id"] for r in rows}
        revoked = batch.revoked_keys
        if not revoked:
            return items
        if self.on_revoked is not None:
            self.on_revoked(revoked)
        live = []
        for item in items:
            if item.key_id in revoked:
                item.error = Unauthenticated("the API key is not valid")
            else:
                live.append(item)
        return live

    @staticmethod
    async def _load(batch: Batch, items: list[_Item]) -> None:
        by_handler: dict[int, tuple[CommandHandler[Any, Any], list[Any]]] = {}
        for item in items:
            by_handler.setdefault(id(item.handler), (item.handler, []))[1].append(item.command)
        for handler, commands in by_handler.values():
            await handler.load(batch, commands)

    @staticmethod
    def _decide(batch: Batch, items: list[_Item]) -> list[_Item]:
        accepted: list[_Item] = []
        claimed: set[tuple[UUID, int]] = set()
        for item in items:
            item.decision = None
            item.error = None
            item.positions = ()
            try:
                decision = item.handler.decide(batch, item.command)
            except LedgerError as e:
                item.error = e
                continue
            except Exception as e:
                log.exception("handler %s raised a non-domain error", type(item.handler).__name__)
                raise _Exclude(item, e) from e
            keys = {(e.originator_id, e.originator_version) for e in decision.events}
            if len(keys) != len(decision.events) or keys & claimed:
                raise _Exclude(item, ConcurrencyConflict("the aggregate was changed concurrently"))
            claimed |= keys
            item.decision = decision
            if decision.events:
                accepted.append(item)
        return accepted

    async def _append(self, conn: DbConnection, accepted: list[_Item]) -> None:
        owners: list[_Item] = []
        stored = []
        tenant_ids: list[UUID | None] = []
        for item in accepted:
            assert item.decision is not None
            for event in item.decision.events:
                owners.append(item)
                stored.append(self.mapper.to_stored_event(event))
                tenant_ids.append(item.decision.tenant_id)
        positioned: list[PositionedEvent] = []
        for start in range(0, len(stored), limits.GROUP_COMMIT_EVENTS_MAX):
            end = start + limits.GROUP_COMMIT_EVENTS_MAX
            outcome = await append_stored_events(conn, stored[start:end], tenant_ids[start:end])
            if outcome.first_position is None:
                loser = owners[start + outcome.conflicts[0]]
                raise _Exclude(
                    loser, ConcurrencyConflict("the aggregate was changed by another writer")
                )
            for offset in range(len(stored[start:end])):
                item = owners[start + offset]
                assert item.decision is not None
                position = outcome.first_position + offset
                item.positions = (*item.positions, position)
        for item in accepted:
            assert item.decision is not None
            for event, position in zip(item.decision.events, item.positions, strict=True):
                positioned.append(PositionedEvent(position, item.decision.tenant_id, event))
        for projection in self.projections:
            await projection.apply(conn, positioned)

    @staticmethod
    def _finish(item: _Item) -> None:
        if item.future.done():  # pragma: no cover - defensive: each item finishes once
            return
        if item.error is not None:
            item.future.set_exception(item.error)
            return
        assert item.decision is not None
        item.future.set_result(
            Committed(item.decision.result, item.positions, item.decision.tenant_id)
        )
