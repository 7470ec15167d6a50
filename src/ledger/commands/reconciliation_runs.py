"""Reconciliation runs: match two streams by rules, in bulk (docs/api.md §6).

A run:

1. checks its request (400 ``VALIDATION_ERROR``: the two streams are the same or a key is
   malformed, ``match_on`` is empty or names an unknown field twice, a bound is out of
   range; 422 ``LEDGER_NOT_FOUND``: a ``ledger:<code>`` stream names no ledger; 422
   ``DATA_STREAM_NOT_FOUND``: a record stream has no record, so no stream has that key: a
   typo in a key is refused like a typo in a ledger code, never answered as an empty run);
2. reads the unreconciled items of both streams (one statement each), scales amounts to the
   largest ``decimal_places`` among them, and hands them to the pure matcher
   (:func:`ledger.domain.reconciliation.reconcile`, in a worker thread so the event loop
   keeps serving); the matcher's contract makes the result deterministic;
3. a dry run stops here: it answers the proposed matches (``status: "proposed"``) and
   writes nothing, so it has no id (``run_id`` None, and None in each proposal's rule): a
   run id is only ever answered for a run ``GET /v1/reconciliation-runs/{id}`` can read;
4. otherwise writes the matches through group commit in slices of
   :data:`RUN_SLICE_MATCHES`, each slice one transaction, each match decided by the same
   rules as ``POST /v1/matches`` against locked state. A proposal whose item was matched
   concurrently since step 2 is skipped (counted in ``skipped``), never written twice.
   Every match stores a :class:`~ledger.domain.records.MatchRule` with the run's id, its
   kind (one-to-one or one-to-many), the rules and its deltas (amount difference and days
   apart). Finally one ``ReconciliationRunCompleted`` records the run and its counts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from ledger import limits
from ledger.commands.reconciliation import (
    CommitRun,
    CommitRunHandler,
    CreateMatch,
    ItemRef,
    RunSummary,
)
from ledger.commands.records import check_stream_key, refresh_statistics
from ledger.documents.records import MatchItemOut, MatchOut, render_matched
from ledger.domain.reconciliation import (
    DATE_WINDOW_DAYS_MAX,
    MATCH_ON_FIELDS,
    Item,
    Proposal,
    Rules,
    normalize_description,
    reconcile,
)
from ledger.domain.records import (
    LEDGER_STREAM_PREFIX,
    MatchRule,
    RunRules,
    scale,
    tolerance_at_scale,
)
from ledger.errors import DataStreamNotFound, LedgerError, LedgerNotFound, ValidationError
from ledger.queries.records import (
    StreamItem,
    ledger_exists,
    record_stream_exists,
    unreconciled_items,
)
from ledger.store.database import DbPool
from ledger.store.group_commit import GroupCommitter

RUN_SLICE_MATCHES: Final = limits.RUN_SLICE_MATCHES


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    tenant_id: UUID
    left: str
    right: str
    match_on: tuple[str, ...]
    date_window_days: int = 0
    amount_tolerance: int = 0
    allow_one_to_many: bool = False
    dry_run: bool = False

    @property
    def rules(self) -> RunRules:
        return RunRules(
            match_on=tuple(f for f in MATCH_ON_FIELDS if f in self.match_on),
            date_window_days=self.date_window_days,
            amount_tolerance=self.amount_tolerance,
            allow_one_to_many=self.allow_one_to_many,
        )

    @property
    def matcher_rules(self) -> Rules:
        """The rules as the matcher (:func:`ledger.domain.reconciliation.reconcile`) takes them."""
        return Rules(
            match_on=frozenset(self.match_on),
            date_window_days=self.date_window_days,
            amount_tolerance=self.amount_tolerance,
            allow_one_to_many=self.allow_one_to_many,
        )


@dataclass(frozen=True, kw_only=True)
class RunOutcome:
    run_id: UUID | None  # None for a dry run: nothing was written to read back
    request: RunRequest
    matches: list[MatchOut]
    matched: int
    unmatched_left: int
    unmatched_right: int
    skipped: int
    created_at: dt.datetime
    position: int | None


def _check(request: RunRequest) -> None:
    for name in ("left", "right"):
        key = getattr(request, name)
        if isinstance(key, str) and key.startswith(LEDGER_STREAM_PREFIX):
            code = key.removeprefix(LEDGER_STREAM_PREFIX)
            if not code or len(key) > limits.STREAM_KEY_LENGTH_MAX or not key.isprintable():
                raise ValidationError("a ledger stream is ledger:<ledger code>", {"field": name})
        else:
            check_stream_key(key, name)
    if request.left == request.right:
        raise ValidationError("left and right must be different streams", {"field": "right"})
    if not request.match_on:
        raise ValidationError("match_on names at least one rule", {"field": "rules.match_on"})
    if len(set(request.match_on)) != len(request.match_on) or not set(request.match_on) <= set(
        MATCH_ON_FIELDS
    ):
        raise ValidationError(
            f"match_on is a list of distinct values of {', '.join(MATCH_ON_FIELDS)}",
            {"field": "rules.match_on"},
        )
    if not 0 <= request.date_window_days <= DATE_WINDOW_DAYS_MAX:
        raise ValidationError(
            f"date_window_days is 0 to {DATE_WINDOW_DAYS_MAX}",
            {"field": "rules.date_window_days"},
        )
    if not 0 <= request.amount_tolerance <= limits.AMOUNT_MINOR_MAX:
        raise ValidationError(
            "amount_tolerance is 0 to 2^63-1", {"field": "rules.amount_tolerance"}
        )


def _items(stream: Sequence[StreamItem], places: int) -> list[Item]:
    return [
        Item(
            seq=s.seq,
            amount=scale(s.amount, s.decimal_places, places),
            direction=s.direction,
            day=s.date.toordinal(),
            external_id=s.external_id,
            description=normalize_description(s.description),
        )
        for s in stream
    ]


def _ref(item: StreamItem) -> ItemRef:
    return ItemRef(record_id=item.record_id, entry_id=item.entry_id)


def _item_document(item: StreamItem, stream: str) -> MatchItemOut:
    return MatchItemOut(
        record_id=item.record_id,
        entry_id=item.entry_id,
        data_stream_key=stream,
        amount=item.amount,
        direction=item.direction,
        decimal_places=item.decimal_places,
    )


@dataclass(frozen=True, slots=True)
class _Run:
    """A run under way: its request, the items it read (amounts at scale ``places``)."""

    run_id: UUID | None  # None for a dry run (step 3)
    request: RunRequest
    left: Sequence[StreamItem]
    right: Sequence[StreamItem]
    places: int
    rules: RunRules  # the request's, computed once

    @property
    def written_id(self) -> UUID:
        """The id of a run that writes (not a dry run)."""
        assert self.run_id is not None, "a dry run writes nothing"
        return self.run_id

    def rule(self, proposal: Proposal) -> MatchRule:
        """Why the run made the match ``proposal``: its rules and the deltas accepted."""
        return MatchRule(
            run_id=self.run_id,
            kind=proposal.kind,
            match_on=self.rules.match_on,
            date_window_days=self.request.date_window_days,
            amount_tolerance=self.request.amount_tolerance,
            amount_difference=proposal.amount_difference,
            days_apart=proposal.days_apart,
        )

    def tolerance(self, proposal: Proposal) -> int:
        """The run's tolerance at the scale of the match ``proposal``."""
        own = max(
            [self.left[i].decimal_places for i in proposal.left]
            + [self.right[i].decimal_places for i in proposal.right]
        )
        return tolerance_at_scale(self.request.amount_tolerance, self.places, own)

    def create_match(self, proposal: Proposal) -> CreateMatch:
        return CreateMatch(
            tenant_id=self.request.tenant_id,
            items=(
                *(_ref(self.left[i]) for i in proposal.left),
                *(_ref(self.right[i]) for i in proposal.right),
            ),
            tolerance=self.tolerance(proposal),
            rule=self.rule(proposal),
            run_id=self.run_id,
        )


async def run_reconciliation(
    committer: GroupCommitter, pool: DbPool, run_handler: CommitRunHandler, request: RunRequest
) -> RunOutcome:
    """Run (or, with ``dry_run``, only propose) a reconciliation; see the module docstring.

    Raises:
        ValidationError: a malformed request (400).
        LedgerNotFound: a ``ledger:<code>`` stream names no ledger of the tenant (422).
        DataStreamNotFound: a record stream has no record of the tenant (422).
    """
    _check(request)
    await _check_streams_exist(pool, request)
    tenant = request.tenant_id
    left = await unreconciled_items(pool, tenant, request.left)
    right = await unreconciled_items(pool, tenant, request.right)
    await refresh_statistics(pool, {"records": len(left) + len(right)})
    places = max((s.decimal_places for s in (*left, *right)), default=2)
    proposals = await asyncio.to_thread(
        reconcile, _items(left, places), _items(right, places), request.matcher_rules
    )
    run = _Run(
        run_id=None if request.dry_run else uuid.uuid4(),
        request=request,
        left=left,
        right=right,
        places=places,
        rules=request.rules,
    )
    if request.dry_run:
        return _dry_run_outcome(run, proposals)
    documents, matched_left, matched_right, skipped = await _commit_matches(
        committer, pool, run_handler, run, proposals
    )
    summary = RunSummary(
        left=request.left,
        right=request.right,
        rules=run.rules,
        matched=len(documents),
        unmatched_left=len(left) - matched_left,
        unmatched_right=len(right) - matched_right,
        skipped=skipped,
    )
    committed = await committer.submit(
        run_handler, CommitRun(tenant_id=tenant, run_id=run.written_id, summary=summary)
    )
    completed = committed.result.completed
    assert completed is not None
    return RunOutcome(
        run_id=run.run_id,
        request=request,
        matches=documents,
        matched=summary.matched,
        unmatched_left=summary.unmatched_left,
        unmatched_right=summary.unmatched_right,
        skipped=skipped,
        created_at=completed.timestamp,
        position=committed.position,
    )


async def _check_streams_exist(pool: DbPool, request: RunRequest) -> None:
    """Step 1's last check, left then right: each stream exists. A ``ledger:<code>`` stream
    exists when the ledger does; a record stream from its first record on."""
    for name in ("left", "right"):
        key: str = getattr(request, name)
        details = {"field": name, "data_stream_key": key}
        if key.startswith(LEDGER_STREAM_PREFIX):
            code = key.removeprefix(LEDGER_STREAM_PREFIX)
            if not await ledger_exists(pool, request.tenant_id, code):
                raise LedgerNotFound(f"no ledger with code {code!r}", details)
        elif not await record_stream_exists(pool, request.tenant_id, key):
            raise DataStreamNotFound(f"no record has the data stream key {key!r}", details)


def _dry_run_outcome(run: _Run, proposals: Sequence[Proposal]) -> RunOutcome:
    """Step 3: the proposed matches, nothing written."""
    now = dt.datetime.now(dt.UTC)
    return RunOutcome(
        run_id=run.run_id,
        request=run.request,
        matches=[_proposed(run, p, now) for p in proposals],
        matched=len(proposals),
        unmatched_left=len(run.left) - sum(len(p.left) for p in proposals),
        unmatched_right=len(run.right) - sum(len(p.right) for p in proposals),
        skipped=0,
        created_at=now,
        position=None,
    )


async def _commit_matches(
    committer: GroupCommitter,
    pool: DbPool,
    run_handler: CommitRunHandler,
    run: _Run,
    proposals: Sequence[Proposal],
) -> tuple[list[MatchOut], int, int, int]:
    """Step 4: write the proposals in slices; returns the matches written, how many left
    and right items they hold, and how many proposals were skipped."""
    documents: list[MatchOut] = []
    matched_left = matched_right = skipped = 0
    for start in range(0, len(proposals), RUN_SLICE_MATCHES):
        chunk = proposals[start : start + RUN_SLICE_MATCHES]
        matches = tuple(run.create_match(p) for p in chunk)
        committed = await committer.submit(
            run_handler,
            CommitRun(tenant_id=run.request.tenant_id, run_id=run.written_id, matches=matches),
        )
        positions = iter(committed.positions)
        for proposal, outcome in zip(chunk, committed.result.outcomes, strict=True):
            if isinstance(outcome, LedgerError):
                skipped += 1
                continue
            documents.append(render_matched(outcome, next(positions)))
            matched_left += len(proposal.left)
            matched_right += len(proposal.right)
        await refresh_statistics(
            pool, {"matches": len(documents), "match_items": matched_left + matched_right}
        )
    return documents, matched_left, matched_right, skipped


def _proposed(run: _Run, proposal: Proposal, now: dt.datetime) -> MatchOut:
    request = run.request
    items = [_item_document(run.left[i], request.left) for i in proposal.left] + [
        _item_document(run.right[i], request.right) for i in proposal.right
    ]
    own = max(i.decimal_places for i in items)
    credits = sum(scale(i.amount, i.decimal_places, own) for i in items if i.direction == "credit")
    debits = sum(scale(i.amount, i.decimal_places, own) for i in items if i.direction == "debit")
    return MatchOut(
        id=None,
        items=items,
        difference=credits - debits,
        tolerance=run.tolerance(proposal),
        decimal_places=own,
        rule=run.rule(proposal),
        note=None,
        run_id=None,
        status="proposed",
        created_at=now,
        unmatched_at=None,
        position=None,
    )
