"""The database's own range guard on totals (the second line of defence behind the domain's,
docs/api.md §1 Money, 422 ``AMOUNT_OVERFLOW``).

Every decision checks that the totals it changes stay int64 (``ledger.domain.balances``)
before anything is written. Should a total still leave the range in SQL (two server
processes passing the check at once, or data older than the check), PostgreSQL refuses the
statement, and the whole transaction with it: a ``bigint`` column or cast raises SQLSTATE
22003 ``numeric_value_out_of_range``, and the ``numeric`` totals of ``balances`` are bounded
by the check ``balances_sides_int64`` (migration 0012), SQLSTATE 23514. Both mean "a total
would leave the signed 64-bit range", never a bug.
"""

from __future__ import annotations

from typing import Final

import asyncpg

from ledger.errors import AmountOverflow

# The CHECK constraints whose violation is a total out of range (migration 0012).
RANGE_CONSTRAINTS: Final = frozenset({"balances_sides_int64"})
RANGE_ERRORS: Final = (asyncpg.NumericValueOutOfRangeError, asyncpg.CheckViolationError)


def is_amount_overflow(error: BaseException) -> bool:
    """Whether ``error`` is the database refusing a total out of the int64 range."""
    if isinstance(error, asyncpg.NumericValueOutOfRangeError):
        return True
    return (
        isinstance(error, asyncpg.CheckViolationError)
        and getattr(error, "constraint_name", None) in RANGE_CONSTRAINTS
    )


def amount_overflow(error: BaseException) -> AmountOverflow:
    """The 422 that a database range error (:func:`is_amount_overflow`) answers."""
    assert is_amount_overflow(error)
    return AmountOverflow(
        "a total or balance would leave the signed 64-bit range; nothing was written",
        {"sqlstate": getattr(error, "sqlstate", None)},
    )
