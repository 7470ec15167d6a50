-- The books' bulk derivation, faster (issue 8, P1 and A1): a rebuild's first catch-up and
-- `ledger audit verify`'s scratch fold load journals, entries and movements alone (COPY, see
-- ledger/projections/books.py) and then call ledger_books_derive() once. The rows it writes
-- are the same as 0007's; what changed is how:
--
--   * balance_changes is the only aggregation over the movements joined to their ancestors
--     (the expensive one: a movement counts once per ancestor), and it is done in two steps:
--     each ledger's own groups first, from the int8 movements; a ledger without children
--     (most of them) takes those as its rows, and only ledgers with children sum their
--     subtree's groups (numeric inputs, but far fewer rows). balances are the changes
--     summed per (ledger, currency): a change row already holds the own and tree totals of
--     one ancestor for one (bucket, date), so summing them over buckets and dates is the
--     same sum, over fewer rows than the movements x ancestors, and last_date is
--     the latest date of a change row (a row exists for every date with a movement counted).
--   * balance_checkpoints are running totals of the change rows in (ledger, currency, date)
--     order: a window over the rows themselves (the default RANGE frame counts a date's
--     peers with it), one row kept per date, instead of a GROUP BY hashing every numeric sum
--     first and sorting after.
--   * Rows are inserted in primary-key order, so the index is filled at its right edge.
--   * work_mem is raised for the call alone (SET clause: restored when it returns), so the
--     sort and the aggregation stay in memory at volume (100,000 journals: ~400 MB of
--     aggregation state at most, on a rebuild's or an audit's own connection).
CREATE OR REPLACE FUNCTION ledger_books_derive() RETURNS void
LANGUAGE plpgsql
SET work_mem = '512MB'
AS $fn$
BEGIN
    TRUNCATE balances, balance_changes, balance_checkpoints;

    -- Each movement's own totals per (ledger, currency, bucket, date) first (int8 inputs:
    -- the cheap sums). A ledger without children is its own tree: those groups are its rows
    -- as they are. Only the ledgers with children (the strict ancestors of some ledger)
    -- need the groups of their subtree summed into theirs.
    INSERT INTO balance_changes (ledger_id, currency, bucket, effective_date, tenant_id,
        debits_posted, credits_posted, debits_pending, credits_pending, debits_base, credits_base,
        tree_debits_posted, tree_credits_posted, tree_debits_pending, tree_credits_pending)
    WITH own AS (
        SELECT m.ledger_id, m.currency, ledger_books_bucket(m.position) AS bucket,
            m.effective_date, m.tenant_id, sum(m.debits_posted) AS dp,
            sum(m.credits_posted) AS cp, sum(m.debits_pending) AS dq,
            sum(m.credits_pending) AS cq, sum(m.debits_base) AS db, sum(m.credits_base) AS cb
        FROM balance_movements m
        GROUP BY 1, 2, 3, 4, 5
    ), parents AS MATERIALIZED (
        SELECT DISTINCT a.ancestor AS ledger_id
        FROM ledgers l CROSS JOIN LATERAL unnest(l.ancestor_ids) AS a(ancestor)
        WHERE a.ancestor <> l.ledger_id
    )
    SELECT * FROM (
        SELECT o.ledger_id, o.currency, o.bucket, o.effective_date, o.tenant_id,
            o.dp, o.cp, o.dq, o.cq, o.db, o.cb, o.dp, o.cp, o.dq, o.cq
        FROM own o
        WHERE NOT EXISTS (SELECT 1 FROM parents p WHERE p.ledger_id = o.ledger_id)
            -- As the join below (and 0007's): a movement counts only under a known ledger.
            AND EXISTS (SELECT 1 FROM ledgers l WHERE l.ledger_id = o.ledger_id)
        UNION ALL
        SELECT a.ancestor, o.currency, o.bucket, o.effective_date, o.tenant_id,
            coalesce(sum(o.dp) FILTER (WHERE a.ancestor = o.ledger_id), 0),
            coalesce(sum(o.cp) FILTER (WHERE a.ancestor = o.ledger_id), 0),
            coalesce(sum(o.dq) FILTER (WHERE a.ancestor = o.ledger_id), 0),
            coalesce(sum(o.cq) FILTER (WHERE a.ancestor = o.ledger_id), 0),
            coalesce(sum(o.db) FILTER (WHERE a.ancestor = o.ledger_id), 0),
            coalesce(sum(o.cb) FILTER (WHERE a.ancestor = o.ledger_id), 0),
            sum(o.dp), sum(o.cp), sum(o.dq), sum(o.cq)
        FROM own o
            JOIN ledgers l ON l.ledger_id = o.ledger_id
            CROSS JOIN LATERAL unnest(l.ancestor_ids) AS a(ancestor)
        WHERE a.ancestor IN (SELECT ledger_id FROM parents)
        GROUP BY 1, 2, 3, 4, 5
    ) AS x
    ORDER BY 1, 2, 3, 4;

    INSERT INTO balances (ledger_id, currency, tenant_id, debits_posted, credits_posted,
        debits_pending, credits_pending, debits_base, credits_base, tree_debits_posted,
        tree_credits_posted, tree_debits_pending, tree_credits_pending, last_date)
    SELECT ledger_id, currency, tenant_id, sum(debits_posted), sum(credits_posted),
        sum(debits_pending), sum(credits_pending), sum(debits_base), sum(credits_base),
        sum(tree_debits_posted), sum(tree_credits_posted), sum(tree_debits_pending),
        sum(tree_credits_pending), max(effective_date)
    FROM balance_changes
    GROUP BY 1, 2, 3
    ORDER BY 1, 2;

    INSERT INTO balance_checkpoints (ledger_id, currency, effective_date, debits_posted,
        credits_posted, debits_pending, credits_pending, debits_base, credits_base,
        tree_debits_posted, tree_credits_posted, tree_debits_pending, tree_credits_pending)
    SELECT DISTINCT ON (ledger_id, currency, effective_date) ledger_id, currency, effective_date,
        sum(debits_posted) OVER w, sum(credits_posted) OVER w,
        sum(debits_pending) OVER w, sum(credits_pending) OVER w,
        sum(debits_base) OVER w, sum(credits_base) OVER w,
        sum(tree_debits_posted) OVER w, sum(tree_credits_posted) OVER w,
        sum(tree_debits_pending) OVER w, sum(tree_credits_pending) OVER w
    FROM balance_changes
    WINDOW w AS (PARTITION BY ledger_id, currency ORDER BY effective_date)
    ORDER BY ledger_id, currency, effective_date;
END;
$fn$;
