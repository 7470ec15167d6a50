"""Record and match documents: the JSON the API answers for records and matches.

:func:`render_record` is the record shape of docs/api.md §6 (fields in that order,
``position`` last); a record's first answer is a pure function of its event and position
(:func:`render_imported`), so an idempotent retry re-renders it byte for byte. Pure code:
commands answer with these documents, queries render stored rows into them, the projection
writes the rows.

These Structs are also the API's schemas of those answers (``ledger.api.schemas``): the
OpenAPI document names a component after each class, so the class names are the published
component names (``RecordOut``, ``MatchOut`` ...). Field order is the encoded order.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from uuid import UUID

import msgspec

from ledger.domain.ledgers import Direction
from ledger.domain.records import Match, MatchItem, MatchRule, Record, RecordStatus

_json = msgspec.json.Encoder()
# A match's status as answered: as stored (``MatchStatus``), or ``proposed`` (a dry run's,
# never stored).
MatchOutStatus = Literal["active", "unmatched", "proposed"]


class MatchedRecordOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An item matched with a record: a record (integer id) or a ledger entry (uuid)."""

    id: int | UUID
    amount: int
    decimal_places: int
    direction: Direction
    data_stream_key: str


class RecordOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The record as the API shows it (docs/api.md §6), fields in that order."""

    amount: int
    direction: Direction
    date: dt.date
    data_stream_key: str
    id: int
    decimal_places: int
    description: str | None
    metadata: dict[str, Any]
    status: RecordStatus  # derived from matches
    external_id: str | None
    matched_records: list[MatchedRecordOut]
    position: int


class MatchItemOut(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """A matched item: a record (``record_id``) or a ledger entry (``entry_id``)."""

    record_id: int | None = None
    entry_id: UUID | None = None
    data_stream_key: str
    amount: int
    direction: Direction
    decimal_places: int


class MatchOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A match; a dry run's proposals have no ``id`` or ``position`` (status ``proposed``)."""

    id: UUID | None
    items: list[MatchItemOut]
    difference: int
    tolerance: int
    decimal_places: int
    rule: MatchRule | None
    note: str | None
    run_id: UUID | None
    status: MatchOutStatus
    created_at: dt.datetime
    unmatched_at: dt.datetime | None
    position: int | None


def canonical(value: Any) -> Any:
    """``value`` with every object's keys sorted, recursively (JSONB does not keep key
    order, so documents always show metadata in this one order)."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def render_record(
    *,
    record_id: int,
    data_stream_key: str,
    amount: int,
    direction: Direction,
    date: dt.date,
    decimal_places: int,
    description: str | None,
    metadata: dict[str, Any],
    external_id: str | None,
    position: int,
    matched_records: list[MatchedRecordOut] | None = None,
    reconciled: bool = False,
) -> RecordOut:
    return RecordOut(
        amount=amount,
        direction=direction,
        date=date,
        data_stream_key=data_stream_key,
        id=record_id,
        decimal_places=decimal_places,
        description=description,
        metadata=canonical(metadata),
        status="reconciled" if reconciled else "unreconciled",
        external_id=external_id,
        matched_records=matched_records or [],
        position=position,
    )


def render_imported(event: Record.RecordImported, position: int) -> RecordOut:
    """The first answer for a record: unreconciled (nothing can match it before it exists)."""
    return render_record(
        record_id=event.record_id,
        data_stream_key=event.data_stream_key,
        amount=event.amount,
        direction=event.direction,
        date=event.date,
        decimal_places=event.decimal_places,
        description=event.description,
        metadata=event.metadata,
        external_id=event.external_id,
        position=position,
    )


def item_document(item: MatchItem) -> MatchItemOut:
    return MatchItemOut(
        record_id=item.record_id,
        entry_id=item.entry_id,
        data_stream_key=item.data_stream_key,
        amount=item.amount,
        direction=item.direction,
        decimal_places=item.decimal_places,
    )


def render_matched(event: Match.RecordMatched, position: int) -> MatchOut:
    return MatchOut(
        id=event.originator_id,
        items=[item_document(item) for item in event.items],
        difference=event.difference,
        tolerance=event.tolerance,
        decimal_places=event.decimal_places,
        rule=event.rule,
        note=event.note,
        run_id=event.run_id,
        status="active",
        created_at=event.timestamp,
        unmatched_at=None,
        position=position,
    )


def encode(document: msgspec.Struct) -> bytes:
    return _json.encode(document)
