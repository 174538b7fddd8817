-- EventFlow schema v1.
--
-- Big tables (events, deliveries, attempts) are range-partitioned by their id.
-- Ids are UUID v7, whose first 48 bits are the creation time in Unix
-- milliseconds, so a range of ids is a range of time: one partition per UTC
-- day, and retention drops whole partitions instead of deleting rows. A
-- lookup by id prunes to one partition, so the primary key needs no extra
-- time column.

-- The smallest UUID v7 at `ts`: the lower bound of ids created at or after it.
CREATE FUNCTION eventflow_uuid_floor(ts timestamptz) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (lpad(to_hex(floor(extract(epoch FROM ts) * 1000)::bigint), 12, '0')
            || '00000000000000000000')::uuid
$$;

-- Creates the daily partitions of `parent` for `days` days from `from_day`
-- (UTC). Safe when several replicas call it at once.
CREATE FUNCTION eventflow_ensure_partitions(parent text, from_day date, days integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    day date;
    partition_name text;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('eventflow_partitions'));
    FOR i IN 0 .. days - 1 LOOP
        day := from_day + i;
        partition_name := parent || '_' || to_char(day, 'YYYYMMDD');
        IF to_regclass(partition_name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                partition_name, parent,
                eventflow_uuid_floor(day::timestamp AT TIME ZONE 'UTC'),
                eventflow_uuid_floor((day + 1)::timestamp AT TIME ZONE 'UTC'));
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END
$$;

-- Drops the daily partitions of `parent` that end on or before `before_day`
-- (UTC). Returns how many were dropped.
CREATE FUNCTION eventflow_drop_partitions_before(parent text, before_day date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    partition record;
    dropped integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('eventflow_partitions'));
    FOR partition IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = parent
          AND c.relname ~ ('^' || parent || '_[0-9]{8}$')
          AND to_date(right(c.relname, 8), 'YYYYMMDD') < before_day
    LOOP
        EXECUTE format('DROP TABLE %I', partition.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END
$$;

CREATE TABLE projects (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- NULL: the gateway's configured default applies.
    rate_limit_per_second integer CHECK (rate_limit_per_second > 0),
    rate_limit_burst integer CHECK (rate_limit_burst > 0),
    retention_days integer NOT NULL DEFAULT 30 CHECK (retention_days > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name text NOT NULL DEFAULT '',
    -- Only a lookup prefix and the SHA-256 of the whole key are stored; the
    -- key itself is shown once, at creation.
    lookup_prefix text NOT NULL UNIQUE,
    key_hash bytea NOT NULL CHECK (length(key_hash) = 32),
    scopes text[] NOT NULL CHECK (scopes <@ ARRAY['ingest', 'read', 'admin'] AND cardinality(scopes) > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX api_keys_project ON api_keys (project_id, id);

CREATE TABLE endpoints (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    url text NOT NULL,
    description text NOT NULL DEFAULT '',
    event_types text[] NOT NULL DEFAULT ARRAY['*'],
    payload_filter jsonb,
    headers jsonb NOT NULL DEFAULT '{}',
    secret text NOT NULL,
    previous_secret text,
    previous_secret_expires_at timestamptz,
    enabled boolean NOT NULL DEFAULT true,
    disabled_reason text,
    -- Paused: deliveries wait (pending) until resumed; nothing is dropped.
    paused boolean NOT NULL DEFAULT false,
    rate_limit_per_second integer CHECK (rate_limit_per_second > 0),
    max_concurrency integer NOT NULL DEFAULT 16 CHECK (max_concurrency > 0),
    last_success_at timestamptz,
    failing_since timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX endpoints_project ON endpoints (project_id, id);

-- Events. The payload is kept as the producer's JSON text (type json, not
-- jsonb) so deliveries carry exactly the bytes that were sent.
CREATE TABLE events (
    id uuid NOT NULL,
    project_id uuid NOT NULL,
    event_type text NOT NULL,
    payload json NOT NULL,
    idempotency_key text,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    traceparent text,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
-- Newest-first listing and cursor pagination per project, optionally by type.
CREATE INDEX events_project_id ON events (project_id, id);
CREATE INDEX events_project_type_id ON events (project_id, event_type, id);
CREATE TABLE events_default PARTITION OF events DEFAULT;

-- Idempotency keys live outside the partitioned table so that uniqueness per
-- project holds across partitions. Rows older than the retention window are
-- purged by the gateway.
CREATE TABLE idempotency_keys (
    project_id uuid NOT NULL,
    key text NOT NULL,
    event_id uuid NOT NULL,
    request_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Events whose append to the Redis stream failed after they were committed.
-- Whoever relays the outbox re-appends them and deletes the row.
CREATE TABLE event_outbox (
    event_id uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    reason text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One delivery per (event, endpoint). Its id is derived from both (time bits
-- of the event id, the rest a hash), so it lands in the event's day partition
-- and the primary key alone makes fan-out idempotent.
CREATE TABLE deliveries (
    id uuid NOT NULL,
    project_id uuid NOT NULL,
    event_id uuid NOT NULL,
    endpoint_id uuid NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'refused')),
    attempt_count integer NOT NULL DEFAULT 0,
    -- Attempts made before the current retry schedule started (a replay or
    -- manual retry starts the schedule again; attempt numbers keep counting).
    retry_base integer NOT NULL DEFAULT 0,
    -- Bumped by every replay or manual retry, so the result of an attempt
    -- that was in flight then cannot overwrite the new schedule.
    generation integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_attempt_at timestamptz,
    last_status_code integer,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_endpoint_status ON deliveries (endpoint_id, status, id);
CREATE INDEX deliveries_project_status ON deliveries (project_id, status, id);
CREATE TABLE deliveries_default PARTITION OF deliveries DEFAULT;

CREATE TABLE attempts (
    id uuid NOT NULL,
    delivery_id uuid NOT NULL,
    project_id uuid NOT NULL,
    endpoint_id uuid NOT NULL,
    attempt_number integer NOT NULL,
    started_at timestamptz NOT NULL,
    duration_us bigint NOT NULL,
    status_code integer,
    response_body text,
    error_kind text,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
CREATE INDEX attempts_delivery ON attempts (delivery_id, id);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);
CREATE TABLE attempts_default PARTITION OF attempts DEFAULT;

-- Small named values the dispatcher keeps across restarts (e.g. how far the
-- recovery scan has checked).
CREATE TABLE dispatch_state (
    name text PRIMARY KEY,
    value text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Today and the next week exist from the start; the gateway keeps them ahead.
SELECT eventflow_ensure_partitions(t, (now() AT TIME ZONE 'UTC')::date - 1, 9)
FROM unnest(ARRAY['events', 'deliveries', 'attempts']) AS t;
