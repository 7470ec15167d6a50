"""Seed 002, ``POST /external/v1/journal_entries/create/``: one manual journal entry,
translated onto the native ``PostJournal`` (docs/api.md, "Seed-compatible endpoints").

The path is outside ``/v1``: ``ledger.api.app`` mounts :data:`EXTERNAL_ROUTES` on their own
router under ``/external/v1`` with the same authentication as ``/v1``.

Request → command:

- ``domain_url`` must name the API key's tenant: its slug (``acme-corp``) or a domain whose
  first label is the slug (``acme-corp.example.com``), case-insensitive. Any other value is
  404 ``NOT_FOUND`` (as if no such tenant existed); nothing is posted.
- ``date`` → ``date``; ``accrual_date`` → ``accrual_date`` (a later one reads
  ``scheduled``); ``memo`` (not blank) → ``description``; ``transactionCurrency`` →
  ``currency``; ``reportingCurrency`` → ``reporting_currency`` (rate resolved natively, stored
  in the event); ``external_id`` → ``external_id`` (same key and body: the original entry
  again; another body: 409 ``IDEMPOTENCY_CONFLICT``).
- Each entry → one native entry on the ledger whose code is ``account``: ``debit`` or
  ``credit`` (decimal strings in major units, at most the currency's decimals; exactly one
  of the two non-zero; a missing one is zero) → direction and amount; ``description``.

Answer: HTTP 200 with ``status_code`` 200 for a new entry and for a replay (the seed's
answer; a replay adds ``Idempotent-Replayed: true``). ``journal_entry_id`` is the native
journal's UUID (``GET /v1/journals/{id}``), ``journal_number`` its number (``JE-000001``).
Amounts are decimal strings with the currency's decimals; ``exchange_rate`` (transaction →
reporting) is the native rate rounded half-even to :data:`RATE_DECIMALS` places (the exact
rate is the native ``reporting_rates``). ``bank_reconciliation_id`` is the id of the active
match one of the entry's lines is in (reconciliation projection), else null.

Errors: the native envelope plus ``"status": "error"`` and ``"status_code"`` (the HTTP
status), for every error of this route, 401 included (:data:`SEED_EXCEPTION_HANDLERS`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated, Any, Final, Literal
from uuid import UUID

import msgspec
from litestar import Request, Response, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandler, ExceptionHandlersMap

from ledger import limits
from ledger.api.auth import ServicesDep, TenantDep
from ledger.api.body import decode_body
from ledger.api.compat.amounts import minor_units_of
from ledger.api.errors import (
    BODY_ERROR_STATUSES,
    V1_ERROR_STATUSES,
    ErrorBody,
    error_responses,
    exception_handlers,
)
from ledger.api.fields import Currency, Key, Text
from ledger.api.openapi import json_body_operation
from ledger.api.schemas import Encoded
from ledger.clock import utc_today
from ledger.commands.journals import EntryInput, PostJournal
from ledger.documents.journals import JournalReadOut
from ledger.domain.idempotency import request_fingerprint
from ledger.domain.posting import check_currencies_known
from ledger.errors import NotFound, ValidationError
from ledger.queries.currencies import fetch_precisions
from ledger.queries.journals import journal_document
from ledger.queries.ledgers import LedgerRef, ledgers_by_ids
from ledger.queries.records import journal_match_id
from ledger.queries.tenants import TenantView

TAG: Final = "compat: journal entries"
ENTRY_TYPE: Final = "Manual Journal"
# Decimals of ``exchange_rate`` in the answer (the seed writes "1.00000000000").
RATE_DECIMALS: Final = 11
_AMOUNT_TEXT: Final = re.compile(r"^[0-9]+(\.[0-9]+)?$")

AmountText = Annotated[
    str,
    msgspec.Meta(
        max_length=40,
        description='A decimal string in major units ("1000.00"), at most its decimals.',
    ),
]


class JournalEntryLineBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    account: Key
    debit: AmountText | None = None
    credit: AmountText | None = None
    description: Text | None = None


class JournalEntryBody(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    rename={
        "transaction_currency": "transactionCurrency",
        "reporting_currency": "reportingCurrency",
    },
):
    domain_url: Key
    date: dt.date
    memo: Text
    transaction_currency: Currency
    reporting_currency: Currency
    entries: Annotated[
        list[JournalEntryLineBody],
        msgspec.Meta(min_length=limits.JOURNAL_ENTRIES_MIN, max_length=limits.JOURNAL_ENTRIES_MAX),
    ]
    accrual_date: dt.date | None = None
    external_id: Key | None = None


class JournalEntryLineOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    account: str
    account_name: str
    debit: str
    credit: str
    debit_reporting: str | None
    credit_reporting: str | None
    description: str | None


class JournalEntryOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    journal_entry_id: UUID
    journal_number: str
    date: dt.date
    memo: str | None
    entry_type: Literal["Manual Journal"]
    transaction_currency: str
    transaction_amount: str
    reporting_currency: str | None
    reporting_amount: str | None
    exchange_rate: str | None
    transactions: list[JournalEntryLineOut]
    bank_reconciliation_id: UUID | None


class JournalEntryAnswer(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    status: Literal["success"]
    status_code: int
    data: JournalEntryOut


class SeedErrorBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The native envelope with the seed's ``status`` and ``status_code``."""

    status: Literal["error"]
    status_code: int
    code: str
    message: str
    details: dict[str, Any]


class _Posted(msgspec.Struct, frozen=True):
    id: UUID


# --- errors --------------------------------------------------------------------------------


def _seed_shaped(native: ExceptionHandler) -> ExceptionHandler:  # type: ignore[type-arg]
    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        response = native(request, exc)
        body, status = response.content, response.status_code
        assert isinstance(body, ErrorBody)
        assert status is not None, "the native handlers always set the status"
        return Response(
            SeedErrorBody(
                status="error",
                status_code=status,
                code=body.code,
                message=body.message,
                details=body.details,
            ),
            status_code=status,
            headers=dict(response.headers),
            media_type="application/json",
        )

    return handle


# The native handlers, each re-shaping its envelope (set on this route's router).
SEED_EXCEPTION_HANDLERS: Final[ExceptionHandlersMap] = {
    kind: _seed_shaped(handler) for kind, handler in exception_handlers().items()
}


# --- request → command ---------------------------------------------------------------------


def check_domain(domain_url: str, tenant: TenantView) -> None:
    """``domain_url`` names ``tenant`` (module docstring), else 404 ``NOT_FOUND``."""
    label = domain_url.strip().lower().split(".", 1)[0]
    if label != tenant.slug.lower():
        raise NotFound(
            f"no tenant {domain_url!r} is reachable with this API key",
            {"field": "$.domain_url"},
        )


def amount_of(text: str | None, precision: int, field: str) -> int:
    """A decimal string in major units as minor units (None is zero).

    Raises:
        ValidationError: not a non-negative decimal, too many decimals or too large (400).
    """
    if text is None:
        return 0
    if not _AMOUNT_TEXT.match(text):
        raise ValidationError(
            f'{field} must be a non-negative decimal string such as "1000.00"', {"field": field}
        )
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValidationError(f"{field} is not a decimal", {"field": field}) from None
    return minor_units_of(value, precision, field)


def to_entry(entry: JournalEntryLineBody, index: int, precision: int) -> EntryInput:
    """The native entry of one line: exactly one of ``debit``/``credit`` non-zero."""
    debit = amount_of(entry.debit, precision, f"$.entries[{index}].debit")
    credit = amount_of(entry.credit, precision, f"$.entries[{index}].credit")
    if (debit == 0) == (credit == 0):
        raise ValidationError(
            f"entry {index}: exactly one of debit and credit must be non-zero",
            {"field": f"$.entries[{index}]", "entry_index": index},
        )
    return EntryInput(
        ref=LedgerRef.by_code(entry.account),
        direction="debit" if debit else "credit",
        amount=debit or credit,
        description=entry.description,
    )


def to_command(
    body: JournalEntryBody, tenant: TenantView, precisions: Mapping[str, int]
) -> PostJournal:
    """The native posting of ``body`` (checks in the module docstring's order)."""
    check_domain(body.domain_url, tenant)
    if not body.memo.strip():
        raise ValidationError("memo must not be blank", {"field": "$.memo"})
    currency = body.transaction_currency
    check_currencies_known(currency, [currency], precisions, body.reporting_currency)
    return PostJournal(
        tenant_id=tenant.tenant_id,
        base_currency=tenant.base_currency,
        date=body.date,
        accrual_date=body.accrual_date,
        description=body.memo,
        external_id=body.external_id,
        currency=currency,
        reporting_currency=body.reporting_currency,
        entries=tuple(
            to_entry(entry, index, precisions[currency]) for index, entry in enumerate(body.entries)
        ),
        request_sha256=request_fingerprint({"journal_entries": body}),
    )


# --- journal → answer ----------------------------------------------------------------------


def amount_text(amount: int, precision: int) -> str:
    """Minor units as a decimal string with exactly ``precision`` decimals."""
    return f"{Decimal(amount).scaleb(-precision):.{precision}f}"


def _sides(amount: int | None, debit: bool, precision: int) -> tuple[str | None, str | None]:
    """``(debit, credit)`` texts of an entry's amount (both null without an amount)."""
    if amount is None:
        return None, None
    zero = amount_text(0, precision)
    return (
        (amount_text(amount, precision), zero) if debit else (zero, amount_text(amount, precision))
    )


def _rate_text(rate: str | None) -> str | None:
    if rate is None:
        return None
    return str(Decimal(rate).quantize(Decimal(1).scaleb(-RATE_DECIMALS), ROUND_HALF_EVEN))


def render(
    journal: JournalReadOut,
    precisions: Mapping[str, int],
    names: Mapping[UUID, str],
    match_id: UUID | None,
) -> JournalEntryOut:
    """The seed's ``data`` of a journal this endpoint posted (read now)."""
    currency = journal.currency
    reporting = journal.reporting_currency
    precision = precisions[currency]
    reporting_precision = precisions[reporting] if reporting is not None else 0
    totals = [t for t in journal.totals if t.currency == currency]
    lines = []
    for entry in journal.entries:
        debit, credit = _sides(entry.amount, entry.direction == "debit", precision)
        debit_reporting, credit_reporting = _sides(
            entry.amount_reporting, entry.direction == "debit", reporting_precision
        )
        assert debit is not None, "an entry always has an amount"
        assert credit is not None, "an entry always has an amount"
        lines.append(
            JournalEntryLineOut(
                account=entry.ledger_code,
                account_name=names[entry.ledger_id],
                debit=debit,
                credit=credit,
                debit_reporting=debit_reporting,
                credit_reporting=credit_reporting,
                description=entry.description,
            )
        )
    return JournalEntryOut(
        journal_entry_id=journal.id,
        journal_number=journal.number,
        date=journal.date,
        memo=journal.description,
        entry_type=ENTRY_TYPE,
        transaction_currency=currency,
        transaction_amount=amount_text(sum(t.debits for t in totals), precision),
        reporting_currency=reporting,
        reporting_amount=None
        if reporting is None
        else amount_text(sum(t.debits_reporting or 0 for t in totals), reporting_precision),
        # No rate is stored from a currency to itself: it is 1.
        exchange_rate=_rate_text(
            "1" if reporting == currency else journal.reporting_rates.get(currency)
        ),
        transactions=lines,
        bank_reconciliation_id=match_id,
    )


def _error_spec(spec: ResponseSpec, status: int) -> ResponseSpec:
    return ResponseSpec(
        data_container=SeedErrorBody,
        description=spec.description,
        generate_examples=False,
        examples=[
            type(example)(
                summary=example.summary,
                value={"status": "error", "status_code": status, **(example.value or {})},
            )
            for example in spec.examples or []
        ],
    )


_ERRORS: Final = {
    status: _error_spec(spec, status)
    for status, spec in error_responses(
        *BODY_ERROR_STATUSES,
        *V1_ERROR_STATUSES,
        404,
        409,
        422,
        codes={
            404: ["NOT_FOUND"],
            409: ["IDEMPOTENCY_CONFLICT"],
            422: [
                "JOURNAL_UNBALANCED",
                "LEDGER_NOT_FOUND",
                "LEDGER_CLOSED",
                "INSUFFICIENT_FUNDS",
                "CURRENCY_UNKNOWN",
                "CURRENCY_MISMATCH",
                "FX_RATE_NOT_FOUND",
                "AMOUNT_OVERFLOW",
            ],
        },
    ).items()
}


@post(
    "/journal_entries/create/",
    summary="Create a journal entry (seed-compatible)",
    description=(
        "One manual journal entry in the seed's shape, posted as a native journal "
        "(`GET /v1/journals/{journal_entry_id}` shows it), with its reporting currency. "
        "200 for a new entry and for a retry with the same `external_id` and body (header "
        "`Idempotent-Replayed: true`). Errors carry `status` and `status_code`. "
        "See docs/api.md."
    ),
    tags=[TAG],
    status_code=200,
    responses=_ERRORS,
    operation_class=json_body_operation(JournalEntryBody),
)
async def post_journal_entry(
    request: Request[Any, Any, Any], services: ServicesDep, tenant: TenantDep
) -> Encoded[JournalEntryAnswer]:
    body = await decode_body(request, JournalEntryBody)
    currencies = {body.transaction_currency, body.reporting_currency}
    precisions = await fetch_precisions(services.pool, tenant.tenant_id, currencies)
    posted = await services.journals.post(to_command(body, tenant, precisions))
    journal_id = msgspec.json.decode(posted.document, type=_Posted).id
    document = await journal_document(services.pool, tenant.tenant_id, journal_id, utc_today())
    assert document is not None, "a posted or replayed journal is in the journals table"
    journal = msgspec.json.decode(document, type=JournalReadOut)
    ledgers = await ledgers_by_ids(
        services.pool, tenant.tenant_id, {entry.ledger_id for entry in journal.entries}
    )
    data = render(
        journal,
        precisions,
        {ledger_id: ledger.name for ledger_id, ledger in ledgers.items()},
        await journal_match_id(services.pool, journal_id),
    )
    headers = {"Ledger-Position": str(posted.position)}
    if posted.replayed:
        headers["Idempotent-Replayed"] = "true"
    answer = JournalEntryAnswer(status="success", status_code=200, data=data)
    return Encoded(msgspec.json.encode(answer), status_code=200, headers=headers)


EXTERNAL_ROUTES: Final = [post_journal_entry]
