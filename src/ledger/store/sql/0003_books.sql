-- Read tables of the books (issue: ledgers, currencies, FX, journals, balances).
-- All are written inline, in the append's transaction, by the projections in
-- ledger/projections/, and all can be rebuilt from ledger_events. Constraints here are the
-- database's second check of rules the command handlers check first.

-- Per-tenant counters handed out inside group-commit batches (ledger num_id, journal number).
CREATE TABLE IF NOT EXISTS tenant_counters (
    tenant_id uuid NOT NULL,
    counter text NOT NULL,
    value bigint NOT NULL CHECK (value >= 0),
    PRIMARY KEY (tenant_id, counter)
);

-- A tenant's custom currencies (ISO 4217 ones are built in, see domain/currencies.py).
CREATE TABLE IF NOT EXISTS currencies (
    tenant_id uuid NOT NULL,
    code text NOT NULL CHECK (code ~ '^[A-Z][A-Z0-9]{2,9}$'),
    precision smallint NOT NULL CHECK (precision BETWEEN 0 AND 18),
    created_at timestamptz NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

-- FX rates: 1 base = rate quote, from effective_date on (latest setting of a date wins).
CREATE TABLE IF NOT EXISTS fx_rates (
    tenant_id uuid NOT NULL,
    base text NOT NULL,
    quote text NOT NULL,
    effective_date date NOT NULL,
    rate numeric NOT NULL CHECK (rate > 0),
    position bigint NOT NULL,
    PRIMARY KEY (tenant_id, base, quote, effective_date)
);

CREATE TABLE IF NOT EXISTS ledgers (
    ledger_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    num_id bigint NOT NULL CHECK (num_id > 0),
    code text NOT NULL,
    name text NOT NULL,
    type text NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
    normal_balance text NOT NULL CHECK (normal_balance IN ('debit', 'credit')),
    parent_id uuid REFERENCES ledgers (ledger_id),
    currency text,
    min_balance bigint CHECK (min_balance IS NULL OR currency IS NOT NULL),
    status text NOT NULL CHECK (status IN ('open', 'closed')),
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    position bigint NOT NULL,
    version bigint NOT NULL,
    depth smallint NOT NULL CHECK (depth BETWEEN 1 AND 16),
    -- The ledger itself and all its ancestors: a subtree is "WHERE $id = ANY(ancestor_ids)".
    ancestor_ids uuid[] NOT NULL,
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, num_id)
);
CREATE INDEX IF NOT EXISTS ledgers_ancestors_idx ON ledgers USING gin (ancestor_ids);
CREATE INDEX IF NOT EXISTS ledgers_parent_idx ON ledgers (tenant_id, parent_id);

CREATE TABLE IF NOT EXISTS journals (
    journal_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    number bigint NOT NULL CHECK (number > 0),
    status text NOT NULL CHECK (status IN ('posted', 'pending', 'reversed', 'voided')),
    date date NOT NULL,
    accrual_date date,
    effective_date date NOT NULL,
    description text,
    reference text,
    external_id text,
    currency text NOT NULL,
    base_currency text NOT NULL,
    request_sha256 bytea NOT NULL,
    duplicate_sha256 bytea NOT NULL,
    reversal_of uuid,
    reversed_by uuid,
    created_at timestamptz NOT NULL,
    position bigint NOT NULL,
    version bigint NOT NULL,
    -- The exact bytes of the 201 answer, replayed byte for byte for an idempotent retry.
    response bytea NOT NULL,
    UNIQUE (tenant_id, number),
    UNIQUE (tenant_id, external_id)
);
CREATE INDEX IF NOT EXISTS journals_list_idx ON journals (tenant_id, position);
CREATE INDEX IF NOT EXISTS journals_duplicate_idx ON journals (tenant_id, duplicate_sha256);
CREATE INDEX IF NOT EXISTS journals_reference_idx ON journals (tenant_id, reference);

CREATE TABLE IF NOT EXISTS journal_entries (
    entry_id uuid PRIMARY KEY,
    journal_id uuid NOT NULL REFERENCES journals (journal_id),
    tenant_id uuid NOT NULL,
    entry_index smallint NOT NULL,
    ledger_id uuid NOT NULL REFERENCES ledgers (ledger_id),
    direction text NOT NULL CHECK (direction IN ('debit', 'credit')),
    amount bigint NOT NULL CHECK (amount > 0),
    currency text NOT NULL,
    amount_base bigint NOT NULL,
    description text,
    metadata jsonb NOT NULL DEFAULT '{}',
    UNIQUE (journal_id, entry_index)
);
CREATE INDEX IF NOT EXISTS journal_entries_ledger_idx ON journal_entries (ledger_id);

-- Current totals per ledger and currency (every effective date; what limits check against).
-- numeric: sums of 64-bit amounts must never overflow.
CREATE TABLE IF NOT EXISTS balances (
    ledger_id uuid NOT NULL,
    currency text NOT NULL,
    tenant_id uuid NOT NULL,
    debits_posted numeric NOT NULL DEFAULT 0,
    credits_posted numeric NOT NULL DEFAULT 0,
    debits_pending numeric NOT NULL DEFAULT 0,
    credits_pending numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (ledger_id, currency)
);

-- Every change to a balance, as an immutable row: (effective date, position) locate it in
-- "book time" and "knowledge time", so as-of / known-at reads and statements are sums over
-- projected rows, never a replay. A pending entry adds a pending row; its commit adds a
-- pending reversal and a posted row at the commit's position; a void adds a pending reversal.
CREATE TABLE IF NOT EXISTS balance_movements (
    movement_id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL,
    ledger_id uuid NOT NULL,
    currency text NOT NULL,
    effective_date date NOT NULL,
    position bigint NOT NULL,
    journal_id uuid NOT NULL,
    entry_id uuid NOT NULL,
    debits_posted bigint NOT NULL DEFAULT 0,
    credits_posted bigint NOT NULL DEFAULT 0,
    debits_pending bigint NOT NULL DEFAULT 0,
    credits_pending bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS balance_movements_ledger_idx
    ON balance_movements (ledger_id, currency, effective_date, position);
