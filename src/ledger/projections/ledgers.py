"""The ``ledgers`` read table and the tenants' ``ledger_num_id`` counters.

Written inline, in the append's transaction, so the next batch's decisions (codes, parents,
``num_id``, versions, statuses) read exact state. Everything here is a fold of the ``Ledger``
events alone, so a rebuild from ``ledger_events`` gives the same rows:

- ``LedgerOpened`` inserts the row. ``depth`` and ``ancestor_ids`` are derived from the
  parent's row in SQL (the parent is always inserted first, even within one call: rows are
  inserted in position order); the handler checked depth <= 16 already and the table's
  ``CHECK (depth BETWEEN 1 AND 16)`` checks it a second time.
- ``LedgerUpdated`` / ``LedgerClosed`` change the row and set its ``version``, ``position``
  and ``updated_at`` to the event's.
- The tenant's ``ledger_num_id`` counter becomes the largest ``num_id`` opened (never lower).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final
from uuid import UUID

import msgspec
from eventsourcing.utils import get_topic

from ledger.domain.ledgers import NUM_ID_COUNTER, Ledger
from ledger.store.database import DbConnection
from ledger.store.group_commit import InlineProjection, PositionedEvent

_INSERT: Final = (
    "INSERT INTO ledgers (ledger_id, tenant_id, num_id, code, name, type, normal_balance,"
    " parent_id, currency, min_balance, status, metadata, created_at, updated_at, position,"
    " version, depth, ancestor_ids)"
    " SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11::jsonb, $12, $12, $13, $14,"
    " coalesce(p.depth, 0) + 1, coalesce(p.ancestor_ids, '{}'::uuid[]) || $1::uuid"
    " FROM (SELECT 1) AS one LEFT JOIN ledgers p ON p.ledger_id = $8"
)
# One statement for both kinds of change, so a batch's changes apply in position order.
_CHANGE: Final = (
    "UPDATE ledgers SET"
    " name = coalesce($2, name),"
    " metadata = coalesce($3::jsonb, metadata),"
    " min_balance = CASE WHEN $4 THEN $5 ELSE min_balance END,"
    " status = coalesce($6, status),"
    " updated_at = $7, position = $8, version = $9"
    " WHERE ledger_id = $1"
)
_COUNTERS: Final = (
    "INSERT INTO tenant_counters AS c (tenant_id, counter, value)"
    " SELECT t, $3, v FROM unnest($1::uuid[], $2::bigint[]) AS u(t, v)"
    " ON CONFLICT (tenant_id, counter) DO UPDATE SET value = greatest(c.value, excluded.value)"
)

_json = msgspec.json.Encoder()


def _metadata_text(metadata: dict[str, Any] | None) -> str | None:
    return None if metadata is None else _json.encode(metadata).decode()


def _opened_row(event: Ledger.LedgerOpened, position: int) -> tuple[Any, ...]:
    """The ``ledgers`` row of an opening, in the parameters of :data:`_INSERT`."""
    return (
        event.originator_id,
        event.tenant_id,
        event.num_id,
        event.code,
        event.name,
        event.type,
        event.normal_balance,
        event.parent_id,
        event.currency,
        event.min_balance,
        _metadata_text(event.metadata),
        event.timestamp,
        position,
        event.originator_version,
    )


def _updated_change(event: Ledger.LedgerUpdated, position: int) -> tuple[Any, ...]:
    """An update, in the parameters of :data:`_CHANGE`."""
    return (
        event.originator_id,
        event.name,
        _metadata_text(event.metadata),
        event.min_balance_set,
        event.min_balance,
        None,
        event.timestamp,
        position,
        event.originator_version,
    )


def _closed_change(event: Ledger.LedgerClosed, position: int) -> tuple[Any, ...]:
    """A closing, in the parameters of :data:`_CHANGE` (only the status changes)."""
    return (
        event.originator_id,
        None,
        None,
        False,
        None,
        "closed",
        event.timestamp,
        position,
        event.originator_version,
    )


class LedgersProjection(InlineProjection):
    """Folds ``Ledger`` events into ``ledgers`` and ``tenant_counters`` (see module doc)."""

    name = "ledgers"
    tables = ("ledgers", "tenant_counters")
    # What ``apply`` folds: a rebuild reads only these rows of the log.
    topics: frozenset[str] = frozenset(
        map(get_topic, (Ledger.LedgerOpened, Ledger.LedgerUpdated, Ledger.LedgerClosed))
    )

    async def apply(self, conn: DbConnection, events: Sequence[PositionedEvent]) -> None:
        inserts: list[tuple[Any, ...]] = []
        changes: list[tuple[Any, ...]] = []
        counters: dict[UUID, int] = {}
        for positioned in events:
            event = positioned.event
            if isinstance(event, Ledger.LedgerOpened):
                inserts.append(_opened_row(event, positioned.position))
                counters[event.tenant_id] = max(counters.get(event.tenant_id, 0), event.num_id)
            elif isinstance(event, Ledger.LedgerUpdated):
                changes.append(_updated_change(event, positioned.position))
            elif isinstance(event, Ledger.LedgerClosed):
                changes.append(_closed_change(event, positioned.position))
        # Opens first: a ledger's changes always come after its opening, and an opening
        # depends on nothing but earlier openings (its parent), so this keeps the fold exact.
        if inserts:
            await conn.executemany(_INSERT, inserts)
        if changes:
            await conn.executemany(_CHANGE, changes)
        if counters:
            tenants = sorted(counters)
            await conn.execute(_COUNTERS, tenants, [counters[t] for t in tenants], NUM_ID_COUNTER)
