"""The trial balance (docs/api.md §7): per ledger posted debits and credits in base currency.

Read from the books' maintained rows (design note in ``ledger/projections/books.py``), in one
statement, so from one snapshot: per (ledger, currency) of the tenant, the base totals of its
``balances`` row when nothing in it is dated after ``as_of`` (the usual case: a read of today),
else of the checkpoint with the greatest date <= ``as_of`` (one index probe); with ``known_at``,
minus the tenant's changes in the buckets after its bucket and the tenant's movements of its
bucket after it. The cost grows with the number of ledgers (and, with ``known_at``, with what
happened after it), never with the number of postings.

It counts what the books count as posted: posted journals at their effective date, and
pending journals from the position of their commit on; voids count nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from ledger.domain.balances import check_total
from ledger.store.database import DbSource

_TRIAL_BALANCE_SQL: Final = """
WITH per_ledger AS (
    SELECT x.ledger_id, sum(x.debits) AS debits, sum(x.credits) AS credits
    FROM (
        -- A row whose latest movement is dated on or before $2 is the answer itself; only
        -- the others look up their checkpoint.
        SELECT k.ledger_id, k.debits_base AS debits, k.credits_base AS credits
        FROM balances k WHERE k.tenant_id = $1 AND k.last_date <= $2
        UNION ALL
        SELECT k.ledger_id, c.debits_base, c.credits_base
        FROM balances k
        CROSS JOIN LATERAL (
            SELECT c.debits_base, c.credits_base FROM balance_checkpoints c
            WHERE c.ledger_id = k.ledger_id AND c.currency = k.currency
                AND c.effective_date <= $2
            ORDER BY c.effective_date DESC LIMIT 1
        ) AS c
        WHERE k.tenant_id = $1 AND k.last_date > $2
        UNION ALL
        SELECT g.ledger_id, -g.debits_base, -g.credits_base FROM balance_changes g
        WHERE g.tenant_id = $1 AND g.bucket > ledger_books_bucket($3::int8)
            AND g.effective_date <= $2
        UNION ALL
        SELECT m.ledger_id, -m.debits_base, -m.credits_base FROM balance_movements m
        WHERE m.position > $3::int8 AND m.position <= ledger_books_bucket_last($3::int8)
            AND m.tenant_id = $1 AND m.effective_date <= $2
    ) AS x
    GROUP BY x.ledger_id
    HAVING sum(x.debits) <> 0 OR sum(x.credits) <> 0
), lines AS (
    SELECT l.ledger_id, l.num_id, l.code, l.name, l.type, l.normal_balance, t.debits, t.credits
    FROM per_ledger t JOIN ledgers l ON l.ledger_id = t.ledger_id
), grand AS (
    SELECT coalesce((
        SELECT e.notification_id FROM ledger_events e
        WHERE e.tenant_id = $1 AND e.notification_id <= coalesce($3::int8, 9223372036854775807)
        ORDER BY e.notification_id DESC LIMIT 1
    ), 0) AS head,
        coalesce(sum(debits), 0) AS total_debits, coalesce(sum(credits), 0) AS total_credits
    FROM lines
)
SELECT g.head, g.total_debits, g.total_credits, p.*
FROM grand g LEFT JOIN LATERAL (
    SELECT * FROM lines WHERE num_id > $4 ORDER BY num_id LIMIT $5
) AS p ON true
ORDER BY p.num_id
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
        """Signed on the ledger's normal side (docs/api.md §4, Balance sign)."""
        if self.normal_balance == "debit":
            return self.debits - self.credits
        return self.credits - self.debits


@dataclass(frozen=True, slots=True)
class TrialBalancePage:
    """A page of lines (``num_id`` order), grand totals over every line, and the position the
    answer reflects."""

    lines: list[TrialBalanceLine]
    more: bool
    total_debits: int
    total_credits: int
    position: int


async def trial_balance(
    source: DbSource,
    tenant_id: UUID,
    as_of: dt.date,
    known_at: int | None,
    *,
    after_num_id: int = 0,
    limit: int,
) -> TrialBalancePage:
    """The ledgers of the tenant with posted activity by ``as_of`` (as known at ``known_at``
    if given) whose ``num_id`` is above ``after_num_id``, at most ``limit`` of them.

    Raises:
        AmountOverflow: a figure of the page, or a grand total, is beyond the int64 range
            (each journal's totals are int64, but the totals of many journals need not be).
    """
    rows = await source.fetch(
        _TRIAL_BALANCE_SQL, tenant_id, as_of, known_at, after_num_id, limit + 1
    )
    # The tenant's last event position up to known_at and the log's end (issue 12: another
    # tenant's write volume never shows), read in the same snapshot.
    position = int(rows[0]["head"])
    lines = [
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
        if r["ledger_id"] is not None
    ]
    page = TrialBalancePage(
        lines=lines[:limit],
        more=len(lines) > limit,
        total_debits=int(rows[0]["total_debits"]),
        total_credits=int(rows[0]["total_credits"]),
        position=position,
    )
    _check_range(page)
    return page


def _check_range(page: TrialBalancePage) -> None:
    """Every figure the page answers is an int64 (``ledger.domain.balances.check_total``)."""
    for name, value in (("debits", page.total_debits), ("credits", page.total_credits)):
        check_total(value, f"the trial balance's total {name}", {"field": f"totals.{name}"})
    for line in page.lines:
        details = {"ledger_id": str(line.ledger_id)}
        check_total(line.debits, "a ledger's debits in the trial balance", details)
        check_total(line.credits, "a ledger's credits in the trial balance", details)
        check_total(line.balance, "a ledger's balance in the trial balance", details)
