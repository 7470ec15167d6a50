"""Domain errors: one class per error code of the API contract (docs/api.md §1).

A domain error is bad input or a rule the request breaks; it is never a bug (bugs are
asserts). Each class fixes its HTTP status and its contract code, so the API layer maps any
of them to the error envelope without a table of special cases.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LedgerError(Exception):
    """Base of every error that reaches a client as ``{"code", "message", "details"}``."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class ValidationError(LedgerError):
    status_code = 400
    code = "VALIDATION_ERROR"


class Unauthenticated(LedgerError):
    status_code = 401
    code = "UNAUTHENTICATED"


class NotFound(LedgerError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(LedgerError):
    """Base of the 409 family."""

    status_code = 409
    code = "CONFLICT"


class DuplicateCode(Conflict):
    code = "DUPLICATE_CODE"


class IdempotencyConflict(Conflict):
    code = "IDEMPOTENCY_CONFLICT"


class AlreadyReversed(Conflict):
    code = "ALREADY_REVERSED"


class AlreadyMatched(Conflict):
    code = "ALREADY_MATCHED"


class PossibleDuplicate(Conflict):
    code = "POSSIBLE_DUPLICATE"


class ConcurrencyConflict(Conflict):
    """Another writer appended to the same aggregate version first; the caller may retry."""

    code = "CONCURRENCY_CONFLICT"


class DomainRuleViolated(LedgerError):
    """Base of the 422 family."""

    status_code = 422
    code = "UNPROCESSABLE"


class JournalUnbalanced(DomainRuleViolated):
    code = "JOURNAL_UNBALANCED"


class TotalMismatch(DomainRuleViolated):
    """A request's stated total differs from the total of its entries (seed-compatible
    endpoints: ``total_amount``, ``totalAmount``)."""

    code = "TOTAL_MISMATCH"


class InsufficientFunds(DomainRuleViolated):
    code = "INSUFFICIENT_FUNDS"


class LedgerNotFound(DomainRuleViolated):
    code = "LEDGER_NOT_FOUND"


class DataStreamNotFound(DomainRuleViolated):
    """A record data stream named in a body has no record: no stream by that key exists
    (a ``ledger:<code>`` stream naming no ledger is ``LEDGER_NOT_FOUND``)."""

    code = "DATA_STREAM_NOT_FOUND"


class AmountOverflow(DomainRuleViolated):
    """A total or balance would leave the signed 64-bit range (``limits.TOTAL_MINOR_MAX``)."""

    code = "AMOUNT_OVERFLOW"


class LedgerClosed(DomainRuleViolated):
    code = "LEDGER_CLOSED"


class CurrencyUnknown(DomainRuleViolated):
    code = "CURRENCY_UNKNOWN"


class CurrencyMismatch(DomainRuleViolated):
    code = "CURRENCY_MISMATCH"


class FxRateNotFound(DomainRuleViolated):
    code = "FX_RATE_NOT_FOUND"


class InvalidState(DomainRuleViolated):
    code = "INVALID_STATE"


class MatchUnbalanced(DomainRuleViolated):
    code = "MATCH_UNBALANCED"


class LedgerAmbiguous(DomainRuleViolated):
    """A ledger named by its name (not unique) where several ledgers have that name."""

    code = "LEDGER_AMBIGUOUS"


class LedgerTypeMismatch(DomainRuleViolated):
    """A ledger whose type is not the one the request states or needs."""

    code = "LEDGER_TYPE_MISMATCH"


class PayloadTooLarge(LedgerError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class RateLimited(LedgerError):
    status_code = 429
    code = "RATE_LIMITED"


class Unavailable(LedgerError):
    status_code = 503
    code = "UNAVAILABLE"
