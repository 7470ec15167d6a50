-- A failing asynchronous projection, recorded (issue 12; ledger/projections/failures.py).
--
-- The projection runner (ledger/projections/runner.py) folds the log one batch per
-- transaction; when an event cannot be applied the batch rolls back and the runner retries
-- with back-off. What fails is recorded here, outside the rolled-back transaction, so that
-- `ledger projections status`, `GET /ready` and `GET /metrics` of every process show it.
--
-- One row per projection that has ever failed. The failing_* columns describe the current
-- failure and are all NULL when there is none: the step that folds past the failing event
-- clears them in the transaction that moves the tracking row. failures_total counts every
-- failed attempt ever recorded (a Prometheus counter that survives restarts).
--
-- A table of its own: ledger_tracking keeps eventsourcing's layout, which the stock library
-- reads and writes (ledger audit verify).
CREATE TABLE IF NOT EXISTS ledger_projection_failures (
    projection_name text PRIMARY KEY,
    failures_total bigint NOT NULL CHECK (failures_total > 0),
    -- The position of the event that could not be applied.
    failing_position bigint CHECK (failing_position > 0),
    -- The exception's class and its first line, bounded (never a traceback: that is logged).
    failing_error_class text,
    failing_error_message text,
    failing_since timestamptz,
    -- Attempts at this position since failing_since.
    failing_attempts integer CHECK (failing_attempts > 0),
    failing_last_attempt_at timestamptz,
    CHECK (
        (failing_position IS NULL) = (failing_error_class IS NULL)
        AND (failing_position IS NULL) = (failing_error_message IS NULL)
        AND (failing_position IS NULL) = (failing_since IS NULL)
        AND (failing_position IS NULL) = (failing_attempts IS NULL)
        AND (failing_position IS NULL) = (failing_last_attempt_at IS NULL)
    )
);
