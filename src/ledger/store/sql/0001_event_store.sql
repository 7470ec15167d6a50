-- The event store: eventsourcing's PostgreSQL application-recorder layout (table
-- "<application name>_events" with originator_id, originator_version, topic, state,
-- notification_id), so the stock eventsourcing Application named "Ledger" reads it.
-- Two extra columns, which the stock reader ignores:
--   tenant_id   the tenant the event belongs to (the event feed and audit replay filter on it);
--   chain_hash  SHA-256 over the previous event's chain_hash and this row's stored bytes
--               (tamper evidence; computed inside ledger_append_events, never by a client).
CREATE TABLE IF NOT EXISTS ledger_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    tenant_id uuid,
    chain_hash bytea NOT NULL CHECK (octet_length(chain_hash) = 32),
    PRIMARY KEY (originator_id, originator_version)
) WITH (
    autovacuum_enabled = true,
    autovacuum_vacuum_threshold = 100000000,
    autovacuum_vacuum_scale_factor = 0.5,
    autovacuum_analyze_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.01
);
CREATE UNIQUE INDEX IF NOT EXISTS ledger_events_notification_id_idx
    ON ledger_events (notification_id ASC);
CREATE INDEX IF NOT EXISTS ledger_events_tenant_position_idx
    ON ledger_events (tenant_id, notification_id);

-- The composite type eventsourcing's recorder registers; created here so the stock
-- library finds the whole layout it expects.
DO $$ BEGIN
    CREATE TYPE stored_event_uuid AS (
        originator_id uuid, originator_version bigint, topic text, state bytea);
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- eventsourcing's single-row tracking layout: one row per projection, its last position.
CREATE TABLE IF NOT EXISTS ledger_tracking (
    application_name text PRIMARY KEY,
    notification_id bigint
);

-- The one write path into ledger_events. See ledger/store/event_store.py for the design.
--
-- Under the EXCLUSIVE table lock (which does not block readers) it:
--   1. returns the 1-based indexes of events whose (originator_id, originator_version)
--      already exist, inserting nothing, so the caller can drop those commands and retry;
--   2. otherwise numbers the events max(position)+1 .. max+n: positions are assigned and
--      committed in lock order, so a reader tailing by position never skips one that
--      commits later, and no rollback can leave a hole (nothing is drawn from a sequence);
--   3. chains each event's hash onto the previous one and inserts all rows in one statement;
--   4. notifies listeners once per call, not per event (NOTIFY takes a cluster-wide lock).
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

    -- Keep the bigserial's sequence past our numbers, so a stock eventsourcing writer
    -- (which takes the same lock and draws from the sequence) would continue the log.
    PERFORM setval(pg_get_serial_sequence('ledger_events', 'notification_id'), v_last + v_count);
    NOTIFY ledger_events;
    RETURN QUERY SELECT v_last + 1, NULL::integer[];
END;
$fn$;
