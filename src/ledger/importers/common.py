"""Shared parts of the statement importers: what a parser returns, amounts, identity, dispatch.

A parser (one module per format) turns a file into a :class:`ParsedStatement`: the booked
transactions as :class:`StatementLine` (amount and direction of the *booked entry*, each
with its own account), the lines it left out as :class:`SkippedLine` with a reason, and
warnings. It raises :class:`StatementError` (400) for a file it cannot read, naming the
entry/line and field, and :class:`BankErrorResponse` (422) for a bank's error response.

Identity (:func:`with_stable_ids`): a line's ``external_id`` is built from what identifies
it across deliveries — account, currency, date, direction, amount, the bank's reference
when it is a real one (:func:`real_reference`: placeholders such as ``NONREF`` are not), and
its occurrence number among identical lines of the file — never from the file's own
statement reference. So the same line in an interim (MT942, camt.052) and a final statement
(MT940, camt.053), or in two overlapping daily files, gets the same id, and a second
import creates nothing. A CSV's own ``external_id`` column is used as given.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ledger import limits
from ledger.domain.currencies import ISO_PRECISION
from ledger.domain.ledgers import Direction
from ledger.errors import DomainRuleViolated, ValidationError

STATEMENT_LINES_MAX: Final = 100_000
DESCRIPTION_LENGTH_MAX: Final = limits.RECORD_DESCRIPTION_LENGTH_MAX
EXTERNAL_ID_LENGTH_MAX: Final = limits.RECORD_EXTERNAL_ID_LENGTH_MAX
AMOUNT_SHOWN_LENGTH_MAX: Final = limits.STATEMENT_AMOUNT_SHOWN_LENGTH_MAX


# The import form's fields; any other ``field_name`` of a StatementError is a field of the
# statement itself (an MT940 tag, a camt element), reported as ``details.statement_field``.
FORM_FIELDS: Final = frozenset({"file", "format", "mapping", "decimal_places"})


class StatementError(ValidationError):
    """The file cannot be read as a statement of the format (400).

    ``details.field`` names the form field (``file``, or ``mapping``/``format`` …);
    ``field_name`` may instead name the statement's own field (``"61"``, ``"amount"``),
    reported as ``details.statement_field`` with ``details.field`` ``"file"``.
    ``location`` names where in the file (``"entry 3"``, ``"line 12"``, ``"statement 2,
    transaction 4"``); it is put in front of the message and in ``details.location``.
    """

    def __init__(
        self, message: str, field_name: str = "file", *, location: str | None = None
    ) -> None:
        text = f"{location}: {message}" if location else message
        details: dict[str, Any] = {"field": field_name, "reason": message}
        if field_name not in FORM_FIELDS:
            details.update(field="file", statement_field=field_name)
        if location:
            details["location"] = location
        super().__init__(text, details)


class BankErrorResponse(DomainRuleViolated):
    """The file is the bank's error response, not a statement (422): e.g. an OFX
    ``<STATUS>`` with a non-zero ``<CODE>`` (wrong password, server error)."""

    code = "BANK_ERROR_RESPONSE"


@dataclass(frozen=True, kw_only=True)
class StatementLine:
    """One booked transaction of a statement, as the bank booked it."""

    amount: int  # > 0, minor units of ``currency`` (``decimal_places`` decimals)
    direction: Direction  # credit: money in to the account holder
    date: dt.date  # the booking date (MT940: the :61: value date, always present)
    decimal_places: int
    account: str | None = None  # this line's own account (IBAN, account number)
    currency: str | None = None
    bank_reference: str | None = None  # a real reference (:func:`real_reference`) or None
    location: str = ""  # where in the file, for messages: "entry 3", "statement 2, line 4"
    description: str | None = None
    external_id: str | None = None  # CSV's own id column only; else set by with_stable_ids
    id_is_identity: bool = False  # set by with_stable_ids: external_id is the identity
    metadata: dict[str, Any] = field(default_factory=dict)


SKIP_REASONS: Final = frozenset(
    {
        "pending",  # not booked yet (camt Sts PDNG/INFO, OFX pending list)
        "zero_amount",  # a booked line of 0 moves no money
        "not_a_transaction",  # e.g. an investment buy/sell without a cash leg
    }
)


@dataclass(frozen=True, kw_only=True)
class SkippedLine:
    """A line the parser saw and did not import, and why (one of :data:`SKIP_REASONS`)."""

    location: str
    reason: str
    detail: str | None = None

    def __post_init__(self) -> None:
        assert self.reason in SKIP_REASONS, self.reason


@dataclass(frozen=True, kw_only=True)
class ParsedStatement:
    """What a parser read: ``kind`` names the message (``"camt.053"``, ``"MT942"``, ``"OFX
    bank statement"`` …); ``warnings`` are plain sentences (tolerated deviations, balances
    that do not add up)."""

    kind: str
    lines: list[StatementLine]
    skipped: list[SkippedLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# Values banks put in a reference field that means "no reference" (compared upper-cased,
# spaces removed). Anything of one or two characters, or only zeros, is not a reference either.
PLACEHOLDER_REFERENCES: Final = frozenset(
    {"NONREF", "NONE", "NOREF", "EREF", "NOTPROVIDED", "NOTAVAILABLE", "NA", "N/A", "NULL"}
)


def clean_account(account: str | None) -> str | None:
    """An account as stored and compared: an IBAN or number printed in groups (``NL91 ABNA
    0417 …``) without its spaces; any other text with its white space collapsed."""
    if account is None:
        return None
    words = account.split()
    if not words:
        return None
    joined = "".join(words)
    return joined if joined.isalnum() else " ".join(words)


def real_reference(value: object) -> str | None:
    """``value`` stripped if it is a reference that identifies a transaction, else None."""
    if value is None:
        return None
    text = str(value).strip()
    squeezed = text.replace(" ", "").upper()
    if len(squeezed) < 3 or squeezed in PLACEHOLDER_REFERENCES or not squeezed.strip("0-/"):
        return None
    return text


def precision_of(currency: str | None, default: int) -> int:
    return ISO_PRECISION.get(currency.upper(), default) if currency else default


def shown_amount(value: object) -> str:
    """An amount as an error message quotes it: its text, at most
    :data:`AMOUNT_SHOWN_LENGTH_MAX` characters, quoted; never an object's repr (a reader
    library's value object would show as ``<... object at 0x7f...>``)."""
    if not isinstance(value, str | Decimal):
        return "the value"
    text = str(value).strip()
    if len(text) > AMOUNT_SHOWN_LENGTH_MAX:
        text = text[:AMOUNT_SHOWN_LENGTH_MAX] + "…"
    return f"'{text}'"


def _decimal_of(value: object) -> Decimal:
    """``value`` (a Decimal or decimal text) as a finite Decimal.

    Raises:
        StatementError: anything else, in plain words (:func:`shown_amount`).
    """
    try:
        if isinstance(value, Decimal):
            amount = value
        elif isinstance(value, str):
            amount = Decimal(value.strip())
        else:
            raise InvalidOperation
    except InvalidOperation:
        raise StatementError(f"{shown_amount(value)} is not an amount") from None
    if not amount.is_finite():
        raise StatementError(f"{shown_amount(value)} is not an amount")
    return amount


def minor_units(value: Decimal | str, places: int) -> tuple[int, bool]:
    """``(abs amount in minor units, negative?)`` of a decimal amount, exactly.

    Raises:
        StatementError: not a number, or more decimals than ``places`` (messages quote the
            amount's text, never an object).
    """
    amount = _decimal_of(value)
    scaled = amount.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise StatementError(f"{shown_amount(value)} has more than {places} decimals")
    minor = int(scaled)
    if abs(minor) > limits.AMOUNT_MINOR_MAX:
        raise StatementError(f"{shown_amount(value)} is too large")
    return abs(minor), minor < 0


def exact_minor_units(value: Decimal | str, places: int) -> tuple[int, bool, int]:
    """``(abs amount, negative?, decimal places)`` of a decimal amount, exactly: in minor
    units of ``places`` decimals, or, for an amount with more decimals than that (a fund's
    cash line of 115.8331 USD), at its own decimals — never rounded. Trailing zeros do not
    count (``1500.0000`` USD is 150000 at 2 places).

    Raises:
        StatementError: not a number, more than ``limits.RECORD_DECIMAL_PLACES_MAX``
            decimals, or too large.
    """
    amount = _decimal_of(value)
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    needed = max(places, -exponent)
    if needed > limits.RECORD_DECIMAL_PLACES_MAX:
        raise StatementError(
            f"{shown_amount(value)} has more than {limits.RECORD_DECIMAL_PLACES_MAX} decimals"
        )
    minor, negative = minor_units(amount, needed)
    return minor, negative, needed


def clean_text(*parts: str | None) -> str | None:
    text = " ".join(" ".join(p.split()) for p in parts if p and p.strip())
    return text[:DESCRIPTION_LENGTH_MAX] or None


def identity_of(line: StatementLine) -> str:
    """What identifies ``line`` across deliveries, before its occurrence number (the
    module docstring): ``account|currency|date|D/C amount|reference``."""
    return "|".join(
        (
            line.account or "-",
            line.currency or "-",
            line.date.isoformat(),
            f"{'C' if line.direction == 'credit' else 'D'}{line.amount}",
            line.bank_reference or "-",
        )
    )


def with_stable_ids(lines: Sequence[StatementLine]) -> list[StatementLine]:
    """``lines`` with final external ids (the module docstring), in file order.

    The n-th line (n >= 1) of an identity gets ``stmt:<identity>|<n>``; an id longer than
    :data:`EXTERNAL_ID_LENGTH_MAX` becomes ``stmt:sha256:<hex>`` of it. A CSV line with its
    own ``external_id`` keeps it; the 2nd, 3rd … use of that id in the file gets ``#2``, ``#3`` ….
    """
    seen: dict[str, int] = {}
    out = []
    for line in lines:
        own = (line.external_id or "").strip()[: EXTERNAL_ID_LENGTH_MAX - 8]
        base = own or identity_of(line)
        count = seen.get(base, 0) + 1
        seen[base] = count
        if own:
            external_id = own if count == 1 else f"{own}#{count}"
        else:
            external_id = f"stmt:{base}|{count}"
            if len(external_id) > EXTERNAL_ID_LENGTH_MAX:
                digest = hashlib.sha256(external_id.encode()).hexdigest()
                external_id = f"stmt:sha256:{digest}"
        out.append(replace(line, external_id=external_id, id_is_identity=not own))
    return out
