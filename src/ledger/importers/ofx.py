"""OFX (1.x SGML and 2.x XML) bank and credit-card statements, read with ``ofxtools``."""

from __future__ import annotations

import io
from typing import Any

from ofxtools.Parser import OFXTree

from ledger.importers.common import (
    ParsedStatement,
    StatementError,
    StatementLine,
    clean_text,
    minor_units,
    precision_of,
)


def parse_ofx(content: bytes, decimal_places: int) -> ParsedStatement:
    """Every ``STMTTRN`` of every statement in the file; ``TRNAMT`` > 0 is a credit."""
    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(content))
        ofx: Any = tree.convert()
        statements = list(ofx.statements)
    except Exception as e:  # ofxtools raises many unrelated types for a bad file
        raise StatementError(f"not a readable OFX file: {e}") from None
    lines: list[StatementLine] = []
    for statement in statements:
        currency = getattr(statement, "curdef", None)
        places = precision_of(currency, decimal_places)
        account = getattr(statement, "account", None)
        account_id = getattr(account, "acctid", None)
        for transaction in statement.banktranlist or []:
            amount, negative = minor_units(transaction.trnamt, places)
            if amount == 0:
                continue
            metadata: dict[str, Any] = {"source": "ofx", "account": account_id}
            if currency:
                metadata["currency"] = currency
            for name in ("trntype", "checknum", "refnum"):
                value = getattr(transaction, name, None)
                if value:
                    metadata[name] = str(value)
            lines.append(
                StatementLine(
                    amount=amount,
                    direction="debit" if negative else "credit",
                    date=transaction.dtposted.date(),
                    decimal_places=places,
                    description=clean_text(transaction.name, transaction.memo),
                    external_id=transaction.fitid,
                    metadata=metadata,
                )
            )
    return ParsedStatement(kind="OFX", lines=lines)
