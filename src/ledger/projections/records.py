"""Records, matches, match items and runs: the reconciliation read tables, written inline.

``RecordsProjection`` folds ``Record``, ``Match`` and ``ReconciliationRun`` events (and
nothing else) into ``records``, ``matches``, ``match_items``, ``reconciliation_runs`` and the
tenants' ``record_id`` counter, in the append's transaction, so the next batch decides
against exact state. Whether an item is reconciled is never stored as a flag: it is the
existence of a ``match_items`` row whose ``unmatched_position`` is empty (or, as known at
position P, one with ``matched_position <= P`` and no ``unmatched_position <= P``).

Inserts are collected and written with one statement per table (arrays + ``unnest``); an
unmatch first writes every insert before it, and a later insert first writes the unmatches
before it, so the rows change in position order (an item unmatched and matched again in one
batch never meets the unique index of active items twice).

The documents the API answers for records and matches are :mod:`ledger.documents.records`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final
from uuid import UUID

import msgspec
from eventsourcing.utils import get_topic

from ledger.domain.records import (
    RECORD_ID_COUNTER,
    Match,
    MatchRule,
    ReconciliationRun,
    Record,
)
from ledger.store.database import DbConnection
from ledger.store.group_commit import InlineProjection, PositionedEvent

_json = msgspec.json.Encoder()


_INSERT_RECORDS: Final = """
INSERT INTO records (tenant_id, record_id, record_uuid, data_stream_key, external_id, amount,
    direction, date, decimal_places, description, metadata, request_sha256, created_at, position)
SELECT * FROM unnest($1::uuid[], $2::int8[], $3::uuid[], $4::text[], $5::text[], $6::int8[],
    $7::text[], $8::date[], $9::int2[], $10::text[], $11::jsonb[], $12::bytea[],
    $13::timestamptz[], $14::int8[])
"""
_INSERT_MATCHES: Final = """
INSERT INTO matches (match_id, tenant_id, status, difference, tolerance, decimal_places, rule,
    note, run_id, created_at, matched_position, position, version)
SELECT m, t, 'active', d, tol, dp, r, n, run, c, p, p, v
FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::int8[], $5::int2[], $6::jsonb[],
    $7::text[], $8::uuid[], $9::timestamptz[], $10::int8[], $11::int8[])
    AS u(m, t, d, tol, dp, r, n, run, c, p, v)
"""
_INSERT_ITEMS: Final = """
INSERT INTO match_items (match_id, item_index, tenant_id, record_id, entry_id, data_stream_key,
    amount, direction, decimal_places, matched_position)
SELECT * FROM unnest($1::uuid[], $2::int2[], $3::uuid[], $4::int8[], $5::uuid[], $6::text[],
    $7::int8[], $8::text[], $9::int2[], $10::int8[])
"""
_INSERT_RUNS: Final = """
INSERT INTO reconciliation_runs (run_id, tenant_id, left_stream, right_stream, rules, matched,
    unmatched_left, unmatched_right, skipped, created_at, position)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::jsonb[], $6::int8[],
    $7::int8[], $8::int8[], $9::int8[], $10::timestamptz[], $11::int8[])
"""
_UNMATCH_MATCHES: Final = """
UPDATE matches AS m SET status = 'unmatched', unmatched_at = u.at, unmatched_position = u.p,
    position = u.p, version = u.v
FROM unnest($1::uuid[], $2::int8[], $3::timestamptz[], $4::int8[]) AS u(id, p, at, v)
WHERE m.match_id = u.id
"""
_UNMATCH_ITEMS: Final = """
UPDATE match_items AS i SET unmatched_position = u.p
FROM unnest($1::uuid[], $2::int8[]) AS u(id, p)
WHERE i.match_id = u.id AND i.unmatched_position IS NULL
"""
_UPSERT_COUNTERS: Final = """
INSERT INTO tenant_counters AS c (tenant_id, counter, value)
SELECT t, $3, v FROM unnest($1::uuid[], $2::int8[]) AS u(t, v) ORDER BY t
ON CONFLICT (tenant_id, counter) DO UPDATE SET value = greatest(c.value, excluded.value)
"""


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    columns: list[list[Any]] = [[] for _ in range(width)]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns


class _Writes:
    def __init__(self) -> None:
        self.records: list[tuple[Any, ...]] = []
        self.matches: list[tuple[Any, ...]] = []
        self.items: list[tuple[Any, ...]] = []
        self.runs: list[tuple[Any, ...]] = []
        self.unmatches: list[tuple[Any, ...]] = []
        self.counters: dict[UUID, int] = {}

    @property
    def inserts_pending(self) -> bool:
        return bool(self.records or self.matches or self.runs)

    async def flush_inserts(self, conn: DbConnection) -> None:
        if self.records:
            await conn.execute(_INSERT_RECORDS, *_columns(self.records, 14))
            self.records = []
        if self.matches:
            await conn.execute(_INSERT_MATCHES, *_columns(self.matches, 11))
            await conn.execute(_INSERT_ITEMS, *_columns(self.items, 10))
            self.matches, self.items = [], []
        if self.runs:
            await conn.execute(_INSERT_RUNS, *_columns(self.runs, 11))
            self.runs = []

    async def flush_unmatches(self, conn: DbConnection) -> None:
        if self.unmatches:
            columns = _columns(self.unmatches, 4)
            await conn.execute(_UNMATCH_MATCHES, *columns)
            await conn.execute(_UNMATCH_ITEMS, columns[0], columns[1])
            self.unmatches = []

    async def flush_counters(self, conn: DbConnection) -> None:
        if self.counters:
            tenants = sorted(self.counters)
            await conn.execute(
                _UPSERT_COUNTERS, tenants, [self.counters[t] for t in tenants], RECORD_ID_COUNTER
            )
            self.counters = {}


def _rule_text(rule: MatchRule | None) -> str | None:
    return None if rule is None else _json.encode(rule).decode()


def _record_row(event: Record.RecordImported, position: int) -> tuple[Any, ...]:
    """The ``records`` row of an import, in the columns of :data:`_INSERT_RECORDS`."""
    return (
        event.tenant_id,
        event.record_id,
        event.originator_id,
        event.data_stream_key,
        event.external_id,
        event.amount,
        event.direction,
        event.date,
        event.decimal_places,
        event.description,
        _json.encode(event.metadata).decode(),
        bytes.fromhex(event.request_sha256),
        event.timestamp,
        position,
    )


def _match_row(event: Match.RecordMatched, position: int) -> tuple[Any, ...]:
    """The ``matches`` row of a match, in the columns of :data:`_INSERT_MATCHES`."""
    return (
        event.originator_id,
        event.tenant_id,
        event.difference,
        event.tolerance,
        event.decimal_places,
        _rule_text(event.rule),
        event.note,
        event.run_id,
        event.timestamp,
        position,
        event.originator_version,
    )


def _item_rows(event: Match.RecordMatched, position: int) -> list[tuple[Any, ...]]:
    """The ``match_items`` rows of a match, in the columns of :data:`_INSERT_ITEMS`."""
    return [
        (
            event.originator_id,
            index,
            event.tenant_id,
            item.record_id,
            item.entry_id,
            item.data_stream_key,
            item.amount,
            item.direction,
            item.decimal_places,
            position,
        )
        for index, item in enumerate(event.items)
    ]


def _run_row(event: ReconciliationRun.ReconciliationRunCompleted, position: int) -> tuple[Any, ...]:
    """The ``reconciliation_runs`` row of a run, in the columns of :data:`_INSERT_RUNS`."""
    return (
        event.originator_id,
        event.tenant_id,
        event.left,
        event.right,
        _json.encode(event.rules).decode(),
        event.matched,
        event.unmatched_left,
        event.unmatched_right,
        event.skipped,
        event.timestamp,
        position,
    )


class RecordsProjection(InlineProjection):
    """Folds record, match and run events into the reconciliation tables (module doc)."""

    name = "records"
    tables = ("records", "matches", "match_items", "reconciliation_runs", "tenant_counters")
    # What ``apply`` folds: a rebuild reads only these rows of the log.
    topics: frozenset[str] = frozenset(
        map(
            get_topic,
            (
                Record.RecordImported,
                Match.RecordMatched,
                Match.RecordUnmatched,
                ReconciliationRun.ReconciliationRunCompleted,
            ),
        )
    )

    async def apply(self, conn: DbConnection, events: Sequence[PositionedEvent]) -> None:
        writes = _Writes()
        for positioned in events:
            event = positioned.event
            position = positioned.position
            if isinstance(event, Record.RecordImported):
                await writes.flush_unmatches(conn)
                writes.records.append(_record_row(event, position))
                writes.counters[event.tenant_id] = max(
                    writes.counters.get(event.tenant_id, 0), event.record_id
                )
            elif isinstance(event, Match.RecordMatched):
                await writes.flush_unmatches(conn)
                writes.matches.append(_match_row(event, position))
                writes.items.extend(_item_rows(event, position))
            elif isinstance(event, Match.RecordUnmatched):
                if writes.inserts_pending:
                    await writes.flush_inserts(conn)
                writes.unmatches.append(
                    (event.originator_id, position, event.timestamp, event.originator_version)
                )
            elif isinstance(event, ReconciliationRun.ReconciliationRunCompleted):
                await writes.flush_unmatches(conn)
                writes.runs.append(_run_row(event, position))
        await writes.flush_inserts(conn)
        await writes.flush_unmatches(conn)
        await writes.flush_counters(conn)
