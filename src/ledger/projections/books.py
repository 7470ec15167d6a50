"""The books: journals, entries, movements, balances with the parent cascade, checkpoints and
changes, written inline (in the append's transaction) in one round trip per batch.

Design note: reads that stay flat as history grows
--------------------------------------------------
A ledger is read for years, so no read may sum its history. Every journal event is folded, in
the transaction that appends it, into rows that answer each read with a few index probes
(migration 0007 has the tables; :func:`ledger_books_apply` in SQL writes them all):

- ``balance_movements``: one row per change of one entry's balance (a posted or pending entry;
  a commit releases the hold and posts; a void releases), with its effective date and
  position. Statements read pages of these, never all of them.
- ``balances``: per (ledger, currency), the current totals of the ledger itself and of its
  whole subtree (``tree_*``, the parent cascade): a current balance at any depth is one row.
  Limits (``min_balance``) are checked against these rows, locked, inside group commit.
- ``balance_checkpoints``: per (ledger, currency, effective date with activity), the totals
  of every movement dated on or before it. "As of D" is the row with the greatest date <= D.
  A back-dated posting adds to every later row of its ledger and ancestors: its cost is one
  row update per later date with activity (documented in the README).
- ``balance_changes``: the same deltas per fixed bucket of 1,024 positions and effective date.
  "As of D, known at P" = checkpoint(D) - changes of the buckets after P's - movements of P's
  own bucket after P: the cost grows with what happened after P (one row per bucket and date
  touched, plus at most one bucket of movements), never with the length of history.

The cascade is summed in SQL along ``ledgers.ancestor_ids`` (fixed when a ledger is opened), so
each batch aggregates its deltas per touched (ancestor, currency, date, bucket) and upserts
each row once, in key order. The projection is a pure fold of journal events: Python collects
one batch's facts into column arrays (:class:`BooksBatch`), and one SQL function call writes
every row. The same batch is fed by decoded domain events (:meth:`BooksProjection.apply`, the
live path) or by stored rows decoded into minimal structs (:meth:`BooksProjection.apply_recorded`,
the rebuild's fast path); the golden streams and the property tests check both give the same
rows.

Journal documents (the 201 answer) are not stored: they are a pure function of the
``JournalPosted`` event and its position (``ledger.documents.journals.render_posted``),
rendered when read. What a read overlays on them is in the journal row: status,
``reversed_by``, and the notes annotations change (``JournalAnnotated``: ``description``,
``reference``, and ``metadata``, NULL until an annotation changes it; migration 0010). An
annotation moves no money: it is written by one ``UPDATE`` of the rows after the batch's
``ledger_books_apply`` call (:meth:`BooksBatch.annotated`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Final
from uuid import UUID

import msgspec
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.domain.journals import Journal
from ledger.store.database import DbConnection
from ledger.store.group_commit import InlineProjection, PositionedEvent
from ledger.store.mapper import MsgspecMapper

JOURNAL_NUMBER_COUNTER: Final = "journal_number"

POSTED_TOPIC: Final = get_topic(Journal.JournalPosted)
COMMITTED_TOPIC: Final = get_topic(Journal.JournalCommitted)
VOIDED_TOPIC: Final = get_topic(Journal.JournalVoided)
REVERSED_TOPIC: Final = get_topic(Journal.JournalReversed)
ANNOTATED_TOPIC: Final = get_topic(Journal.JournalAnnotated)

_APPLY_SQL: Final = (
    "SELECT ledger_books_apply("
    "$1::uuid[], $2::uuid[], $3::int8[], $4::text[], $5::text[], $6::date[], $7::date[],"
    " $8::date[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::bytea[],"
    " $15::bytea[], $16::uuid[], $17::uuid[], $18::timestamptz[], $19::int8[], $20::int8[],"
    " $21::uuid[], $22::uuid[], $23::int2[], $24::uuid[], $25::text[], $26::int8[], $27::text[],"
    " $28::int8[], $29::text[], $30::jsonb[],"
    " $31::uuid[], $32::text[], $33::int8[], $34::uuid[],"
    " $35::uuid[], $36::int8[], $37::bool[],"
    " $38::uuid[], $39::int8[], $40::bool)"
)
# Amendment lineage (migration 0009): after the journals of the batch are written.
_LINEAGE_SQL: Final = "SELECT ledger_books_lineage($1::uuid[], $2::uuid[])"
# Annotations (JournalAnnotated) after the batch's other writes: a journal's notes, and its
# version when the annotation is its latest event (a commit, void or reversal of the same
# batch may come after it).
_ANNOTATE_SQL: Final = (
    "UPDATE journals j SET"
    " description = CASE WHEN a.description_set THEN a.description ELSE j.description END,"
    " reference = CASE WHEN a.reference_set THEN a.reference ELSE j.reference END,"
    " metadata = coalesce(a.metadata, j.metadata),"
    " version = greatest(j.version, a.version)"
    " FROM unnest($1::uuid[], $2::int8[], $3::bool[], $4::text[], $5::bool[], $6::text[],"
    " $7::jsonb[]) AS a(id, version, description_set, description, reference_set, reference,"
    " metadata)"
    " WHERE j.journal_id = a.id"
)
# Bulk loads COPY these columns, in this order (BooksBatch.write_bulk).
_JOURNAL_COPY_COLUMNS: Final = (
    "journal_id",
    "tenant_id",
    "number",
    "status",
    "date",
    "accrual_date",
    "effective_date",
    "description",
    "reference",
    "external_id",
    "currency",
    "base_currency",
    "request_sha256",
    "duplicate_sha256",
    "reversal_of",
    "reversed_by",
    "created_at",
    "position",
    "version",
)
_ENTRY_COPY_COLUMNS: Final = (
    "entry_id",
    "journal_id",
    "tenant_id",
    "entry_index",
    "ledger_id",
    "direction",
    "amount",
    "currency",
    "amount_base",
    "description",
    "metadata",
)
_MOVEMENT_COPY_COLUMNS: Final = (
    "tenant_id",
    "ledger_id",
    "currency",
    "effective_date",
    "position",
    "journal_id",
    "entry_id",
    "debits_posted",
    "credits_posted",
    "debits_pending",
    "credits_pending",
    "debits_base",
    "credits_base",
)
_JOURNAL_COLUMNS: Final = 20
_ENTRY_COLUMNS: Final = 10
# Indexes into a journal row (a list, so that later events of the batch can change it).
_POSTED_AS, _STATUS, _REVERSED_BY, _VERSION = 3, 4, 16, 19

_json = msgspec.json.Encoder()


class EntryFacts(msgspec.Struct, frozen=True, gc=False):
    """What the books need of one entry, decoded straight from the stored event (UUIDs stay
    text: PostgreSQL parses them)."""

    entry_id: str
    ledger_id: str
    direction: str
    amount: int
    currency: str
    amount_base: int
    description: str | None = None
    metadata: msgspec.Raw = msgspec.Raw(b"{}")


class BooksBatch:
    """One batch of journal facts, in position order, as the column arrays of
    ``ledger_books_apply``.

    A journal posted in this batch is inserted with its status after the whole batch; a
    journal posted before it gets one status change (its last); settlements carry their own
    positions (the movements they make are dated by the journal's effective date).
    Annotations change notes only (no movement): their net per journal is written after the
    rest, by one more statement (only in a batch that has one).
    """

    def __init__(self, *, bulk: bool = False) -> None:
        # bulk: entries and movements are collected as the COPY records of write_bulk
        # (_ENTRY_COPY_COLUMNS, _MOVEMENT_COPY_COLUMNS) instead of the columns of write.
        self.bulk = bulk
        self.journals: dict[UUID, list[Any]] = {}
        self.entries: list[tuple[Any, ...]] = []
        self.movements: list[tuple[Any, ...]] = []
        self.changes: dict[UUID, list[Any]] = {}  # journal id -> [status, version, reversed_by]
        self.settlements: list[tuple[UUID, int, bool]] = []
        self.counters: dict[UUID, int] = {}
        # (journal, the journal it amends) of the batch's amendments, in position order.
        self.lineage: list[tuple[Any, Any]] = []
        # journal id -> [version, description_set, description, reference_set, reference,
        # metadata as JSON text or None]: the batch's annotations of it, merged in order.
        self.annotations: dict[Any, list[Any]] = {}

    def __bool__(self) -> bool:
        return bool(self.journals or self.changes or self.settlements or self.annotations)

    def _books(self) -> bool:
        """Whether the batch has more than annotations (``ledger_books_apply`` has work)."""
        return bool(self.journals or self.changes or self.settlements)

    def posted(self, journal_id: Any, position: int, version: int, posted: Any) -> None:
        """A ``JournalPosted``: ``posted`` is the event or its minimal stored form
        (:class:`_PostedState`); both have the fields read here (UUIDs may be text)."""
        assert journal_id not in self.journals, f"journal {journal_id} posted twice"
        self.journals[journal_id] = [
            journal_id,
            posted.tenant_id,
            posted.number,
            posted.status,  # the status it was posted with
            posted.status,  # _STATUS: its status after this batch
            posted.date,
            posted.accrual_date,
            posted.effective_date,
            posted.description,
            posted.reference,
            posted.external_id,
            posted.currency,
            posted.base_currency,
            bytes.fromhex(posted.request_sha256),
            bytes.fromhex(posted.duplicate_sha256),
            posted.reversal_of,
            None,  # _REVERSED_BY
            posted.timestamp,
            position,
            version,  # _VERSION
        ]
        if self.bulk:
            self._posted_bulk(journal_id, position, posted)
        else:
            self._posted_entries(journal_id, posted)
        if posted.number > self.counters.get(posted.tenant_id, 0):
            self.counters[posted.tenant_id] = posted.number
        if posted.amends is not None:
            self.lineage.append((journal_id, posted.amends))

    def _posted_bulk(self, journal_id: Any, position: int, posted: Any) -> None:
        """A posted journal's entries and movements as COPY records (as ledger_books_apply's
        "posting": a pending journal's entries are pending movements, without base amounts;
        any other's are posted)."""
        tenant, effective = posted.tenant_id, posted.effective_date
        pending = posted.status == "pending"
        add_entry, add_movement = self.entries.append, self.movements.append
        for index, e in enumerate(posted.entries):
            metadata = e.metadata
            entry_id, ledger_id, currency, amount = e.entry_id, e.ledger_id, e.currency, e.amount
            debit = e.direction == "debit"
            add_entry(
                (
                    entry_id,
                    journal_id,
                    tenant,
                    index,
                    ledger_id,
                    e.direction,
                    amount,
                    currency,
                    e.amount_base,
                    e.description,
                    bytes(metadata).decode()
                    if isinstance(metadata, msgspec.Raw)
                    else _json.encode(metadata).decode(),
                )
            )
            head = (tenant, ledger_id, currency, effective, position, journal_id, entry_id)
            if pending:
                add_movement(
                    (*head, 0, 0, amount, 0, 0, 0) if debit else (*head, 0, 0, 0, amount, 0, 0)
                )
            elif debit:
                add_movement((*head, amount, 0, 0, 0, e.amount_base, 0))
            else:
                add_movement((*head, 0, amount, 0, 0, 0, e.amount_base))

    def _posted_entries(self, journal_id: Any, posted: Any) -> None:
        append = self.entries.append
        for index, e in enumerate(posted.entries):
            metadata = e.metadata
            append(
                (
                    e.entry_id,
                    journal_id,
                    index,
                    e.ledger_id,
                    e.direction,
                    e.amount,
                    e.currency,
                    e.amount_base,
                    e.description,
                    bytes(metadata).decode()
                    if isinstance(metadata, msgspec.Raw)
                    else _json.encode(metadata).decode(),
                )
            )

    def _status(
        self, journal_id: UUID, status: str, version: int, reversed_by: UUID | str | None
    ) -> None:
        row = self.journals.get(journal_id)
        if row is not None:
            row[_STATUS], row[_VERSION] = status, version
            if reversed_by is not None:
                row[_REVERSED_BY] = reversed_by
            return
        change = self.changes.get(journal_id)
        if change is None:
            self.changes[journal_id] = [status, version, reversed_by]
        else:
            change[0], change[1] = status, version
            if reversed_by is not None:
                change[2] = reversed_by

    def settled(self, journal_id: UUID, version: int, position: int, *, committed: bool) -> None:
        """A ``JournalCommitted`` (``committed``) or ``JournalVoided``."""
        self._status(journal_id, "posted" if committed else "voided", version, None)
        self.settlements.append((journal_id, position, committed))

    def reversed(self, journal_id: UUID, version: int, reversed_by: UUID | str) -> None:
        """A ``JournalReversed``."""
        self._status(journal_id, "reversed", version, reversed_by)

    def annotated(self, journal_id: Any, version: int, event: Journal.JournalAnnotated) -> None:
        """A ``JournalAnnotated``: its changed fields win over the batch's earlier ones."""
        metadata = None if event.metadata is None else _json.encode(event.metadata).decode()
        net = self.annotations.setdefault(journal_id, [version, False, None, False, None, None])
        net[0] = version
        if event.description_set:
            net[1], net[2] = True, event.description
        if event.reference_set:
            net[3], net[4] = True, event.reference
        if metadata is not None:
            net[5] = metadata

    async def _write_annotations(self, conn: DbConnection) -> None:
        if self.annotations:
            await conn.execute(
                _ANNOTATE_SQL, list(self.annotations), *_columns(self.annotations.values(), 6)
            )

    async def write(self, conn: DbConnection, *, maintain: bool = True) -> None:
        """Write every row of the batch with one call of ``ledger_books_apply``
        (``maintain=False``: journals, entries and movements only, see
        :meth:`BooksProjection.apply_bulk`)."""
        assert not self.bulk, "a BooksBatch(bulk=True) is written by write_bulk"
        if self._books():
            await self._call(conn, self.journals.values(), self.entries, maintain=maintain)
        await self._write_lineage(conn)
        await self._write_annotations(conn)

    async def _write_lineage(self, conn: DbConnection) -> None:
        """``amends`` and ``amended_by`` of the batch's amendments (migration 0009): one more
        statement, only in a batch that has one."""
        if self.lineage:
            await conn.execute(
                _LINEAGE_SQL, [j for j, _ in self.lineage], [a for _, a in self.lineage]
            )

    async def _call(
        self,
        conn: DbConnection,
        journal_rows: Iterable[Sequence[Any]],
        entry_rows: Iterable[Sequence[Any]],
        *,
        maintain: bool,
    ) -> None:
        """One call of ``ledger_books_apply`` with the given journals and entries and the
        batch's status changes, settlements and counters."""
        journals = _columns(journal_rows, _JOURNAL_COLUMNS)
        entries = _columns(entry_rows, _ENTRY_COLUMNS)
        changed = list(self.changes)
        changes = _columns(self.changes.values(), 3)
        settlements = _columns(self.settlements, 3)
        tenants = sorted(self.counters)
        await conn.execute(
            _APPLY_SQL,
            *journals,
            *entries,
            changed,
            *changes,
            *settlements,
            tenants,
            [self.counters[t] for t in tenants],
            maintain,
        )

    async def write_bulk(self, conn: DbConnection) -> None:
        """Write the batch for a bulk load (:meth:`BooksProjection.apply_bulk`): journals,
        entries and the movements of the postings with binary ``COPY``, then one call of
        ``ledger_books_apply`` (``p_maintain => false``, no journal of its own) for what
        refers to earlier rows: status changes, the movements of settlements, counters.

        The rows are those :meth:`write` writes with ``maintain=False``; only the movements'
        surrogate ids are drawn in another order (a settlement's after the batch's postings
        instead of between them by position). Nothing reads ids across positions: statements
        order by (effective date, position, id), and a position is one event, whose movements
        keep their order (entry index, then release before post). It consumes the batch
        (its journal rows lose the column the table does not have).
        """
        assert self.bulk, "write_bulk needs a BooksBatch(bulk=True)"
        if self.journals:
            journals = list(self.journals.values())
            for row in journals:
                # The status it was posted with is no column (the rows are this batch's own
                # and are not used after it is written).
                del row[_POSTED_AS]
            await conn.copy_records_to_table(
                "journals", records=journals, columns=_JOURNAL_COPY_COLUMNS
            )
            await conn.copy_records_to_table(
                "journal_entries", records=self.entries, columns=_ENTRY_COPY_COLUMNS
            )
            await conn.copy_records_to_table(
                "balance_movements", records=self.movements, columns=_MOVEMENT_COPY_COLUMNS
            )
        if self.changes or self.settlements or self.counters:
            await self._call(conn, (), (), maintain=False)
        await self._write_lineage(conn)
        await self._write_annotations(conn)


def _columns(rows: Iterable[Sequence[Any]], width: int) -> list[list[Any]]:
    """``rows`` transposed into ``width`` column lists (in C: this runs per row of a batch)."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    if not columns:
        return [[] for _ in range(width)]
    assert len(columns) == width
    return columns


def fold_domain_events(batch: BooksBatch, events: Iterable[PositionedEvent]) -> None:
    """Feed decoded journal events (others are ignored) to ``batch``, in position order."""
    for positioned in events:
        event = positioned.event
        if isinstance(event, Journal.JournalPosted):
            batch.posted(event.originator_id, positioned.position, event.originator_version, event)
        elif isinstance(event, Journal.JournalCommitted | Journal.JournalVoided):
            batch.settled(
                event.originator_id,
                event.originator_version,
                positioned.position,
                committed=isinstance(event, Journal.JournalCommitted),
            )
        elif isinstance(event, Journal.JournalReversed):
            batch.reversed(event.originator_id, event.originator_version, event.reversed_by)
        elif isinstance(event, Journal.JournalAnnotated):
            batch.annotated(event.originator_id, event.originator_version, event)


# --- the fast path: the fields the books need, straight from the stored JSON ----------------


class _PostedState(msgspec.Struct, gc=False):
    tenant_id: str
    number: int
    status: str
    date: dt.date
    accrual_date: dt.date | None
    effective_date: dt.date
    description: str | None
    reference: str | None
    external_id: str | None
    currency: str
    base_currency: str
    entries: list[EntryFacts]
    reversal_of: str | None
    request_sha256: str
    duplicate_sha256: str
    timestamp: dt.datetime
    amends: str | None = None
    class_version: int = 1


class _ReversedState(msgspec.Struct, gc=False):
    reversed_by: str
    class_version: int = 1


_posted_decoder = msgspec.json.Decoder(_PostedState)
_reversed_decoder = msgspec.json.Decoder(_ReversedState)
# The stored formats these minimal decoders understand (see ledger.store.mapper); an event
# stored at another class_version goes through the mapper and its upcasters instead.
_POSTED_CLASS_VERSION: Final = getattr(Journal.JournalPosted, "class_version", 1)
_REVERSED_CLASS_VERSION: Final = getattr(Journal.JournalReversed, "class_version", 1)


def fold_stored_events(batch: BooksBatch, rows: Iterable[Any], mapper: MsgspecMapper) -> None:
    """Feed stored rows ``(position, originator_id, topic, state, originator_version, ...)``
    (``runner.ROW_COLUMNS``) to ``batch``; rows of other topics are ignored. Annotations are
    rare: they are decoded by the mapper, with no fast path of their own."""
    for row in rows:
        topic = row[2]
        if topic == POSTED_TOPIC:
            s = _posted_decoder.decode(row[3])
            if s.class_version != _POSTED_CLASS_VERSION:
                event = mapper.to_domain_event(StoredEvent(row[1], row[4], topic, row[3]))
                fold_domain_events(batch, [PositionedEvent(row[0], None, event)])
                continue
            batch.posted(row[1], row[0], row[4], s)
        elif topic in (COMMITTED_TOPIC, VOIDED_TOPIC):
            batch.settled(row[1], row[4], row[0], committed=topic == COMMITTED_TOPIC)
        elif topic == REVERSED_TOPIC:
            r = _reversed_decoder.decode(row[3])
            if r.class_version != _REVERSED_CLASS_VERSION:
                event = mapper.to_domain_event(StoredEvent(row[1], row[4], topic, row[3]))
                fold_domain_events(batch, [PositionedEvent(row[0], None, event)])
                continue
            batch.reversed(row[1], row[4], r.reversed_by)
        elif topic == ANNOTATED_TOPIC:
            event = mapper.to_domain_event(StoredEvent(row[1], row[4], topic, row[3]))
            fold_domain_events(batch, [PositionedEvent(row[0], None, event)])


class BooksProjection(InlineProjection):
    """Folds journal events into the books' tables (see the module docstring)."""

    name = "books"
    tables = (
        "journals",
        "journal_entries",
        "balances",
        "balance_movements",
        "balance_checkpoints",
        "balance_changes",
        "tenant_counters",
    )
    topics: frozenset[str] = frozenset(
        {POSTED_TOPIC, COMMITTED_TOPIC, VOIDED_TOPIC, REVERSED_TOPIC, ANNOTATED_TOPIC}
    )

    def __init__(self, mapper: MsgspecMapper | None = None) -> None:
        self._mapper = mapper or MsgspecMapper()

    async def apply(self, conn: DbConnection, events: Sequence[PositionedEvent]) -> None:
        batch = BooksBatch()
        fold_domain_events(batch, events)
        await batch.write(conn)

    async def apply_recorded(self, conn: DbConnection, rows: Sequence[Any]) -> None:
        """Like :meth:`apply`, from stored rows (``runner.ROW_COLUMNS``)."""
        batch = BooksBatch()
        fold_stored_events(batch, rows, self._mapper)
        await batch.write(conn)

    async def apply_bulk(self, conn: DbConnection, rows: Sequence[Any]) -> None:
        """A rebuild's bulk load: like :meth:`apply_recorded`, but writes journals, entries
        and movements only. Once the load is done, :meth:`finish_bulk` computes the totals
        from the movements in one pass (cheaper than maintaining them batch by batch: no
        checkpoint is rewritten for every batch that touches an earlier date).

        The base rows go in with binary ``COPY`` (:meth:`BooksBatch.write_bulk`): no array
        parameters for the server to parse and ``unnest``, no movement rows sent back by
        ``RETURNING`` for totals that are not kept here; about twice as fast as the same
        rows through ``ledger_books_apply`` (docs/books.md, "Rebuilding in bulk")."""
        batch = BooksBatch(bulk=True)
        fold_stored_events(batch, rows, self._mapper)
        await batch.write_bulk(conn)

    async def finish_bulk(self, conn: DbConnection) -> None:
        """Compute ``balances``, ``balance_changes`` and ``balance_checkpoints`` from the
        movements (``ledger_books_derive``, migration 0008: one aggregation over movements x
        ancestors, the rest from its rows); later batches maintain them as usual."""
        await conn.execute("SELECT ledger_books_derive()")
