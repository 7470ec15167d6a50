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
from typing import Any, Final

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


def parse_csv(content: bytes, mapping: dict[str, Any], decimal_places: int) -> ParsedStatement:
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
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise StatementError("the file is empty") from None
    except csv.Error as e:
        raise StatementError(f"not a readable CSV file: {e}") from None
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

    date_col = column("date", required=True)
    amount_col = column("amount", required="credit" not in mapping)
    credit_col, debit_col = column("credit"), column("debit")
    direction_col = column("direction")
    description_col = column("description")
    external_col = column("external_id")
    account_col = column("account")
    currency_col = column("currency")
    extra = mapping.get("metadata", [])
    if not isinstance(extra, list) or not all(isinstance(c, str) for c in extra):
        raise StatementError("mapping.metadata is a list of column names", "mapping")
    extra_cols = {}
    for name in extra:
        index = columns.get(name.strip().casefold())
        if index is None:
            raise StatementError(f"the file has no column {name!r} (metadata)", "mapping")
        extra_cols[name] = index
    date_format = _option(mapping, "date_format", "%Y-%m-%d")
    decimal_separator = _option(mapping, "decimal_separator", ".")
    thousands = _option(mapping, "thousands_separator", "")
    assert date_col is not None

    def cell(row: list[str], index: int | None) -> str:
        return row[index].strip() if index is not None and index < len(row) else ""

    def amount_of(raw: str) -> tuple[int, bool]:
        value = raw.replace(" ", "")
        if thousands:
            value = value.replace(thousands, "")
        negative = value.startswith("(") and value.endswith(")")
        value = value.strip("()")
        if decimal_separator != ".":
            value = value.replace(decimal_separator, ".")
        amount, sign = minor_units(value, places)
        return amount, sign != negative

    lines: list[StatementLine] = []
    skipped: list[SkippedLine] = []
    for number, row in enumerate(reader, start=2):
        if not any(c.strip() for c in row):
            continue
        currency = cell(row, currency_col).upper() or None
        if currency is not None and not (len(currency) == 3 and currency.isalpha()):
            raise StatementError(
                f"{cell(row, currency_col)[:20]!r} is not a currency code",
                location=f"line {number}",
            )
        places = precision_of(currency, decimal_places)
        try:
            try:
                date = dt.datetime.strptime(cell(row, date_col), date_format).date()
            except ValueError:
                raise StatementError(
                    f"{cell(row, date_col)!r} is not a date ({date_format})"
                ) from None
            if amount_col is not None and cell(row, amount_col):
                amount, negative = amount_of(cell(row, amount_col))
            elif cell(row, credit_col):
                amount, negative = amount_of(cell(row, credit_col))
                negative = False
            elif cell(row, debit_col):
                amount, negative = amount_of(cell(row, debit_col))
                negative = True
            else:
                raise StatementError("the row has no amount")
            direction = "debit" if negative else "credit"
            if direction_col is not None and cell(row, direction_col):
                word = cell(row, direction_col).casefold()
                if word in _CREDIT:
                    direction = "credit"
                elif word in _DEBIT:
                    direction = "debit"
                else:
                    raise StatementError(f"{cell(row, direction_col)!r} is not credit or debit")
        except StatementError as e:
            raise StatementError(e.details["reason"], location=f"line {number}") from None
        except csv.Error as e:
            raise StatementError(str(e), location=f"line {number}") from None
        if amount == 0:
            skipped.append(SkippedLine(location=f"line {number}", reason="zero_amount"))
            continue
        metadata: dict[str, Any] = {"source": "csv"}
        metadata.update({name: cell(row, i) for name, i in extra_cols.items()})
        lines.append(
            StatementLine(
                amount=amount,
                direction=direction,
                date=date,
                decimal_places=places,
                account=cell(row, account_col) or None,
                currency=currency,
                location=f"line {number}",
                description=clean_text(cell(row, description_col)),
                external_id=cell(row, external_col) or None,
                metadata=metadata,
            )
        )
    return ParsedStatement(kind="CSV", lines=lines, skipped=skipped)
