"""Custom currency and FX rate commands (docs/api.md §3).

Both handlers decide inside the group-commit batch. They share one piece of batch
state, the tenant custom currencies known so far (loaded from ``currencies`` and extended by
each accepted add), so a rate set after an add of the same batch sees the new currency.

Rules, checked before any event exists:

- add: code ``^[A-Z][A-Z0-9]{2,9}$`` and precision 0..18, else 400 ``VALIDATION_ERROR``;
  an ISO 4217 code (any on the list, also XAU, XTS …) or a custom code the tenant has already
  → 409 ``DUPLICATE_CODE``.
- set rate: well-formed codes, base ≠ quote, a finite rate > 0 of at most 40 significant
  digits, else 400 ``VALIDATION_ERROR``; base and quote must be known to the tenant (an ISO
  currency with a minor unit, or one of its custom ones), else 422 ``CURRENCY_UNKNOWN``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final
from uuid import UUID

from ledger import limits
from ledger.domain.currencies import (
    ISO_PRECISION,
    PRECISION_MAX,
    is_reserved_code,
    is_valid_custom_code,
    is_valid_precision,
)
from ledger.domain.fx import (
    RATE_SIGNIFICANT_DIGITS_MAX,
    CustomCurrency,
    FxPair,
    fx_pair_id,
    is_valid_rate,
)
from ledger.errors import ConcurrencyConflict, CurrencyUnknown, DuplicateCode, ValidationError
from ledger.store.group_commit import (
    Batch,
    BatchKey,
    CommandHandler,
    Committed,
    Decision,
    GroupCommitter,
)

# Batch state keys (module-level, so every handler instance of a batch shares the state):
# {(tenant_id, code): precision} of the custom currencies known so far, and
# {pair_id: version} of the FX pairs loaded (locked) and extended so far.
CUSTOM_CURRENCIES_KEY: Final[BatchKey[dict[tuple[UUID, str], int]]] = BatchKey(
    "ledger.commands.currencies.custom-known", dict
)
_PAIR_VERSIONS: Final[BatchKey[dict[UUID, int]]] = BatchKey(
    "ledger.commands.currencies.pair-versions", dict
)

# A rate set that loses a version race is decided again, at most this many times in all.
SET_RATE_ATTEMPTS: Final = limits.SET_RATE_ATTEMPTS

_SELECT_CUSTOM = (
    "SELECT c.tenant_id, c.code, c.precision FROM currencies c"
    " JOIN unnest($1::uuid[], $2::text[]) AS k(tenant_id, code)"
    " ON c.tenant_id = k.tenant_id AND c.code = k.code"
)
_LOCK_PAIRS = (
    "SELECT pair_id, version FROM fx_pairs WHERE pair_id = ANY($1::uuid[])"
    " ORDER BY pair_id FOR UPDATE"
)


@dataclass(frozen=True, kw_only=True)
class AddCurrency:
    tenant_id: UUID
    code: str
    precision: int


@dataclass(frozen=True, kw_only=True)
class SetFxRate:
    """1 ``base`` = ``rate`` ``quote`` from ``date`` on."""

    tenant_id: UUID
    base: str
    quote: str
    rate: Decimal
    date: dt.date


@dataclass(frozen=True, kw_only=True)
class AddedCurrency:
    """A custom currency as added, with the position of its ``CurrencyAdded`` event."""

    code: str
    precision: int
    position: int
    custom: bool = True


@dataclass(frozen=True, kw_only=True)
class StoredFxRate:
    """A rate as stored: the pair's new ``version`` and the position of its ``FxRateSet``."""

    base: str
    quote: str
    date: dt.date
    rate: Decimal
    version: int
    position: int


async def load_custom_currencies(batch: Batch, keys: Iterable[tuple[UUID, str]]) -> None:
    """Add the existing custom currencies among ``keys`` to the shared batch state."""
    known = batch.state(CUSTOM_CURRENCIES_KEY)
    wanted = sorted({k for k in keys if k not in known and is_valid_custom_code(k[1])})
    if not wanted:
        return
    rows = await batch.conn.fetch(_SELECT_CUSTOM, [k[0] for k in wanted], [k[1] for k in wanted])
    for row in rows:
        known[(row["tenant_id"], row["code"])] = row["precision"]


class AddCurrencyHandler(CommandHandler[AddCurrency, None]):
    """Adds a tenant custom currency (emits ``CustomCurrency.CurrencyAdded``).

    Raises:
        ValidationError: the code does not match ``^[A-Z][A-Z0-9]{2,9}$`` or the precision is
            not an integer in 0..18 (``details.field`` names which).
        DuplicateCode: the code is an ISO 4217 code or one of the tenant's custom codes (409).
    """

    async def load(self, batch: Batch, commands: Sequence[AddCurrency]) -> None:
        await load_custom_currencies(batch, ((c.tenant_id, c.code) for c in commands))

    def decide(self, batch: Batch, command: AddCurrency) -> Decision[None]:
        if not isinstance(command.code, str) or not is_valid_custom_code(command.code):
            raise ValidationError(
                "a currency code is 3 to 10 capital letters and digits, starting with a letter",
                {"field": "code", "value": command.code},
            )
        if not isinstance(command.precision, int) or not is_valid_precision(command.precision):
            raise ValidationError(
                f"a currency precision is an integer from 0 to {PRECISION_MAX}",
                {"field": "precision", "value": command.precision},
            )
        if is_reserved_code(command.code):
            raise DuplicateCode(
                f"{command.code} is an ISO 4217 currency code", {"code": command.code}
            )
        known = batch.state(CUSTOM_CURRENCIES_KEY)
        key = (command.tenant_id, command.code)
        if key in known:
            raise DuplicateCode(
                f"the currency {command.code} exists already", {"code": command.code}
            )
        currency = CustomCurrency.add(
            tenant_id=command.tenant_id, code=command.code, precision=command.precision
        )
        known[key] = command.precision
        return Decision(events=currency.collect_events(), result=None, tenant_id=command.tenant_id)


class SetFxRateHandler(CommandHandler[SetFxRate, int]):
    """Sets the (base, quote) rate from a date on (emits ``FxPair.FxRateSet`` at the pair's
    next version; the result is that version). Setting a date again replaces its rate.

    Raises:
        ValidationError: a malformed code, base equal to quote, or a rate that is not finite,
            not > 0 or has more than 40 significant digits (``details.field`` names which).
        CurrencyUnknown: base or quote is neither an ISO currency nor a tenant custom one (422).
    """

    async def load(self, batch: Batch, commands: Sequence[SetFxRate]) -> None:
        await load_custom_currencies(
            batch,
            (
                (c.tenant_id, code)
                for c in commands
                for code in (c.base, c.quote)
                if code not in ISO_PRECISION
            ),
        )
        pair_ids = sorted({fx_pair_id(c.tenant_id, c.base, c.quote) for c in commands})
        rows = await batch.conn.fetch(_LOCK_PAIRS, pair_ids)
        versions = batch.state(_PAIR_VERSIONS)
        versions.update({r["pair_id"]: r["version"] for r in rows})

    def decide(self, batch: Batch, command: SetFxRate) -> Decision[int]:
        for name in ("base", "quote"):
            code = getattr(command, name)
            if not isinstance(code, str) or not is_valid_custom_code(code):
                raise ValidationError(
                    f"{name} is not a currency code", {"field": name, "value": code}
                )
        if command.base == command.quote:
            raise ValidationError(
                "base and quote must be different currencies",
                {"field": "quote", "value": command.quote},
            )
        if not isinstance(command.rate, Decimal) or not is_valid_rate(command.rate):
            raise ValidationError(
                "a rate is a decimal greater than zero with at most "
                f"{RATE_SIGNIFICANT_DIGITS_MAX} significant digits",
                {"field": "rate", "value": str(command.rate)},
            )
        known = batch.state(CUSTOM_CURRENCIES_KEY)
        for name in ("base", "quote"):
            code = getattr(command, name)
            if code not in ISO_PRECISION and (command.tenant_id, code) not in known:
                raise CurrencyUnknown(
                    f"the currency {code} is not known", {"field": name, "currency": code}
                )
        versions = batch.state(_PAIR_VERSIONS)
        pair_id = fx_pair_id(command.tenant_id, command.base, command.quote)
        version = versions.get(pair_id, 0) + 1
        event = FxPair.rate_set(
            tenant_id=command.tenant_id,
            base=command.base,
            quote=command.quote,
            date=command.date,
            rate=command.rate,
            version=version,
        )
        versions[pair_id] = version
        return Decision(events=[event], result=version, tenant_id=command.tenant_id)


class CurrencyCommands:
    """The currency and FX rate use cases, bound to one group committer."""

    def __init__(self, committer: GroupCommitter) -> None:
        self._committer = committer
        self.add_handler = AddCurrencyHandler()
        self.set_rate_handler = SetFxRateHandler()

    async def add_currency(self, tenant_id: UUID, code: str, precision: int) -> AddedCurrency:
        """Add a custom currency to the tenant.

        Raises:
            ValidationError: bad code or precision (400).
            DuplicateCode: an ISO code, or the tenant has the code already (409). Also when
                another process added the same code a moment earlier: the event store refused
                version 1 of the currency's aggregate, which exists only if the code does.
        """
        command = AddCurrency(tenant_id=tenant_id, code=code, precision=precision)
        try:
            committed: Committed[None] = await self._committer.submit(self.add_handler, command)
        except ConcurrencyConflict:
            raise DuplicateCode(f"the currency {code} exists already", {"code": code}) from None
        assert committed.position is not None
        return AddedCurrency(code=code, precision=precision, position=committed.position)

    async def set_fx_rate(
        self, tenant_id: UUID, base: str, quote: str, rate: Decimal, date: dt.date
    ) -> StoredFxRate:
        """Set 1 ``base`` = ``rate`` ``quote`` from ``date`` on (replacing that date's rate).

        Raises:
            ValidationError: malformed code, base = quote, or an invalid rate (400).
            CurrencyUnknown: base or quote is not a currency of the tenant (422).
            ConcurrencyConflict: the pair's version was taken by another writer
                :data:`SET_RATE_ATTEMPTS` times in a row (two processes setting a pair's first
                rate at once conflict once; the retry then finds and locks the pair's row).
        """
        command = SetFxRate(tenant_id=tenant_id, base=base, quote=quote, rate=rate, date=date)
        for attempt in range(1, SET_RATE_ATTEMPTS + 1):
            try:
                committed: Committed[int] = await self._committer.submit(
                    self.set_rate_handler, command
                )
                break
            except ConcurrencyConflict:
                # Nothing was written: deciding again against the new state is safe.
                if attempt == SET_RATE_ATTEMPTS:
                    raise
        assert committed.position is not None
        return StoredFxRate(
            base=base,
            quote=quote,
            date=date,
            rate=rate,
            version=committed.result,
            position=committed.position,
        )
