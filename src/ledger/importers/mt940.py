"""SWIFT MT940 statements and MT942 interim reports, read with ``mt-940``.

The file is cut into statements and fields here, so each statement keeps its own account,
currency and balances and each ``:61:`` its line number. ``mt-940``'s tag classes read the
``:61:`` fields (its standard layout, else its ASN Bank layout, else the standard one with
supplementary details over several lines joined; ASN Bank accounts try the ASN layout
first) and structured German ``:86:`` texts.

Tolerated: SWIFT block wrappers, several messages and statements in one file, bank header
lines before a message and text after the last one, any line ending, a UTF-8 byte order
mark, Windows-1252 / Latin-1 text, a statement number (``:28C:``) over two lines (ING), a
``:25:`` account with its currency appended, ``.`` as a ``:61:`` amount's decimal sign, an
``:86:`` of the statement itself. Ignored text, another encoding or layout and a wrapped
statement number are warnings.

Rules:

- direction from the ``:61:`` debit/credit mark: ``C`` credit, ``D`` debit, ``RC``
  (reversal of a credit) debit, ``RD`` (reversal of a debit) credit (metadata
  ``reversal``); ``EC``/``ED`` (MT942: expected, not booked) are skipped as ``pending``,
  a zero amount as ``zero_amount``; the amount is always positive;
- ``date`` is the ``:61:`` value date; the entry date goes to metadata ``entry_date``;
- the bank reference is the one after ``//``, else the customer reference, when real
  (:func:`.common.real_reference`: ``NONREF``, ``EREF`` … are not); at ASN Bank the
  customer reference is the counterparty's IBAN (metadata ``counterparty_account``);
- an MT942 reads like an MT940, so a line gets the same identity in both;
- per statement, opening balance + signed sum of its lines must equal its closing balance
  (MT942: the ``:90D:``/``:90C:`` counts and sums must match its lines), else a warning.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import mt940
from mt940 import processors as mt940_processors
from mt940 import tags as mt940_tags

from ledger.domain.ledgers import Direction
from ledger.importers.common import (
    ParsedStatement,
    SkippedLine,
    StatementError,
    StatementLine,
    clean_text,
    minor_units,
    precision_of,
    real_reference,
)

KNOWN_TAGS: Final = frozenset(
    {
        "13", "13D", "20", "21", "25", "25P", "28", "28C", "34F", "60", "60F", "60M",
        "61", "62", "62F", "62M", "64", "65", "86", "90C", "90D", "NS",
    }
)  # fmt: skip
FIELD_RE: Final = re.compile(r":(\d{2}[A-Z]?|NS):")
SWIFT_TYPE_RE: Final = re.compile(r"\{2:[IO](\d{3})")
END_RE: Final = re.compile(r"-(?:\}|$)")  # "-" ends a message; "-}" a SWIFT block 4
# :60F:/:62F:/:64:/:65: mark, date, currency, amount ("," or "." as decimal sign)
BALANCE_RE: Final = re.compile(r"\s*([CDcd])(\d{6})([A-Za-z]{3})\s*(\d+(?:[.,]\d*)?)")
# A :61: amount with "." as decimal sign (Rabobank's old files): "C000000000300.00NMSC"
DOT_AMOUNT_RE: Final = re.compile(
    r"^(\d{6}(?:\d{4}|\s{4})?\s?[A-Za-z]{1,3}\n?\d+)\.(\d*)(?=[A-Za-z/ \n]|$)"
)
BLOCK5_RE: Final = re.compile(r"^(?:\{5:(?:[^{}]|\{[^{}]*\})*\})+")
OPENING_TAGS: Final = ("60F", "60M", "60")
CLOSING_TAGS: Final = ("62F", "62M", "62")
FIELD_LENGTH_MAX: Final = 20_000  # characters of one :61: field
FIELD_LINES_MAX: Final = 300  # lines kept of one field (an :86: of many lines)
MARKS: Final[dict[str, tuple[Direction, dict[str, bool]]]] = {
    "C": ("credit", {}),
    "D": ("debit", {}),
    "RC": ("debit", {"reversal": True}),
    "RD": ("credit", {"reversal": True}),
    "EC": ("credit", {"expected": True}),
    "ED": ("debit", {"expected": True}),
}
STANDARD_61: Final = mt940_tags.Statement()
ASN_61: Final = mt940_tags.StatementASNB()
SUM_TAG: Final = mt940_tags.SumDebitEntries()
NUMBER_TAG: Final = mt940_tags.StatementNumber()
DETAILS_TAG: Final = mt940_tags.TransactionDetails()
OPTIONS: Final = mt940.Options(reversal_sign=True, case_insensitive_marks=True, applicant_iban=True)


@dataclass
class _Field:
    """One field of the file: its tag, and its text over one or more lines."""

    tag: str
    line: int  # 1-based line number of the tag in the file
    text: list[str]

    @property
    def value(self) -> str:
        return "\n".join(self.text).strip()


@dataclass
class _Statement:
    """One statement (an MT940/MT942 message, or a part of one with its own ``:20:``,
    ``:25:`` or balances) as cut from the file, its fields not yet read."""

    number: int  # 1-based, in the file
    message_type: str | None = None
    fields: list[_Field] = field(default_factory=list)
    # (the :61: field, the :86: fields that follow it)
    entries: list[tuple[_Field, list[_Field]]] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)  # of ``fields``: ``has`` stays O(1)

    def add(self, f: _Field) -> None:
        self.fields.append(f)
        self.tags.add(f.tag)

    def first(self, *tags: str) -> _Field | None:
        """The first field of the first of ``tags`` the statement has."""
        for tag in tags:
            for f in self.fields:
                if f.tag == tag:
                    return f
        return None

    def has(self, *tags: str) -> bool:
        return not self.tags.isdisjoint(tags)


@dataclass
class _Balance:
    amount: Decimal  # signed: credit +, debit -
    currency: str


def parse_mt940(content: bytes, decimal_places: int) -> ParsedStatement:
    """Every booked ``:61:`` line (with its ``:86:`` text) of every statement of the file.

    Raises:
        StatementError: the file is not a readable MT940/MT942 (plain words, naming the
            statement, the line and the field).
    """
    try:
        return _parse(content, decimal_places)
    except StatementError:
        raise
    except Exception:
        raise StatementError("the file could not be read as an MT940 or MT942 statement") from None


def _decode(content: bytes, warnings: list[str]) -> str:
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = content.decode("cp1252")
        warnings.append("the file is not UTF-8; it was read as Windows-1252 text")
    except UnicodeDecodeError:
        text = content.decode("latin-1")
        warnings.append("the file is not UTF-8; it was read as Latin-1 text")
    return text


def _not_mt940(text: str) -> StatementError:
    head = text.lstrip()[:200].upper()
    if head.startswith("<") or "OFXHEADER" in head:
        what = "an XML or OFX file"
    elif not head:
        what = "empty"
    else:
        what = "not an MT940 or MT942 statement"
    return StatementError(
        f"the file is {what}: no statement lines (:61:) or balances (:60F:, :62F:) found"
    )


def _parse(content: bytes, decimal_places: int) -> ParsedStatement:
    warnings: list[str] = []
    text = _decode(content, warnings)
    statements, ignored = _split(text)
    if not any(s.entries or s.has(*OPENING_TAGS, *CLOSING_TAGS, "90D", "90C") for s in statements):
        raise _not_mt940(text)
    if ignored:
        warnings.append(
            f"{len(ignored)} line(s) of text outside any statement field were ignored "
            f"(first on line {ignored[0]})"
        )
    lines: list[StatementLine] = []
    skipped: list[SkippedLine] = []
    kinds: list[str] = []
    for statement in statements:
        kind = _kind(statement)
        if kind not in kinds:
            kinds.append(kind)
        _read_statement(statement, kind, decimal_places, lines, skipped, warnings)
    return ParsedStatement(kind=", ".join(kinds), lines=lines, skipped=skipped, warnings=warnings)


def _split(text: str) -> tuple[list[_Statement], list[int]]:
    """The statements of the file, and the numbers of the lines of text after the last
    message that belong to no field (headers before a message are not counted)."""
    return _Splitter(text).split()


class _Splitter:
    """Cuts a file into statements and their fields, one line at a time.

    A field runs from its tag to the next known tag; a message ends at ``-`` (``-}`` in a
    SWIFT block 4); a statement starts at ``:20:``, at a second ``:25:`` or at an opening
    balance after a closing one.
    """

    def __init__(self, text: str) -> None:
        self.raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self.index = 0  # of the next raw line to read
        self.statements: list[_Statement] = []
        self.current: _Statement | None = None  # None after a message's end
        self.last: _Field | None = None  # the field that text lines go on with
        self.entry_open = False  # the last field is a :61: or one of its :86:/:NS:
        self.message_type: str | None = None  # of the last SWIFT block 2 seen
        self.outside: list[int] = []  # lines of text outside any field since the last field

    def split(self) -> tuple[list[_Statement], list[int]]:
        while self.index < len(self.raw_lines):
            number = self.index + 1
            self.index += 1
            line = self._content(self.raw_lines[number - 1].rstrip())
            if line is None:
                continue
            line = self._join_split_tag(line)
            match = FIELD_RE.match(line)
            if match is None or match.group(1) not in KNOWN_TAGS:
                self._add_text(line, number)
            else:
                self._add_field(_Field(tag=match.group(1), line=number, text=[line[match.end() :]]))
        return self.statements, self.outside

    def _content(self, line: str) -> str | None:
        """``line`` without a message end or SWIFT block headers in front of its field
        text, or None when nothing of it is left to read."""
        after_end = self._after_message_end(line)
        return None if after_end is None else self._after_block_headers(after_end)

    def _after_message_end(self, line: str) -> str | None:
        """What follows a ``-`` or ``-}`` (and any ``{5:…}`` trailer) that ends a message."""
        stripped = line.strip()
        end = END_RE.match(stripped)
        if end is None:
            return line
        last = self.last
        if (
            stripped == "-"
            and last is not None
            and last.tag == "86"
            and _continues(self.raw_lines, self.index)
        ):
            last.text.append(line)  # a "-" inside a wrapped :86: text ends nothing
            return None
        self._end_message()
        return BLOCK5_RE.sub("", stripped[end.end() :]).strip() or None

    def _after_block_headers(self, line: str) -> str | None:
        """What follows the ``{1:…}{2:…}{4:`` headers that start a SWIFT message."""
        stripped = line.strip()
        if not stripped.startswith("{"):
            return line
        found = SWIFT_TYPE_RE.search(stripped)
        if found:
            self.message_type = found.group(1)
        self._end_message()
        start = stripped.find("{4:")
        if start < 0:
            return None
        text = stripped[start + 3 :]
        return text if text.strip() else None

    def _end_message(self) -> None:
        self.current, self.last, self.entry_open = None, None, False

    def _join_split_tag(self, line: str) -> str:
        """A lone ``:`` with the rest of a known tag on the next line (``86:…``) joined."""
        if line.strip() != ":" or self.index >= len(self.raw_lines):
            return line
        following = self.raw_lines[self.index]
        split_tag = FIELD_RE.match(":" + following)
        if split_tag is None or split_tag.group(1) not in KNOWN_TAGS:
            return line
        self.index += 1
        return ":" + following.rstrip()

    def _add_text(self, line: str, number: int) -> None:
        """A line that is no field: more text of the last field, else text outside any."""
        if not line.strip():
            return
        if self.last is not None:
            if len(self.last.text) < FIELD_LINES_MAX:
                self.last.text.append(line)
        elif self.statements:
            self.outside.append(number)

    def _add_field(self, new: _Field) -> None:
        self.outside.clear()  # text between messages: the next message's bank header
        statement = self._statement_for(new.tag)
        if new.tag == "61":
            statement.entries.append((new, []))
            self.entry_open = True
        elif new.tag in ("86", "NS") and self.entry_open:
            statement.entries[-1][1].append(new)
        elif new.tag != "86":  # an :86: of the statement itself is read by no rule
            statement.add(new)
            self.entry_open = False
        self.last = new

    def _statement_for(self, tag: str) -> _Statement:
        """The statement a field of ``tag`` belongs to: a new one if the tag starts one."""
        if self.current is None and self.statements and tag not in ("20", "25"):
            self.current = self.statements[-1]  # a message going on without a header of its own
        current = self.current
        if (
            current is None
            or tag == "20"
            or (tag == "25" and current.has("25"))
            or (tag in OPENING_TAGS and current.has(*CLOSING_TAGS))
        ):
            current = self.current = _Statement(
                number=len(self.statements) + 1, message_type=self.message_type
            )
            self.statements.append(current)
            self.entry_open = False
        return current


def _continues(raw_lines: list[str], index: int) -> bool:
    """Whether the next non-blank line from ``index`` goes on with a field's text (it is
    neither a field, nor a SWIFT block, nor the end of the file)."""
    for raw in raw_lines[index : index + 50]:
        stripped = raw.strip()
        if stripped:
            match = FIELD_RE.match(stripped)
            return not (stripped.startswith(("{", "-")) or (match and match.group(1) in KNOWN_TAGS))
    return False


def _kind(statement: _Statement) -> str:
    """``MT940`` or ``MT942``: the SWIFT message type, else an interim one by its fields."""
    if statement.message_type in ("940", "942"):
        return f"MT{statement.message_type}"
    interim = statement.has("34F", "13D", "13", "90D", "90C")
    booked = statement.has(*OPENING_TAGS, *CLOSING_TAGS)
    return "MT942" if interim and not booked else "MT940"


def _balance(f: _Field | None, what: str, where: str, warnings: list[str]) -> _Balance | None:
    if f is None:
        return None
    match = BALANCE_RE.match(f.value)
    amount = _decimal(match.group(4)) if match else None
    if match is None or amount is None:
        warnings.append(
            f"{where}: the {what} (:{f.tag}: on line {f.line}) could not be read and is not checked"
        )
        return None
    sign = -1 if match.group(1).upper() == "D" else 1
    return _Balance(amount=sign * amount, currency=match.group(3).upper())


def _decimal(raw: str | None) -> Decimal | None:
    """An unsigned amount with ``,`` or ``.`` as its decimal sign, else None."""
    text = (raw or "").strip().replace(",", ".")
    return Decimal(text) if re.fullmatch(r"\d+(\.\d*)?", text) else None


def _account(statement: _Statement, currency: str | None) -> tuple[str | None, str | None]:
    """(account, the raw :25: value when it differs)."""
    f = statement.first("25", "25P")
    if f is None:
        return None, None
    raw = " ".join(f.value.split())
    account = raw.removeprefix("/").strip() or None
    if account and currency and len(account) > 3 and account.upper().endswith(currency):
        head = account[:-3].rstrip()
        if head and head[-1].isdigit():
            account = head
    return account, (raw if account != raw else None)


def _currency(
    statement: _Statement, opening: _Balance | None, closing: _Balance | None
) -> str | None:
    """From the balances, else :64:/:65:, else :34F:/:90D:/:90C:, else the end of :25:."""
    for balance in (opening, closing):
        if balance is not None:
            return balance.currency
    for tag in ("64", "65"):
        f = statement.first(tag)
        match = BALANCE_RE.match(f.value) if f else None
        if match:
            return match.group(3).upper()
    for tag in ("34F", "90D", "90C"):
        f = statement.first(tag)
        found = re.match(r"\d*([A-Za-z]{3})", f.value) if f else None
        if found:
            return found.group(1).upper()
    f = statement.first("25")
    found = re.search(r"\d([A-Z]{3})$", f.value.strip()) if f else None
    return found.group(1) if found else None


@dataclass(frozen=True)
class _Header:
    """What every line of one statement shares, read from its fields other than :61:."""

    where: str  # names the statement in messages: "statement 2 (its :20:)"
    kind: str  # "MT940" | "MT942"
    reference: str | None  # the :20:, white space collapsed, at most 35 characters
    number: str | None  # the :28C:/:28: statement number
    account: str | None
    raw_account: str | None  # the :25: value when it differs from ``account``
    currency: str | None
    places: int  # decimal places of ``currency``
    asn: bool  # an ASN Bank account: its :61: customer reference is the counterparty's IBAN
    opening: _Balance | None
    closing: _Balance | None


@dataclass
class _Tally:
    """What a statement's :61: lines add up to (skipped ones too), for its checks."""

    total: Decimal = Decimal(0)  # signed: credit +, debit -
    credits: list[Decimal] = field(default_factory=list)
    debits: list[Decimal] = field(default_factory=list)
    layouts: dict[str, int] = field(default_factory=dict)  # lines read with another layout

    def add(self, direction: Direction, value: Decimal, layout: str) -> None:
        self.total += value if direction == "credit" else -value
        (self.credits if direction == "credit" else self.debits).append(value)
        if layout != "standard":
            self.layouts[layout] = self.layouts.get(layout, 0) + 1


def _read_statement(
    statement: _Statement,
    kind: str,
    decimal_places: int,
    lines: list[StatementLine],
    skipped: list[SkippedLine],
    warnings: list[str],
) -> None:
    """Appends the statement's lines, the lines it leaves out and its warnings.

    Raises:
        StatementError: a :61: field that cannot be read (naming the entry and its line).
    """
    header = _read_header(statement, kind, decimal_places, warnings)
    tally = _Tally()
    for index, (entry, details) in enumerate(statement.entries, 1):
        read = _read_entry(header, index, entry, details, tally)
        if isinstance(read, SkippedLine):
            skipped.append(read)
        else:
            lines.append(read)
    for layout, count in tally.layouts.items():
        warnings.append(f"{header.where}: {count} :61: line(s) read with {layout}")
    _check_balances(header, tally.total, warnings)
    _check_sums(header, statement, tally, warnings)


def _read_header(
    statement: _Statement, kind: str, decimal_places: int, warnings: list[str]
) -> _Header:
    reference_field = statement.first("20")
    reference = " ".join(reference_field.value.split())[:35] if reference_field else None
    where = f"statement {statement.number}" + (f" ({reference})" if reference else "")
    opening = _balance(statement.first(*OPENING_TAGS), "opening balance", where, warnings)
    closing = _balance(statement.first(*CLOSING_TAGS), "closing balance", where, warnings)
    currency = _currency(statement, opening, closing)
    account, raw_account = _account(statement, currency)
    number = _statement_number(statement, where, warnings)
    if account is None and statement.entries:
        warnings.append(f"{where} has no account (:25:)")
    if currency is None and statement.entries:
        warnings.append(f"{where} names no currency (no balance, :34F: or :90D:/:90C:)")
    return _Header(
        where=where,
        kind=kind,
        reference=reference,
        number=number,
        account=account,
        raw_account=raw_account,
        currency=currency,
        places=precision_of(currency, decimal_places),
        asn=account is not None and "ASNB" in account.upper(),
        opening=opening,
        closing=closing,
    )


def _read_entry(
    header: _Header, index: int, entry: _Field, details: list[_Field], tally: _Tally
) -> StatementLine | SkippedLine:
    """One :61: field with its :86: fields: the line, or why it is left out; every amount
    counts in ``tally``.

    Raises:
        StatementError: the :61: field or its amount cannot be read.
    """
    location = f"{header.where}, entry {index} (line {entry.line})"
    data, mark, layout = _read_61(entry, location, header.currency, header.asn)
    direction, flags = MARKS[mark]
    value, amount = _amount(data, location, header)
    tally.add(direction, value, layout)
    if amount == 0:
        return SkippedLine(location=location, reason="zero_amount", detail="the :61: amount is 0")
    if flags.get("expected"):
        # EC/ED: an MT942's expected (not yet booked) credit or debit.
        detail = f"an expected {direction} ({mark}), not booked yet"
        return SkippedLine(location=location, reason="pending", detail=detail)
    structured = _structured(details)
    date = data["date"]
    return StatementLine(
        amount=amount,
        direction=direction,
        date=dt.date(date.year, date.month, date.day),
        decimal_places=header.places,
        account=header.account,
        currency=header.currency,
        bank_reference=_bank_reference(data, header.asn),
        location=location,
        description=_description(data, details, structured),
        metadata=_metadata(header, data, details, flags, structured),
    )


def _amount(data: dict[str, Any], location: str, header: _Header) -> tuple[Decimal, int]:
    """The :61: amount as a decimal and in minor units of the statement's currency.

    Raises:
        StatementError: not a number, more decimals than the currency has, or too large.
    """
    raw_amount = str(data.get("amount_text") or "")
    value = _decimal(raw_amount)
    if value is None:
        raise StatementError(
            f"the amount {raw_amount!r} of the :61: field is not a number",
            "amount",
            location=location,
        )
    try:
        amount, _negative = minor_units(value, header.places)
    except StatementError:
        raise StatementError(
            f"the amount {raw_amount} of the :61: field has more decimals than "
            f"{header.currency or 'the currency'} has ({header.places}) or is too large",
            "amount",
            location=location,
        ) from None
    return value, amount


def _bank_reference(data: dict[str, Any], asn: bool) -> str | None:
    """The real reference after ``//``, else the customer reference (not at ASN Bank,
    where that is the counterparty's IBAN)."""
    candidates = [data.get("bank_reference")]
    if not asn:
        candidates.append(str(data.get("customer_reference") or "").strip())
    return next((r for r in map(real_reference, candidates) if r), None)


def _description(
    data: dict[str, Any], details: list[_Field], structured: dict[str, str | None] | None
) -> str | None:
    if structured:
        parts = [structured.get(key) for key in ("posting_text", "applicant_name", "purpose")]
    else:
        parts = [_details_text(details)]
    return clean_text(*parts, str(data.get("extra_details") or ""))


def _statement_number(statement: _Statement, where: str, warnings: list[str]) -> str | None:
    f = statement.first("28C", "28")
    if f is None:
        return None
    joined = "".join(f.value.split())
    if NUMBER_TAG.re.match(joined) is None:
        warnings.append(
            f"{where}: the statement number {joined[:40]!r} (:{f.tag}: on line {f.line}) "
            "is not the usual 5n[/5n]"
        )
    elif len(f.text) > 1 and any(t.strip() for t in f.text[1:]):
        warnings.append(
            f"{where}: the statement number (:{f.tag}: on line {f.line}) runs over two "
            f"lines; read as {joined}"
        )
    return joined[:40] or None


def _read_61(
    entry: _Field, location: str, currency: str | None, asn: bool
) -> tuple[dict[str, Any], str, str]:
    """``(what mt-940 read, the debit/credit mark upper-cased, the layout it was read
    with)`` of a :61: field: the first layout that reads it, ``"standard"`` being the usual
    one (the ASN Bank layout for an ASN Bank account).

    Raises:
        StatementError: no layout reads the field (saying what is wrong with it).
    """
    value = entry.value
    if len(value) > FIELD_LENGTH_MAX:
        raise StatementError("the :61: field is too long", "61", location=location)
    value = DOT_AMOUNT_RE.sub(r"\1,\2", value, count=1)
    first, _, rest = value.partition("\n")
    collapsed = first + ("\n" + " ".join(rest.split()) if rest.strip() else "")
    attempts: list[tuple[mt940_tags.Statement, str, str]] = [
        (STANDARD_61, value, "standard"),
        (ASN_61, value, "mt-940's ASN Bank layout (customer reference of up to 34 characters)"),
        (STANDARD_61, collapsed, "supplementary details over several lines joined"),
    ]
    if asn:
        attempts.insert(0, (ASN_61, value, "standard"))
    transactions = mt940.models.Transactions(options=OPTIONS)
    for tag, text, layout in attempts:
        match = tag.re.match(text)
        mark = str(match.group("status")).upper() if match else ""
        if match is None or mark not in MARKS:
            continue
        data: dict[str, Any] = match.groupdict()
        amount_text = data.get("amount")
        feb = data.get("month") == "02" and (data.get("day") or "") > "28"
        try:
            data = mt940_processors.date_fixup_pre_processor(transactions, tag, data)
            data["currency"] = currency
            result = tag(transactions, data)
        except (ValueError, ArithmeticError, TypeError, KeyError):
            continue
        result["amount_text"] = amount_text
        if feb and data.get("day") != match.group("day"):
            result["february_fixed"] = True
        return result, mark, layout
    raise StatementError(f"the :61: field {_unreadable_61(value)}", "61", location=location)


def _unreadable_61(value: str) -> str:
    """What is wrong with a :61: field that no layout reads."""
    found = re.match(r"\d{6}", value)
    if found is not None and _bad_date(found.group(0)):
        return f"has a value date {found.group(0)} that is not a date"
    if found is None:
        return "does not start with a value date (YYMMDD)"
    if re.match(r"\d{6}(\d{4}|\s{4})?(R?[CD]|E[CD])[A-Z]?\s?[\d,]", value, re.I) is None:
        return "has no debit/credit mark (C, D, RC, RD, EC, ED) and amount after the date"
    return "is not laid out as date, [entry date], mark, amount, type, reference"


def _bad_date(text: str) -> bool:
    """Whether a YYMMDD is no date (a February day up to 31 counts as one: mt-940 moves
    it to the month's last day)."""
    try:
        dt.date(
            2000 + int(text[:2]),
            int(text[2:4]),
            min(int(text[4:6]), 28) if text[2:4] == "02" else int(text[4:6]),
        )
    except ValueError:
        return True
    return False


def _details_text(details: list[_Field]) -> str:
    return " ".join(f.value for f in details if f.tag == "86")


def _metadata(
    header: _Header,
    data: dict[str, Any],
    details: list[_Field],
    flags: dict[str, Any],
    structured: dict[str, str | None] | None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"source": header.kind.lower()}
    customer_reference = str(data.get("customer_reference") or "").strip()
    bank_reference = str(data.get("bank_reference") or "").strip()
    entry_date = data.get("entry_date")
    for key, value in (
        ("statement", header.reference),
        ("statement_number", header.number),
        ("account_identification", header.raw_account),
        ("transaction_type", str(data.get("id") or "").strip()),
        ("entry_date", entry_date.isoformat() if isinstance(entry_date, dt.date) else None),
        ("counterparty_account", customer_reference if header.asn else None),
        ("customer_reference", None if header.asn else real_reference(customer_reference)),
        ("bank_reference_text", bank_reference or None),
    ):
        if value:
            metadata[key] = value
    metadata.update(flags)
    if data.get("february_fixed"):
        metadata["value_date_corrected"] = True
    counterparty = _counterparty(details, structured)
    if counterparty:
        metadata["counterparty"] = counterparty
    return metadata


def _structured(details: list[_Field]) -> dict[str, str | None] | None:
    """The sub-fields of a structured German :86: (``835?20…?32…``), read by mt-940."""
    text = _details_text(details)
    if not re.match(r"\d{3}\?\d{2}", text):
        return None
    try:
        transactions = mt940.models.Transactions(options=OPTIONS)
        data = {"transaction_details": "\n".join(f.value for f in details if f.tag == "86")}
        result = mt940_processors.transaction_details_post_processor(
            transactions, DETAILS_TAG, data, dict(data)
        )
    except Exception:  # a structured :86: is a nicety: read it as plain text instead
        return None
    return {k: v.strip() for k, v in result.items() if isinstance(v, str) and v.strip()} or None


def _counterparty(details: list[_Field], structured: dict[str, str | None] | None) -> str | None:
    """The ``/NAME/`` of the :86: text, else the applicant of a structured :86:."""
    found = re.search(r"/NAME/([^/]*)", _details_text(details))
    if found and found.group(1).strip():
        return " ".join(found.group(1).split())[:140]
    name = (structured or {}).get("applicant_name")
    return " ".join(name.split())[:140] if name else None


def _money(value: Decimal, places: int) -> str:
    return f"{value:.{places}f}"


def _check_balances(header: _Header, total: Decimal, warnings: list[str]) -> None:
    """Warn when opening balance + the signed lines (``total``) != closing balance."""
    opening, closing, places = header.opening, header.closing, header.places
    if opening is None or closing is None:
        return
    if opening.currency != closing.currency:
        warnings.append(
            f"{header.where}: the opening balance is in {opening.currency} and the closing "
            f"balance in {closing.currency}"
        )
    elif opening.amount + total != closing.amount:
        difference = closing.amount - opening.amount - total
        warnings.append(
            f"{header.where}: opening balance {_money(opening.amount, places)} + lines "
            f"{_money(total, places)} = {_money(opening.amount + total, places)} "
            f"{opening.currency}, but the closing balance is {_money(closing.amount, places)} "
            f"(a difference of {_money(difference, places)})"
        )


def _check_sums(header: _Header, statement: _Statement, tally: _Tally, warnings: list[str]) -> None:
    """Warn when the :90D:/:90C: counts and sums (MT942) differ from the lines."""
    where, places = header.where, header.places
    for tag, what, values in (("90D", "debit", tally.debits), ("90C", "credit", tally.credits)):
        f = statement.first(tag)
        if f is None:
            continue
        match = SUM_TAG.re.match(f.value)
        amount = _decimal(match.group("amount")) if match else None
        if match is None or amount is None:
            warnings.append(
                f"{where}: the sum of {what} entries (:{tag}: on line {f.line}) could not be read"
            )
            continue
        count = int(match.group("number")) if match.group("number") else None
        found = sum(values, Decimal(0))
        if (count is not None and count != len(values)) or amount != found:
            warnings.append(
                f"{where}: :{tag}: gives {count if count is not None else '?'} {what} entries "
                f"of {_money(amount, places)} {header.currency or ''}, but the file has "
                f"{len(values)} of {_money(found, places)}"
            )
