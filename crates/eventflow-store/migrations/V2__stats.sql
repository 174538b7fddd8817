-- EventFlow schema v2: pre-aggregated statistics.
--
-- `/v1/stats` must be cheap enough to poll every few seconds, so it never
-- scans events, deliveries or attempts. Instead the gateway (after each group
-- commit) and the dispatcher (after each recorded batch) add their counts to
-- one row per (project, endpoint, UTC minute) and one per (project, endpoint,
-- UTC hour), in one statement. Minute buckets read the minute rows; hour and
-- day buckets read the hour rows (24 h is 24 rows per series, 30 days 720),
-- always through the primary key.
--
-- Rows with the nil endpoint id hold the project-wide totals: the events the
-- project received, and its deliveries summed over every endpoint (written
-- next to the per-endpoint rows, so a project-wide query does not grow with
-- the number of endpoints). Per-endpoint rows carry delivery counts only.
--
-- Retention: rows older than the longest project retention (30 days by
-- default) are not needed; purging them belongs with partition maintenance
-- (a DELETE by time on these small tables, or daily partitions if they grow).
CREATE TABLE stats_minutely (
    project_id uuid NOT NULL,
    endpoint_id uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    -- Start of the UTC minute.
    minute timestamptz NOT NULL,
    -- Events stored (only in project-wide rows).
    events bigint NOT NULL DEFAULT 0,
    -- Deliveries that ended succeeded, and dead-lettered (status failed).
    succeeded bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    attempts bigint NOT NULL DEFAULT 0,
    -- Attempt durations counted in fixed log-scale buckets whose upper bounds
    -- (ms) are 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
    -- 30000, 60000 and +inf (eventflow-store `LATENCY_BOUNDS_MS`).
    latency_histogram bigint[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (project_id, endpoint_id, minute)
) WITH (fillfactor = 80); -- room for HOT updates: a current minute is updated many times

-- The same counters per UTC hour.
CREATE TABLE stats_hourly (
    project_id uuid NOT NULL,
    endpoint_id uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    -- Start of the UTC hour.
    hour timestamptz NOT NULL,
    events bigint NOT NULL DEFAULT 0,
    succeeded bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    attempts bigint NOT NULL DEFAULT 0,
    latency_histogram bigint[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (project_id, endpoint_id, hour)
) WITH (fillfactor = 80);

-- Element-wise sum of two histograms; the shorter one counts as zeros.
CREATE FUNCTION eventflow_histogram_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i), '{}')
    FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i)
$$;
