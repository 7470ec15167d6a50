"""Balance arithmetic: what a ledger's totals mean.

Per ledger and currency, with the ledger's normal side N and the other side O:

- ``posted    = N_posted - O_posted``
- ``pending   = posted + N_pending - O_pending`` (what the books say once holds settle)
- ``available = posted - O_pending`` (a pending movement against the normal side already
  reduces what can be spent; a pending one on the normal side does not add to it yet)
"""

from __future__ import annotations

from typing import NamedTuple


class Totals(NamedTuple):
    """One ledger's totals in one currency (minor units), or a change to them."""

    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0

    def plus(self, change: Totals) -> Totals:
        """These totals with ``change`` added, field by field."""
        return Totals(
            self.debits_posted + change.debits_posted,
            self.credits_posted + change.credits_posted,
            self.debits_pending + change.debits_pending,
            self.credits_pending + change.credits_pending,
        )


def available_of(normal_balance: str, totals: Totals) -> int:
    """The available balance of ``totals`` of a ledger whose normal side is
    ``normal_balance``."""
    if normal_balance == "debit":
        return totals.debits_posted - totals.credits_posted - totals.credits_pending
    return totals.credits_posted - totals.debits_posted - totals.debits_pending
