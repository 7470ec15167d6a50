"""Balance arithmetic: what a ledger's totals mean.

Per ledger and currency, with the ledger's normal side N and the other side O:

- ``posted    = N_posted - O_posted``
- ``pending   = posted + N_pending - O_pending`` (what the books say once holds settle)
- ``available = posted - O_pending`` (a pending movement against the normal side already
  reduces what can be spent; a pending one on the normal side does not add to it yet)
"""

from __future__ import annotations

from collections.abc import Sequence


def available_of(normal_balance: str, totals: Sequence[int]) -> int:
    """The available balance of totals ``[debits_posted, credits_posted, debits_pending,
    credits_pending]`` of a ledger whose normal side is ``normal_balance``."""
    debits_posted, credits_posted, debits_pending, credits_pending = totals
    if normal_balance == "debit":
        return debits_posted - credits_posted - credits_pending
    return credits_posted - debits_posted - debits_pending
