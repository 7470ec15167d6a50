"""The journal document: the JSON a client gets for a journal (docs/api.md §5).

``render_posted`` is a pure function of ``JournalPosted`` and its position, so it is not
stored: the 201 answer, an idempotent retry's answer (byte for byte the 201: same event, same
position, same function) and a GET all render it from the event in the log
(:func:`posted_document`). A GET adds the journal's current status, ``reversed_by``,
``amended_by``, its notes as annotated since (``description``, ``reference``, ``metadata``:
``JournalAnnotated``) and the reconciliation of its entries (:func:`current_document`).

A change to this rendering changes what retries of old journals answer: only ever add fields
(clients ignore unknown fields), never change the value of an existing one.

These Structs are also the API's schemas of those answers (``ledger.api.schemas``): the
OpenAPI document names a component after each class, so the class names are the published
component names (``JournalOut``, ``JournalReadOut`` ...). Field order is the encoded order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import StoredEvent

from ledger.domain.annotations import JournalNotes
from ledger.domain.journals import (
    Journal,
    JournalStatus,
    StoredJournalStatus,
    journal_number_text,
)
from ledger.domain.ledgers import Direction
from ledger.store.mapper import MsgspecMapper


class JournalTotalsOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A journal's sums in one currency, in that currency, in the base currency and in the
    journal's reporting currency (null without one)."""

    currency: str
    debits: int
    credits: int
    debits_base: int
    credits_base: int
    debits_reporting: int | None
    credits_reporting: int | None


class EntryOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: UUID
    ledger_id: UUID
    ledger_code: str
    direction: Direction
    amount: int
    currency: str
    amount_base: int
    amount_reporting: int | None  # in the journal's reporting currency (null without one)
    description: str | None
    metadata: dict[str, Any]


class JournalWarningOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: str
    message: str
    journal_id: UUID | None


class JournalOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A journal as posted: the 201 answer (and its idempotent replays, byte for byte)."""

    id: UUID
    number: str
    status: JournalStatus
    date: dt.date
    accrual_date: dt.date | None
    effective_date: dt.date
    description: str | None
    reference: str | None
    external_id: str | None
    currency: str
    base_currency: str
    totals: list[JournalTotalsOut]
    exchange_rates: dict[str, str]
    # The reporting currency (null without one) and the rates to it used, by entry currency
    # (decimal strings, like exchange_rates; {} without one).
    reporting_currency: str | None
    reporting_rates: dict[str, str]
    entries: list[EntryOut]
    reversal_of: UUID | None
    reversed_by: UUID | None
    # Amendment lineage (POST /v1/journals/{id}/amend): the journal this one amends, and
    # the journal that amended this one (then this one reads ``reversed``).
    amends: UUID | None
    amended_by: UUID | None
    warnings: list[JournalWarningOut]
    metadata: dict[str, Any]
    created_at: dt.datetime
    position: int


_encoder = msgspec.json.Encoder()
_mapper = MsgspecMapper()


def status_as_of(
    status: StoredJournalStatus, effective_date: dt.date, today: dt.date
) -> JournalStatus:
    """A posted journal whose effective date is still ahead reads ``scheduled``."""
    return "scheduled" if status == "posted" and effective_date > today else status


def _totals(event: Journal.JournalPosted) -> list[JournalTotalsOut]:
    """The journal's sums per entry currency (in code order)."""
    totals: dict[str, list[int]] = {}
    for entry in event.entries:
        row = totals.setdefault(entry.currency, [0, 0, 0, 0, 0, 0])
        side = 0 if entry.direction == "debit" else 1
        row[side] += entry.amount
        row[2 + side] += entry.amount_base
        row[4 + side] += entry.amount_reporting or 0
    reporting = event.reporting_currency is not None
    return [
        JournalTotalsOut(
            currency=c,
            debits=t[0],
            credits=t[1],
            debits_base=t[2],
            credits_base=t[3],
            debits_reporting=t[4] if reporting else None,
            credits_reporting=t[5] if reporting else None,
        )
        for c, t in sorted(totals.items())
    ]


def render_posted(event: Journal.JournalPosted, position: int) -> JournalOut:
    return JournalOut(
        id=event.originator_id,
        number=journal_number_text(event.number),
        status=status_as_of(event.status, event.effective_date, event.timestamp.date()),
        date=event.date,
        accrual_date=event.accrual_date,
        effective_date=event.effective_date,
        description=event.description,
        reference=event.reference,
        external_id=event.external_id,
        currency=event.currency,
        base_currency=event.base_currency,
        totals=_totals(event),
        exchange_rates={code: str(rate) for code, rate in sorted(event.exchange_rates.items())},
        reporting_currency=event.reporting_currency,
        reporting_rates={code: str(rate) for code, rate in sorted(event.reporting_rates.items())},
        entries=[
            EntryOut(
                id=e.entry_id,
                ledger_id=e.ledger_id,
                ledger_code=e.ledger_code,
                direction=e.direction,
                amount=e.amount,
                currency=e.currency,
                amount_base=e.amount_base,
                amount_reporting=e.amount_reporting,
                description=e.description,
                metadata=e.metadata,
            )
            for e in event.entries
        ],
        reversal_of=event.reversal_of,
        reversed_by=None,
        amends=event.amends,
        amended_by=None,
        warnings=[
            JournalWarningOut(code=w.code, message=w.message, journal_id=w.journal_id)
            for w in event.warnings
        ],
        metadata=event.metadata,
        created_at=event.timestamp,
        position=position,
    )


def encode_document(document: JournalOut) -> bytes:
    return _encoder.encode(document)


class ReconciledEntryOut(EntryOut, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An entry as read: whether it is in an active match, and since when."""

    reconciled: bool
    reconciled_at: dt.datetime | None


class JournalReadOut(JournalOut, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A journal as it is now (GET, lists, commit, void, annotate): status, ``reversed_by``,
    ``amended_by``, ``description``, ``reference`` and ``metadata`` current, and the
    reconciliation of its entries: ``reconciled`` when any of its entries is in an active
    match, ``reconciled_at`` the latest of its entries' match times."""

    entries: list[ReconciledEntryOut]  # type: ignore[assignment]
    reconciled: bool
    reconciled_at: dt.datetime | None


def posted_document(journal_id: UUID, topic: str, state: bytes, position: int) -> JournalOut:
    """The 201 document of the journal whose ``JournalPosted`` is stored as ``topic``/``state``
    (version 1 of aggregate ``journal_id``) at ``position``."""
    event = _mapper.to_domain_event(StoredEvent(journal_id, 1, topic, state))
    assert isinstance(event, Journal.JournalPosted), topic
    return render_posted(event, position)


def current_document(
    document: JournalOut,
    status: StoredJournalStatus,
    reversed_by: UUID | None,
    today: dt.date,
    *,
    amended_by: UUID | None,
    reconciled: Mapping[UUID, dt.datetime] | None = None,
    notes: JournalNotes | None = None,
) -> bytes:
    """``document`` (the 201 answer) with the journal's status, reversal and amendment as
    they are now, its notes as annotated (``notes``; None: as posted) and the reconciliation
    of its entries (``reconciled``: entry id -> when its active match was made; reads only:
    the 201 bytes never carry it)."""
    marks = reconciled or {}
    entries = [
        ReconciledEntryOut(
            **msgspec.structs.asdict(entry),
            reconciled=entry.id in marks,
            reconciled_at=marks.get(entry.id),
        )
        for entry in document.entries
    ]
    times = [marks[entry.id] for entry in document.entries if entry.id in marks]
    fields = msgspec.structs.asdict(document)
    fields.update(
        status=status_as_of(status, document.effective_date, today),
        reversed_by=reversed_by,
        amended_by=amended_by,
        entries=entries,
        reconciled=bool(times),
        reconciled_at=max(times) if times else None,
    )
    if notes is not None:
        fields.update(
            description=notes.description, reference=notes.reference, metadata=notes.metadata
        )
    return _encoder.encode(JournalReadOut(**fields))
