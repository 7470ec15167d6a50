"""CSV statements with a column mapping.

The mapping (a JSON object; every key optional) names the columns and how to read them:

``date`` (default ``date``), ``amount`` (``amount``: a signed amount, > 0 is money in), or
``credit`` and ``debit`` (two unsigned columns, the non-empty one counts), ``direction``
(a column saying credit/debit: ``credit``, ``cr``, ``c``, ``in``, ``deposit`` or ``debit``,
``dr``, ``d``, ``out``, ``withdrawal``; then the amount's sign is ignored), ``description``,
``external_id``, ``account`` (the account of the line; a file of several accounts is split or
refused as any statement), ``currency`` (its ISO code: its precision then applies),
``metadata`` (a list of columns copied into the record's metadata),
``date_format`` (``strptime`` format, default ISO ``%Y-%m-%d``), ``delimiter`` (``,``),
``decimal_separator`` (``.``), ``thousands_separator`` (none). Column names match the
header case-insensitively; a default column that is absent is simply not used.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from ledger.domain.ledgers import Direction
from ledger.importers.common import (
    ParsedStatement,
    SkippedLine,
    StatementError,
    StatementLine,
    clean_text,
    minor_units,
    precision_of,
)

_CREDIT: Final = frozenset({"credit", "cr", "c", "in", "deposit", "+"})
_DEBIT: Final = frozenset({"debit", "dr", "d", "out", "withdrawal", "-"})
_KEYS: Final = frozenset(
    {
        "date",
        "amount",
        "credit",
        "debit",
        "direction",
        "description",
        "external_id",
        "account",
        "currency",
        "metadata",
        "date_format",
        "delimiter",
        "decimal_separator",
        "thousands_separator",
    }
)


def _option(mapping: dict[str, Any], key: str, default: str) -> str:
    value = mapping.get(key, default)
    if not isinstance(value, str):
        raise StatementError(f"mapping.{key} is a string", "mapping")
    return value


@dataclass(frozen=True, kw_only=True)
class _Layout:
    """Where the mapped values are in a row (column indexes) and how to read them."""

    date: int
    amount: int | None
    credit: int | None
    debit: int | None
    direction: int | None
    description: int | None
    external_id: int | None
    account: int | None
    currency: int | None
    extra: dict[str, int]
    date_format: str
    decimal_separator: str
    thousands_separator: str


def _layout(mapping: dict[str, Any], header: list[str]) -> _Layout:
    """The mapping applied to the file's header.

    Raises:
        StatementError: a mapping value of the wrong type, or a mapped column the file lacks.
    """
    columns = {name.strip().casefold(): i for i, name in enumerate(header)}

    def column(key: str, required: bool = False) -> int | None:
        name = mapping.get(key, key if key not in ("credit", "debit") else None)
        if name is None:
            return None
        if not isinstance(name, str):
            raise StatementError(f"mapping.{key} is a column name", "mapping")
        index = columns.get(name.strip().casefold())
        if index is None and (required or key in mapping):
            raise StatementError(f"the file has no column {name!r} ({key})", "mapping")
        return index

    extra = mapping.get("metadata", [])
    if not isinstance(extra, list) or not all(isinstance(c, str) for c in extra):
        raise StatementError("mapping.metadata is a list of column names", "mapping")
    extra_columns = {}
    for name in extra:
        index = columns.get(name.strip().casefold())
        if index is None:
            raise StatementError(f"the file has no column {name!r} (metadata)", "mapping")
        extra_columns[name] = index
    date = column("date", required=True)
    assert date is not None  # required
    return _Layout(
        date=date,
        amount=column("amount", required="credit" not in mapping),
        credit=column("credit"),
        debit=column("debit"),
        direction=column("direction"),
        description=column("description"),
        external_id=column("external_id"),
        account=column("account"),
        currency=column("currency"),
        extra=extra_columns,
        date_format=_option(mapping, "date_format", "%Y-%m-%d"),
        decimal_separator=_option(mapping, "decimal_separator", "."),
        thousands_separator=_option(mapping, "thousands_separator", ""),
    )


def _cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


def _rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` of every row, the header first; a CSV error names its line."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as e:
        raise StatementError(
            f"not a readable CSV file: {e}", location=f"line {reader.line_num}"
        ) from None


def parse_csv(content: bytes, mapping: dict[str, Any], decimal_places: int) -> ParsedStatement:
    """Every non-empty row after the header as a line (a zero amount is skipped).

    Raises:
        StatementError: a bad mapping (``details.field`` "mapping"), an unreadable file or row
            (``details.location`` "line N").
    """
    unknown = set(mapping) - _KEYS
    if unknown:
        raise StatementError(f"unknown mapping keys: {', '.join(sorted(unknown))}", "mapping")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("latin-1")
    delimiter = _option(mapping, "delimiter", ",")
    if len(delimiter) != 1:
        raise StatementError("mapping.delimiter is one character", "mapping")
    rows = _rows(text, delimiter)
    header = next(rows, None)
    if header is None:
        raise StatementError("the file is empty")
    layout = _layout(mapping, header[1])
    lines: list[StatementLine] = []
    skipped: list[SkippedLine] = []
    for number, row in rows:
        if not any(c.strip() for c in row):
            continue
        try:
            line = _read_row(layout, row, f"line {number}", decimal_places)
        except StatementError as e:
            raise StatementError(e.details["reason"], location=f"line {number}") from None
        if line.amount == 0:
            skipped.append(SkippedLine(location=line.location, reason="zero_amount"))
        else:
            lines.append(line)
    return ParsedStatement(kind="CSV", lines=lines, skipped=skipped)


def _read_row(layout: _Layout, row: list[str], location: str, decimal_places: int) -> StatementLine:
    """One row as a line (its amount may be 0). Raises StatementError without a location."""
    currency = _cell(row, layout.currency).upper() or None
    if currency is not None and not (len(currency) == 3 and currency.isalpha()):
        raise StatementError(f"{_cell(row, layout.currency)[:20]!r} is not a currency code")
    places = precision_of(currency, decimal_places)
    try:
        date = dt.datetime.strptime(_cell(row, layout.date), layout.date_format).date()
    except ValueError:
        raise StatementError(
            f"{_cell(row, layout.date)!r} is not a date ({layout.date_format})"
        ) from None
    if layout.amount is not None and _cell(row, layout.amount):
        amount, negative = _amount(layout, _cell(row, layout.amount), places)
    elif _cell(row, layout.credit):
        amount, negative = _amount(layout, _cell(row, layout.credit), places)[0], False
    elif _cell(row, layout.debit):
        amount, negative = _amount(layout, _cell(row, layout.debit), places)[0], True
    else:
        raise StatementError("the row has no amount")
    direction: Direction = "debit" if negative else "credit"
    word = _cell(row, layout.direction).casefold()
    if word in _CREDIT:
        direction = "credit"
    elif word in _DEBIT:
        direction = "debit"
    elif word:
        raise StatementError(f"{_cell(row, layout.direction)!r} is not credit or debit")
    metadata: dict[str, Any] = {"source": "csv"}
    metadata.update({name: _cell(row, i) for name, i in layout.extra.items()})
    return StatementLine(
        amount=amount,
        direction=direction,
        date=date,
        decimal_places=places,
        account=_cell(row, layout.account) or None,
        currency=currency,
        location=location,
        description=clean_text(_cell(row, layout.description)),
        external_id=_cell(row, layout.external_id) or None,
        metadata=metadata,
    )


def _amount(layout: _Layout, raw: str, places: int) -> tuple[int, bool]:
    """``(abs minor units, negative?)``: separators as mapped, ``(12.50)`` is negative."""
    value = raw.replace(" ", "")
    if layout.thousands_separator:
        value = value.replace(layout.thousands_separator, "")
    negative = value.startswith("(") and value.endswith(")")
    value = value.strip("()")
    if layout.decimal_separator != ".":
        value = value.replace(layout.decimal_separator, ".")
    amount, sign = minor_units(value, places)
    return amount, sign != negative
