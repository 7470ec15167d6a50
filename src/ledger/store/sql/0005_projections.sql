-- Asynchronous projections, read-your-writes and audit (issue 4).
--
-- 1. Notifications carry positions: ledger_append_events (0001) sends the last position it
--    appended as the payload of its one NOTIFY (decimal text), so a listener learns the
--    log's committed position without a query. Asynchronous projection runners notify
--    `ledger_tracking` with `<projection name>:<position>` in the transaction that moves
--    their tracking row.
-- 2. The trial-balance projection's tables (ledger.projections.trial_balance), written by the
--    asynchronous runner, never inside the append's transaction.

-- Posted base-currency totals per tenant, day (effective date) and ledger: the trial
-- balance as of any date is a sum over days. numeric: sums of int64 amounts never overflow.
CREATE TABLE IF NOT EXISTS trial_balance_daily (
    tenant_id uuid NOT NULL,
    effective_date date NOT NULL,
    ledger_id uuid NOT NULL,
    debits_base numeric NOT NULL DEFAULT 0,
    credits_base numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, effective_date, ledger_id)
);

-- Pending journals' base lines, kept until the journal is committed (added to the daily
-- totals at its effective date) or voided (dropped): the fold needs nothing but its own rows.
CREATE TABLE IF NOT EXISTS trial_balance_pending (
    journal_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    effective_date date NOT NULL,
    ledger_ids uuid[] NOT NULL,
    debits_base bigint[] NOT NULL,
    credits_base bigint[] NOT NULL
);
