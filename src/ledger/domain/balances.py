"""Balance arithmetic: what a ledger's totals mean.

Per ledger and currency, with the ledger's normal side N and the other side O:

- ``posted    = N_posted - O_posted``
- ``pending   = posted + N_pending - O_pending`` (what the books say once holds settle)
- ``available = posted - O_pending`` (a pending movement against the normal side already
  reduces what can be spent; a pending one on the normal side does not add to it yet)

Range (``limits.TOTAL_MINOR_MAX``, 422 ``AMOUNT_OVERFLOW``): while each side's posted plus
pending total, ``N_posted + N_pending`` and ``O_posted + O_pending``, is at most
``TOTAL_MINOR_MAX``, every figure above and each side's posted and pending totals lie in
``[-TOTAL_MINOR_MAX, TOTAL_MINOR_MAX]``: each is a side's part minus at most the other side's
total. So the guard of a write (:func:`check_sides`) checks only the two side totals, of a
ledger's own totals and of its roll-up (the ledger and its descendants) in each currency;
commits and voids never raise a side total, only postings (reversals included) do.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ledger import limits
from ledger.errors import AmountOverflow


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


class Sides(NamedTuple):
    """A ledger's (or a roll-up's) side totals in one currency, posted plus pending, or a
    change to them (minor units)."""

    debits: int = 0
    credits: int = 0

    def plus(self, change: Sides) -> Sides:
        return Sides(self.debits + change.debits, self.credits + change.credits)


def check_total(value: int, what: str, details: dict[str, Any]) -> int:
    """``value`` if it is an int64 total (``limits.TOTAL_MINOR_MIN`` to ``TOTAL_MINOR_MAX``).

    Raises:
        AmountOverflow: it is not; the message names ``what``, ``details`` go with it.
    """
    if not limits.TOTAL_MINOR_MIN <= value <= limits.TOTAL_MINOR_MAX:
        raise AmountOverflow(
            f"{what} would leave the signed 64-bit range (largest total 2^63-1)",
            {**details, "limit": limits.TOTAL_MINOR_MAX},
        )
    return value


def check_sides(after: Sides, details: dict[str, Any]) -> None:
    """A write's guard for one ledger (or roll-up) and currency: its side totals after the
    write stay in range, so every balance of it does (module docstring).

    Raises:
        AmountOverflow: the debits (checked first) or the credits exceed the range.
    """
    check_total(after.debits, "the ledger's debits", {**details, "side": "debit"})
    check_total(after.credits, "the ledger's credits", {**details, "side": "credit"})
