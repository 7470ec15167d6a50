"""``ledger audit replay``: the trial balance as the books stood at a past position or time.

Reads one tenant's events from the log (nothing else: no read table is consulted) up to
``--until POSITION``, or up to the last event recorded at or before ``--as-of TIMESTAMP``
(the prefix that ends just before the first event stamped after it), and folds them in
memory with the trial balance's own fold (:class:`~ledger.projections.trial_balance.
TrialBalanceFold`) and the ledgers' names and codes as they were then. The answer has the
shape of ``GET /v1/trial-balance`` (all rows, no pages): for the same position it equals
what the API served when its trial balance stood at that position.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import asyncpg

from ledger import limits
from ledger.domain.currencies import ISO_PRECISION
from ledger.domain.ledgers import Ledger
from ledger.errors import NotFound
from ledger.projections.trial_balance import TrialBalanceFold, fold_domain_events
from ledger.store.event_store import RecordedEvent
from ledger.store.group_commit import PositionedEvent
from ledger.store.mapper import MsgspecMapper

PAGE_EVENTS: Final = limits.AUDIT_PAGE_EVENTS
_COLUMNS: Final = (
    "notification_id, originator_id, originator_version, topic, state, tenant_id, chain_hash"
)


@dataclass
class _LedgerInfo:
    num_id: int
    code: str
    name: str
    type: str
    normal_balance: str


def _fold_ledgers(ledgers: dict[str, _LedgerInfo], events: list[PositionedEvent]) -> None:
    for positioned in events:
        event = positioned.event
        if isinstance(event, Ledger.LedgerOpened):
            ledgers[str(event.originator_id)] = _LedgerInfo(
                event.num_id, event.code, event.name, event.type, event.normal_balance
            )
        elif isinstance(event, Ledger.LedgerUpdated) and event.name is not None:
            ledgers[str(event.originator_id)].name = event.name


@dataclass
class _Replayed:
    """What the replay folded: the trial balance, the ledgers as they were, the last position."""

    fold: TrialBalanceFold
    ledgers: dict[str, _LedgerInfo]
    reached: int = 0


def _decode_page(
    rows: list[asyncpg.Record],
    mapper: MsgspecMapper,
    tenant_id: UUID,
    as_of_time: dt.datetime | None,
) -> tuple[list[PositionedEvent], bool]:
    """The page's events up to the first one stamped after ``as_of_time``; whether one was."""
    events: list[PositionedEvent] = []
    for row in rows:
        recorded = RecordedEvent.from_row(row)
        event = mapper.to_domain_event(recorded.as_stored_event())
        timestamp: dt.datetime = getattr(event, "timestamp")  # noqa: B009
        if as_of_time is not None and timestamp > as_of_time:
            return events, True
        events.append(PositionedEvent(recorded.position, tenant_id, event))
    return events, False


async def _replay(
    conn: asyncpg.Connection[Any], tenant_id: UUID, stop: int, as_of_time: dt.datetime | None
) -> _Replayed:
    """Fold the tenant's events up to position ``stop`` (and ``as_of_time``), page by page."""
    mapper = MsgspecMapper()
    replayed = _Replayed(TrialBalanceFold(), {})
    after = 0
    done = False
    while not done:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM ledger_events WHERE tenant_id = $1"
            " AND notification_id > $2 AND notification_id <= $3"
            " ORDER BY notification_id LIMIT $4",
            tenant_id,
            after,
            stop,
            PAGE_EVENTS,
        )
        events, past_as_of_time = _decode_page(rows, mapper, tenant_id, as_of_time)
        done = past_as_of_time or len(rows) < PAGE_EVENTS
        if events:
            replayed.reached = events[-1].position
        _fold_ledgers(replayed.ledgers, events)
        fold_domain_events(replayed.fold, events)
        if rows:
            after = rows[-1]["notification_id"]
    return replayed


def _trial_balance_lines(
    replayed: _Replayed, tenant_id: UUID, day: dt.date
) -> list[dict[str, Any]]:
    """One line per ledger with debits or credits by ``day``, in ledger number order."""
    by_ledger = replayed.fold.trial_balance(str(tenant_id), day)
    lines: list[dict[str, Any]] = []
    for ledger_id, (debits, credits) in by_ledger.items():
        if not debits and not credits:
            continue
        info = replayed.ledgers[ledger_id]
        balance = debits - credits if info.normal_balance == "debit" else credits - debits
        lines.append(
            {
                "ledger_id": ledger_id,
                "ledger_num_id": info.num_id,
                "ledger_code": info.code,
                "ledger_name": info.name,
                "type": info.type,
                "normal_balance": info.normal_balance,
                "debits": debits,
                "credits": credits,
                "balance": balance,
            }
        )
    lines.sort(key=lambda line: line["ledger_num_id"])
    return lines


async def replay_trial_balance(
    database_url: str,
    slug: str,
    *,
    until: int | None = None,
    as_of_time: dt.datetime | None = None,
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    """The tenant's trial balance replayed from the log (module doc), as a JSON object.

    Exactly one of ``until`` and ``as_of_time`` must be given. ``as_of`` (effective dates
    counted) defaults to today for ``until`` and to the date of ``as_of_time`` (UTC).

    Raises:
        NotFound: no tenant has this slug.
    """
    assert (until is None) != (as_of_time is None), "give until or as_of_time"
    if as_of_time is not None and as_of_time.tzinfo is None:
        as_of_time = as_of_time.replace(tzinfo=dt.UTC)
    day = as_of or (as_of_time.astimezone(dt.UTC).date() if as_of_time else dt.date.today())
    conn = await asyncpg.connect(database_url)
    try:
        tenant = await conn.fetchrow(
            "SELECT tenant_id, base_currency FROM tenants WHERE slug = $1", slug
        )
        if tenant is None:
            raise NotFound(f"no tenant has the slug {slug!r}", {"tenant": slug})
        tenant_id: UUID = tenant["tenant_id"]
        stop = until if until is not None else limits.POSITION_MAX
        replayed = await _replay(conn, tenant_id, stop, as_of_time)
    finally:
        await conn.close()
    lines = _trial_balance_lines(replayed, tenant_id, day)
    base = tenant["base_currency"]
    return {
        "tenant": slug,
        "as_of": day.isoformat(),
        "known_at": until if until is not None else replayed.reached,
        "currency": base,
        "precision": ISO_PRECISION.get(base, 2),
        "data": lines,
        "totals": {
            "debits": sum(line["debits"] for line in lines),
            "credits": sum(line["credits"] for line in lines),
        },
    }


def format_table(report: dict[str, Any]) -> str:
    """A readable table of a replayed trial balance (for a terminal)."""
    precision = int(report["precision"])

    def money(amount: int) -> str:
        if precision == 0:
            return f"{amount:,}"
        sign = "-" if amount < 0 else ""
        whole, frac = divmod(abs(amount), 10**precision)
        return f"{sign}{whole:,}.{frac:0{precision}d}"

    head = ("code", "name", "debits", "credits", "balance")
    rows = [
        (
            str(line["ledger_code"]),
            str(line["ledger_name"]),
            money(line["debits"]),
            money(line["credits"]),
            money(line["balance"]),
        )
        for line in report["data"]
    ]
    totals = (
        "",
        "total",
        money(report["totals"]["debits"]),
        money(report["totals"]["credits"]),
        "",
    )
    widths = [max(len(r[i]) for r in [head, *rows, totals]) for i in range(5)]

    def line(cells: tuple[str, ...]) -> str:
        left = [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
        right = [c.rjust(w) for c, w in zip(cells[2:], widths[2:], strict=True)]
        return "  ".join(left + right).rstrip()

    title = (
        f"Trial balance of {report['tenant']} in {report['currency']}, as of {report['as_of']},"
        f" as known at position {report['known_at']}"
    )
    rule = "-" * len(line(head))
    return "\n".join([title, "", line(head), rule, *map(line, rows), rule, line(totals)])
