"""The ``currencies``, ``fx_rates`` and ``fx_pairs`` read tables.

Written inline, in the append's transaction, so the set-rate handler and journal postings of
the next batch see exactly what was committed. One statement per table per batch:

- ``currencies``: one row per custom currency (the primary key is the second check of the
  duplicate rule);
- ``fx_rates``: one row per (tenant, base, quote, effective date), upserted: the latest set of
  a date wins (within a batch the last event of each key is written; across batches the
  higher position wins, so re-applying old events never overwrites newer rows);
- ``fx_pairs``: each pair's current aggregate version, which the set-rate handler locks.

Every row can be rebuilt from the ``CurrencyAdded`` and ``FxRateSet`` events alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from eventsourcing.utils import get_topic

from ledger.domain.fx import CustomCurrency, FxPair
from ledger.store.database import DbConnection
from ledger.store.group_commit import InlineProjection, PositionedEvent

_INSERT_CURRENCIES = (
    "INSERT INTO currencies (tenant_id, code, precision, created_at, position)"
    " SELECT * FROM unnest($1::uuid[], $2::text[], $3::smallint[], $4::timestamptz[], $5::int8[])"
)
_UPSERT_RATES = (
    "INSERT INTO fx_rates AS r (tenant_id, base, quote, effective_date, rate, position)"
    " SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::date[], $5::numeric[],"
    " $6::int8[])"
    " ON CONFLICT (tenant_id, base, quote, effective_date) DO UPDATE"
    " SET rate = EXCLUDED.rate, position = EXCLUDED.position"
    " WHERE r.position < EXCLUDED.position"
)
_UPSERT_PAIRS = (
    "INSERT INTO fx_pairs AS p (pair_id, tenant_id, base, quote, version, position)"
    " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int8[],"
    " $6::int8[])"
    " ON CONFLICT (pair_id) DO UPDATE"
    " SET version = EXCLUDED.version, position = EXCLUDED.position"
    " WHERE p.version < EXCLUDED.version"
)


class CurrenciesProjection(InlineProjection):
    name = "currencies"
    tables = ("currencies", "fx_rates", "fx_pairs")
    # What ``apply`` folds: a rebuild reads only these rows of the log.
    topics: frozenset[str] = frozenset(
        map(get_topic, (CustomCurrency.CurrencyAdded, FxPair.FxRateSet))
    )

    async def apply(self, conn: DbConnection, events: Sequence[PositionedEvent]) -> None:
        added: list[tuple[PositionedEvent, CustomCurrency.CurrencyAdded]] = []
        # Keyed so that the last event of a key (events come in position order) is written.
        rates: dict[tuple[Any, ...], tuple[int, FxPair.FxRateSet]] = {}
        pairs: dict[Any, tuple[int, FxPair.FxRateSet]] = {}
        for positioned in events:
            event = positioned.event
            if isinstance(event, CustomCurrency.CurrencyAdded):
                added.append((positioned, event))
            elif isinstance(event, FxPair.FxRateSet):
                key = (event.tenant_id, event.base, event.quote, event.date)
                rates[key] = (positioned.position, event)
                pairs[event.originator_id] = (positioned.position, event)
        if added:
            await conn.execute(
                _INSERT_CURRENCIES,
                [e.tenant_id for _, e in added],
                [e.code for _, e in added],
                [e.precision for _, e in added],
                [e.timestamp for _, e in added],
                [p.position for p, _ in added],
            )
        if rates:
            rows = list(rates.values())
            rate_values: list[Decimal] = [e.rate for _, e in rows]
            await conn.execute(
                _UPSERT_RATES,
                [e.tenant_id for _, e in rows],
                [e.base for _, e in rows],
                [e.quote for _, e in rows],
                [e.date for _, e in rows],
                rate_values,
                [position for position, _ in rows],
            )
        if pairs:
            latest = list(pairs.values())
            await conn.execute(
                _UPSERT_PAIRS,
                [e.originator_id for _, e in latest],
                [e.tenant_id for _, e in latest],
                [e.base for _, e in latest],
                [e.quote for _, e in latest],
                [e.originator_version for _, e in latest],
                [position for position, _ in latest],
            )
