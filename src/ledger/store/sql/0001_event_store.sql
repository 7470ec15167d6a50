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

-- The head of the hash chain: the last position and its hash, one row, updated by every
-- append under the table lock. Reading it is O(1) whatever the planner believes about
-- ledger_events (a plan cached while the log was empty must not scan it later).
CREATE TABLE IF NOT EXISTS ledger_chain_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    position bigint NOT NULL,
    chain_hash bytea NOT NULL CHECK (octet_length(chain_hash) = 32)
);
INSERT INTO ledger_chain_head (position, chain_hash)
VALUES (0, decode(repeat('00', 32), 'hex'))
ON CONFLICT DO NOTHING;

-- The one write path into ledger_events. See ledger/store/event_store.py for the design.
--
-- Under the EXCLUSIVE table lock (which does not block readers) it:
--   1. numbers the events head+1 .. head+n: positions are assigned and committed in lock
--      order, so a reader tailing by position never skips one that commits later, and no
--      rollback can leave a hole (nothing is drawn from a sequence);
--   2. chains each event's hash onto the previous one and inserts all rows in one statement;
--   3. if an (originator_id, originator_version) exists already, inserts nothing and returns
--      the 1-based indexes of the conflicting events, so the caller can drop those commands
--      and retry (the primary key detects it; only then is the conflict query run);
--   4. notifies listeners once per call, not per event (NOTIFY takes a cluster-wide lock),
--      with the last position appended as the payload.
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
    v_constraint text;
    v_zero_tenant constant bytea := decode(repeat('00', 16), 'hex');
BEGIN
    PERFORM set_config('lock_timeout', p_lock_timeout, true);
    LOCK TABLE ledger_events IN EXCLUSIVE MODE;

    SELECT h.position, h.chain_hash INTO STRICT v_last, v_hash FROM ledger_chain_head h;

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

    BEGIN
        INSERT INTO ledger_events (
            originator_id, originator_version, topic, state, notification_id, tenant_id, chain_hash)
        SELECT u.id, u.version, u.topic, u.state, v_last + u.ord, u.tenant_id, u.chain_hash
        FROM unnest(p_originator_ids, p_versions, p_topics, p_states, p_tenant_ids, v_hashes)
            WITH ORDINALITY AS u(id, version, topic, state, tenant_id, chain_hash, ord);
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
        IF v_constraint IS DISTINCT FROM 'ledger_events_pkey' THEN
            RAISE;
        END IF;
        -- Dynamic SQL: planned now, with the log as it is, not cached from an empty log.
        EXECUTE 'SELECT array_agg(u.ord::integer ORDER BY u.ord) '
            'FROM unnest($1, $2) WITH ORDINALITY AS u(id, version, ord) '
            'JOIN ledger_events e ON e.originator_id = u.id AND e.originator_version = u.version'
            INTO v_conflicts USING p_originator_ids, p_versions;
        IF v_conflicts IS NULL THEN
            RAISE;  -- two events of this very call share a key: a caller's bug
        END IF;
        RETURN QUERY SELECT NULL::bigint, v_conflicts;
        RETURN;
    END;

    UPDATE ledger_chain_head SET position = v_last + v_count, chain_hash = v_hash;
    -- (The bigserial's own sequence is left alone: only this function appends, since every
    -- row needs its chain_hash; stock eventsourcing code reads this table, never writes it.)
    -- The payload is the last position appended: listeners learn the log's head for free.
    PERFORM pg_notify('ledger_events', (v_last + v_count)::text);
    RETURN QUERY SELECT v_last + 1, NULL::integer[];
END;
$fn$;
