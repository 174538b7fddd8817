//! The `drain` workload: how fast a dispatcher alone works off a backlog.
//!
//! With the dispatcher stopped, the benchmark stores `--events` events through the
//! gateway's `POST /v1/events/batch` (100 per request, `--concurrency` requests in
//! flight), then asks on stderr for the dispatcher to be started and waits until every
//! accepted event reached its receiver. Deliveries per second run from the first delivery
//! to the last, so the time the operator takes to start the dispatcher does not count.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use reqwest::header::HeaderValue;
use reqwest::{Client, Url};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::correlate::{Correlation, Window, correlate};
use crate::http::{bearer_authorization, build_client, endpoint_url, exchange, post_json};
use crate::ingest::{EventBody, classify_batch_answer, warn_if_body_too_large};
use crate::progress::{ProgressPrinter, Tick};
use crate::provision::{DatabaseArgs, provision};
use crate::receiver::Receiver;
use crate::report::{PrintableReport, push_row, round_to};
use crate::runner::{Outcome, StopSignal};
use crate::stats::{ErrorCounts, per_second};
use crate::tracking::{DeliveryTracker, WaitEnd, wait_for_deliveries};
use eventflow_domain::parse_duration;

/// Events per batch request.
const BATCH_EVENTS: u64 = 100;

/// What `drain --help` says about the services a run needs.
pub const SETUP_HELP: &str = "\
Setup: the gateway must be running at --url and the dispatcher must be STOPPED while the \
backlog is inserted. When the benchmark prints \"backlog ready: start the dispatcher now\", \
start a dispatcher against the same database and Redis key prefix \
(EVENTFLOW_REDIS_KEY_PREFIX) with EVENTFLOW_ENDPOINT_ALLOW_NETS=127.0.0.0/8, because the \
benchmark's webhook receiver listens on 127.0.0.1. The benchmark creates its own project \
(unthrottled), ingest API key and endpoint directly in PostgreSQL through --database-url \
(EVENTFLOW_DATABASE_URL), and pauses the endpoint when it ends.

The process fails when no event was accepted or an accepted event was not delivered \
within --wait.";

/// Options of `eventflow-bench drain`.
#[derive(Debug, Clone, Args)]
pub struct DrainArgs {
    /// Base URL of the ingest gateway.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: Url,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Events in the backlog.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub events: u64,

    /// Approximate size in bytes of each event's JSON body.
    #[arg(long, default_value_t = 1024)]
    pub payload_bytes: usize,

    /// Batch requests in flight while inserting the backlog.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub concurrency: u32,

    /// Give up on a batch request after this long.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Once the backlog is ready, wait this long at most for its last delivery.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub wait: Duration,

    /// Print the report as one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the drain benchmark and returns its report.
pub async fn run(args: DrainArgs) -> anyhow::Result<DrainReport> {
    let tracker = Arc::new(DeliveryTracker::new(1));
    let receiver = Receiver::start(Arc::clone(&tracker))?;
    let provisioned = provision(&args.database, "drain", &[receiver.endpoint_url(0)]).await?;
    eprintln!("{}", provisioned.describe());
    let backlog = insert_and_wait(&args, &provisioned.api_key, &tracker).await;
    let paused = provisioned.pause_endpoints().await;
    let rejected = receiver.rejected();
    receiver.stop().await;
    let backlog = backlog?;
    if let Err(error) = paused {
        eprintln!("warning: {error:#}");
    }
    let window = Window {
        from: backlog.ready_at,
        to: Instant::now(),
    };
    let correlation = correlate(&tracker.take_records(), window);
    Ok(DrainReport::new(&args, &backlog, &correlation, rejected))
}

/// What inserting the backlog and waiting for its deliveries produced.
struct Backlog {
    insertion: Insertion,
    /// Deliveries that arrived before the backlog was ready: the dispatcher was running.
    early_deliveries: u64,
    ready_at: Instant,
    wait_end: WaitEnd,
    waited: Duration,
}

/// Inserts the backlog, announces it, and waits for its deliveries.
async fn insert_and_wait(
    args: &DrainArgs,
    api_key: &str,
    tracker: &Arc<DeliveryTracker>,
) -> anyhow::Result<Backlog> {
    let stop = StopSignal::raised_by_ctrl_c();
    let insertion = insert_backlog(args, api_key, tracker, &stop).await?;
    let early_deliveries = tracker.counts().delivered;
    announce_ready(early_deliveries);
    let ready_at = Instant::now();
    let progress = start_wait_progress(ready_at, Arc::clone(tracker));
    let wait_end = wait_for_deliveries(tracker, ready_at + args.wait, &stop).await;
    progress.stop().await;
    Ok(Backlog {
        insertion,
        early_deliveries,
        ready_at,
        wait_end,
        waited: ready_at.elapsed(),
    })
}

/// Tells the operator to start the dispatcher, warning when it already delivered.
fn announce_ready(early_deliveries: u64) {
    if early_deliveries > 0 {
        eprintln!(
            "warning: {early_deliveries} deliveries arrived while the backlog was being \
             inserted: a dispatcher is running, so this is not a measurement of draining a \
             backlog"
        );
    }
    eprintln!("backlog ready: start the dispatcher now");
}

/// Events accepted and refused while inserting the backlog.
#[derive(Debug, Default)]
struct Insertion {
    accepted: u64,
    errors: ErrorCounts,
    took: Duration,
}

impl Insertion {
    /// Adds the outcome of one batch request.
    fn add(&mut self, outcome: Outcome) {
        self.accepted += outcome.accepted;
        for (kind, count) in outcome.errors {
            self.errors.add(kind, count);
        }
    }

    /// Adds what another worker inserted.
    fn merge(&mut self, other: Insertion) {
        self.accepted += other.accepted;
        self.errors.merge(&other.errors);
    }
}

/// Stores `args.events` events in batches, `args.concurrency` requests at a time, while
/// printing progress.
async fn insert_backlog(
    args: &DrainArgs,
    api_key: &str,
    tracker: &Arc<DeliveryTracker>,
    stop: &StopSignal,
) -> anyhow::Result<Insertion> {
    let inserter = Arc::new(BatchInserter::new(args, api_key, Arc::clone(tracker))?);
    warn_if_body_too_large(inserter.body.batch(100_000, BATCH_EVENTS).len());
    let remaining = Arc::new(AtomicU64::new(args.events));
    let started = Instant::now();
    let progress = start_insert_progress(started, Arc::clone(tracker), args.events);
    let mut workers = JoinSet::new();
    for _ in 0..args.concurrency {
        workers.spawn(insert_batches(
            Arc::clone(&inserter),
            Arc::clone(&remaining),
            stop.clone(),
        ));
    }
    let mut insertion = Insertion::default();
    while let Some(joined) = workers.join_next().await {
        insertion.merge(joined.context("an insert worker failed")?);
    }
    progress.stop().await;
    insertion.took = started.elapsed();
    Ok(insertion)
}

/// Sends batches until none remain or the run is stopped.
async fn insert_batches(
    inserter: Arc<BatchInserter>,
    remaining: Arc<AtomicU64>,
    stop: StopSignal,
) -> Insertion {
    let mut insertion = Insertion::default();
    while !stop.is_raised() {
        let Some(count) = take_batch(&remaining) else {
            break;
        };
        insertion.add(inserter.send_batch(count).await);
    }
    insertion
}

/// Takes up to [`BATCH_EVENTS`] events off `remaining`; `None` when none remain.
fn take_batch(remaining: &AtomicU64) -> Option<u64> {
    remaining
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            (left > 0).then(|| left - left.min(BATCH_EVENTS))
        })
        .ok()
        .map(|left| left.min(BATCH_EVENTS))
}

/// Posts batches of events and records every accepted one in the tracker.
struct BatchInserter {
    client: Client,
    endpoint: Url,
    authorization: HeaderValue,
    body: EventBody,
    tracker: Arc<DeliveryTracker>,
    next_seq: AtomicU64,
}

impl BatchInserter {
    /// Prepares the client, endpoint, credentials and body template.
    fn new(args: &DrainArgs, api_key: &str, tracker: Arc<DeliveryTracker>) -> anyhow::Result<Self> {
        Ok(Self {
            client: build_client(args.concurrency as usize, args.timeout)?,
            endpoint: endpoint_url(&args.url, "v1/events/batch")?,
            authorization: bearer_authorization(api_key)?,
            body: EventBody::sized(args.payload_bytes),
            tracker,
            next_seq: AtomicU64::new(0),
        })
    }

    /// Posts one batch of `count` events.
    async fn send_batch(&self, count: u64) -> Outcome {
        let first_seq = self.next_seq.fetch_add(count, Ordering::Relaxed);
        let body = self.body.batch(first_seq, count);
        let request = post_json(&self.client, &self.endpoint, &self.authorization, body);
        exchange(request, count, |status, answered_at, answer| {
            self.tracker.record_batch_acks(answer, answered_at, true);
            classify_batch_answer(status, answer, count)
        })
        .await
    }
}

/// Prints, every second while inserting: events accepted/s and how many so far.
fn start_insert_progress(
    started: Instant,
    tracker: Arc<DeliveryTracker>,
    events: u64,
) -> ProgressPrinter {
    let mut previous = 0;
    ProgressPrinter::start_with(started, move |tick: Tick| {
        let acked = tracker.counts().acked;
        let rate = per_second(acked.saturating_sub(previous), tick.interval());
        previous = acked;
        format!(
            "{:>6.1}s  inserting  {rate:>8.0} events/s  accepted {acked} of {events}",
            tick.now.saturating_duration_since(started).as_secs_f64()
        )
    })
}

/// Prints, every second while waiting: deliveries/s, delivered and outstanding.
fn start_wait_progress(ready_at: Instant, tracker: Arc<DeliveryTracker>) -> ProgressPrinter {
    let mut previous = tracker.counts().delivered;
    ProgressPrinter::start_with(ready_at, move |tick: Tick| {
        let counts = tracker.counts();
        let rate = per_second(counts.delivered.saturating_sub(previous), tick.interval());
        previous = counts.delivered;
        wait_progress_line(
            tick.now.saturating_duration_since(ready_at),
            rate,
            counts.delivered,
            counts.outstanding(tracker.endpoints()),
        )
    })
}

/// Formats the progress line while waiting for the backlog's deliveries.
fn wait_progress_line(
    elapsed: Duration,
    delivered_per_sec: f64,
    delivered: u64,
    outstanding: u64,
) -> String {
    let phase = if delivered == 0 {
        "waiting"
    } else {
        "draining"
    };
    format!(
        "{:>6.1}s  {phase:<9}  {delivered_per_sec:>8.0} delivered/s  delivered {delivered}  \
         outstanding {outstanding}",
        elapsed.as_secs_f64()
    )
}

/// What a drain run measured.
#[derive(Debug, Clone, Serialize)]
pub struct DrainReport {
    pub workload: &'static str,
    /// Events the backlog was meant to hold.
    pub events: u64,
    pub payload_bytes: usize,
    pub concurrency: u32,
    /// Events the gateway accepted into the backlog.
    pub accepted: u64,
    /// Events not accepted, by cause.
    pub errors: ErrorCounts,
    pub insert_s: f64,
    pub insert_events_per_sec: f64,
    /// Deliveries that arrived while inserting (the dispatcher was not stopped).
    pub early_deliveries: u64,
    /// Accepted events delivered.
    pub delivered: u64,
    /// Deliveries per second from the first delivery to the last.
    pub deliveries_per_sec: f64,
    /// From the backlog being ready to the first delivery, in seconds.
    pub first_delivery_after_s: Option<f64>,
    /// From the first delivery to the last, in seconds.
    pub delivering_s: Option<f64>,
    pub undelivered_events: u64,
    pub duplicates: u64,
    pub unacknowledged_deliveries: u64,
    pub rejected_requests: u64,
    /// `all_delivered`, `timed_out` or `interrupted`.
    pub wait_end: WaitEnd,
    pub waited_s: f64,
}

impl DrainReport {
    /// Builds the report of a run of `args`.
    fn new(args: &DrainArgs, backlog: &Backlog, correlation: &Correlation, rejected: u64) -> Self {
        let insertion = &backlog.insertion;
        let first_delivery_after = correlation
            .first_arrival
            .map(|first| first.saturating_duration_since(backlog.ready_at));
        let delivering = correlation
            .first_arrival
            .zip(correlation.last_arrival)
            .map(|(first, last)| last.saturating_duration_since(first));
        let all_deliveries = correlation.delivered + correlation.unacknowledged_deliveries;
        Self {
            workload: "drain",
            events: args.events,
            payload_bytes: args.payload_bytes,
            concurrency: args.concurrency,
            accepted: insertion.accepted,
            errors: insertion.errors.clone(),
            insert_s: round_to(insertion.took.as_secs_f64(), 3),
            insert_events_per_sec: round_to(per_second(insertion.accepted, insertion.took), 2),
            early_deliveries: backlog.early_deliveries,
            delivered: correlation.delivered,
            deliveries_per_sec: round_to(
                per_second(all_deliveries, delivering.unwrap_or_default()),
                2,
            ),
            first_delivery_after_s: first_delivery_after.map(|d| round_to(d.as_secs_f64(), 3)),
            delivering_s: delivering.map(|d| round_to(d.as_secs_f64(), 3)),
            undelivered_events: correlation.undelivered_events,
            duplicates: correlation.duplicates,
            unacknowledged_deliveries: correlation.unacknowledged_deliveries,
            rejected_requests: rejected,
            wait_end: backlog.wait_end,
            waited_s: round_to(backlog.waited.as_secs_f64(), 3),
        }
    }

    /// Tells whether every accepted event was delivered.
    pub fn is_complete(&self) -> bool {
        self.undelivered_events == 0
    }
}

impl PrintableReport for DrainReport {
    fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }

    fn to_text(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            text,
            "drain: {} events in batches of {BATCH_EVENTS}, payload {} B, {} requests in flight\n",
            self.events, self.payload_bytes, self.concurrency
        );
        push_row(&mut text, "backlog", self.describe_backlog());
        push_row(
            &mut text,
            "errors",
            crate::report::describe_errors(&self.errors),
        );
        push_row(&mut text, "delivered", self.describe_delivered());
        push_row(&mut text, "rate", self.describe_rate());
        push_row(&mut text, "undelivered", self.describe_undelivered());
        push_row(
            &mut text,
            "duplicates",
            format!(
                "{} (and {} deliveries of events never acknowledged, {} requests rejected)",
                self.duplicates, self.unacknowledged_deliveries, self.rejected_requests
            ),
        );
        if self.early_deliveries > 0 {
            let _ = writeln!(
                text,
                "\nwarning: {} deliveries arrived while the backlog was being inserted; stop \
                 the dispatcher before the run",
                self.early_deliveries
            );
        }
        text
    }
}

impl DrainReport {
    /// Formats how many events were accepted into the backlog and how fast.
    fn describe_backlog(&self) -> String {
        format!(
            "{} of {} events accepted in {:.2} s ({:.2} events/s)",
            self.accepted, self.events, self.insert_s, self.insert_events_per_sec
        )
    }

    /// Formats how many accepted events were delivered and when delivery started.
    fn describe_delivered(&self) -> String {
        match self.first_delivery_after_s {
            Some(after) => format!(
                "{} of {} (first delivery {after:.2} s after the backlog was ready)",
                self.delivered, self.accepted
            ),
            None => format!("{} of {}", self.delivered, self.accepted),
        }
    }

    /// Formats the deliveries per second from the first delivery to the last.
    fn describe_rate(&self) -> String {
        match self.delivering_s {
            Some(span) => format!(
                "{:.2} deliveries/s from the first delivery to the last ({span:.2} s)",
                self.deliveries_per_sec
            ),
            None => "no delivery arrived".to_owned(),
        }
    }

    /// Formats the events never delivered and how the wait ended.
    fn describe_undelivered(&self) -> String {
        let end = match self.wait_end {
            WaitEnd::AllDelivered => "everything delivered",
            WaitEnd::TimedOut => "timed out",
            WaitEnd::Interrupted => "interrupted",
        };
        format!(
            "{} events ({end} after waiting {:.2} s)",
            self.undelivered_events, self.waited_s
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_take_at_most_one_hundred_events_until_none_remain() {
        let remaining = AtomicU64::new(250);
        let batches: Vec<u64> = std::iter::from_fn(|| take_batch(&remaining)).collect();
        assert_eq!(batches, vec![100, 100, 50]);
        assert_eq!(remaining.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn insertions_merge_their_errors() {
        let mut total = Insertion::default();
        let mut worker = Insertion::default();
        worker.add(Outcome::accepted(100));
        worker.add(Outcome::failed(crate::stats::ErrorKind::Status(503), 100));
        worker.add(Outcome::failed(crate::stats::ErrorKind::Timeout, 100));
        total.merge(worker);
        assert_eq!(total.accepted, 100);
        assert_eq!(total.errors.total, 200);
        assert_eq!(total.errors.status.get(&503), Some(&100));
        assert_eq!(total.errors.timeout, 100);
    }

    #[test]
    fn the_wait_progress_line_says_whether_delivery_started() {
        assert_eq!(
            wait_progress_line(Duration::from_secs(2), 0.0, 0, 1000),
            "   2.0s  waiting           0 delivered/s  delivered 0  outstanding 1000"
        );
        assert!(wait_progress_line(Duration::from_secs(3), 500.0, 500, 500).contains("draining"));
    }
}
