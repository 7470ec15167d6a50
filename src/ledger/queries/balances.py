"""Balances (current, as of a date, as known at a position) and statements.

Every read here is one SQL statement over the books' maintained rows (the design note is in
``ledger/projections/books.py``), so it answers from one snapshot, and its cost grows with what
it returns, never with the length of history:

- **as of D**: per currency, the ledger's checkpoint with the greatest date <= D: one index
  probe gives its own and its subtree's totals;
- **as known at P**: that, minus the ledger's changes in the buckets after P's (an index
  range) and the movements of P's bucket after P (at most one bucket of 1,024 positions):
  the cost is bounded by what happened after P, not by history;
- **statements**: a page is an index range of the ledger's movements in (effective date,
  position, movement id) order, in either direction; each currency's opening balance is its
  checkpoint before the first line's date plus that date's earlier lines.

The ``known_at`` a balance answer reports is the position its data reflects as the tenant
may see it: the tenant's own last event position up to ``known_at`` and the log's end, read
in the same statement (one probe of the ``(tenant_id, notification_id)`` index). The
tenant's books at that position are its books at the log's end (or at ``known_at``), and
other tenants' write volume does not show (issue 12).

Signs follow the ledger's normal balance (docs/api.md §4): debit-normal ledgers read
``debits - credits``, credit-normal ones ``credits - debits``; see ``domain/balances.py``
for ``pending`` and ``available``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final, Literal
from uuid import UUID

from ledger import limits
from ledger.domain.balances import Totals, available_of, check_total
from ledger.errors import ValidationError
from ledger.queries.pagination import decode_cursor, encode_cursor
from ledger.store.database import DbConnection, DbSource

StatementOrder = Literal["asc", "desc"]

_BALANCES_SQL: Final = """
WITH keys AS (
    SELECT b.currency FROM balances b WHERE b.ledger_id = $1
), totals AS (
    SELECT k.currency,
        coalesce(c.debits_posted, 0) - coalesce(a.dp, 0) AS dp,
        coalesce(c.credits_posted, 0) - coalesce(a.cp, 0) AS cp,
        coalesce(c.debits_pending, 0) - coalesce(a.dq, 0) AS dq,
        coalesce(c.credits_pending, 0) - coalesce(a.cq, 0) AS cq,
        coalesce(c.tree_debits_posted, 0) - coalesce(a.tdp, 0) AS tdp,
        coalesce(c.tree_credits_posted, 0) - coalesce(a.tcp, 0) AS tcp
    FROM keys k
    LEFT JOIN LATERAL (
        SELECT * FROM balance_checkpoints c
        WHERE c.ledger_id = $1 AND c.currency = k.currency AND c.effective_date <= $2
        ORDER BY c.effective_date DESC LIMIT 1
    ) AS c ON true
    LEFT JOIN LATERAL (
        -- Known at $3: what the buckets after $3's added to dates <= $2 ...
        SELECT sum(g.debits_posted) AS dp, sum(g.credits_posted) AS cp,
            sum(g.debits_pending) AS dq, sum(g.credits_pending) AS cq,
            sum(g.tree_debits_posted) AS tdp, sum(g.tree_credits_posted) AS tcp
        FROM (
            SELECT g.debits_posted, g.credits_posted, g.debits_pending, g.credits_pending,
                g.tree_debits_posted, g.tree_credits_posted
            FROM balance_changes g
            WHERE g.ledger_id = $1 AND g.currency = k.currency
                AND g.bucket > ledger_books_bucket($3::int8) AND g.effective_date <= $2
            UNION ALL
            -- ... and what $3's own bucket added after $3 (the subtree's movements).
            SELECT CASE WHEN m.ledger_id = $1 THEN m.debits_posted ELSE 0 END,
                CASE WHEN m.ledger_id = $1 THEN m.credits_posted ELSE 0 END,
                CASE WHEN m.ledger_id = $1 THEN m.debits_pending ELSE 0 END,
                CASE WHEN m.ledger_id = $1 THEN m.credits_pending ELSE 0 END,
                m.debits_posted, m.credits_posted
            FROM balance_movements m JOIN ledgers l ON l.ledger_id = m.ledger_id
            WHERE m.position > $3::int8 AND m.position <= ledger_books_bucket_last($3::int8)
                AND m.currency = k.currency AND m.effective_date <= $2
                AND l.ancestor_ids @> ARRAY[$1::uuid]
        ) AS g
    ) AS a ON true
)
SELECT coalesce((
    SELECT e.notification_id FROM ledger_events e
    WHERE e.tenant_id = $4 AND e.notification_id <= coalesce($3::int8, 9223372036854775807)
    ORDER BY e.notification_id DESC LIMIT 1
), 0) AS head, t.*
FROM (SELECT 1) AS one LEFT JOIN totals t ON true
ORDER BY t.currency
"""


@dataclass(frozen=True, slots=True)
class LedgerHead:
    ledger_id: UUID
    normal_balance: str
    tenant_id: UUID


async def ledger_head(source: DbSource, tenant_id: UUID, ledger_id: UUID) -> LedgerHead | None:
    row = await source.fetchrow(
        "SELECT ledger_id, normal_balance FROM ledgers WHERE tenant_id = $1 AND ledger_id = $2",
        tenant_id,
        ledger_id,
    )
    if row is None:
        return None
    return LedgerHead(row["ledger_id"], row["normal_balance"], tenant_id)


def _signed(normal: str, debits: int, credits: int) -> int:
    return debits - credits if normal == "debit" else credits - debits


@dataclass(frozen=True, slots=True)
class LedgerBalances:
    """A balance answer: one row per currency, and the log position it reflects."""

    rows: list[dict[str, Any]]
    position: int


async def ledger_balances(
    source: DbSource, head: LedgerHead, as_of: dt.date, known_at: int | None
) -> LedgerBalances:
    """One row per currency the ledger or its subtree has ever been posted in, in currency
    order, as of ``as_of`` and (if given) as known at position ``known_at``; and the position
    the answer reflects, as the tenant may see it: the tenant's last event position up to
    ``known_at`` (if given) and the log's end, from one snapshot (0 if none).

    Raises:
        AmountOverflow: a figure is beyond the int64 range (only data written before the
            writes' guard can be: ``ledger.domain.balances``).
    """
    records = await source.fetch(_BALANCES_SQL, head.ledger_id, as_of, known_at, head.tenant_id)
    position = int(records[0]["head"])
    normal = head.normal_balance
    rows: list[dict[str, Any]] = []
    for r in records:
        if r["currency"] is None:
            continue  # no balance row at all: the one row of the outer join
        dp, cp, dq, cq = int(r["dp"]), int(r["cp"]), int(r["dq"]), int(r["cq"])
        tdp, tcp = int(r["tdp"]), int(r["tcp"])
        posted = _signed(normal, dp, cp)
        rows.append(
            {
                "currency": r["currency"],
                "posted": posted,
                "pending": posted + _signed(normal, dq, cq),
                "available": available_of(normal, Totals(dp, cp, dq, cq)),
                "debits_posted": dp,
                "credits_posted": cp,
                "debits_pending": dq,
                "credits_pending": cq,
                "including_children": {
                    "posted": _signed(normal, tdp, tcp),
                    "debits_posted": tdp,
                    "credits_posted": tcp,
                },
            }
        )
        _check_range(rows[-1], {"ledger_id": str(head.ledger_id), "currency": r["currency"]})
    return LedgerBalances(rows=rows, position=position)


def _check_range(row: dict[str, Any], details: dict[str, Any]) -> None:
    """Every figure of a balance row (nested ones too) is an int64."""
    for name, value in row.items():
        if isinstance(value, dict):
            _check_range(value, details)
        elif isinstance(value, int):
            check_total(value, f"the balance's {name}", {**details, "field": name})


# --- statements ---------------------------------------------------------------------------

# {scan} is ASC or DESC, {after} the comparison that continues a scan in that direction and
# {before} the other one. One statement: the page ($8 = size + 1 rows: one to look ahead),
# each currency's opening balance before the page's earliest line of it ($9 = size), and
# whether any line lies before the page in scan order.
_STATEMENT_SQL: Final = """
WITH page AS (
    SELECT m.movement_id, m.effective_date, m.position, m.currency, m.journal_id, m.entry_id,
        m.debits_posted, m.credits_posted
    FROM balance_movements m
    WHERE m.ledger_id = $1 AND (m.debits_posted <> 0 OR m.credits_posted <> 0)
        AND ($2::text IS NULL OR m.currency = $2)
        AND m.effective_date >= $3 AND m.effective_date <= $4
        AND ($5::date IS NULL OR (m.effective_date, m.position, m.movement_id) {after} ($5, $6, $7))
    ORDER BY m.effective_date {scan}, m.position {scan}, m.movement_id {scan}
    LIMIT $8
), first_line AS (
    SELECT effective_date, position, movement_id FROM page
    ORDER BY effective_date {scan}, position {scan}, movement_id {scan} LIMIT 1
), earlier AS (
    -- A scalar subquery ordered and limited like an index walk from the first line backwards
    -- (EXISTS would drop the ORDER BY and LIMIT): the planner walks the index and stops at
    -- once instead of scanning the ledger's lines.
    SELECT coalesce((
        SELECT true FROM balance_movements m
        WHERE m.ledger_id = $1 AND (m.debits_posted <> 0 OR m.credits_posted <> 0)
            AND ($2::text IS NULL OR m.currency = $2)
            -- Only the date bound on the far side: the near one is implied by the first line,
            -- and given both, PostgreSQL 18 may start the walk from it (the far end of the
            -- ledger) and read every line to find none (the first page at 1M lines: 79 ms).
            AND m.effective_date {far_bound}
            AND (m.effective_date, m.position, m.movement_id) {before} (
                (SELECT effective_date FROM first_line), (SELECT position FROM first_line),
                (SELECT movement_id FROM first_line))
        ORDER BY m.effective_date {back}, m.position {back}, m.movement_id {back}
        LIMIT 1
    ), false) AS beyond
), openings AS MATERIALIZED (
    -- MATERIALIZED: computed once per page. Planned generically (a prepared statement), the
    -- planner believes the page has one line and would recompute every opening per line.
    SELECT f.currency,
        coalesce((
            SELECT c.debits_posted - c.credits_posted FROM balance_checkpoints c
            WHERE c.ledger_id = $1 AND c.currency = f.currency
                AND c.effective_date < f.effective_date
            ORDER BY c.effective_date DESC LIMIT 1
        ), 0) + coalesce((
            SELECT sum(s.debits_posted - s.credits_posted) FROM balance_movements s
            WHERE s.ledger_id = $1 AND s.effective_date = f.effective_date
                AND (s.position, s.movement_id) < (f.position, f.movement_id)
                AND s.currency = f.currency
        ), 0) AS opening
    FROM (
        -- The page without its look-ahead row (which, scanning backwards, comes first).
        SELECT DISTINCT ON (currency) currency, effective_date, position, movement_id
        FROM (
            SELECT * FROM page
            ORDER BY effective_date {scan}, position {scan}, movement_id {scan} LIMIT $9
        ) AS shown
        ORDER BY currency, effective_date, position, movement_id
    ) AS f
)
SELECT p.*, e.direction, e.amount, coalesce(e.description, j.description) AS description,
    o.opening, (SELECT beyond FROM earlier) AS beyond
FROM page p
    JOIN journal_entries e ON e.entry_id = p.entry_id
    JOIN journals j ON j.journal_id = p.journal_id
    LEFT JOIN openings o ON o.currency = p.currency
ORDER BY p.effective_date {scan}, p.position {scan}, p.movement_id {scan}
"""
_STATEMENT_ASC: Final = _STATEMENT_SQL.format(
    scan="ASC", back="DESC", after=">", before="<", far_bound=">= $3"
)
_STATEMENT_DESC: Final = _STATEMENT_SQL.format(
    scan="DESC", back="ASC", after="<", before=">", far_bound="<= $4"
)

# A cursor is [order, "next" | "prev", effective date, position, movement id].
_NEXT, _PREV = "next", "prev"


@dataclass(frozen=True, slots=True)
class StatementPage:
    lines: list[dict[str, Any]]
    next_cursor: str | None
    prev_cursor: str | None


def _statement_cursor(
    cursor: str | None, order: StatementOrder | None
) -> tuple[StatementOrder, str, tuple[dt.date, int, int] | None]:
    """(presentation order, direction, key) of a request.

    Raises:
        ValidationError: a cursor this module did not make, or one made for the other order.
    """
    key = decode_cursor(cursor)
    if key is None:
        return order or "asc", _NEXT, None
    if len(key) == 3:  # a cursor of the first statement format: ascending, next page
        key = ["asc", _NEXT, *key]
    parsed: tuple[dt.date, int, int] | None = None
    if (
        len(key) == 5
        and key[0] in ("asc", "desc")
        and key[1] in (_NEXT, _PREV)
        and isinstance(key[2], str)
        and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= limits.BIGINT_MAX
            for v in key[3:]
        )
    ):
        try:
            parsed = (dt.date.fromisoformat(key[2]), key[3], key[4])
        except ValueError:
            parsed = None
    if parsed is None:
        raise ValidationError("the cursor is not valid", {"field": "cursor"})
    stored_order: StatementOrder = key[0]
    direction: str = key[1]
    if order is not None and order != stored_order:
        raise ValidationError(
            "this cursor belongs to the other order; drop order= or the cursor",
            {"field": "order", "cursor_order": stored_order},
        )
    return stored_order, direction, parsed


async def _statement_rows(conn: DbConnection, sql: str, arguments: tuple[Any, ...]) -> list[Any]:
    """The page's rows, planned without bitmap scans.

    Why: a page must walk the ledger's statement index in order and stop after the page.
    A bitmap scan instead fetches every line of the ledger in the date range and sorts them,
    which the planner picks whenever it believes the ledger has few lines: with stale
    statistics, or with the generic plan of this prepared statement (an average ledger, not
    this one). For a ledger with 1M lines that made the first page 35x slower than at 10k.
    """
    async with conn.transaction(readonly=True):
        await conn.execute("SET LOCAL enable_bitmapscan = off")
        return list(await conn.fetch(sql, *arguments))


def _statement_lines(ascending: list[Any], normal_balance: str) -> list[dict[str, Any]]:
    """The lines of rows in ascending order, each with its currency's running balance after it
    (signed by the ledger's normal balance) and its cursor key under ``_key``."""
    running = {r["currency"]: int(r["opening"]) for r in ascending}
    lines: list[dict[str, Any]] = []
    for r in ascending:
        net = running[r["currency"]] + int(r["debits_posted"]) - int(r["credits_posted"])
        running[r["currency"]] = check_total(
            net, "a running balance", {"entry_id": str(r["entry_id"]), "currency": r["currency"]}
        )
        lines.append(
            {
                "journal_id": str(r["journal_id"]),
                "entry_id": str(r["entry_id"]),
                "date": r["effective_date"].isoformat(),
                "direction": r["direction"],
                "amount": r["amount"],
                "currency": r["currency"],
                "description": r["description"],
                "running_balance": net if normal_balance == "debit" else -net,
                "position": r["position"],
                "_key": [r["effective_date"].isoformat(), r["position"], r["movement_id"]],
            }
        )
    return lines


async def statement(
    source: DbSource,
    head: LedgerHead,
    date_from: dt.date | None,
    date_to: dt.date | None,
    currency: str | None,
    limit: int,
    cursor: str | None,
    order: StatementOrder | None = None,
) -> StatementPage:
    """Posted lines in (effective date, position) order (``desc``: newest first), each with
    the running balance of its currency after it.

    A running balance counts everything posted before the line (an opening balance), so any
    page, in either direction, shows true balances. ``next_cursor`` continues in the page's
    order, ``prev_cursor`` goes back; each is None when there is nothing more that way.

    Raises:
        ValidationError: an invalid cursor, or ``order`` contradicting the cursor's.
    """
    presented, direction, key = _statement_cursor(cursor, order)
    scan_ascending = (presented == "asc") == (direction == _NEXT)
    arguments = (
        head.ledger_id,
        currency,
        date_from or dt.date.min,
        date_to or dt.date.max,
        key[0] if key else None,
        key[1] if key else 0,
        key[2] if key else 0,
        limit + 1,
        limit,
    )
    sql = _STATEMENT_ASC if scan_ascending else _STATEMENT_DESC
    if hasattr(source, "acquire"):
        async with source.acquire() as conn:
            rows = await _statement_rows(conn, sql, arguments)
    else:
        rows = await _statement_rows(source, sql, arguments)
    more = len(rows) > limit
    scanned = rows[:limit]
    beyond = bool(scanned[0]["beyond"]) if scanned else False
    lines = _statement_lines(scanned if scan_ascending else scanned[::-1], head.normal_balance)
    if presented == "desc":
        lines.reverse()
    # In presentation order: is there a page after the last line / before the first one?
    has_next = more if direction == _NEXT else beyond
    has_prev = beyond if direction == _NEXT else more
    keys = [line.pop("_key") for line in lines]
    return StatementPage(
        lines=lines,
        next_cursor=encode_cursor([presented, _NEXT, *keys[-1]]) if lines and has_next else None,
        prev_cursor=encode_cursor([presented, _PREV, *keys[0]]) if lines and has_prev else None,
    )
