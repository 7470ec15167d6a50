"""Journals, entries, balances and balance movements: the books, written inline.

``BooksProjection`` runs in the append's transaction (group commit), so the balances the
next batch checks limits against are exact. It is a fold of journal events only: no
validation, no clock, no lookups beyond its own tables. Consecutive ``JournalPosted``
events are written with one statement per table (arrays + ``unnest``), so a batch of a
thousand journals costs a handful of statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import msgspec

from ledger.domain.journals import Journal
from ledger.projections.journal_document import encode_document, render_posted
from ledger.store.database import DbConnection
from ledger.store.group_commit import InlineProjection, PositionedEvent

JOURNAL_NUMBER_COUNTER = "journal_number"

_INSERT_JOURNALS = """
INSERT INTO journals (journal_id, tenant_id, number, status, date, accrual_date, effective_date,
    description, reference, external_id, currency, base_currency, request_sha256,
    duplicate_sha256, reversal_of, created_at, position, version, response)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::text[], $5::date[], $6::date[],
    $7::date[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bytea[],
    $14::bytea[], $15::uuid[], $16::timestamptz[], $17::int8[], $18::int8[], $19::bytea[])
"""
_INSERT_ENTRIES = """
INSERT INTO journal_entries (entry_id, journal_id, tenant_id, entry_index, ledger_id, direction,
    amount, currency, amount_base, description, metadata)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int2[], $5::uuid[], $6::text[],
    $7::int8[], $8::text[], $9::int8[], $10::text[], $11::jsonb[])
"""
_INSERT_MOVEMENTS = """
INSERT INTO balance_movements (tenant_id, ledger_id, currency, effective_date, position,
    journal_id, entry_id, debits_posted, credits_posted, debits_pending, credits_pending)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::date[], $5::int8[], $6::uuid[],
    $7::uuid[], $8::int8[], $9::int8[], $10::int8[], $11::int8[])
"""
# Rows are upserted in key order so two transactions never wait on each other in a cycle.
_UPSERT_BALANCES = """
INSERT INTO balances AS b (ledger_id, currency, tenant_id, debits_posted, credits_posted,
    debits_pending, credits_pending)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::numeric[], $5::numeric[],
    $6::numeric[], $7::numeric[]) ORDER BY 1, 2
ON CONFLICT (ledger_id, currency) DO UPDATE SET
    debits_posted = b.debits_posted + excluded.debits_posted,
    credits_posted = b.credits_posted + excluded.credits_posted,
    debits_pending = b.debits_pending + excluded.debits_pending,
    credits_pending = b.credits_pending + excluded.credits_pending
"""
_UPSERT_COUNTERS = """
INSERT INTO tenant_counters AS c (tenant_id, counter, value)
SELECT t, $3, v FROM unnest($1::uuid[], $2::int8[]) AS u(t, v)
ON CONFLICT (tenant_id, counter) DO UPDATE SET value = greatest(c.value, excluded.value)
"""

_json = msgspec.json.Encoder()


class _Writes:
    """Rows collected from a run of events, written with one statement per table."""

    def __init__(self) -> None:
        self.journals: list[tuple[Any, ...]] = []
        self.entries: list[tuple[Any, ...]] = []
        self.movements: list[tuple[Any, ...]] = []
        self.balances: dict[tuple[UUID, str], list[Any]] = {}
        self.counters: dict[UUID, int] = {}

    def movement(
        self,
        tenant_id: UUID,
        ledger_id: UUID,
        currency: str,
        effective_date: Any,
        position: int,
        journal_id: UUID,
        entry_id: UUID,
        deltas: tuple[int, int, int, int],
    ) -> None:
        self.movements.append(
            (
                tenant_id,
                ledger_id,
                currency,
                effective_date,
                position,
                journal_id,
                entry_id,
                *deltas,
            )
        )
        totals = self.balances.setdefault((ledger_id, currency), [tenant_id, 0, 0, 0, 0])
        for i, delta in enumerate(deltas):
            totals[i + 1] += delta

    async def flush(self, conn: DbConnection) -> None:
        if self.journals:
            await conn.execute(_INSERT_JOURNALS, *_columns(self.journals, 19))
        if self.entries:
            await conn.execute(_INSERT_ENTRIES, *_columns(self.entries, 11))
        if self.movements:
            await conn.execute(_INSERT_MOVEMENTS, *_columns(self.movements, 11))
        if self.balances:
            keys = sorted(self.balances)
            await conn.execute(
                _UPSERT_BALANCES,
                [k[0] for k in keys],
                [k[1] for k in keys],
                *_columns([self.balances[k] for k in keys], 5),
            )
        if self.counters:
            tenants = list(self.counters)
            await conn.execute(
                _UPSERT_COUNTERS,
                tenants,
                [self.counters[t] for t in tenants],
                JOURNAL_NUMBER_COUNTER,
            )
        self.__init__()  # type: ignore[misc]


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    columns: list[list[Any]] = [[] for _ in range(width)]
    for row in rows:
        assert len(row) == width
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns


def _deltas(direction: str, amount: int, *, pending: bool) -> tuple[int, int, int, int]:
    if pending:
        return (0, 0, amount, 0) if direction == "debit" else (0, 0, 0, amount)
    return (amount, 0, 0, 0) if direction == "debit" else (0, amount, 0, 0)


class BooksProjection(InlineProjection):
    name = "books"
    tables = ("journals", "journal_entries", "balances", "balance_movements", "tenant_counters")

    async def apply(self, conn: DbConnection, events: Sequence[PositionedEvent]) -> None:
        writes = _Writes()
        for positioned in events:
            event = positioned.event
            if isinstance(event, Journal.JournalPosted):
                self._posted(writes, event, positioned.position)
            elif isinstance(event, Journal.JournalCommitted | Journal.JournalVoided):
                await writes.flush(conn)
                await self._settled(conn, writes, event, positioned.position)
            elif isinstance(event, Journal.JournalReversed):
                await writes.flush(conn)
                await conn.execute(
                    "UPDATE journals SET status = 'reversed', reversed_by = $2, version = $3"
                    " WHERE journal_id = $1",
                    event.originator_id,
                    event.reversed_by,
                    event.originator_version,
                )
        await writes.flush(conn)

    @staticmethod
    def _posted(writes: _Writes, event: Journal.JournalPosted, position: int) -> None:
        journal_id = event.originator_id
        document = encode_document(render_posted(event, position))
        writes.journals.append(
            (
                journal_id,
                event.tenant_id,
                event.number,
                event.status,
                event.date,
                event.accrual_date,
                event.effective_date,
                event.description,
                event.reference,
                event.external_id,
                event.currency,
                event.base_currency,
                bytes.fromhex(event.request_sha256),
                bytes.fromhex(event.duplicate_sha256),
                event.reversal_of,
                event.timestamp,
                position,
                event.originator_version,
                document,
            )
        )
        pending = event.status == "pending"
        for index, entry in enumerate(event.entries):
            writes.entries.append(
                (
                    entry.entry_id,
                    journal_id,
                    event.tenant_id,
                    index,
                    entry.ledger_id,
                    entry.direction,
                    entry.amount,
                    entry.currency,
                    entry.amount_base,
                    entry.description,
                    _json.encode(entry.metadata).decode(),
                )
            )
            writes.movement(
                event.tenant_id,
                entry.ledger_id,
                entry.currency,
                event.effective_date,
                position,
                journal_id,
                entry.entry_id,
                _deltas(entry.direction, entry.amount, pending=pending),
            )
        writes.counters[event.tenant_id] = max(
            writes.counters.get(event.tenant_id, 0), event.number
        )

    @staticmethod
    async def _settled(
        conn: DbConnection,
        writes: _Writes,
        event: Journal.JournalCommitted | Journal.JournalVoided,
        position: int,
    ) -> None:
        committed = isinstance(event, Journal.JournalCommitted)
        rows = await conn.fetch(
            "UPDATE journals SET status = $2, version = $3 WHERE journal_id = $1"
            " RETURNING effective_date",
            event.originator_id,
            "posted" if committed else "voided",
            event.originator_version,
        )
        assert len(rows) == 1, f"settling unknown journal {event.originator_id}"
        effective_date = rows[0]["effective_date"]
        entries = await conn.fetch(
            "SELECT entry_id, ledger_id, currency, direction, amount FROM journal_entries"
            " WHERE journal_id = $1 ORDER BY entry_index",
            event.originator_id,
        )
        for e in entries:
            release = _deltas(e["direction"], -e["amount"], pending=True)
            writes.movement(
                event.tenant_id,
                e["ledger_id"],
                e["currency"],
                effective_date,
                position,
                event.originator_id,
                e["entry_id"],
                release,
            )
            if committed:
                writes.movement(
                    event.tenant_id,
                    e["ledger_id"],
                    e["currency"],
                    effective_date,
                    position,
                    event.originator_id,
                    e["entry_id"],
                    _deltas(e["direction"], e["amount"], pending=False),
                )
