"""Shared parts of the statement importers: lines, amounts, stable ids, dispatch."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import msgspec

from ledger import limits
from ledger.commands.records import RecordInput
from ledger.domain.currencies import ISO_PRECISION
from ledger.errors import ValidationError

FORMATS: Final = ("csv", "ofx", "mt940", "camt053")
STATEMENT_LINES_MAX: Final = 100_000
DESCRIPTION_LENGTH_MAX: Final = 1000
EXTERNAL_ID_LENGTH_MAX: Final = 255


class StatementError(ValidationError):
    """The file cannot be read as a statement of the format (400, ``details.field``)."""

    def __init__(self, message: str, field_name: str = "file") -> None:
        super().__init__(message, {"field": field_name, "reason": message})


@dataclass(frozen=True, kw_only=True)
class StatementLine:
    amount: int
    direction: str
    date: dt.date
    decimal_places: int
    description: str | None = None
    external_id: str | None = None  # the statement's own id, before de-duplication
    metadata: dict[str, Any] = field(default_factory=dict)


def precision_of(currency: str | None, default: int) -> int:
    return ISO_PRECISION.get(currency.upper(), default) if currency else default


def minor_units(value: Decimal | str, places: int) -> tuple[int, bool]:
    """``(abs amount in minor units, negative?)`` of a decimal amount, exactly.

    Raises:
        StatementError: not a number, or more decimals than ``places``.
    """
    try:
        amount = value if isinstance(value, Decimal) else Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        raise StatementError(f"{value!r} is not an amount") from None
    if not amount.is_finite():
        raise StatementError(f"{value!r} is not an amount")
    scaled = amount.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise StatementError(f"{value} has more than {places} decimals")
    minor = int(scaled)
    if abs(minor) > limits.AMOUNT_MINOR_MAX:
        raise StatementError(f"{value} is too large")
    return abs(minor), minor < 0


def clean_text(*parts: str | None) -> str | None:
    text = " ".join(" ".join(p.split()) for p in parts if p and p.strip())
    return text[:DESCRIPTION_LENGTH_MAX] or None


def _content_id(line: StatementLine) -> str:
    canonical = [
        line.date.isoformat(),
        line.amount,
        line.direction,
        line.description,
        line.metadata.get("account"),
    ]
    return "sha256:" + hashlib.sha256(msgspec.json.encode(canonical)).hexdigest()[:40]


def with_stable_ids(lines: Sequence[StatementLine]) -> list[StatementLine]:
    """``lines`` with final external ids (see the package docstring)."""
    seen: dict[str, int] = {}
    out = []
    for line in lines:
        base = (line.external_id or "").strip()[: EXTERNAL_ID_LENGTH_MAX - 8] or _content_id(line)
        count = seen.get(base, 0) + 1
        seen[base] = count
        out.append(replace(line, external_id=base if count == 1 else f"{base}#{count}"))
    return out


def detect_format(filename: str | None, content: bytes) -> str:
    """The format of a statement file, from its name, else its first bytes.

    Raises:
        StatementError: the format cannot be told (send ``format``).
    """
    name = (filename or "").lower()
    for suffix, fmt in (
        (".csv", "csv"),
        (".ofx", "ofx"),
        (".qfx", "ofx"),
        (".sta", "mt940"),
        (".mt940", "mt940"),
        (".940", "mt940"),
    ):
        if name.endswith(suffix):
            return fmt
    head = content[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"OFXHEADER") or b"<OFX>" in head.upper():
        return "ofx"
    if b"camt.05" in head or b"BkToCstmr" in head:
        return "camt053"
    if head.startswith((b":20:", b"{1:")) or b"\n:20:" in head:
        return "mt940"
    if name.endswith(".xml"):
        return "camt053"
    raise StatementError("cannot tell the statement's format; send format", "format")


def parse_statement(
    content: bytes,
    fmt: str,
    *,
    mapping: dict[str, Any] | None = None,
    decimal_places: int = 2,
) -> list[StatementLine]:
    """The transactions of a statement file, with stable external ids (package docstring).

    Raises:
        StatementError: the file is not a readable statement of ``fmt`` (400).
    """
    if fmt == "csv":
        from ledger.importers.csv_format import parse_csv

        lines = parse_csv(content, mapping or {}, decimal_places)
    elif mapping is not None:
        raise StatementError("a column mapping is for csv files only", "mapping")
    elif fmt == "ofx":
        from ledger.importers.ofx import parse_ofx

        lines = parse_ofx(content, decimal_places)
    elif fmt == "mt940":
        from ledger.importers.mt940 import parse_mt940

        lines = parse_mt940(content, decimal_places)
    elif fmt == "camt053":
        from ledger.importers.camt053 import parse_camt053

        lines = parse_camt053(content, decimal_places)
    else:
        raise StatementError(f"format is one of {', '.join(FORMATS)}", "format")
    if len(lines) > STATEMENT_LINES_MAX:
        raise StatementError(
            f"a statement has at most {STATEMENT_LINES_MAX} transactions; split the file"
        )
    return with_stable_ids(lines)


def to_record_inputs(lines: Sequence[StatementLine], data_stream_key: str) -> list[RecordInput]:
    return [
        RecordInput(
            data_stream_key=data_stream_key,
            amount=line.amount,
            direction=line.direction,
            date=line.date,
            decimal_places=line.decimal_places,
            description=line.description,
            metadata=line.metadata,
            external_id=line.external_id,
        )
        for line in lines
    ]
