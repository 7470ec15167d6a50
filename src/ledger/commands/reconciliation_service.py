"""The reconciliation use cases as one object: matches, unmatching, runs.

Records are imported by :class:`ledger.commands.records.RecordCommands`; this service matches
them (and ledger entries) and runs the matcher. It is its own service so that the records
command module and the runs module do not import each other.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from ledger.commands.reconciliation import (
    CommitRunHandler,
    CreateMatch,
    CreateMatchHandler,
    Unmatch,
    UnmatchHandler,
)
from ledger.commands.reconciliation_runs import RunOutcome, RunRequest, run_reconciliation
from ledger.documents.records import MatchOut, render_matched
from ledger.errors import AlreadyMatched
from ledger.queries.records import match_document
from ledger.store.database import DbPool
from ledger.store.group_commit import GroupCommitter


class ReconciliationCommands:
    """Matching and reconciliation runs, bound to one group committer and pool."""

    def __init__(self, committer: GroupCommitter, pool: DbPool) -> None:
        self._committer = committer
        self._pool = pool
        self.create_match_handler = CreateMatchHandler()
        self.unmatch_handler = UnmatchHandler()
        self.run_handler = CommitRunHandler(self.create_match_handler)

    async def create_match(self, command: CreateMatch) -> MatchOut:
        """Match items; the new match's document (with its position).

        Raises the errors of :class:`~ledger.commands.reconciliation.CreateMatchHandler`.
        """
        try:
            committed = await self._committer.submit(self.create_match_handler, command)
        except asyncpg.UniqueViolationError as e:
            # The database's second check (see ledger.commands.reconciliation): reachable
            # only if the handler's own check were bypassed, but never a 500.
            if (e.constraint_name or "").startswith("match_items_active"):
                raise AlreadyMatched("an item is already in an active match") from None
            raise
        position = committed.position
        assert position is not None
        return render_matched(committed.result, position)

    async def unmatch(self, tenant_id: UUID, match_id: UUID) -> bytes:
        """Dissolve a match; its document as it is now (``unmatched``).

        Raises:
            NotFound: no such match in the tenant (404).
            InvalidState: it is already unmatched (422).
        """
        await self._committer.submit(
            self.unmatch_handler, Unmatch(tenant_id=tenant_id, match_id=match_id)
        )
        document = await match_document(self._pool, tenant_id, match_id)
        assert document is not None, "an unmatched match is committed"
        return document

    async def run(self, request: RunRequest) -> RunOutcome:
        """A reconciliation run; see :mod:`ledger.commands.reconciliation_runs`."""
        return await run_reconciliation(self._committer, self._pool, self.run_handler, request)
