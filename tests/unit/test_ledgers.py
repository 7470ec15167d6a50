"""Ledger rules without a database: refs, defaults, and handler decisions over a fake batch.

The handlers' ``load`` reads through a fake connection that answers their few queries from
in-memory rows; ``decide`` is pure, so everything about ordering, precedence and batch state
is testable here. The real database is exercised in tests/integration/test_ledgers.py.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import limits
from ledger.commands.ledgers import (
    CloseLedger,
    CloseLedgerHandler,
    OpenLedger,
    OpenLedgerHandler,
    UpdateLedger,
    UpdateLedgerHandler,
    ledger_in_batch,
)
from ledger.domain.ledgers import LEDGER_TYPES, Ledger, LedgerType, default_normal_balance
from ledger.errors import (
    CurrencyUnknown,
    DuplicateCode,
    InvalidState,
    LedgerClosed,
    LedgerError,
    LedgerNotFound,
    NotFound,
    ValidationError,
)
from ledger.queries.ledgers import LedgerRef
from ledger.store.group_commit import Batch

TENANT = uuid.UUID(int=1)
OTHER_TENANT = uuid.UUID(int=2)
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


# --- LedgerRef ------------------------------------------------------------------------------


def test_refs_are_hashable_values() -> None:
    ledger_id = uuid.uuid4()
    assert LedgerRef.by_id(ledger_id) == LedgerRef("id", ledger_id)
    assert len({LedgerRef.by_code("1"), LedgerRef.by_num_id(1), LedgerRef.by_code("1")}) == 2


def test_ref_as_json_is_its_wire_object() -> None:
    ledger_id = uuid.uuid4()
    assert LedgerRef.by_id(ledger_id).as_json() == {"ledger_id": str(ledger_id)}
    assert LedgerRef.by_code("cash").as_json() == {"ledger_code": "cash"}
    assert LedgerRef.by_num_id(7).as_json() == {"ledger_num_id": 7}


def test_ref_value_must_match_its_kind() -> None:
    with pytest.raises(AssertionError):
        LedgerRef("num_id", "7")
    with pytest.raises(AssertionError):
        LedgerRef("num_id", True)
    with pytest.raises(AssertionError):
        LedgerRef("id", "not a uuid object")


def test_from_fields_takes_exactly_one_key() -> None:
    assert LedgerRef.from_fields(ledger_code="cash") == LedgerRef.by_code("cash")
    assert LedgerRef.from_fields(ledger_num_id=3) == LedgerRef.by_num_id(3)
    for fields in ({}, {"ledger_code": "a", "ledger_num_id": 1}):
        with pytest.raises(ValidationError) as info:
            LedgerRef.from_fields(**fields, field="parent")  # type: ignore[arg-type]
        assert info.value.details["field"] == "parent"


@pytest.mark.parametrize(
    "fields", [{"ledger_code": ""}, {"ledger_num_id": 0}, {"ledger_num_id": 2**63}]
)
def test_from_fields_refuses_values_that_name_nothing(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        LedgerRef.from_fields(**fields)


@pytest.mark.parametrize(
    ("ledger_type", "normal"),
    [
        ("asset", "debit"),
        ("expense", "debit"),
        ("liability", "credit"),
        ("equity", "credit"),
        ("income", "credit"),
    ],
)
def test_default_normal_balance(ledger_type: LedgerType, normal: str) -> None:
    assert default_normal_balance(ledger_type) == normal


def test_every_type_has_a_default() -> None:
    assert {default_normal_balance(t) for t in LEDGER_TYPES} == {"debit", "credit"}


# --- a fake batch ---------------------------------------------------------------------------


def _record(
    *,
    tenant_id: UUID = TENANT,
    num_id: int,
    code: str,
    status: str = "open",
    currency: str | None = None,
    ancestors: Sequence[UUID] = (),
    version: int = 1,
) -> dict[str, Any]:
    ledger_id = uuid.uuid4()
    return {
        "ledger_id": ledger_id,
        "tenant_id": tenant_id,
        "num_id": num_id,
        "code": code,
        "name": code.title(),
        "type": "asset",
        "normal_balance": "debit",
        "parent_id": ancestors[-1] if ancestors else None,
        "currency": currency,
        "min_balance": None,
        "status": status,
        "metadata": "{}",
        "created_at": NOW,
        "updated_at": NOW,
        "position": 10,
        "version": version,
        "ancestor_ids": [*ancestors, ledger_id],
    }


class FakeConnection:
    """Answers the handlers' load queries from in-memory ``ledgers`` rows."""

    def __init__(
        self, rows: Sequence[dict[str, Any]] = (), counters: dict[UUID, int] | None = None
    ):
        self.rows = list(rows)
        self.counters = counters or {}

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        if "tenant_counters" in query:
            return [{"tenant_id": t, "value": self.counters.get(t, 0)} for t in args[0]]
        if "FROM currencies" in query:
            return []
        if "WHERE tenant_id = $1" in query:  # resolve_ledger_refs
            tenant_id, ids, codes, num_ids = args
            return [
                r
                for r in self.rows
                if r["tenant_id"] == tenant_id
                and (r["ledger_id"] in ids or r["code"] in codes or r["num_id"] in num_ids)
            ]
        if "FOR UPDATE" in query:  # update / close
            return [r for r in self.rows if r["ledger_id"] in args[0]]
        raise AssertionError(f"unexpected query {query}")


async def run_batch(conn: FakeConnection, *items: tuple[Any, Any]) -> list[Any]:
    """Load each handler's commands, then decide every item in order, like group commit."""
    batch = Batch(cast(Any, conn))
    by_handler: dict[int, tuple[Any, list[Any]]] = {}
    for handler, command in items:
        by_handler.setdefault(id(handler), (handler, []))[1].append(command)
    for handler, commands in by_handler.values():
        await handler.load(batch, commands)
    outcomes: list[Any] = []
    for handler, command in items:
        try:
            outcomes.append(handler.decide(batch, command))
        except LedgerError as error:
            outcomes.append(error)
    outcomes.append(batch)
    return outcomes


def _open(code: str, **fields: Any) -> OpenLedger:
    fields.setdefault("name", code.title())
    fields.setdefault("type", "asset")
    fields.setdefault("tenant_id", TENANT)
    return OpenLedger(code=code, **fields)


OPEN = OpenLedgerHandler()
UPDATE = UpdateLedgerHandler()
CLOSE = CloseLedgerHandler()


# --- open -----------------------------------------------------------------------------------


async def test_opens_in_a_batch_take_consecutive_num_ids_after_the_counter() -> None:
    conn = FakeConnection(counters={TENANT: 7})
    *decisions, _ = await run_batch(conn, (OPEN, _open("a")), (OPEN, _open("b")))
    assert [d.result.num_id for d in decisions] == [8, 9]
    event = decisions[0].events[0]
    assert isinstance(event, Ledger.LedgerOpened)
    assert (event.num_id, event.code, event.tenant_id, event.originator_version) == (
        8,
        "a",
        TENANT,
        1,
    )


async def test_a_refused_open_consumes_no_num_id() -> None:
    a, refused, b, _ = await run_batch(
        FakeConnection(), (OPEN, _open("a")), (OPEN, _open("a")), (OPEN, _open("b"))
    )
    assert isinstance(refused, DuplicateCode)
    assert (a.result.num_id, b.result.num_id) == (1, 2)


async def test_num_ids_are_per_tenant_within_a_batch() -> None:
    a, b, c, _ = await run_batch(
        FakeConnection(counters={OTHER_TENANT: 4}),
        (OPEN, _open("a")),
        (OPEN, _open("a", tenant_id=OTHER_TENANT)),
        (OPEN, _open("b")),
    )
    assert (a.result.num_id, b.result.num_id, c.result.num_id) == (1, 5, 2)


async def test_an_existing_code_is_a_duplicate() -> None:
    existing = _record(num_id=1, code="cash")
    (error, _) = await run_batch(FakeConnection([existing]), (OPEN, _open("cash")))
    assert isinstance(error, DuplicateCode)
    assert error.details["ledger_id"] == str(existing["ledger_id"])


async def test_a_parent_opened_earlier_in_the_batch_is_found_by_any_ref() -> None:
    root, by_code, by_num, _ = await run_batch(
        FakeConnection(),
        (OPEN, _open("root")),
        (OPEN, _open("child", parent=LedgerRef.by_code("root"))),
        (OPEN, _open("grandchild", parent=LedgerRef.by_num_id(2))),
    )
    assert by_code.result.parent_id == root.result.ledger_id
    assert by_num.result.ancestor_ids == (
        root.result.ledger_id,
        by_code.result.ledger_id,
        by_num.result.ledger_id,
    )


async def test_a_child_before_its_parent_in_the_batch_is_not_found() -> None:
    child, root, _ = await run_batch(
        FakeConnection(),
        (OPEN, _open("child", parent=LedgerRef.by_code("root"))),
        (OPEN, _open("root")),
    )
    assert isinstance(child, LedgerNotFound)
    assert root.result.num_id == 1


async def test_depth_is_checked_against_the_parents_ancestors() -> None:
    chain: list[UUID] = [uuid.uuid4() for _ in range(limits.LEDGER_TREE_DEPTH_MAX - 1)]
    deep = _record(num_id=1, code="deep15", ancestors=chain[:-1])
    deep["ancestor_ids"] = chain  # depth 15
    deepest = _record(num_id=2, code="deep16", ancestors=chain)  # depth 16
    ok, refused, _ = await run_batch(
        FakeConnection([deep, deepest], counters={TENANT: 2}),
        (OPEN, _open("a", parent=LedgerRef.by_code("deep15"))),
        (OPEN, _open("b", parent=LedgerRef.by_code("deep16"))),
    )
    assert ok.result.depth == 16
    assert isinstance(refused, ValidationError)
    assert refused.details == {"field": "parent", "depth": 17, "depth_max": 16}


async def test_a_closed_parent_and_a_close_earlier_in_the_batch_refuse_children() -> None:
    shut = _record(num_id=1, code="shut", status="closed")
    root = _record(num_id=2, code="root")
    refused, closed, refused_too, _ = await run_batch(
        FakeConnection([shut, root], counters={TENANT: 2}),
        (OPEN, _open("a", parent=LedgerRef.by_code("shut"))),
        (CLOSE, CloseLedger(tenant_id=TENANT, ledger_id=root["ledger_id"])),
        (OPEN, _open("b", parent=LedgerRef.by_id(root["ledger_id"]))),
    )
    assert isinstance(refused, LedgerClosed)
    assert closed.result.status == "closed"
    assert isinstance(refused_too, LedgerClosed)


async def test_currency_must_be_iso_or_custom() -> None:
    usd, unknown, _ = await run_batch(
        FakeConnection(), (OPEN, _open("a", currency="USD")), (OPEN, _open("b", currency="ABC"))
    )
    assert usd.result.currency == "USD"
    assert isinstance(unknown, CurrencyUnknown)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"code": "taken", "type": "nope"}, ValidationError),
        ({"code": "taken", "parent": LedgerRef.by_code("nope")}, DuplicateCode),
        ({"parent": LedgerRef.by_code("nope"), "currency": "ABC"}, LedgerNotFound),
        ({"parent": LedgerRef.by_code("shut"), "currency": "ABC"}, LedgerClosed),
        ({"currency": "ABC"}, CurrencyUnknown),
        (
            {"min_balance": 1, "currency": None, "parent": LedgerRef.by_code("nope")},
            ValidationError,
        ),
    ],
)
async def test_open_error_precedence(fields: dict[str, Any], expected: type[LedgerError]) -> None:
    rows = [_record(num_id=1, code="taken"), _record(num_id=2, code="shut", status="closed")]
    args = {"code": "new", **fields}
    (outcome, _) = await run_batch(FakeConnection(rows, {TENANT: 2}), (OPEN, _open(**args)))
    assert type(outcome) is expected


async def test_ledger_in_batch_sees_opened_and_changed_ledgers_only() -> None:
    existing = _record(num_id=1, code="old", currency="USD")
    opened, updated, batch = await run_batch(
        FakeConnection([existing], {TENANT: 1}),
        (OPEN, _open("new")),
        (UPDATE, UpdateLedger(tenant_id=TENANT, ledger_id=existing["ledger_id"], min_balance=-5)),
    )
    assert ledger_in_batch(batch, TENANT, LedgerRef.by_code("new")) == opened.result.row()
    assert ledger_in_batch(batch, TENANT, LedgerRef.by_num_id(1)) == updated.result.row()
    assert ledger_in_batch(batch, TENANT, LedgerRef.by_num_id(1)).min_balance == -5  # type: ignore[union-attr]
    assert ledger_in_batch(batch, OTHER_TENANT, LedgerRef.by_code("new")) is None
    assert ledger_in_batch(batch, TENANT, LedgerRef.by_code("absent")) is None


# --- update and close -----------------------------------------------------------------------


async def test_updates_and_a_close_of_one_ledger_get_consecutive_versions() -> None:
    row = _record(num_id=1, code="cash", version=4)
    ledger_id = row["ledger_id"]
    first, second, closed, again, _ = await run_batch(
        FakeConnection([row]),
        (UPDATE, UpdateLedger(tenant_id=TENANT, ledger_id=ledger_id, name="One")),
        (UPDATE, UpdateLedger(tenant_id=TENANT, ledger_id=ledger_id, metadata={"k": 1})),
        (CLOSE, CloseLedger(tenant_id=TENANT, ledger_id=ledger_id)),
        (CLOSE, CloseLedger(tenant_id=TENANT, ledger_id=ledger_id)),
    )
    assert [d.events[0].originator_version for d in (first, second, closed)] == [5, 6, 7]
    assert (second.result.name, second.result.metadata) == ("One", {"k": 1})
    assert isinstance(again, InvalidState)


async def test_update_event_says_which_fields_changed() -> None:
    row = _record(num_id=1, code="cash", currency="EUR")
    kept, cleared, _ = await run_batch(
        FakeConnection([row]),
        (UPDATE, UpdateLedger(tenant_id=TENANT, ledger_id=row["ledger_id"], name="N")),
        (UPDATE, UpdateLedger(tenant_id=TENANT, ledger_id=row["ledger_id"], min_balance=None)),
    )
    event = kept.events[0]
    assert isinstance(event, Ledger.LedgerUpdated)
    assert (event.name, event.metadata, event.min_balance_set) == ("N", None, False)
    event = cleared.events[0]
    assert isinstance(event, Ledger.LedgerUpdated)
    assert (event.name, event.min_balance_set, event.min_balance) == (None, True, None)


async def test_an_empty_update_appends_nothing() -> None:
    row = _record(num_id=1, code="cash")
    (decision, _) = await run_batch(
        FakeConnection([row]), (UPDATE, UpdateLedger(tenant_id=TENANT, ledger_id=row["ledger_id"]))
    )
    assert decision.events == []
    assert decision.result.version == 1


async def test_another_tenants_ledger_cannot_be_changed() -> None:
    row = _record(tenant_id=OTHER_TENANT, num_id=1, code="cash")
    update, close, _ = await run_batch(
        FakeConnection([row]),
        (UPDATE, UpdateLedger(tenant_id=TENANT, ledger_id=row["ledger_id"], name="x")),
        (CLOSE, CloseLedger(tenant_id=TENANT, ledger_id=row["ledger_id"])),
    )
    assert isinstance(update, NotFound)
    assert isinstance(close, NotFound)


async def test_update_validation_comes_before_existence() -> None:
    (outcome, _) = await run_batch(
        FakeConnection(), (UPDATE, UpdateLedger(tenant_id=TENANT, ledger_id=uuid.uuid4(), name=""))
    )
    assert isinstance(outcome, ValidationError)


@given(
    code=st.text(min_size=1, max_size=limits.LEDGER_CODE_LENGTH_MAX).filter(
        lambda s: s.isprintable() and s == s.strip()
    )
)
async def test_any_printable_trimmed_code_is_accepted(code: str) -> None:
    (decision, _) = await run_batch(FakeConnection(), (OPEN, _open(code, name="N")))
    assert decision.result.code == code
