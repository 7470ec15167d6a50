-- Books at volume (issue 8): balances maintained with the parent cascade, per-date
-- checkpoints and per-bucket changes, so that every balance read, statement page and trial
-- balance is a handful of index probes whatever the length of history. See the design note in
-- ledger/projections/books.py. Everything here is written by ledger_books_apply (below), in
-- the append's transaction, and rebuilt from the log like every other read table.
--
-- Column families (each a sum, numeric so that sums of int64 amounts never overflow):
--   own:  debits_posted, credits_posted, debits_pending, credits_pending (native currency);
--         debits_base, credits_base (posted, in the tenant's base currency: the trial balance);
--   tree: tree_debits_posted, tree_credits_posted, tree_debits_pending, tree_credits_pending:
--         the ledger and all its descendants (the parent cascade, "including_children").

-- 1. Movements carry their base amounts (posted only), so that base totals are sums of
--    movements like everything else.
ALTER TABLE balance_movements
    ADD COLUMN IF NOT EXISTS debits_base bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS credits_base bigint NOT NULL DEFAULT 0;
UPDATE balance_movements m SET
    debits_base = CASE WHEN m.debits_posted > 0 THEN e.amount_base ELSE 0 END,
    credits_base = CASE WHEN m.credits_posted > 0 THEN e.amount_base ELSE 0 END
FROM journal_entries e
WHERE e.entry_id = m.entry_id AND (m.debits_posted > 0 OR m.credits_posted > 0);

-- Statements walk (effective date, position, movement id) of one ledger; the included columns
-- let opening balances of a day be summed from the index alone.
DROP INDEX IF EXISTS balance_movements_ledger_idx;
CREATE INDEX IF NOT EXISTS balance_movements_statement_idx
    ON balance_movements (ledger_id, effective_date, position, movement_id)
    INCLUDE (currency, debits_posted, credits_posted);
-- known_at reads fold the movements of at most one bucket of positions (see below).
CREATE INDEX IF NOT EXISTS balance_movements_position_idx ON balance_movements (position);

-- Journal documents are rendered from their JournalPosted event when read (a pure function of
-- the event and its position, ledger/projections/journal_document.py), not stored: a journal
-- row is a few hundred bytes instead of a kilobyte and more, and neither a posting nor a
-- rebuild renders JSON it may never serve.
ALTER TABLE journals DROP COLUMN IF EXISTS response;

-- 2. Current totals: own and including children, per (ledger, currency). A row exists for
--    every ledger that has, or has a descendant that has, a movement in the currency.
ALTER TABLE balances
    ADD COLUMN IF NOT EXISTS debits_base numeric NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS credits_base numeric NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS tree_debits_posted numeric NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS tree_credits_posted numeric NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS tree_debits_pending numeric NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS tree_credits_pending numeric NOT NULL DEFAULT 0,
    -- The latest effective date of any movement counted in the row (own or subtree): as of
    -- any date from then on, the row itself is the answer (no checkpoint to look up).
    ADD COLUMN IF NOT EXISTS last_date date NOT NULL DEFAULT '-infinity';
CREATE INDEX IF NOT EXISTS balances_tenant_idx ON balances (tenant_id, ledger_id, currency);
-- Rows updated by every batch keep room on their page, so that an update stays a HOT update
-- (no new index entries: none of the updated columns is indexed).
ALTER TABLE balances SET (fillfactor = 80);

-- 3. Checkpoints: per (ledger, currency, effective date with activity in the subtree), the
--    totals of every movement dated on or before that date (as known now). "As of D" is the
--    row with the greatest date <= D: one index probe. A posting dated D adds to D's row and
--    to every later row of its ledger and ancestors (a back-dated posting costs one row update
--    per later date with activity).
CREATE TABLE IF NOT EXISTS balance_checkpoints (
    ledger_id uuid NOT NULL,
    currency text NOT NULL,
    effective_date date NOT NULL,
    debits_posted numeric NOT NULL,
    credits_posted numeric NOT NULL,
    debits_pending numeric NOT NULL,
    credits_pending numeric NOT NULL,
    debits_base numeric NOT NULL,
    credits_base numeric NOT NULL,
    tree_debits_posted numeric NOT NULL,
    tree_credits_posted numeric NOT NULL,
    tree_debits_pending numeric NOT NULL,
    tree_credits_pending numeric NOT NULL,
    PRIMARY KEY (ledger_id, currency, effective_date)
) WITH (fillfactor = 80);

-- 4. Changes: the same deltas summed per (ledger, currency, bucket of 1,024 positions,
--    effective date). "As known at P" subtracts the changes of the buckets after P's, and the
--    movements of P's own bucket after P: its cost grows with what happened after P (one row per
--    bucket and date touched, plus at most one bucket of movements), never with history.
--    Buckets are fixed ranges of positions, so the rows are the same however the log was
--    batched (live group commits or a rebuild): the table is a fold like any other.
CREATE TABLE IF NOT EXISTS balance_changes (
    ledger_id uuid NOT NULL,
    currency text NOT NULL,
    bucket bigint NOT NULL,
    effective_date date NOT NULL,
    tenant_id uuid NOT NULL,
    debits_posted numeric NOT NULL,
    credits_posted numeric NOT NULL,
    debits_pending numeric NOT NULL,
    credits_pending numeric NOT NULL,
    debits_base numeric NOT NULL,
    credits_base numeric NOT NULL,
    tree_debits_posted numeric NOT NULL,
    tree_credits_posted numeric NOT NULL,
    tree_debits_pending numeric NOT NULL,
    tree_credits_pending numeric NOT NULL,
    PRIMARY KEY (ledger_id, currency, bucket, effective_date)
) WITH (fillfactor = 80);
CREATE INDEX IF NOT EXISTS balance_changes_tenant_idx ON balance_changes (tenant_id, bucket);

-- The bucket of a position, and the last position of that bucket (the one definition of the
-- bucket size: readers call these too).
CREATE OR REPLACE FUNCTION ledger_books_bucket(p_position bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT p_position / 1024 $$;

CREATE OR REPLACE FUNCTION ledger_books_bucket_last(p_position bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_position >= 9223372036854774784 THEN 9223372036854775807
                ELSE (p_position / 1024 + 1) * 1024 - 1 END
$$;

-- The one write of the books: everything a batch of journal events changes, in one call (one
-- round trip per batch). Arguments are column arrays (see ledger/projections/books.py):
--   p_j_*  journals posted in this batch, with their status after the whole batch;
--   p_e_*  their entries;
--   p_s_*  the status after this batch of journals posted before it (commit, void, reversal);
--   p_t_*  settlements (commit or void) of pending journals, with the settling position;
--   p_c_*  the largest journal number per tenant;
--   p_maintain  false to write journals, entries and movements only (a rebuild's bulk load).
-- Movements are derived here: an entry of a posted journal is a posted movement, of a pending
-- one a pending movement; a settlement releases each entry's pending movement and, when
-- committed, posts it (at the settling position and the journal's effective date). The
-- movements are then summed up the tree (ledgers.ancestor_ids) into balances, checkpoints and
-- changes. Rows are written in key order, so concurrent writers never wait in a cycle.
CREATE OR REPLACE FUNCTION ledger_books_apply(
    p_j_ids uuid[], p_j_tenants uuid[], p_j_numbers int8[], p_j_posted_as text[],
    p_j_statuses text[], p_j_dates date[], p_j_accruals date[], p_j_effective date[],
    p_j_descriptions text[], p_j_references text[], p_j_externals text[], p_j_currencies text[],
    p_j_bases text[], p_j_requests bytea[], p_j_duplicates bytea[], p_j_reversal_of uuid[],
    p_j_reversed_by uuid[], p_j_created timestamptz[], p_j_positions int8[], p_j_versions int8[],
    p_e_ids uuid[], p_e_journals uuid[], p_e_indexes int2[], p_e_ledgers uuid[],
    p_e_directions text[], p_e_amounts int8[], p_e_currencies text[], p_e_bases int8[],
    p_e_descriptions text[], p_e_metadata jsonb[],
    p_s_ids uuid[], p_s_statuses text[], p_s_versions int8[], p_s_reversed_by uuid[],
    p_t_ids uuid[], p_t_positions int8[], p_t_committed boolean[],
    p_c_tenants uuid[], p_c_values int8[],
    p_maintain boolean DEFAULT true
) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    -- The movements' deltas summed per (ancestor, currency, effective date, bucket).
    d_ledger uuid[];
    d_currency text[];
    d_date date[];
    d_bucket int8[];
    d_tenant uuid[];
    d_dp numeric[]; d_cp numeric[]; d_dq numeric[]; d_cq numeric[]; d_db numeric[];
    d_cb numeric[]; d_tdp numeric[]; d_tcp numeric[]; d_tdq numeric[]; d_tcq numeric[];
BEGIN
    IF cardinality(p_j_ids) > 0 THEN
        INSERT INTO journals (journal_id, tenant_id, number, status, date, accrual_date,
            effective_date, description, reference, external_id, currency, base_currency,
            request_sha256, duplicate_sha256, reversal_of, reversed_by, created_at, position,
            version)
        SELECT u.id, u.tenant, u.number, u.status, u.date, u.accrual, u.effective,
            u.description, u.reference, u.external, u.currency, u.base, u.request, u.duplicate,
            u.reversal_of, u.reversed_by, u.created, u.position, u.version
        FROM unnest(p_j_ids, p_j_tenants, p_j_numbers, p_j_statuses, p_j_dates, p_j_accruals,
            p_j_effective, p_j_descriptions, p_j_references, p_j_externals, p_j_currencies,
            p_j_bases, p_j_requests, p_j_duplicates, p_j_reversal_of, p_j_reversed_by,
            p_j_created, p_j_positions, p_j_versions)
            AS u(id, tenant, number, status, date, accrual, effective, description, reference,
                external, currency, base, request, duplicate, reversal_of, reversed_by, created,
                position, version);

        INSERT INTO journal_entries (entry_id, journal_id, tenant_id, entry_index, ledger_id,
            direction, amount, currency, amount_base, description, metadata)
        SELECT e.id, e.journal, j.tenant, e.idx, e.ledger, e.direction, e.amount, e.currency,
            e.base, e.description, e.metadata
        FROM unnest(p_e_ids, p_e_journals, p_e_indexes, p_e_ledgers, p_e_directions,
                p_e_amounts, p_e_currencies, p_e_bases, p_e_descriptions, p_e_metadata)
                AS e(id, journal, idx, ledger, direction, amount, currency, base, description,
                    metadata)
            JOIN unnest(p_j_ids, p_j_tenants) AS j(id, tenant) ON j.id = e.journal;
    END IF;

    IF cardinality(p_s_ids) > 0 THEN
        UPDATE journals j SET
            status = s.status,
            version = s.version,
            reversed_by = coalesce(s.reversed_by, j.reversed_by)
        FROM unnest(p_s_ids, p_s_statuses, p_s_versions, p_s_reversed_by)
            AS s(id, status, version, reversed_by)
        WHERE j.journal_id = s.id;
    END IF;

    -- Movements, then (unless p_maintain is false: a rebuild's bulk load, see
    -- ledger_books_derive) the totals maintained from them.
    WITH posting AS (
        SELECT j.tenant, e.ledger, e.currency, j.effective, j.position, j.id AS journal,
            e.id AS entry, e.idx, 0 AS phase, e.direction, e.amount,
            CASE WHEN j.posted_as = 'pending' THEN 0 ELSE e.base END AS base,
            j.posted_as = 'pending' AS pending
        FROM unnest(p_e_ids, p_e_journals, p_e_indexes, p_e_ledgers, p_e_directions,
                p_e_amounts, p_e_currencies, p_e_bases)
                AS e(id, journal, idx, ledger, direction, amount, currency, base)
            JOIN unnest(p_j_ids, p_j_tenants, p_j_posted_as, p_j_effective, p_j_positions)
                AS j(id, tenant, posted_as, effective, position) ON j.id = e.journal
    ), settling AS (
        -- Release the hold (phase 0), then post it if committed (phase 1).
        SELECT jj.tenant_id AS tenant, ee.ledger_id AS ledger, ee.currency,
            jj.effective_date AS effective, t.position, t.id AS journal, ee.entry_id AS entry,
            ee.entry_index AS idx, p.phase, ee.direction,
            CASE WHEN p.phase = 0 THEN -ee.amount ELSE ee.amount END AS amount,
            CASE WHEN p.phase = 0 THEN 0 ELSE ee.amount_base END AS base,
            p.phase = 0 AS pending
        FROM unnest(p_t_ids, p_t_positions, p_t_committed) AS t(id, position, committed)
            JOIN journals jj ON jj.journal_id = t.id
            JOIN journal_entries ee ON ee.journal_id = t.id
            JOIN (VALUES (0), (1)) AS p(phase) ON p.phase = 0 OR t.committed
    ), moved AS (
        INSERT INTO balance_movements (tenant_id, ledger_id, currency, effective_date, position,
            journal_id, entry_id, debits_posted, credits_posted, debits_pending,
            credits_pending, debits_base, credits_base)
        SELECT m.tenant, m.ledger, m.currency, m.effective, m.position, m.journal, m.entry,
            CASE WHEN NOT m.pending AND m.direction = 'debit' THEN m.amount ELSE 0 END,
            CASE WHEN NOT m.pending AND m.direction = 'credit' THEN m.amount ELSE 0 END,
            CASE WHEN m.pending AND m.direction = 'debit' THEN m.amount ELSE 0 END,
            CASE WHEN m.pending AND m.direction = 'credit' THEN m.amount ELSE 0 END,
            CASE WHEN m.direction = 'debit' THEN m.base ELSE 0 END,
            CASE WHEN m.direction = 'credit' THEN m.base ELSE 0 END
        FROM (SELECT * FROM posting UNION ALL SELECT * FROM settling) AS m
        ORDER BY m.position, m.idx, m.phase
        RETURNING tenant_id, ledger_id, currency, effective_date, position, debits_posted,
            credits_posted, debits_pending, credits_pending, debits_base, credits_base
    ), summed AS (
        SELECT a.ancestor AS ledger_id, m.currency, m.effective_date,
            ledger_books_bucket(m.position) AS bucket, m.tenant_id,
            coalesce(sum(m.debits_posted) FILTER (WHERE a.ancestor = m.ledger_id), 0) AS dp,
            coalesce(sum(m.credits_posted) FILTER (WHERE a.ancestor = m.ledger_id), 0) AS cp,
            coalesce(sum(m.debits_pending) FILTER (WHERE a.ancestor = m.ledger_id), 0) AS dq,
            coalesce(sum(m.credits_pending) FILTER (WHERE a.ancestor = m.ledger_id), 0) AS cq,
            coalesce(sum(m.debits_base) FILTER (WHERE a.ancestor = m.ledger_id), 0) AS db,
            coalesce(sum(m.credits_base) FILTER (WHERE a.ancestor = m.ledger_id), 0) AS cb,
            sum(m.debits_posted) AS tdp, sum(m.credits_posted) AS tcp,
            sum(m.debits_pending) AS tdq, sum(m.credits_pending) AS tcq
        FROM moved m
            JOIN ledgers l ON l.ledger_id = m.ledger_id
            CROSS JOIN LATERAL unnest(l.ancestor_ids) AS a(ancestor)
        WHERE p_maintain
        GROUP BY 1, 2, 3, 4, 5
    )
    SELECT array_agg(ledger_id), array_agg(currency), array_agg(effective_date),
        array_agg(bucket), array_agg(tenant_id), array_agg(dp), array_agg(cp), array_agg(dq),
        array_agg(cq), array_agg(db), array_agg(cb), array_agg(tdp), array_agg(tcp),
        array_agg(tdq), array_agg(tcq)
    INTO d_ledger, d_currency, d_date, d_bucket, d_tenant, d_dp, d_cp, d_dq, d_cq, d_db, d_cb,
        d_tdp, d_tcp, d_tdq, d_tcq
    FROM summed;

    IF d_ledger IS NOT NULL THEN
        INSERT INTO balances AS b (ledger_id, currency, tenant_id, debits_posted,
            credits_posted, debits_pending, credits_pending, debits_base, credits_base,
            tree_debits_posted, tree_credits_posted, tree_debits_pending, tree_credits_pending,
            last_date)
        SELECT u.ledger_id, u.currency, u.tenant_id, sum(u.dp), sum(u.cp), sum(u.dq),
            sum(u.cq), sum(u.db), sum(u.cb), sum(u.tdp), sum(u.tcp), sum(u.tdq), sum(u.tcq),
            max(u.effective_date)
        FROM unnest(d_ledger, d_currency, d_tenant, d_dp, d_cp, d_dq, d_cq, d_db, d_cb, d_tdp,
                d_tcp, d_tdq, d_tcq, d_date)
            AS u(ledger_id, currency, tenant_id, dp, cp, dq, cq, db, cb, tdp, tcp, tdq, tcq,
                effective_date)
        GROUP BY 1, 2, 3
        ORDER BY 1, 2
        ON CONFLICT (ledger_id, currency) DO UPDATE SET
            last_date = greatest(b.last_date, excluded.last_date),
            debits_posted = b.debits_posted + excluded.debits_posted,
            credits_posted = b.credits_posted + excluded.credits_posted,
            debits_pending = b.debits_pending + excluded.debits_pending,
            credits_pending = b.credits_pending + excluded.credits_pending,
            debits_base = b.debits_base + excluded.debits_base,
            credits_base = b.credits_base + excluded.credits_base,
            tree_debits_posted = b.tree_debits_posted + excluded.tree_debits_posted,
            tree_credits_posted = b.tree_credits_posted + excluded.tree_credits_posted,
            tree_debits_pending = b.tree_debits_pending + excluded.tree_debits_pending,
            tree_credits_pending = b.tree_credits_pending + excluded.tree_credits_pending;

        INSERT INTO balance_changes AS c (ledger_id, currency, bucket, effective_date, tenant_id,
            debits_posted, credits_posted, debits_pending, credits_pending, debits_base,
            credits_base, tree_debits_posted, tree_credits_posted, tree_debits_pending,
            tree_credits_pending)
        SELECT * FROM unnest(d_ledger, d_currency, d_bucket, d_date, d_tenant, d_dp, d_cp, d_dq,
            d_cq, d_db, d_cb, d_tdp, d_tcp, d_tdq, d_tcq)
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (ledger_id, currency, bucket, effective_date) DO UPDATE SET
            debits_posted = c.debits_posted + excluded.debits_posted,
            credits_posted = c.credits_posted + excluded.credits_posted,
            debits_pending = c.debits_pending + excluded.debits_pending,
            credits_pending = c.credits_pending + excluded.credits_pending,
            debits_base = c.debits_base + excluded.debits_base,
            credits_base = c.credits_base + excluded.credits_base,
            tree_debits_posted = c.tree_debits_posted + excluded.tree_debits_posted,
            tree_credits_posted = c.tree_credits_posted + excluded.tree_credits_posted,
            tree_debits_pending = c.tree_debits_pending + excluded.tree_debits_pending,
            tree_credits_pending = c.tree_credits_pending + excluded.tree_credits_pending;

        -- Checkpoints, in one statement (one snapshot: the rows as they were before this
        -- batch). A (ledger, currency, date) touched that has no row gets one, holding the
        -- key's latest earlier row plus the batch's deltas dated on or before that date; every
        -- existing row of a touched key from the batch's earliest date on gains the same
        -- running sum, computed in one pass per key over its deltas and its rows in date
        -- order (a date's deltas before its row): linear in the rows written, however many
        -- dates one batch touches.
        WITH deltas AS (
            SELECT u.ledger_id, u.currency, u.effective_date, sum(u.dp) AS dp, sum(u.cp) AS cp,
                sum(u.dq) AS dq, sum(u.cq) AS cq, sum(u.db) AS db, sum(u.cb) AS cb,
                sum(u.tdp) AS tdp, sum(u.tcp) AS tcp, sum(u.tdq) AS tdq, sum(u.tcq) AS tcq
            FROM unnest(d_ledger, d_currency, d_date, d_dp, d_cp, d_dq, d_cq, d_db, d_cb,
                    d_tdp, d_tcp, d_tdq, d_tcq)
                AS u(ledger_id, currency, effective_date, dp, cp, dq, cq, db, cb, tdp, tcp,
                    tdq, tcq)
            GROUP BY 1, 2, 3
        ), touched AS (
            SELECT ledger_id, currency, min(effective_date) AS since FROM deltas GROUP BY 1, 2
        ), running AS (
            -- Per key, its deltas and its existing rows from its earliest delta on, in date
            -- order, each with the sum of the deltas up to it.
            SELECT x.ledger_id, x.currency, x.effective_date, x.is_row,
                sum(x.dp) OVER w AS dp, sum(x.cp) OVER w AS cp, sum(x.dq) OVER w AS dq,
                sum(x.cq) OVER w AS cq, sum(x.db) OVER w AS db, sum(x.cb) OVER w AS cb,
                sum(x.tdp) OVER w AS tdp, sum(x.tcp) OVER w AS tcp,
                sum(x.tdq) OVER w AS tdq, sum(x.tcq) OVER w AS tcq,
                -- The next row of the key is at this very date: this delta's date exists.
                lead(x.is_row) OVER w AS row_follows,
                lead(x.effective_date) OVER w AS next_date
            FROM (
                SELECT d.*, false AS is_row FROM deltas d
                UNION ALL
                SELECT c.ledger_id, c.currency, c.effective_date, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    true
                FROM touched t
                    JOIN balance_checkpoints c ON c.ledger_id = t.ledger_id
                        AND c.currency = t.currency AND c.effective_date >= t.since
            ) AS x
            WINDOW w AS (PARTITION BY x.ledger_id, x.currency
                ORDER BY x.effective_date, x.is_row ROWS UNBOUNDED PRECEDING)
        ), inserted AS (
            INSERT INTO balance_checkpoints (ledger_id, currency, effective_date,
                debits_posted, credits_posted, debits_pending, credits_pending, debits_base,
                credits_base, tree_debits_posted, tree_credits_posted, tree_debits_pending,
                tree_credits_pending)
            SELECT r.ledger_id, r.currency, r.effective_date,
                coalesce(p.debits_posted, 0) + r.dp, coalesce(p.credits_posted, 0) + r.cp,
                coalesce(p.debits_pending, 0) + r.dq, coalesce(p.credits_pending, 0) + r.cq,
                coalesce(p.debits_base, 0) + r.db, coalesce(p.credits_base, 0) + r.cb,
                coalesce(p.tree_debits_posted, 0) + r.tdp,
                coalesce(p.tree_credits_posted, 0) + r.tcp,
                coalesce(p.tree_debits_pending, 0) + r.tdq,
                coalesce(p.tree_credits_pending, 0) + r.tcq
            FROM running r
                LEFT JOIN LATERAL (
                    SELECT * FROM balance_checkpoints p
                    WHERE p.ledger_id = r.ledger_id AND p.currency = r.currency
                        AND p.effective_date < r.effective_date
                    ORDER BY p.effective_date DESC LIMIT 1
                ) AS p ON true
            WHERE NOT r.is_row
                AND NOT (coalesce(r.row_follows, false) AND r.next_date = r.effective_date)
            ORDER BY 1, 2, 3
            RETURNING 1
        )
        UPDATE balance_checkpoints c SET
            debits_posted = c.debits_posted + r.dp,
            credits_posted = c.credits_posted + r.cp,
            debits_pending = c.debits_pending + r.dq,
            credits_pending = c.credits_pending + r.cq,
            debits_base = c.debits_base + r.db,
            credits_base = c.credits_base + r.cb,
            tree_debits_posted = c.tree_debits_posted + r.tdp,
            tree_credits_posted = c.tree_credits_posted + r.tcp,
            tree_debits_pending = c.tree_debits_pending + r.tdq,
            tree_credits_pending = c.tree_credits_pending + r.tcq
        FROM running r
        WHERE r.is_row AND c.ledger_id = r.ledger_id AND c.currency = r.currency
            AND c.effective_date = r.effective_date;
    END IF;

    IF cardinality(p_c_tenants) > 0 THEN
        INSERT INTO tenant_counters AS c (tenant_id, counter, value)
        SELECT u.t, 'journal_number', u.v FROM unnest(p_c_tenants, p_c_values) AS u(t, v)
        ORDER BY 1
        ON CONFLICT (tenant_id, counter) DO UPDATE SET value = greatest(c.value, excluded.value);
    END IF;
END;
$fn$;

-- 5. The same totals computed in bulk from the movements (set-based: three GROUP BYs and one
--    window), replacing whatever the three tables hold. The migration backfills with it;
--    a rebuild loads journals, entries and movements alone, then calls it once instead of
--    maintaining the totals batch by batch (ledger/projections/rebuild.py); audit verify
--    compares it with the maintained rows.
CREATE OR REPLACE FUNCTION ledger_books_derive() RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    TRUNCATE balances, balance_changes, balance_checkpoints;
    INSERT INTO balances (ledger_id, currency, tenant_id, debits_posted, credits_posted,
        debits_pending, credits_pending, debits_base, credits_base, tree_debits_posted,
        tree_credits_posted, tree_debits_pending, tree_credits_pending, last_date)
    SELECT a.ancestor, m.currency, m.tenant_id,
        coalesce(sum(m.debits_posted) FILTER (WHERE a.ancestor = m.ledger_id), 0),
        coalesce(sum(m.credits_posted) FILTER (WHERE a.ancestor = m.ledger_id), 0),
        coalesce(sum(m.debits_pending) FILTER (WHERE a.ancestor = m.ledger_id), 0),
        coalesce(sum(m.credits_pending) FILTER (WHERE a.ancestor = m.ledger_id), 0),
        coalesce(sum(m.debits_base) FILTER (WHERE a.ancestor = m.ledger_id), 0),
        coalesce(sum(m.credits_base) FILTER (WHERE a.ancestor = m.ledger_id), 0),
        sum(m.debits_posted), sum(m.credits_posted), sum(m.debits_pending), sum(m.credits_pending),
        max(m.effective_date)
    FROM balance_movements m
        JOIN ledgers l ON l.ledger_id = m.ledger_id
        CROSS JOIN LATERAL unnest(l.ancestor_ids) AS a(ancestor)
    GROUP BY 1, 2, 3;

    INSERT INTO balance_changes (ledger_id, currency, bucket, effective_date, tenant_id,
        debits_posted, credits_posted, debits_pending, credits_pending, debits_base, credits_base,
        tree_debits_posted, tree_credits_posted, tree_debits_pending, tree_credits_pending)
    SELECT a.ancestor, m.currency, ledger_books_bucket(m.position), m.effective_date, m.tenant_id,
        coalesce(sum(m.debits_posted) FILTER (WHERE a.ancestor = m.ledger_id), 0),
        coalesce(sum(m.credits_posted) FILTER (WHERE a.ancestor = m.ledger_id), 0),
        coalesce(sum(m.debits_pending) FILTER (WHERE a.ancestor = m.ledger_id), 0),
        coalesce(sum(m.credits_pending) FILTER (WHERE a.ancestor = m.ledger_id), 0),
        coalesce(sum(m.debits_base) FILTER (WHERE a.ancestor = m.ledger_id), 0),
        coalesce(sum(m.credits_base) FILTER (WHERE a.ancestor = m.ledger_id), 0),
        sum(m.debits_posted), sum(m.credits_posted), sum(m.debits_pending), sum(m.credits_pending)
    FROM balance_movements m
        JOIN ledgers l ON l.ledger_id = m.ledger_id
        CROSS JOIN LATERAL unnest(l.ancestor_ids) AS a(ancestor)
    GROUP BY 1, 2, 3, 4, 5;

    INSERT INTO balance_checkpoints (ledger_id, currency, effective_date, debits_posted,
        credits_posted, debits_pending, credits_pending, debits_base, credits_base,
        tree_debits_posted, tree_credits_posted, tree_debits_pending, tree_credits_pending)
    SELECT ledger_id, currency, effective_date,
        sum(sum(debits_posted)) OVER w, sum(sum(credits_posted)) OVER w,
        sum(sum(debits_pending)) OVER w, sum(sum(credits_pending)) OVER w,
        sum(sum(debits_base)) OVER w, sum(sum(credits_base)) OVER w,
        sum(sum(tree_debits_posted)) OVER w, sum(sum(tree_credits_posted)) OVER w,
        sum(sum(tree_debits_pending)) OVER w, sum(sum(tree_credits_pending)) OVER w
    FROM balance_changes
    GROUP BY ledger_id, currency, effective_date
    WINDOW w AS (PARTITION BY ledger_id, currency ORDER BY effective_date);
END;
$fn$;

SELECT ledger_books_derive();
