-- Read tables for tenants and API keys, written inline by TenantsProjection in the same
-- transaction as the events (ledger/projections/tenants.py). The constraints are the
-- database's second check of the rules the commands check first: one tenant per slug, one
-- row per key.
CREATE TABLE IF NOT EXISTS tenants (
    tenant_id uuid PRIMARY KEY,
    slug text NOT NULL UNIQUE,
    name text NOT NULL,
    base_currency text NOT NULL,
    created_at timestamptz NOT NULL,
    position bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS api_keys (
    key_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (tenant_id),
    secret_sha256 bytea NOT NULL CHECK (octet_length(secret_sha256) = 32),
    version bigint NOT NULL,
    issued_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS api_keys_tenant_idx ON api_keys (tenant_id);
