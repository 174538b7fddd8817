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
