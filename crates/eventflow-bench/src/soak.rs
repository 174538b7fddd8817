//! The `soak` workload: a steady rate of events for a long time through the gateway and
//! a dispatcher to one healthy endpoint (the benchmark's receiver) and some failing ones
//! (one answering 404, the others refusing connections), reporting every
//! `--sample-every` how the system holds up over time:
//!
//! - events sent, accepted and failed in the interval;
//! - the p50/p99 latency from 202 to webhook of the healthy endpoint's deliveries that
//!   arrived in the interval;
//! - the backlog: acknowledged events not yet at the healthy endpoint, and the
//!   deliveries still `pending` in PostgreSQL (the failing endpoints' retries);
//! - the resident memory (VmRSS) of each process named with `--pid name=PID`.
//!
//! At the end it waits up to `--drain` for the healthy endpoint's last deliveries and
//! prints the totals. It fails when an accepted event never reached the healthy endpoint.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use eventflow_domain::{EndpointId, EventId};
use reqwest::Url;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::http::{bearer_authorization, build_client, endpoint_url};
use crate::provision::{DatabaseArgs, provision};
use crate::receiver::Receiver;
use crate::runner::StopSignal;
use crate::stats::{millis, percentile};
use crate::tracking::{DeliveryTracker, WaitEnd, wait_for_deliveries};
use eventflow_domain::parse_duration;

/// Requests in flight at most: a slow gateway slows the pace instead of piling up.
const MAX_IN_FLIGHT: usize = 512;
/// The healthy endpoint's number at the receiver.
const HEALTHY: usize = 0;

/// Options of `eventflow-bench soak`.
#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    /// Base URL of the ingest gateway.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: Url,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Events per second, sent one per request at fixed intervals.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,

    /// How long to send, e.g. 10m.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub duration: Duration,

    /// Endpoints beside the healthy one that fail every delivery (the first answers
    /// 404, the others refuse connections); each event goes to all of them.
    #[arg(long, default_value_t = 2)]
    pub failing_endpoints: usize,

    /// How often to print a line of figures.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub sample_every: Duration,

    /// A process whose resident memory to report, as name=PID (repeatable).
    #[arg(long = "pid", value_parser = parse_named_pid)]
    pub pids: Vec<(String, u32)>,

    /// After sending stops, wait this long at most for the healthy endpoint's deliveries.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub drain: Duration,
}

/// What a soak run ends with.
#[derive(Debug)]
pub struct SoakOutcome {
    /// Accepted events that never reached the healthy endpoint.
    pub lost: u64,
    pub accepted: u64,
}

/// Counters the sender updates and the sampler reads.
#[derive(Debug, Default)]
struct SendCounters {
    sent: AtomicU64,
    accepted: AtomicU64,
    failed: AtomicU64,
}

/// Runs the soak and prints its figures as it goes; returns what it ends with.
pub async fn run(args: SoakArgs) -> anyhow::Result<SoakOutcome> {
    let tracker = Arc::new(DeliveryTracker::new(1));
    let receiver = Receiver::start(Arc::clone(&tracker))?;
    let urls = endpoint_urls(&receiver, args.failing_endpoints)?;
    let provisioned = provision(&args.database, "soak", &urls).await?;
    eprintln!("{}", provisioned.describe());
    let backlog = BacklogProbe::connect(&args.database, &provisioned.endpoint_ids).await?;

    let counters = Arc::new(SendCounters::default());
    let started = Instant::now();
    let sender = tokio::spawn(send_steadily(
        args.clone(),
        provisioned.api_key.clone(),
        Arc::clone(&tracker),
        Arc::clone(&counters),
    ));
    println!("{}", Sample::header(&args.pids));
    let mut previous = (started, SendTotals::default());
    let mut ticks = tokio::time::interval_at(
        tokio::time::Instant::now() + args.sample_every,
        args.sample_every,
    );
    while !sender.is_finished() {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
        }
        previous = print_sample(&tracker, &counters, &backlog, &args, started, previous).await;
    }
    sender.await.context("the sender stopped")??;
    print_sample(&tracker, &counters, &backlog, &args, started, previous).await;

    let stop = StopSignal::default();
    let end = wait_for_deliveries(&tracker, Instant::now() + args.drain, &stop).await;
    let counts = tracker.counts();
    let lost = tracker.outstanding();
    let totals = SendTotals::read(&counters);
    let all = tracker.latencies_arrived_between(HEALTHY, started, Instant::now());
    let (p50, p99) = quantiles(all);
    println!(
        "soak done after {:.0} s: sent {}, accepted {}, failed {}; healthy endpoint: \
         delivered {}, duplicates {}, not delivered {lost} ({}); 202-to-webhook p50 {p50} p99 {p99}",
        started.elapsed().as_secs_f64(),
        totals.sent,
        totals.accepted,
        totals.failed,
        counts.delivered,
        counts.duplicates,
        match end {
            WaitEnd::AllDelivered => "all delivered",
            WaitEnd::TimedOut => "drain timed out",
            WaitEnd::Interrupted => "interrupted",
        },
    );
    println!("{}", backlog.describe().await);
    provisioned.pause_endpoints().await?;
    receiver.stop().await;
    Ok(SoakOutcome {
        lost,
        accepted: totals.accepted,
    })
}

/// The healthy endpoint first, then the failing ones: a path of the receiver no
/// endpoint number matches (404), then loopback ports nothing listens on.
fn endpoint_urls(receiver: &Receiver, failing: usize) -> anyhow::Result<Vec<String>> {
    let mut urls = vec![receiver.endpoint_url(HEALTHY)];
    for n in 0..failing {
        if n == 0 {
            urls.push(receiver.endpoint_url(404));
        } else {
            let closed = std::net::TcpListener::bind("127.0.0.1:0")
                .context("finding a closed port")?
                .local_addr()?;
            urls.push(format!("http://{closed}/refused"));
        }
    }
    Ok(urls)
}

/// Posts one event per tick of `1 / rate` for `duration`, recording each 202.
async fn send_steadily(
    args: SoakArgs,
    api_key: String,
    tracker: Arc<DeliveryTracker>,
    counters: Arc<SendCounters>,
) -> anyhow::Result<()> {
    let client = build_client(MAX_IN_FLIGHT, Duration::from_secs(30))?;
    let events_url = endpoint_url(&args.url, "v1/events")?;
    let authorization = bearer_authorization(&api_key)?;
    let open = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let until = Instant::now() + args.duration;
    let mut n: u64 = 0;
    while Instant::now() < until {
        ticks.tick().await;
        let slot = Arc::clone(&open).acquire_owned().await?;
        let (client, url, authorization) =
            (client.clone(), events_url.clone(), authorization.clone());
        let (tracker, counters) = (Arc::clone(&tracker), Arc::clone(&counters));
        counters.sent.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let body = json!({"type": "soak.event", "payload": {"n": n}});
            let answer = client
                .post(url)
                .header(reqwest::header::AUTHORIZATION, authorization)
                .json(&body)
                .send()
                .await;
            let acknowledged = match answer {
                Ok(response) if response.status() == 202 => {
                    let at = Instant::now();
                    response
                        .json::<serde_json::Value>()
                        .await
                        .ok()
                        .and_then(|body| EventId::parse(body["id"].as_str()?).ok())
                        .map(|id| tracker.record_ack(id, at, true))
                }
                _ => None,
            };
            let counter = match acknowledged {
                Some(()) => &counters.accepted,
                None => &counters.failed,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            drop(slot);
        });
        n += 1;
    }
    // Every request finished once all the slots are free again.
    let _ = open.acquire_many(MAX_IN_FLIGHT as u32).await?;
    Ok(())
}

#[derive(Debug, Default, Clone, Copy)]
struct SendTotals {
    sent: u64,
    accepted: u64,
    failed: u64,
}

impl SendTotals {
    fn read(counters: &SendCounters) -> Self {
        Self {
            sent: counters.sent.load(Ordering::Relaxed),
            accepted: counters.accepted.load(Ordering::Relaxed),
            failed: counters.failed.load(Ordering::Relaxed),
        }
    }
}

/// One line of figures.
struct Sample;

impl Sample {
    fn header(pids: &[(String, u32)]) -> String {
        let mut header =
            "elapsed  sent/s  accepted/s  failed  p50_ms  p99_ms  undelivered  pending_db"
                .to_owned();
        for (name, _) in pids {
            let _ = write!(header, "  {name}_rss_mb");
        }
        header
    }
}

/// Prints the figures of the interval since `previous` and returns the new mark.
async fn print_sample(
    tracker: &DeliveryTracker,
    counters: &SendCounters,
    backlog: &BacklogProbe,
    args: &SoakArgs,
    started: Instant,
    previous: (Instant, SendTotals),
) -> (Instant, SendTotals) {
    let now = Instant::now();
    let totals = SendTotals::read(counters);
    let (since, before) = previous;
    let seconds = now
        .saturating_duration_since(since)
        .as_secs_f64()
        .max(0.001);
    let (p50, p99) = quantiles(tracker.latencies_arrived_between(HEALTHY, since, now));
    let pending = backlog
        .pending()
        .await
        .map_or_else(|error| format!("? ({error})"), |n| n.to_string());
    let mut line = format!(
        "{:>6.0}s  {:>6.0}  {:>10.0}  {:>6}  {p50:>6}  {p99:>6}  {:>11}  {pending:>10}",
        now.saturating_duration_since(started).as_secs_f64(),
        (totals.sent - before.sent) as f64 / seconds,
        (totals.accepted - before.accepted) as f64 / seconds,
        totals.failed - before.failed,
        tracker.outstanding(),
    );
    for (name, pid) in &args.pids {
        let rss = rss_mib(*pid).map_or_else(|| "gone".to_owned(), |mib| format!("{mib:.0}"));
        let _ = write!(line, "  {rss:>width$}", width = name.len() + 7);
    }
    println!("{line}");
    (now, totals)
}

/// The p50 and p99 of `latencies` in milliseconds, `-` when there are none.
fn quantiles(mut latencies: Vec<Duration>) -> (String, String) {
    latencies.sort_unstable();
    let show = |percent| {
        percentile(&latencies, percent)
            .map_or_else(|| "-".to_owned(), |d| format!("{:.1}", millis(d)))
    };
    (show(50.0), show(99.0))
}

/// The resident memory of process `pid` in MiB (VmRSS of /proc/PID/status), if it runs.
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Parses `name=PID`.
fn parse_named_pid(text: &str) -> Result<(String, u32), String> {
    let (name, pid) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not name=PID"))?;
    let pid = pid
        .trim()
        .parse()
        .map_err(|_| format!("`{pid}` is not a process id"))?;
    if name.trim().is_empty() {
        return Err(format!("`{text}` has no name before ="));
    }
    Ok((name.trim().to_owned(), pid))
}

/// Counts the run's deliveries still pending in PostgreSQL.
struct BacklogProbe {
    client: tokio_postgres::Client,
    endpoints: String,
}

impl BacklogProbe {
    async fn connect(database: &DatabaseArgs, endpoints: &[EndpointId]) -> anyhow::Result<Self> {
        let client = crate::sql::connect(&database.database_url).await?;
        let endpoints = endpoints
            .iter()
            .map(|id| format!("'{}'", id.uuid()))
            .collect::<Vec<_>>()
            .join(",");
        Ok(Self { client, endpoints })
    }

    async fn pending(&self) -> anyhow::Result<i64> {
        let row = self
            .client
            .query_one(
                &format!(
                    "SELECT count(*) FROM deliveries WHERE status = 'pending' AND endpoint_id IN ({})",
                    self.endpoints
                ),
                &[],
            )
            .await?;
        Ok(row.get(0))
    }

    /// The run's deliveries by status at the end.
    async fn describe(&self) -> String {
        let query = format!(
            "SELECT status::text, count(*) FROM deliveries WHERE endpoint_id IN ({}) GROUP BY 1 ORDER BY 1",
            self.endpoints
        );
        match self.client.query(&query, &[]).await {
            Ok(rows) => {
                let parts: Vec<String> = rows
                    .iter()
                    .map(|row| format!("{} {}", row.get::<_, String>(0), row.get::<_, i64>(1)))
                    .collect();
                format!("deliveries of the run by status: {}", parts.join(", "))
            }
            Err(error) => format!("deliveries of the run by status: unknown ({error})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_pid_is_name_equals_number() {
        assert_eq!(
            parse_named_pid("gateway=42"),
            Ok(("gateway".to_owned(), 42))
        );
        assert!(parse_named_pid("gateway").is_err());
        assert!(parse_named_pid("=42").is_err());
        assert!(parse_named_pid("gateway=x").is_err());
    }

    #[test]
    fn this_process_has_a_resident_size() {
        assert!(rss_mib(std::process::id()).is_some_and(|mib| mib > 0.0));
    }
}
