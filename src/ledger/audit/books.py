"""The books' invariants, checked on the maintained rows themselves (set-based SQL).

The second check of the rules the write path keeps (TIGER_STYLE's paired assertions): the
rows must satisfy them whatever code wrote them.

1. **Double entry**: per tenant and currency, the ledgers' own debits equal their own credits
   (posted, pending and base amounts), in ``balances``.
2. **The cascade**: every ``balances`` row's subtree totals (``tree_*``) are the sum of the
   own totals of the ledger and all its descendants (``ledgers.ancestor_ids``).
3. **Checkpoints**: each (ledger, currency)'s latest checkpoint equals its ``balances`` row,
   and is dated ``balances.last_date``.
4. **Changes**: each (ledger, currency)'s changes sum to its ``balances`` row.
5. **Two folds agree**: per ledger and effective date, the base totals of the books'
   changes equal those of the trial balance's own table (``trial_balance_daily``), an
   independent fold of the same events by other code (the asynchronous projection). Checked
   only when that projection has caught up with the snapshot's last position (else there is
   nothing to compare yet).

Each query returns the first few offending keys; an empty answer means the invariant holds.
``ledger audit verify`` runs them on its snapshot; the property tests run them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ledger import limits
from ledger.store.database import DbConnection

_SHOWN_MAX: Final = limits.AUDIT_BOOKS_SHOWN_MAX
_OWN: Final = (
    "debits_posted",
    "credits_posted",
    "debits_pending",
    "credits_pending",
    "debits_base",
    "credits_base",
)
_TREE: Final = (
    "tree_debits_posted",
    "tree_credits_posted",
    "tree_debits_pending",
    "tree_credits_pending",
)
_ALL: Final = (*_OWN, *_TREE)


def _differ(left: str, right: str, columns: tuple[str, ...]) -> str:
    return " OR ".join(f"{left}.{c} IS DISTINCT FROM {right}.{c}" for c in columns)


_CHECKS: Final = {
    "double entry (per tenant and currency, debits = credits)": f"""
        SELECT tenant_id, currency FROM balances GROUP BY tenant_id, currency
        HAVING sum(debits_posted) <> sum(credits_posted)
            OR sum(debits_pending) <> sum(credits_pending)
            OR sum(debits_base) <> sum(credits_base)
        ORDER BY 1, 2 LIMIT {_SHOWN_MAX}""",
    "the cascade (subtree totals = sum of the subtree's own totals)": f"""
        SELECT b.ledger_id, b.currency FROM balances b
        JOIN (
            SELECT a.ancestor AS ledger_id, o.currency,
                sum(o.debits_posted) AS tree_debits_posted,
                sum(o.credits_posted) AS tree_credits_posted,
                sum(o.debits_pending) AS tree_debits_pending,
                sum(o.credits_pending) AS tree_credits_pending
            FROM balances o JOIN ledgers l ON l.ledger_id = o.ledger_id
                CROSS JOIN LATERAL unnest(l.ancestor_ids) AS a(ancestor)
            GROUP BY 1, 2
        ) AS s ON s.ledger_id = b.ledger_id AND s.currency = b.currency
        WHERE {_differ("b", "s", _TREE)}
        ORDER BY 1, 2 LIMIT {_SHOWN_MAX}""",
    "checkpoints (the latest one = the current totals)": f"""
        SELECT b.ledger_id, b.currency FROM balances b
        LEFT JOIN LATERAL (
            SELECT * FROM balance_checkpoints c
            WHERE c.ledger_id = b.ledger_id AND c.currency = b.currency
            ORDER BY c.effective_date DESC LIMIT 1
        ) AS c ON true
        WHERE {_differ("b", "c", _ALL)} OR b.last_date IS DISTINCT FROM c.effective_date
        ORDER BY 1, 2 LIMIT {_SHOWN_MAX}""",
    "changes (their sum = the current totals)": f"""
        SELECT b.ledger_id, b.currency FROM balances b
        LEFT JOIN (
            SELECT ledger_id, currency, {", ".join(f"sum({c}) AS {c}" for c in _ALL)}
            FROM balance_changes GROUP BY 1, 2
        ) AS g ON g.ledger_id = b.ledger_id AND g.currency = b.currency
        WHERE {_differ("b", "g", _ALL)}
        ORDER BY 1, 2 LIMIT {_SHOWN_MAX}""",
    "two folds (books = the trial balance projection, per ledger and date)": f"""
        SELECT coalesce(b.ledger_id, t.ledger_id), coalesce(b.effective_date, t.effective_date)
        FROM (
            SELECT ledger_id, effective_date, sum(debits_base) AS d, sum(credits_base) AS c
            FROM balance_changes GROUP BY 1, 2
        ) AS b
        FULL JOIN (
            SELECT ledger_id, effective_date, sum(debits_base) AS d, sum(credits_base) AS c
            FROM trial_balance_daily GROUP BY 1, 2
        ) AS t ON t.ledger_id = b.ledger_id AND t.effective_date = b.effective_date
        WHERE (coalesce(b.d, 0), coalesce(b.c, 0)) <> (coalesce(t.d, 0), coalesce(t.c, 0))
            AND (SELECT notification_id FROM ledger_tracking
                 WHERE application_name = 'trial_balance')
                = (SELECT position FROM ledger_chain_head)
        ORDER BY 1, 2 LIMIT {_SHOWN_MAX}""",
}


@dataclass(frozen=True, slots=True)
class BrokenInvariant:
    """An invariant that does not hold, and the first keys where it does not."""

    name: str
    keys: list[tuple[Any, ...]]

    def message(self) -> str:
        shown = ", ".join(str(tuple(str(v) for v in key)) for key in self.keys)
        return f"books invariant broken: {self.name}, e.g. at {shown}"


async def broken_invariants(conn: DbConnection) -> list[BrokenInvariant]:
    """Every invariant of the module docstring that the rows ``conn`` sees break."""
    broken: list[BrokenInvariant] = []
    for name, sql in _CHECKS.items():
        rows = await conn.fetch(sql)
        if rows:
            broken.append(BrokenInvariant(name, [tuple(r) for r in rows]))
    return broken
