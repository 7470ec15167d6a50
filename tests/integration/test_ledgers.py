"""Ledger commands, projection and queries on a real PostgreSQL (docs/api.md §4).

The group committer here is built by the test (tenants + ledgers projections), so these
tests do not depend on how ``bootstrap`` wires the service.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import limits
from ledger.commands.ledgers import LedgerCommands
from ledger.commands.tenants import TenantCommands
from ledger.domain.ledgers import Ledger
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
from ledger.projections.ledgers import LedgersProjection
from ledger.projections.tenants import TenantsProjection
from ledger.queries.ledgers import (
    LedgerRef,
    LedgerView,
    get_ledger,
    list_ledgers,
    resolve_ledger_refs,
)
from ledger.queries.tenants import tenant_by_slug
from ledger.store.database import create_pool
from ledger.store.event_store import EventStore
from ledger.store.group_commit import GroupCommitter, PositionedEvent


@dataclass
class Books:
    pool: asyncpg.Pool[Any]
    store: EventStore
    committer: GroupCommitter
    tenants: TenantCommands
    ledgers: LedgerCommands

    async def tenant(self, slug: str, base_currency: str = "USD") -> UUID:
        await self.tenants.create_tenant(slug, base_currency)
        view = await tenant_by_slug(self.pool, slug)
        assert view is not None
        return view.tenant_id

    async def open(self, tenant_id: UUID, code: str, **fields: Any) -> LedgerView:
        fields.setdefault("name", code.title())
        fields.setdefault("type", "asset")
        return await self.ledgers.open_ledger(tenant_id, code=code, **fields)

    async def row(self, ledger_id: UUID) -> dict[str, Any]:
        record = await self.pool.fetchrow("SELECT * FROM ledgers WHERE ledger_id = $1", ledger_id)
        assert record is not None
        return dict(record)

    async def counter(self, tenant_id: UUID) -> int | None:
        value = await self.pool.fetchval(
            "SELECT value FROM tenant_counters WHERE tenant_id = $1 AND counter = 'ledger_num_id'",
            tenant_id,
        )
        return None if value is None else int(value)


@pytest.fixture
async def books(database_url: str) -> AsyncIterator[Books]:
    pool = await create_pool(database_url, min_size=2, max_size=10)
    store = EventStore(pool)
    committer = GroupCommitter(
        pool, mapper=store.mapper, projections=[TenantsProjection(), LedgersProjection()]
    )
    await committer.start()
    try:
        yield Books(pool, store, committer, TenantCommands(committer), LedgerCommands(committer))
    finally:
        await committer.stop()
        await pool.close()


@pytest.fixture
async def acme(books: Books) -> UUID:
    return await books.tenant("acme")


async def raises(error: type[LedgerError], call: Awaitable[Any]) -> LedgerError:
    with pytest.raises(error) as info:
        await call
    return info.value


# --- open -----------------------------------------------------------------------------------


async def test_open_returns_the_ledger_and_projects_its_row(books: Books, acme: UUID) -> None:
    ledger = await books.open(
        acme, "cash", name="Cash", type="asset", currency="USD", metadata={"desk": "ny"}
    )
    assert (ledger.num_id, ledger.code, ledger.name, ledger.type) == (1, "cash", "Cash", "asset")
    assert (ledger.normal_balance, ledger.status, ledger.parent_id) == ("debit", "open", None)
    assert (ledger.currency, ledger.min_balance, ledger.metadata) == ("USD", None, {"desk": "ny"})
    assert ledger.position == await books.store.max_position()
    assert ledger.version == 1
    assert ledger.ancestor_ids == (ledger.ledger_id,)
    row = await books.row(ledger.ledger_id)
    assert row["depth"] == 1
    assert row["ancestor_ids"] == [ledger.ledger_id]
    assert row["position"] == ledger.position
    assert row["tenant_id"] == acme
    assert await get_ledger(books.pool, acme, ledger.ledger_id) == ledger
    assert await books.counter(acme) == 1


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
async def test_normal_balance_defaults_by_type(
    books: Books, acme: UUID, ledger_type: str, normal: str
) -> None:
    ledger = await books.open(acme, "l", type=ledger_type)
    assert ledger.normal_balance == normal


async def test_normal_balance_can_be_given(books: Books, acme: UUID) -> None:
    ledger = await books.open(acme, "allowance", type="asset", normal_balance="credit")
    assert ledger.normal_balance == "credit"
    assert (await books.row(ledger.ledger_id))["normal_balance"] == "credit"


async def test_num_ids_count_per_tenant(books: Books, acme: UUID) -> None:
    globex = await books.tenant("globex")
    assert [(await books.open(acme, c)).num_id for c in "abc"] == [1, 2, 3]
    assert (await books.open(globex, "a")).num_id == 1
    assert (await books.open(acme, "d")).num_id == 4
    assert (await books.counter(acme), await books.counter(globex)) == (4, 1)


async def test_thirty_concurrent_opens_get_num_ids_one_to_thirty(books: Books, acme: UUID) -> None:
    opened = await asyncio.gather(*(books.open(acme, f"l{i:02d}") for i in range(30)))
    assert sorted(ledger.num_id for ledger in opened) == list(range(1, 31))
    rows = await books.pool.fetch(
        "SELECT num_id FROM ledgers WHERE tenant_id = $1 ORDER BY num_id", acme
    )
    assert [r["num_id"] for r in rows] == list(range(1, 31))
    assert await books.counter(acme) == 30


async def test_concurrent_opens_from_two_committers_never_share_a_num_id(
    books: Books, acme: UUID
) -> None:
    # A second process: its own committer on its own connections. The counter row lock
    # serialises the two writers; the UNIQUE (tenant_id, num_id) would catch a slip.
    other = GroupCommitter(books.pool, mapper=books.store.mapper, projections=[LedgersProjection()])
    await other.start()
    try:
        other_ledgers = LedgerCommands(other)
        calls = [
            (books.ledgers if i % 2 else other_ledgers).open_ledger(
                acme, code=f"c{i}", name="x", type="asset"
            )
            for i in range(20)
        ]
        opened = await asyncio.gather(*calls)
    finally:
        await other.stop()
    assert sorted(ledger.num_id for ledger in opened) == list(range(1, 21))


async def test_duplicate_codes_from_two_committers_exactly_one_succeeds(
    books: Books, acme: UUID
) -> None:
    other = GroupCommitter(books.pool, mapper=books.store.mapper, projections=[LedgersProjection()])
    await other.start()
    try:
        other_ledgers = LedgerCommands(other)
        calls = [
            (books.ledgers if i % 2 else other_ledgers).open_ledger(
                acme, code="cash", name="Cash", type="asset"
            )
            for i in range(10)
        ]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
    finally:
        await other.stop()
    assert sum(isinstance(o, LedgerView) for o in outcomes) == 1
    assert sum(isinstance(o, DuplicateCode) for o in outcomes) == 9, outcomes
    assert await books.counter(acme) == 1


async def test_concurrent_duplicate_codes_exactly_one_succeeds(books: Books, acme: UUID) -> None:
    outcomes = await asyncio.gather(
        *(books.open(acme, "cash") for _ in range(10)), return_exceptions=True
    )
    opened = [o for o in outcomes if isinstance(o, LedgerView)]
    refused = [o for o in outcomes if isinstance(o, DuplicateCode)]
    assert len(opened) == 1
    assert len(refused) == 9
    assert opened[0].num_id == 1
    # The refused ones consumed no number.
    assert (await books.open(acme, "bank")).num_id == 2


async def test_duplicate_code_is_409_and_names_the_existing_ledger(
    books: Books, acme: UUID
) -> None:
    first = await books.open(acme, "cash")
    error = await raises(DuplicateCode, books.open(acme, "cash", type="liability"))
    assert error.status_code == 409
    assert error.code == "DUPLICATE_CODE"
    assert error.details == {"field": "code", "code": "cash", "ledger_id": str(first.ledger_id)}


async def test_the_same_code_in_two_tenants_is_fine(books: Books, acme: UUID) -> None:
    globex = await books.tenant("globex")
    a = await books.open(acme, "cash")
    b = await books.open(globex, "cash")
    assert a.ledger_id != b.ledger_id


async def test_codes_are_case_sensitive(books: Books, acme: UUID) -> None:
    await books.open(acme, "cash")
    assert (await books.open(acme, "CASH")).num_id == 2


# --- parents and the tree -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["id", "code", "num_id"])
async def test_parent_by_each_kind_of_ref(books: Books, acme: UUID, kind: str) -> None:
    root = await books.open(acme, "assets")
    ref = {
        "id": LedgerRef.by_id(root.ledger_id),
        "code": LedgerRef.by_code("assets"),
        "num_id": LedgerRef.by_num_id(root.num_id),
    }[kind]
    child = await books.open(acme, "cash", parent=ref)
    assert child.parent_id == root.ledger_id
    assert child.ancestor_ids == (root.ledger_id, child.ledger_id)
    row = await books.row(child.ledger_id)
    assert (row["parent_id"], row["depth"]) == (root.ledger_id, 2)
    assert row["ancestor_ids"] == [root.ledger_id, child.ledger_id]


@pytest.mark.parametrize(
    "ref",
    [LedgerRef.by_id(uuid.uuid4()), LedgerRef.by_code("nope"), LedgerRef.by_num_id(99)],
)
async def test_unknown_parent_is_ledger_not_found(books: Books, acme: UUID, ref: LedgerRef) -> None:
    error = await raises(LedgerNotFound, books.open(acme, "cash", parent=ref))
    assert error.status_code == 422
    assert error.details == {"field": "parent", "parent": ref.as_json()}
    assert await books.counter(acme) == 0


@pytest.mark.parametrize("kind", ["id", "code", "num_id"])
async def test_another_tenants_parent_is_not_found(books: Books, acme: UUID, kind: str) -> None:
    globex = await books.tenant("globex")
    theirs = await books.open(globex, "assets")
    ref = {
        "id": LedgerRef.by_id(theirs.ledger_id),
        "code": LedgerRef.by_code("assets"),
        "num_id": LedgerRef.by_num_id(1),
    }[kind]
    await raises(LedgerNotFound, books.open(acme, "cash", parent=ref))


async def test_tree_depth_sixteen_is_allowed_seventeen_refused(books: Books, acme: UUID) -> None:
    parent: LedgerRef | None = None
    ledger = None
    for level in range(1, limits.LEDGER_TREE_DEPTH_MAX + 1):
        ledger = await books.open(acme, f"level{level}", parent=parent)
        assert ledger.depth == level
        parent = LedgerRef.by_id(ledger.ledger_id)
    assert ledger is not None
    row = await books.row(ledger.ledger_id)
    assert row["depth"] == 16
    assert len(row["ancestor_ids"]) == 16
    error = await raises(ValidationError, books.open(acme, "level17", parent=parent))
    assert error.status_code == 400
    assert error.details == {"field": "parent", "depth": 17, "depth_max": 16}
    assert await books.counter(acme) == 16


async def test_a_closed_parent_takes_no_children(books: Books, acme: UUID) -> None:
    root = await books.open(acme, "old")
    await books.ledgers.close_ledger(acme, root.ledger_id)
    error = await raises(LedgerClosed, books.open(acme, "new", parent=LedgerRef.by_code("old")))
    assert error.status_code == 422
    assert error.details == {"field": "parent", "ledger_id": str(root.ledger_id)}


async def test_a_parent_opened_earlier_in_the_same_batch_is_found(books: Books, acme: UUID) -> None:
    # Submitted together: one batch, decided in arrival order.
    batches = books.committer.batches_committed
    root, child, grandchild = await asyncio.gather(
        books.open(acme, "root"),
        books.open(acme, "child", parent=LedgerRef.by_code("root")),
        books.open(acme, "grandchild", parent=LedgerRef.by_num_id(2)),
    )
    assert books.committer.batches_committed == batches + 1
    assert child.parent_id == root.ledger_id
    assert grandchild.ancestor_ids == (root.ledger_id, child.ledger_id, grandchild.ledger_id)
    assert (await books.row(grandchild.ledger_id))["depth"] == 3


async def test_a_close_earlier_in_the_batch_refuses_a_later_child(books: Books, acme: UUID) -> None:
    root = await books.open(acme, "root")
    batches = books.committer.batches_committed
    closed, child = await asyncio.gather(
        books.ledgers.close_ledger(acme, root.ledger_id),
        books.open(acme, "child", parent=LedgerRef.by_code("root")),
        return_exceptions=True,
    )
    assert books.committer.batches_committed == batches + 1
    assert isinstance(closed, LedgerView)
    assert isinstance(child, LedgerClosed)


@st.composite
def trees(draw: st.DrawFn) -> list[int | None]:
    """Parent index (or None) of each node; a node's parent comes before it."""
    size = draw(st.integers(min_value=1, max_value=25))
    parents: list[int | None] = []
    depths: list[int] = []
    for i in range(size):
        choices = [j for j in range(i) if depths[j] < limits.LEDGER_TREE_DEPTH_MAX]
        parent = draw(st.none() | st.sampled_from(choices)) if choices else None
        parents.append(parent)
        depths.append(1 if parent is None else depths[parent] + 1)
    return parents


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(parents=trees(), concurrent=st.booleans())
async def test_ancestors_and_depth_of_random_trees(
    books: Books, parents: list[int | None], concurrent: bool
) -> None:
    tenant_id = await books.tenant(f"t{uuid.uuid4().hex[:12]}")
    refs: list[Callable[[LedgerView], LedgerRef]] = [
        lambda v: LedgerRef.by_id(v.ledger_id),
        lambda v: LedgerRef.by_code(v.code),
        lambda v: LedgerRef.by_num_id(v.num_id),
    ]
    opened: list[LedgerView] = []
    if concurrent:
        # Parents by code, all submitted at once: decided in order, across batches or not.
        calls = [
            books.open(tenant_id, f"n{i}", parent=None if p is None else LedgerRef.by_code(f"n{p}"))
            for i, p in enumerate(parents)
        ]
        opened = list(await asyncio.gather(*calls))
    else:
        for i, p in enumerate(parents):
            parent = None if p is None else refs[i % 3](opened[p])
            opened.append(await books.open(tenant_id, f"n{i}", parent=parent))

    def expected_ancestors(i: int) -> list[UUID]:
        chain: list[UUID] = []
        node: int | None = i
        while node is not None:
            chain.append(opened[node].ledger_id)
            node = parents[node]
        return chain[::-1]

    rows = {
        r["code"]: r
        for r in await books.pool.fetch(
            "SELECT code, num_id, parent_id, depth, ancestor_ids FROM ledgers WHERE tenant_id = $1",
            tenant_id,
        )
    }
    assert len(rows) == len(parents)
    assert sorted(r["num_id"] for r in rows.values()) == list(range(1, len(parents) + 1))
    for i, p in enumerate(parents):
        row = rows[f"n{i}"]
        ancestors = expected_ancestors(i)
        assert row["ancestor_ids"] == ancestors
        assert row["depth"] == len(ancestors)
        assert row["parent_id"] == (None if p is None else opened[p].ledger_id)
        assert list(opened[i].ancestor_ids) == ancestors


# --- currencies and limits ------------------------------------------------------------------


async def test_iso_currency_is_accepted(books: Books, acme: UUID) -> None:
    assert (await books.open(acme, "jpy", currency="JPY")).currency == "JPY"


@pytest.mark.parametrize("currency", ["XYZ", "usd", "BTC", "XAU", ""])
async def test_unknown_currency_is_422(books: Books, acme: UUID, currency: str) -> None:
    error = await raises(CurrencyUnknown, books.open(acme, "x", currency=currency))
    assert error.status_code == 422
    assert error.details == {"field": "currency", "currency": currency}


async def test_a_tenants_custom_currency_is_accepted_only_for_that_tenant(
    books: Books, acme: UUID
) -> None:
    globex = await books.tenant("globex")
    await books.pool.execute(
        "INSERT INTO currencies (tenant_id, code, precision, created_at, position)"
        " VALUES ($1, 'BTC', 8, now(), 0)",
        acme,
    )
    assert (await books.open(acme, "btc", currency="BTC")).currency == "BTC"
    await raises(CurrencyUnknown, books.open(globex, "btc", currency="BTC"))


@pytest.mark.parametrize(
    "min_balance", [0, -500, limits.BALANCE_MINOR_MIN, limits.AMOUNT_MINOR_MAX]
)
async def test_min_balance_with_currency(books: Books, acme: UUID, min_balance: int) -> None:
    ledger = await books.open(acme, "x", currency="USD", min_balance=min_balance)
    assert ledger.min_balance == min_balance
    assert (await books.row(ledger.ledger_id))["min_balance"] == min_balance


async def test_min_balance_requires_a_currency(books: Books, acme: UUID) -> None:
    error = await raises(ValidationError, books.open(acme, "x", min_balance=0))
    assert error.status_code == 400
    assert error.details == {"field": "min_balance"}


@pytest.mark.parametrize("min_balance", [2**63, -(2**63) - 1])
async def test_min_balance_is_int64(books: Books, acme: UUID, min_balance: int) -> None:
    error = await raises(
        ValidationError, books.open(acme, "x", currency="USD", min_balance=min_balance)
    )
    assert error.details["field"] == "min_balance"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"code": ""}, "code"),
        ({"code": "x" * (limits.LEDGER_CODE_LENGTH_MAX + 1)}, "code"),
        ({"code": " cash"}, "code"),
        ({"code": "cash\n"}, "code"),
        ({"code": "a\tb"}, "code"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "n" * (limits.LEDGER_NAME_LENGTH_MAX + 1)}, "name"),
        ({"type": "revenue"}, "type"),
        ({"normal_balance": "both"}, "normal_balance"),
        ({"metadata": {"k": "v" * limits.LEDGER_METADATA_BYTES_MAX}}, "metadata"),
    ],
)
async def test_invalid_fields_are_400_naming_the_field(
    books: Books, acme: UUID, fields: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {"code": "cash", "name": "Cash", "type": "asset", **fields}
    error = await raises(ValidationError, books.ledgers.open_ledger(acme, **args))
    assert error.details["field"] == field
    assert await books.counter(acme) == 0


async def test_longest_code_is_accepted(books: Books, acme: UUID) -> None:
    code = "é" * limits.LEDGER_CODE_LENGTH_MAX
    assert (await books.open(acme, code)).code == code


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # Shape (400) before the duplicate code (409) ...
        ({"code": "taken", "name": ""}, ValidationError),
        # ... the duplicate before the parent (422) ...
        ({"code": "taken", "parent": LedgerRef.by_code("nope")}, DuplicateCode),
        # ... the parent before the currency.
        ({"parent": LedgerRef.by_code("nope"), "currency": "XYZ"}, LedgerNotFound),
        ({"parent": LedgerRef.by_code("shut"), "currency": "XYZ"}, LedgerClosed),
        ({"min_balance": 1, "parent": LedgerRef.by_code("nope")}, ValidationError),
    ],
)
async def test_open_error_precedence(
    books: Books, acme: UUID, fields: dict[str, Any], expected: type[LedgerError]
) -> None:
    await books.open(acme, "taken")
    shut = await books.open(acme, "shut")
    await books.ledgers.close_ledger(acme, shut.ledger_id)
    args: dict[str, Any] = {"code": "new", "name": "New", "type": "asset", **fields}
    with pytest.raises(LedgerError) as info:
        await books.ledgers.open_ledger(acme, **args)
    assert type(info.value) is expected


# --- update ---------------------------------------------------------------------------------


async def test_update_changes_only_the_given_fields(books: Books, acme: UUID) -> None:
    ledger = await books.open(acme, "cash", currency="USD", metadata={"a": 1})
    renamed = await books.ledgers.update_ledger(acme, ledger.ledger_id, name="Petty cash")
    assert renamed.name == "Petty cash"
    assert renamed.metadata == {"a": 1}
    assert (renamed.version, renamed.position) == (2, await books.store.max_position())
    limited = await books.ledgers.update_ledger(
        acme, ledger.ledger_id, metadata={"b": 2}, min_balance=-100
    )
    assert (limited.name, limited.metadata, limited.min_balance) == ("Petty cash", {"b": 2}, -100)
    assert limited.version == 3
    assert await get_ledger(books.pool, acme, ledger.ledger_id) == limited
    row = await books.row(ledger.ledger_id)
    assert (row["version"], row["position"]) == (3, limited.position)
    assert row["updated_at"] > row["created_at"]
    assert row["created_at"] == ledger.created_at


async def test_update_with_null_min_balance_clears_it(books: Books, acme: UUID) -> None:
    ledger = await books.open(acme, "cash", currency="USD", min_balance=0)
    cleared = await books.ledgers.update_ledger(acme, ledger.ledger_id, min_balance=None)
    assert cleared.min_balance is None
    assert (await books.row(ledger.ledger_id))["min_balance"] is None


async def test_update_min_balance_needs_a_currency(books: Books, acme: UUID) -> None:
    ledger = await books.open(acme, "cash")
    error = await raises(
        ValidationError, books.ledgers.update_ledger(acme, ledger.ledger_id, min_balance=0)
    )
    assert error.details == {"field": "min_balance"}
    # Clearing is always fine.
    await books.ledgers.update_ledger(acme, ledger.ledger_id, min_balance=None)


async def test_update_that_changes_nothing_appends_nothing(books: Books, acme: UUID) -> None:
    ledger = await books.open(acme, "cash")
    same = await books.ledgers.update_ledger(acme, ledger.ledger_id)
    assert same == ledger
    assert await books.store.max_position() == ledger.position


async def test_update_of_unknown_or_foreign_ledger_is_not_found(books: Books, acme: UUID) -> None:
    globex = await books.tenant("globex")
    theirs = await books.open(globex, "cash")
    for ledger_id in (uuid.uuid4(), theirs.ledger_id):
        error = await raises(NotFound, books.ledgers.update_ledger(acme, ledger_id, name="x"))
        assert error.status_code == 404
    assert (await books.row(theirs.ledger_id))["name"] == "Cash"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"metadata": {"x": "y" * 20_000}}, "metadata"),
        ({"min_balance": 2**63}, "min_balance"),
    ],
)
async def test_update_validates_fields(
    books: Books, acme: UUID, fields: dict[str, Any], field: str
) -> None:
    ledger = await books.open(acme, "cash", currency="USD")
    error = await raises(
        ValidationError, books.ledgers.update_ledger(acme, ledger.ledger_id, **fields)
    )
    assert error.details["field"] == field


async def test_concurrent_updates_get_consecutive_versions(books: Books, acme: UUID) -> None:
    ledger = await books.open(acme, "cash")
    results = await asyncio.gather(
        *(books.ledgers.update_ledger(acme, ledger.ledger_id, name=f"n{i}") for i in range(10))
    )
    assert sorted(r.version for r in results) == list(range(2, 12))
    events = await books.store.read_aggregate(ledger.ledger_id)
    assert [e.originator_version for e in events] == list(range(1, 12))
    last = max(results, key=lambda r: r.version)
    assert (await books.row(ledger.ledger_id))["name"] == last.name


async def test_update_and_close_together_get_consecutive_versions(books: Books, acme: UUID) -> None:
    ledger = await books.open(acme, "cash")
    updated, closed = await asyncio.gather(
        books.ledgers.update_ledger(acme, ledger.ledger_id, name="Old cash"),
        books.ledgers.close_ledger(acme, ledger.ledger_id),
    )
    assert {updated.version, closed.version} == {2, 3}
    row = await books.row(ledger.ledger_id)
    assert (row["status"], row["name"], row["version"]) == ("closed", "Old cash", 3)


async def test_a_closed_ledger_can_still_be_updated(books: Books, acme: UUID) -> None:
    ledger = await books.open(acme, "cash")
    await books.ledgers.close_ledger(acme, ledger.ledger_id)
    updated = await books.ledgers.update_ledger(acme, ledger.ledger_id, metadata={"why": "merged"})
    assert (updated.status, updated.metadata) == ("closed", {"why": "merged"})


# --- close ----------------------------------------------------------------------------------


async def test_close_sets_status_and_version(books: Books, acme: UUID) -> None:
    ledger = await books.open(acme, "cash")
    closed = await books.ledgers.close_ledger(acme, ledger.ledger_id)
    assert (closed.status, closed.version) == ("closed", 2)
    assert closed.position == await books.store.max_position()
    row = await books.row(ledger.ledger_id)
    assert (row["status"], row["version"], row["position"]) == ("closed", 2, closed.position)


async def test_closing_a_closed_ledger_is_invalid_state(books: Books, acme: UUID) -> None:
    ledger = await books.open(acme, "cash")
    await books.ledgers.close_ledger(acme, ledger.ledger_id)
    error = await raises(InvalidState, books.ledgers.close_ledger(acme, ledger.ledger_id))
    assert (error.status_code, error.code) == (422, "INVALID_STATE")


async def test_concurrent_closes_exactly_one_succeeds(books: Books, acme: UUID) -> None:
    ledger = await books.open(acme, "cash")
    outcomes = await asyncio.gather(
        *(books.ledgers.close_ledger(acme, ledger.ledger_id) for _ in range(5)),
        return_exceptions=True,
    )
    assert sum(isinstance(o, LedgerView) for o in outcomes) == 1
    assert sum(isinstance(o, InvalidState) for o in outcomes) == 4


async def test_close_of_unknown_or_foreign_ledger_is_not_found(books: Books, acme: UUID) -> None:
    globex = await books.tenant("globex")
    theirs = await books.open(globex, "cash")
    for ledger_id in (uuid.uuid4(), theirs.ledger_id):
        await raises(NotFound, books.ledgers.close_ledger(acme, ledger_id))
    assert (await books.row(theirs.ledger_id))["status"] == "open"


# --- the fold equals the projection ---------------------------------------------------------


async def test_aggregate_replayed_from_events_matches_the_row(books: Books, acme: UUID) -> None:
    root = await books.open(acme, "root", currency="EUR", min_balance=5, metadata={"k": [1, 2]})
    await books.ledgers.update_ledger(acme, root.ledger_id, name="Root", min_balance=None)
    await books.ledgers.close_ledger(acme, root.ledger_id)
    ledger = await books.store.get(root.ledger_id, Ledger)
    assert ledger is not None
    view = await get_ledger(books.pool, acme, root.ledger_id)
    assert view is not None
    assert (ledger.code, ledger.name, ledger.num_id, ledger.status) == (
        view.code,
        view.name,
        view.num_id,
        view.status,
    )
    assert (ledger.currency, ledger.min_balance, ledger.metadata) == (
        view.currency,
        view.min_balance,
        view.metadata,
    )
    assert ledger.version == view.version


async def test_rebuilding_the_table_from_the_log_gives_the_same_rows(
    books: Books, acme: UUID
) -> None:
    root = await books.open(acme, "root")
    mid = await books.open(acme, "mid", parent=LedgerRef.by_id(root.ledger_id), currency="USD")
    await books.open(acme, "leaf", parent=LedgerRef.by_code("mid"), metadata={"x": 1})
    await books.ledgers.update_ledger(acme, mid.ledger_id, min_balance=-10, name="Middle")
    await books.ledgers.close_ledger(acme, root.ledger_id)
    query = "SELECT * FROM ledgers ORDER BY num_id"
    before = [dict(r) for r in await books.pool.fetch(query)]
    recorded = await books.store.read_after(0, 1000)
    events = [
        PositionedEvent(
            r.position, r.tenant_id, books.store.mapper.to_domain_event(r.as_stored_event())
        )
        for r in recorded
    ]
    async with books.pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM ledgers")
        await conn.execute("DELETE FROM tenant_counters")
        # One call for the whole log: parents are opened in the same call as children.
        await LedgersProjection().apply(conn, events)
        after = [dict(r) for r in await conn.fetch(query)]
    assert after == before
    assert await books.counter(acme) == 3


# --- queries --------------------------------------------------------------------------------


async def test_resolve_ledger_refs_in_one_statement(books: Books, acme: UUID) -> None:
    globex = await books.tenant("globex")
    cash = await books.open(acme, "cash")
    bank = await books.open(acme, "bank")
    theirs = await books.open(globex, "fees")
    refs = [
        LedgerRef.by_id(cash.ledger_id),
        LedgerRef.by_code("cash"),
        LedgerRef.by_num_id(2),
        LedgerRef.by_code("fees"),
        LedgerRef.by_id(theirs.ledger_id),
        LedgerRef.by_num_id(3),
        LedgerRef.by_num_id(2**70),
        LedgerRef.by_code("nope"),
    ]
    calls: list[str] = []

    class CountingConnection:
        async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
            calls.append(query)
            return await books.pool.fetch(query, *args)

    found = await resolve_ledger_refs(cast(Any, CountingConnection()), acme, refs)
    assert len(calls) == 1
    assert set(found) == {refs[0], refs[1], refs[2]}
    assert found[refs[0]] == found[refs[1]] == cash.row()
    assert found[refs[2]] == bank.row()
    assert found[refs[0]].ancestor_ids == (cash.ledger_id,)
    assert await resolve_ledger_refs(books.pool, acme, []) == {}


async def test_resolve_ledger_refs_can_lock_inside_a_transaction(books: Books, acme: UUID) -> None:
    cash = await books.open(acme, "cash")
    async with books.pool.acquire() as conn, conn.transaction():
        found = await resolve_ledger_refs(conn, acme, [LedgerRef.by_code("cash")], lock=True)
        assert found[LedgerRef.by_code("cash")].ledger_id == cash.ledger_id
        async with books.pool.acquire() as other:
            with pytest.raises(asyncpg.LockNotAvailableError):
                await other.execute(
                    "SELECT 1 FROM ledgers WHERE ledger_id = $1 FOR UPDATE NOWAIT", cash.ledger_id
                )


async def test_get_ledger_is_tenant_scoped(books: Books, acme: UUID) -> None:
    globex = await books.tenant("globex")
    theirs = await books.open(globex, "cash")
    assert await get_ledger(books.pool, acme, theirs.ledger_id) is None
    assert await get_ledger(books.pool, acme, uuid.uuid4()) is None
    assert await get_ledger(books.pool, globex, theirs.ledger_id) == theirs


async def test_list_filters_and_orders_by_num_id(books: Books, acme: UUID) -> None:
    globex = await books.tenant("globex")
    await books.open(globex, "other")
    root = await books.open(acme, "root", type="equity")
    a = await books.open(acme, "a", parent=LedgerRef.by_code("root"))
    b = await books.open(acme, "b", type="expense", parent=LedgerRef.by_code("root"))
    c = await books.open(acme, "c")

    async def codes(**filters: Any) -> list[str]:
        page = await list_ledgers(books.pool, acme, **filters)
        return [v.code for v in page.data]

    assert await codes() == ["root", "a", "b", "c"]
    assert await codes(code="b") == ["b"]
    assert await codes(num_id=4) == ["c"]
    assert await codes(num_id=2**70) == []
    assert await codes(parent_id=root.ledger_id) == ["a", "b"]
    assert await codes(type="asset") == ["a", "c"]
    assert await codes(type="asset", parent_id=root.ledger_id) == ["a"]
    assert await codes(code="other") == []
    assert {a.num_id, b.num_id, c.num_id} == {2, 3, 4}


async def test_list_pages_with_a_cursor(books: Books, acme: UUID) -> None:
    for i in range(7):
        await books.open(acme, f"l{i}")
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await list_ledgers(books.pool, acme, limit=3, cursor=cursor)
        seen += [v.num_id for v in page.data]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(range(1, 8))
    assert pages == 3
    default = await list_ledgers(books.pool, acme)
    assert (len(default.data), default.next_cursor) == (7, None)


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"cursor": "!!"}, "cursor"),
        ({"cursor": "WyJ4Il0"}, "cursor"),  # ["x"]
        ({"type": "revenue"}, "type"),
    ],
)
async def test_list_rejects_bad_parameters(
    books: Books, acme: UUID, filters: dict[str, Any], field: str
) -> None:
    error = await raises(ValidationError, list_ledgers(books.pool, acme, **filters))
    assert error.details["field"] == field
