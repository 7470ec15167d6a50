-- Asynchronous projections, read-your-writes and audit (issue 4).
--
-- 1. Notifications carry positions. ledger_append_events (0001) is redefined so its one
--    NOTIFY per append carries the last position it appended as the payload (decimal text):
--    a listener learns the log's committed position without a query. Everything else in the
--    function is unchanged. Asynchronous projection runners notify `ledger_tracking` with
--    `<projection name>:<position>` in the transaction that moves their tracking row.
-- 2. The trial-balance projection's tables (ledger.projections.trial_balance), written by the
--    asynchronous runner, never inside the append's transaction.

CREATE OR REPLACE FUNCTION ledger_append_events(
    p_originator_ids uuid[],
    p_versions bigint[],
    p_topics text[],
    p_states bytea[],
    p_tenant_ids uuid[],
    p_lock_timeout text
) RETURNS TABLE (first_position bigint, conflicts integer[])
LANGUAGE plpgsql AS $fn$
DECLARE
    v_count integer := cardinality(p_originator_ids);
    v_last bigint;
    v_hash bytea;
    v_hashes bytea[] := ARRAY[]::bytea[];
    v_conflicts integer[];
    v_zero_tenant constant bytea := decode(repeat('00', 16), 'hex');
BEGIN
    PERFORM set_config('lock_timeout', p_lock_timeout, true);
    LOCK TABLE ledger_events IN EXCLUSIVE MODE;

    SELECT array_agg(u.ord::integer ORDER BY u.ord) INTO v_conflicts
    FROM unnest(p_originator_ids, p_versions) WITH ORDINALITY AS u(id, version, ord)
    JOIN ledger_events e ON e.originator_id = u.id AND e.originator_version = u.version;
    IF v_conflicts IS NOT NULL THEN
        RETURN QUERY SELECT NULL::bigint, v_conflicts;
        RETURN;
    END IF;

    SELECT e.notification_id, e.chain_hash INTO v_last, v_hash
    FROM ledger_events e ORDER BY e.notification_id DESC LIMIT 1;
    IF v_last IS NULL THEN
        v_last := 0;
        v_hash := decode(repeat('00', 32), 'hex');
    END IF;

    FOR i IN 1 .. v_count LOOP
        v_hash := sha256(
            v_hash
            || int8send(v_last + i)
            || uuid_send(p_originator_ids[i])
            || int8send(p_versions[i])
            || coalesce(uuid_send(p_tenant_ids[i]), v_zero_tenant)
            || int4send(octet_length(convert_to(p_topics[i], 'UTF8')))
            || convert_to(p_topics[i], 'UTF8')
            || p_states[i]
        );
        v_hashes[i] := v_hash;
    END LOOP;

    INSERT INTO ledger_events (
        originator_id, originator_version, topic, state, notification_id, tenant_id, chain_hash)
    SELECT u.id, u.version, u.topic, u.state, v_last + u.ord, u.tenant_id, u.chain_hash
    FROM unnest(p_originator_ids, p_versions, p_topics, p_states, p_tenant_ids, v_hashes)
        WITH ORDINALITY AS u(id, version, topic, state, tenant_id, chain_hash, ord);

    PERFORM setval(pg_get_serial_sequence('ledger_events', 'notification_id'), v_last + v_count);
    -- Delivered at commit, so a listener never hears of a position before it is readable.
    PERFORM pg_notify('ledger_events', (v_last + v_count)::text);
    RETURN QUERY SELECT v_last + 1, NULL::integer[];
END;
$fn$;

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
