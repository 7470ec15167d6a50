"""Balances for limit checks inside a group-commit batch (the arithmetic:
:mod:`ledger.domain.balances`).

Only ledgers with a ``min_balance`` need their balance during a decision; their rows are
loaded ``FOR UPDATE`` once per batch, so another process cannot change them before commit.

The range guard (422 ``AMOUNT_OVERFLOW``) needs the side totals of every ledger a batch posts
to and of its ancestors (:class:`RollupState`), read once per batch without a lock: a lock
on every ancestor would serialise all postings under one root. Batches of one process are
decided one after the other against this state, so it is exact there; two server processes
posting to one ledger at once may each pass it, and then the ``balances`` table's own
``balances_sides_int64`` check (migration 0012) refuses the later commit, which answers the
same 422.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from ledger.domain.balances import Sides, Totals, available_of
from ledger.domain.ledgers import Direction
from ledger.queries.ledgers import LedgerRow
from ledger.store.database import DbConnection


@dataclass
class BalanceState:
    """Totals of the limited ledgers touched by a batch, as loaded plus accepted changes."""

    totals: dict[tuple[UUID, str], Totals] = field(default_factory=dict)

    def get(self, key: tuple[UUID, str]) -> Totals:
        return self.totals.get(key, Totals())

    def apply(self, change: Available) -> None:
        key = (change.row.ledger_id, change.currency)
        self.totals[key] = self.get(key).plus(change.deltas)


@dataclass(frozen=True)
class Available:
    """The change one journal makes to one limited ledger's totals."""

    row: LedgerRow
    currency: str
    deltas: Totals = field(default_factory=Totals)

    def plus(self, direction: Direction, amount: int, *, pending: bool) -> Available:
        """This change with one more entry of ``amount`` on the ``direction`` side."""
        if direction == "debit":
            entry = Totals(debits_pending=amount) if pending else Totals(debits_posted=amount)
        else:
            entry = Totals(credits_pending=amount) if pending else Totals(credits_posted=amount)
        return Available(row=self.row, currency=self.currency, deltas=self.deltas.plus(entry))


def available_after(state: BalanceState, change: Available) -> tuple[int, int]:
    """(available before, available after) the change."""
    totals = state.get((change.row.ledger_id, change.currency))
    after = totals.plus(change.deltas)
    normal = change.row.normal_balance
    return available_of(normal, totals), available_of(normal, after)


async def load_limited_balances(
    conn: DbConnection, keys: Sequence[tuple[UUID, str]], state: BalanceState
) -> None:
    """Load and lock (FOR UPDATE, in a fixed order: no deadlocks) the balances of ``keys``."""
    if not keys:
        return
    unique = sorted(set(keys))
    rows = await conn.fetch(
        "SELECT b.ledger_id, b.currency, b.debits_posted, b.credits_posted, b.debits_pending,"
        " b.credits_pending FROM balances b"
        " JOIN unnest($1::uuid[], $2::text[]) AS k(ledger_id, currency) USING (ledger_id, currency)"
        " ORDER BY b.ledger_id, b.currency FOR UPDATE OF b",
        [k[0] for k in unique],
        [k[1] for k in unique],
    )
    for r in rows:
        state.totals[(r["ledger_id"], r["currency"])] = Totals(
            debits_posted=int(r["debits_posted"]),
            credits_posted=int(r["credits_posted"]),
            debits_pending=int(r["debits_pending"]),
            credits_pending=int(r["credits_pending"]),
        )


@dataclass
class RollupState:
    """Side totals (posted plus pending, own and descendants) of the ledgers a batch posts
    to and of their ancestors, per (ledger, currency): as loaded plus accepted changes."""

    sides: dict[tuple[UUID, str], Sides] = field(default_factory=dict)

    def get(self, key: tuple[UUID, str]) -> Sides:
        return self.sides.get(key, Sides())

    def apply(self, changes: dict[tuple[UUID, str], Sides]) -> None:
        for key, change in changes.items():
            self.sides[key] = self.get(key).plus(change)


async def load_rollups(
    conn: DbConnection, keys: Sequence[tuple[UUID, str]], state: RollupState
) -> None:
    """Load the side totals of ``keys`` not loaded yet (no lock: the module docstring)."""
    wanted = sorted(set(keys) - state.sides.keys())
    if not wanted:
        return
    rows = await conn.fetch(
        "SELECT b.ledger_id, b.currency,"
        " b.tree_debits_posted + b.tree_debits_pending AS debits,"
        " b.tree_credits_posted + b.tree_credits_pending AS credits FROM balances b"
        " JOIN unnest($1::uuid[], $2::text[]) AS k(ledger_id, currency)"
        " USING (ledger_id, currency)",
        [k[0] for k in wanted],
        [k[1] for k in wanted],
    )
    for r in rows:
        state.sides[(r["ledger_id"], r["currency"])] = Sides(int(r["debits"]), int(r["credits"]))
