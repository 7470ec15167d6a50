"""Ledger (account) commands: open, update, close (docs/api.md §4).

Every rule is checked inside the group-commit batch, before any event exists, against rows
loaded once per batch:

- open: the tenant's ``ledger_num_id`` counter row (created if missing and locked, so
  ``num_id``\\ s are 1, 2, 3 … per tenant with no gap and no repeat, even across processes),
  the ledgers named by the batch's codes and parent refs (``FOR SHARE``), and the tenant's
  custom currencies;
- update / close: the ledger rows themselves (``FOR UPDATE``), whose ``version`` gives the
  next event's version.

Decisions record their effects in batch state, so later commands of the same batch
see them: two opens of one code → the second is ``DUPLICATE_CODE``; a child may name a parent
opened earlier in the batch; two updates of one ledger get consecutive versions; an open under
a parent closed earlier in the batch is refused. :func:`ledger_in_batch` exposes that state to
other handlers (journals) so they can see ledgers opened or changed earlier in their batch.

Choices made here (documented in docs/api.md §4 and the OpenAPI schema too):

- A tree deeper than ``limits.LEDGER_TREE_DEPTH_MAX`` (16; a root has depth 1) is 400
  ``VALIDATION_ERROR`` with ``details.field = "parent"``: it is an out-of-range value of the
  ``parent`` field, and the contract's 422 codes are all about other rules.
- A closed parent takes no new children: 422 ``LEDGER_CLOSED`` with ``details.field =
  "parent"``. Closing a ledger does not close its children, and a closed ledger can still be
  renamed or have its metadata and ``min_balance`` changed (they change no books).
- ``metadata`` in an update replaces the whole object (it is not merged key by key).
- An update that changes nothing appends no event; its result carries the ledger's current
  ``position``.
- A ledger's ``code`` is 1 to 128 printable characters without leading or trailing white
  space; ``name`` is 1 to 200 characters, not all white space.

Errors, in the order they are checked (the first that applies is raised):

- open: 400 ``VALIDATION_ERROR`` (code, name, type, normal_balance, currency type,
  min_balance range, min_balance without currency, metadata size) → 409 ``DUPLICATE_CODE``
  → parent: 422 ``LEDGER_NOT_FOUND`` / 422 ``LEDGER_CLOSED`` / 400 depth → 422
  ``CURRENCY_UNKNOWN``.
- update: 400 ``VALIDATION_ERROR`` (name, metadata, min_balance range) → 404 ``NOT_FOUND`` →
  400 ``VALIDATION_ERROR`` (min_balance on a ledger without currency).
- close: 404 ``NOT_FOUND`` → 422 ``INVALID_STATE`` (already closed).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from ledger import limits
from ledger.commands.currencies import CUSTOM_CURRENCIES_KEY, load_custom_currencies
from ledger.domain.currencies import ISO_PRECISION
from ledger.domain.ledgers import (
    LEDGER_TYPES,
    NUM_ID_COUNTER,
    Direction,
    Ledger,
    LedgerType,
    ancestors_under,
    check_code_free,
    check_ledger_currency,
    default_normal_balance,
)
from ledger.errors import (
    InvalidState,
    NotFound,
    ValidationError,
)
from ledger.queries.ledgers import (
    VIEW_COLUMNS,
    LedgerRef,
    LedgerRow,
    LedgerView,
    resolve_ledger_refs,
    view_of,
)
from ledger.store.group_commit import (
    Batch,
    BatchKey,
    CommandHandler,
    Committed,
    Decision,
    GroupCommitter,
)

NORMAL_BALANCES: Final = ("debit", "credit")

# Creates the counter row if the tenant has none yet and locks it either way (the no-op
# update takes the same row lock as SELECT … FOR UPDATE). A plain SELECT … FOR UPDATE would
# lock nothing for a tenant's first ledger, and two processes could both hand out num_id 1.
# Tenants are locked in a fixed (sorted) order: no deadlocks between batches.
_LOCK_COUNTERS: Final = (
    "INSERT INTO tenant_counters AS c (tenant_id, counter, value)"
    " SELECT t, $2, 0 FROM unnest($1::uuid[]) AS t ORDER BY t"
    " ON CONFLICT (tenant_id, counter) DO UPDATE SET value = c.value"
    " RETURNING tenant_id, value"
)
_LOCK_LEDGERS: Final = (
    f"SELECT {VIEW_COLUMNS} FROM ledgers WHERE ledger_id = ANY($1::uuid[])"
    " ORDER BY ledger_id FOR UPDATE"
)

_metadata_encoder = msgspec.json.Encoder()


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OpenLedger:
    """Open a ledger for ``tenant_id`` (an existing tenant: the API's authenticated one)."""

    tenant_id: UUID
    code: str
    name: str
    type: str
    parent: LedgerRef | None = None
    currency: str | None = None
    normal_balance: str | None = None  # None: the type's default
    min_balance: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    ledger_id: UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True, kw_only=True)
class UpdateLedger:
    """Change some of ``name``, ``metadata``, ``min_balance`` (UNSET: leave as is;
    ``min_balance=None`` removes the limit)."""

    tenant_id: UUID
    ledger_id: UUID
    name: str | UnsetType = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET
    min_balance: int | UnsetType | None = UNSET


@dataclass(frozen=True, kw_only=True)
class CloseLedger:
    tenant_id: UUID
    ledger_id: UUID


# --- shared batch state ---------------------------------------------------------------------


@dataclass
class _BatchLedgers:
    """Ledgers opened or changed by decisions earlier in this batch, by every ref."""

    rows: dict[tuple[UUID, LedgerRef], LedgerRow] = field(default_factory=dict)

    def remember(self, tenant_id: UUID, row: LedgerRow) -> None:
        for ref in row.refs():
            self.rows[(tenant_id, ref)] = row


@dataclass
class _OpenState:
    counters: dict[UUID, int] = field(default_factory=dict)  # last num_id handed out
    loaded: dict[tuple[UUID, LedgerRef], LedgerRow] = field(default_factory=dict)


# Batch state keys (module-level, so every handler instance of a batch shares the state).
_BATCH_LEDGERS: Final = BatchKey("ledger.commands.ledgers.batch-ledgers", _BatchLedgers)
_OPEN_STATE: Final = BatchKey("ledger.commands.ledgers.open", _OpenState)
_CHANGE_STATE: Final[BatchKey[dict[UUID, LedgerView]]] = BatchKey(
    "ledger.commands.ledgers.change", dict
)


def _batch_ledgers(batch: Batch) -> _BatchLedgers:
    return batch.state(_BATCH_LEDGERS)


def ledger_in_batch(batch: Batch, tenant_id: UUID, ref: LedgerRef) -> LedgerRow | None:
    """The ledger ``ref`` names as opened or changed (updated, closed) by a decision earlier
    in this batch, or None if no decision of the batch touched it.

    For other handlers: a ledger row loaded in ``load`` may be stale by the time a command is
    decided; ``ledger_in_batch(batch, tenant, ref) or loaded_row`` is the current one.
    """
    return _batch_ledgers(batch).rows.get((tenant_id, ref))


# --- validation (pure) ----------------------------------------------------------------------


def _check_code(code: object) -> None:
    if (
        not isinstance(code, str)
        or not 1 <= len(code) <= limits.LEDGER_CODE_LENGTH_MAX
        or not code.isprintable()
        or code != code.strip()
    ):
        raise ValidationError(
            f"a ledger code is 1 to {limits.LEDGER_CODE_LENGTH_MAX} printable characters"
            " without leading or trailing white space",
            {"field": "code"},
        )


def _check_name(name: object) -> None:
    if (
        not isinstance(name, str)
        or not 1 <= len(name) <= limits.LEDGER_NAME_LENGTH_MAX
        or not name.strip()
    ):
        raise ValidationError(
            f"a ledger name is 1 to {limits.LEDGER_NAME_LENGTH_MAX} characters,"
            " not all white space",
            {"field": "name"},
        )


def _check_min_balance(min_balance: object) -> None:
    if min_balance is None:
        return
    if (
        not isinstance(min_balance, int)
        or isinstance(min_balance, bool)
        or not limits.BALANCE_MINOR_MIN <= min_balance <= limits.AMOUNT_MINOR_MAX
    ):
        raise ValidationError(
            "min_balance is a signed 64-bit integer in minor units",
            {
                "field": "min_balance",
                "value": min_balance if isinstance(min_balance, int) else None,
            },
        )


def _check_metadata(metadata: object) -> None:
    if not isinstance(metadata, dict):
        raise ValidationError("metadata is a JSON object", {"field": "metadata"})
    try:
        size = len(_metadata_encoder.encode(metadata))
    except (TypeError, ValueError, OverflowError):
        raise ValidationError("metadata is not encodable as JSON", {"field": "metadata"}) from None
    if size > limits.LEDGER_METADATA_BYTES_MAX:
        raise ValidationError(
            f"metadata is at most {limits.LEDGER_METADATA_BYTES_MAX} bytes of JSON",
            {"field": "metadata", "bytes": size},
        )


def _validate_open(command: OpenLedger) -> None:
    _check_code(command.code)
    _check_name(command.name)
    if command.type not in LEDGER_TYPES:
        raise ValidationError(
            f"type is one of {', '.join(LEDGER_TYPES)}", {"field": "type", "value": command.type}
        )
    if command.normal_balance is not None and command.normal_balance not in NORMAL_BALANCES:
        raise ValidationError(
            "normal_balance is debit or credit",
            {"field": "normal_balance", "value": command.normal_balance},
        )
    if command.currency is not None and not isinstance(command.currency, str):
        raise ValidationError("currency is a currency code", {"field": "currency"})
    _check_min_balance(command.min_balance)
    if command.min_balance is not None and command.currency is None:
        raise ValidationError(
            "min_balance requires the ledger to have a currency", {"field": "min_balance"}
        )
    _check_metadata(command.metadata)
    assert command.parent is None or isinstance(command.parent, LedgerRef)


def _validate_update(command: UpdateLedger) -> None:
    if command.name is not UNSET:
        _check_name(command.name)
    if command.metadata is not UNSET:
        _check_metadata(command.metadata)
    if command.min_balance is not UNSET:
        _check_min_balance(command.min_balance)


# --- handlers -------------------------------------------------------------------------------


class OpenLedgerHandler(CommandHandler[OpenLedger, LedgerView]):
    """Opens a ledger (one ``Ledger.LedgerOpened`` event) with the tenant's next ``num_id``.

    The result is the new ledger; its ``position`` is 0 until the commit gives the real one
    (:meth:`LedgerCommands.open_ledger` fills it in).

    Raises:
        ValidationError: a bad code, name, type, normal_balance, min_balance or metadata;
            min_balance without currency; or a parent at the maximum depth (400).
        DuplicateCode: the tenant has a ledger with this code (409).
        LedgerNotFound: the parent ref names no ledger of the tenant (422, field "parent").
        LedgerClosed: the parent is closed (422, field "parent").
        CurrencyUnknown: the currency is neither ISO 4217 nor a custom one of the tenant (422).
    """

    async def load(self, batch: Batch, commands: Sequence[OpenLedger]) -> None:
        state = batch.state(_OPEN_STATE)
        tenants = sorted({c.tenant_id for c in commands})
        for record in await batch.conn.fetch(_LOCK_COUNTERS, tenants, NUM_ID_COUNTER):
            state.counters.setdefault(record["tenant_id"], record["value"])
        for tenant_id in tenants:
            group = [c for c in commands if c.tenant_id == tenant_id]
            # A malformed command (decide refuses it) must not break the batch's load.
            refs = {LedgerRef.by_code(c.code) for c in group if isinstance(c.code, str)}
            refs |= {c.parent for c in group if isinstance(c.parent, LedgerRef)}
            found = await resolve_ledger_refs(batch.conn, tenant_id, refs, lock=True)
            for ref, row in found.items():
                state.loaded.setdefault((tenant_id, ref), row)
        await load_custom_currencies(
            batch,
            (
                (c.tenant_id, c.currency)
                for c in commands
                if isinstance(c.currency, str) and c.currency not in ISO_PRECISION
            ),
        )

    def decide(self, batch: Batch, command: OpenLedger) -> Decision[LedgerView]:
        _validate_open(command)
        state = batch.state(_OPEN_STATE)
        tenant_id = command.tenant_id

        def lookup(ref: LedgerRef) -> LedgerRow | None:
            return ledger_in_batch(batch, tenant_id, ref) or state.loaded.get((tenant_id, ref))

        existing = lookup(LedgerRef.by_code(command.code))
        check_code_free(command.code, existing.ledger_id if existing is not None else None)
        ancestor_ids: tuple[UUID, ...] = ()
        if command.parent is not None:
            ancestor_ids = ancestors_under(command.parent, lookup(command.parent))
        currency = command.currency
        custom = batch.state(CUSTOM_CURRENCIES_KEY)
        check_ledger_currency(currency, custom_known=(tenant_id, currency) in custom)
        assert tenant_id in state.counters, "load() locks the tenant's counter row first"
        num_id = state.counters[tenant_id] + 1
        # One of LEDGER_TYPES and of NORMAL_BALANCES (or None): checked by _validate_open.
        ledger_type = cast(LedgerType, command.type)
        normal_balance = cast(Direction | None, command.normal_balance) or default_normal_balance(
            ledger_type
        )
        events = Ledger.open(
            ledger_id=command.ledger_id,
            tenant_id=tenant_id,
            num_id=num_id,
            code=command.code,
            name=command.name,
            type=ledger_type,
            normal_balance=normal_balance,
            parent_id=ancestor_ids[-1] if ancestor_ids else None,
            currency=currency,
            min_balance=command.min_balance,
            metadata=command.metadata,
        ).collect_events()
        opened = events[0]
        assert isinstance(opened, Ledger.LedgerOpened)
        view = _opened_view(opened, ancestor_ids)
        assert view.depth <= limits.LEDGER_TREE_DEPTH_MAX
        # Effects last: a command that raised above left the state as it found it.
        state.counters[tenant_id] = num_id
        _batch_ledgers(batch).remember(tenant_id, view.row())
        return Decision(events=events, result=view, tenant_id=tenant_id)


def _opened_view(opened: Ledger.LedgerOpened, ancestor_ids: tuple[UUID, ...]) -> LedgerView:
    """The new ledger as the API answers it (``position`` 0 until the commit gives it)."""
    return LedgerView(
        ledger_id=opened.originator_id,
        tenant_id=opened.tenant_id,
        num_id=opened.num_id,
        code=opened.code,
        name=opened.name,
        type=opened.type,
        normal_balance=opened.normal_balance,
        parent_id=opened.parent_id,
        currency=opened.currency,
        min_balance=opened.min_balance,
        status="open",
        metadata=opened.metadata,
        created_at=opened.timestamp,
        updated_at=opened.timestamp,
        position=0,
        version=opened.originator_version,
        ancestor_ids=(*ancestor_ids, opened.originator_id),
    )


async def _load_for_change(batch: Batch, ledger_ids: Sequence[UUID]) -> None:
    state = batch.state(_CHANGE_STATE)
    wanted = sorted({i for i in ledger_ids if i not in state})
    if not wanted:
        return
    for record in await batch.conn.fetch(_LOCK_LEDGERS, wanted):
        state.setdefault(record["ledger_id"], view_of(record))


def _owned(batch: Batch, tenant_id: UUID, ledger_id: UUID) -> LedgerView:
    state = batch.state(_CHANGE_STATE)
    view = state.get(ledger_id)
    if view is None or view.tenant_id != tenant_id:
        raise NotFound(f"no ledger has the id {ledger_id}", {"ledger_id": str(ledger_id)})
    return view


def _changed(batch: Batch, view: LedgerView) -> None:
    state = batch.state(_CHANGE_STATE)
    state[view.ledger_id] = view
    _batch_ledgers(batch).remember(view.tenant_id, view.row())


class UpdateLedgerHandler(CommandHandler[UpdateLedger, LedgerView]):
    """Changes a ledger's name, metadata and/or min_balance (one ``Ledger.LedgerUpdated`` at
    the ledger's next version; none if nothing is to change). The result is the ledger as
    changed (``position`` is filled in by :meth:`LedgerCommands.update_ledger`).

    Raises:
        ValidationError: a bad name, metadata or min_balance, or a min_balance for a ledger
            without currency (400).
        NotFound: no ledger of the tenant has this id (404).
    """

    async def load(self, batch: Batch, commands: Sequence[UpdateLedger]) -> None:
        await _load_for_change(batch, [c.ledger_id for c in commands])

    def decide(self, batch: Batch, command: UpdateLedger) -> Decision[LedgerView]:
        _validate_update(command)
        view = _owned(batch, command.tenant_id, command.ledger_id)
        if (
            command.min_balance is not UNSET
            and command.min_balance is not None
            and view.currency is None
        ):
            raise ValidationError(
                "min_balance requires the ledger to have a currency", {"field": "min_balance"}
            )
        if command.name is UNSET and command.metadata is UNSET and command.min_balance is UNSET:
            return Decision(events=[], result=view, tenant_id=command.tenant_id)
        event = Ledger.LedgerUpdated(
            originator_id=view.ledger_id,
            originator_version=view.version + 1,
            timestamp=Ledger.LedgerUpdated.create_timestamp(),
            tenant_id=view.tenant_id,
            name=None if command.name is UNSET else command.name,
            metadata=None if command.metadata is UNSET else command.metadata,
            min_balance_set=command.min_balance is not UNSET,
            min_balance=None if command.min_balance is UNSET else command.min_balance,
        )
        changed = dataclasses.replace(
            view,
            name=view.name if command.name is UNSET else command.name,
            metadata=view.metadata if command.metadata is UNSET else command.metadata,
            min_balance=view.min_balance if command.min_balance is UNSET else command.min_balance,
            version=event.originator_version,
            updated_at=event.timestamp,
        )
        _changed(batch, changed)
        return Decision(events=[event], result=changed, tenant_id=view.tenant_id)


class CloseLedgerHandler(CommandHandler[CloseLedger, LedgerView]):
    """Closes a ledger (one ``Ledger.LedgerClosed`` at its next version): later postings to it
    are 422 ``LEDGER_CLOSED`` and it takes no new children. Its children stay as they are.

    Raises:
        NotFound: no ledger of the tenant has this id (404).
        InvalidState: the ledger is closed already (422).
    """

    async def load(self, batch: Batch, commands: Sequence[CloseLedger]) -> None:
        await _load_for_change(batch, [c.ledger_id for c in commands])

    def decide(self, batch: Batch, command: CloseLedger) -> Decision[LedgerView]:
        view = _owned(batch, command.tenant_id, command.ledger_id)
        if view.status != "open":
            raise InvalidState(
                f"the ledger {view.code!r} is closed already",
                {"ledger_id": str(view.ledger_id), "status": view.status},
            )
        event = Ledger.LedgerClosed(
            originator_id=view.ledger_id,
            originator_version=view.version + 1,
            timestamp=Ledger.LedgerClosed.create_timestamp(),
            tenant_id=view.tenant_id,
        )
        changed = dataclasses.replace(
            view, status="closed", version=event.originator_version, updated_at=event.timestamp
        )
        _changed(batch, changed)
        return Decision(events=[event], result=changed, tenant_id=view.tenant_id)


# --- facade ---------------------------------------------------------------------------------


def _with_position(committed: Committed[LedgerView]) -> LedgerView:
    view = committed.result
    position = committed.position
    return view if position is None else dataclasses.replace(view, position=position)


class LedgerCommands:
    """The ledger use cases, bound to one group committer.

    Each returns the ledger as it is after the command, with ``position`` the position of
    the event the command appended (for an update that changed nothing: the ledger's own).
    """

    def __init__(self, committer: GroupCommitter) -> None:
        self._committer = committer
        self.open_handler = OpenLedgerHandler()
        self.update_handler = UpdateLedgerHandler()
        self.close_handler = CloseLedgerHandler()

    async def open_ledger(
        self,
        tenant_id: UUID,
        *,
        code: str,
        name: str,
        type: str,  # the contract's field name (shadows the builtin on purpose)
        parent: LedgerRef | None = None,
        currency: str | None = None,
        normal_balance: str | None = None,
        min_balance: int | None = None,
        metadata: dict[str, Any] | None = None,
        ledger_id: UUID | None = None,
    ) -> LedgerView:
        """Open a ledger; see :class:`OpenLedgerHandler` for the rules.

        Raises:
            ValidationError: 400, see :class:`OpenLedgerHandler`.
            DuplicateCode: the code is taken (409).
            LedgerNotFound, LedgerClosed: the parent is missing or closed (422).
            CurrencyUnknown: an unknown currency (422).
            ConcurrencyConflict: ``ledger_id`` was given and exists already (409).
        """
        command = OpenLedger(
            tenant_id=tenant_id,
            code=code,
            name=name,
            type=type,
            parent=parent,
            currency=currency,
            normal_balance=normal_balance,
            min_balance=min_balance,
            metadata={} if metadata is None else metadata,
            ledger_id=uuid.uuid4() if ledger_id is None else ledger_id,
        )
        return _with_position(await self._committer.submit(self.open_handler, command))

    async def update_ledger(
        self,
        tenant_id: UUID,
        ledger_id: UUID,
        *,
        name: str | UnsetType = UNSET,
        metadata: dict[str, Any] | UnsetType = UNSET,
        min_balance: int | UnsetType | None = UNSET,
    ) -> LedgerView:
        """Change the given fields (``min_balance=None`` removes the limit).

        Raises:
            ValidationError: a bad value, or min_balance on a ledger without currency (400).
            NotFound: no ledger of the tenant has this id (404).
        """
        command = UpdateLedger(
            tenant_id=tenant_id,
            ledger_id=ledger_id,
            name=name,
            metadata=metadata,
            min_balance=min_balance,
        )
        return _with_position(await self._committer.submit(self.update_handler, command))

    async def close_ledger(self, tenant_id: UUID, ledger_id: UUID) -> LedgerView:
        """Close the ledger.

        Raises:
            NotFound: no ledger of the tenant has this id (404).
            InvalidState: the ledger is closed already (422).
        """
        command = CloseLedger(tenant_id=tenant_id, ledger_id=ledger_id)
        return _with_position(await self._committer.submit(self.close_handler, command))
