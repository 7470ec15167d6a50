"""Matching and unmatching items (docs/api.md §6), decided inside group commit.

"No item is in two active matches" holds under any concurrency, three times over:

1. ``load`` locks the rows of every record (``records``) and entry (``journal_entries``) the
   batch's matches name, in key order, and only THEN reads which of them are in active
   matches: a concurrent batch in another process that matches one of them has either
   committed before the lock was granted (and is seen) or waits for this batch to end.
2. ``decide`` runs commands in arrival order against that state and records each accepted
   match in it, so a later command of the same batch sees the item taken.
3. The partial unique indexes ``match_items_active_*_uq`` are the database's own check; if
   one ever fired, ``ReconciliationCommands.create_match``
   (:mod:`ledger.commands.reconciliation_service`) would still answer 409 ``ALREADY_MATCHED``.

``CreateMatch`` raises, in this order (the first that applies):

- ``ValidationError`` (400): the same item twice;
- ``NotFound`` (404, ``details.item_index``): no such record or entry in the tenant;
- ``InvalidState`` (422): the entry belongs to a voided journal;
- ``MatchUnbalanced`` (422): the items come from fewer than two data streams
  (``details.reason = "single_data_stream"``), or credits and debits differ by more than the
  tolerance (``details``: ``credits``, ``debits``, ``difference``, ``tolerance``,
  ``decimal_places``). Amounts of items with different ``decimal_places`` are compared at
  the largest of them;
- ``AlreadyMatched`` (409, ``details.item_index``, ``details.match_id``).

``Unmatch`` raises ``NotFound`` (404) for an unknown match and ``InvalidState`` (422) for one
already unmatched.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from uuid import UUID

from ledger.domain.records import (
    MATCH_TOPIC,
    RUN_TOPIC,
    Match,
    MatchItem,
    MatchRule,
    MatchStatus,
    ReconciliationRun,
    RunRules,
    check_distinct_items,
    check_match_balances,
    check_not_voided,
    ledger_stream,
)
from ledger.errors import (
    AlreadyMatched,
    InvalidState,
    LedgerError,
    NotFound,
)
from ledger.queries.currencies import fetch_precisions
from ledger.store.group_commit import Batch, BatchKey, CommandHandler, Decision

# An item's key: ("record", tenant_id, record_id) or ("entry", entry_id).
ItemKey = tuple[Any, ...]

# Every lookup by a list of keys probes an index once per key: the (sorted) list is the
# outer side and the table a LATERAL subquery on the key that the planner cannot flatten
# into a join (it has FOR UPDATE, LIMIT or OFFSET 0), so the plan does not depend on table
# statistics. (A join or ``= ANY`` left to the planner became, with index statistics from
# before a bulk load, a scan of every active item of the tenant once per key: seconds per
# run slice.) Locks are taken inside the subqueries, in key order.
_LOCK_RECORDS: Final = (
    "SELECT r.* FROM unnest($2::int8[]) AS k(id) CROSS JOIN LATERAL ("
    " SELECT tenant_id, record_id, data_stream_key, amount, direction, decimal_places"
    " FROM records WHERE tenant_id = $1 AND record_id = k.id FOR UPDATE) AS r"
)
_LOCK_ENTRIES: Final = (
    "SELECT e.* FROM unnest($1::uuid[]) AS k(id) CROSS JOIN LATERAL ("
    " SELECT e.entry_id, e.tenant_id, e.amount, e.direction, e.currency, l.code, j.status"
    " FROM journal_entries e JOIN journals j ON j.journal_id = e.journal_id"
    " JOIN ledgers l ON l.ledger_id = e.ledger_id WHERE e.entry_id = k.id"
    " FOR UPDATE OF e) AS e"
)
_ACTIVE_RECORDS: Final = (
    "SELECT i.* FROM unnest($2::int8[]) AS k(id) CROSS JOIN LATERAL ("
    " SELECT tenant_id, record_id, match_id FROM match_items"
    " WHERE tenant_id = $1 AND record_id = k.id AND unmatched_position IS NULL LIMIT 1) AS i"
)
_ACTIVE_ENTRIES: Final = (
    "SELECT i.* FROM unnest($1::uuid[]) AS k(id) CROSS JOIN LATERAL ("
    " SELECT entry_id, match_id FROM match_items"
    " WHERE entry_id = k.id AND unmatched_position IS NULL LIMIT 1) AS i"
)
_LOCK_MATCHES: Final = (
    "SELECT m.* FROM unnest($1::uuid[]) AS k(id) CROSS JOIN LATERAL ("
    " SELECT match_id, tenant_id, status, version FROM matches WHERE match_id = k.id"
    " FOR UPDATE) AS m"
)
_MATCH_ITEMS: Final = (
    "SELECT i.* FROM unnest($1::uuid[]) AS k(id) CROSS JOIN LATERAL ("
    " SELECT match_id, tenant_id, record_id, entry_id FROM match_items"
    " WHERE match_id = k.id OFFSET 0) AS i"
)


@dataclass(frozen=True, slots=True)
class ItemRef:
    """A match item as a request names it: a record id or an entry id (exactly one)."""

    record_id: int | None = None
    entry_id: UUID | None = None

    def key(self, tenant_id: UUID) -> ItemKey:
        if self.record_id is not None:
            return ("record", tenant_id, self.record_id)
        return ("entry", self.entry_id)

    def as_json(self) -> dict[str, Any]:
        if self.record_id is not None:
            return {"record_id": self.record_id}
        return {"entry_id": str(self.entry_id)}


@dataclass(frozen=True, kw_only=True)
class CreateMatch:
    tenant_id: UUID
    items: tuple[ItemRef, ...]
    tolerance: int = 0
    note: str | None = None
    rule: MatchRule | None = None
    run_id: UUID | None = None
    match_id: UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True, kw_only=True)
class Unmatch:
    tenant_id: UUID
    match_id: UUID


@dataclass(frozen=True, slots=True)
class _Row:
    tenant_id: UUID
    item: MatchItem
    voided: bool = False


@dataclass
class _MatchRow:
    tenant_id: UUID
    status: MatchStatus
    version: int
    keys: list[ItemKey]


@dataclass
class _State:
    items: dict[ItemKey, _Row] = field(default_factory=dict)
    active: dict[ItemKey, UUID] = field(default_factory=dict)
    matches: dict[UUID, _MatchRow] = field(default_factory=dict)


_STATE: Final = BatchKey("ledger.commands.reconciliation.items", _State)


def _state(batch: Batch) -> _State:
    return batch.state(_STATE)


async def _load_items(batch: Batch, wanted: set[ItemKey]) -> None:
    state = _state(batch)
    conn = batch.conn
    records: dict[UUID, list[int]] = {}
    for key in sorted(k[1:] for k in wanted if k[0] == "record"):
        records.setdefault(key[0], []).append(key[1])
    entries = sorted(k[1] for k in wanted if k[0] == "entry")
    for tenant_id, ids in sorted(records.items()):
        for r in await conn.fetch(_LOCK_RECORDS, tenant_id, ids):
            state.items.setdefault(
                ("record", r["tenant_id"], r["record_id"]),
                _Row(
                    r["tenant_id"],
                    MatchItem(
                        record_id=r["record_id"],
                        data_stream_key=r["data_stream_key"],
                        amount=r["amount"],
                        direction=r["direction"],
                        decimal_places=r["decimal_places"],
                    ),
                ),
            )
    if entries:
        rows = await conn.fetch(_LOCK_ENTRIES, entries)
        by_tenant: dict[UUID, set[str]] = {}
        for r in rows:
            by_tenant.setdefault(r["tenant_id"], set()).add(r["currency"])
        precisions = {
            tenant: await fetch_precisions(conn, tenant, codes)
            for tenant, codes in by_tenant.items()
        }
        for r in rows:
            state.items.setdefault(
                ("entry", r["entry_id"]),
                _Row(
                    r["tenant_id"],
                    MatchItem(
                        entry_id=r["entry_id"],
                        data_stream_key=ledger_stream(r["code"]),
                        amount=r["amount"],
                        direction=r["direction"],
                        decimal_places=precisions[r["tenant_id"]].get(r["currency"], 0),
                    ),
                    voided=r["status"] == "voided",
                ),
            )
    # Read after the locks: see the module docstring.
    for tenant_id, ids in sorted(records.items()):
        for r in await conn.fetch(_ACTIVE_RECORDS, tenant_id, ids):
            state.active.setdefault(("record", r["tenant_id"], r["record_id"]), r["match_id"])
    if entries:
        for r in await conn.fetch(_ACTIVE_ENTRIES, entries):
            state.active.setdefault(("entry", r["entry_id"]), r["match_id"])


class CreateMatchHandler(CommandHandler[CreateMatch, Match.RecordMatched]):
    """Creates a match (one ``RecordMatched``); raises as listed in the module docstring."""

    async def load(self, batch: Batch, commands: Sequence[CreateMatch]) -> None:
        wanted = {ref.key(c.tenant_id) for c in commands for ref in c.items}
        await _load_items(batch, wanted)

    def decide(self, batch: Batch, command: CreateMatch) -> Decision[Match.RecordMatched]:
        event = self.check(batch, command)
        state = _state(batch)
        keys = [ref.key(command.tenant_id) for ref in command.items]
        for key in keys:
            state.active[key] = command.match_id
        state.matches[command.match_id] = _MatchRow(command.tenant_id, "active", 1, keys)
        return Decision(events=[event], result=event, tenant_id=command.tenant_id)

    def check(self, batch: Batch, command: CreateMatch) -> Match.RecordMatched:
        """The event ``command`` would append, or the first rule it breaks (no effects)."""
        state = _state(batch)
        tenant = command.tenant_id
        keys = [ref.key(tenant) for ref in command.items]
        check_distinct_items(keys)
        rows: list[_Row] = []
        for index, (ref, key) in enumerate(zip(command.items, keys, strict=True)):
            row = state.items.get(key)
            if row is None or row.tenant_id != tenant:
                kind = "record" if ref.record_id is not None else "entry"
                raise NotFound(f"no such {kind}", {"item_index": index, **ref.as_json()})
            rows.append(row)
        items = tuple(row.item for row in rows)
        check_not_voided(items, [row.voided for row in rows])
        difference, places = check_match_balances(items, command.tolerance)
        for index, (ref, key) in enumerate(zip(command.items, keys, strict=True)):
            other = state.active.get(key)
            if other is not None:
                raise AlreadyMatched(
                    "the item is already in an active match",
                    {"item_index": index, "match_id": str(other), **ref.as_json()},
                )
        return Match.RecordMatched(
            originator_id=command.match_id,
            originator_version=1,
            timestamp=Match.RecordMatched.create_timestamp(),
            originator_topic=MATCH_TOPIC,
            tenant_id=tenant,
            items=items,
            difference=difference,
            tolerance=command.tolerance,
            decimal_places=places,
            rule=command.rule,
            note=command.note,
            run_id=command.run_id,
        )


class UnmatchHandler(CommandHandler[Unmatch, Match.RecordUnmatched]):
    """Dissolves an active match (one ``RecordUnmatched``).

    Raises:
        NotFound: no such match in the tenant (404).
        InvalidState: the match is already unmatched (422).
    """

    async def load(self, batch: Batch, commands: Sequence[Unmatch]) -> None:
        state = _state(batch)
        ids = sorted({c.match_id for c in commands})
        for r in await batch.conn.fetch(_LOCK_MATCHES, ids):
            state.matches.setdefault(
                r["match_id"], _MatchRow(r["tenant_id"], r["status"], r["version"], [])
            )
        for r in await batch.conn.fetch(_MATCH_ITEMS, ids):
            row = state.matches[r["match_id"]]
            key: ItemKey = (
                ("record", r["tenant_id"], r["record_id"])
                if r["record_id"] is not None
                else ("entry", r["entry_id"])
            )
            if key not in row.keys:
                row.keys.append(key)
            if row.status == "active":
                state.active.setdefault(key, r["match_id"])

    def decide(self, batch: Batch, command: Unmatch) -> Decision[Match.RecordUnmatched]:
        state = _state(batch)
        row = state.matches.get(command.match_id)
        if row is None or row.tenant_id != command.tenant_id:
            raise NotFound("no such match", {"match_id": str(command.match_id)})
        if row.status != "active":
            raise InvalidState(
                "the match is already unmatched",
                {"match_id": str(command.match_id), "status": row.status},
            )
        event = Match.RecordUnmatched(
            originator_id=command.match_id,
            originator_version=row.version + 1,
            timestamp=Match.RecordUnmatched.create_timestamp(),
            tenant_id=command.tenant_id,
        )
        row.status = "unmatched"
        row.version += 1
        for key in row.keys:
            if state.active.get(key) == command.match_id:
                del state.active[key]
        return Decision(events=[event], result=event, tenant_id=command.tenant_id)


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """A run's final figures, recorded in ``ReconciliationRunCompleted``."""

    left: str
    right: str
    rules: RunRules
    matched: int
    unmatched_left: int
    unmatched_right: int
    skipped: int


@dataclass(frozen=True, kw_only=True)
class CommitRun:
    """A slice of a reconciliation run's matches, or (``summary`` set, no matches) the run's
    completion, committed after all of its slices."""

    tenant_id: UUID
    run_id: UUID
    matches: tuple[CreateMatch, ...] = ()
    summary: RunSummary | None = None


@dataclass(frozen=True, slots=True)
class RunSlice:
    """Per proposal: its event, or the error that made the run skip it."""

    outcomes: list[Match.RecordMatched | LedgerError]
    completed: ReconciliationRun.ReconciliationRunCompleted | None


class CommitRunHandler(CommandHandler[CommitRun, RunSlice]):
    """Writes a run's proposed matches with the rules of :class:`CreateMatchHandler`, sharing
    its batch state. A proposal that an item became unavailable for since the run read its
    items (matched concurrently) is skipped, not fatal. Never raises."""

    def __init__(self, inner: CreateMatchHandler) -> None:
        self._inner = inner

    async def load(self, batch: Batch, commands: Sequence[CommitRun]) -> None:
        matches = [m for c in commands for m in c.matches]
        if matches:
            await self._inner.load(batch, matches)

    def decide(self, batch: Batch, command: CommitRun) -> Decision[RunSlice]:
        outcomes: list[Match.RecordMatched | LedgerError] = []
        events: list[Any] = []
        for match in command.matches:
            try:
                decision = self._inner.decide(batch, match)
            except LedgerError as e:
                outcomes.append(e)
                continue
            outcomes.append(decision.result)
            events.extend(decision.events)
        completed = None
        if command.summary is not None:
            summary = command.summary
            completed = ReconciliationRun.ReconciliationRunCompleted(
                originator_id=command.run_id,
                originator_version=1,
                timestamp=ReconciliationRun.ReconciliationRunCompleted.create_timestamp(),
                originator_topic=RUN_TOPIC,
                tenant_id=command.tenant_id,
                left=summary.left,
                right=summary.right,
                rules=summary.rules,
                matched=summary.matched,
                unmatched_left=summary.unmatched_left,
                unmatched_right=summary.unmatched_right,
                skipped=summary.skipped,
            )
            events.append(completed)
        return Decision(
            events=events, result=RunSlice(outcomes, completed), tenant_id=command.tenant_id
        )
