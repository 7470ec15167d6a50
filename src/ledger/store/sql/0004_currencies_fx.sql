-- The current version of each FX pair aggregate (ledger/domain/fx.py), written inline by
-- CurrenciesProjection with every FxRateSet. The set-rate handler reads it FOR UPDATE, so
-- concurrent sets of one pair (from any process) queue on the row instead of failing with a
-- version conflict; the event store's (originator_id, originator_version) key stays the
-- database's second check. A pair's first set finds no row: two first sets racing from two
-- processes are told apart by that key (one gets CONCURRENCY_CONFLICT and may retry).
CREATE TABLE IF NOT EXISTS fx_pairs (
    pair_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    base text NOT NULL,
    quote text NOT NULL,
    version bigint NOT NULL CHECK (version > 0),
    position bigint NOT NULL,
    UNIQUE (tenant_id, base, quote)
);
