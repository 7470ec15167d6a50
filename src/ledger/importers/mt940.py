"""SWIFT MT940 statements, read with ``mt-940``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import mt940

from ledger.importers.common import (
    ParsedStatement,
    StatementError,
    StatementLine,
    clean_text,
    minor_units,
    precision_of,
)


def parse_mt940(content: bytes, decimal_places: int) -> ParsedStatement:
    """Every ``:61:`` line (with its ``:86:`` text); a negative amount is a debit."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        text = content.decode("latin-1")
    try:
        transactions = mt940.models.Transactions()
        transactions.parse(text)
    except Exception as e:  # mt-940 raises several types for a malformed file
        raise StatementError(f"not a readable MT940 file: {e}") from None
    if not transactions.data and not transactions.transactions:
        raise StatementError("not a readable MT940 file: no statement fields (:20:, :25:, :61:)")
    account = transactions.data.get("account_identification")
    lines: list[StatementLine] = []
    for transaction in transactions:
        data: dict[str, Any] = transaction.data
        money = data.get("amount")
        if money is None or data.get("date") is None:
            continue
        currency = data.get("currency") or getattr(money, "currency", None)
        places = precision_of(currency, decimal_places)
        amount, negative = minor_units(money.amount, places)
        if amount == 0:
            continue
        bank_reference = data.get("bank_reference")
        customer_reference = data.get("customer_reference")
        if customer_reference == "NONREF":
            customer_reference = None
        metadata: dict[str, Any] = {"source": "mt940", "account": account}
        for key, value in (
            ("currency", currency),
            ("statement", data.get("transaction_reference")),
            ("transaction_type", data.get("id")),
            ("bank_reference", bank_reference),
            ("customer_reference", customer_reference),
        ):
            if value:
                metadata[key] = str(value)
        date = data["date"]
        lines.append(
            StatementLine(
                amount=amount,
                direction="debit" if negative else "credit",
                # mt-940's Date subclasses datetime.date: keep a plain date.
                date=dt.date(date.year, date.month, date.day),
                decimal_places=places,
                description=clean_text(data.get("transaction_details"), data.get("extra_details")),
                external_id=bank_reference or customer_reference,
                metadata=metadata,
            )
        )
    return ParsedStatement(kind="MT940", lines=lines)
