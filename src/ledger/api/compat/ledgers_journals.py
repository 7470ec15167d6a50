"""Seed-compatible ``POST /v1/ledgers/journals``: a balanced multi-entry journal transaction,
translated onto the native ``PostJournal`` (docs/api.md, "Seed-compatible endpoints").

Request → command:

- ``transaction.value_date`` (``YYYY-MM-DD``, or an RFC 3339 date-time with an offset, whose
  date in UTC is taken) → the journal's ``date``; absent → today (UTC).
- ``description`` → ``description``; ``reference_id`` → ``reference``; ``id_client`` (or the
  ``Idempotency-Key`` header; if both are sent they must be equal) → ``external_id``.
- ``metadata`` → ``metadata``, plus the reserved key :data:`COMPAT_METADATA_KEY` holding what
  the native journal has no field for: ``{"type": transaction.type, "created_by": <the API
  key's id>}``. The answer leaves that key out of ``metadata``; a client's metadata that
  holds it is a 400.
- ``entries[i]``: ``type`` → ``direction``, ``amount`` (minor units, > 0), exactly one of
  ``ledger_id`` / ``ledger_code`` / ``ledger_num_id`` → the entry's ledger, ``currency``.
- The transaction currency is the first currency an entry names, else the tenant's base
  currency; an entry without ``currency`` is in it. ``total_amount`` (minor units) must equal
  the sum of the debits in the transaction currency (422 ``TOTAL_MISMATCH``); the entries of
  every currency must balance (native 422 ``JOURNAL_UNBALANCED``).

Checks, in order: the body's shape (400, the first msgspec error); the entries (one 400
listing, in ``details.errors``, every entry without exactly one ledger key and every amount
that is not > 0; ``details.field`` is the first); ``value_date``, the reserved metadata key
and the idempotency key (400); the total (422); then the native posting's order
(``ledger.commands.journals``: an idempotent replay first).

Answer (201, or 200 with ``Idempotent-Replayed: true`` for a retry with the same key and
body; another body with the key → 409 ``IDEMPOTENCY_CONFLICT``): rendered by :func:`render`
from the journal as read now (``ledger.queries.journals.journal_document``), so a retry of an
unchanged journal answers the first answer byte for byte, and ``status`` /
``completed_at`` / ``reconciled_at`` / ``active`` show later reversals and matches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final, Literal
from uuid import UUID

import msgspec
from litestar import Request, post
from litestar.params import HeaderParameter

from ledger import limits
from ledger.api.auth import ApiKeyIdDep, ServicesDep, TenantDep
from ledger.api.body import decode_body
from ledger.api.errors import BODY_ERROR_STATUSES, V1_ERROR_STATUSES, error_responses
from ledger.api.fields import Currency, Key, Text
from ledger.api.openapi import json_body_operation
from ledger.api.schemas import Encoded, replay_response
from ledger.clock import utc_today
from ledger.commands.journals import EntryInput, PostJournal
from ledger.documents.journals import JournalReadOut
from ledger.domain.currencies import currency_id
from ledger.domain.idempotency import client_key, request_fingerprint
from ledger.domain.journals import JournalStatus
from ledger.errors import TotalMismatch, ValidationError
from ledger.queries.currencies import fetch_precisions
from ledger.queries.journals import journal_document
from ledger.queries.ledgers import LedgerRef
from ledger.queries.tenants import TenantView

TAG: Final = "compat: ledgers/journals"
# The journal metadata key that keeps the seed fields the native journal has no field for.
COMPAT_METADATA_KEY: Final = "ledgers_journals"
# Native statuses (docs/api.md §5) are the seed's ``status`` as they are; these two mean the
# journal was posted (``completed_at`` set), and the other three that it is not (yet, or
# any more: ``voided``).
_COMPLETED: Final = frozenset({"posted", "reversed"})
_INACTIVE: Final = frozenset({"reversed", "voided"})
_PROBLEMS_IN_MESSAGE: Final = 5

# Entry amounts are checked (> 0) after decoding, with the entries' ledgers, so that one 400
# names every problem of the entries at once.
EntryAmount = Annotated[
    int,
    msgspec.Meta(
        ge=limits.BALANCE_MINOR_MIN,
        le=limits.AMOUNT_MINOR_MAX,
        description="Minor units of the entry's currency; must be > 0.",
    ),
]
_UtcDateTime = Annotated[dt.datetime, msgspec.Meta(tz=True)]
_DATE_LENGTH: Final = len("YYYY-MM-DD")


class LedgersJournalTransaction(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True
):
    type: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=limits.JOURNAL_KEY_LENGTH_MAX,
            description="Kept with the journal (metadata key `ledgers_journals`) and answered.",
        ),
    ]
    total_amount: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=limits.AMOUNT_MINOR_MAX,
            description="The sum of the debits in the transaction currency, in minor units.",
        ),
    ]
    description: Text | None = None
    reference_id: Key | None = None
    value_date: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=limits.JOURNAL_KEY_LENGTH_MAX,
                description=(
                    "The journal's date: YYYY-MM-DD, or an RFC 3339 date-time with an offset"
                    " (its date in UTC). Default: today (UTC)."
                ),
            ),
        ]
        | None
    ) = None
    metadata: dict[str, Any] = {}
    id_client: Key | None = None


class LedgersJournalEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    amount: EntryAmount
    type: Literal["debit", "credit"]
    ledger_id: UUID | None = None
    ledger_code: Key | None = None
    ledger_num_id: Annotated[int, msgspec.Meta(ge=1, le=limits.LEDGER_NUM_ID_MAX)] | None = None
    currency: Currency | None = None


class LedgersJournalBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The seed's request: a transaction and its entries (2 to 500)."""

    transaction: LedgersJournalTransaction
    entries: Annotated[
        list[LedgersJournalEntry],
        msgspec.Meta(min_length=limits.JOURNAL_ENTRIES_MIN, max_length=limits.JOURNAL_ENTRIES_MAX),
    ]


class MoneyOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An amount in minor units, as a decimal string of an integer (``"123456"`` EUR = 1234.56)."""

    amount: str
    currency: str
    precision: int


class LedgersJournalOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The seed's answer, field for field (docs/api.md, "Seed-compatible endpoints")."""

    id: UUID
    type: str
    status: JournalStatus
    total_amount: MoneyOut
    currency_id: UUID
    currency_code: str
    description: str | None
    reference_id: str | None
    timestamp: dt.datetime
    value_date: dt.datetime
    completed_at: dt.datetime | None
    reconciled_at: dt.datetime | None
    metadata: dict[str, Any]
    created_at: dt.datetime
    modified_at: dt.datetime
    created_by: UUID
    modified_by: UUID
    total_debit_lcy: MoneyOut
    total_credit_lcy: MoneyOut
    active: bool
    id_client: str | None


class _Stored(msgspec.Struct, frozen=True, kw_only=True):
    """The value of :data:`COMPAT_METADATA_KEY` in the journal's metadata."""

    type: str
    created_by: UUID


class _Posted(msgspec.Struct, frozen=True):
    """The id of a native journal document (its other fields are not read)."""

    id: UUID


def entry_refs(entries: Sequence[LedgersJournalEntry]) -> list[LedgerRef]:
    """Each entry's ledger ref.

    Raises:
        ValidationError: an entry without exactly one ledger key, or an amount that is not
            > 0; ``details.errors`` lists every such problem (``field``, ``message``) in
            entry order, ``details.field`` is the first.
    """
    refs: list[LedgerRef] = []
    problems: list[dict[str, str]] = []
    for index, entry in enumerate(entries):
        path = f"$.entries[{index}]"
        try:
            refs.append(
                LedgerRef.from_fields(
                    ledger_id=entry.ledger_id,
                    ledger_code=entry.ledger_code,
                    ledger_num_id=entry.ledger_num_id,
                    field=path,
                )
            )
        except ValidationError as error:
            given = error.details.get("given") or []
            found = f"it names {' and '.join(given)}" if given else "it names none"
            problems.append(
                {
                    "field": path,
                    "message": f"{path} needs exactly one of ledger_id, ledger_code or"
                    f" ledger_num_id ({found})",
                }
            )
        if entry.amount <= 0:
            problems.append(
                {
                    "field": f"{path}.amount",
                    "message": f"{path}.amount must be > 0 (minor units), not {entry.amount}",
                }
            )
    if problems:
        shown = "; ".join(p["message"] for p in problems[:_PROBLEMS_IN_MESSAGE])
        more = len(problems) - _PROBLEMS_IN_MESSAGE
        raise ValidationError(
            shown + (f"; and {more} more (details.errors)" if more > 0 else ""),
            {"field": problems[0]["field"], "errors": problems},
        )
    return refs


def value_date_of(text: str | None, today: dt.date) -> dt.date:
    """The journal date ``transaction.value_date`` names (see the module docstring).

    Raises:
        ValidationError: neither a date nor an RFC 3339 date-time with an offset.
    """
    if text is None:
        return today
    try:
        if len(text) == _DATE_LENGTH:
            return msgspec.convert(text, dt.date)
        return msgspec.convert(text, _UtcDateTime).astimezone(dt.UTC).date()
    except msgspec.ValidationError as error:
        field = "$.transaction.value_date"
        raise ValidationError(
            f"invalid request body at {field}: {error}; send YYYY-MM-DD or an RFC 3339"
            " date-time with an offset",
            {"field": field, "reason": str(error)},
        ) from None


def transaction_currency(entries: Sequence[LedgersJournalEntry], base_currency: str) -> str:
    """The first currency an entry names, else ``base_currency``."""
    return next((e.currency for e in entries if e.currency is not None), base_currency)


def check_total(body: LedgersJournalBody, currency: str) -> None:
    """``total_amount`` must be the sum of the debits in ``currency`` (the transaction's).

    Raises:
        TotalMismatch: it is not (422).
    """
    debits = sum(
        e.amount for e in body.entries if e.type == "debit" and (e.currency or currency) == currency
    )
    total = body.transaction.total_amount
    if total != debits:
        raise TotalMismatch(
            f"transaction.total_amount is {total}, but the debits in {currency} sum to {debits}",
            {
                "field": "$.transaction.total_amount",
                "currency": currency,
                "total_amount": total,
                "debits": debits,
            },
        )


def to_command(
    body: LedgersJournalBody,
    tenant: TenantView,
    api_key_id: UUID,
    idempotency_key: str | None,
    today: dt.date,
) -> PostJournal:
    """The native posting of a seed request (every check of the module docstring's order
    up to the total; the native handler decides the rest)."""
    refs = entry_refs(body.entries)
    transaction = body.transaction
    date = value_date_of(transaction.value_date, today)
    if COMPAT_METADATA_KEY in transaction.metadata:
        raise ValidationError(
            f"transaction.metadata.{COMPAT_METADATA_KEY} is reserved: use another key",
            {"field": f"$.transaction.metadata.{COMPAT_METADATA_KEY}"},
        )
    key = client_key(
        idempotency_key,
        body.transaction.id_client,
        "transaction.id_client",
        "$.transaction.id_client",
    )
    currency = transaction_currency(body.entries, tenant.base_currency)
    check_total(body, currency)
    stored = {"type": transaction.type, "created_by": str(api_key_id)}
    return PostJournal(
        tenant_id=tenant.tenant_id,
        base_currency=tenant.base_currency,
        date=date,
        description=transaction.description,
        reference=transaction.reference_id,
        external_id=key,
        currency=currency,
        metadata={**transaction.metadata, COMPAT_METADATA_KEY: stored},
        entries=tuple(
            EntryInput(ref=ref, direction=entry.type, amount=entry.amount, currency=entry.currency)
            for ref, entry in zip(refs, body.entries, strict=True)
        ),
        # The seed request (with the key, wherever it came from) is what a retry repeats;
        # the acting API key is not part of it: a retry with another key of the tenant replays.
        request_sha256=request_fingerprint(
            {
                COMPAT_METADATA_KEY: msgspec.structs.replace(
                    body, transaction=msgspec.structs.replace(transaction, id_client=key)
                )
            }
        ),
    )


def _money(amount: int, currency: str, precisions: Mapping[str, int]) -> MoneyOut:
    return MoneyOut(amount=str(amount), currency=currency, precision=precisions[currency])


def render(journal: JournalReadOut, precisions: Mapping[str, int]) -> LedgersJournalOut:
    """The seed's answer for ``journal`` (a journal this endpoint posted, as read now).

    ``timestamp``, ``created_at`` and ``modified_at`` are when it was posted (the compat
    answer has no later modification); ``value_date`` is the journal's date at 00:00 UTC;
    ``completed_at`` is the later of the two while the journal is posted or reversed, else
    null (scheduled: not yet in the books; voided). ``created_by`` = ``modified_by`` = the
    id of the API key that posted it. The ``*_lcy`` totals are in the base currency.
    """
    stored = msgspec.convert(journal.metadata[COMPAT_METADATA_KEY], _Stored)
    currency, base = journal.currency, journal.base_currency
    value_date = dt.datetime.combine(journal.date, dt.time(), dt.UTC)
    debits = sum(t.debits for t in journal.totals if t.currency == currency)
    return LedgersJournalOut(
        id=journal.id,
        type=stored.type,
        status=journal.status,
        total_amount=_money(debits, currency, precisions),
        currency_id=currency_id(currency),
        currency_code=currency,
        description=journal.description,
        reference_id=journal.reference,
        timestamp=journal.created_at,
        value_date=value_date,
        completed_at=max(journal.created_at, value_date) if journal.status in _COMPLETED else None,
        reconciled_at=journal.reconciled_at,
        metadata={k: v for k, v in journal.metadata.items() if k != COMPAT_METADATA_KEY},
        created_at=journal.created_at,
        modified_at=journal.created_at,
        created_by=stored.created_by,
        modified_by=stored.created_by,
        total_debit_lcy=_money(sum(t.debits_base for t in journal.totals), base, precisions),
        total_credit_lcy=_money(sum(t.credits_base for t in journal.totals), base, precisions),
        active=journal.status not in _INACTIVE,
        id_client=journal.external_id,
    )


_ERRORS: Final = error_responses(
    *BODY_ERROR_STATUSES,
    *V1_ERROR_STATUSES,
    409,
    422,
    codes={
        409: ["IDEMPOTENCY_CONFLICT"],
        422: [
            "TOTAL_MISMATCH",
            "JOURNAL_UNBALANCED",
            "INSUFFICIENT_FUNDS",
            "LEDGER_NOT_FOUND",
            "LEDGER_CLOSED",
            "CURRENCY_UNKNOWN",
            "CURRENCY_MISMATCH",
            "FX_RATE_NOT_FOUND",
            "AMOUNT_OVERFLOW",
        ],
    },
)


@post(
    "/ledgers/journals",
    summary="Create a journal transaction (seed-compatible)",
    description=(
        "A balanced multi-entry journal in the seed's shape, posted as a native journal "
        "(`GET /v1/journals/{id}` shows it). 201, or 200 with `Idempotent-Replayed: true` for "
        "a retry with the same `id_client` (or `Idempotency-Key`) and body. The header "
        "`Ledger-Position` is the posting's position. See docs/api.md."
    ),
    tags=[TAG],
    status_code=201,
    responses={**_ERRORS, **replay_response(LedgersJournalOut)},
    operation_class=json_body_operation(LedgersJournalBody),
)
async def post_ledgers_journal(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    tenant: TenantDep,
    api_key_id: ApiKeyIdDep,
    idempotency_key: Annotated[
        str | None,
        HeaderParameter(
            name="Idempotency-Key", min_length=1, max_length=limits.JOURNAL_KEY_LENGTH_MAX
        ),
    ] = None,
) -> Encoded[LedgersJournalOut]:
    body = await decode_body(request, LedgersJournalBody)
    today = utc_today()
    command = to_command(body, tenant, api_key_id, idempotency_key, today)
    posted = await services.journals.post(command)
    journal_id = msgspec.json.decode(posted.document, type=_Posted).id
    document = await journal_document(services.pool, tenant.tenant_id, journal_id, today)
    assert document is not None, "a posted or replayed journal is in the journals table"
    journal = msgspec.json.decode(document, type=JournalReadOut)
    precisions = await fetch_precisions(
        services.pool, tenant.tenant_id, {journal.currency, journal.base_currency}
    )
    headers = {"Ledger-Position": str(posted.position)}
    if posted.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Encoded(
        msgspec.json.encode(render(journal, precisions)),
        status_code=200 if posted.replayed else 201,
        headers=headers,
    )
