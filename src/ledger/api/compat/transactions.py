"""Seed 003, bookkeeping transactions: ``POST /v1/transactions?force=`` on ``PostJournal``.

A transaction is one native journal (docs/api.md, "Seed-compatible endpoints", seed 003):

- ``transactionDate`` (RFC 3339 with an offset) → the journal's ``date``: its UTC date. The
  instant itself is kept in the journal's metadata and answered back.
- Amounts are JSON numbers in major units, read exactly from the request text (never through
  a float; see ``ledger.api.compat.amounts``), with at most the currency's decimal places.
- ``currency`` → the journal's currency (default: the tenant's base currency).
- Each entry → one native entry: ``DEBIT``/``CREDIT`` → the direction, ``note`` → its
  ``description``. ``category`` names a ledger by code, else by name (:func:`pick_category`);
  ``parentCategory``, when given, must be that ledger's type.
- ``account`` names the depository ledger (an asset ledger) by id or code. When every entry
  is on one side, the account takes the other side for their sum (one more native entry,
  marked ``{"balancing": true}`` in its metadata and not listed among the answer's entries).
- ``refNo`` → the journal's ``reference``. ``transactionDate``, ``paymentMethod``,
  ``counterParty``, ``isReconciled`` (as sent) and ``account`` (the ledger's id) are kept in
  the journal's metadata under those keys; an entry's ``isMain`` and ``id`` under ``isMain``
  and ``clientEntryId`` in the entry's metadata.
- The journal is posted with the native duplicate check (``check_duplicates=True``): a
  journal with the same date, reference, ledgers, directions and amounts answers 200
  ``ALREADY_EXISTS`` with that journal, posting nothing, unless ``force=true``, which posts it
  (native ``force``) with the warning in ``metaData.warnings``. ``force`` is ``true`` or
  ``false``; absent means false.

Order of the checks (the first failing one answers; nothing is posted):

1. 400 ``VALIDATION_ERROR``: the body's shape, ``force``, amounts that are not positive numbers;
2. 422 ``CURRENCY_UNKNOWN``;
3. 400 ``VALIDATION_ERROR``: an amount with more decimals than the currency has, or too large;
4. 422 ``LEDGER_NOT_FOUND``, ``LEDGER_AMBIGUOUS``, ``LEDGER_TYPE_MISMATCH`` for each entry's
   category in order, then for ``account`` (which must be an asset ledger);
5. 422 ``TOTAL_MISMATCH``: the entries balance, but their debits are not
   ``totalAmount``;
6. the native posting's rules in their order (``ledger.commands.journals``): 422
   ``JOURNAL_UNBALANCED`` (entries on both sides that differ, or one side and no account),
   ``LEDGER_CLOSED``, ``CURRENCY_MISMATCH``, ``INSUFFICIENT_FUNDS``, …; a possible duplicate
   is the 200 above.

The answer is rendered from the journal as read now (``ledger.queries.journals``):
``isReconciled`` is the reconciliation projection's (whether an entry of the journal is in an
active match), the category and account objects are the ledgers as they are now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, Final, Literal
from uuid import UUID

import msgspec
from litestar import Request, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIType
from litestar.params import QueryParameter

from ledger import limits
from ledger.api.auth import provide_services, provide_tenant
from ledger.api.body import decode_body
from ledger.api.compat.amounts import minor_units_of
from ledger.api.errors import BODY_ERROR_STATUSES, V1_ERROR_STATUSES, error_responses
from ledger.api.fields import Currency, Key, Text
from ledger.api.openapi import json_body_operation
from ledger.api.schemas import Encoded
from ledger.bootstrap import Services
from ledger.clock import utc_today
from ledger.commands.journals import EntryInput, PostJournal
from ledger.documents.journals import JournalReadOut, ReconciledEntryOut
from ledger.domain.idempotency import request_fingerprint
from ledger.domain.ledgers import Direction
from ledger.domain.money import major_units
from ledger.errors import (
    CurrencyUnknown,
    LedgerAmbiguous,
    LedgerError,
    LedgerNotFound,
    LedgerTypeMismatch,
    PossibleDuplicate,
    TotalMismatch,
    ValidationError,
)
from ledger.queries.currencies import fetch_precisions
from ledger.queries.journals import journal_document
from ledger.queries.ledgers import (
    LedgerRef,
    LedgerView,
    ledgers_by_code_or_name,
    ledgers_by_ids,
)
from ledger.queries.tenants import TenantView

TAG: Final = "compat: bookkeeping transactions"

ParentCategory = Literal["INCOME", "EXPENSE", "ASSET", "LIABILITY", "EQUITY"]
Side = Literal["DEBIT", "CREDIT"]
Action = Literal["CREATED", "ALREADY_EXISTS"]


# The raw JSON text of the number, so it is read exactly (a float would round it).
MajorAmount = Annotated[
    msgspec.Raw,
    msgspec.Meta(
        description="A JSON number in major units (12.34), at most the currency's decimals.",
        extra_json_schema={"type": "number", "exclusiveMinimum": 0},
    ),
]

# An amount in the answer, written as a JSON number (``decimal_format="number"``). Litestar
# documents a Decimal as a string; the "extra" entry (Litestar's ``schema_extra``, read from
# msgspec's ``extra_json_schema``) says what goes out.
MajorAmountOut = Annotated[
    Decimal,
    msgspec.Meta(
        description="A JSON number in major units, exact.",
        extra_json_schema={"extra": {"type": OpenAPIType.NUMBER}},
    ),
]

# Metadata keys of the journal and of its entries (module docstring).
TRANSACTION_DATE_KEY: Final = "transactionDate"
PAYMENT_METHOD_KEY: Final = "paymentMethod"
COUNTER_PARTY_KEY: Final = "counterParty"
IS_RECONCILED_KEY: Final = "isReconciled"
ACCOUNT_KEY: Final = "account"
IS_MAIN_KEY: Final = "isMain"
CLIENT_ENTRY_ID_KEY: Final = "clientEntryId"
BALANCING_KEY: Final = "balancing"

_SIDES: Final[dict[str, Direction]] = {"DEBIT": "debit", "CREDIT": "credit"}
_PARENT_CATEGORIES: Final[dict[str, ParentCategory]] = {
    "income": "INCOME",
    "expense": "EXPENSE",
    "asset": "ASSET",
    "liability": "LIABILITY",
    "equity": "EQUITY",
}
_DEPOSITORY_TYPE: Final = "asset"
_SOURCE_TYPE: Final = "api"


class _In(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    """Base of the request shapes: the seed's camelCase names, unknown fields refused."""


class TransactionEntryBody(_In, frozen=True, kw_only=True):
    id: Key | None = None
    amount: MajorAmount
    type: Side
    category: Key
    parent_category: ParentCategory | None = None
    is_main: bool = False
    note: Text | None = None


class TransactionBody(_In, frozen=True, kw_only=True):
    total_amount: MajorAmount
    transaction_date: Annotated[dt.datetime, msgspec.Meta(tz=True)]
    payment_method: dict[str, Any]
    is_reconciled: bool
    # One place is kept for the account's balancing entry.
    entries: Annotated[
        list[TransactionEntryBody],
        msgspec.Meta(min_length=1, max_length=limits.JOURNAL_ENTRIES_MAX - 1),
    ]
    ref_no: Key | None = None
    currency: Currency | None = None
    counter_party: Key | None = None
    account: Key | None = None


class _Out(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    """Base of the answer shapes (camelCase names, as the seed's)."""


class TransactionCategoryOut(_Out, frozen=True, kw_only=True):
    """The entry's ledger: ``number`` is its code, ``group`` its parent ledger's code."""

    id: UUID = msgspec.field(name="_id")
    name: str
    emoji: str | None
    parent_category: ParentCategory
    number: str
    group: str | None


class TransactionEntryOut(_Out, frozen=True, kw_only=True):
    id: UUID
    amount: MajorAmountOut
    type: Side
    parent_category: ParentCategory
    category: TransactionCategoryOut
    is_main: bool
    note: str | None


class TransactionCounterPartyOut(_Out, frozen=True, kw_only=True):
    """The counterparty id as sent; there is no counterparty directory, so the rest is null."""

    id: str = msgspec.field(name="_id")
    account_name: str | None
    account_number: str | None
    email: str | None
    phone: str | None
    type: str | None


class TransactionAccountOut(_Out, frozen=True, kw_only=True):
    """The depository ledger: ``accountNumber`` is its code."""

    id: UUID = msgspec.field(name="_id")
    account_type: Literal["Depository"]
    account_name: str
    account_number: str


class TransactionSourceOut(_Out, frozen=True, kw_only=True):
    type: str


class TransactionOut(_Out, frozen=True, kw_only=True):
    id: UUID = msgspec.field(name="_id")
    project_id: str
    currency: str
    total_amount: MajorAmountOut
    transaction_date: dt.datetime
    payment_method: dict[str, Any] | None
    source: TransactionSourceOut
    is_reconciled: bool
    non_profit_allocations: list[dict[str, Any]]
    entries: list[TransactionEntryOut]
    classes: list[dict[str, Any]]
    attachments_ids: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    ref_no: str | None
    original_amount: MajorAmountOut
    original_currency: str
    counter_party: TransactionCounterPartyOut | None
    account: TransactionAccountOut | None
    non_profit_grant_id: str | None
    attached_transaction_id: str | None


class TransactionResultOut(_Out, frozen=True, kw_only=True):
    transaction: TransactionOut
    action: Action


class TransactionMetaDataOut(_Out, frozen=True, kw_only=True):
    warnings: list[str]


class TransactionAnswerOut(_Out, frozen=True, kw_only=True):
    """The answer: ``CREATED`` (201) or ``ALREADY_EXISTS`` (200, nothing posted)."""

    message: str
    meta_data: TransactionMetaDataOut
    data: TransactionResultOut


_encoder: Final = msgspec.json.Encoder(decimal_format="number")

CREATED_MESSAGE: Final = "Transaction created"
EXISTS_MESSAGE: Final = (
    "A similar transaction already exists (same date, amounts, categories and refNo); "
    "nothing was posted. Send force=true to create it anyway."
)


# --- amounts -------------------------------------------------------------------------------


def number_of(raw: msgspec.Raw, field: str) -> Decimal:
    """The positive JSON number ``raw`` holds, exactly.

    Raises:
        ValidationError: not a number (a string, say), or not above zero (400).
    """
    text = bytes(raw).decode()
    if not text or text[0] not in "-0123456789":
        raise ValidationError(f"{field} must be a JSON number", {"field": field})
    value = Decimal(text)  # msgspec checked the JSON number grammar, which Decimal reads
    if value <= 0:
        raise ValidationError(f"{field} must be greater than zero", {"field": field})
    return value


# --- ledgers -------------------------------------------------------------------------------


def pick_category(name: str, candidates: Sequence[LedgerView], index: int) -> LedgerView:
    """The ledger ``name`` means: the one whose code it is, else the one whose name it is.

    Raises:
        LedgerNotFound: no ledger has that code or name (422).
        LedgerAmbiguous: no code, and several ledgers have that name (422).
    """
    field = f"$.entries[{index}].category"
    for ledger in candidates:
        if ledger.code == name:
            return ledger
    named = [ledger for ledger in candidates if ledger.name == name]
    if not named:
        raise LedgerNotFound(
            f"entry {index}: no ledger has the code or name {name!r}",
            {"field": field, "entry_index": index, "category": name},
        )
    if len(named) > 1:
        raise LedgerAmbiguous(
            f"entry {index}: {len(named)} ledgers are named {name!r}; name it by its code",
            {
                "field": field,
                "entry_index": index,
                "category": name,
                "ledger_codes": [ledger.code for ledger in named],
            },
        )
    return named[0]


def check_type(ledger: LedgerView, expected: str, field: str) -> None:
    """``ledger`` has type ``expected`` (lower case), else 422 ``LEDGER_TYPE_MISMATCH``."""
    if ledger.type != expected:
        raise LedgerTypeMismatch(
            f"{field}: ledger {ledger.code!r} is of type {ledger.type}, not {expected}",
            {
                "field": field,
                "ledger_id": str(ledger.ledger_id),
                "ledger_type": ledger.type,
                "expected_type": expected,
            },
        )


async def resolve_categories(
    services: Services, tenant: TenantView, entries: Sequence[TransactionEntryBody]
) -> list[LedgerView]:
    """Each entry's ledger (in entry order), checked against its ``parentCategory``."""
    candidates = await ledgers_by_code_or_name(
        services.pool, tenant.tenant_id, {e.category for e in entries}
    )
    by_key: dict[str, list[LedgerView]] = {}
    for ledger in candidates:
        by_key.setdefault(ledger.code, []).append(ledger)
        if ledger.name != ledger.code:
            by_key.setdefault(ledger.name, []).append(ledger)
    ledgers = []
    for index, entry in enumerate(entries):
        ledger = pick_category(entry.category, by_key.get(entry.category, []), index)
        if entry.parent_category is not None:
            check_type(ledger, entry.parent_category.lower(), f"$.entries[{index}].parentCategory")
        ledgers.append(ledger)
    return ledgers


async def resolve_account(
    services: Services, tenant: TenantView, account: str | None
) -> LedgerView | None:
    """The depository ledger ``account`` names by id or code (None: not given).

    Raises:
        LedgerNotFound: no such ledger (422, field ``$.account``).
        LedgerTypeMismatch: it is not an asset ledger (422).
    """
    if account is None:
        return None
    found: LedgerView | None = None
    ledger_id = _uuid_or_none(account)
    if ledger_id is not None:
        found = (await ledgers_by_ids(services.pool, tenant.tenant_id, [ledger_id])).get(ledger_id)
    else:
        named = await ledgers_by_code_or_name(services.pool, tenant.tenant_id, [account])
        found = next((ledger for ledger in named if ledger.code == account), None)
    if found is None:
        raise LedgerNotFound(
            f"no ledger has the id or code {account!r}", {"field": "$.account", "account": account}
        )
    check_type(found, _DEPOSITORY_TYPE, "$.account")
    return found


def _uuid_or_none(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


# --- the command ---------------------------------------------------------------------------


async def currency_precision(services: Services, tenant: TenantView, code: str) -> int:
    """The precision of the tenant's currency ``code`` (422 ``CURRENCY_UNKNOWN`` if none)."""
    precisions = await fetch_precisions(services.pool, tenant.tenant_id, {code})
    if code not in precisions:
        raise CurrencyUnknown(
            f"unknown currency {code!r}", {"currency": code, "field": "$.currency"}
        )
    return precisions[code]


def entry_inputs(
    body: TransactionBody,
    amounts: Sequence[int],
    ledgers: Sequence[LedgerView],
    account: LedgerView | None,
) -> list[EntryInput]:
    """The native entries: one per entry, plus the account's balancing one when every entry
    is on one side and an account is given."""
    inputs = [
        EntryInput(
            ref=LedgerRef.by_id(ledger.ledger_id),
            direction=_SIDES[entry.type],
            amount=amount,
            description=entry.note,
            metadata=_entry_metadata(entry),
        )
        for entry, amount, ledger in zip(body.entries, amounts, ledgers, strict=True)
    ]
    sides = {entry.direction for entry in inputs}
    if account is not None and len(sides) == 1:
        (side,) = sides
        inputs.append(
            EntryInput(
                ref=LedgerRef.by_id(account.ledger_id),
                direction="credit" if side == "debit" else "debit",
                amount=sum(amounts),
                metadata={BALANCING_KEY: True},
            )
        )
    return inputs


def _entry_metadata(entry: TransactionEntryBody) -> dict[str, Any]:
    metadata: dict[str, Any] = {IS_MAIN_KEY: entry.is_main}
    if entry.id is not None:
        metadata[CLIENT_ENTRY_ID_KEY] = entry.id
    return metadata


def check_total(total: int, entries: Sequence[EntryInput]) -> None:
    """A balanced journal's debits are ``totalAmount`` (an unbalanced one is left to the
    native balance rule, which names both sides).

    Raises:
        TotalMismatch: they differ (422).
    """
    debits = sum(e.amount for e in entries if e.direction == "debit")
    credits = sum(e.amount for e in entries if e.direction == "credit")
    if debits == credits and debits != total:
        raise TotalMismatch(
            "totalAmount is not the total of the debits",
            {"field": "$.totalAmount", "total_amount": total, "debits": debits},
        )


def journal_metadata(body: TransactionBody, account: LedgerView | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        TRANSACTION_DATE_KEY: body.transaction_date.astimezone(dt.UTC).isoformat(),
        PAYMENT_METHOD_KEY: body.payment_method,
        IS_RECONCILED_KEY: body.is_reconciled,
    }
    if body.counter_party is not None:
        metadata[COUNTER_PARTY_KEY] = body.counter_party
    if account is not None:
        metadata[ACCOUNT_KEY] = str(account.ledger_id)
    return metadata


async def to_command(
    services: Services, tenant: TenantView, body: TransactionBody, *, force: bool
) -> PostJournal:
    """The native posting of ``body``; raises steps 1 (amounts) to 5 of the module docstring."""
    fields = ["$.totalAmount", *(f"$.entries[{i}].amount" for i in range(len(body.entries)))]
    raws = [body.total_amount, *(entry.amount for entry in body.entries)]
    numbers = [number_of(raw, field) for raw, field in zip(raws, fields, strict=True)]
    currency = body.currency or tenant.base_currency
    precision = await currency_precision(services, tenant, currency)
    total, *amounts = [
        minor_units_of(number, precision, field)
        for number, field in zip(numbers, fields, strict=True)
    ]
    ledgers = await resolve_categories(services, tenant, body.entries)
    account = await resolve_account(services, tenant, body.account)
    entries = entry_inputs(body, amounts, ledgers, account)
    check_total(total, entries)
    return PostJournal(
        tenant_id=tenant.tenant_id,
        base_currency=tenant.base_currency,
        date=body.transaction_date.astimezone(dt.UTC).date(),
        reference=body.ref_no,
        currency=currency,
        metadata=journal_metadata(body, account),
        entries=tuple(entries),
        check_duplicates=True,
        force=force,
        request_sha256=request_fingerprint(body),
    )


async def post_transaction(
    services: Services, command: PostJournal, entry_count: int
) -> tuple[UUID, Action]:
    """Post ``command``; a possible duplicate answers the existing journal's id instead."""
    try:
        await services.journals.post(command)
    except PossibleDuplicate as duplicate:
        return UUID(duplicate.details["journal_id"]), "ALREADY_EXISTS"
    except LedgerError as error:
        if error.details.get("entry_index") == entry_count:
            # The account's balancing entry, which the request does not list.
            error.details["field"] = "$.account"
        raise
    return command.journal_id, "CREATED"


# --- the answer ----------------------------------------------------------------------------


def _transaction_date(journal: JournalReadOut) -> dt.datetime:
    """The instant sent (kept in the metadata), else midnight UTC of the journal's date."""
    kept = journal.metadata.get(TRANSACTION_DATE_KEY)
    if isinstance(kept, str):
        try:
            parsed = dt.datetime.fromisoformat(kept)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed.astimezone(dt.UTC)
    return dt.datetime.combine(journal.date, dt.time(), dt.UTC)


def _category(ledger: LedgerView, parents: Mapping[UUID, LedgerView]) -> TransactionCategoryOut:
    parent = parents.get(ledger.parent_id) if ledger.parent_id is not None else None
    return TransactionCategoryOut(
        id=ledger.ledger_id,
        name=ledger.name,
        emoji=None,
        parent_category=_parent_category(ledger),
        number=ledger.code,
        group=parent.code if parent is not None else None,
    )


def _parent_category(ledger: LedgerView) -> ParentCategory:
    return _PARENT_CATEGORIES[ledger.type]


def _entry(
    entry: ReconciledEntryOut,
    ledgers: Mapping[UUID, LedgerView],
    precisions: Mapping[str, int],
) -> TransactionEntryOut:
    ledger = ledgers[entry.ledger_id]
    return TransactionEntryOut(
        id=entry.id,
        amount=major_units(entry.amount, precisions[entry.currency]),
        type="DEBIT" if entry.direction == "debit" else "CREDIT",
        parent_category=_parent_category(ledger),
        category=_category(ledger, ledgers),
        is_main=entry.metadata.get(IS_MAIN_KEY) is True,
        note=entry.description,
    )


def _account(
    journal: JournalReadOut, ledgers: Mapping[UUID, LedgerView]
) -> TransactionAccountOut | None:
    account_id = _kept_account_id(journal)
    ledger = ledgers.get(account_id) if account_id is not None else None
    if ledger is None:
        return None
    return TransactionAccountOut(
        id=ledger.ledger_id,
        account_type="Depository",
        account_name=ledger.name,
        account_number=ledger.code,
    )


def _kept_account_id(journal: JournalReadOut) -> UUID | None:
    kept = journal.metadata.get(ACCOUNT_KEY)
    return _uuid_or_none(kept) if isinstance(kept, str) else None


def _counter_party(journal: JournalReadOut) -> TransactionCounterPartyOut | None:
    kept = journal.metadata.get(COUNTER_PARTY_KEY)
    if not isinstance(kept, str):
        return None
    return TransactionCounterPartyOut(
        id=kept, account_name=None, account_number=None, email=None, phone=None, type=None
    )


async def read_journal(services: Services, tenant: TenantView, journal_id: UUID) -> JournalReadOut:
    """The journal as read now (status, reconciliation); it exists (just posted or found)."""
    document = await journal_document(services.pool, tenant.tenant_id, journal_id, utc_today())
    assert document is not None, f"journal {journal_id} is committed"
    return msgspec.json.decode(document, type=JournalReadOut)


async def render_transaction(
    services: Services, tenant: TenantView, journal: JournalReadOut
) -> TransactionOut:
    """The seed's transaction object of ``journal``."""
    shown = [e for e in journal.entries if e.metadata.get(BALANCING_KEY) is not True]
    account_id = _kept_account_id(journal)
    ids = {e.ledger_id for e in journal.entries} | ({account_id} if account_id else set())
    ledgers = await ledgers_by_ids(services.pool, tenant.tenant_id, ids)
    parent_ids = {v.parent_id for v in ledgers.values() if v.parent_id is not None}
    ledgers.update(await ledgers_by_ids(services.pool, tenant.tenant_id, parent_ids - set(ledgers)))
    precisions = await fetch_precisions(
        services.pool, tenant.tenant_id, {journal.currency} | {e.currency for e in shown}
    )
    debits = sum(t.debits for t in journal.totals if t.currency == journal.currency)
    total = major_units(debits, precisions[journal.currency])
    payment_method = journal.metadata.get(PAYMENT_METHOD_KEY)
    return TransactionOut(
        id=journal.id,
        project_id=tenant.slug,
        currency=journal.currency,
        total_amount=total,
        transaction_date=_transaction_date(journal),
        payment_method=payment_method if isinstance(payment_method, dict) else None,
        source=TransactionSourceOut(type=_SOURCE_TYPE),
        is_reconciled=journal.reconciled,
        non_profit_allocations=[],
        entries=[_entry(e, ledgers, precisions) for e in shown],
        classes=[],
        attachments_ids=[],
        created_at=journal.created_at,
        updated_at=max(journal.created_at, journal.reconciled_at or journal.created_at),
        ref_no=journal.reference,
        original_amount=total,
        original_currency=journal.currency,
        counter_party=_counter_party(journal),
        account=_account(journal, ledgers),
        non_profit_grant_id=None,
        attached_transaction_id=None,
    )


def _warnings(journal: JournalReadOut, action: Action) -> list[str]:
    if action != "CREATED":
        return []
    return [
        f"{w.message} (transaction {w.journal_id})" if w.journal_id else w.message
        for w in journal.warnings
    ]


_ERRORS: Final = error_responses(
    *BODY_ERROR_STATUSES,
    *V1_ERROR_STATUSES,
    422,
    codes={
        422: [
            "CURRENCY_UNKNOWN",
            "LEDGER_NOT_FOUND",
            "LEDGER_AMBIGUOUS",
            "LEDGER_TYPE_MISMATCH",
            "TOTAL_MISMATCH",
            "JOURNAL_UNBALANCED",
            "LEDGER_CLOSED",
            "CURRENCY_MISMATCH",
            "FX_RATE_NOT_FOUND",
            "INSUFFICIENT_FUNDS",
            "AMOUNT_OVERFLOW",
        ]
    },
)


@post(
    "/transactions",
    summary="Create a transaction (seed-compatible)",
    description=(
        "A bookkeeping transaction posted as one native journal (see the tag's section in "
        "docs/api.md). 201 `CREATED`; 200 `ALREADY_EXISTS` with the existing transaction when "
        "a similar one exists (same date, amounts, categories and refNo) and `force` is not "
        "`true`. Body: see TransactionBody."
    ),
    tags=[TAG],
    status_code=201,
    responses={
        **_ERRORS,
        200: ResponseSpec(
            data_container=TransactionAnswerOut,
            description="`ALREADY_EXISTS`: the existing similar transaction; nothing posted.",
            generate_examples=False,
        ),
    },
    operation_class=json_body_operation(TransactionBody),
)
async def create_transaction(
    request: Request[Any, Any, Any],
    force: Annotated[
        Literal["true", "false"] | None,
        QueryParameter(description="`true` posts even when a similar transaction exists."),
    ] = None,
) -> Encoded[TransactionAnswerOut]:
    services, tenant = provide_services(request), provide_tenant(request)
    body = await decode_body(request, TransactionBody)
    command = await to_command(services, tenant, body, force=force == "true")
    journal_id, action = await post_transaction(services, command, len(body.entries))
    journal = await read_journal(services, tenant, journal_id)
    answer = TransactionAnswerOut(
        message=CREATED_MESSAGE if action == "CREATED" else EXISTS_MESSAGE,
        meta_data=TransactionMetaDataOut(warnings=_warnings(journal, action)),
        data=TransactionResultOut(
            transaction=await render_transaction(services, tenant, journal), action=action
        ),
    )
    return Encoded(_encoder.encode(answer), status_code=201 if action == "CREATED" else 200)


TRANSACTION_ROUTES: Final = [create_transaction]
