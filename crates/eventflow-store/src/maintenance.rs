//! Housekeeping that keeps the big tables cheap: daily partitions created
//! ahead of time, old ones dropped whole, expired idempotency keys purged.

use std::time::Duration;

use eventflow_domain::ProjectId;
use time::{Date, OffsetDateTime};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::{Store, StoreError};

/// The tables partitioned by day of their UUID v7 ids.
pub const PARTITIONED_TABLES: [&str; 3] = ["events", "deliveries", "attempts"];

impl Store {
    /// Makes sure the partitions from yesterday to `days_ahead` days from now
    /// exist; returns how many were created.
    #[tracing::instrument(skip_all)]
    pub async fn ensure_partitions(&self, days_ahead: i32) -> Result<i32, StoreError> {
        let client = self.connection().await?;
        let yesterday = OffsetDateTime::now_utc()
            .date()
            .previous_day()
            .unwrap_or(Date::MIN);
        let mut created = 0;
        for table in PARTITIONED_TABLES {
            let row = client
                .query_one(
                    "SELECT eventflow_ensure_partitions($1, $2, $3)",
                    &[&table, &yesterday, &(days_ahead + 2)],
                )
                .await?;
            created += row.get::<_, i32>(0);
        }
        Ok(created)
    }

    /// Drops whole daily partitions older than `before` (UTC day); returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn drop_partitions_before(&self, before: Date) -> Result<i32, StoreError> {
        let client = self.connection().await?;
        let mut dropped = 0;
        for table in PARTITIONED_TABLES {
            let row = client
                .query_one(
                    "SELECT eventflow_drop_partitions_before($1, $2)",
                    &[&table, &before],
                )
                .await?;
            dropped += row.get::<_, i32>(0);
        }
        Ok(dropped)
    }

    /// Deletes idempotency keys older than `retention`; returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn purge_idempotency_keys(&self, retention: Duration) -> Result<u64, StoreError> {
        let client = self.connection().await?;
        let cutoff = OffsetDateTime::now_utc() - retention;
        Ok(client
            .execute(
                "DELETE FROM idempotency_keys WHERE created_at < $1",
                &[&cutoff],
            )
            .await?)
    }
}

/// The dispatch_state entry up to which recovery has checked events (see the
/// dispatcher's `recover` module); retention never deletes past it, so an
/// event recovery has yet to look at keeps its chance to be delivered.
const RECOVERY_CHECKED_UNTIL: &str = "recovery_checked_until";

/// A project's retention as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub project_id: ProjectId,
    pub retention_days: i32,
}

/// What dropping expired partitions did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionDrop {
    /// Partitions dropped, e.g. `events_20261101`.
    pub dropped: Vec<String>,
    /// Their rows, as PostgreSQL last counted them (`reltuples`; an estimate).
    pub estimated_rows: i64,
    /// Days kept whole because a delivery created on or before them is still pending.
    pub held_days: Vec<Date>,
    /// The tables were too busy to lock within the timeout; the next run tries again.
    pub busy: bool,
}

/// Rows one batch of per-project retention deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpiredRows {
    pub events: u64,
    pub deliveries: u64,
    pub attempts: u64,
    /// Expired events kept because a delivery of theirs is pending (or they
    /// wait in the outbox).
    pub held_events: u64,
    /// Events the batch looked at; fewer than the batch size means done.
    pub scanned: u64,
    /// The last event id looked at: where the next batch starts.
    pub last_scanned: Option<Uuid>,
}

/// What a dispatcher started on this database would resume (its dry run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResumeOutlook {
    pub events: i64,
    pub deliveries: i64,
    /// Deliveries still pending: each is sent (again) when its attempt is due.
    pub pending_deliveries: i64,
    /// Of them, due now.
    pub due_now: i64,
    /// Events committed but whose append to the stream failed.
    pub outbox_events: i64,
    /// Events after the recovery checkpoint without any delivery yet:
    /// recovery re-publishes them (a few are simply not fanned out yet).
    pub unchecked_events_without_deliveries: i64,
    /// The newest event: everything after it was lost with the restore.
    #[serde(with = "time::serde::rfc3339::option")]
    pub newest_event_at: Option<OffsetDateTime>,
}

/// The smallest UUID v7 of the given instant (the lower bound of ids created at or after it).
pub fn uuid_floor(at: OffsetDateTime) -> Uuid {
    let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    Uuid::from_u128(u128::from(millis & 0xffff_ffff_ffff) << 80)
}

impl Store {
    /// Every project's retention.
    #[tracing::instrument(skip_all)]
    pub async fn retention_policies(&self) -> Result<Vec<RetentionPolicy>, StoreError> {
        let client = self.connection().await?;
        let rows = client
            .query("SELECT id, retention_days FROM projects ORDER BY id", &[])
            .await?;
        Ok(rows
            .iter()
            .map(|row| RetentionPolicy {
                project_id: ProjectId::from_uuid(row.get(0)),
                retention_days: row.get(1),
            })
            .collect())
    }

    /// Drops the daily partitions of events, deliveries and attempts for days
    /// before `before`, oldest first, each day in one transaction. A day is
    /// kept (and every later one, since a pending delivery's attempts may lie
    /// in them) while a delivery created on or before it is still pending, or
    /// one of its events waits in the outbox; per-project retention deletes
    /// its other rows meanwhile.
    #[tracing::instrument(skip_all)]
    pub async fn drop_expired_partitions(&self, before: Date) -> Result<PartitionDrop, StoreError> {
        let mut client = self.connection().await?;
        let days: Vec<Date> = client
            .query(
                "SELECT DISTINCT to_date(right(c.relname, 8), 'YYYYMMDD') AS day \
                 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                 JOIN pg_class p ON p.oid = i.inhparent \
                 WHERE p.relname::text = ANY($1::text[]) AND c.relname ~ '_[0-9]{8}$' ORDER BY day",
                &[&PARTITIONED_TABLES.as_slice()],
            )
            .await?
            .iter()
            .map(|row| row.get::<_, Date>(0))
            .filter(|day| *day < before)
            .collect();
        let mut outcome = PartitionDrop::default();
        for (index, day) in days.iter().enumerate() {
            match drop_day(&mut client, *day).await {
                Ok(DayDrop::Dropped(names, rows)) => {
                    outcome.dropped.extend(names);
                    outcome.estimated_rows += rows;
                }
                Ok(DayDrop::Held) => {
                    outcome.held_days.extend_from_slice(&days[index..]);
                    break;
                }
                // Busy tables: retention gave way to the traffic; next run.
                Err(error) if error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                    outcome.busy = true;
                    break;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(outcome)
    }

    /// Deletes one batch of `project`'s events older than `cutoff` (their
    /// deliveries and those deliveries' attempts with them), starting after
    /// the event id `after`. Events with a pending delivery, events waiting
    /// in the outbox, and events recovery has not checked yet are kept. One
    /// statement, so a batch is deleted whole or not at all.
    #[tracing::instrument(skip_all)]
    pub async fn delete_expired_batch(
        &self,
        project: ProjectId,
        cutoff: OffsetDateTime,
        after: Option<Uuid>,
        batch: i64,
    ) -> Result<ExpiredRows, StoreError> {
        let client = self.connection().await?;
        let mut until = uuid_floor(cutoff);
        let checked = client
            .query_opt(
                "SELECT value FROM dispatch_state WHERE name = $1",
                &[&RECOVERY_CHECKED_UNTIL],
            )
            .await?
            .and_then(|row| Uuid::parse_str(row.get::<_, &str>(0)).ok());
        if let Some(checked) = checked {
            until = until.min(checked);
        }
        let after = after.unwrap_or(Uuid::nil());
        let mut client = client;
        let transaction = client.transaction().await?;
        transaction.batch_execute(GIVE_WAY).await?;
        // A delivery's id starts with its event's 48-bit millisecond, so the
        // deliveries of a range of events are a primary-key range.
        let row = transaction
            .query_one(
                "WITH candidates AS ( \
                     SELECT id FROM events \
                     WHERE project_id = $1 AND id > $2 AND id < $3 ORDER BY id LIMIT $4), \
                 bounds AS ( \
                     SELECT (substr(replace(min(id::text), '-', ''), 1, 12) || '00000000000000000000')::uuid AS lo, \
                            (substr(replace(max(id::text), '-', ''), 1, 12) || 'ffffffffffffffffffff')::uuid AS hi \
                     FROM candidates), \
                 held AS ( \
                     SELECT d.event_id AS id FROM deliveries d, bounds b \
                     WHERE d.project_id = $1 AND d.status = 'pending' AND d.id BETWEEN b.lo AND b.hi \
                     UNION SELECT event_id FROM event_outbox WHERE event_id IN (SELECT id FROM candidates)), \
                 doomed AS ( \
                     SELECT id FROM candidates WHERE id NOT IN (SELECT id FROM held)), \
                 gone_deliveries AS ( \
                     DELETE FROM deliveries d USING bounds b \
                     WHERE d.id BETWEEN b.lo AND b.hi AND d.event_id IN (SELECT id FROM doomed) \
                     RETURNING d.id), \
                 gone_attempts AS ( \
                     DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM gone_deliveries) RETURNING 1), \
                 gone_events AS ( \
                     DELETE FROM events WHERE id IN (SELECT id FROM doomed) RETURNING 1) \
                 SELECT (SELECT count(*) FROM gone_events), (SELECT count(*) FROM gone_deliveries), \
                        (SELECT count(*) FROM gone_attempts), \
                        (SELECT count(*) FROM candidates) - (SELECT count(*) FROM doomed), \
                        (SELECT count(*) FROM candidates), \
                        (SELECT id FROM candidates ORDER BY id DESC LIMIT 1)",
                &[&project.uuid(), &after, &until, &batch],
            )
            .await?;
        transaction.commit().await?;
        let count = |index: usize| u64::try_from(row.get::<_, i64>(index)).unwrap_or(0);
        Ok(ExpiredRows {
            events: count(0),
            deliveries: count(1),
            attempts: count(2),
            held_events: count(3),
            scanned: count(4),
            last_scanned: row.get(5),
        })
    }

    /// Deletes `project`'s statistics rows older than `cutoff`; returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn delete_expired_stats(
        &self,
        project: ProjectId,
        cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let client = self.connection().await?;
        let minutes = client
            .execute(
                "DELETE FROM stats_minutely WHERE project_id = $1 AND minute < $2",
                &[&project.uuid(), &cutoff],
            )
            .await?;
        let hours = client
            .execute(
                "DELETE FROM stats_hourly WHERE project_id = $1 AND hour < $2",
                &[&project.uuid(), &cutoff],
            )
            .await?;
        Ok(minutes + hours)
    }

    /// Counts what a dispatcher would resume on this database, writing nothing.
    #[tracing::instrument(skip_all)]
    pub async fn resume_outlook(&self) -> Result<ResumeOutlook, StoreError> {
        let client = self.connection().await?;
        let checked = client
            .query_opt(
                "SELECT value FROM dispatch_state WHERE name = $1",
                &[&RECOVERY_CHECKED_UNTIL],
            )
            .await?
            .and_then(|row| Uuid::parse_str(row.get::<_, &str>(0)).ok())
            .unwrap_or(Uuid::nil());
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM deliveries), \
                        (SELECT count(*) FROM deliveries WHERE status = 'pending'), \
                        (SELECT count(*) FROM deliveries WHERE status = 'pending' \
                             AND coalesce(next_attempt_at, now()) <= now()), \
                        (SELECT count(*) FROM event_outbox), \
                        (SELECT count(*) FROM events e WHERE e.id > $1 AND NOT EXISTS ( \
                             SELECT 1 FROM deliveries d WHERE d.event_id = e.id \
                             AND d.id BETWEEN (substr(replace(e.id::text, '-', ''), 1, 12) || '00000000000000000000')::uuid \
                                          AND (substr(replace(e.id::text, '-', ''), 1, 12) || 'ffffffffffffffffffff')::uuid)), \
                        (SELECT max(received_at) FROM events)",
                &[&checked],
            )
            .await?;
        Ok(ResumeOutlook {
            events: row.get(0),
            deliveries: row.get(1),
            pending_deliveries: row.get(2),
            due_now: row.get(3),
            outbox_events: row.get(4),
            unchecked_events_without_deliveries: row.get(5),
            newest_event_at: row.get(6),
        })
    }
}

fn day_suffix(day: Date) -> String {
    format!(
        "{:04}{:02}{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

fn day_start(day: Date) -> OffsetDateTime {
    day.midnight().assume_utc()
}

/// Retention waits at most this long for a lock, shorter than PostgreSQL's
/// deadlock_timeout (1 s): should its locks cross a transaction of the
/// services, retention normally gives up before the deadlock check picks a
/// victim, and the services' statement goes on.
const GIVE_WAY: &str = "SET LOCAL lock_timeout = '500ms'";

enum DayDrop {
    /// The partitions dropped and their estimated rows.
    Dropped(Vec<String>, i64),
    /// A delivery created on or before the day is still pending.
    Held,
}

/// Drops the three partitions of `day` in one transaction unless something
/// created on or before it is still pending (or in the outbox).
async fn drop_day(
    client: &mut deadpool_postgres::Object,
    day: Date,
) -> Result<DayDrop, tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    // Parents before partitions, the order every query takes them in, so
    // the exclusive locks cannot deadlock with readers of the parent; the
    // parents' lock is needed by DROP anyway. The advisory lock is the one
    // eventflow_ensure_partitions takes.
    transaction
        .batch_execute(&format!(
            "{GIVE_WAY}; \
             SELECT pg_advisory_xact_lock(hashtext('eventflow_partitions')); \
             LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
            PARTITIONED_TABLES.join(", ")
        ))
        .await?;
    let suffix = day_suffix(day);
    let names: Vec<String> = PARTITIONED_TABLES
        .iter()
        .map(|table| format!("{table}_{suffix}"))
        .collect();
    let existing: Vec<(String, f32)> = transaction
        .query(
            "SELECT relname::text, reltuples FROM pg_class WHERE relname::text = ANY($1::text[]) AND relkind = 'r'",
            &[&names],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let end = uuid_floor(day_start(day.next_day().unwrap_or(Date::MAX)));
    let held: bool = transaction
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM deliveries WHERE status = 'pending' AND id < $1) \
                 OR EXISTS (SELECT 1 FROM event_outbox WHERE event_id < $1)",
            &[&end],
        )
        .await?
        .get(0);
    if held {
        transaction.rollback().await?;
        return Ok(DayDrop::Held);
    }
    let mut rows = 0;
    for (name, estimate) in &existing {
        transaction
            .batch_execute(&format!("DROP TABLE \"{name}\""))
            .await?;
        rows += estimate.max(0.0) as i64;
    }
    transaction.commit().await?;
    Ok(DayDrop::Dropped(
        existing.into_iter().map(|(name, _)| name).collect(),
        rows,
    ))
}
