"""The trial balance: posted base-currency totals per tenant, ledger and day (asynchronous).

Written by the projection runner (``ledger.projections.runner``), never in the append's
transaction: it serves reports (``GET /v1/trial-balance``), not decisions. A fold of journal
events only, in the base currency (``amount_base`` of each entry, decided and stored when the
journal was posted), into two tables (migration 0005):

- ``trial_balance_daily``: per (tenant, effective date, ledger), the sums of posted debits
  and credits. A posted journal adds its entries at its effective date; a pending journal
  adds nothing until it is committed, when it adds its entries at its effective date (as
  the books do); a voided one never adds anything. Reversals are journals of their own.
- ``trial_balance_pending``: the base lines of pending journals not yet settled, so the fold
  needs no table but its own.

Grand totals of debits and credits are equal for any set of days, because every journal's
base debits equal its base credits (the poster assigns the rounding residue).

The same fold (:class:`TrialBalanceFold`) runs in three places: on decoded domain events
(:meth:`TrialBalanceProjection.apply`, the runner's generic path), on stored rows decoded
into minimal structs (:meth:`TrialBalanceProjection.apply_recorded`, the fast path used by
the runner and by rebuilds), and in memory for ``ledger audit replay``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from uuid import UUID

import msgspec
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.domain.journals import Journal
from ledger.store.database import DbConnection
from ledger.store.group_commit import InlineProjection, PositionedEvent
from ledger.store.mapper import MsgspecMapper

POSTED_TOPIC: Final = get_topic(Journal.JournalPosted)
COMMITTED_TOPIC: Final = get_topic(Journal.JournalCommitted)
VOIDED_TOPIC: Final = get_topic(Journal.JournalVoided)

# (tenant_id, effective date ISO, ledger_id) as text: cheap to hash and cast by PostgreSQL.
DayKey = tuple[str, str, str]

_UPSERT_DAILY: Final = """
INSERT INTO trial_balance_daily AS t (tenant_id, effective_date, ledger_id, debits_base,
    credits_base)
SELECT u.t::uuid, u.d::date, u.l::uuid, u.dr, u.cr
FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[])
    AS u(t, d, l, dr, cr)
ORDER BY 1, 2, 3
ON CONFLICT (tenant_id, effective_date, ledger_id) DO UPDATE SET
    debits_base = t.debits_base + excluded.debits_base,
    credits_base = t.credits_base + excluded.credits_base
"""
_INSERT_PENDING: Final = """
INSERT INTO trial_balance_pending (journal_id, tenant_id, effective_date, ledger_ids,
    debits_base, credits_base)
SELECT u.j::uuid, u.t::uuid, u.d::date, u.l::uuid[], u.dr::int8[], u.cr::int8[]
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
    AS u(j, t, d, l, dr, cr)
"""
_SETTLE_PENDING: Final = """
DELETE FROM trial_balance_pending WHERE journal_id = ANY($1::uuid[])
RETURNING journal_id, tenant_id, effective_date, ledger_ids, debits_base, credits_base
"""


@dataclass(frozen=True, slots=True)
class PendingJournal:
    """A pending journal's base lines: (ledger_id, debit_base, credit_base) per entry."""

    tenant_id: str
    effective_date: str
    lines: tuple[tuple[str, int, int], ...]


@dataclass(slots=True)
class TrialBalanceFold:
    """The fold, over facts extracted from journal events, in position order.

    ``totals`` accumulates (debits, credits) per :data:`DayKey`. Pending journals posted in
    this fold wait in ``pending``; a commit or void of a journal this fold has not seen
    posted is remembered in ``settled_elsewhere`` (journal id -> committed?) for the caller
    to resolve against stored pending rows (:meth:`TrialBalanceProjection.apply`).
    """

    totals: dict[DayKey, list[int]] = field(default_factory=dict)
    pending: dict[str, PendingJournal] = field(default_factory=dict)
    settled_elsewhere: dict[str, bool] = field(default_factory=dict)

    def posted(
        self,
        journal_id: str,
        tenant_id: str,
        effective_date: str,
        status: str,
        lines: Iterable[tuple[str, int, int]],
    ) -> None:
        if status == "pending":
            self.pending[journal_id] = PendingJournal(tenant_id, effective_date, tuple(lines))
            return
        self.add(tenant_id, effective_date, lines)

    def add(
        self, tenant_id: str, effective_date: str, lines: Iterable[tuple[str, int, int]]
    ) -> None:
        totals = self.totals
        for ledger_id, debit, credit in lines:
            key = (tenant_id, effective_date, ledger_id)
            sums = totals.get(key)
            if sums is None:
                totals[key] = [debit, credit]
            else:
                sums[0] += debit
                sums[1] += credit

    def settled(self, journal_id: str, *, committed: bool) -> None:
        journal = self.pending.pop(journal_id, None)
        if journal is None:
            self.settled_elsewhere[journal_id] = committed
        elif committed:
            self.add(journal.tenant_id, journal.effective_date, journal.lines)

    def trial_balance(self, tenant_id: str, as_of: dt.date) -> dict[str, list[int]]:
        """Per ledger id, [debits, credits] over days <= ``as_of`` (for in-memory replays)."""
        day = as_of.isoformat()
        out: dict[str, list[int]] = {}
        for (tenant, date, ledger), (debit, credit) in self.totals.items():
            if tenant == tenant_id and date <= day:
                sums = out.setdefault(ledger, [0, 0])
                sums[0] += debit
                sums[1] += credit
        return out


def _line(ledger_id: Any, direction: str, amount_base: int) -> tuple[str, int, int]:
    return (
        (str(ledger_id), amount_base, 0)
        if direction == "debit"
        else (str(ledger_id), 0, amount_base)
    )


def fold_domain_events(fold: TrialBalanceFold, events: Iterable[PositionedEvent]) -> None:
    """Feed decoded domain events (any kinds; others are ignored) to ``fold``."""
    for positioned in events:
        event = positioned.event
        if isinstance(event, Journal.JournalPosted):
            fold.posted(
                str(event.originator_id),
                str(event.tenant_id),
                event.effective_date.isoformat(),
                event.status,
                [_line(e.ledger_id, e.direction, e.amount_base) for e in event.entries],
            )
        elif isinstance(event, Journal.JournalCommitted):
            fold.settled(str(event.originator_id), committed=True)
        elif isinstance(event, Journal.JournalVoided):
            fold.settled(str(event.originator_id), committed=False)


# --- the fast path: only the fields the fold needs, straight from the stored JSON ----------


class _LineState(msgspec.Struct, gc=False):
    ledger_id: str
    direction: str
    amount_base: int


class _PostedState(msgspec.Struct, gc=False):
    tenant_id: str
    status: str
    effective_date: str
    entries: list[_LineState]
    class_version: int = 1


_posted_decoder = msgspec.json.Decoder(_PostedState)
# The stored format this minimal decoder understands (see ledger.store.mapper); an event
# stored at another class_version goes through the mapper and its upcasters instead.
_POSTED_CLASS_VERSION: Final = getattr(Journal.JournalPosted, "class_version", 1)


def fold_stored_events(fold: TrialBalanceFold, rows: Iterable[Any], mapper: MsgspecMapper) -> None:
    """Feed stored rows ``(position, originator_id, topic, state, originator_version, ...)``
    to ``fold``.

    Decodes only what the fold needs (``JournalPosted``'s tenant, status, effective date and
    each entry's ledger, direction and base amount); other topics are ignored. A posted
    journal's lines are added to ``fold.totals`` right here: the same arithmetic as
    :meth:`TrialBalanceFold.add`, inlined because this loop runs once per event of a
    rebuild (the golden streams check that both paths give the same rows). A
    ``JournalPosted`` stored at an older ``class_version`` is decoded by ``mapper`` (its
    upcasters) and folded as a domain event.
    """
    totals = fold.totals
    decode = _posted_decoder.decode
    for row in rows:
        topic = row[2]
        if topic == POSTED_TOPIC:
            s = decode(row[3])
            if s.class_version != _POSTED_CLASS_VERSION:
                event = mapper.to_domain_event(StoredEvent(row[1], row[4], topic, row[3]))
                fold_domain_events(fold, [PositionedEvent(row[0], None, event)])
                continue
            if s.status == "pending":
                fold.posted(
                    str(row[1]),
                    s.tenant_id,
                    s.effective_date,
                    s.status,
                    [
                        (e.ledger_id, e.amount_base, 0)
                        if e.direction == "debit"
                        else (e.ledger_id, 0, e.amount_base)
                        for e in s.entries
                    ],
                )
                continue
            tenant_id = s.tenant_id
            day = s.effective_date
            for e in s.entries:
                key = (tenant_id, day, e.ledger_id)
                sums = totals.get(key)
                if sums is None:
                    totals[key] = (
                        [e.amount_base, 0] if e.direction == "debit" else [0, e.amount_base]
                    )
                elif e.direction == "debit":
                    sums[0] += e.amount_base
                else:
                    sums[1] += e.amount_base
        elif topic == COMMITTED_TOPIC:
            fold.settled(str(row[1]), committed=True)
        elif topic == VOIDED_TOPIC:
            fold.settled(str(row[1]), committed=False)


class TrialBalanceProjection(InlineProjection):
    """Folds journal events into ``trial_balance_daily`` and ``trial_balance_pending``."""

    name = "trial_balance"
    tables = ("trial_balance_daily", "trial_balance_pending")
    # The runner reads only these topics (its batches still advance over the others).
    topics: frozenset[str] = frozenset({POSTED_TOPIC, COMMITTED_TOPIC, VOIDED_TOPIC})

    def __init__(self, mapper: MsgspecMapper | None = None) -> None:
        self._mapper = mapper or MsgspecMapper()

    async def apply(self, conn: DbConnection, events: Sequence[PositionedEvent]) -> None:
        fold = TrialBalanceFold()
        fold_domain_events(fold, events)
        await self.write(conn, fold)

    async def apply_recorded(self, conn: DbConnection, rows: Sequence[Any]) -> None:
        """Like :meth:`apply`, from stored rows (``runner.ROW_COLUMNS``)."""
        fold = TrialBalanceFold()
        fold_stored_events(fold, rows, self._mapper)
        await self.write(conn, fold)

    @staticmethod
    async def write(conn: DbConnection, fold: TrialBalanceFold) -> None:
        """Write one batch's fold: settle stored pending journals, then add the totals and
        keep this batch's still-pending journals."""
        if fold.settled_elsewhere:
            rows = await conn.fetch(_SETTLE_PENDING, list(fold.settled_elsewhere))
            assert len(rows) == len(fold.settled_elsewhere), "settling an unknown journal"
            for row in rows:
                if fold.settled_elsewhere[str(row["journal_id"])]:
                    fold.add(
                        str(row["tenant_id"]),
                        row["effective_date"].isoformat(),
                        [
                            (str(ledger), int(debit), int(credit))
                            for ledger, debit, credit in zip(
                                row["ledger_ids"],
                                row["debits_base"],
                                row["credits_base"],
                                strict=True,
                            )
                        ],
                    )
        if fold.pending:
            ids = list(fold.pending)
            journals = [fold.pending[j] for j in ids]
            await conn.execute(
                _INSERT_PENDING,
                ids,
                [p.tenant_id for p in journals],
                [p.effective_date for p in journals],
                [_array_text(line[0] for line in p.lines) for p in journals],
                [_array_text(str(line[1]) for line in p.lines) for p in journals],
                [_array_text(str(line[2]) for line in p.lines) for p in journals],
            )
        if fold.totals:
            keys = list(fold.totals)
            sums = [fold.totals[k] for k in keys]
            await conn.execute(
                _UPSERT_DAILY,
                [k[0] for k in keys],
                [k[1] for k in keys],
                [k[2] for k in keys],
                [s[0] for s in sums],
                [s[1] for s in sums],
            )


def _array_text(items: Iterable[str]) -> str:
    """A PostgreSQL array literal of plain tokens (UUIDs, integers): ``{a,b}``."""
    return "{" + ",".join(items) + "}"


def balance_rows(
    by_ledger: dict[str, list[int]],
) -> tuple[list[tuple[UUID, int, int]], int, int]:
    """``(ledger_id, debits, credits)`` rows in ledger-id order, and the grand totals."""
    rows = sorted((UUID(k), v[0], v[1]) for k, v in by_ledger.items() if v[0] or v[1])
    return rows, sum(r[1] for r in rows), sum(r[2] for r in rows)
