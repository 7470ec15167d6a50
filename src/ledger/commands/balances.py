"""Balances for limit checks inside a group-commit batch (the arithmetic:
:mod:`ledger.domain.balances`).

Only ledgers with a ``min_balance`` need their balance during a decision; their rows are
loaded ``FOR UPDATE`` once per batch, so another process cannot change them before commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from ledger.domain.balances import Totals, available_of
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
