-- Read tables of records and reconciliation (issue 5, docs/api.md §6). Written inline by
-- ledger/projections/records.py in the append's transaction; all are folds of ledger_events.
-- Constraints are the database's second check of rules the command handlers check first.

-- Records from external data streams (bank statements, processors ...). ``record_id`` counts
-- 1, 2, 3 ... per tenant (counter ``record_id`` in tenant_counters, handed out in the batch).
CREATE TABLE IF NOT EXISTS records (
    tenant_id uuid NOT NULL,
    record_id bigint NOT NULL CHECK (record_id > 0),
    record_uuid uuid NOT NULL UNIQUE,  -- the Record aggregate's id in ledger_events
    data_stream_key text NOT NULL,
    external_id text,
    amount bigint NOT NULL CHECK (amount > 0),
    direction text NOT NULL CHECK (direction IN ('credit', 'debit')),
    date date NOT NULL,
    decimal_places smallint NOT NULL CHECK (decimal_places BETWEEN 0 AND 18),
    description text,
    metadata jsonb NOT NULL DEFAULT '{}',
    request_sha256 bytea NOT NULL,
    created_at timestamptz NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (tenant_id, record_id),
    -- external_id is unique per data stream. external_id before the stream key: a lookup by
    -- (tenant, external_id) matches this index further than any other, whatever the
    -- statistics (with the stream key second it tied with records_stream_idx).
    UNIQUE (tenant_id, external_id, data_stream_key)
);
CREATE INDEX IF NOT EXISTS records_stream_idx
    ON records (tenant_id, data_stream_key, date, record_id);
CREATE INDEX IF NOT EXISTS records_date_idx ON records (tenant_id, date, record_id);

-- Matches: one row per Match aggregate; ``status`` is active until RecordUnmatched.
CREATE TABLE IF NOT EXISTS matches (
    match_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    status text NOT NULL CHECK (status IN ('active', 'unmatched')),
    difference bigint NOT NULL,
    tolerance bigint NOT NULL CHECK (tolerance >= 0),
    decimal_places smallint NOT NULL,
    rule jsonb,
    note text,
    run_id uuid,
    created_at timestamptz NOT NULL,
    matched_position bigint NOT NULL,
    unmatched_at timestamptz,
    unmatched_position bigint,
    position bigint NOT NULL,  -- the position of the match's last event
    version bigint NOT NULL,
    CHECK ((status = 'active') = (unmatched_position IS NULL))
);
CREATE INDEX IF NOT EXISTS matches_list_idx ON matches (tenant_id, matched_position);
CREATE INDEX IF NOT EXISTS matches_run_idx ON matches (run_id) WHERE run_id IS NOT NULL;

-- The items of every match, with the positions at which they entered and left it: the
-- reconciled status of an item at position P is "an item row with matched_position <= P and
-- (unmatched_position IS NULL OR unmatched_position > P)", a query, never a replay.
CREATE TABLE IF NOT EXISTS match_items (
    match_id uuid NOT NULL REFERENCES matches (match_id),
    item_index smallint NOT NULL,
    tenant_id uuid NOT NULL,
    record_id bigint,
    entry_id uuid,
    data_stream_key text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    direction text NOT NULL CHECK (direction IN ('credit', 'debit')),
    decimal_places smallint NOT NULL,
    matched_position bigint NOT NULL,
    unmatched_position bigint,
    PRIMARY KEY (match_id, item_index),
    CHECK (num_nonnulls(record_id, entry_id) = 1)
);
-- No item is in two active matches (the handler decides it on locked rows first).
CREATE UNIQUE INDEX IF NOT EXISTS match_items_active_record_uq
    ON match_items (tenant_id, record_id)
    WHERE record_id IS NOT NULL AND unmatched_position IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS match_items_active_entry_uq
    ON match_items (entry_id)
    WHERE entry_id IS NOT NULL AND unmatched_position IS NULL;
CREATE INDEX IF NOT EXISTS match_items_record_idx
    ON match_items (tenant_id, record_id) WHERE record_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS match_items_entry_idx
    ON match_items (entry_id) WHERE entry_id IS NOT NULL;

-- Completed (not dry) reconciliation runs; their matches carry run_id.
CREATE TABLE IF NOT EXISTS reconciliation_runs (
    run_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    left_stream text NOT NULL,
    right_stream text NOT NULL,
    rules jsonb NOT NULL,
    matched bigint NOT NULL,
    unmatched_left bigint NOT NULL,
    unmatched_right bigint NOT NULL,
    skipped bigint NOT NULL,
    created_at timestamptz NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS reconciliation_runs_list_idx
    ON reconciliation_runs (tenant_id, position);
