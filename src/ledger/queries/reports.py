"""The trial balance (spec/API.md §7): per ledger posted debits and credits in base currency.

Two sources, one answer:

- without ``known_at``: the asynchronous ``trial_balance_daily`` projection (sums over days
  <= ``as_of``); its rows reflect the projection's tracking position;
- with ``known_at``: the inline ``balance_movements`` rows (each with its position) joined
  to their entries' ``amount_base``: "what did the books say at that position". Daily totals
  cannot answer that (they have no positions); movements can, exactly.

Both count what the books count as posted: posted journals at their effective date, and
pending journals from the position of their commit on; voids count nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

_FROM_DAILY: Final = """
SELECT ledger_id, sum(debits_base) AS debits, sum(credits_base) AS credits
FROM trial_balance_daily WHERE tenant_id = $1 AND effective_date <= $2 GROUP BY ledger_id
"""
_FROM_MOVEMENTS: Final = """
SELECT m.ledger_id,
    coalesce(sum(e.amount_base) FILTER (WHERE m.debits_posted <> 0), 0) AS debits,
    coalesce(sum(e.amount_base) FILTER (WHERE m.credits_posted <> 0), 0) AS credits
FROM balance_movements m JOIN journal_entries e ON e.entry_id = m.entry_id
WHERE m.tenant_id = $1 AND m.effective_date <= $2 AND m.position <= $3
    AND (m.debits_posted <> 0 OR m.credits_posted <> 0)
GROUP BY m.ledger_id
"""
_WITH_LEDGERS: Final = """
SELECT l.ledger_id, l.num_id, l.code, l.name, l.type, l.normal_balance, t.debits, t.credits
FROM ({totals}) t JOIN ledgers l ON l.ledger_id = t.ledger_id
WHERE t.debits <> 0 OR t.credits <> 0
ORDER BY l.num_id
"""


@dataclass(frozen=True, slots=True)
class TrialBalanceLine:
    """One ledger's posted totals in the tenant's base currency (minor units)."""

    ledger_id: UUID
    num_id: int
    code: str
    name: str
    type: str
    normal_balance: str
    debits: int
    credits: int

    @property
    def balance(self) -> int:
        """Signed on the ledger's normal side (spec/API.md §4, Balance sign)."""
        if self.normal_balance == "debit":
            return self.debits - self.credits
        return self.credits - self.debits


async def trial_balance(
    source: Any, tenant_id: UUID, as_of: dt.date, known_at: int | None
) -> list[TrialBalanceLine]:
    """Every ledger of the tenant with posted activity by ``as_of``, in ``num_id`` order."""
    if known_at is None:
        rows = await source.fetch(_WITH_LEDGERS.format(totals=_FROM_DAILY), tenant_id, as_of)
    else:
        rows = await source.fetch(
            _WITH_LEDGERS.format(totals=_FROM_MOVEMENTS), tenant_id, as_of, known_at
        )
    return [
        TrialBalanceLine(
            ledger_id=r["ledger_id"],
            num_id=r["num_id"],
            code=r["code"],
            name=r["name"],
            type=r["type"],
            normal_balance=r["normal_balance"],
            debits=int(r["debits"]),
            credits=int(r["credits"]),
        )
        for r in rows
    ]
