"""The aggregate the store benchmark appends: one small ``Created`` event per command.

It lives in the ``ledger.bench`` package (not in a test or a ``__main__``) so its topic,
``ledger.bench.aggregate:BenchAccount.Opened``, resolves when an event is read back.
The event's stored state is about 150 bytes of JSON, the size of a typical ledger event.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate


class BenchAccount(Aggregate):
    """A stand-in for a ledger account: opened once, never changed."""

    class Opened(Aggregate.Created):
        code: str
        kind: str
        currency: str

    def __init__(self, code: str, kind: str, currency: str) -> None:
        self.code = code
        self.kind = kind
        self.currency = currency

    @classmethod
    def open(cls, *, account_id: UUID, code: str, kind: str, currency: str) -> BenchAccount:
        return cls._create(cls.Opened, id=account_id, code=code, kind=kind, currency=currency)
