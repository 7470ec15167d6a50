"""Helpers shared by the event-store tests.

- Test aggregates and events. They live in an importable module because a stored event's
  topic is ``module:QualName`` and the mapper resolves it on the way back.
- The hash chain recomputed in Python from stored rows, independent of the SQL function
  ``ledger_append_events`` (re-exported from ``ledger.audit.chain``).
- Small database helpers: reading the whole log, creating and dropping scratch databases.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy
from eventsourcing.domain import Aggregate, DomainEvent

# --- hash chain ---------------------------------------------------------------------------
# The recomputation lives in ``ledger.audit.chain`` (``ledger audit verify`` uses it); the
# store tests import it from here as before.
from ledger.audit.chain import (
    GENESIS_HASH,
    ChainedRow,
    broken_links,
    chain_link,
    recompute_chain,
)
from ledger.store.event_store import RecordedEvent

__all__ = ["GENESIS_HASH", "ChainedRow", "broken_links", "chain_link", "recompute_chain"]


# --- database helpers ---------------------------------------------------------------------

_COLUMNS = "notification_id, originator_id, originator_version, topic, state, tenant_id, chain_hash"


async def read_log(
    conn: asyncpg.Connection[Any] | asyncpg.Pool[Any] | PoolConnectionProxy[Any],
) -> list[RecordedEvent]:
    """Every row of ``ledger_events`` in position order."""
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM ledger_events ORDER BY notification_id")
    return [RecordedEvent.from_row(r) for r in rows]


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead (as ``tests/conftest.py`` does)."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def scratch_database_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


async def create_database(server_url: str, name: str, template: str | None = None) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        suffix = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await admin.close()


async def drop_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# --- test aggregates (group commit, stock reader) -----------------------------------------


class Widget(Aggregate):
    """A minimal aggregate: created with a name, renamed later."""

    @dataclass(frozen=True)
    class Created(Aggregate.Created):
        name: str

    @dataclass(frozen=True)
    class Renamed(Aggregate.Event):
        name: str

        def apply(self, aggregate: Any) -> None:
            aggregate.name = self.name

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def create(cls, name: str, widget_id: UUID | None = None) -> Widget:
        return cls._create(cls.Created, id=widget_id or uuid.uuid4(), name=name)

    @classmethod
    def renamed_event(cls, widget_id: UUID, version: int, name: str) -> Widget.Renamed:
        """A ``Renamed`` event at an explicit version (as a handler deciding from rows would)."""
        return cls.Renamed(
            originator_id=widget_id,
            originator_version=version,
            timestamp=cls.Renamed.create_timestamp(),
            name=name,
        )


class Ticket(Aggregate):
    """One unit taken from a limited quota (the ordered-limit group-commit test)."""

    @dataclass(frozen=True)
    class Issued(Aggregate.Created):
        quota: str

    def __init__(self, quota: str) -> None:
        self.quota = quota

    @classmethod
    def issue(cls, quota: str) -> Ticket:
        return cls._create(cls.Issued, id=uuid.uuid4(), quota=quota)


# --- mapper test events -------------------------------------------------------------------


class Money(msgspec.Struct, frozen=True):
    amount: Decimal
    currency: str


class Leg(msgspec.Struct, frozen=True):
    account: UUID
    money: Money
    memo: str | None = None


@dataclass(frozen=True)
class RichEvent(DomainEvent):
    """Every value type the stored format promises to carry exactly."""

    ref: UUID
    amount: Decimal
    booked_at: datetime
    value_date: date
    total: Money
    legs: tuple[Leg, ...]
    big: int
    small: int
    note: str | None
    tags: tuple[str, ...]


@dataclass(frozen=True)
class ScalarEvent(DomainEvent):
    """For the property test: one int, one text and one decimal."""

    number: int
    text: str
    decimal: Decimal


@dataclass(frozen=True)
class PlainEvent(DomainEvent):
    """An event at the default ``class_version`` (1)."""

    name: str


@dataclass(frozen=True)
class RenamedV2(DomainEvent):
    """Version 2 of an event first stored as ``{timestamp, name}``: v2 adds ``reason``."""

    class_version = 2

    name: str
    reason: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["reason"] = "unknown (stored before v2)"
