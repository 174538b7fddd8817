//! The `e2e` and `fanout` workloads: events go through the whole pipeline, from the
//! gateway's `POST /v1/events` to webhooks at the benchmark's own receiver, and each is
//! followed from its 202 to its deliveries.
//!
//! A run starts the [`Receiver`], creates a project, key and `endpoints` endpoints
//! pointing at it ([`crate::provision`]), sends events like the `ingest` workload (open
//! or closed loop through [`runner::drive`]) recording each 202 by event id, then waits up
//! to `--drain` for the deliveries still outstanding. `e2e` is the case of one endpoint;
//! `fanout` sends every event to several and also reports when the last of an event's
//! deliveries arrived. The gateway, a dispatcher and the database must be up already.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use eventflow_domain::EventId;
use reqwest::header::HeaderValue;
use reqwest::{Client, Url};
use serde::{Deserialize, Serialize};

use crate::args::RunArgs;
use crate::correlate::{Window, correlate};
use crate::delivery_report::{DeliveryReport, DeliverySummary, Drain};
use crate::http::{bearer_authorization, build_client, endpoint_url, exchange, post_json};
use crate::ingest::{
    EventBody, classify_batch_answer, classify_event_status, events_path, warn_if_body_too_large,
};
use crate::progress::{LiveCounters, ProgressPrinter, Tick};
use crate::provision::{DatabaseArgs, provision};
use crate::receiver::Receiver;
use crate::report::Report;
use crate::runner::{self, Outcome, RunResult, StopSignal, Timeline, Workload};
use crate::stats::{ErrorKind, per_second};
use crate::tracking::{DeliveryTracker, wait_for_deliveries};
use eventflow_domain::parse_duration;

/// What `e2e --help` and `fanout --help` say about the services a run needs.
pub const SETUP_HELP: &str = "\
Setup: the gateway must be running at --url, and a dispatcher must run against the same \
database and Redis key prefix (EVENTFLOW_REDIS_KEY_PREFIX) with \
EVENTFLOW_ENDPOINT_ALLOW_NETS=127.0.0.0/8, because the benchmark's webhook receiver listens \
on 127.0.0.1. The benchmark creates its own project (unthrottled), ingest API key and \
endpoints directly in PostgreSQL through --database-url (EVENTFLOW_DATABASE_URL), and pauses \
the endpoints when it ends.

The process fails when no event was accepted, or when an accepted event of the measured \
window did not reach every endpoint within --drain.";

/// Options shared by `e2e` and `fanout`.
#[derive(Debug, Clone, Args)]
pub struct DeliveryArgs {
    /// Base URL of the ingest gateway.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: Url,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Approximate size in bytes of each event's JSON body.
    #[arg(long, default_value_t = 1024)]
    pub payload_bytes: usize,

    /// After sending stops, wait this long at most for the deliveries still outstanding.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub drain: Duration,

    /// Send this many events per request to `/v1/events/batch` (2 to 1000); --rate then
    /// counts requests, so events/s is rate x batch.
    #[arg(long, value_parser = clap::value_parser!(u16).range(2..=1000))]
    pub batch: Option<u16>,

    #[command(flatten)]
    pub run: RunArgs,
}

/// Options of `eventflow-bench fanout`.
#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    /// Endpoints every event is delivered to (receiver paths /ep/0 .. /ep/<n-1>).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub endpoints: u16,

    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

/// Delivery settings shown in the report.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DeliverySettings {
    pub payload_bytes: usize,
    pub endpoints: usize,
    pub drain_s: f64,
}

impl fmt::Display for DeliverySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.endpoints == 1 { "" } else { "s" };
        write!(
            f,
            "payload {} B, {} endpoint{plural}, drain up to {} s",
            self.payload_bytes, self.endpoints, self.drain_s
        )
    }
}

/// Runs a delivery benchmark named `workload` with `endpoints` endpoints per event.
pub async fn run(
    args: DeliveryArgs,
    workload: &'static str,
    endpoints: usize,
) -> anyhow::Result<DeliveryReport> {
    let tracker = Arc::new(DeliveryTracker::new(endpoints));
    let receiver = Receiver::start(Arc::clone(&tracker))?;
    let urls: Vec<String> = (0..endpoints).map(|i| receiver.endpoint_url(i)).collect();
    let provisioned = provision(&args.database, workload, &urls).await?;
    eprintln!("{}", provisioned.describe());
    let sent = send_and_drain(&args, &provisioned.api_key, &tracker).await;
    let paused = provisioned.pause_endpoints().await;
    let rejected = receiver.rejected();
    receiver.stop().await;
    let sent = sent?;
    if let Err(error) = paused {
        eprintln!("warning: {error:#}");
    }
    Ok(build_report(&args, workload, &tracker, sent, rejected))
}

/// What sending and draining produced.
struct Sent {
    result: RunResult,
    timeline: Timeline,
    drain: Drain,
}

/// Sends events as `args.run` says while printing progress, then waits for the
/// outstanding deliveries.
async fn send_and_drain(
    args: &DeliveryArgs,
    api_key: &str,
    tracker: &Arc<DeliveryTracker>,
) -> anyhow::Result<Sent> {
    let workload = AckingWorkload::new(args, api_key, Arc::clone(tracker))?;
    warn_if_body_too_large(workload.body.event(100_000).len());
    let sent_counter = Arc::clone(&workload.sent);
    let plan = args.run.load_plan();
    let stop = StopSignal::raised_by_ctrl_c();
    let timeline = Timeline::starting_now(&plan);
    let live = Arc::new(LiveCounters::default());
    let progress = start_progress(
        timeline,
        sent_counter,
        Arc::clone(&live),
        Arc::clone(tracker),
    );
    let sent = async {
        let result = runner::drive(workload, plan, timeline, stop.clone(), live).await?;
        let drain = drain_deliveries(tracker, args.drain).await;
        Ok(Sent {
            result,
            timeline,
            drain,
        })
    }
    .await;
    progress.stop().await;
    sent
}

/// Waits up to `timeout` for every acknowledged event to reach every endpoint. A Ctrl-C
/// that stopped sending does not cut this wait short (a second one quits), so the report
/// of an interrupted run still tells delivered from lost.
async fn drain_deliveries(tracker: &DeliveryTracker, timeout: Duration) -> Drain {
    let started = Instant::now();
    let never = StopSignal::default();
    let end = wait_for_deliveries(tracker, started + timeout, &never).await;
    Drain {
        end,
        took: started.elapsed(),
    }
}

/// Prints, every second: requests sent/s, first deliveries/s, deliveries outstanding and
/// failed events.
fn start_progress(
    timeline: Timeline,
    sent: Arc<AtomicU64>,
    live: Arc<LiveCounters>,
    tracker: Arc<DeliveryTracker>,
) -> ProgressPrinter {
    let mut previous = (0, 0);
    ProgressPrinter::start_with(timeline.start, move |tick: Tick| {
        let counts = tracker.counts();
        let current = (sent.load(Ordering::Relaxed), counts.delivered);
        let line = progress_line(
            tick,
            timeline,
            ProgressRates {
                sent_per_sec: per_second(current.0.saturating_sub(previous.0), tick.interval()),
                delivered_per_sec: per_second(
                    current.1.saturating_sub(previous.1),
                    tick.interval(),
                ),
                outstanding: counts.outstanding(tracker.endpoints()),
                errors: live.snapshot().errors,
            },
        );
        previous = current;
        line
    })
}

/// What one progress line shows besides the time.
#[derive(Debug, Clone, Copy)]
struct ProgressRates {
    sent_per_sec: f64,
    delivered_per_sec: f64,
    outstanding: u64,
    errors: u64,
}

/// Formats the progress line: elapsed time, phase of the second just ended, sent/s,
/// delivered/s, deliveries outstanding and failed events.
fn progress_line(tick: Tick, timeline: Timeline, rates: ProgressRates) -> String {
    format!(
        "{:>6.1}s  {:<9}  {:>8.0} sent/s  {:>8.0} delivered/s  outstanding {}  errors {}",
        tick.now
            .saturating_duration_since(timeline.start)
            .as_secs_f64(),
        timeline.phase_at(tick.previous_at),
        rates.sent_per_sec,
        rates.delivered_per_sec,
        rates.outstanding,
        rates.errors,
    )
}

/// Builds the report from the send results and the tracker's records.
fn build_report(
    args: &DeliveryArgs,
    workload: &'static str,
    tracker: &DeliveryTracker,
    sent: Sent,
    rejected: u64,
) -> DeliveryReport {
    let window = Window {
        from: sent.timeline.measure_from,
        to: sent.timeline.measure_from + sent.result.measured,
    };
    let correlation = correlate(&tracker.take_records(), window);
    let settings = DeliverySettings {
        payload_bytes: args.payload_bytes,
        endpoints: tracker.endpoints(),
        drain_s: args.drain.as_secs_f64(),
    };
    let plan = args.run.load_plan();
    DeliveryReport {
        sending: Report::new(workload, &plan, settings, sent.result),
        delivery: DeliverySummary::new(correlation, window, sent.drain, rejected),
    }
}

/// Posts single events and records the acknowledgement of each in the tracker.
struct AckingWorkload {
    client: Client,
    endpoint: Url,
    authorization: HeaderValue,
    body: EventBody,
    tracker: Arc<DeliveryTracker>,
    /// Events per request, when posting batches.
    batch: Option<u16>,
    /// Events sent, warm-up included.
    sent: Arc<AtomicU64>,
}

impl AckingWorkload {
    /// Prepares the client, endpoint, credentials and body template.
    fn new(
        args: &DeliveryArgs,
        api_key: &str,
        tracker: Arc<DeliveryTracker>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            client: build_client(args.run.concurrency as usize, args.run.timeout)?,
            endpoint: endpoint_url(&args.url, events_path(args.batch))?,
            authorization: bearer_authorization(api_key)?,
            body: EventBody::sized(args.payload_bytes),
            tracker,
            batch: args.batch,
            sent: Arc::default(),
        })
    }

    /// Returns a POST of one request body to the workload's endpoint.
    fn post(&self, body: String) -> reqwest::RequestBuilder {
        post_json(&self.client, &self.endpoint, &self.authorization, body)
    }

    /// Posts `count` events in one batch request and records the accepted ones.
    async fn execute_batch(&self, count: u64, measured: bool) -> Outcome {
        let first_seq = self.sent.fetch_add(count, Ordering::Relaxed);
        let request = self.post(self.body.batch(first_seq, count));
        exchange(request, count, |status, answered_at, answer| {
            self.tracker
                .record_batch_acks(answer, answered_at, measured);
            classify_batch_answer(status, answer, count)
        })
        .await
    }

    /// Records the event of a 202 answer as acknowledged at `answered_at`.
    fn record_ack(&self, body: &[u8], answered_at: Instant, measured: bool) -> Outcome {
        match accepted_event_id(body) {
            Some(id) => {
                self.tracker.record_ack(id, answered_at, measured);
                Outcome::accepted(1)
            }
            None => Outcome::failed(ErrorKind::InvalidResponse, 1),
        }
    }
}

impl Workload for AckingWorkload {
    async fn execute(&self, measured: bool) -> Outcome {
        if let Some(batch) = self.batch {
            return self.execute_batch(u64::from(batch), measured).await;
        }
        let seq = self.sent.fetch_add(1, Ordering::Relaxed);
        exchange(
            self.post(self.body.event(seq)),
            1,
            |status, answered_at, body| {
                let outcome = classify_event_status(status);
                if !outcome.succeeded {
                    return outcome;
                }
                self.record_ack(body, answered_at, measured)
            },
        )
        .await
    }
}

/// The part of a 202 answer the benchmark reads.
#[derive(Debug, Deserialize)]
struct AcceptedEvent {
    id: EventId,
}

/// Returns the event id of a 202 answer, if the body holds one.
fn accepted_event_id(body: &[u8]) -> Option<EventId> {
    serde_json::from_slice::<AcceptedEvent>(body)
        .ok()
        .map(|accepted| accepted.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_id_is_read_from_the_202_answer() {
        let id = EventId::new();
        let body =
            format!(r#"{{"id":"{id}","received_at":"2026-01-01T00:00:00Z","duplicate":false}}"#);
        assert_eq!(accepted_event_id(body.as_bytes()), Some(id));
        assert_eq!(accepted_event_id(br#"{"id":"not-an-id"}"#), None);
        assert_eq!(accepted_event_id(b"oops"), None);
    }

    #[test]
    fn progress_line_shows_rates_and_what_is_outstanding() {
        let plan = runner::LoadPlan {
            concurrency: 1,
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            rate: Some(500.0),
        };
        let timeline = Timeline::starting_now(&plan);
        let tick = Tick {
            previous_at: timeline.start + Duration::from_secs(3),
            now: timeline.start + Duration::from_millis(4010),
        };
        let line = progress_line(
            tick,
            timeline,
            ProgressRates {
                sent_per_sec: 500.2,
                delivered_per_sec: 498.0,
                outstanding: 12,
                errors: 0,
            },
        );
        assert_eq!(
            line,
            "   4.0s  measuring       500 sent/s       498 delivered/s  outstanding 12  errors 0"
        );
    }

    #[test]
    fn settings_name_the_endpoints_and_the_drain() {
        let settings = DeliverySettings {
            payload_bytes: 1024,
            endpoints: 1,
            drain_s: 10.0,
        };
        assert_eq!(
            settings.to_string(),
            "payload 1024 B, 1 endpoint, drain up to 10 s"
        );
        let fanout = DeliverySettings {
            endpoints: 10,
            ..settings
        };
        assert!(fanout.to_string().contains("10 endpoints"));
    }
}
