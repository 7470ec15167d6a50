"""Bank statement files → records (``POST /v1/records/import``, ``ledger records import``).

Formats and their readers (one module each; shared types and the identity rule in
:mod:`.common`):

- ``csv``: the standard library's ``csv`` with a column mapping (:mod:`.csv_format`);
- ``ofx``: OFX 1.x SGML and 2.x XML bank, credit-card and investment statements, read by a
  tolerant reader of our own (:mod:`.ofx`);
- ``mt940``: SWIFT MT940 and MT942 with ``mt-940`` (:mod:`.mt940`);
- ``camt053``: ISO 20022 camt.053, camt.052 and camt.054 with ``lxml``, also a ZIP archive
  of such files (:mod:`.camt053`).

Contract of :func:`parse_statement`: a :class:`ParsedStatement` whose lines carry the
booked entry's amount (> 0, minor units of its currency: ISO 4217 precision, else
``decimal_places``; never rounded) and direction from the account holder's point of view
(money in = ``credit``), each with its own account, and a stable ``external_id``
(:func:`.common.with_stable_ids`), so importing the same file, an overlapping file or the
final statement after the interim one creates nothing twice. Lines it leaves out are listed
with a reason; a file it cannot read is a 400 ``VALIDATION_ERROR`` naming the file, the
entry/line and the field; a bank's error response is a 422 ``BANK_ERROR_RESPONSE``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from ledger.importers.camt053 import parse_camt053
from ledger.importers.common import (
    STATEMENT_LINES_MAX,
    BankErrorResponse,
    ParsedStatement,
    SkippedLine,
    StatementError,
    StatementLine,
    clean_account,
    clean_text,
    with_stable_ids,
)
from ledger.importers.csv_format import parse_csv
from ledger.importers.mt940 import parse_mt940
from ledger.importers.ofx import parse_ofx

FORMATS: Final = ("csv", "ofx", "mt940", "camt053")
# Other names a user may send for a format (the report says the canonical one).
FORMAT_ALIASES: Final = {
    "qfx": "ofx",
    "mt942": "mt940",
    "camt": "camt053",
    "camt052": "camt053",
    "camt054": "camt053",
}
FORMAT_NAMES: Final = (*FORMATS, *FORMAT_ALIASES)

__all__ = [
    "FORMATS",
    "FORMAT_ALIASES",
    "FORMAT_NAMES",
    "BankErrorResponse",
    "ParsedStatement",
    "SkippedLine",
    "StatementError",
    "StatementLine",
    "detect_format",
    "parse_statement",
]


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
        (".942", "mt940"),
    ):
        if name.endswith(suffix):
            return fmt
    if content.startswith(b"PK\x03\x04"):
        return "camt053"  # a ZIP archive: German banks deliver camt files so
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


# Control characters (NUL above all: PostgreSQL text cannot hold it) become spaces: a bank's
# file may carry them in any text field, and they are never part of what a field means.
_CONTROLS: Final = dict.fromkeys((*range(32), 127), " ")


def _text(value: str | None) -> str | None:
    return value.translate(_CONTROLS).strip() or None if value is not None else None


def _printable(line: StatementLine) -> StatementLine:
    """``line`` without control characters in any of its texts (white space collapsed where
    the text is prose), its account as compared (:func:`.common.clean_account`)."""
    return replace(
        line,
        account=clean_account(_text(line.account)),
        bank_reference=_text(line.bank_reference),
        description=clean_text(_text(line.description)),
        external_id=_text(line.external_id),
        metadata={
            _text(key) or "_": _text(value) if isinstance(value, str) else value
            for key, value in line.metadata.items()
        },
    )


def parse_statement(
    content: bytes,
    fmt: str,
    *,
    mapping: dict[str, Any] | None = None,
    decimal_places: int = 2,
) -> ParsedStatement:
    """The transactions of a statement file, with stable external ids (module docstring).

    Raises:
        StatementError: the file is not a readable statement of ``fmt`` (400).
        BankErrorResponse: the file is the bank's error response (422).
    """
    fmt = FORMAT_ALIASES.get(fmt, fmt)
    if fmt == "csv":
        parsed = parse_csv(content, mapping or {}, decimal_places)
    elif mapping is not None:
        raise StatementError("a column mapping is for csv files only", "mapping")
    elif fmt == "ofx":
        parsed = parse_ofx(content, decimal_places)
    elif fmt == "mt940":
        parsed = parse_mt940(content, decimal_places)
    elif fmt == "camt053":
        parsed = parse_camt053(content, decimal_places)
    else:
        raise StatementError(f"format is one of {', '.join(FORMATS)}", "format")
    if len(parsed.lines) > STATEMENT_LINES_MAX:
        raise StatementError(
            f"a statement has at most {STATEMENT_LINES_MAX} transactions; split the file"
        )
    lines = [
        _printable(replace(line, account=clean_account(line.account))) for line in parsed.lines
    ]
    return ParsedStatement(
        kind=parsed.kind,
        lines=with_stable_ids(lines),
        skipped=parsed.skipped,
        warnings=parsed.warnings,
    )
