"""The rules of posting a journal, as pure functions over values a handler has loaded.

``PostJournalHandler`` (``ledger.commands.journals``) loads what a batch needs, then calls
these in the order of the validation precedence its module docstring lists; each function
raises the error of its step, with the message and details the API contract fixes. None of
them does I/O, reads a clock or keeps state, so each is tested without a database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol, TypeVar
from uuid import UUID

import msgspec

from ledger import limits
from ledger.domain.balances import check_total
from ledger.domain.idempotency import replay_or_conflict
from ledger.domain.journals import JournalWarning, PendingAction, StoredJournalStatus
from ledger.domain.ledgers import Direction
from ledger.domain.money import assign_residue, convert_exact, round_minor
from ledger.errors import (
    AlreadyReversed,
    CurrencyMismatch,
    CurrencyUnknown,
    FxRateNotFound,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidState,
    JournalUnbalanced,
    LedgerClosed,
    LedgerNotFound,
    NotFound,
    PossibleDuplicate,
    ValidationError,
)


class PostingEntry(Protocol):
    """What the rules read of an entry of a journal to post."""

    @property
    def direction(self) -> str: ...  # "debit" | "credit"
    @property
    def amount(self) -> int: ...
    @property
    def currency(self) -> str | None: ...
    # Set on reversals: the original's base amount, used as it is instead of converting.
    @property
    def amount_base(self) -> int | None: ...


class PostingLedger(Protocol):
    """What the rules read of a ledger an entry posts to."""

    @property
    def ledger_id(self) -> UUID: ...
    @property
    def code(self) -> str: ...
    @property
    def status(self) -> str: ...  # "open" | "closed"
    @property
    def currency(self) -> str | None: ...


class LedgerName(Protocol):
    """How an entry names its ledger; only read to report a ledger that does not exist."""

    def as_json(self) -> dict[str, Any]: ...


LedgerT = TypeVar("LedgerT", bound=PostingLedger)

# A rate as loaded for a tenant: (from, to, effective date of the journal) -> rate.
RateKey = tuple[str, str, dt.date]


def entry_currency(entry: PostingEntry, journal_currency: str | None, base_currency: str) -> str:
    """An entry's currency: its own, else the journal's, else the tenant's base currency."""
    return entry.currency or journal_currency or base_currency


def rates_wanted(
    entries: Sequence[PostingEntry],
    journal_currency: str | None,
    base_currency: str,
    effective_date: dt.date,
    reporting_currency: str | None = None,
) -> set[RateKey]:
    """The rates pricing a journal's entries needs (:func:`resolve_rates`): one for each
    entry currency other than the base, on the effective date, and, with a reporting
    currency, one for each entry currency other than it."""
    currencies = {entry_currency(e, journal_currency, base_currency) for e in entries}
    targets = [base_currency] if reporting_currency is None else [base_currency, reporting_currency]
    return {
        (code, target, effective_date)
        for target in targets
        for code in currencies
        if code != target
    }


def replay_of(
    seen: tuple[UUID, bytes] | None, request_sha256: bytes, external_id: str
) -> UUID | None:
    """Step 1, idempotency (:func:`ledger.domain.idempotency.replay_or_conflict`): the
    journal to answer again for a retry of ``external_id``, or None when the key is new.

    ``seen`` is the (journal id, request fingerprint) the key was first used with.

    Raises:
        IdempotencyConflict: the key was used with a different request.
    """
    return replay_or_conflict(
        seen,
        request_sha256,
        lambda journal_id: IdempotencyConflict(
            "this idempotency key was used with a different request",
            {"journal_id": str(journal_id), "external_id": external_id},
        ),
    )


def check_currencies_known(
    journal_currency: str,
    currencies: Sequence[str],
    precisions: Mapping[str, int],
    reporting_currency: str | None = None,
) -> None:
    """Step 2: the journal's currency, then each entry's (in order), then the reporting
    currency, is a known currency.

    Raises:
        CurrencyUnknown: the first code without a precision.
    """
    if journal_currency not in precisions:
        raise CurrencyUnknown(
            f"unknown currency {journal_currency!r}", {"currency": journal_currency}
        )
    for index, code in enumerate(currencies):
        if code not in precisions:
            raise CurrencyUnknown(
                f"unknown currency {code!r}", {"currency": code, "entry_index": index}
            )
    if reporting_currency is not None and reporting_currency not in precisions:
        raise CurrencyUnknown(
            f"unknown currency {reporting_currency!r}",
            {"currency": reporting_currency, "field": "reporting_currency"},
        )


def check_balanced(entries: Sequence[PostingEntry], currencies: Sequence[str]) -> None:
    """Step 3: in every currency (checked in code order) the debits and the credits totals
    are int64 (``limits.TOTAL_MINOR_MAX``), then equal.

    Raises:
        AmountOverflow: the first currency, in code order, with a side total out of range.
        JournalUnbalanced: the first currency, in code order, whose sides differ.
    """
    sums: dict[str, list[int]] = {}
    for entry, code in zip(entries, currencies, strict=True):
        pair = sums.setdefault(code, [0, 0])
        pair[0 if entry.direction == "debit" else 1] += entry.amount
    for code in sorted(sums):
        debits, credits = sums[code]
        for side, total in (("debit", debits), ("credit", credits)):
            check_total(total, f"the journal's {side}s in {code}", {"currency": code, "side": side})
        if debits != credits:
            raise JournalUnbalanced(
                f"debits and credits in {code} differ",
                {"currency": code, "debits": debits, "credits": credits},
            )


def resolve_rates(
    currencies: Sequence[str],
    base: str,
    fixed: Mapping[str, Decimal] | None,
    loaded: Mapping[RateKey, Decimal],
    effective_date: dt.date,
) -> dict[str, Decimal]:
    """Step 4: the rate to the base currency of every entry currency other than the base.

    ``fixed`` rates (a reversal's) win; the others come from the ``loaded`` rates of the
    effective date. The result also holds every fixed rate, used or not.

    Raises:
        FxRateNotFound: the first entry (in order) whose currency has no rate.
    """
    rates: dict[str, Decimal] = dict(fixed or {})
    for index, code in enumerate(currencies):
        if code == base or code in rates:
            continue
        rate = loaded.get((code, base, effective_date))
        if rate is None:
            raise FxRateNotFound(
                f"no {code}->{base} rate on or before {effective_date}",
                {
                    "base": code,
                    "quote": base,
                    "date": effective_date.isoformat(),
                    "entry_index": index,
                },
            )
        rates[code] = rate
    return rates


def base_amounts(
    entries: Sequence[PostingEntry],
    currencies: Sequence[str],
    rates: Mapping[str, Decimal],
    precisions: Mapping[str, int],
    base: str,
) -> list[int]:
    """Each entry's amount in the base currency, the sides adding up to the same total.

    Each amount is converted exactly and rounded half to even (a given ``amount_base`` is
    taken as it is); the rounding residue then goes to each side's largest amount
    (:func:`ledger.domain.money.assign_residue`), so the journal balances in the base
    currency too. ``rates`` holds a rate for every currency but the base.

    Raises:
        ValidationError: a converted amount exceeds ``limits.AMOUNT_MINOR_MAX``.
    """
    return converted_amounts(
        entries,
        currencies,
        [e.amount_base for e in entries],
        Target(base, rates, "base"),
        precisions,
    )


@dataclass(frozen=True, slots=True)
class Target:
    """A currency a journal's entries are converted to: the base, or the reporting one."""

    currency: str
    rates: Mapping[str, Decimal]  # entry currency -> rate to ``currency`` (all but it)
    name: Literal["base", "reporting"]


def converted_amounts(
    entries: Sequence[PostingEntry],
    currencies: Sequence[str],
    given: Sequence[int | None],
    target: Target,
    precisions: Mapping[str, int],
) -> list[int]:
    """Each entry's amount in ``target``'s currency, the sides adding up to the same total
    (:func:`base_amounts` states the rule; ``given[i]``, a reversal's, is taken as it is).

    Raises:
        ValidationError: a converted amount exceeds ``limits.AMOUNT_MINOR_MAX``.
        AmountOverflow: a side's total in ``target``'s currency exceeds
            ``limits.TOTAL_MINOR_MAX`` (debits checked first).
    """
    amounts: list[int] = []
    exact_debits = Decimal(0)
    for entry, code, fixed in zip(entries, currencies, given, strict=True):
        if fixed is not None:
            exact = Decimal(fixed)
        elif code == target.currency:
            exact = Decimal(entry.amount)
        else:
            exact = convert_exact(
                entry.amount, target.rates[code], precisions[code], precisions[target.currency]
            )
        amount = round_minor(exact)
        if amount > limits.AMOUNT_MINOR_MAX:
            raise ValidationError(
                f"the amount converted to the {target.name} currency exceeds the largest amount",
                {
                    "field": f"$.entries[{len(amounts)}].amount",
                    f"amount_{target.name}": str(amount),
                },
            )
        amounts.append(amount)
        if entry.direction == "debit":
            exact_debits += exact
    debit_idx = [i for i, e in enumerate(entries) if e.direction == "debit"]
    credit_idx = [i for i, e in enumerate(entries) if e.direction == "credit"]
    debits, credits = assign_residue(
        [amounts[i] for i in debit_idx], [amounts[i] for i in credit_idx], round_minor(exact_debits)
    )
    for i, value in zip(debit_idx, debits, strict=True):
        amounts[i] = value
    for i, value in zip(credit_idx, credits, strict=True):
        amounts[i] = value
    for side, total in (("debit", sum(debits)), ("credit", sum(credits))):
        check_total(
            total,
            f"the journal's {side}s in the {target.name} currency {target.currency}",
            {"currency": target.currency, "side": side, "field": f"{target.name}_currency"},
        )
    return amounts


@dataclass(frozen=True, slots=True)
class Reporting:
    """What a journal with a reporting currency asks of pricing."""

    currency: str
    fixed_rates: Mapping[str, Decimal] | None = None  # a reversal's: the original's rates
    given: Sequence[int | None] | None = None  # a reversal's: the original's amounts


@dataclass(frozen=True, slots=True)
class Pricing:
    """Steps 2 to 4 passed: what the journal's entries are worth in the base currency (and
    in its reporting currency, when it has one)."""

    currencies: list[str]  # each entry's currency, in entry order
    rates: dict[str, Decimal]  # the rates used (fixed ones included), by currency
    bases: list[int]  # each entry's base amount, in entry order
    # The reporting currency's rates (like ``rates``) and each entry's amount in it; empty
    # without a reporting currency.
    reporting_rates: dict[str, Decimal] = field(default_factory=dict)
    reportings: list[int] = field(default_factory=list)

    def rates_used(self) -> dict[str, Decimal]:
        """The rates of the currencies the entries are in (what the journal records)."""
        return {code: rate for code, rate in self.rates.items() if code in self.currencies}

    def reporting_rates_used(self) -> dict[str, Decimal]:
        """Like :meth:`rates_used`, to the reporting currency."""
        return {
            code: rate for code, rate in self.reporting_rates.items() if code in self.currencies
        }


def price_entries(
    entries: Sequence[PostingEntry],
    *,
    journal_currency: str,
    base: str,
    precisions: Mapping[str, int],
    fixed_rates: Mapping[str, Decimal] | None,
    loaded_rates: Mapping[RateKey, Decimal],
    effective_date: dt.date,
    reporting: Reporting | None = None,
) -> Pricing:
    """Steps 2 (currencies), 3 (balanced) and 4 (rates, base amounts), in that order.

    ``journal_currency`` is the journal's own currency, or the base currency when it has
    none; an entry without a currency is in the journal's currency. With ``reporting``,
    each entry is converted to the reporting currency by the same rule as to the base
    (rates of the effective date, round half to even, residue per side), after the base:
    its currency is checked last in step 2, its rates after the base rates in step 4.
    """
    currencies = [entry_currency(e, journal_currency, base) for e in entries]
    reporting_currency = reporting.currency if reporting is not None else None
    check_currencies_known(journal_currency, currencies, precisions, reporting_currency)
    check_balanced(entries, currencies)
    rates = resolve_rates(currencies, base, fixed_rates, loaded_rates, effective_date)
    bases = base_amounts(entries, currencies, rates, precisions, base)
    if reporting is None:
        return Pricing(currencies=currencies, rates=rates, bases=bases)
    reporting_rates = resolve_rates(
        currencies, reporting.currency, reporting.fixed_rates, loaded_rates, effective_date
    )
    reportings = converted_amounts(
        entries,
        currencies,
        reporting.given or [None] * len(entries),
        Target(reporting.currency, reporting_rates, "reporting"),
        precisions,
    )
    return Pricing(
        currencies=currencies,
        rates=rates,
        bases=bases,
        reporting_rates=reporting_rates,
        reportings=reportings,
    )


def check_entry_ledger(
    index: int, name: LedgerName, ledger: LedgerT | None, currency: str
) -> LedgerT:
    """Step 5 for entry ``index``: its ledger exists, is open and takes its currency.

    Returns the ledger.

    Raises:
        LedgerNotFound, LedgerClosed, CurrencyMismatch: in that order.
    """
    if ledger is None:
        raise LedgerNotFound(
            "the entry's ledger does not exist",
            {"entry_index": index, "ledger": name.as_json()},
        )
    if ledger.status != "open":
        raise LedgerClosed(
            f"ledger {ledger.code!r} is closed",
            {"entry_index": index, "ledger_id": str(ledger.ledger_id)},
        )
    if ledger.currency is not None and ledger.currency != currency:
        raise CurrencyMismatch(
            f"ledger {ledger.code!r} takes {ledger.currency}, not {currency}",
            {
                "entry_index": index,
                "ledger_id": str(ledger.ledger_id),
                "currency": currency,
                "ledger_currency": ledger.currency,
            },
        )
    return ledger


@dataclass(frozen=True, slots=True)
class Original:
    """A journal as a reversal, commit or void of it finds it (locked inside the batch)."""

    status: StoredJournalStatus
    version: int
    tenant_id: UUID


def check_reversible(journal_id: UUID, original: Original | None, tenant_id: UUID) -> Original:
    """Step 6: the journal a reversal names exists in the tenant and is posted, not reversed.

    Returns the original.

    Raises:
        NotFound: no such journal in the tenant.
        AlreadyReversed: it was reversed before (409).
        InvalidState: it is pending or voided (422).
    """
    if original is None or original.tenant_id != tenant_id:
        raise NotFound("no such journal", {"journal_id": str(journal_id)})
    if original.status == "reversed":
        raise AlreadyReversed("the journal was reversed already", {"journal_id": str(journal_id)})
    if original.status != "posted":
        raise InvalidState(
            f"a {original.status} journal cannot be reversed", {"journal_id": str(journal_id)}
        )
    return original


def check_amendable(journal_id: UUID, original: Original | None, tenant_id: UUID) -> Original:
    """An amendment's first state rule: the journal it names exists in the tenant and is
    posted (``scheduled`` reads are posted journals). Its current version is then reversed
    (:func:`check_reversible` passes for it) and the new version posted, in one decision.

    Only a posted journal has a current version in the books to replace: a reversed,
    voided or already amended one (amending reverses it) has none, and a pending one is
    settled by commit or void, not amended.

    Returns the original.

    Raises:
        NotFound: no such journal in the tenant.
        AlreadyReversed: it is reversed (so also when amended before) or voided (409).
        InvalidState: it is pending (422).
    """
    if original is None or original.tenant_id != tenant_id:
        raise NotFound("no such journal", {"journal_id": str(journal_id)})
    if original.status in ("reversed", "voided"):
        raise AlreadyReversed(
            f"the journal is {original.status}: it has no current version to amend",
            {"journal_id": str(journal_id), "status": original.status},
        )
    if original.status != "posted":
        raise InvalidState(
            "a pending journal cannot be amended: commit or void it",
            {"journal_id": str(journal_id), "status": original.status},
        )
    return original


def check_settleable(
    journal_id: UUID, original: Original | None, tenant_id: UUID, action: PendingAction
) -> StoredJournalStatus:
    """A pending journal of the tenant can be committed or voided (``action``), once.

    Returns the journal's status after ``action``: ``posted`` (commit) or ``voided``.

    Raises:
        NotFound: no such journal in the tenant.
        InvalidState: it is not pending (422).
    """
    if original is None or original.tenant_id != tenant_id:
        raise NotFound("no such journal", {"journal_id": str(journal_id)})
    if original.status != "pending":
        raise InvalidState(
            f"only a pending journal can be {action}ed; this one is {original.status}",
            {"journal_id": str(journal_id), "status": original.status},
        )
    return "posted" if action == "commit" else "voided"


def mirrored_direction(direction: str) -> Direction:
    """The direction of a reversal's entry: the opposite of the original entry's."""
    return "credit" if direction == "debit" else "debit"


def duplicate_fingerprint(
    date: dt.date, reference: str | None, lines: Sequence[tuple[UUID, str, int, str]]
) -> bytes:
    """What makes two journals possible duplicates: date, reference, ledgers, directions,
    amounts and currencies (order-insensitive)."""
    canonical = [
        date.isoformat(),
        reference,
        sorted((str(ledger), d, a, c) for ledger, d, a, c in lines),
    ]
    return hashlib.sha256(msgspec.json.encode(canonical)).digest()


def duplicate_warnings(duplicate_of: UUID | None, *, force: bool) -> tuple[JournalWarning, ...]:
    """Step 7: a journal like another (``duplicate_of``) is refused, unless forced, when the
    poster asked for the check; forced, it carries a warning.

    Raises:
        PossibleDuplicate: ``duplicate_of`` is set and ``force`` is not.
    """
    if duplicate_of is None:
        return ()
    if not force:
        raise PossibleDuplicate(
            "a journal with the same date, reference, ledgers and amounts exists",
            {"journal_id": str(duplicate_of)},
        )
    return (
        JournalWarning(
            code="POSSIBLE_DUPLICATE",
            message="posted with force=true although a similar journal exists",
            journal_id=duplicate_of,
        ),
    )


def check_min_balance(
    *,
    ledger_id: UUID,
    ledger_code: str,
    currency: str,
    min_balance: int,
    available_before: int,
    available_after: int,
) -> None:
    """Step 8 for one limited ledger and currency: a journal may not take its available
    balance below ``min_balance``. One that raises the balance, or leaves it, always may
    (a ledger already below its minimum can still be paid into).

    Raises:
        InsufficientFunds: the balance falls, and ends below ``min_balance``.
    """
    if available_after < available_before and available_after < min_balance:
        raise InsufficientFunds(
            f"ledger {ledger_code!r} would go below its minimum balance",
            {
                "ledger_id": str(ledger_id),
                "currency": currency,
                "available": available_before,
                "required": available_before - available_after,
                "min_balance": min_balance,
            },
        )
