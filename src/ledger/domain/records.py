"""Records, matches and reconciliation runs: the reconciliation side of the books (§6).

A **record** is one line of an external data stream (a bank statement, a processor's payout
report ...): an amount in minor units with a direction, a date and the stream's key. It is
imported once (``RecordImported``) and never changes: whether it is reconciled is not a flag
on the record but a fact derived from matches.

A **match** ties items of at least two data streams together: records, and ledger entries
(the items of the stream ``ledger:<ledger code>``). ``RecordMatched`` creates it, balanced
(credits equal debits within its tolerance); ``RecordUnmatched`` dissolves it, and its items
read unreconciled again. The match stores each item's amount, direction and stream as they
were matched, the difference it accepted and, for a match made by a reconciliation run, the
rule and the deltas (amount difference, days apart) that made it.

A **reconciliation run** that was not a dry run leaves ``ReconciliationRunCompleted`` with its
rules and counts; its matches carry its id.

Events are facts: every number a reader needs is decided before the event exists and stored
in it; applying one never validates, reads the clock or does I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from ledger.domain.balances import check_total
from ledger.domain.ledgers import Direction
from ledger.errors import InvalidState, MatchUnbalanced, ValidationError

LEDGER_STREAM_PREFIX: Final = "ledger:"
# The per-tenant counter (``tenant_counters.counter``) that hands out records' integer ids
# (1, 2, 3 …): the import command locks it, the projection writes its new value.
RECORD_ID_COUNTER: Final = "record_id"
DIRECTIONS: Final = ("credit", "debit")
# A match is active from its creation until it is unmatched (``matches.status``).
MatchStatus = Literal["active", "unmatched"]
# A record is reconciled while it is an item of an active match (derived, never stored).
RecordStatus = Literal["reconciled", "unreconciled"]
# What a reconciliation run compares, and the shapes of the matches it makes.
MatchOn = Literal["external_id", "amount", "date", "description"]
MatchKind = Literal["one_to_one", "one_to_many"]


def ledger_stream(ledger_code: str) -> str:
    """The data stream key of a ledger's entries: ``ledger:<code>``."""
    return LEDGER_STREAM_PREFIX + ledger_code


class MatchItem(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One item of a match as it was matched: a record (``record_id``) or an entry."""

    record_id: int | None = None
    entry_id: UUID | None = None
    data_stream_key: str
    amount: int
    direction: Direction
    decimal_places: int


class MatchRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Why a reconciliation run made a match: its rules and the deltas it accepted."""

    run_id: UUID | None  # None only in a dry run's proposals: that run is never stored
    kind: MatchKind
    match_on: tuple[MatchOn, ...]
    date_window_days: int
    amount_tolerance: int
    amount_difference: int  # sum of the left items minus sum of the right items
    days_apart: int  # the largest distance in days between the two sides' items


class RunRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    match_on: tuple[MatchOn, ...]
    date_window_days: int
    amount_tolerance: int
    allow_one_to_many: bool


class Record(Aggregate):
    @dataclass(frozen=True)
    class RecordImported(Aggregate.Created):
        tenant_id: UUID
        record_id: int
        data_stream_key: str
        external_id: str | None
        amount: int
        direction: Direction
        date: dt.date
        decimal_places: int
        description: str | None
        metadata: dict[str, Any]
        request_sha256: str

        def apply(self, aggregate: Any) -> None:
            for name, value in vars(self).items():
                if name not in _BASE_FIELDS:
                    setattr(aggregate, name, value)

    def __init__(self) -> None:
        pass


class Match(Aggregate):
    @dataclass(frozen=True)
    class RecordMatched(Aggregate.Created):
        tenant_id: UUID
        items: tuple[MatchItem, ...]
        difference: int  # credits - debits, in units of 10^-decimal_places
        tolerance: int
        decimal_places: int  # the largest of the items'; amounts compared at this scale
        rule: MatchRule | None
        note: str | None
        run_id: UUID | None

        def apply(self, aggregate: Any) -> None:
            for name, value in vars(self).items():
                if name not in _BASE_FIELDS:
                    setattr(aggregate, name, value)
            aggregate.status = "active"

    @dataclass(frozen=True)
    class RecordUnmatched(Aggregate.Event):
        tenant_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "unmatched"

    def __init__(self) -> None:
        self.status = "active"


class ReconciliationRun(Aggregate):
    @dataclass(frozen=True)
    class ReconciliationRunCompleted(Aggregate.Created):
        tenant_id: UUID
        left: str
        right: str
        rules: RunRules
        matched: int
        unmatched_left: int
        unmatched_right: int
        skipped: int

        def apply(self, aggregate: Any) -> None:
            for name, value in vars(self).items():
                if name not in _BASE_FIELDS:
                    setattr(aggregate, name, value)

    def __init__(self) -> None:
        pass


_BASE_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})

# Created events are built directly (not through ``Aggregate._create``): a bulk import makes
# ten thousand of them per request, and the direct constructor is several times cheaper.
RECORD_TOPIC: Final = get_topic(Record)
MATCH_TOPIC: Final = get_topic(Match)
RUN_TOPIC: Final = get_topic(ReconciliationRun)


def scale(amount: int, decimal_places: int, to_places: int) -> int:
    """``amount`` (units of 10^-decimal_places) in units of 10^-to_places (to_places >= dp)."""
    assert to_places >= decimal_places
    return amount * int(10 ** (to_places - decimal_places))


def tolerance_at_scale(tolerance: int, places: int, match_places: int) -> int:
    """A ``tolerance`` at scale ``places`` expressed at a match's own, smaller or equal scale
    ``match_places``, rounded up: a run checks a match's difference at the run's scale, so
    the match is recorded with a tolerance its difference is within at its own scale."""
    assert match_places <= places
    factor = int(10 ** (places - match_places))
    return -(-tolerance // factor)


def match_difference(items: tuple[MatchItem, ...]) -> tuple[int, int, int, int]:
    """``(credits, debits, difference, decimal_places)`` of ``items``, at the largest scale."""
    places = max(item.decimal_places for item in items)
    credits = debits = 0
    for item in items:
        value = scale(item.amount, item.decimal_places, places)
        if item.direction == "credit":
            credits += value
        else:
            debits += value
    return credits, debits, credits - debits, places


# --- rules of a match (pure: the handler loads the items, these decide) --------------------


def check_distinct_items(keys: Sequence[Hashable]) -> None:
    """No item is twice in one match (``keys`` identify the items).

    Raises:
        ValidationError: an item appears twice (400).
    """
    if len(set(keys)) != len(keys):
        raise ValidationError("an item appears twice in the match", {"field": "$.items"})


def check_not_voided(items: Sequence[MatchItem], voided: Sequence[bool]) -> None:
    """No entry of a match belongs to a voided journal (``voided[i]``: item i's does).

    Raises:
        InvalidState: the first such item (422).
    """
    for index, (item, is_voided) in enumerate(zip(items, voided, strict=True)):
        if is_voided:
            raise InvalidState(
                "the entry belongs to a voided journal",
                {"item_index": index, "entry_id": str(item.entry_id)},
            )


def check_match_balances(items: tuple[MatchItem, ...], tolerance: int) -> tuple[int, int]:
    """A match joins at least two data streams, and its credits and debits differ by at most
    ``tolerance`` (minor units at the items' largest scale). Returns ``(difference,
    decimal_places)`` (:func:`match_difference`).

    Raises:
        MatchUnbalanced: one data stream only (422).
        AmountOverflow: the credits (checked first) or the debits total, at the items'
            largest scale, exceeds ``limits.TOTAL_MINOR_MAX`` (422).
        MatchUnbalanced: a difference over the tolerance (422).
    """
    streams = sorted({item.data_stream_key for item in items})
    if len(streams) < 2:
        raise MatchUnbalanced(
            "a match needs items from at least two data streams",
            {"reason": "single_data_stream", "data_streams": streams},
        )
    credits, debits, difference, places = match_difference(items)
    for side, total in (("credit", credits), ("debit", debits)):
        check_total(
            total,
            f"the match's {side}s (at {places} decimal places)",
            {"side": side, "decimal_places": places},
        )
    if abs(difference) > tolerance:
        raise MatchUnbalanced(
            "credits and debits differ by more than the tolerance",
            {
                "reason": "unbalanced",
                "credits": credits,
                "debits": debits,
                "difference": difference,
                "tolerance": tolerance,
                "decimal_places": places,
            },
        )
    return difference, places
