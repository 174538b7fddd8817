//! Retention: applies each project's `retention_days` to its events,
//! deliveries, attempts and statistics, so the database stops growing once
//! events expire as fast as they arrive.
//!
//! Two steps, cheapest first. The daily partitions (by UUID v7 id, i.e. by
//! creation day) older than the longest retention in force are dropped
//! whole: no row-by-row delete, no bloat, no vacuum debt. A project that
//! keeps its data for less than that longest retention shares partitions
//! with the others, so its older rows are deleted in bounded batches (one
//! statement each, walking the project's events in id order).
//!
//! Why not partition per project as well: a project count times a day count
//! of partitions per table (thousands of tables for a few hundred projects),
//! each extra partition slowing planning of every cross-day query, while the
//! rows a shorter retention deletes are a small share of the total and
//! batches of them cost little. Dropping days stays the bulk path.
//!
//! An event one of whose deliveries is still pending is kept with all its
//! deliveries and attempts, whatever its age; so is an event waiting in the
//! outbox or not yet checked by recovery. A partition day is dropped only
//! when nothing created on or before it is pending.
//!
//! One dispatcher leads (a PostgreSQL advisory lock), so replicas do not
//! race over the same rows. Every run reports what it removed: a log line and
//! the `eventflow_retention_*` counters.

use std::time::Duration;

use eventflow_store::{ExpiredRows, PartitionDrop, Store, StoreError};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// Shared by every dispatcher of a database: whoever holds it applies retention.
const RETENTION_LOCK_KEY: i64 = 0x6566_7265_7465_6e74; // "efretent"

/// Settings of retention.
#[derive(Debug, Clone, Copy)]
pub struct RetentionSettings {
    /// Time between runs; zero turns retention off.
    pub interval: Duration,
    /// Events looked at per delete statement.
    pub batch: i64,
    /// Pause between two batches, so deletes leave PostgreSQL room for deliveries.
    pub batch_pause: Duration,
}

/// What one run removed (and kept because deliveries are pending).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub partitions: PartitionDrop,
    pub rows: ExpiredRows,
    pub stats_rows: u64,
}

impl RetentionReport {
    fn add(&mut self, rows: ExpiredRows) {
        self.rows.events += rows.events;
        self.rows.deliveries += rows.deliveries;
        self.rows.attempts += rows.attempts;
        self.rows.held_events += rows.held_events;
        self.rows.scanned += rows.scanned;
    }

    /// The log line and the metrics of one run.
    fn publish(&self) {
        for name in &self.partitions.dropped {
            let table = name
                .rsplit_once('_')
                .map_or(name.as_str(), |(table, _)| table);
            metrics::counter!("eventflow_retention_partitions_dropped_total", "table" => table.to_owned())
                .increment(1);
        }
        for (table, rows) in [
            ("events", self.rows.events),
            ("deliveries", self.rows.deliveries),
            ("attempts", self.rows.attempts),
            ("stats", self.stats_rows),
        ] {
            metrics::counter!("eventflow_retention_rows_deleted_total", "table" => table)
                .increment(rows);
        }
        metrics::gauge!("eventflow_retention_held_events").set(self.rows.held_events as f64);
        metrics::gauge!("eventflow_retention_held_days")
            .set(self.partitions.held_days.len() as f64);
        tracing::info!(
            partitions_dropped = ?self.partitions.dropped,
            partition_rows_estimated = self.partitions.estimated_rows,
            held_days = ?self.partitions.held_days,
            partitions_busy = self.partitions.busy,
            events_deleted = self.rows.events,
            deliveries_deleted = self.rows.deliveries,
            attempts_deleted = self.rows.attempts,
            stats_rows_deleted = self.stats_rows,
            events_held_for_pending_deliveries = self.rows.held_events,
            "retention applied"
        );
    }
}

/// Applies retention every `settings.interval` while this dispatcher leads, until `stop`.
pub async fn run(store: Store, settings: RetentionSettings, stop: CancellationToken) {
    if settings.interval.is_zero() {
        return;
    }
    let mut leader = None;
    loop {
        if !leader
            .as_ref()
            .is_some_and(eventflow_store::LeaderLock::is_held)
        {
            leader = store
                .try_lead(RETENTION_LOCK_KEY)
                .await
                .unwrap_or_else(|error| {
                    tracing::debug!(error = ?error, "could not try to lead retention");
                    None
                });
        }
        if leader.is_some() {
            match enforce(&store, settings, OffsetDateTime::now_utc(), &stop).await {
                Ok(report) => report.publish(),
                Err(error) => tracing::warn!(error = ?error, "retention run failed"),
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(settings.interval) => {}
        }
    }
}

/// One run as of `now`: drop whole days past the longest retention, then
/// delete each project's rows past its own retention, batch by batch.
pub async fn enforce(
    store: &Store,
    settings: RetentionSettings,
    now: OffsetDateTime,
    stop: &CancellationToken,
) -> Result<RetentionReport, StoreError> {
    let mut report = RetentionReport::default();
    let policies = store.retention_policies().await?;
    let Some(longest) = policies.iter().map(|policy| policy.retention_days).max() else {
        return Ok(report);
    };
    // A day is dropped when all of it is older than the longest retention.
    let before = (now - time::Duration::days(i64::from(longest))).date();
    report.partitions = store.drop_expired_partitions(before).await?;
    for policy in &policies {
        let cutoff = now - time::Duration::days(i64::from(policy.retention_days));
        let mut after = None;
        loop {
            if stop.is_cancelled() {
                return Ok(report);
            }
            let rows = store
                .delete_expired_batch(policy.project_id, cutoff, after, settings.batch)
                .await?;
            report.add(rows);
            if rows.scanned < u64::try_from(settings.batch).unwrap_or(0) {
                break;
            }
            after = rows.last_scanned;
            tokio::time::sleep(settings.batch_pause).await;
        }
        report.stats_rows += store
            .delete_expired_stats(policy.project_id, cutoff)
            .await?;
    }
    Ok(report)
}

/// A bounded soak: simulated days of traffic under a fixed retention, with
/// retention applied at each simulated midnight. The size of the event
/// tables must stop growing once events expire as fast as they arrive.
/// `EVENTFLOW_SOAK_EVENTS_PER_DAY` and `EVENTFLOW_SOAK_DAYS` make it bigger
/// (BENCHMARKS.md); run with `--nocapture` to see the size per day.
#[cfg(test)]
mod soak {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use eventflow_test_support::TestDatabase;
    use tokio_postgres::Client;

    fn setting(name: &str, default: i64) -> i64 {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    }

    /// Writes `count` events of `project` on `day` (UTC), each with one
    /// delivered delivery and one attempt, in three statements.
    async fn write_day(client: &Client, project: uuid::Uuid, day: time::Date, count: i64) {
        let start = day.midnight().assume_utc();
        client
            .batch_execute(&format!(
                "SELECT eventflow_ensure_partitions(t, '{day}'::date, 2) \
                 FROM unnest(ARRAY['events', 'deliveries', 'attempts']) AS t"
            ))
            .await
            .unwrap();
        // Ids share the 48-bit millisecond of their time, as UUID v7 ids do;
        // the rest is random. A delivery shares its event's millisecond.
        client
            .execute(
                "WITH spread AS ( \
                     SELECT $2::timestamptz + (i * (86000000.0 / $3::bigint)) * interval '1 millisecond' AS at, \
                            md5(random()::text || i) AS noise \
                     FROM generate_series(0::bigint, $3::bigint - 1) AS i), \
                 ids AS ( \
                     SELECT at, \
                            (substr(replace(eventflow_uuid_floor(at)::text, '-', ''), 1, 12) || substr(noise, 1, 20))::uuid AS event, \
                            (substr(replace(eventflow_uuid_floor(at)::text, '-', ''), 1, 12) || substr(noise, 13, 20))::uuid AS delivery, \
                            (substr(replace(eventflow_uuid_floor(at + interval '1 second')::text, '-', ''), 1, 12) || substr(noise, 7, 20))::uuid AS attempt \
                     FROM spread), \
                 e AS (INSERT INTO events (id, project_id, event_type, payload, occurred_at, received_at) \
                       SELECT event, $1, 'order.created', '{\"order\": 1234, \"amount\": \"19.99\"}', at, at FROM ids), \
                 d AS (INSERT INTO deliveries (id, project_id, event_id, endpoint_id, status, attempt_count, created_at) \
                       SELECT delivery, $1, event, $1, 'succeeded', 1, at FROM ids) \
                 INSERT INTO attempts (id, delivery_id, project_id, endpoint_id, attempt_number, started_at, duration_us, status_code) \
                 SELECT attempt, delivery, $1, $1, 1, at, 1500, 200 FROM ids",
                &[&project, &start, &count],
            )
            .await
            .unwrap();
    }

    async fn event_tables_bytes(client: &Client) -> i64 {
        client
            .query_one(
                "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c \
                 WHERE c.relkind = 'r' AND c.relname ~ '^(events|deliveries|attempts)_'",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_database_stops_growing_when_events_expire_as_fast_as_they_arrive() {
        let per_day = setting("EVENTFLOW_SOAK_EVENTS_PER_DAY", 2_000);
        let days = setting("EVENTFLOW_SOAK_DAYS", 16);
        let db = TestDatabase::create().await;
        let store = db.store();
        // Two projects: one at the longest retention (its days are dropped
        // whole), one at a shorter one (its rows deleted in batches).
        let long = store.create_project("long", None, None).await.unwrap().id;
        let short = store.create_project("short", None, None).await.unwrap().id;
        let client = db.client().await;
        client
            .execute(
                "UPDATE projects SET retention_days = CASE WHEN id = $1 THEN 7 ELSE 3 END",
                &[&long.uuid()],
            )
            .await
            .unwrap();
        let settings = RetentionSettings {
            interval: Duration::from_secs(1),
            batch: 1000,
            batch_pause: Duration::ZERO,
        };
        let first = OffsetDateTime::now_utc().date() - time::Duration::days(days + 30);
        let mut sizes = Vec::new();
        for offset in 0..days {
            let day = first + time::Duration::days(offset);
            write_day(&client, long.uuid(), day, per_day / 2).await;
            write_day(&client, short.uuid(), day, per_day / 2).await;
            let midnight = (day + time::Duration::days(1)).midnight().assume_utc();
            let started = std::time::Instant::now();
            let report = enforce(&store, settings, midnight, &CancellationToken::new())
                .await
                .unwrap();
            let took = started.elapsed();
            // What autovacuum does between runs in production: the space of
            // rows deleted in batches becomes reusable.
            client
                .batch_execute("VACUUM events, deliveries, attempts")
                .await
                .unwrap();
            let bytes = event_tables_bytes(&client).await;
            println!(
                "day {offset:>3}: {bytes:>12} bytes, {:>3} partitions dropped, {:>7} rows deleted in batches, retention run {:?}",
                report.partitions.dropped.len(),
                report.rows.events + report.rows.deliveries + report.rows.attempts,
                took
            );
            sizes.push(bytes);
        }
        // Steady state from the day after the longest retention (7) on: the
        // size moves within one day's worth of data, and never trends up.
        let steady = &sizes[9..];
        let low = *steady.iter().min().unwrap();
        let high = *steady.iter().max().unwrap();
        let day_share = sizes[9] / 8;
        assert!(
            high - low <= day_share + day_share / 2,
            "size keeps moving after the retention window: {sizes:?}"
        );
        assert!(
            sizes[sizes.len() - 1] <= sizes[9] + day_share / 2,
            "size grows in steady state: {sizes:?}"
        );
        let remaining: i64 = client
            .query_one(
                "SELECT count(*) FROM events WHERE project_id = $1",
                &[&short.uuid()],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            remaining,
            3 * (per_day / 2),
            "the short project keeps exactly 3 days"
        );
    }
}
