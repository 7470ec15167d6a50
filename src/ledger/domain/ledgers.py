"""Ledgers (accounts): the nodes of a tenant's chart of accounts, in a tree of depth <= 16.

A ledger is addressed by its UUID, its per-tenant ``code`` or its per-tenant ``num_id``
(1, 2, 3 ... handed out in order inside group commit). Its parent is fixed at opening, so
the tree can never get a cycle: a parent always exists before its children.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger import errors, limits
from ledger.domain.currencies import ISO_PRECISION

LedgerType = Literal["asset", "liability", "equity", "income", "expense"]
Direction = Literal["debit", "credit"]
# Open until closed (``LedgerClosed``); a closed ledger takes no new entries.
LedgerStatus = Literal["open", "closed"]
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
        type: LedgerType
        normal_balance: Direction
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
        type: LedgerType,  # the contract's field name (shadows the builtin on purpose)
        normal_balance: Direction,
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
        self.status: LedgerStatus = "open"

    @classmethod
    def open(
        cls,
        *,
        ledger_id: UUID,
        tenant_id: UUID,
        num_id: int,
        code: str,
        name: str,
        type: LedgerType,  # the contract's field name (shadows the builtin on purpose)
        normal_balance: Direction,
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


# --- rules of opening a ledger (pure: the handler loads, these decide) ---------------------


class ParentLedger(Protocol):
    """What opening a ledger reads of the parent it names."""

    @property
    def ledger_id(self) -> UUID: ...
    @property
    def code(self) -> str: ...
    @property
    def status(self) -> str: ...  # "open" | "closed"
    # From the root down to the parent itself (never empty).
    @property
    def ancestor_ids(self) -> tuple[UUID, ...]: ...


class LedgerName(Protocol):
    """How a command names a ledger; only read to report one that does not exist."""

    def as_json(self) -> dict[str, Any]: ...


def check_code_free(code: str, holder_id: UUID | None) -> None:
    """A tenant's ledger codes are unique: ``holder_id`` is the ledger with ``code``, if any.

    Raises:
        DuplicateCode: a ledger has the code already (409).
    """
    if holder_id is not None:
        raise errors.DuplicateCode(
            f"a ledger with code {code!r} exists already",
            {"field": "code", "code": code, "ledger_id": str(holder_id)},
        )


def ancestors_under(name: LedgerName, parent: ParentLedger | None) -> tuple[UUID, ...]:
    """The ancestor ids (root first, ``parent`` last) of a ledger opened under ``parent``,
    which ``name`` names: it exists, is open, and the new ledger stays within
    ``limits.LEDGER_TREE_DEPTH_MAX`` levels.

    Raises:
        LedgerNotFound, LedgerClosed (422), ValidationError (400): in that order.
    """
    if parent is None:
        raise errors.LedgerNotFound(
            "the parent ledger does not exist", {"field": "parent", "parent": name.as_json()}
        )
    if parent.status != "open":
        raise errors.LedgerClosed(
            f"the parent ledger {parent.code!r} is closed",
            {"field": "parent", "ledger_id": str(parent.ledger_id)},
        )
    depth = len(parent.ancestor_ids) + 1
    if depth > limits.LEDGER_TREE_DEPTH_MAX:
        raise errors.ValidationError(
            f"a ledger tree is at most {limits.LEDGER_TREE_DEPTH_MAX} levels deep;"
            f" under this parent the ledger would be at level {depth}",
            {"field": "parent", "depth": depth, "depth_max": limits.LEDGER_TREE_DEPTH_MAX},
        )
    return parent.ancestor_ids


def check_ledger_currency(currency: str | None, *, custom_known: bool) -> None:
    """A ledger's currency, when it has one, is ISO 4217 or one of the tenant's custom
    currencies (``custom_known``: the tenant has a custom currency ``currency``).

    Raises:
        CurrencyUnknown: neither (422).
    """
    if currency is not None and currency not in ISO_PRECISION and not custom_known:
        raise errors.CurrencyUnknown(
            f"the currency {currency!r} is not known",
            {"field": "currency", "currency": currency},
        )
