//! Pre-aggregated statistics: per project, endpoint and UTC minute (and
//! hour), the events stored, the deliveries that succeeded or were
//! dead-lettered, the attempts made and a histogram of their durations
//! (tables `stats_minutely` and `stats_hourly`).
//!
//! Writers fold a whole batch into a [`StatsDelta`] in memory and add it with
//! one statement ([`Store::record_stats`]), after their own write committed:
//! statistics never hold up ingest or delivery, and a failed statistics write
//! loses counts, never events. Counts follow the writers' at-least-once
//! nature: a batch written again after a crash is counted again.
//!
//! Readers ([`Store::stats`]) get a dense series of minute, hour or day
//! buckets, summed from the minute rows (minute buckets) or the hour rows
//! (hour and day buckets) through the primary key: the cost depends on the
//! time range and bucket size, never on the number of events.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use eventflow_domain::{EndpointId, ProjectId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{DeliveryStatus, Store, StoreError};

/// Upper bounds, in milliseconds, of the latency histogram's buckets; one more
/// bucket counts everything slower. Changing them changes the meaning of
/// stored rows: append bounds only.
pub const LATENCY_BOUNDS_MS: [u64; 15] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000,
];

/// Buckets of a histogram: one per bound and the overflow.
const HISTOGRAM_LEN: usize = LATENCY_BOUNDS_MS.len() + 1;

/// How wide one bucket of a statistics series is (UTC-aligned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatsBucket {
    Minute,
    Hour,
    Day,
}

impl StatsBucket {
    /// Parses `minute`, `hour` or `day`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "minute" => Some(Self::Minute),
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    /// Returns the bucket's width in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Self::Minute => 60,
            Self::Hour => 3_600,
            Self::Day => 86_400,
        }
    }

    /// Returns the start of the bucket holding `at`.
    pub fn floor(self, at: OffsetDateTime) -> OffsetDateTime {
        let width = self.seconds();
        from_unix(at.unix_timestamp().div_euclid(width) * width)
    }

    /// Returns the end of the bucket holding the instant just before `at`: `at`
    /// itself when it starts a bucket.
    pub fn ceil(self, at: OffsetDateTime) -> OffsetDateTime {
        let floor = self.floor(at);
        if floor == at {
            floor
        } else {
            floor + time::Duration::seconds(self.seconds())
        }
    }

    /// Returns how many buckets cover `[since, until)` once both are aligned
    /// outwards to bucket boundaries (0 when `until` is not after `since`).
    pub fn count(self, since: OffsetDateTime, until: OffsetDateTime) -> i64 {
        let span = (self.ceil(until) - self.floor(since)).whole_seconds();
        (span / self.seconds()).max(0)
    }
}

fn from_unix(seconds: i64) -> OffsetDateTime {
    // Callers pass truncations of valid timestamps, which stay in range.
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Attempt durations counted in the fixed buckets of [`LATENCY_BOUNDS_MS`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LatencyHistogram {
    counts: [i64; HISTOGRAM_LEN],
}

impl LatencyHistogram {
    /// Builds a histogram from stored counts; missing buckets count as zero
    /// and extra ones are added to the overflow bucket.
    pub fn from_counts(counts: &[i64]) -> Self {
        let mut histogram = Self::default();
        for (index, count) in counts.iter().enumerate() {
            histogram.counts[index.min(HISTOGRAM_LEN - 1)] += count;
        }
        histogram
    }

    /// Returns the count of each bucket, the overflow last.
    pub fn counts(&self) -> &[i64] {
        &self.counts
    }

    /// Counts one attempt that took `duration`.
    pub fn record(&mut self, duration: Duration) {
        let micros = duration.as_micros();
        let index = LATENCY_BOUNDS_MS
            .iter()
            .position(|bound| micros <= u128::from(*bound) * 1_000)
            .unwrap_or(HISTOGRAM_LEN - 1);
        self.counts[index] += 1;
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
    }

    /// Returns how many attempts were counted.
    pub fn total(&self) -> i64 {
        self.counts.iter().sum()
    }

    /// Returns the upper bound (ms) of the bucket holding the nearest-rank
    /// `percent` percentile, or None when nothing was counted. Attempts slower
    /// than the last bound report that bound.
    pub fn percentile(&self, percent: f64) -> Option<u64> {
        let total = self.total();
        if total <= 0 {
            return None;
        }
        let rank = ((percent.clamp(0.0, 100.0) / 100.0) * total as f64).ceil() as i64;
        let rank = rank.max(1);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return LATENCY_BOUNDS_MS
                    .get(index)
                    .or(LATENCY_BOUNDS_MS.last())
                    .copied();
            }
        }
        LATENCY_BOUNDS_MS.last().copied()
    }
}

/// What one row gains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Counters {
    events: i64,
    succeeded: i64,
    failed: i64,
    attempts: i64,
    latency: LatencyHistogram,
}

impl Counters {
    fn merge(&mut self, other: &Self) {
        self.events += other.events;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.attempts += other.attempts;
        self.latency.merge(&other.latency);
    }
}

/// Rows keyed by (project, endpoint, start in Unix seconds), in key order.
type Rows = BTreeMap<(Uuid, Uuid, i64), Counters>;

/// Counts gathered from one batch, per (project, endpoint, minute), waiting
/// to be added to the stored rows. Delivery counts go to the endpoint's row
/// and to the project-wide row (nil endpoint id); events to the project-wide
/// row only.
#[derive(Debug, Clone, Default)]
pub struct StatsDelta {
    // Ordered, so that concurrent writers lock rows in the same order.
    rows: Rows,
}

impl StatsDelta {
    /// Returns true when nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: StatsDelta) {
        for (key, counters) in other.rows {
            self.rows.entry(key).or_default().merge(&counters);
        }
    }

    /// The minute rows folded into hour rows.
    fn hourly(&self) -> Rows {
        let mut hours = Rows::new();
        for ((project_id, endpoint_id, minute), counters) in &self.rows {
            let hour = minute.div_euclid(3_600) * 3_600;
            hours
                .entry((*project_id, *endpoint_id, hour))
                .or_default()
                .merge(counters);
        }
        hours
    }

    /// Counts `count` events of the project received at `received_at`.
    pub fn add_events(&mut self, project_id: ProjectId, received_at: OffsetDateTime, count: i64) {
        self.project_row(project_id, received_at).events += count;
    }

    /// Counts a delivery that reached `status` at `at`: succeeded and failed
    /// (dead-lettered) are counted, other statuses are not final and ignored.
    pub fn add_delivery(
        &mut self,
        project_id: ProjectId,
        endpoint_id: EndpointId,
        at: OffsetDateTime,
        status: DeliveryStatus,
    ) {
        let add = |counters: &mut Counters| match status {
            DeliveryStatus::Succeeded => counters.succeeded += 1,
            DeliveryStatus::Failed => counters.failed += 1,
            DeliveryStatus::Pending | DeliveryStatus::Refused => {}
        };
        add(self.endpoint_row(project_id, endpoint_id, at));
        add(self.project_row(project_id, at));
    }

    /// Counts an attempt started at `started_at` that took `duration`.
    pub fn add_attempt(
        &mut self,
        project_id: ProjectId,
        endpoint_id: EndpointId,
        started_at: OffsetDateTime,
        duration: Duration,
    ) {
        let add = |counters: &mut Counters| {
            counters.attempts += 1;
            counters.latency.record(duration);
        };
        add(self.endpoint_row(project_id, endpoint_id, started_at));
        add(self.project_row(project_id, started_at));
    }

    fn project_row(&mut self, project_id: ProjectId, at: OffsetDateTime) -> &mut Counters {
        self.row(project_id.uuid(), Uuid::nil(), at)
    }

    fn endpoint_row(
        &mut self,
        project_id: ProjectId,
        endpoint_id: EndpointId,
        at: OffsetDateTime,
    ) -> &mut Counters {
        self.row(project_id.uuid(), endpoint_id.uuid(), at)
    }

    fn row(&mut self, project_id: Uuid, endpoint_id: Uuid, at: OffsetDateTime) -> &mut Counters {
        let minute = at.unix_timestamp().div_euclid(60) * 60;
        self.rows
            .entry((project_id, endpoint_id, minute))
            .or_default()
    }
}

/// One bucket of a statistics series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsPoint {
    /// Start of the bucket (UTC).
    pub start: OffsetDateTime,
    /// Events the project received (project-wide, also in an endpoint's series).
    pub events: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub attempts: i64,
    pub latency: LatencyHistogram,
}

/// What a statistics series covers.
#[derive(Debug, Clone, Copy)]
pub struct StatsQuery {
    pub project_id: ProjectId,
    /// One endpoint's deliveries; the whole project's when None.
    pub endpoint_id: Option<EndpointId>,
    pub bucket: StatsBucket,
    pub since: OffsetDateTime,
    pub until: OffsetDateTime,
}

/// Where the counters of one grain (minute or hour) are kept.
struct Rollup {
    table: &'static str,
    column: &'static str,
}

const MINUTELY: Rollup = Rollup {
    table: "stats_minutely",
    column: "minute",
};
const HOURLY: Rollup = Rollup {
    table: "stats_hourly",
    column: "hour",
};

impl Rollup {
    /// The upsert of this grain's rows from the arrays `$first..$first+7`;
    /// `$17` is the histogram length. Rows are taken in key order, so that
    /// concurrent writers lock them in the same order.
    fn upsert(&self, first: usize) -> String {
        let Rollup { table, column } = self;
        let p = |offset: usize| format!("${}", first + offset);
        format!(
            "INSERT INTO {table} AS s (project_id, endpoint_id, {column}, events, succeeded, failed,
                                 attempts, latency_histogram)
SELECT u.project_id, u.endpoint_id, u.start, u.events, u.succeeded, u.failed, u.attempts,
       CASE WHEN u.attempts > 0 THEN ({h}::bigint[])[((u.n - 1) * $17 + 1):(u.n * $17)]
            ELSE '{{}}'::bigint[] END
FROM relaxed,
     unnest({a}::uuid[], {b}::uuid[], {c}::timestamptz[], {d}::bigint[], {e}::bigint[],
            {f}::bigint[], {g}::bigint[]) WITH ORDINALITY
         AS u(project_id, endpoint_id, start, events, succeeded, failed, attempts, n)
ORDER BY u.n
ON CONFLICT (project_id, endpoint_id, {column}) DO UPDATE SET
    events = s.events + EXCLUDED.events,
    succeeded = s.succeeded + EXCLUDED.succeeded,
    failed = s.failed + EXCLUDED.failed,
    attempts = s.attempts + EXCLUDED.attempts,
    latency_histogram = CASE WHEN EXCLUDED.attempts > 0
        THEN eventflow_histogram_add(s.latency_histogram, EXCLUDED.latency_histogram)
        ELSE s.latency_histogram END",
            a = p(0),
            b = p(1),
            c = p(2),
            d = p(3),
            e = p(4),
            f = p(5),
            g = p(6),
            h = p(7),
        )
    }

    /// Reads one series of this grain through the primary key and rolls its
    /// rows up into buckets aligned on the Unix epoch, in one aggregate: a
    /// sum per counter and per histogram bucket. Events come from the
    /// project-wide rows (nil endpoint `$6`), deliveries from the rows of the
    /// endpoint asked for (`$2`, the nil id for the whole project).
    fn read(&self) -> String {
        let Rollup { table, column } = self;
        let histogram: Vec<String> = (1..=HISTOGRAM_LEN)
            .map(|i| {
                format!("coalesce(sum(latency_histogram[{i}]) FILTER (WHERE endpoint_id = $2), 0)")
            })
            .collect();
        format!(
            "\
SELECT date_bin($4::bigint * interval '1 second', {column}, timestamptz '1970-01-01 00:00:00+00')
           AS bucket,
       coalesce(sum(events) FILTER (WHERE endpoint_id = $6), 0)::bigint AS events,
       coalesce(sum(succeeded) FILTER (WHERE endpoint_id = $2), 0)::bigint AS succeeded,
       coalesce(sum(failed) FILTER (WHERE endpoint_id = $2), 0)::bigint AS failed,
       coalesce(sum(attempts) FILTER (WHERE endpoint_id = $2), 0)::bigint AS attempts,
       ARRAY[{}]::bigint[] AS histogram
FROM {table}
WHERE project_id = $1 AND endpoint_id IN ($2, $6) AND {column} >= $3 AND {column} < $5
GROUP BY bucket
ORDER BY bucket",
            histogram.join(",\n             ")
        )
    }
}

/// Adds the minute rows (`$1..$8`) and the hour rows (`$9..$16`) of a delta.
///
/// `synchronous_commit` is turned off for this statement's own transaction
/// only: counters are not worth an fsync wait, and a crash loses at most the
/// last fraction of a second of them. It also keeps the row locks of a busy
/// minute short, as every writer of a project updates the same rows.
static RECORD_STATS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH relaxed AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true)),
minutes AS (
{}
)
{}",
        MINUTELY.upsert(1),
        HOURLY.upsert(9)
    )
});

static READ_MINUTELY: LazyLock<String> = LazyLock::new(|| MINUTELY.read());
static READ_HOURLY: LazyLock<String> = LazyLock::new(|| HOURLY.read());

/// The rows of one grain as the columns the upsert takes.
struct RowColumns {
    project_ids: Vec<Uuid>,
    endpoint_ids: Vec<Uuid>,
    starts: Vec<OffsetDateTime>,
    events: Vec<i64>,
    succeeded: Vec<i64>,
    failed: Vec<i64>,
    attempts: Vec<i64>,
    /// Every row's histogram, one after the other.
    histograms: Vec<i64>,
}

impl From<&Rows> for RowColumns {
    fn from(rows: &Rows) -> Self {
        let len = rows.len();
        let mut columns = Self {
            project_ids: Vec::with_capacity(len),
            endpoint_ids: Vec::with_capacity(len),
            starts: Vec::with_capacity(len),
            events: Vec::with_capacity(len),
            succeeded: Vec::with_capacity(len),
            failed: Vec::with_capacity(len),
            attempts: Vec::with_capacity(len),
            histograms: Vec::with_capacity(len * HISTOGRAM_LEN),
        };
        for ((project_id, endpoint_id, start), counters) in rows {
            columns.project_ids.push(*project_id);
            columns.endpoint_ids.push(*endpoint_id);
            columns.starts.push(from_unix(*start));
            columns.events.push(counters.events);
            columns.succeeded.push(counters.succeeded);
            columns.failed.push(counters.failed);
            columns.attempts.push(counters.attempts);
            columns
                .histograms
                .extend_from_slice(counters.latency.counts());
        }
        columns
    }
}

impl Store {
    /// Adds the counts of `delta` to the stored minute and hour rows, in one
    /// statement.
    #[tracing::instrument(level = "debug", skip_all, fields(rows = delta.rows.len()))]
    pub async fn record_stats(&self, delta: &StatsDelta) -> Result<(), StoreError> {
        if delta.is_empty() {
            return Ok(());
        }
        let minutes = RowColumns::from(&delta.rows);
        let hours = RowColumns::from(&delta.hourly());
        let histogram_len = HISTOGRAM_LEN as i64;
        let (client, statement) = self.prepared(&RECORD_STATS).await?;
        client
            .execute(
                &statement,
                &[
                    &minutes.project_ids,
                    &minutes.endpoint_ids,
                    &minutes.starts,
                    &minutes.events,
                    &minutes.succeeded,
                    &minutes.failed,
                    &minutes.attempts,
                    &minutes.histograms,
                    &hours.project_ids,
                    &hours.endpoint_ids,
                    &hours.starts,
                    &hours.events,
                    &hours.succeeded,
                    &hours.failed,
                    &hours.attempts,
                    &hours.histograms,
                    &histogram_len,
                ],
            )
            .await?;
        Ok(())
    }

    /// Returns the series `query` asks for: one point per bucket from the
    /// start of the bucket holding `since` to the end of the bucket holding
    /// the instant before `until`, buckets without data zero-filled. Minute
    /// buckets read the minute rows, hour and day buckets the hour rows.
    #[tracing::instrument(level = "debug", skip_all, fields(project_id = %query.project_id, bucket = query.bucket.as_str()))]
    pub async fn stats(&self, query: &StatsQuery) -> Result<Vec<StatsPoint>, StoreError> {
        let since = query.bucket.floor(query.since);
        let until = query.bucket.ceil(query.until);
        let width = query.bucket.seconds();
        let endpoint_id = query.endpoint_id.map_or(Uuid::nil(), |id| id.uuid());
        let sql: &str = match query.bucket {
            StatsBucket::Minute => &READ_MINUTELY,
            StatsBucket::Hour | StatsBucket::Day => &READ_HOURLY,
        };
        let (client, statement) = self.prepared(sql).await?;
        let rows = client
            .query(
                &statement,
                &[
                    &query.project_id.uuid(),
                    &endpoint_id,
                    &since,
                    &width,
                    &until,
                    &Uuid::nil(),
                ],
            )
            .await?;
        let mut series: Vec<StatsPoint> = (0..query.bucket.count(since, until))
            .map(|index| StatsPoint {
                start: since + time::Duration::seconds(index * width),
                events: 0,
                succeeded: 0,
                failed: 0,
                attempts: 0,
                latency: LatencyHistogram::default(),
            })
            .collect();
        for row in rows {
            let start: OffsetDateTime = row.get("bucket");
            let index = (start - since).whole_seconds().div_euclid(width);
            let Some(point) = usize::try_from(index)
                .ok()
                .and_then(|index| series.get_mut(index))
            else {
                continue;
            };
            point.events = row.get("events");
            point.succeeded = row.get("succeeded");
            point.failed = row.get("failed");
            point.attempts = row.get("attempts");
            point.latency = LatencyHistogram::from_counts(&row.get::<_, Vec<i64>>("histogram"));
        }
        Ok(series)
    }
}

/// Deltas waiting for a [`StatsWriter`] at most.
const STATS_QUEUE: usize = 1024;

/// Collects statistics deltas from anywhere in a service and writes them,
/// merged, with one statement at most every `pace`: the counters are per
/// minute, so writing them per group commit or per delivery batch only cost
/// PostgreSQL a statement each time. Senders never wait; when the queue is
/// full (PostgreSQL is slow) a delta is dropped, never the events or
/// deliveries it counts.
#[derive(Clone)]
pub struct StatsWriter {
    deltas: tokio::sync::mpsc::Sender<StatsDelta>,
}

impl StatsWriter {
    /// Starts the writer; it returns once every clone of the writer is
    /// dropped and what they sent is written.
    pub fn start(store: Store, pace: std::time::Duration) -> (Self, impl Future<Output = ()>) {
        let (deltas, receiver) = tokio::sync::mpsc::channel(STATS_QUEUE);
        (Self { deltas }, write_paced(store, receiver, pace))
    }

    /// Queues a delta; false when it had to be dropped.
    pub fn record(&self, delta: StatsDelta) -> bool {
        delta.is_empty() || self.deltas.try_send(delta).is_ok()
    }
}

async fn write_paced(
    store: Store,
    mut receiver: tokio::sync::mpsc::Receiver<StatsDelta>,
    pace: std::time::Duration,
) {
    let mut batch = Vec::new();
    while receiver.recv_many(&mut batch, STATS_QUEUE).await > 0 {
        let mut stats = StatsDelta::default();
        for delta in batch.drain(..) {
            stats.merge(delta);
        }
        if let Err(error) = store.record_stats(&stats).await {
            tracing::warn!(error = ?error, "could not record statistics");
        }
        if !receiver.is_closed() {
            tokio::time::sleep(pace).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn buckets_align_on_utc_boundaries() {
        let at = datetime!(2026-11-27 14:37:12.5 UTC);
        assert_eq!(
            StatsBucket::Minute.floor(at),
            datetime!(2026-11-27 14:37 UTC)
        );
        assert_eq!(StatsBucket::Hour.floor(at), datetime!(2026-11-27 14:00 UTC));
        assert_eq!(StatsBucket::Day.floor(at), datetime!(2026-11-27 0:00 UTC));
        assert_eq!(StatsBucket::Hour.ceil(at), datetime!(2026-11-27 15:00 UTC));
        let boundary = datetime!(2026-11-27 15:00 UTC);
        assert_eq!(StatsBucket::Hour.ceil(boundary), boundary);
        // Another offset names the same instant.
        let elsewhere = datetime!(2026-11-27 16:37:12 +02:00);
        assert_eq!(
            StatsBucket::Hour.floor(elsewhere),
            datetime!(2026-11-27 14:00 UTC)
        );
    }

    #[test]
    fn a_range_counts_every_bucket_it_touches() {
        let since = datetime!(2026-11-27 14:30 UTC);
        assert_eq!(
            StatsBucket::Hour.count(since, since + time::Duration::hours(24)),
            25
        );
        let aligned = datetime!(2026-11-27 14:00 UTC);
        assert_eq!(
            StatsBucket::Hour.count(aligned, aligned + time::Duration::hours(24)),
            24
        );
        assert_eq!(StatsBucket::Minute.count(aligned, aligned), 0);
        assert_eq!(
            StatsBucket::Day.count(aligned, aligned - time::Duration::days(1)),
            0
        );
    }

    #[test]
    fn durations_land_in_the_first_bucket_that_holds_them() {
        let mut histogram = LatencyHistogram::default();
        for millis in [0, 1, 2, 3, 999, 1_000, 1_001, 60_000, 60_001, 3_600_000] {
            histogram.record(Duration::from_millis(millis));
        }
        histogram.record(Duration::from_micros(1_001));
        let mut expected = [0i64; HISTOGRAM_LEN];
        expected[0] = 2; // 0, 1 ms
        expected[1] = 2; // 2 ms, 1.001 ms
        expected[2] = 1; // 3 ms
        expected[9] = 2; // 999, 1000 ms
        expected[10] = 1; // 1001 ms
        expected[14] = 1; // 60 s
        expected[15] = 2; // overflow
        assert_eq!(histogram.counts(), expected);
        assert_eq!(histogram.total(), 11);
    }

    #[test]
    fn percentiles_report_the_upper_bound_of_their_bucket() {
        let mut histogram = LatencyHistogram::default();
        for _ in 0..90 {
            histogram.record(Duration::from_millis(4));
        }
        for _ in 0..9 {
            histogram.record(Duration::from_millis(150));
        }
        histogram.record(Duration::from_secs(120));
        assert_eq!(histogram.percentile(50.0), Some(5));
        assert_eq!(histogram.percentile(90.0), Some(5));
        assert_eq!(histogram.percentile(91.0), Some(200));
        assert_eq!(histogram.percentile(99.0), Some(200));
        assert_eq!(histogram.percentile(100.0), Some(60_000));
        assert_eq!(LatencyHistogram::default().percentile(50.0), None);
    }

    #[test]
    fn stored_histograms_of_another_length_still_read() {
        let short = LatencyHistogram::from_counts(&[1, 2]);
        assert_eq!(short.total(), 3);
        let long = LatencyHistogram::from_counts(&[1; HISTOGRAM_LEN + 2]);
        assert_eq!(long.counts()[HISTOGRAM_LEN - 1], 3);
        let mut merged = short.clone();
        merged.merge(&long);
        assert_eq!(merged.total(), 3 + HISTOGRAM_LEN as i64 + 2);
    }

    #[test]
    fn merged_deltas_add_up_row_by_row() {
        let project = ProjectId::new();
        let at = datetime!(2026-11-27 14:05 UTC);
        let mut first = StatsDelta::default();
        first.add_events(project, at, 2);
        let mut second = StatsDelta::default();
        second.add_events(project, at, 3);
        second.add_events(project, at + time::Duration::minutes(1), 1);
        first.merge(second);
        let minute = at.unix_timestamp();
        assert_eq!(first.rows[&(project.uuid(), Uuid::nil(), minute)].events, 5);
        assert_eq!(first.rows.len(), 2);
    }

    #[test]
    fn minute_rows_fold_into_their_hour() {
        let project = ProjectId::new();
        let mut delta = StatsDelta::default();
        delta.add_events(project, datetime!(2026-11-27 14:05 UTC), 2);
        delta.add_events(project, datetime!(2026-11-27 14:59:59 UTC), 3);
        delta.add_events(project, datetime!(2026-11-27 15:00 UTC), 4);
        let hours = delta.hourly();
        let hour = |at: OffsetDateTime| &hours[&(project.uuid(), Uuid::nil(), at.unix_timestamp())];
        assert_eq!(hour(datetime!(2026-11-27 14:00 UTC)).events, 5);
        assert_eq!(hour(datetime!(2026-11-27 15:00 UTC)).events, 4);
        assert_eq!(hours.len(), 2);
    }

    #[test]
    fn deliveries_count_for_their_endpoint_and_their_project() {
        let project = ProjectId::new();
        let endpoint = EndpointId::new();
        let at = datetime!(2026-11-27 14:37:12 UTC);
        let mut delta = StatsDelta::default();
        delta.add_events(project, at, 3);
        delta.add_delivery(project, endpoint, at, DeliveryStatus::Succeeded);
        delta.add_delivery(project, endpoint, at, DeliveryStatus::Pending);
        delta.add_delivery(
            project,
            endpoint,
            at + time::Duration::minutes(1),
            DeliveryStatus::Failed,
        );
        delta.add_attempt(project, endpoint, at, Duration::from_millis(7));

        let minute = datetime!(2026-11-27 14:37 UTC).unix_timestamp();
        let project_row = &delta.rows[&(project.uuid(), Uuid::nil(), minute)];
        let endpoint_row = &delta.rows[&(project.uuid(), endpoint.uuid(), minute)];
        assert_eq!(
            (
                project_row.events,
                project_row.succeeded,
                project_row.attempts
            ),
            (3, 1, 1)
        );
        assert_eq!(
            (
                endpoint_row.events,
                endpoint_row.succeeded,
                endpoint_row.attempts
            ),
            (0, 1, 1)
        );
        assert_eq!(endpoint_row.latency.percentile(50.0), Some(10));
        let next = &delta.rows[&(project.uuid(), endpoint.uuid(), minute + 60)];
        assert_eq!(next.failed, 1);
        assert_eq!(delta.rows.len(), 4);
    }
}
