"""Posting, committing, voiding, reversing and amending journals (docs/api.md §5).

Every rule that depends on state is decided inside the group-commit batch, in arrival order,
against rows loaded (and, for limited ledgers, locked) once per batch, so N concurrent
debits can never overdraw a ledger and N concurrent retries of one key create one journal.

Validation precedence of ``PostJournal`` (the first failing rule answers; each rule is a
pure function of :mod:`ledger.domain.posting`, which the handler calls in this order):

1. idempotency: a known key with the same request → replay (200); another request → 409
   ``IDEMPOTENCY_CONFLICT``;
2. 422 ``CURRENCY_UNKNOWN`` (journal currency, then entries in order, then the reporting
   currency);
3. 422 ``JOURNAL_UNBALANCED`` (per currency, currencies in code order);
4. 422 ``FX_RATE_NOT_FOUND`` (entries in order; then, with a reporting currency, its rates,
   entries in order);
5. 422 ``LEDGER_NOT_FOUND``, ``LEDGER_CLOSED``, ``CURRENCY_MISMATCH`` (entries in order,
   each entry checked for all three before the next);
6. reversal state: 409 ``ALREADY_REVERSED``, 422 ``INVALID_STATE``;
7. 409 ``POSSIBLE_DUPLICATE`` (only with ``check_duplicates`` and without ``force``);
8. 422 ``AMOUNT_OVERFLOW``: a ledger's side total (posted plus pending debits, or credits),
   with its descendants', would leave the int64 range (entries in order, each entry's
   ledger then its ancestors up to the root; ``ledger.domain.balances`` says why this
   bounds every balance). A journal's own totals are checked in steps 3 and 4 (per
   currency, then in the base and reporting currencies);
9. 422 ``INSUFFICIENT_FUNDS`` (ledgers in entry order).

Shape errors (entry count, amounts, ledger refs, dates) are 400s raised by the wire layer
before a command exists.

``ReverseJournal`` is decided as the ``PostJournal`` of its mirror (built from the original's
``JournalPosted`` event, inside the batch), so it answers in the same order; step 6 is
where a reversal of a reversed, pending or voided journal stops. ``AmendJournal`` checks
the replacement's key, then the amended journal's state, then decides the reversal and the
replacement as postings (:class:`AmendJournalHandler`). ``ChangeJournalStatus`` (commit,
void) locks the journal and checks it is pending.
``AnnotateJournal`` locks the journal and changes its notes only (any status;
``ledger.domain.annotations``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Final, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.persistence import StoredEvent

from ledger.commands.balances import (
    Available,
    BalanceState,
    RollupState,
    available_after,
    load_limited_balances,
    load_rollups,
)
from ledger.commands.ledgers import ledger_in_batch
from ledger.documents.journals import encode_document, render_posted
from ledger.domain.annotations import JournalNotes, NotesPatch, annotated, annotation_of
from ledger.domain.balances import Sides, check_sides
from ledger.domain.idempotency import request_fingerprint
from ledger.domain.journals import (
    EntryLine,
    Journal,
    JournalWarning,
    PendingAction,
    PostingStatus,
    journal_number_text,
)
from ledger.domain.ledgers import Direction
from ledger.domain.posting import (
    Original,
    Pricing,
    Reporting,
    check_amendable,
    check_entry_ledger,
    check_min_balance,
    check_reversible,
    check_settleable,
    duplicate_fingerprint,
    duplicate_warnings,
    entry_currency,
    mirrored_direction,
    price_entries,
    rates_wanted,
    replay_of,
)
from ledger.errors import LedgerError, NotFound
from ledger.queries.currencies import fetch_precisions, fetch_rates
from ledger.queries.journals import journal_answer
from ledger.queries.ledgers import LedgerRef, LedgerRow, resolve_ledger_refs
from ledger.store.database import DbConnection, DbPool
from ledger.store.group_commit import (
    Batch,
    BatchKey,
    CommandHandler,
    Committed,
    Decision,
    GroupCommitter,
)
from ledger.store.mapper import MsgspecMapper
from ledger.store.overflow import RANGE_ERRORS, amount_overflow, is_amount_overflow

JOURNAL_NUMBER_COUNTER = "journal_number"
_C = TypeVar("_C")
_R = TypeVar("_R")

_COUNTERS = (
    "SELECT tenant_id, value FROM tenant_counters"
    " WHERE counter = $1 AND tenant_id = ANY($2::uuid[]) FOR UPDATE"
)
_LOCK_FIRST_NUMBERS = (
    "SELECT pg_advisory_xact_lock(k) FROM"
    " (SELECT hashtextextended($2 || ':' || t::text, 0) AS k FROM unnest($1::uuid[]) AS t"
    " ORDER BY t) AS s"
)
# The counters (locked) and, in the same statement, which of the batch's API keys are
# revoked (group_commit, "Revoked API keys"): one round trip instead of two. The keys are
# read with the statement's snapshot, taken before any wait for the counter lock, just as
# when the check was a statement of its own before this one.
_COUNTERS_AND_REVOKED = (
    "SELECT c.tenant_id, c.value, NULL::uuid AS revoked_key FROM ("
    + _COUNTERS
    + ") AS c UNION ALL SELECT NULL, NULL, k.key_id FROM api_keys k"
    " WHERE k.key_id = ANY($3::uuid[]) AND k.revoked_at IS NOT NULL"
)


@dataclass(frozen=True, kw_only=True)
class EntryInput:
    ref: LedgerRef
    direction: Direction
    amount: int
    currency: str | None = None
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # Reversals mirror the original's base (and reporting) amounts exactly instead of
    # converting again.
    amount_base: int | None = None
    amount_reporting: int | None = None


@dataclass(frozen=True, kw_only=True)
class PostJournal:
    tenant_id: UUID
    base_currency: str
    date: dt.date
    accrual_date: dt.date | None = None
    description: str | None = None
    reference: str | None = None
    external_id: str | None = None
    currency: str | None = None
    status: PostingStatus = "posted"
    metadata: dict[str, Any] = field(default_factory=dict)
    entries: tuple[EntryInput, ...]
    check_duplicates: bool = False
    force: bool = False
    # sha256 of the canonical request: an idempotent retry must match it.
    request_sha256: bytes
    journal_id: UUID = field(default_factory=uuid.uuid4)
    reversal_of: UUID | None = None
    exchange_rates: dict[str, Decimal] | None = None  # fixed rates (reversals)
    amends: UUID | None = None  # the journal this one amends (AmendJournal)
    # Converted like the base currency (docs/api.md §5, "Reporting currency").
    reporting_currency: str | None = None
    reporting_rates: dict[str, Decimal] | None = None  # fixed rates (reversals)

    @property
    def effective_date(self) -> dt.date:
        return self.accrual_date or self.date


@dataclass(frozen=True, slots=True)
class JournalReplay:
    """An idempotent retry: answer the original journal (id) as it was first returned."""

    journal_id: UUID


@dataclass(frozen=True, slots=True)
class JournalAccepted:
    event: Journal.JournalPosted


PostResult = JournalAccepted | JournalReplay


@dataclass
class _Known:
    """Batch state of the journal handlers (see group_commit.Batch.state)."""

    keys: dict[tuple[UUID, str], tuple[UUID, bytes]] = field(default_factory=dict)
    precisions: dict[UUID, dict[str, int]] = field(default_factory=dict)
    rates: dict[UUID, dict[tuple[str, str, dt.date], Decimal]] = field(default_factory=dict)
    ledgers: dict[UUID, dict[LedgerRef, LedgerRow]] = field(default_factory=dict)
    counters: dict[UUID, int] = field(default_factory=dict)
    duplicates: dict[tuple[UUID, bytes], UUID] = field(default_factory=dict)
    originals: dict[UUID, Original] = field(default_factory=dict)
    balances: BalanceState = field(default_factory=BalanceState)
    rollups: RollupState = field(default_factory=RollupState)

    def accept(
        self,
        command: PostJournal,
        number: int,
        duplicate_print: bytes,
        changes: Sequence[Available],
        original: Original | None,
        sides: dict[tuple[UUID, str], Sides],
    ) -> None:
        """Record an accepted journal (numbered ``number``) for the later commands of the
        batch: its number, key, fingerprint, balance changes and the original it reverses."""
        tenant = command.tenant_id
        if command.reversal_of is not None and original is not None:
            self.originals[command.reversal_of] = Original("reversed", original.version + 1, tenant)
        self.counters[tenant] = number
        if command.external_id is not None:
            self.keys[(tenant, command.external_id)] = (command.journal_id, command.request_sha256)
        self.duplicates.setdefault((tenant, duplicate_print), command.journal_id)
        for change in changes:
            self.balances.apply(change)
        self.rollups.apply(sides)


# Batch state keys. The single and the atomic bulk posting share ``_KNOWN``, so every
# posting of a batch is ordered with every other; ``_STATUS_ROWS`` holds the journals a
# status change reads, by journal id.
_KNOWN: Final = BatchKey("ledger.commands.journals.known", _Known)
_STATUS_ROWS: Final[BatchKey[dict[UUID, Original]]] = BatchKey(
    "ledger.commands.journals.status-rows", dict
)
_MIRRORS: Final[BatchKey[dict[UUID, PostJournal]]] = BatchKey(
    "ledger.commands.journals.mirrors", dict
)


class PostJournalHandler(CommandHandler[PostJournal, PostResult]):
    """Posts journals. Raises the errors listed in the module docstring, in that order."""

    async def load(self, batch: Batch, commands: Sequence[PostJournal]) -> None:
        known = batch.state(_KNOWN)
        by_tenant: dict[UUID, list[PostJournal]] = {}
        for c in commands:
            by_tenant.setdefault(c.tenant_id, []).append(c)
        # The order of the reads is the order of the locks taken (counters, balances,
        # originals) in every batch: no deadlocks between batches of different processes.
        await _load_keys(batch.conn, known, commands)
        await _lock_counters(batch, known, list(by_tenant))
        limited: list[tuple[UUID, str]] = []
        for tenant_id, group in by_tenant.items():
            limited.extend(await _load_tenant_facts(batch.conn, known, tenant_id, group))
        await load_limited_balances(batch.conn, limited, known.balances)
        await load_rollups(batch.conn, _rollup_keys(known, commands), known.rollups)
        await _lock_originals(batch.conn, known, commands)
        await _load_duplicates(batch.conn, known, commands)

    def decide(self, batch: Batch, command: PostJournal) -> Decision[PostResult]:
        known = batch.state(_KNOWN)
        tenant = command.tenant_id
        if command.external_id is not None:
            replayed = replay_of(
                known.keys.get((tenant, command.external_id)),
                command.request_sha256,
                command.external_id,
            )
            if replayed is not None:
                return Decision(events=[], result=JournalReplay(replayed), tenant_id=tenant)
        pricing = price_entries(
            command.entries,
            journal_currency=command.currency or command.base_currency,
            base=command.base_currency,
            precisions=known.precisions.get(tenant, {}),
            fixed_rates=command.exchange_rates,
            loaded_rates=known.rates.get(tenant, {}),
            effective_date=command.effective_date,
            reporting=_reporting(command),
        )
        rows = _entry_ledgers(batch, known, command, pricing.currencies)
        original = None
        if command.reversal_of is not None:
            original = check_reversible(
                command.reversal_of, known.originals.get(command.reversal_of), tenant
            )
        duplicate_print = duplicate_fingerprint(
            command.date,
            command.reference,
            [
                (row.ledger_id, e.direction, e.amount, code)
                for row, e, code in zip(rows, command.entries, pricing.currencies, strict=True)
            ],
        )
        warnings = duplicate_warnings(
            known.duplicates.get((tenant, duplicate_print)) if command.check_duplicates else None,
            force=command.force,
        )
        sides = _side_changes(known.rollups, command, rows, pricing.currencies)
        changes = _limit_changes(known.balances, command, rows, pricing.currencies)
        events = _posted_events(
            known, command, rows, pricing, warnings, duplicate_print.hex(), original
        )
        known.accept(command, events[0].number, duplicate_print, changes, original, sides)
        return Decision(events=events, result=JournalAccepted(events[0]), tenant_id=tenant)


async def _load_keys(conn: DbConnection, known: _Known, commands: Sequence[PostJournal]) -> None:
    """The journals already posted with the commands' idempotency keys."""
    keyed = [(c.tenant_id, c.external_id) for c in commands if c.external_id is not None]
    if not keyed:
        return
    rows = await conn.fetch(
        "SELECT j.tenant_id, j.external_id, j.journal_id, j.request_sha256 FROM journals j"
        " JOIN unnest($1::uuid[], $2::text[]) AS k(tenant_id, external_id)"
        " USING (tenant_id, external_id)",
        [t for t, _ in keyed],
        [k for _, k in keyed],
    )
    for r in rows:
        known.keys[(r["tenant_id"], r["external_id"])] = (
            r["journal_id"],
            bytes(r["request_sha256"]),
        )


async def _lock_counters(batch: Batch, known: _Known, tenants: list[UUID]) -> None:
    """Lock the tenants' journal number counters (and check the batch's API keys)."""
    conn = batch.conn
    if batch.revoked_keys is None:
        # The batch's revocation check rides along (one round trip less per batch).
        rows = await conn.fetch(
            _COUNTERS_AND_REVOKED, JOURNAL_NUMBER_COUNTER, tenants, batch.key_ids
        )
        batch.revoked_keys = {r["revoked_key"] for r in rows if r["revoked_key"] is not None}
        counters = [r for r in rows if r["revoked_key"] is None]
    else:
        counters = await conn.fetch(_COUNTERS, JOURNAL_NUMBER_COUNTER, tenants)
    known.counters.update({r["tenant_id"]: r["value"] for r in counters})
    missing = sorted(t for t in tenants if t not in known.counters)
    if missing:
        # A tenant with no journal yet has no counter row, so SELECT … FOR UPDATE locked
        # nothing and another server process could hand out the same numbers. Such
        # batches take a transaction-level advisory lock per tenant instead (sorted: no
        # deadlocks), then read again: a row another process committed meanwhile is
        # locked and used. No row is created here: the books projection writes it with
        # the first journal, as a rebuild from the log does.
        await conn.execute(_LOCK_FIRST_NUMBERS, missing, JOURNAL_NUMBER_COUNTER)
        rows = await conn.fetch(_COUNTERS, JOURNAL_NUMBER_COUNTER, missing)
        known.counters.update({r["tenant_id"]: r["value"] for r in rows})


async def _load_tenant_facts(
    conn: DbConnection, known: _Known, tenant_id: UUID, group: Sequence[PostJournal]
) -> list[tuple[UUID, str]]:
    """A tenant's currency precisions, named ledgers and needed rates; returns the
    (ledger, currency) keys of the named ledgers that have a minimum balance."""
    codes = {c.base_currency for c in group}
    codes |= {c.currency for c in group if c.currency}
    codes |= {c.reporting_currency for c in group if c.reporting_currency}
    codes |= {e.currency for c in group for e in c.entries if e.currency}
    # Merged, not replaced: the handlers that share this state (single posts, atomic bulks,
    # reversals) each load their own commands, so one batch may load a tenant more than once.
    known.precisions.setdefault(tenant_id, {}).update(
        await fetch_precisions(conn, tenant_id, codes)
    )
    refs = {e.ref for c in group for e in c.entries}
    ledgers = await resolve_ledger_refs(conn, tenant_id, refs)
    known.ledgers.setdefault(tenant_id, {}).update(ledgers)
    wanted = {
        key
        for c in group
        if c.exchange_rates is None  # a reversal's rates are fixed
        for key in rates_wanted(
            c.entries, c.currency, c.base_currency, c.effective_date, c.reporting_currency
        )
    }
    known.rates.setdefault(tenant_id, {}).update(
        await fetch_rates(conn, tenant_id, wanted) if wanted else {}
    )
    return [
        (row.ledger_id, row.currency)
        for row in ledgers.values()
        if row.min_balance is not None and row.currency
    ]


async def _lock_originals(
    conn: DbConnection, known: _Known, commands: Sequence[PostJournal]
) -> None:
    """Lock the journals the reversals among ``commands`` reverse."""
    reversal_ids = [c.reversal_of for c in commands if c.reversal_of is not None]
    if not reversal_ids:
        return
    rows = await conn.fetch(
        "SELECT journal_id, status, version, tenant_id FROM journals"
        " WHERE journal_id = ANY($1::uuid[]) FOR UPDATE",
        reversal_ids,
    )
    known.originals.update(
        {r["journal_id"]: Original(r["status"], r["version"], r["tenant_id"]) for r in rows}
    )


async def _load_duplicates(
    conn: DbConnection, known: _Known, commands: Sequence[PostJournal]
) -> None:
    """The journals (not voided) like the ones that ask for the duplicate check."""
    prints = [
        (c.tenant_id, p)
        for c in commands
        if c.check_duplicates
        for p in [_loaded_duplicate_print(known, c)]
        if p is not None
    ]
    if not prints:
        return
    rows = await conn.fetch(
        "SELECT j.tenant_id, j.duplicate_sha256, j.journal_id FROM journals j"
        " JOIN unnest($1::uuid[], $2::bytea[]) AS d(tenant_id, duplicate_sha256)"
        " USING (tenant_id, duplicate_sha256) WHERE j.status <> 'voided'",
        [t for t, _ in prints],
        [p for _, p in prints],
    )
    for r in rows:
        known.duplicates.setdefault((r["tenant_id"], bytes(r["duplicate_sha256"])), r["journal_id"])


def _loaded_duplicate_print(known: _Known, command: PostJournal) -> bytes | None:
    """The duplicate fingerprint of ``command`` over the loaded ledgers (None: an entry's
    ledger does not exist, so the journal is refused before any duplicate check)."""
    ledgers = known.ledgers.get(command.tenant_id, {})
    lines = []
    for entry in command.entries:
        row = ledgers.get(entry.ref)
        if row is None:
            return None
        currency = entry_currency(entry, command.currency, command.base_currency)
        lines.append((row.ledger_id, entry.direction, entry.amount, currency))
    return duplicate_fingerprint(command.date, command.reference, lines)


def _entry_ledgers(
    batch: Batch, known: _Known, command: PostJournal, currencies: Sequence[str]
) -> list[LedgerRow]:
    """Step 5: each entry's ledger, checked (in entry order)."""
    tenant = command.tenant_id
    loaded = known.ledgers.get(tenant, {})
    return [
        # A ledger opened, updated or closed earlier in this batch reads as it is now.
        check_entry_ledger(
            index,
            entry.ref,
            ledger_in_batch(batch, tenant, entry.ref) or loaded.get(entry.ref),
            code,
        )
        for index, (entry, code) in enumerate(zip(command.entries, currencies, strict=True))
    ]


def _rollup_keys(known: _Known, commands: Sequence[PostJournal]) -> list[tuple[UUID, str]]:
    """(ledger, currency) of every loaded ledger the commands post to and its ancestors."""
    keys: list[tuple[UUID, str]] = []
    for c in commands:
        ledgers = known.ledgers.get(c.tenant_id, {})
        for entry in c.entries:
            row = ledgers.get(entry.ref)
            if row is not None:
                currency = entry_currency(entry, c.currency, c.base_currency)
                keys.extend((ancestor, currency) for ancestor in row.ancestor_ids)
    return keys


def _side_changes(
    rollups: RollupState,
    command: PostJournal,
    rows: Sequence[LedgerRow],
    currencies: Sequence[str],
) -> dict[tuple[UUID, str], Sides]:
    """Step 8: what the journal adds to the side totals of each ledger it posts to and of
    their ancestors, per currency, each total after it checked against the int64 range
    (entries in order, a ledger before its ancestors)."""
    changes: dict[tuple[UUID, str], Sides] = {}
    order: list[tuple[int, tuple[UUID, str]]] = []
    for index, (row, entry, code) in enumerate(zip(rows, command.entries, currencies, strict=True)):
        step = (
            Sides(debits=entry.amount)
            if entry.direction == "debit"
            else Sides(credits=entry.amount)
        )
        for ancestor in reversed(row.ancestor_ids):
            key = (ancestor, code)
            if key not in changes:
                order.append((index, key))
            changes[key] = changes.get(key, Sides()).plus(step)
    for index, key in order:
        check_sides(
            rollups.get(key).plus(changes[key]),
            {"entry_index": index, "ledger_id": str(key[0]), "currency": key[1]},
        )
    return changes


def _limit_changes(
    balances: BalanceState,
    command: PostJournal,
    rows: Sequence[LedgerRow],
    currencies: Sequence[str],
) -> list[Available]:
    """Step 8: what the journal does to each limited ledger's balance, per currency, each
    checked against the ledger's minimum (in entry order)."""
    changes: dict[tuple[UUID, str], Available] = {}
    for row, entry, code in zip(rows, command.entries, currencies, strict=True):
        if row.min_balance is None:
            continue
        key = (row.ledger_id, code)
        change = changes.get(key) or Available(row=row, currency=code)
        changes[key] = change.plus(
            entry.direction, entry.amount, pending=command.status == "pending"
        )
    for change in changes.values():
        before, after = available_after(balances, change)
        assert change.row.min_balance is not None
        check_min_balance(
            ledger_id=change.row.ledger_id,
            ledger_code=change.row.code,
            currency=change.currency,
            min_balance=change.row.min_balance,
            available_before=before,
            available_after=after,
        )
    return list(changes.values())


def _entry_lines(
    command: PostJournal, rows: Sequence[LedgerRow], pricing: Pricing
) -> tuple[EntryLine, ...]:
    """The entries as ``JournalPosted`` stores them: with their ledger, currency, base
    amount and reporting amount (None without a reporting currency)."""
    reportings: list[int | None] = list(pricing.reportings) or [None] * len(pricing.bases)
    return tuple(
        EntryLine(
            entry_id=uuid.uuid4(),
            ledger_id=row.ledger_id,
            ledger_code=row.code,
            direction=e.direction,
            amount=e.amount,
            currency=code,
            amount_base=amount_base,
            description=e.description,
            metadata=e.metadata,
            amount_reporting=amount_reporting,
        )
        for row, e, code, amount_base, amount_reporting in zip(
            rows, command.entries, pricing.currencies, pricing.bases, reportings, strict=True
        )
    )


def _reporting(command: PostJournal) -> Reporting | None:
    """What pricing needs for the command's reporting currency (None: it has none)."""
    if command.reporting_currency is None:
        return None
    return Reporting(
        currency=command.reporting_currency,
        fixed_rates=command.reporting_rates,
        given=[e.amount_reporting for e in command.entries],
    )


def _posted_events(
    known: _Known,
    command: PostJournal,
    rows: Sequence[LedgerRow],
    pricing: Pricing,
    warnings: tuple[JournalWarning, ...],
    duplicate_sha256: str,
    original: Original | None,
) -> list[Any]:
    """The events of an accepted journal: ``JournalPosted`` with the next number, then, for
    a reversal, ``JournalReversed`` of the original."""
    tenant = command.tenant_id
    journal = Journal._create(
        Journal.JournalPosted,
        id=command.journal_id,
        tenant_id=tenant,
        number=known.counters.get(tenant, 0) + 1,
        status=command.status,
        date=command.date,
        accrual_date=command.accrual_date,
        effective_date=command.effective_date,
        description=command.description,
        reference=command.reference,
        external_id=command.external_id,
        currency=command.currency or command.base_currency,
        base_currency=command.base_currency,
        exchange_rates=pricing.rates_used(),
        entries=_entry_lines(command, rows, pricing),
        reversal_of=command.reversal_of,
        warnings=warnings,
        metadata=command.metadata,
        request_sha256=command.request_sha256.hex(),
        duplicate_sha256=duplicate_sha256,
        amends=command.amends,
        reporting_currency=command.reporting_currency,
        reporting_rates=pricing.reporting_rates_used(),
    )
    events: list[Any] = list(journal.collect_events())
    if command.reversal_of is not None and original is not None:
        events.append(
            Journal.JournalReversed(
                originator_id=command.reversal_of,
                originator_version=original.version + 1,
                timestamp=events[0].timestamp,
                tenant_id=tenant,
                reversed_by=command.journal_id,
            )
        )
    return events


@dataclass(frozen=True, kw_only=True)
class ChangeJournalStatus:
    """Commit (post) or void (release) a pending journal."""

    tenant_id: UUID
    journal_id: UUID
    action: PendingAction


class ChangeJournalStatusHandler(CommandHandler[ChangeJournalStatus, UUID]):
    """Commits or voids a pending journal, once.

    ``load`` locks the journals (FOR UPDATE); ``decide`` checks them with
    :func:`ledger.domain.posting.check_settleable` against their state as the batch left it.

    Raises:
        NotFound: no such journal in the tenant.
        InvalidState: the journal is not pending (422).
    """

    async def load(self, batch: Batch, commands: Sequence[ChangeJournalStatus]) -> None:
        rows = await batch.conn.fetch(
            "SELECT journal_id, tenant_id, status, version FROM journals"
            " WHERE journal_id = ANY($1::uuid[])"
            " FOR UPDATE",
            [c.journal_id for c in commands],
        )
        journals = batch.state(_STATUS_ROWS)
        journals.update(
            {r["journal_id"]: Original(r["status"], r["version"], r["tenant_id"]) for r in rows}
        )

    def decide(self, batch: Batch, command: ChangeJournalStatus) -> Decision[UUID]:
        journals = batch.state(_STATUS_ROWS)
        found = journals.get(command.journal_id)
        status = check_settleable(command.journal_id, found, command.tenant_id, command.action)
        assert found is not None
        event_class = (
            Journal.JournalCommitted if command.action == "commit" else Journal.JournalVoided
        )
        event = event_class(
            originator_id=command.journal_id,
            originator_version=found.version + 1,
            timestamp=event_class.create_timestamp(),
            tenant_id=command.tenant_id,
        )
        journals[command.journal_id] = Original(status, found.version + 1, found.tenant_id)
        return Decision(events=[event], result=command.journal_id, tenant_id=command.tenant_id)


@dataclass(frozen=True, kw_only=True)
class AnnotateJournal:
    """Change a journal's notes: description, reference, metadata
    (:mod:`ledger.domain.annotations`)."""

    tenant_id: UUID
    journal_id: UUID
    patch: NotesPatch


@dataclass(frozen=True, slots=True)
class _Annotatable:
    """A journal as an annotation finds it (locked inside the batch)."""

    tenant_id: UUID
    version: int
    notes: JournalNotes


# The journals the batch's annotations read, by id, as the batch's decisions left them.
_ANNOTATABLE: Final[BatchKey[dict[UUID, _Annotatable]]] = BatchKey(
    "ledger.commands.journals.annotatable", dict
)
# ``metadata`` is NULL until a journal's first annotation: then it is in its JournalPosted.
_LOCK_ANNOTATABLE: Final = (
    "SELECT j.journal_id, j.tenant_id, j.version, j.description, j.reference, j.metadata,"
    " e.topic, e.state FROM journals j"
    " JOIN ledger_events e ON e.originator_id = j.journal_id AND e.originator_version = 1"
    " WHERE j.journal_id = ANY($1::uuid[]) FOR UPDATE OF j"
)
_json_object = msgspec.json.Decoder(dict[str, Any])


def _version_in_batch(batch: Batch, journal_id: UUID, loaded: int) -> int:
    """The journal's version as the batch's decisions so far left it: the loaded one, or a
    later one if a commit, void or reversal of it was decided earlier in the batch."""
    versions = [loaded]
    changed = batch.state(_STATUS_ROWS).get(journal_id)
    if changed is not None:
        versions.append(changed.version)
    original = batch.state(_KNOWN).originals.get(journal_id)
    if original is not None:
        versions.append(original.version)
    return max(versions)


def _record_version(batch: Batch, journal_id: UUID, version: int) -> None:
    """Tell the batch's later commits, voids and reversals of the journal its new version."""
    statuses = batch.state(_STATUS_ROWS)
    if journal_id in statuses:
        statuses[journal_id] = replace(statuses[journal_id], version=version)
    originals = batch.state(_KNOWN).originals
    if journal_id in originals:
        originals[journal_id] = replace(originals[journal_id], version=version)


class AnnotateJournalHandler(CommandHandler[AnnotateJournal, bool]):
    """Annotates journals of any status; the result says whether anything changed (else no
    event is written).

    ``load`` locks the journals (FOR UPDATE) and reads their notes; ``decide`` applies
    :func:`ledger.domain.annotations.annotation_of` to them as the batch left them, so
    concurrent annotations of one journal all succeed, in arrival order (the later wins a
    field both change), and are ordered with its commit, void or reversal.

    Raises:
        NotFound: no such journal in the tenant.
        ValidationError: the merged metadata is too large (400).
    """

    async def load(self, batch: Batch, commands: Sequence[AnnotateJournal]) -> None:
        rows = await batch.conn.fetch(_LOCK_ANNOTATABLE, list({c.journal_id for c in commands}))
        journals = batch.state(_ANNOTATABLE)
        for r in rows:
            if r["metadata"] is not None:
                metadata = _json_object.decode(r["metadata"])
            else:
                posted = _mapper.to_domain_event(
                    StoredEvent(r["journal_id"], 1, r["topic"], bytes(r["state"]))
                )
                assert isinstance(posted, Journal.JournalPosted), r["topic"]
                metadata = posted.metadata
            notes = JournalNotes(
                description=r["description"], reference=r["reference"], metadata=metadata
            )
            journals.setdefault(r["journal_id"], _Annotatable(r["tenant_id"], r["version"], notes))

    def decide(self, batch: Batch, command: AnnotateJournal) -> Decision[bool]:
        journals = batch.state(_ANNOTATABLE)
        found = journals.get(command.journal_id)
        if found is None or found.tenant_id != command.tenant_id:
            raise NotFound("no such journal", {"journal_id": str(command.journal_id)})
        annotation = annotation_of(found.notes, command.patch)
        if annotation is None:
            return Decision(events=[], result=False, tenant_id=command.tenant_id)
        version = _version_in_batch(batch, command.journal_id, found.version) + 1
        event = Journal.JournalAnnotated(
            originator_id=command.journal_id,
            originator_version=version,
            timestamp=Journal.JournalAnnotated.create_timestamp(),
            tenant_id=command.tenant_id,
            description_set=annotation.description_set,
            description=annotation.description,
            reference_set=annotation.reference_set,
            reference=annotation.reference,
            metadata=annotation.metadata,
        )
        journals[command.journal_id] = _Annotatable(
            found.tenant_id, version, annotated(found.notes, annotation)
        )
        _record_version(batch, command.journal_id, version)
        return Decision(events=[event], result=True, tenant_id=command.tenant_id)


@dataclass(frozen=True, kw_only=True)
class ReverseJournal:
    """Reverse a posted journal: post its mirror image and mark it reversed, atomically.

    ``date`` defaults to the original's effective date; ``description`` to
    ``Reversal of JE-…``.
    """

    tenant_id: UUID
    journal_id: UUID
    date: dt.date | None = None
    description: str | None = None
    reversal_id: UUID = field(default_factory=uuid.uuid4)

    def fingerprint(self) -> bytes:
        """sha256 of the request's canonical fields (not the reversal's own new id)."""
        return request_fingerprint(
            {
                "tenant_id": self.tenant_id,
                "journal_id": self.journal_id,
                "date": self.date,
                "description": self.description,
            }
        )


def mirror_of(command: ReverseJournal, posted: Journal.JournalPosted) -> PostJournal:
    """The posting that reverses ``posted``: every entry in the other direction, with the
    original's rates and base amounts, so in the base currency it nets to exactly zero (and
    the same for its reporting currency, when it has one)."""
    return PostJournal(
        tenant_id=command.tenant_id,
        base_currency=posted.base_currency,
        date=command.date or posted.effective_date,
        description=command.description
        if command.description is not None
        else f"Reversal of {journal_number_text(posted.number)}",
        reference=posted.reference,
        currency=posted.currency,
        entries=tuple(
            EntryInput(
                ref=LedgerRef.by_id(line.ledger_id),
                direction=mirrored_direction(line.direction),
                amount=line.amount,
                currency=line.currency,
                description=line.description,
                metadata=line.metadata,
                amount_base=line.amount_base,
                amount_reporting=line.amount_reporting,
            )
            for line in posted.entries
        ),
        request_sha256=command.fingerprint(),
        journal_id=command.reversal_id,
        reversal_of=command.journal_id,
        exchange_rates=dict(posted.exchange_rates),
        reporting_currency=posted.reporting_currency,
        reporting_rates=dict(posted.reporting_rates) if posted.reporting_currency else None,
    )


_mapper = MsgspecMapper()


async def _load_posted(
    conn: DbConnection, journal_ids: set[UUID]
) -> dict[UUID, Journal.JournalPosted]:
    """The ``JournalPosted`` events (version 1 of each aggregate) of ``journal_ids`` that
    are journals; immutable, so read without a lock."""
    rows = await conn.fetch(
        "SELECT originator_id, topic, state FROM ledger_events"
        " WHERE originator_id = ANY($1::uuid[]) AND originator_version = 1",
        list(journal_ids),
    )
    posted: dict[UUID, Journal.JournalPosted] = {}
    for r in rows:
        event = _mapper.to_domain_event(
            StoredEvent(r["originator_id"], 1, r["topic"], bytes(r["state"]))
        )
        if isinstance(event, Journal.JournalPosted):
            posted[r["originator_id"]] = event
    return posted


class ReverseJournalHandler(CommandHandler[ReverseJournal, PostResult]):
    """Reverses posted journals inside the batch, ordered with every posting of it.

    ``load`` reads each original's ``JournalPosted`` event (immutable: its entries, rates and
    base amounts) and builds the mirror posting, then loads that posting through the posting
    handler, which locks the original (FOR UPDATE) with the rest of its state. ``decide``
    posts the mirror with the posting handler, whose reversal step
    (:func:`ledger.domain.posting.check_reversible`) sees the original as the batch left it:
    of N reversals of one journal, one is accepted and the others are ``ALREADY_REVERSED``.

    Raises:
        NotFound: no such journal in the tenant.
        AlreadyReversed: it was reversed before (409).
        InvalidState: it is pending or voided (422).
        InsufficientFunds, LedgerClosed: as for any posting (module docstring order).
    """

    def __init__(self, post: PostJournalHandler) -> None:
        self._post = post

    async def load(self, batch: Batch, commands: Sequence[ReverseJournal]) -> None:
        posted = await _load_posted(batch.conn, {c.journal_id for c in commands})
        mirrors = batch.state(_MIRRORS)
        for c in commands:
            original = posted.get(c.journal_id)
            if original is not None and original.tenant_id == c.tenant_id:
                mirrors[c.reversal_id] = mirror_of(c, original)
        if mirrors:
            await self._post.load(
                batch, [mirrors[c.reversal_id] for c in commands if c.reversal_id in mirrors]
            )

    def decide(self, batch: Batch, command: ReverseJournal) -> Decision[PostResult]:
        mirrors = batch.state(_MIRRORS)
        mirror = mirrors.get(command.reversal_id)
        if mirror is None:
            raise NotFound("no such journal", {"journal_id": str(command.journal_id)})
        return self._post.decide(batch, mirror)


@dataclass(frozen=True, kw_only=True)
class AmendJournal:
    """Amend a posted journal: reverse its current version and post ``replacement`` (whose
    ``amends`` names it), in one decision.

    ``replacement`` is the new journal as ``POST /v1/journals`` would post it; its
    ``request_sha256`` covers the amended journal's id too, so its key replays only the
    same amendment of the same journal.
    """

    tenant_id: UUID
    journal_id: UUID
    replacement: PostJournal
    reversal_id: UUID = field(default_factory=uuid.uuid4)

    def __post_init__(self) -> None:
        assert self.replacement.amends == self.journal_id, "the replacement names the journal"
        assert self.replacement.tenant_id == self.tenant_id


_AMENDS: Final[BatchKey[dict[UUID, PostJournal]]] = BatchKey(
    "ledger.commands.journals.amend-mirrors", dict
)


class AmendJournalHandler(CommandHandler[AmendJournal, PostResult]):
    """Amends journals inside the batch, ordered with every posting of it.

    ``load`` builds each amended journal's reversal from its ``JournalPosted`` (as
    :class:`ReverseJournalHandler` does) and loads it and the replacement through the
    posting handler, which locks the amended journal (FOR UPDATE). ``decide``, in order:

    1. idempotency of the replacement's key: a retry of the same amendment is a replay
       (200, nothing appended), another request with the key 409 ``IDEMPOTENCY_CONFLICT``;
    2. :func:`ledger.domain.posting.check_amendable`: 404, 409 ``ALREADY_REVERSED``
       (reversed, voided or amended before), 422 ``INVALID_STATE`` (pending);
    3. the reversal, then the replacement, each decided as a posting (module docstring
       order). If either fails, the batch state is restored and nothing is appended.

    Accepted, the decision's events are the reversal's ``JournalPosted``, the amended
    journal's ``JournalReversed`` and the replacement's ``JournalPosted``: one append. Of N
    amendments of one journal, one is accepted and the others are ``ALREADY_REVERSED``.
    """

    def __init__(self, post: PostJournalHandler) -> None:
        self._post = post

    async def load(self, batch: Batch, commands: Sequence[AmendJournal]) -> None:
        posted = await _load_posted(batch.conn, {c.journal_id for c in commands})
        mirrors = batch.state(_AMENDS)
        for c in commands:
            original = posted.get(c.journal_id)
            if original is not None and original.tenant_id == c.tenant_id:
                reverse = ReverseJournal(
                    tenant_id=c.tenant_id, journal_id=c.journal_id, reversal_id=c.reversal_id
                )
                mirrors[c.reversal_id] = mirror_of(reverse, original)
        await self._post.load(
            batch,
            [
                posting
                for c in commands
                for posting in (mirrors.get(c.reversal_id), c.replacement)
                if posting is not None
            ],
        )

    def decide(self, batch: Batch, command: AmendJournal) -> Decision[PostResult]:
        known = batch.state(_KNOWN)
        replacement = command.replacement
        if replacement.external_id is not None:
            replayed = replay_of(
                known.keys.get((command.tenant_id, replacement.external_id)),
                replacement.request_sha256,
                replacement.external_id,
            )
            if replayed is not None:
                return Decision(
                    events=[], result=JournalReplay(replayed), tenant_id=command.tenant_id
                )
        check_amendable(
            command.journal_id, known.originals.get(command.journal_id), command.tenant_id
        )
        mirror = batch.state(_AMENDS)[command.reversal_id]
        snapshot = batch.snapshot(_KNOWN)
        try:
            reversal = self._post.decide(batch, mirror)
            amended = self._post.decide(batch, replacement)
        except LedgerError:
            batch.restore(snapshot)
            raise
        return Decision(
            events=[*reversal.events, *amended.events],
            result=amended.result,
            tenant_id=command.tenant_id,
        )


@dataclass(frozen=True, slots=True)
class PostedJournal:
    """What the API answers: the journal document bytes, its position, and whether this was
    an idempotent replay (then ``document`` is the original answer, byte for byte)."""

    document: bytes
    position: int
    replayed: bool


class JournalCommands:
    """The journal use cases, bound to one group committer."""

    def __init__(self, committer: GroupCommitter, pool: DbPool) -> None:
        self._committer = committer
        self._pool = pool
        self._post = PostJournalHandler()
        self._atomic = PostJournalsAtomicHandler(self._post)
        self._status = ChangeJournalStatusHandler()
        self._reverse = ReverseJournalHandler(self._post)
        self._amend = AmendJournalHandler(self._post)
        self._annotate = AnnotateJournalHandler()

    async def _submit(self, handler: CommandHandler[_C, _R], command: _C) -> Committed[_R]:
        """``committer.submit``, a total the database refused as out of range raised as
        the domain's 422 ``AMOUNT_OVERFLOW`` (``ledger.store.overflow``)."""
        try:
            return await self._committer.submit(handler, command)
        except RANGE_ERRORS as e:
            if not is_amount_overflow(e):
                raise
            raise amount_overflow(e) from e

    async def post(self, command: PostJournal) -> PostedJournal:
        """Post one journal. Raises the errors of :class:`PostJournalHandler`."""
        committed = await self._submit(self._post, command)
        return await self._answer(command.tenant_id, committed.result, committed.position)

    async def _answer(
        self, tenant_id: UUID, result: PostResult, position: int | None
    ) -> PostedJournal:
        """The answer to a posting: its 201 document at ``position`` (its last event's), or
        for a replay the original's 201 bytes."""
        if isinstance(result, JournalReplay):
            document, replayed_at = await journal_answer(self._pool, tenant_id, result.journal_id)
            return PostedJournal(document=document, position=replayed_at, replayed=True)
        assert position is not None
        return PostedJournal(
            document=encode_document(render_posted(result.event, position)),
            position=position,
            replayed=False,
        )

    async def amend(self, command: AmendJournal) -> PostedJournal:
        """Amend a posted journal (reverse it, post the replacement, atomically); an
        idempotent retry answers the replacement's 201 bytes. Raises the errors of
        :class:`AmendJournalHandler`."""
        committed = await self._submit(self._amend, command)
        return await self._answer(command.tenant_id, committed.result, committed.position)

    async def post_atomic(
        self, commands: Sequence[PostJournal]
    ) -> list[PostedJournal | LedgerError]:
        """Post all of ``commands`` or none; per-item outcomes in order.

        When one fails, it carries its own error and every other item ``AtomicRollback``.
        """
        assert commands
        try:
            committed = await self._submit(self._atomic, tuple(commands))
        except _AtomicFailed as failed:
            return [
                e
                if e is not None
                else AtomicRollback("not posted: another item of the atomic request failed")
                for e in failed.outcomes
            ]
        out: list[PostedJournal | LedgerError] = []
        offset = 0
        for result, count in zip(
            committed.result.results, committed.result.event_counts, strict=True
        ):
            if isinstance(result, JournalReplay):
                document, position = await journal_answer(
                    self._pool, commands[0].tenant_id, result.journal_id
                )
                out.append(PostedJournal(document=document, position=position, replayed=True))
            else:
                position = committed.positions[offset + count - 1]
                out.append(
                    PostedJournal(
                        document=encode_document(render_posted(result.event, position)),
                        position=position,
                        replayed=False,
                    )
                )
            offset += count
        return out

    async def reverse(self, command: ReverseJournal) -> PostedJournal:
        """Reverse a posted journal. Raises the errors of :class:`ReverseJournalHandler`."""
        committed = await self._submit(self._reverse, command)
        result = committed.result
        # A reversal has no idempotency key, so it is never a replay.
        assert isinstance(result, JournalAccepted)
        assert committed.position is not None
        return PostedJournal(
            document=encode_document(render_posted(result.event, committed.position)),
            position=committed.position,
            replayed=False,
        )

    async def change_status(self, tenant_id: UUID, journal_id: UUID, action: PendingAction) -> int:
        """Commit or void a pending journal; returns the position.

        Raises the errors of :class:`ChangeJournalStatusHandler`.
        """
        committed = await self._submit(
            self._status,
            ChangeJournalStatus(tenant_id=tenant_id, journal_id=journal_id, action=action),
        )
        assert committed.position is not None
        return int(committed.position)

    async def annotate(self, command: AnnotateJournal) -> int | None:
        """Annotate a journal; returns the annotation's position, or None when the request
        changed nothing (no event). Raises the errors of :class:`AnnotateJournalHandler`."""
        committed = await self._submit(self._annotate, command)
        return committed.position


async def reverse_journal(
    commands: JournalCommands,
    pool: DbPool,
    tenant_id: UUID,
    journal_id: UUID,
    date: dt.date | None,
    description: str | None,
) -> PostedJournal:
    """``commands.reverse`` of :class:`ReverseJournal` (``pool`` is not read: the handler
    loads the original inside the batch). Raises the errors of :class:`ReverseJournalHandler`.
    """
    del pool
    return await commands.reverse(
        ReverseJournal(
            tenant_id=tenant_id, journal_id=journal_id, date=date, description=description
        )
    )


class AtomicRollback(LedgerError):
    """An item of an atomic bulk request that was valid, but not posted because another failed."""

    status_code = 409
    code = "ATOMIC_ROLLBACK"


class _AtomicFailed(LedgerError):
    status_code = 422
    code = "ATOMIC_FAILED"

    def __init__(self, outcomes: list[LedgerError | None]) -> None:
        super().__init__("an item of the atomic request failed")
        self.outcomes = outcomes


@dataclass(frozen=True, slots=True)
class _AtomicResult:
    results: list[PostResult]
    event_counts: list[int]


class PostJournalsAtomicHandler(CommandHandler[tuple[PostJournal, ...], _AtomicResult]):
    """All of a bulk request's journals, or none: decided in order in one batch.

    Shares the single-journal handler's batch state, so it is ordered with every other
    posting of the batch.
    """

    def __init__(self, inner: PostJournalHandler) -> None:
        self._inner = inner

    async def load(self, batch: Batch, commands: Sequence[tuple[PostJournal, ...]]) -> None:
        await self._inner.load(batch, [c for group in commands for c in group])

    def decide(self, batch: Batch, command: tuple[PostJournal, ...]) -> Decision[_AtomicResult]:
        snapshot = batch.snapshot(_KNOWN)
        outcomes: list[LedgerError | None] = []
        results: list[PostResult] = []
        events: list[Any] = []
        counts: list[int] = []
        for item in command:
            try:
                decision = self._inner.decide(batch, item)
            except LedgerError as e:
                outcomes.append(e)
                continue
            outcomes.append(None)
            results.append(decision.result)
            events.extend(decision.events)
            counts.append(len(decision.events))
        if any(o is not None for o in outcomes):
            batch.restore(snapshot)
            raise _AtomicFailed(outcomes)
        return Decision(
            events=events, result=_AtomicResult(results, counts), tenant_id=command[0].tenant_id
        )
