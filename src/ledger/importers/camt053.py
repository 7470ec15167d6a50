"""ISO 20022 camt.053 (and camt.052) statements, read with ``pycamt``.

Only booked entries are imported (``Sts`` ``BOOK``, or none given): a pending entry may
still change or vanish. A batch entry with several ``TxDtls`` becomes one record per part.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pycamt.parser import Camt053Parser

from ledger.importers.common import (
    ParsedStatement,
    StatementError,
    StatementLine,
    clean_text,
    minor_units,
    precision_of,
)

_DIRECTIONS = {"CRDT": "credit", "DBIT": "debit"}


def parse_camt053(content: bytes, decimal_places: int) -> ParsedStatement:
    try:
        parser = Camt053Parser(content)
        transactions: list[dict[str, Any]] = parser.get_transactions()
    except Exception as e:  # lxml and pycamt raise several types for a bad file
        raise StatementError(f"not a readable camt.053 file: {e}") from None
    lines: list[StatementLine] = []
    for t in transactions:
        status = t.get("Status")
        if status not in (None, "BOOK"):
            continue
        direction = _DIRECTIONS.get(t.get("CreditDebitIndicator") or "")
        when = t.get("BookingDate") or t.get("ValueDate")
        if direction is None or t.get("Amount") is None or not when:
            raise StatementError("an entry has no amount, credit/debit indicator or date")
        currency = t.get("Currency")
        places = precision_of(currency, decimal_places)
        amount, _negative = minor_units(str(t["Amount"]), places)
        if amount == 0:
            continue
        try:
            date = dt.date.fromisoformat(str(when)[:10])
        except ValueError:
            raise StatementError(f"{when!r} is not a date") from None
        bank_reference = t.get("TransactionID")
        end_to_end = t.get("EndToEndId")
        if end_to_end == "NOTPROVIDED":
            end_to_end = None
        external_id = (
            f"{bank_reference}/{end_to_end}"
            if bank_reference and end_to_end
            else bank_reference or end_to_end
        )
        metadata: dict[str, Any] = {"source": "camt.053", "account": t.get("AccountIBAN")}
        for key, name in (
            ("currency", "Currency"),
            ("bank_reference", "TransactionID"),
            ("end_to_end_id", "EndToEndId"),
            ("counterparty", "DebtorName" if direction == "credit" else "CreditorName"),
            ("bank_transaction_code", "BankTransactionCode"),
        ):
            if t.get(name):
                metadata[key] = str(t[name])
        if t.get("ReversalIndicator") == "true":
            metadata["reversal"] = True
        lines.append(
            StatementLine(
                amount=amount,
                direction=direction,
                date=date,
                decimal_places=places,
                description=clean_text(
                    t.get("RemittanceInformationFull") or t.get("AdditionalEntryInformation")
                ),
                external_id=external_id,
                metadata=metadata,
            )
        )
    return ParsedStatement(kind="camt.053", lines=lines)
