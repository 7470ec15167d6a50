"""Failing asynchronous projections, recorded in ``ledger_projection_failures`` (0011).

Contract
--------
- :func:`record_failure` is called by the projection runner after a step of **one event**
  failed and rolled back (``runner.ProjectionRunner``): the event that could not be applied
  is then the one right after the projection's tracking position. It counts the attempt
  (``attempts`` restarts at 1 when the failing position changes) and returns the record.
- The step that folds past the failing event clears the failure in its own transaction
  (:data:`CLEAR_FAILURE_CTE`, used by ``runner.step``); a rebuild that swaps in tables past
  it clears it too (:func:`clear_failures`). ``failures_total`` is kept: a counter.
- :func:`read_failures` is what ``ledger projections status``, ``GET /ready`` and
  ``GET /metrics`` show: one primary-key-sized table, never a scan of the log.

What is recorded never holds tenant data beyond ids: the exception's class and its first
line, cut at :data:`MESSAGE_CHARS_MAX` (a database error's message without its ``DETAIL``,
which quotes row values). Projection code states what it cannot apply by ids and positions,
never by amounts or names. The traceback goes to the log only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import asyncpg

from ledger import limits
from ledger.store.database import DbConnection, DbSource

MESSAGE_CHARS_MAX: Final = limits.PROJECTION_FAILURE_MESSAGE_CHARS_MAX
TABLE: Final = "ledger_projection_failures"

_FAILING_COLUMNS: Final = (
    "failing_position, failing_error_class, failing_error_message, failing_since,"
    " failing_attempts, failing_last_attempt_at"
)
_CLEARED: Final = ", ".join(f"{c.strip()} = NULL" for c in _FAILING_COLUMNS.split(","))

# A data-modifying CTE for the statement that moves a tracking row ($1 the projection's name,
# $2 its new position): the failure is cleared in the same transaction, at no extra round trip.
CLEAR_FAILURE_CTE: Final = (
    f"WITH cleared AS (UPDATE {TABLE} SET {_CLEARED}"
    " WHERE projection_name = $1 AND failing_position <= $2) "
)

_RECORD: Final = f"""
INSERT INTO {TABLE} AS f (projection_name, failures_total, {_FAILING_COLUMNS})
SELECT $1, 1, t.notification_id + 1, $2, $3, now(), 1, now()
  FROM ledger_tracking t WHERE t.application_name = $1
ON CONFLICT (projection_name) DO UPDATE SET
    failures_total = f.failures_total + 1,
    failing_since = CASE WHEN f.failing_position = excluded.failing_position
                         THEN f.failing_since ELSE excluded.failing_since END,
    failing_attempts = CASE WHEN f.failing_position = excluded.failing_position
                            THEN f.failing_attempts + 1 ELSE 1 END,
    failing_position = excluded.failing_position,
    failing_error_class = excluded.failing_error_class,
    failing_error_message = excluded.failing_error_message,
    failing_last_attempt_at = excluded.failing_last_attempt_at
RETURNING *
"""


@dataclass(frozen=True, slots=True)
class Failing:
    """A projection's current failure: the event at ``position`` cannot be applied."""

    position: int
    error_class: str
    error_message: str
    since: dt.datetime
    attempts: int
    last_attempt_at: dt.datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "error_class": self.error_class,
            "error_message": self.error_message,
            "since": self.since.isoformat(),
            "attempts": self.attempts,
            "last_attempt_at": self.last_attempt_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """A projection that has failed at least once: every failed attempt ever counted, and
    the current failure (None once it was folded past)."""

    name: str
    failures_total: int
    failing: Failing | None


def describe_error(error: BaseException) -> tuple[str, str]:
    """``(class, message)`` as recorded: the class's qualified name (without ``builtins``)
    and the message's first line, control characters replaced, at most
    :data:`MESSAGE_CHARS_MAX` characters."""
    kind = type(error)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    # The first line only: a database error's DETAIL (which quotes row values) follows it.
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else ""
    text = "".join(c if c.isprintable() else "?" for c in text)
    if len(text) > MESSAGE_CHARS_MAX:
        text = text[: MESSAGE_CHARS_MAX - 1] + "…"
    return name[:MESSAGE_CHARS_MAX], text


def _record(row: asyncpg.Record) -> FailureRecord:
    failing = None
    if row["failing_position"] is not None:
        failing = Failing(
            position=int(row["failing_position"]),
            error_class=row["failing_error_class"],
            error_message=row["failing_error_message"],
            since=row["failing_since"],
            attempts=int(row["failing_attempts"]),
            last_attempt_at=row["failing_last_attempt_at"],
        )
    return FailureRecord(row["projection_name"], int(row["failures_total"]), failing)


async def record_failure(source: DbSource, name: str, error: BaseException) -> FailureRecord:
    """Record a failed attempt at the event after ``name``'s tracking position (module doc).

    Raises:
        whatever the database raises (the caller logs it and retries later).
    """
    error_class, message = describe_error(error)
    row = await source.fetchrow(_RECORD, name, error_class, message)
    assert row is not None, f"no tracking row for {name}"
    return _record(row)


async def read_failures(source: DbSource) -> dict[str, FailureRecord]:
    """Every projection that has ever failed, by name."""
    rows = await source.fetch(f"SELECT * FROM {TABLE}")
    return {r["projection_name"]: _record(r) for r in rows}


async def clear_failures(
    conn: DbConnection, names: Sequence[str], position: int, *, schema: str = "public"
) -> None:
    """Clear the failures of ``names`` at or below ``position`` (their tables now reflect
    it: a rebuild's swap). ``schema``: where the live tables are (quoted by the caller)."""
    await conn.execute(
        f"UPDATE {schema}.{TABLE} SET {_CLEARED}"
        " WHERE projection_name = ANY($1::text[]) AND failing_position <= $2",
        list(names),
        position,
    )
