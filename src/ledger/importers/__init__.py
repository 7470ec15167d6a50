"""Bank statement files → records (``POST /v1/records/import``, ``ledger records import``).

Formats and parsers (each a maintained PyPI package, chosen after checking the candidates):

- ``csv``: the standard library's ``csv`` with a column mapping (:mod:`.csv_format`);
- ``ofx``: ``ofxtools`` (OFX 1.x SGML and 2.x XML; bank and credit-card statements);
- ``mt940``: ``mt-940`` (SWIFT MT940);
- ``camt053``: ``pycamt`` (ISO 20022 camt.053, also camt.052; lxml with entity resolution
  and network access off).

Contract of :func:`parse_statement`:

- Every transaction becomes one :class:`StatementLine`: a positive amount in minor units of
  the statement's currency (its ISO 4217 precision, else ``decimal_places``), a direction
  from the bank's point of view (money in = ``credit``), a date, a description and metadata
  (account, currency, the statement's own references). A zero amount is skipped; an amount
  with more decimals than the currency has is refused (never rounded).
- ``external_id`` is stable, so importing the same file again creates nothing new: the
  statement's own transaction id (OFX ``FITID``; MT940 bank reference, else the customer
  reference unless ``NONREF``; camt.053 ``AcctSvcrRef`` with the ``EndToEndId`` of a batch
  entry's part, else ``NtryRef``), else ``sha256:`` of the transaction's content. When an
  id repeats within a file, its 2nd, 3rd … occurrence gets ``#2``, ``#3`` … (file order).
- A file that cannot be read in the format is a 400 ``VALIDATION_ERROR`` with
  ``details.field = "file"`` and the parser's reason.
"""

from __future__ import annotations

from ledger.importers.common import (
    FORMATS,
    StatementError,
    StatementLine,
    detect_format,
    parse_statement,
    to_record_inputs,
)

__all__ = [
    "FORMATS",
    "StatementError",
    "StatementLine",
    "detect_format",
    "parse_statement",
    "to_record_inputs",
]
