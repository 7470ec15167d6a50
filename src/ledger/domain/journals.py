"""Journals: balanced sets of entries, the only way money moves between ledgers.

A journal is posted (in the books from its effective date on) or pending (holding funds:
counted in ``pending`` and against ``available``, not in ``posted``). A pending journal is
committed or voided once; a posted journal is reversed at most once, by a new journal whose
entries mirror it. Its description, reference and metadata may be annotated at any time
(``JournalAnnotated``: notes only, no money moves; ``ledger.domain.annotations``). Every
number a reader needs (base amounts, the rates used, the journal number) is decided before
``JournalPosted`` exists and is stored in it, so replaying history after a rate or rule
changes gives the same books.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from ledger.domain.ledgers import Direction

# How a journal is posted: in the books, or holding funds until committed or voided.
PostingStatus = Literal["posted", "pending"]
# A journal's status as stored in the ``journals`` table.
StoredJournalStatus = Literal["posted", "pending", "voided", "reversed"]
# A journal's status as a client reads it: as stored, or ``scheduled`` while a posted
# journal's effective date is still ahead (``ledger.documents.journals.status_as_of``).
JournalStatus = Literal["posted", "pending", "scheduled", "reversed", "voided"]
# What can be done to a pending journal, once: commit (post) or void (release) it.
PendingAction = Literal["commit", "void"]


class EntryLine(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One entry of a posted journal, as stored in ``JournalPosted``."""

    entry_id: UUID
    ledger_id: UUID
    ledger_code: str
    direction: Direction
    amount: int
    currency: str
    amount_base: int
    description: str | None = None
    metadata: dict[str, Any] = {}
    # The amount in the journal's reporting currency (class_version 2; None without one).
    amount_reporting: int | None = None


class JournalWarning(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A condition the poster accepted (``force=true``), recorded with the journal."""

    code: str
    message: str
    journal_id: UUID | None = None


class Journal(Aggregate):
    @dataclass(frozen=True)
    class JournalPosted(Aggregate.Created):
        """A journal as posted, with every number decided (module docstring).

        Stored format history (``ledger.store.mapper``): ``class_version`` 2 added
        ``amends`` (the journal this one amends: it reverses that journal's current version
        and posts this one in the same decision), ``reporting_currency``,
        ``reporting_rates`` (entry currency -> reporting currency rate used) and the entries'
        ``amount_reporting``; :meth:`upcast_v1_v2` gives version-1 events their defaults.
        """

        class_version = 2

        tenant_id: UUID
        number: int
        status: PostingStatus
        date: dt.date
        accrual_date: dt.date | None
        effective_date: dt.date
        description: str | None
        reference: str | None
        external_id: str | None
        currency: str
        base_currency: str
        exchange_rates: dict[str, Decimal]
        entries: tuple[EntryLine, ...]
        reversal_of: UUID | None
        warnings: tuple[JournalWarning, ...]
        metadata: dict[str, Any]
        request_sha256: str
        duplicate_sha256: str
        amends: UUID | None
        reporting_currency: str | None
        reporting_rates: dict[str, Decimal]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """A version-1 event amends nothing and has no reporting currency (its
            entries' ``amount_reporting`` is ``EntryLine``'s default, None)."""
            state["amends"] = None
            state["reporting_currency"] = None
            state["reporting_rates"] = {}

        def apply(self, aggregate: Any) -> None:
            for name, value in vars(self).items():
                if name not in _BASE_FIELDS:
                    setattr(aggregate, name, value)

    @dataclass(frozen=True)
    class JournalCommitted(Aggregate.Event):
        tenant_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "posted"

    @dataclass(frozen=True)
    class JournalVoided(Aggregate.Event):
        tenant_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "voided"

    @dataclass(frozen=True)
    class JournalReversed(Aggregate.Event):
        tenant_id: UUID
        reversed_by: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "reversed"
            aggregate.reversed_by = self.reversed_by

    @dataclass(frozen=True)
    class JournalAnnotated(Aggregate.Event):
        """The journal's notes changed; only the fields that changed are recorded
        (``*_set`` says whether a nullable text was changed, ``None`` clearing it).
        ``metadata`` is the journal's whole metadata after the change (None: unchanged),
        so no reader needs the merge rule (``ledger.domain.annotations``)."""

        tenant_id: UUID
        description_set: bool
        description: str | None
        reference_set: bool
        reference: str | None
        metadata: dict[str, Any] | None

        def apply(self, aggregate: Any) -> None:
            if self.description_set:
                aggregate.description = self.description
            if self.reference_set:
                aggregate.reference = self.reference
            if self.metadata is not None:
                aggregate.metadata = self.metadata

    def __init__(self) -> None:
        # JournalPosted.apply sets the posted fields; these change later.
        self.reversed_by: UUID | None = None


_BASE_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


def journal_number_text(number: int) -> str:
    """``JE-000001`` …: six digits, more when needed."""
    return f"JE-{number:06d}"
