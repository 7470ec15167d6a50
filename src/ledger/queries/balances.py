"""Balances (current, as of a date, as known at a position) and statements.

All reads are sums over projected rows, never a replay of events:

- current totals live in ``balances`` (every effective date, every position);
- ``balance_movements`` holds each change with its effective date and position, so
  "as of D, known at P" is ``Σ movements WHERE effective_date <= D AND position <= P``;
  without ``known_at`` the cheaper ``balances - Σ movements after D`` gives the same sums.

Signs follow the ledger's normal balance (spec/API.md §4): debit-normal ledgers read
``debits - credits``, credit-normal ones ``credits - debits``; see ``commands/balances.py``
for ``pending`` and ``available``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ledger.commands.balances import available_of
from ledger.queries.pagination import decode_cursor, encode_cursor

_POSITION_MAX = 2**63 - 1
_SUMS = (
    "coalesce(sum(m.debits_posted), 0) AS dp, coalesce(sum(m.credits_posted), 0) AS cp,"
    " coalesce(sum(m.debits_pending), 0) AS dq, coalesce(sum(m.credits_pending), 0) AS cq"
)


@dataclass(frozen=True, slots=True)
class LedgerHead:
    ledger_id: UUID
    normal_balance: str


async def ledger_head(source: Any, tenant_id: UUID, ledger_id: UUID) -> LedgerHead | None:
    row = await source.fetchrow(
        "SELECT ledger_id, normal_balance FROM ledgers WHERE tenant_id = $1 AND ledger_id = $2",
        tenant_id,
        ledger_id,
    )
    return LedgerHead(row["ledger_id"], row["normal_balance"]) if row is not None else None


def _signed(normal: str, debits: int, credits: int) -> int:
    return debits - credits if normal == "debit" else credits - debits


async def _own_totals(
    source: Any, ledger_id: UUID, as_of: dt.date, known_at: int | None
) -> dict[str, list[int]]:
    if known_at is None:
        rows = await source.fetch(
            "SELECT b.currency, b.debits_posted - coalesce(f.dp, 0) AS dp,"
            " b.credits_posted - coalesce(f.cp, 0) AS cp,"
            " b.debits_pending - coalesce(f.dq, 0) AS dq,"
            " b.credits_pending - coalesce(f.cq, 0) AS cq FROM balances b LEFT JOIN ("
            f"  SELECT m.currency, {_SUMS} FROM balance_movements m"
            "   WHERE m.ledger_id = $1 AND m.effective_date > $2 GROUP BY m.currency"
            " ) f USING (currency) WHERE b.ledger_id = $1",
            ledger_id,
            as_of,
        )
    else:
        rows = await source.fetch(
            f"SELECT m.currency, {_SUMS} FROM balance_movements m WHERE m.ledger_id = $1"
            " AND m.effective_date <= $2 AND m.position <= $3 GROUP BY m.currency",
            ledger_id,
            as_of,
            known_at,
        )
    return {r["currency"]: [int(r["dp"]), int(r["cp"]), int(r["dq"]), int(r["cq"])] for r in rows}


async def _subtree_totals(
    source: Any, ledger_id: UUID, as_of: dt.date, known_at: int | None
) -> dict[str, list[int]]:
    rows = await source.fetch(
        f"SELECT m.currency, {_SUMS} FROM balance_movements m"
        " JOIN ledgers l ON l.ledger_id = m.ledger_id"
        " WHERE l.ancestor_ids @> ARRAY[$1::uuid] AND m.effective_date <= $2 AND m.position <= $3"
        " GROUP BY m.currency",
        ledger_id,
        as_of,
        _POSITION_MAX if known_at is None else known_at,
    )
    return {r["currency"]: [int(r["dp"]), int(r["cp"]), int(r["dq"]), int(r["cq"])] for r in rows}


async def ledger_balances(
    source: Any, head: LedgerHead, as_of: dt.date, known_at: int | None
) -> list[dict[str, Any]]:
    """One row per currency the ledger or its subtree has, in currency order."""
    own = await _own_totals(source, head.ledger_id, as_of, known_at)
    subtree = await _subtree_totals(source, head.ledger_id, as_of, known_at)
    normal = head.normal_balance
    out: list[dict[str, Any]] = []
    for currency in sorted(set(own) | set(subtree)):
        dp, cp, dq, cq = own.get(currency, [0, 0, 0, 0])
        sdp, scp, _, _ = subtree.get(currency, [0, 0, 0, 0])
        posted = _signed(normal, dp, cp)
        out.append(
            {
                "currency": currency,
                "posted": posted,
                "pending": posted + _signed(normal, dq, cq),
                "available": available_of(normal, [dp, cp, dq, cq]),
                "debits_posted": dp,
                "credits_posted": cp,
                "debits_pending": dq,
                "credits_pending": cq,
                "including_children": {
                    "posted": _signed(normal, sdp, scp),
                    "debits_posted": sdp,
                    "credits_posted": scp,
                },
            }
        )
    return out


async def statement(
    source: Any,
    head: LedgerHead,
    date_from: dt.date | None,
    date_to: dt.date | None,
    currency: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Posted lines ordered by (effective date, position), with running balances per currency.

    A running balance includes everything posted before the first line shown (an opening
    balance), so a page starting mid-statement still shows the true balance.
    """
    after = decode_cursor(cursor)
    lower = (dt.date.fromisoformat(after[0]), int(after[1]), int(after[2])) if after else None
    start = date_from or dt.date.min
    end = date_to or dt.date.max
    rows = await source.fetch(
        "WITH lines AS ("
        "  SELECT m.movement_id, m.effective_date, m.position, m.currency, m.journal_id,"
        "   m.entry_id,"
        "   m.debits_posted, m.credits_posted,"
        "   sum(m.debits_posted - m.credits_posted) OVER ("
        "     PARTITION BY m.currency ORDER BY m.effective_date, m.position, m.movement_id) AS net"
        "  FROM balance_movements m"
        "  WHERE m.ledger_id = $1 AND (m.debits_posted <> 0 OR m.credits_posted <> 0)"
        "   AND ($2::text IS NULL OR m.currency = $2) AND m.effective_date <= $4"
        ") SELECT l.*, e.direction, e.amount, coalesce(e.description, j.description) AS description"
        " FROM lines l JOIN journal_entries e ON e.entry_id = l.entry_id"
        " JOIN journals j ON j.journal_id = l.journal_id"
        " WHERE l.effective_date >= $3"
        "  AND ($5::date IS NULL OR (l.effective_date, l.position, l.movement_id) > ($5, $6, $7))"
        " ORDER BY l.effective_date, l.position, l.movement_id LIMIT $8",
        head.ledger_id,
        currency,
        start,
        end,
        lower[0] if lower else None,
        lower[1] if lower else 0,
        lower[2] if lower else 0,
        limit + 1,
    )
    page = rows[:limit]
    lines = []
    for r in page:
        net = int(r["net"])
        lines.append(
            {
                "journal_id": str(r["journal_id"]),
                "entry_id": str(r["entry_id"]),
                "date": r["effective_date"].isoformat(),
                "direction": r["direction"],
                "amount": r["amount"],
                "currency": r["currency"],
                "description": r["description"],
                "running_balance": net if head.normal_balance == "debit" else -net,
                "position": r["position"],
            }
        )
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(
            [last["effective_date"].isoformat(), last["position"], last["movement_id"]]
        )
    return lines, next_cursor
