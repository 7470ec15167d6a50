"""Ledger reads: one ledger, filtered pages of ledgers, and batch resolution of ledger refs.

Everything here is a ``SELECT`` on the ``ledgers`` read table (written inline by
``ledger.projections.ledgers``, so it is exact inside the group-commit transaction too).
Every read is tenant-scoped: another tenant's ledger is indistinguishable from one that does
not exist.

- :class:`LedgerRef` names a ledger the three ways the contract allows (docs/api.md §4):
  ``{"ledger_id": uuid}``, ``{"ledger_code": str}`` or ``{"ledger_num_id": int}``.
- :func:`resolve_ledger_refs` turns many refs into :class:`LedgerRow`\\ s in one statement;
  command handlers call it in ``load`` with the batch connection (``lock=True`` takes
  ``FOR SHARE`` row locks, so a concurrent close in another process cannot slip between the
  read and the commit).
- :func:`get_ledger` / :func:`list_ledgers` serve the HTTP reads as :class:`LedgerView`\\ s.
- :func:`ledgers_by_ids` and :func:`ledgers_by_code_or_name` read several ledgers at once
  (the seed-compatible endpoints name ledgers by code or name and render their names).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias
from uuid import UUID

import asyncpg
import msgspec

from ledger import limits
from ledger.domain.ledgers import LEDGER_TYPES, Direction, LedgerStatus, LedgerType
from ledger.errors import ValidationError
from ledger.queries.filters import SqlFilter
from ledger.queries.pagination import decode_cursor, encode_cursor, page_limit
from ledger.store.database import DbConnection

# A pool, or a connection (inside a transaction: a group-commit batch's).
Executor: TypeAlias = "asyncpg.Pool[Any] | DbConnection"
LedgerRefKind = Literal["id", "code", "num_id"]

NUM_ID_MAX: Final = limits.LEDGER_NUM_ID_MAX


@dataclass(frozen=True, slots=True)
class LedgerRef:
    """One way of naming a ledger of a tenant: by UUID, by code or by ``num_id``.

    Hashable and comparable, so it keys the dict :func:`resolve_ledger_refs` returns. Build
    it with :meth:`by_id`, :meth:`by_code`, :meth:`by_num_id` or :meth:`from_fields`; the
    value's type always matches the kind (asserted: a mismatch is a programmer error).
    """

    kind: LedgerRefKind
    value: UUID | str | int

    def __post_init__(self) -> None:
        if self.kind == "id":
            assert isinstance(self.value, UUID), self
        elif self.kind == "code":
            assert isinstance(self.value, str), self
        else:
            assert self.kind == "num_id", self
            assert isinstance(self.value, int), self
            assert not isinstance(self.value, bool), self

    @classmethod
    def by_id(cls, ledger_id: UUID) -> LedgerRef:
        return cls("id", ledger_id)

    @classmethod
    def by_code(cls, code: str) -> LedgerRef:
        return cls("code", code)

    @classmethod
    def by_num_id(cls, num_id: int) -> LedgerRef:
        return cls("num_id", num_id)

    @classmethod
    def from_fields(
        cls,
        *,
        ledger_id: UUID | None = None,
        ledger_code: str | None = None,
        ledger_num_id: int | None = None,
        field: str = "ledger",
    ) -> LedgerRef:
        """The ref named by exactly one of the three wire keys (None = key absent).

        Raises:
            ValidationError: none or several keys are given, an empty code, or a ``num_id``
                outside 1 .. 2^63-1 (``details.field`` is ``field``).
        """
        given = [
            name
            for name, value in (
                ("ledger_id", ledger_id),
                ("ledger_code", ledger_code),
                ("ledger_num_id", ledger_num_id),
            )
            if value is not None
        ]
        if len(given) != 1:
            raise ValidationError(
                "a ledger ref has exactly one of ledger_id, ledger_code or ledger_num_id",
                {"field": field, "given": given},
            )
        if ledger_id is not None:
            return cls.by_id(ledger_id)
        if ledger_code is not None:
            if not ledger_code:
                raise ValidationError("ledger_code must not be empty", {"field": field})
            return cls.by_code(ledger_code)
        assert ledger_num_id is not None
        if isinstance(ledger_num_id, bool) or not 1 <= ledger_num_id <= NUM_ID_MAX:
            raise ValidationError(
                f"ledger_num_id is an integer from 1 to {NUM_ID_MAX}",
                {"field": field, "value": ledger_num_id},
            )
        return cls.by_num_id(ledger_num_id)

    def as_json(self) -> dict[str, Any]:
        """The ref as its wire object, e.g. ``{"ledger_code": "cash"}`` (for error details)."""
        if self.kind == "id":
            return {"ledger_id": str(self.value)}
        if self.kind == "code":
            return {"ledger_code": self.value}
        return {"ledger_num_id": self.value}


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """What a command decision needs to know about a ledger.

    ``ancestor_ids`` runs from the root down to the ledger itself (so it is never empty and
    ``len(ancestor_ids)`` is the ledger's depth); balances roll up along it.
    """

    ledger_id: UUID
    code: str
    num_id: int
    status: LedgerStatus
    currency: str | None
    min_balance: int | None
    normal_balance: Direction
    type: LedgerType
    parent_id: UUID | None
    ancestor_ids: tuple[UUID, ...]

    @property
    def depth(self) -> int:
        return len(self.ancestor_ids)

    def refs(self) -> tuple[LedgerRef, LedgerRef, LedgerRef]:
        """The three refs that name this ledger."""
        return (
            LedgerRef.by_id(self.ledger_id),
            LedgerRef.by_code(self.code),
            LedgerRef.by_num_id(self.num_id),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerView:
    """A ledger as the API shows it, plus what writers need (tenant, version, ancestry).

    ``position`` is the position of the ledger's last event (a write sets it to the position
    of the event it appended); ``version`` is the aggregate version of that event.
    """

    ledger_id: UUID
    tenant_id: UUID
    num_id: int
    code: str
    name: str
    type: LedgerType
    normal_balance: Direction
    parent_id: UUID | None
    currency: str | None
    min_balance: int | None
    status: LedgerStatus
    metadata: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    position: int
    version: int
    ancestor_ids: tuple[UUID, ...]

    @property
    def depth(self) -> int:
        return len(self.ancestor_ids)

    def row(self) -> LedgerRow:
        return LedgerRow(
            ledger_id=self.ledger_id,
            code=self.code,
            num_id=self.num_id,
            status=self.status,
            currency=self.currency,
            min_balance=self.min_balance,
            normal_balance=self.normal_balance,
            type=self.type,
            parent_id=self.parent_id,
            ancestor_ids=self.ancestor_ids,
        )


@dataclass(frozen=True, slots=True)
class LedgerPage:
    data: list[LedgerView]
    next_cursor: str | None


_ROW_COLUMNS: Final = (
    "ledger_id, code, num_id, status, currency, min_balance, normal_balance, type, parent_id,"
    " ancestor_ids"
)
VIEW_COLUMNS: Final = (
    "ledger_id, tenant_id, num_id, code, name, type, normal_balance, parent_id, currency,"
    " min_balance, status, metadata, created_at, updated_at, position, version, ancestor_ids"
)
# One statement for the three kinds of ref: PostgreSQL answers the OR with a bitmap OR of
# the primary key and the (tenant_id, code) and (tenant_id, num_id) unique indexes.
_RESOLVE: Final = (
    f"SELECT {_ROW_COLUMNS} FROM ledgers WHERE tenant_id = $1"
    " AND (ledger_id = ANY($2::uuid[]) OR code = ANY($3::text[]) OR num_id = ANY($4::bigint[]))"
)
# Locks in ledger_id order, like every other multi-row lock on ``ledgers``: no deadlocks.
_RESOLVE_LOCKED: Final = _RESOLVE + " ORDER BY ledger_id FOR SHARE"
_GET: Final = f"SELECT {VIEW_COLUMNS} FROM ledgers WHERE tenant_id = $1 AND ledger_id = $2"
_BY_IDS: Final = (
    f"SELECT {VIEW_COLUMNS} FROM ledgers WHERE tenant_id = $1 AND ledger_id = ANY($2::uuid[])"
)
_BY_CODE_OR_NAME: Final = (
    f"SELECT {VIEW_COLUMNS} FROM ledgers WHERE tenant_id = $1"
    " AND (code = ANY($2::text[]) OR name = ANY($2::text[])) ORDER BY num_id"
)

_metadata_decoder = msgspec.json.Decoder(dict[str, Any])


def row_of(record: Mapping[str, Any]) -> LedgerRow:
    return LedgerRow(
        ledger_id=record["ledger_id"],
        code=record["code"],
        num_id=record["num_id"],
        status=record["status"],
        currency=record["currency"],
        min_balance=record["min_balance"],
        normal_balance=record["normal_balance"],
        type=record["type"],
        parent_id=record["parent_id"],
        ancestor_ids=tuple(record["ancestor_ids"]),
    )


def view_of(record: Mapping[str, Any]) -> LedgerView:
    """A :class:`LedgerView` from a record of :data:`VIEW_COLUMNS`."""
    metadata = record["metadata"]
    return LedgerView(
        ledger_id=record["ledger_id"],
        tenant_id=record["tenant_id"],
        num_id=record["num_id"],
        code=record["code"],
        name=record["name"],
        type=record["type"],
        normal_balance=record["normal_balance"],
        parent_id=record["parent_id"],
        currency=record["currency"],
        min_balance=record["min_balance"],
        status=record["status"],
        # asyncpg hands jsonb over as its text unless a codec is set on the pool.
        metadata=_metadata_decoder.decode(metadata) if isinstance(metadata, str) else metadata,
        created_at=record["created_at"],
        updated_at=record["updated_at"],
        position=record["position"],
        version=record["version"],
        ancestor_ids=tuple(record["ancestor_ids"]),
    )


async def resolve_ledger_refs(
    conn: Executor, tenant_id: UUID, refs: Collection[LedgerRef], *, lock: bool = False
) -> dict[LedgerRef, LedgerRow]:
    """The tenant's ledgers named by ``refs``, in one SQL statement.

    The result maps each ref that names an existing ledger of ``tenant_id`` to its row; refs
    that name nothing (unknown, another tenant's, or a ``num_id`` out of range) are absent.
    Several refs may map to the same row. ``lock=True`` takes ``FOR SHARE`` locks on the rows
    found (in ``ledger_id`` order), for use inside a group-commit ``load``.
    """
    if not refs:
        return {}
    ids = sorted({r.value for r in refs if r.kind == "id"}, key=str)
    codes = sorted({r.value for r in refs if r.kind == "code"}, key=str)
    num_ids = sorted(
        {
            r.value
            for r in refs
            if r.kind == "num_id" and isinstance(r.value, int) and 1 <= r.value <= NUM_ID_MAX
        },
        key=int,
    )
    sql = _RESOLVE_LOCKED if lock else _RESOLVE
    records = await conn.fetch(sql, tenant_id, ids, codes, num_ids)
    wanted = set(refs)
    found: dict[LedgerRef, LedgerRow] = {}
    for record in records:
        row = row_of(record)
        for ref in row.refs():
            if ref in wanted:
                found[ref] = row
    return found


async def get_ledger(conn: Executor, tenant_id: UUID, ledger_id: UUID) -> LedgerView | None:
    """The tenant's ledger ``ledger_id``, or None (unknown, or another tenant's)."""
    record = await conn.fetchrow(_GET, tenant_id, ledger_id)
    return view_of(record) if record is not None else None


async def ledgers_by_ids(
    conn: Executor, tenant_id: UUID, ledger_ids: Collection[UUID]
) -> dict[UUID, LedgerView]:
    """The tenant's ledgers among ``ledger_ids``, by id (unknown ids are absent)."""
    if not ledger_ids:
        return {}
    records = await conn.fetch(_BY_IDS, tenant_id, sorted(set(ledger_ids), key=str))
    return {view.ledger_id: view for view in map(view_of, records)}


async def ledgers_by_code_or_name(
    conn: Executor, tenant_id: UUID, names: Collection[str]
) -> list[LedgerView]:
    """The tenant's ledgers whose code or name (exactly, case included) is one of ``names``,
    in ``num_id`` order. Names are not unique: a name may match several ledgers."""
    if not names:
        return []
    records = await conn.fetch(_BY_CODE_OR_NAME, tenant_id, sorted(set(names)))
    return [view_of(r) for r in records]


async def list_ledgers(
    conn: Executor,
    tenant_id: UUID,
    *,
    code: str | None = None,
    num_id: int | None = None,
    parent_id: UUID | None = None,
    type: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> LedgerPage:
    """A page of the tenant's ledgers matching every given filter, in ``num_id`` order.

    Keyset pagination on ``num_id`` (never OFFSET): a page is stable under concurrent opens,
    which only ever append larger ``num_id``\\ s. ``next_cursor`` is None on the last page.

    Raises:
        ValidationError: ``limit`` outside 1 .. 500, a ``type`` that is not a ledger type, or
            a cursor this function did not make (400).
    """
    size = page_limit(limit)
    if type is not None and type not in LEDGER_TYPES:
        raise ValidationError(
            f"type is one of {', '.join(LEDGER_TYPES)}", {"field": "type", "value": type}
        )
    after = _cursor_num_id(cursor)
    if num_id is not None and not 1 <= num_id <= NUM_ID_MAX:  # out of range: no ledger has it
        return LedgerPage(data=[], next_cursor=None)
    query = SqlFilter(tenant_id, after)
    query.where("tenant_id = $1 AND num_id > $2")
    query.equals("code", code)
    query.equals("num_id", num_id)
    query.equals("parent_id", parent_id)
    query.equals("type", type)
    sql = (
        f"SELECT {VIEW_COLUMNS} FROM ledgers WHERE {query.sql}"
        f" ORDER BY num_id LIMIT {query.bind(size + 1)}"
    )
    records = await conn.fetch(sql, *query.params)
    views = [view_of(r) for r in records[:size]]
    next_cursor = encode_cursor([views[-1].num_id]) if len(records) > size else None
    return LedgerPage(data=views, next_cursor=next_cursor)


def _cursor_num_id(cursor: str | None) -> int:
    key = decode_cursor(cursor)
    if key is None:
        return 0
    if (
        len(key) != 1
        or not isinstance(key[0], int)
        or isinstance(key[0], bool)
        or not 0 <= key[0] <= NUM_ID_MAX
    ):
        raise ValidationError("the cursor is not valid", {"field": "cursor"})
    return key[0]
