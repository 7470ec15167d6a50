"""Scenario ``rebuild``: ``ledger projections rebuild`` against one SQL ``INSERT … SELECT``.

The log is filled with N ``JournalPosted`` events (N = 1,000,000, or 200,000 with
``--quick``): real events of the domain class, encoded by the service's mapper (two to
four entries each, about 1.2 KB of stored JSON, over 4 tenants with 200 ledgers each), in
time order over 90 days as a real log is (12 distinct journals per day reused under fresh
ids), with a valid hash chain, written with ``COPY``. Then, on the same database:

``rebuild``
    :func:`ledger.projections.rebuild.rebuild` of the ``trial_balance`` projection, exactly
    what ``ledger projections rebuild trial_balance`` runs: scratch tables beside the live
    ones, the log streamed in batches from position 0, the projection's fast path (minimal
    msgspec decode, per-batch aggregation, one ``unnest`` upsert per batch), and the swap.
    Rate: N / wall time of the whole call.
``sql_json``
    The baseline: one ``INSERT INTO … SELECT … GROUP BY`` that computes the same per tenant,
    day and ledger base-currency balances from the same log rows in SQL (``jsonb`` parsing
    of ``state``, ``jsonb_array_elements`` over the entries): a rebuild done by SQL alone.
    Rate: N / its wall time.
``sql_relational``
    For reference: the same ``GROUP BY`` over the same journals' entries already stored as
    plain rows (``bench_entries``: tenant, date, ledger, base debit, base credit; written
    during setup, not timed). It skips the part every rebuild must do, reading and decoding
    the log (about 1.2 KB of JSON per event), so it bounds what any rebuild could reach.
``floor_100k``
    Not a measurement: the issue's absolute target (100,000 events/s) as a row, so the
    ratio ``rebuild / floor_100k`` is the "at least 100,000 events/s" check.

The run fails if the rebuilt rows differ from the baseline's.
Acceptance: ``rebuild / sql_json`` >= 0.25 and ``rebuild / floor_100k`` >= 1.0.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
import uuid
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

import asyncpg
from eventsourcing.utils import get_topic

from ledger.audit.chain import GENESIS_HASH, chain_link
from ledger.bench.registry import BenchContext, Ratio, ResultRow, register
from ledger.domain.journals import EntryLine, Journal
from ledger.projections.rebuild import rebuild
from ledger.projections.trial_balance import TrialBalanceProjection
from ledger.store.event_store import RecordedEvent
from ledger.store.mapper import MsgspecMapper

EVENTS: Final = 1_000_000
EVENTS_QUICK: Final = 200_000
EVENTS_TINY: Final = 2_000
JOURNALS_PER_DAY: Final = 12
LEDGERS: Final = 200
TENANTS: Final = 4
DAYS: Final = 90
COPY_ROWS: Final = 50_000
_UNIT: Final = "events/s"
_BASELINE_TABLE: Final = "bench_trial_balance_baseline"
_ENTRIES_TABLE: Final = "bench_entries"
_ENTRIES_DDL: Final = f"""
CREATE TABLE {_ENTRIES_TABLE} (
    position bigint NOT NULL,
    tenant_id uuid NOT NULL,
    effective_date date NOT NULL,
    ledger_id uuid NOT NULL,
    debits_base bigint NOT NULL,
    credits_base bigint NOT NULL
)
"""
_RELATIONAL_SQL: Final = f"""
INSERT INTO {_BASELINE_TABLE} (tenant_id, effective_date, ledger_id, debits_base, credits_base)
SELECT tenant_id, effective_date, ledger_id, sum(debits_base), sum(credits_base)
FROM {_ENTRIES_TABLE} GROUP BY 1, 2, 3
"""
_JSON_SQL: Final = f"""
INSERT INTO {_BASELINE_TABLE} (tenant_id, effective_date, ledger_id, debits_base, credits_base)
SELECT (j.s->>'tenant_id')::uuid, (j.s->>'effective_date')::date, (e->>'ledger_id')::uuid,
    sum(CASE WHEN e->>'direction' = 'debit' THEN (e->>'amount_base')::numeric ELSE 0 END),
    sum(CASE WHEN e->>'direction' = 'credit' THEN (e->>'amount_base')::numeric ELSE 0 END)
FROM (SELECT convert_from(state, 'UTF8')::jsonb AS s FROM ledger_events WHERE topic = $1) j,
    jsonb_array_elements(j.s->'entries') AS e
WHERE j.s->>'status' = 'posted'
GROUP BY 1, 2, 3
"""
_COMPARE_SQL: Final = f"""
SELECT count(*) FROM (
    (SELECT * FROM trial_balance_daily EXCEPT ALL SELECT * FROM {_BASELINE_TABLE})
    UNION ALL
    (SELECT * FROM {_BASELINE_TABLE} EXCEPT ALL SELECT * FROM trial_balance_daily)
) d
"""


def _progress(text: str) -> None:
    print(f"  rebuild: {text} ...", file=sys.stderr, flush=True)


Lines = tuple[tuple[UUID, int, int], ...]  # (ledger, debit base, credit base) per entry
Template = tuple[UUID, str, bytes, dt.date, Lines]


def _journal_lines(rng: random.Random, ledgers: list[UUID]) -> list[EntryLine]:
    """One credit and 1-3 debits of a random amount on distinct ledgers of ``ledgers``."""
    amount = rng.randrange(1, 1_000_000)
    legs = rng.choice((2, 2, 2, 3, 4))
    debits = [amount // (legs - 1)] * (legs - 1)
    debits[0] += amount - sum(debits)
    chosen = rng.sample(ledgers, legs)
    return [
        EntryLine(
            entry_id=uuid.uuid4(),
            ledger_id=ledger,
            ledger_code=f"acct-{index}",
            direction="debit" if index else "credit",
            amount=amount if index == 0 else debits[index - 1],
            currency="USD",
            amount_base=amount if index == 0 else debits[index - 1],
            description=None,
            metadata={},
        )
        for index, ledger in enumerate(chosen)
    ]


def _journal_posted(
    tenant: UUID, number: int, day: dt.date, lines: list[EntryLine]
) -> Journal.JournalPosted:
    """A posted USD journal of ``lines`` as the service records one."""
    return Journal.JournalPosted(
        originator_id=uuid.uuid4(),
        originator_version=1,
        timestamp=dt.datetime.now(dt.UTC),
        originator_topic=get_topic(Journal),
        tenant_id=tenant,
        number=number,
        status="posted",
        date=day,
        accrual_date=None,
        effective_date=day,
        description=f"bench journal {number}",
        reference=f"INV-{number:06d}",
        external_id=None,
        currency="USD",
        base_currency="USD",
        exchange_rates={"USD": Decimal(1)},
        entries=tuple(lines),
        reversal_of=None,
        warnings=(),
        metadata={},
        request_sha256="00" * 32,
        duplicate_sha256="11" * 32,
        amends=None,
        reporting_currency=None,
        reporting_rates={},
    )


def _journal_states(rng: random.Random) -> list[list[Template]]:
    """Per day of DAYS, JOURNALS_PER_DAY realistic posted journals: (tenant, topic, state,
    effective date, base lines)."""
    mapper = MsgspecMapper()
    tenants = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(TENANTS)]
    ledgers = {t: [uuid.UUID(int=rng.getrandbits(128)) for _ in range(LEDGERS)] for t in tenants}
    start = dt.date(2026, 1, 1)
    days: list[list[Template]] = []
    number = 0
    for offset in range(DAYS):
        day = start + dt.timedelta(days=offset)
        journals: list[Template] = []
        for _ in range(JOURNALS_PER_DAY):
            number += 1
            tenant = rng.choice(tenants)
            lines = _journal_lines(rng, ledgers[tenant])
            stored = mapper.to_stored_event(_journal_posted(tenant, number, day, lines))
            base: Lines = tuple(
                (e.ledger_id, e.amount_base, 0)
                if e.direction == "debit"
                else (e.ledger_id, 0, e.amount_base)
                for e in lines
            )
            journals.append((tenant, stored.topic, stored.state, day, base))
        days.append(journals)
    return days


async def copy_log_rows(conn: asyncpg.Connection[Any], rows: list[tuple[Any, ...]]) -> None:
    """COPY ``rows`` into ``ledger_events``: (originator id, version, topic, state, position,
    tenant id, chain hash) each."""
    await conn.copy_records_to_table(
        "ledger_events",
        records=rows,
        columns=[
            "originator_id",
            "originator_version",
            "topic",
            "state",
            "notification_id",
            "tenant_id",
            "chain_hash",
        ],
    )


async def _fill(conn: asyncpg.Connection[Any], events: int) -> None:
    """Write ``events`` journal events at positions 1..events with a valid hash chain, and
    the same journals' entries as plain rows (``bench_entries``, the relational baseline's
    input)."""
    rng = random.Random(20260601)  # reproducible data, not secrets
    states = _journal_states(rng)
    prev = GENESIS_HASH
    position = 0
    await conn.execute(_ENTRIES_DDL)
    while position < events:
        rows: list[tuple[Any, ...]] = []
        entries: list[tuple[Any, ...]] = []
        for _ in range(min(COPY_ROWS, events - position)):
            position += 1
            # The log is in time order, as a ledger's is: effective dates rise with positions.
            journals = states[(position - 1) * DAYS // events]
            tenant, topic, state, day, base = journals[position % len(journals)]
            row = RecordedEvent(position, uuid.uuid4(), 1, topic, state, tenant, b"")
            prev = chain_link(prev, row)
            rows.append((row.originator_id, 1, topic, state, position, tenant, prev))
            entries.extend((position, tenant, day, *line) for line in base)
        await copy_log_rows(conn, rows)
        await conn.copy_records_to_table(_ENTRIES_TABLE, records=entries)
    await conn.execute(
        "SELECT setval(pg_get_serial_sequence('ledger_events', 'notification_id'), $1)", events
    )
    await conn.execute("ANALYZE ledger_events")
    await conn.execute(f"ANALYZE {_ENTRIES_TABLE}")


async def _baselines(conn: asyncpg.Connection[Any]) -> dict[str, float]:
    """Seconds of each SQL baseline into a copy of the trial balance table.

    Raises:
        RuntimeError: a baseline's rows differ from the rebuilt trial balance's.
    """
    await conn.execute(f"CREATE TABLE {_BASELINE_TABLE} (LIKE trial_balance_daily INCLUDING ALL)")
    seconds: dict[str, float] = {}
    for key, sql, args in (
        ("sql_relational", _RELATIONAL_SQL, ()),
        ("sql_json", _JSON_SQL, (get_topic(Journal.JournalPosted),)),
    ):
        _progress(f"baseline {key}")
        await conn.execute(f"TRUNCATE {_BASELINE_TABLE}")
        started = time.perf_counter()
        await conn.execute(sql, *args)
        seconds[key] = time.perf_counter() - started
        differing = int(await conn.fetchval(_COMPARE_SQL))
        if differing:
            raise RuntimeError(
                f"the rebuilt trial balance differs from {key}'s in {differing} rows"
            )
    return seconds


@register(
    "rebuild",
    description="projection rebuild (trial_balance) vs one SQL INSERT ... SELECT ... GROUP BY",
    ratios=(
        Ratio(
            label="rebuild / SQL GROUP BY over the log's JSON (same input, same rows)",
            numerator="rebuild",
            denominator="sql_json",
            target=0.25,
        ),
        Ratio(
            label="rebuild / SQL GROUP BY over ready-made entry rows (no JSON)",
            numerator="rebuild",
            denominator="sql_relational",
        ),
        Ratio(
            label="rebuild / 100,000 events/s",
            numerator="rebuild",
            denominator="floor_100k",
            target=1.0,
        ),
    ),
)
async def rebuild_scenario(ctx: BenchContext) -> list[ResultRow]:
    events = EVENTS_TINY if ctx.tiny else EVENTS_QUICK if ctx.quick else EVENTS
    conn = await asyncpg.connect(ctx.database_url)
    try:
        _progress(f"writing {events:,} journal events")
        await _fill(conn, events)
        # Warm the cache for both contenders alike: each reads the whole log once first.
        await conn.fetchval("SELECT count(*) FROM ledger_events WHERE length(state) > 0")

        _progress("rebuilding trial_balance")
        report = await rebuild(
            ctx.database_url, [TrialBalanceProjection()], async_names={"trial_balance"}
        )
        assert report.position == events

        seconds = await _baselines(conn)
    finally:
        await conn.close()

    def row(key: str, label: str, seconds: float, operations: int = events) -> ResultRow:
        return ResultRow(
            key=key,
            label=label,
            unit=_UNIT,
            concurrency=1,
            operations=operations,
            seconds=seconds,
            p50_ms=0.0,
            p99_ms=0.0,
        )

    return [
        row(
            "rebuild",
            f"ledger projections rebuild trial_balance ({events:,} events)",
            report.seconds,
        ),
        row(
            "sql_relational",
            "SQL INSERT ... SELECT ... GROUP BY over entry rows",
            seconds["sql_relational"],
        ),
        row(
            "sql_json",
            "SQL INSERT ... SELECT ... GROUP BY over the log's JSON",
            seconds["sql_json"],
        ),
        row("floor_100k", "target: 100,000 events/s (fixed)", 1.0, 100_000),
    ]
