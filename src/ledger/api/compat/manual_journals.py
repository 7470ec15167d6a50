"""Seed-compatible manual journals: ``/v1/manual-journals/`` (docs/api.md, "Manual journals").

A translation onto the native journal commands and reads; it writes no SQL and appends no
events.

- A manual journal is a native journal that stands as posted: stored status ``posted``
  (``scheduled`` included) and not the mirror of another. Reversed, voided and pending
  journals and reversals are not manual journals: the list leaves them out and GET of one
  is 404 ``NOT_FOUND`` (after DELETE, the native ``GET /v1/journals/{id}`` still shows the
  journal, ``reversed`` with its ``reversed_by``).
- Ids are encodings of the native UUIDs (``ledger.domain.public_ids``): the journal
  ``jou_…``, a line (native entry) ``jli_…``, an account (native ledger) ``acc_…``. A path
  id that is not a ``jou_`` id is the 404 of an unknown id.
- Create: ``date`` → ``date``; ``reference`` → ``reference``; ``notes`` → ``description``;
  ``currency`` → ``currency`` (default: the tenant's base currency); each line item → one
  entry: ``amount`` (a JSON number in major units, positive = debit, negative = credit,
  read exactly from the text, at most the currency's decimals, never zero) → ``direction``
  and ``amount`` in minor units; ``account`` → the ledger, named by its UUID (any form
  ``UUID()`` reads), its ``acc_`` id or else its code; ``description`` → ``description``;
  ``currency`` → ``currency`` (default: the journal's); ``contact`` → the entry's
  ``metadata["contact"]`` (:data:`CONTACT_KEY`). The native handler decides the rest in
  its order (``CURRENCY_UNKNOWN``, ``JOURNAL_UNBALANCED``, ``LEDGER_NOT_FOUND`` ...).
- An id names its journal's **current version**: reads follow ``amended_by`` from it (at
  most ``limits.AMENDMENT_CHAIN_MAX`` hops, through ``ledger.queries``), so GET, PATCH and
  DELETE by an amended journal's id act on the journal that replaced it, whose own id the
  answer carries. The object stays the seed's; the lineage is the native journal's
  (``amends``/``amended_by`` on ``GET /v1/journals/{id}``).
- Delete: the native reversal (``ReverseJournal``, dated the journal's effective date) →
  204; a journal reversed before → 409 ``ALREADY_REVERSED``.
- PATCH (:func:`decide_patch`): nothing changed → 200 the journal, nothing recorded; only
  ``reference``/``notes`` changed → the native annotation (``AnnotateJournal``), 200 the
  same journal; ``date``, ``currency`` or ``line_items`` changed → the native amendment
  (``AmendJournal``: the current version reversed and the whole new journal posted with
  ``amends``, atomically), 200 the new journal (a new ``jou_`` id). A PATCH that read a
  version another amendment replaced meanwhile → 409 ``ALREADY_REVERSED``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Final
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.openapi.spec import OpenAPIType
from litestar.params import FromPath, FromQuery
from msgspec import UNSET, UnsetType

from ledger import limits
from ledger.api.auth import ServicesDep, TenantDep
from ledger.api.body import decode_body
from ledger.api.compat.amounts import minor_units_of
from ledger.api.errors import BODY_ERROR_STATUSES, V1_ERROR_STATUSES, error_responses
from ledger.api.fields import Currency, Key, Text
from ledger.api.openapi import json_body_operation
from ledger.api.pages import page_answer
from ledger.api.paths import not_found
from ledger.api.positions import LEDGER_POSITION_DOC
from ledger.api.schemas import Encoded
from ledger.api.strict import PageLimit
from ledger.bootstrap import Services
from ledger.clock import utc_today
from ledger.commands.journals import (
    AmendJournal,
    AnnotateJournal,
    EntryInput,
    PostJournal,
    ReverseJournal,
)
from ledger.documents.journals import JournalOut, JournalReadOut
from ledger.domain.annotations import NotesPatch
from ledger.domain.idempotency import request_fingerprint
from ledger.domain.posting import check_currencies_known
from ledger.domain.public_ids import decode_id, encode_id
from ledger.errors import ValidationError
from ledger.queries.currencies import fetch_precisions
from ledger.queries.journals import JournalFilter, journal_document, list_journals
from ledger.queries.ledgers import LedgerRef
from ledger.queries.pagination import page_limit
from ledger.queries.tenants import TenantView

TAG: Final = "compat: manual journals"
JOURNAL_PREFIX: Final = "jou"
LINE_PREFIX: Final = "jli"
ACCOUNT_PREFIX: Final = "acc"
# The entry metadata key that keeps a line item's ``contact``.
CONTACT_KEY: Final = "contact"
# Native statuses of a journal that stands as posted (a manual journal).
_STANDING: Final = frozenset({"posted", "scheduled"})


# The raw JSON text of the amount, read exactly (a float would round it).
SignedAmount = Annotated[
    msgspec.Raw,
    msgspec.Meta(
        description=(
            "A JSON number in major units (-100.00): positive is a debit, negative a credit; "
            "never zero, at most the currency's decimals."
        ),
        extra_json_schema={"type": "number", "not": {"const": 0}},
    ),
]
# An amount in the answer, a JSON number written with the currency's decimals (Litestar
# documents a Decimal as a string; the "extra" entry says what goes out).
SignedAmountOut = Annotated[
    Decimal,
    msgspec.Meta(
        description="A JSON number in major units, exact: positive debit, negative credit.",
        extra_json_schema={"extra": {"type": OpenAPIType.NUMBER}},
    ),
]


class LineItemBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    account: Key
    amount: SignedAmount
    description: Text | None = None
    contact: Key | None = None
    currency: Currency | None = None


LineItems = Annotated[
    list[LineItemBody],
    msgspec.Meta(min_length=limits.JOURNAL_ENTRIES_MIN, max_length=limits.JOURNAL_ENTRIES_MAX),
]


class ManualJournalBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    date: dt.date
    reference: Key | None = None
    notes: Text | None = None
    currency: Currency | None = None
    line_items: LineItems


class ManualJournalPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A PATCH body: every field optional; ``reference``/``notes`` null clear them."""

    date: dt.date | UnsetType = UNSET
    reference: Key | UnsetType | None = UNSET
    notes: Text | UnsetType | None = UNSET
    currency: Currency | UnsetType = UNSET
    line_items: LineItems | UnsetType = UNSET


class LineItemOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    description: str | None
    contact: str | None
    account: str
    amount: SignedAmountOut
    currency: str


class ManualJournalOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    date: dt.date
    reference: str | None
    notes: str | None
    currency: str
    line_items: list[LineItemOut]


class ManualJournalPageOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    data: list[ManualJournalOut]
    next_cursor: str | None


_encoder: Final = msgspec.json.Encoder(decimal_format="number")
# Untyped, JSON numbers with a fraction or exponent read as Decimal: exact, never a float.
_numbers: Final = msgspec.json.Decoder(float_hook=Decimal)


# --- request → command ---------------------------------------------------------------------


def signed_number(raw: msgspec.Raw, field: str) -> Decimal:
    """The non-zero JSON number ``raw`` holds, exactly (``float_hook=Decimal``).

    Raises:
        ValidationError: not a number (a string, say), or zero (400 naming ``field``).
    """
    value = _numbers.decode(raw)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValidationError(f"{field} must be a JSON number", {"field": field})
    if value == 0:
        raise ValidationError(f"{field} must not be zero", {"field": field})
    return Decimal(value)


def account_ref(text: str) -> LedgerRef:
    """The ledger ``account`` names: a UUID (any form ``UUID()`` reads), else an ``acc_`` id,
    else a ledger code."""
    try:
        return LedgerRef.by_id(UUID(text))
    except ValueError:
        pass
    ledger_id = decode_id(ACCOUNT_PREFIX, text)
    return LedgerRef.by_code(text) if ledger_id is None else LedgerRef.by_id(ledger_id)


def line_currencies(body: ManualJournalBody, base_currency: str) -> tuple[str, list[str]]:
    """The journal's currency and each line's, defaults applied."""
    currency = body.currency or base_currency
    return currency, [line.currency or currency for line in body.line_items]


def to_command(
    body: ManualJournalBody,
    tenant: TenantView,
    precisions: dict[str, int],
    amends: UUID | None = None,
) -> PostJournal:
    """The native posting of ``body``; ``precisions`` holds the currencies the tenant knows;
    ``amends``: the journal ``body`` replaces (an amendment; the fingerprint covers it).

    Raises:
        CurrencyUnknown: the journal's or a line's currency is unknown (422, native order).
        ValidationError: an amount is not a non-zero number of at most the currency's
            decimals (400 naming ``$.line_items[i].amount``).
    """
    currency, currencies = line_currencies(body, tenant.base_currency)
    check_currencies_known(currency, currencies, precisions)
    entries = []
    for index, (line, code) in enumerate(zip(body.line_items, currencies, strict=True)):
        field = f"$.line_items[{index}].amount"
        minor = minor_units_of(signed_number(line.amount, field), precisions[code], field)
        entries.append(
            EntryInput(
                ref=account_ref(line.account),
                direction="debit" if minor > 0 else "credit",
                amount=abs(minor),
                currency=line.currency,
                description=line.description,
                metadata={} if line.contact is None else {CONTACT_KEY: line.contact},
            )
        )
    return PostJournal(
        tenant_id=tenant.tenant_id,
        base_currency=tenant.base_currency,
        date=body.date,
        description=body.notes,
        reference=body.reference,
        currency=body.currency,
        entries=tuple(entries),
        request_sha256=request_fingerprint(
            body if amends is None else {"amends": str(amends), "journal": body}
        ),
        amends=amends,
    )


# --- journal → answer ----------------------------------------------------------------------


def is_manual_journal(document: JournalOut) -> bool:
    """Whether the native journal stands as posted (module docstring)."""
    return document.status in _STANDING and document.reversal_of is None


def render(document: JournalOut, precisions: dict[str, int]) -> ManualJournalOut:
    """The seed's object of a native journal; ``precisions`` has each entry's currency."""
    return ManualJournalOut(
        id=encode_id(JOURNAL_PREFIX, document.id),
        date=document.date,
        reference=document.reference,
        notes=document.description,
        currency=document.currency,
        line_items=[
            LineItemOut(
                id=encode_id(LINE_PREFIX, entry.id),
                description=entry.description,
                contact=_contact(entry.metadata),
                account=encode_id(ACCOUNT_PREFIX, entry.ledger_id),
                # Exact, with the currency's decimals (-10000 cents is -100.00).
                amount=Decimal(
                    entry.amount if entry.direction == "debit" else -entry.amount
                ).scaleb(-precisions[entry.currency]),
                currency=entry.currency,
            )
            for entry in document.entries
        ],
    )


def _contact(metadata: dict[str, Any]) -> str | None:
    value = metadata.get(CONTACT_KEY)
    return value if isinstance(value, str) else None


# --- PATCH: which native command ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unchanged:
    """Nothing differs: answer the journal as it is, record nothing."""


@dataclass(frozen=True, slots=True)
class Annotation:
    """Only ``reference``/``notes`` differ: the native annotation (``reference`` and
    ``description``), no reposting. Both are the values the journal is to have."""

    reference: str | None
    notes: str | None


@dataclass(frozen=True, slots=True)
class Amendment:
    """``date``, ``currency`` or the lines differ: the native amendment, reversing the
    current version and posting ``body``, the whole new journal."""

    body: ManualJournalBody


PatchDecision = Unchanged | Annotation | Amendment


def _line_key(
    line: LineItemBody | LineItemOut, currency: str
) -> tuple[str | None, str | None, str, Decimal, str]:
    amount = line.amount if isinstance(line, LineItemOut) else signed_number(line.amount, "")
    return (line.description, line.contact, line.account, amount, line.currency or currency)


def _current_lines(current: ManualJournalOut, currency: str) -> list[LineItemBody]:
    """``current``'s lines as a body's, lines in the old journal currency moved to
    ``currency`` (same major amounts), accounts by their ``acc_`` ids."""
    return [
        LineItemBody(
            account=line.account,
            amount=msgspec.Raw(_encoder.encode(line.amount)),
            description=line.description,
            contact=line.contact,
            currency=currency if line.currency == current.currency else line.currency,
        )
        for line in current.line_items
    ]


def decide_patch(current: ManualJournalOut, patch: ManualJournalPatch) -> PatchDecision:
    """What a PATCH of ``current`` (the journal's current version) is natively.

    A field left out keeps its value. ``line_items`` given replaces every line; they count as
    changed unless each is the current line field for field (account as its ``acc_`` id,
    amounts equal as numbers, a missing currency read as the journal's). A new ``currency``
    without new lines moves the lines that were in the old journal currency to the new one,
    with the same major amounts (the posting then checks them against its precision).

    Raises:
        ValidationError: a given line's amount is not a non-zero JSON number.
    """
    reference = current.reference if isinstance(patch.reference, UnsetType) else patch.reference
    notes = current.notes if isinstance(patch.notes, UnsetType) else patch.notes
    date = current.date if isinstance(patch.date, UnsetType) else patch.date
    currency = current.currency if isinstance(patch.currency, UnsetType) else patch.currency
    if isinstance(patch.line_items, UnsetType):
        lines_changed = False
        lines = _current_lines(current, currency)
    else:
        for index, line in enumerate(patch.line_items):
            signed_number(line.amount, f"$.line_items[{index}].amount")
        lines = patch.line_items
        lines_changed = [_line_key(line, currency) for line in lines] != [
            _line_key(line, current.currency) for line in current.line_items
        ]
    if date != current.date or currency != current.currency or lines_changed:
        body = ManualJournalBody(
            date=date, reference=reference, notes=notes, currency=currency, line_items=lines
        )
        return Amendment(body)
    if (reference, notes) != (current.reference, current.notes):
        return Annotation(reference=reference, notes=notes)
    return Unchanged()


# --- reads ---------------------------------------------------------------------------------


async def _precisions(
    services: Services, tenant: TenantView, codes: Collection[str]
) -> dict[str, int]:
    return await fetch_precisions(services.pool, tenant.tenant_id, set(codes))


async def _answer(
    services: Services, tenant: TenantView, documents: Iterable[JournalOut]
) -> list[bytes]:
    """Each of ``documents`` as the seed's object, encoded."""
    listed = list(documents)
    precisions = await _precisions(
        services, tenant, {entry.currency for d in listed for entry in d.entries}
    )
    return [_encoder.encode(render(document, precisions)) for document in listed]


async def _current_version(
    services: Services, tenant: TenantView, text: str
) -> JournalReadOut | None:
    """The current version of the journal ``text`` (a ``jou_`` id) names: it, or the journal
    its amendments lead to (``amended_by``, at most ``limits.AMENDMENT_CHAIN_MAX`` hops).

    None: not a ``jou_`` id, no such journal in the tenant, or a chain longer than that.
    """
    journal_id = decode_id(JOURNAL_PREFIX, text)
    for _ in range(limits.AMENDMENT_CHAIN_MAX + 1):
        if journal_id is None:
            return None
        found = await journal_document(services.pool, tenant.tenant_id, journal_id, utc_today())
        if found is None:
            return None
        document = msgspec.json.decode(found, type=JournalReadOut)
        if document.amended_by is None:
            return document
        journal_id = document.amended_by
    return None


async def _standing_journal(services: Services, tenant: TenantView, text: str) -> JournalReadOut:
    """The manual journal ``text`` (a ``jou_`` id) names, at its current version.

    Raises:
        NotFound: not a ``jou_`` id, no such journal in the tenant, or its current version
            is not a manual journal (deleted, a reversal ...).
    """
    document = await _current_version(services, tenant, text)
    if document is None or not is_manual_journal(document):
        raise not_found(text, "journal")
    return document


async def _patched(
    services: Services,
    tenant: TenantView,
    current: JournalReadOut,
    body: ManualJournalPatch,
) -> JournalOut:
    """The journal after the native command :func:`decide_patch` names for ``body`` ran on
    ``current``, the journal as the request found it.

    An annotation names only the fields ``body`` names, so concurrent annotations of one
    journal all apply, in arrival order (the later wins a field both change).
    """
    precisions = await _precisions(services, tenant, {e.currency for e in current.entries})
    decision = decide_patch(render(current, precisions), body)
    if isinstance(decision, Unchanged):
        return current
    if isinstance(decision, Annotation):
        notes = NotesPatch(description=body.notes, reference=body.reference)
        await services.journals.annotate(
            AnnotateJournal(tenant_id=tenant.tenant_id, journal_id=current.id, patch=notes)
        )
        found = await journal_document(services.pool, tenant.tenant_id, current.id, utc_today())
        assert found is not None, "an annotated journal is there"
        return msgspec.json.decode(found, type=JournalReadOut)
    currency, currencies = line_currencies(decision.body, tenant.base_currency)
    precisions = await _precisions(services, tenant, {currency, *currencies})
    replacement = to_command(decision.body, tenant, precisions, amends=current.id)
    posted = await services.journals.amend(
        AmendJournal(tenant_id=tenant.tenant_id, journal_id=current.id, replacement=replacement)
    )
    return msgspec.json.decode(posted.document, type=JournalOut)


_ONE_ERRORS = error_responses(400, 404, *V1_ERROR_STATUSES)


class ManualJournalsController(Controller):
    """``/v1/manual-journals/``: the seed's manual journals on the native journals."""

    path = "/manual-journals"
    tags = [TAG]

    @get(
        "/",
        summary="List manual journals",
        description=(
            "Manual journals (journals that stand as posted, not reversals) in posting order; "
            "`reference` and `date` (the journal date) combine with AND. Paged like every "
            "native list: `limit`, `cursor`, answer `{data, next_cursor}`."
        ),
        responses=error_responses(400, *V1_ERROR_STATUSES),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def list_manual_journals(
        self,
        services: ServicesDep,
        tenant: TenantDep,
        reference: FromQuery[str | None] = None,
        date: FromQuery[dt.date | None] = None,
        limit: PageLimit = None,
        cursor: FromQuery[str | None] = None,
    ) -> Encoded[ManualJournalPageOut]:
        documents, next_cursor = await list_journals(
            services.pool,
            tenant.tenant_id,
            JournalFilter(reference=reference, date=date, standing_only=True),
            page_limit(limit),
            cursor,
            utc_today(),
        )
        journals = (msgspec.json.decode(d, type=JournalReadOut) for d in documents)
        answers = await _answer(services, tenant, journals)
        return page_answer(ManualJournalPageOut, answers, next_cursor)

    @get(
        "/{journal_id:str}/",
        summary="A manual journal",
        responses=_ONE_ERRORS,
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def get_manual_journal(
        self, journal_id: FromPath[str], services: ServicesDep, tenant: TenantDep
    ) -> Encoded[ManualJournalOut]:
        document = await _standing_journal(services, tenant, journal_id)
        (answer,) = await _answer(services, tenant, [document])
        return Encoded(answer)

    @post(
        "/",
        summary="Create a manual journal",
        description=(
            "Posts the journal (201). Line amounts are signed JSON numbers in major units "
            "(positive debit, negative credit) and must sum to zero per currency."
        ),
        responses=error_responses(
            *BODY_ERROR_STATUSES,
            *V1_ERROR_STATUSES,
            422,
            codes={
                422: [
                    "JOURNAL_UNBALANCED",
                    "INSUFFICIENT_FUNDS",
                    "LEDGER_NOT_FOUND",
                    "LEDGER_CLOSED",
                    "CURRENCY_UNKNOWN",
                    "CURRENCY_MISMATCH",
                    "FX_RATE_NOT_FOUND",
                    "AMOUNT_OVERFLOW",
                ]
            },
        ),
        operation_class=json_body_operation(ManualJournalBody),
    )
    async def create_manual_journal(
        self, request: Request[Any, Any, Any], services: ServicesDep, tenant: TenantDep
    ) -> Encoded[ManualJournalOut]:
        body = await decode_body(request, ManualJournalBody)
        currency, currencies = line_currencies(body, tenant.base_currency)
        precisions = await _precisions(services, tenant, {currency, *currencies})
        posted = await services.journals.post(to_command(body, tenant, precisions))
        document = msgspec.json.decode(posted.document, type=JournalOut)
        return Encoded(_encoder.encode(render(document, precisions)), status_code=201)

    @patch(
        "/{journal_id:str}/",
        summary="Update a manual journal",
        description=(
            "Every field optional (`date`, `currency`, `reference`, `notes`, `line_items` as "
            "for create; `line_items` replaces every line). Only `reference`/`notes` changed: "
            "the native annotation, 200 the same journal. `date`, `currency` or lines changed: "
            "the native amendment (the current version reversed, the new one posted with "
            "`amends`, atomically), 200 the NEW journal with its new id. Nothing changed: 200 "
            "the journal. A journal amended or deleted meanwhile → 409 `ALREADY_REVERSED`."
        ),
        responses=error_responses(
            *BODY_ERROR_STATUSES,
            *V1_ERROR_STATUSES,
            404,
            409,
            422,
            codes={
                409: ["ALREADY_REVERSED"],
                422: [
                    "INVALID_STATE",
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
        ),
        operation_class=json_body_operation(ManualJournalPatch),
        status_code=200,
    )
    async def update_manual_journal(
        self,
        journal_id: FromPath[str],
        request: Request[Any, Any, Any],
        services: ServicesDep,
        tenant: TenantDep,
    ) -> Encoded[ManualJournalOut]:
        current = await _standing_journal(services, tenant, journal_id)
        body = await decode_body(request, ManualJournalPatch)
        (answer,) = await _answer(
            services, tenant, [await _patched(services, tenant, current, body)]
        )
        return Encoded(answer)

    @delete(
        "/{journal_id:str}/",
        summary="Delete (reverse) a manual journal",
        description=(
            "Reverses the journal natively (its mirror is posted on its effective date; the "
            "native journal reads `reversed`) and answers 204; it is then no manual journal "
            "(GET 404). Once only: 409 `ALREADY_REVERSED` after."
        ),
        responses=error_responses(
            400,
            404,
            409,
            422,
            *V1_ERROR_STATUSES,
            codes={
                409: ["ALREADY_REVERSED"],
                422: ["INVALID_STATE", "INSUFFICIENT_FUNDS", "LEDGER_CLOSED"],
            },
        ),
    )
    async def delete_manual_journal(
        self, journal_id: FromPath[str], services: ServicesDep, tenant: TenantDep
    ) -> None:
        current = await _current_version(services, tenant, journal_id)
        # A reversal is no manual journal; a reversed one is left to the native command (409).
        if current is None or current.reversal_of is not None:
            raise not_found(journal_id, "journal")
        await services.journals.reverse(
            ReverseJournal(tenant_id=tenant.tenant_id, journal_id=current.id)
        )
