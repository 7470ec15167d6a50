"""Importing a bank statement file into a data stream (``POST /v1/records/import``,
``ledger records import``): one use case for the API and the CLI.

The steps: parse (:func:`ledger.importers.parse_statement`: pure, CPU only) → plan
(:func:`plan_streams`: pure; which data stream each line goes to) → check the target streams'
accounts (one indexed read per stream) → import the records (group commit, per-line outcomes)
→ a :class:`StatementImportReport` that accounts for every line of the file: created,
existing (imported before: by this file, an overlapping one, or the interim statement of the
same day), skipped with a reason (pending, zero amount, not a transaction) and refused (its
error).

Accounts — a data stream holds one bank account's lines, never several merged silently:

- a file whose lines belong to more than one account is refused (422
  ``STATEMENT_ACCOUNT_MISMATCH``) unless ``split_by_account`` is set; then each account's
  lines go to the stream ``<data_stream_key>:<account>``;
- the caller may name the ``account`` it expects; a file of another account is refused;
- a stream's account is the one its earliest record was imported with (``metadata.account``);
  a file of another account is refused. Records without an account (CSV, ``POST
  /v1/records``) bind nothing. Two first imports of different accounts racing into a new
  stream are not serialised (both may land); the check is for the operator's mistakes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Final
from uuid import UUID

from ledger.commands.records import (
    STREAM_KEY_LENGTH_MAX,
    ImportedRecord,
    RecordCommands,
    RecordInput,
    check_record_input,
    check_stream_key,
)
from ledger.errors import DomainRuleViolated, LedgerError
from ledger.importers import (
    FORMAT_ALIASES,
    BankErrorResponse,
    ParsedStatement,
    SkippedLine,
    StatementError,
    StatementLine,
    detect_format,
    parse_statement,
)
from ledger.importers.common import clean_account
from ledger.store.database import DbPool

# Each stream's account: its earliest record's (records_stream_idx: tenant, stream, date,
# record_id), one index probe per stream, all in one round trip.
_STREAM_ACCOUNTS: Final = """
SELECT s.key, (SELECT r.metadata->>'account' FROM records r
               WHERE r.tenant_id = $1 AND r.data_stream_key = s.key
               ORDER BY r.date, r.record_id LIMIT 1) AS account
FROM unnest($2::text[]) AS s(key)
"""


class StatementAccountMismatch(DomainRuleViolated):
    """The file's accounts do not fit the data stream (422; see the module docstring)."""

    code = "STATEMENT_ACCOUNT_MISMATCH"


@dataclass(frozen=True, kw_only=True)
class StatementImportRequest:
    """A statement file to import and how (shape-checked by the caller)."""

    tenant_id: UUID
    content: bytes
    filename: str | None
    data_stream_key: str
    format: str | None = None  # detected from the file when None
    mapping: dict[str, Any] | None = None  # CSV only
    decimal_places: int = 2  # CSV, and currencies outside ISO 4217
    split_by_account: bool = False
    account: str | None = None  # the account the caller expects the file to hold


@dataclass(frozen=True, kw_only=True)
class LineOutcome:
    """What became of one imported line."""

    location: str
    data_stream_key: str
    outcome: ImportedRecord | LedgerError


@dataclass(frozen=True, kw_only=True)
class StatementImportReport:
    format: str
    kind: str
    accounts: list[str]
    streams: list[str]
    lines: list[LineOutcome]
    skipped: list[SkippedLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(
            isinstance(o.outcome, ImportedRecord) and not o.outcome.replayed for o in self.lines
        )

    @property
    def existing(self) -> int:
        return sum(isinstance(o.outcome, ImportedRecord) and o.outcome.replayed for o in self.lines)

    @property
    def refused(self) -> int:
        return sum(isinstance(o.outcome, LedgerError) for o in self.lines)

    def summary(self) -> dict[str, Any]:
        """The report's head (everything but the per-line records), JSON-ready."""
        return {
            "format": self.format,
            "kind": self.kind,
            "accounts": self.accounts,
            "data_stream_keys": self.streams,
            "created": self.created,
            "existing": self.existing,
            "skipped": len(self.skipped),
            "refused": self.refused,
            "failed": self.refused,  # the earlier name of ``refused``, kept for clients
            "skipped_lines": [
                {"location": s.location, "reason": s.reason, "detail": s.detail}
                for s in self.skipped
            ],
            "warnings": self.warnings,
        }


def normalized_account(account: str) -> str:
    """An account as compared: as the readers store it (:func:`clean_account`: IBANs without
    their spaces), in any case."""
    return (clean_account(account) or "").upper()


def plan_streams(
    lines: list[StatementLine],
    data_stream_key: str,
    *,
    split_by_account: bool,
    expected_account: str | None,
) -> dict[str | None, str]:
    """The data stream of each account of ``lines`` (None: lines without an account).

    Raises:
        StatementAccountMismatch: the file holds another account than ``expected_account``,
            or several accounts without ``split_by_account``.
        ValidationError: a split stream's key would be unusable (too long).
    """
    counts: dict[str | None, int] = {}
    for line in lines:
        counts[line.account] = counts.get(line.account, 0) + 1
    named = [a for a in counts if a is not None]
    if expected_account is not None:
        others = [a for a in named if normalized_account(a) != normalized_account(expected_account)]
        if others:
            raise StatementAccountMismatch(
                f"the file holds lines of account {', '.join(others)}, not of {expected_account}",
                {"field": "account", "expected": expected_account, "accounts": named},
            )
    if len(counts) > 1 and not split_by_account:
        described = ", ".join(f"{a or 'no account'} ({n} lines)" for a, n in counts.items())
        raise StatementAccountMismatch(
            f"the file holds the lines of {len(counts)} accounts: {described}; import one"
            " file per account, or send split_by_account to put each account's lines in the"
            f" data stream {data_stream_key}:<account>",
            {"field": "file", "accounts": list(counts)},
        )
    if not split_by_account:
        return dict.fromkeys(counts, data_stream_key)
    plan: dict[str | None, str] = {}
    for account in counts:
        key = data_stream_key if account is None else f"{data_stream_key}:{account}"
        if len(key) > STREAM_KEY_LENGTH_MAX:
            check_stream_key(key, "data_stream_key")
        plan[account] = key
    return plan


async def _check_stream_accounts(
    pool: DbPool, tenant_id: UUID, plan: dict[str | None, str]
) -> None:
    streams = {stream: account for account, stream in plan.items() if account is not None}
    if not streams:
        return
    for row in await pool.fetch(_STREAM_ACCOUNTS, tenant_id, list(streams)):
        stream, bound, account = row["key"], row["account"], streams[row["key"]]
        if bound and normalized_account(bound) != normalized_account(account):
            raise StatementAccountMismatch(
                f"the data stream {stream} holds the lines of account {bound}; this file's"
                f" lines are of account {account}: import them into another data stream",
                {
                    "field": "data_stream_key",
                    "data_stream_key": stream,
                    "stream_account": bound,
                    "accounts": [account],
                },
            )


async def import_statement(
    records: RecordCommands, request: StatementImportRequest
) -> StatementImportReport:
    """Parse, plan, check and import a statement file (the module docstring).

    Raises:
        StatementError: the file cannot be read (400, ``details.field``/``location``).
        BankErrorResponse: the file is the bank's error response (422).
        StatementAccountMismatch: the file's accounts do not fit the stream (422).
        ValidationError: a line is not a valid record (400).
    """
    try:
        fmt = request.format or detect_format(request.filename, request.content)
        fmt = FORMAT_ALIASES.get(fmt, fmt)
        # Parsing is CPU work: off the event loop.
        parsed: ParsedStatement = await asyncio.to_thread(
            parse_statement,
            request.content,
            fmt,
            mapping=request.mapping,
            decimal_places=request.decimal_places,
        )
    except (StatementError, BankErrorResponse) as e:
        raise _in_file(e, request.filename) from None
    plan = plan_streams(
        parsed.lines,
        request.data_stream_key,
        split_by_account=request.split_by_account,
        expected_account=request.account,
    )
    inputs = [
        check_record_input(record_input(line, plan[line.account]), f"$.file[{i}]")
        for i, line in enumerate(parsed.lines)
    ]
    await _check_stream_accounts(records.pool, request.tenant_id, plan)
    outcomes = await records.import_records(request.tenant_id, inputs) if inputs else []
    return StatementImportReport(
        format=fmt,
        kind=parsed.kind,
        accounts=[a for a in plan if a is not None],
        streams=sorted(set(plan.values())),
        lines=[
            LineOutcome(location=line.location, data_stream_key=r.data_stream_key, outcome=o)
            for line, r, o in zip(parsed.lines, inputs, outcomes, strict=True)
        ],
        skipped=parsed.skipped,
        warnings=parsed.warnings,
    )


def _in_file(error: LedgerError, filename: str | None) -> LedgerError:
    """``error`` naming the file it is about (message and ``details.file``)."""
    if filename:
        error.message = f"{filename}: {error.message}"
        error.details["file"] = filename
        error.args = (error.message,)
    return error


def record_input(line: StatementLine, data_stream_key: str) -> RecordInput:
    """The record of a statement line; its account, currency and bank reference go into the
    metadata, and a line whose id is its identity is fingerprinted by identity only."""
    metadata = dict(line.metadata)
    for key, value in (
        ("account", line.account),
        ("currency", line.currency),
        ("bank_reference", line.bank_reference),
    ):
        if value is not None:
            metadata.setdefault(key, value)
    return RecordInput(
        data_stream_key=data_stream_key,
        amount=line.amount,
        direction=line.direction,
        date=line.date,
        decimal_places=line.decimal_places,
        description=line.description,
        metadata=metadata,
        external_id=line.external_id,
        identity_only=line.id_is_identity,
    )
