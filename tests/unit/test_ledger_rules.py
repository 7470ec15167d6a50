"""The rules of opening a ledger (ledger.domain.ledgers), without a database or a batch."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest

from ledger import limits
from ledger.domain.ledgers import ancestors_under, check_code_free, check_ledger_currency
from ledger.errors import (
    CurrencyUnknown,
    DuplicateCode,
    LedgerClosed,
    LedgerNotFound,
    ValidationError,
)


@dataclass(frozen=True)
class Parent:
    ledger_id: UUID
    code: str
    status: str
    ancestor_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class Name:
    code: str

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code}


def test_a_code_held_by_another_ledger_is_refused() -> None:
    check_code_free("cash", None)
    holder = uuid.uuid4()
    with pytest.raises(DuplicateCode) as caught:
        check_code_free("cash", holder)
    assert caught.value.details == {"field": "code", "code": "cash", "ledger_id": str(holder)}


def test_a_child_gets_its_parents_ancestors() -> None:
    root, parent_id = uuid.uuid4(), uuid.uuid4()
    parent = Parent(parent_id, "p", "open", (root, parent_id))
    assert ancestors_under(Name("p"), parent) == (root, parent_id)


def test_the_parent_exists_then_is_open_then_has_room_below_it() -> None:
    with pytest.raises(LedgerNotFound) as missing:
        ancestors_under(Name("p"), None)
    assert missing.value.details == {"field": "parent", "parent": {"code": "p"}}
    deepest = tuple(uuid.uuid4() for _ in range(limits.LEDGER_TREE_DEPTH_MAX))
    closed = Parent(deepest[-1], "p", "closed", deepest)
    with pytest.raises(LedgerClosed) as caught:
        ancestors_under(Name("p"), closed)
    assert caught.value.details == {"field": "parent", "ledger_id": str(deepest[-1])}
    with pytest.raises(ValidationError) as too_deep:
        ancestors_under(Name("p"), Parent(deepest[-1], "p", "open", deepest))
    assert too_deep.value.details == {
        "field": "parent",
        "depth": limits.LEDGER_TREE_DEPTH_MAX + 1,
        "depth_max": limits.LEDGER_TREE_DEPTH_MAX,
    }
    fits = deepest[1:]
    assert ancestors_under(Name("p"), Parent(fits[-1], "p", "open", fits)) == fits


def test_a_ledger_currency_is_iso_or_a_known_custom_one() -> None:
    check_ledger_currency(None, custom_known=False)
    check_ledger_currency("EUR", custom_known=False)
    check_ledger_currency("BTC", custom_known=True)
    with pytest.raises(CurrencyUnknown) as caught:
        check_ledger_currency("BTC", custom_known=False)
    assert caught.value.details == {"field": "currency", "currency": "BTC"}
