"""Balance arithmetic for limit checks inside a group-commit batch.

Definitions (docs/api.md §4), per ledger and currency, with the ledger's normal side N and
the other side O:

- ``posted    = N_posted - O_posted``
- ``pending   = posted + N_pending - O_pending`` (what the books say once holds settle)
- ``available = posted - O_pending`` (a pending movement against the normal side already
  reduces what can be spent; a pending one on the normal side does not add to it yet)

Only ledgers with a ``min_balance`` need their balance during a decision; their rows are
loaded ``FOR UPDATE`` once per batch, so another process cannot change them before commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from ledger.queries.ledgers import LedgerRow
from ledger.store.database import DbConnection

Totals = list[int]  # [debits_posted, credits_posted, debits_pending, credits_pending]


def available_of(normal_balance: str, totals: Sequence[int]) -> int:
    debits_posted, credits_posted, debits_pending, credits_pending = totals
    if normal_balance == "debit":
        return debits_posted - credits_posted - credits_pending
    return credits_posted - debits_posted - debits_pending


@dataclass
class BalanceState:
    """Totals of the limited ledgers touched by a batch, as loaded plus accepted changes."""

    totals: dict[tuple[UUID, str], Totals] = field(default_factory=dict)

    def get(self, key: tuple[UUID, str]) -> Totals:
        return self.totals.get(key, [0, 0, 0, 0])

    def apply(self, change: Available) -> None:
        current = self.get((change.row.ledger_id, change.currency))
        self.totals[(change.row.ledger_id, change.currency)] = [
            a + b for a, b in zip(current, change.deltas, strict=True)
        ]


@dataclass(frozen=True)
class Available:
    """The change one journal makes to one limited ledger's totals."""

    row: LedgerRow
    currency: str
    deltas: tuple[int, int, int, int] = (0, 0, 0, 0)

    def plus(self, direction: str, amount: int, *, pending: bool) -> Available:
        index = (0 if direction == "debit" else 1) + (2 if pending else 0)
        deltas = list(self.deltas)
        deltas[index] += amount
        return Available(
            row=self.row,
            currency=self.currency,
            deltas=(deltas[0], deltas[1], deltas[2], deltas[3]),
        )


def available_after(state: BalanceState, change: Available) -> tuple[int, int]:
    """(available before, available after) the change."""
    totals = state.get((change.row.ledger_id, change.currency))
    after = [a + b for a, b in zip(totals, change.deltas, strict=True)]
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
        state.totals[(r["ledger_id"], r["currency"])] = [
            int(r["debits_posted"]),
            int(r["credits_posted"]),
            int(r["debits_pending"]),
            int(r["credits_pending"]),
        ]
