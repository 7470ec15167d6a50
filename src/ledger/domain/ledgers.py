"""Ledgers (accounts): the nodes of a tenant's chart of accounts, in a tree of depth <= 16.

A ledger is addressed by its UUID, its per-tenant ``code`` or its per-tenant ``num_id``
(1, 2, 3 ... handed out in order inside group commit). Its parent is fixed at opening, so
the tree can never get a cycle: a parent always exists before its children.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate

LedgerType = Literal["asset", "liability", "equity", "income", "expense"]
Direction = Literal["debit", "credit"]
LEDGER_TYPES: tuple[LedgerType, ...] = ("asset", "liability", "equity", "income", "expense")
# The per-tenant counter (``tenant_counters.counter``) that hands out ledgers' ``num_id``
# (1, 2, 3 …): the command locks it, the projection writes its new value.
NUM_ID_COUNTER: Final = "ledger_num_id"


def default_normal_balance(ledger_type: LedgerType) -> Direction:
    """Debit for asset and expense ledgers, credit for the others (docs/api.md §4)."""
    return "debit" if ledger_type in ("asset", "expense") else "credit"


class Ledger(Aggregate):
    @dataclass(frozen=True)
    class LedgerOpened(Aggregate.Created):
        tenant_id: UUID
        num_id: int
        code: str
        name: str
        type: str
        normal_balance: str
        parent_id: UUID | None
        currency: str | None
        min_balance: int | None
        metadata: dict[str, Any]

    @dataclass(frozen=True)
    class LedgerUpdated(Aggregate.Event):
        """Only the fields present changed (``*_set`` says whether a nullable one was sent)."""

        tenant_id: UUID
        name: str | None
        metadata: dict[str, Any] | None
        min_balance_set: bool
        min_balance: int | None

        def apply(self, aggregate: Any) -> None:
            if self.name is not None:
                aggregate.name = self.name
            if self.metadata is not None:
                aggregate.metadata = self.metadata
            if self.min_balance_set:
                aggregate.min_balance = self.min_balance

    @dataclass(frozen=True)
    class LedgerClosed(Aggregate.Event):
        tenant_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "closed"

    def __init__(
        self,
        tenant_id: UUID,
        num_id: int,
        code: str,
        name: str,
        type: str,  # the contract's field name (shadows the builtin on purpose)
        normal_balance: str,
        parent_id: UUID | None,
        currency: str | None,
        min_balance: int | None,
        metadata: dict[str, Any],
    ) -> None:
        self.tenant_id = tenant_id
        self.num_id = num_id
        self.code = code
        self.name = name
        self.type = type
        self.normal_balance = normal_balance
        self.parent_id = parent_id
        self.currency = currency
        self.min_balance = min_balance
        self.metadata = metadata
        self.status = "open"

    @classmethod
    def open(
        cls,
        *,
        ledger_id: UUID,
        tenant_id: UUID,
        num_id: int,
        code: str,
        name: str,
        type: str,  # the contract's field name (shadows the builtin on purpose)
        normal_balance: str,
        parent_id: UUID | None,
        currency: str | None,
        min_balance: int | None,
        metadata: dict[str, Any],
    ) -> Ledger:
        """A new ledger (one ``LedgerOpened`` event). The caller has checked every rule."""
        return cls._create(
            cls.LedgerOpened,
            id=ledger_id,
            tenant_id=tenant_id,
            num_id=num_id,
            code=code,
            name=name,
            type=type,
            normal_balance=normal_balance,
            parent_id=parent_id,
            currency=currency,
            min_balance=min_balance,
            metadata=metadata,
        )
