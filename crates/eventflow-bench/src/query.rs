//! The `query` workload: how fast the query API answers the dashboard's reads over a
//! large project while events keep arriving.
//!
//! It seeds (once) a project of `--seed` events with deliveries, attempts and statistics
//! (see [`seed`]), then runs `--readers` closed-loop readers against the query API, each
//! cycling through the reads a dashboard makes: the newest events
//! (`/v1/events?limit=50`), a search (`type=order.*` since one hour before the run), an
//! event's detail (`/v1/events/{id}` of a random seeded event, twice as often as the
//! others), and the last 24 hours of hourly statistics (`/v1/stats?bucket=hour`). With
//! `--ingest-url`, single events are posted to the gateway at `--ingest-rate` per second
//! (open loop) for the whole run, so reads compete with ingest as they would in
//! production. The report gives each kind of read its requests, rate, latency
//! percentiles and errors, next to its p99 target.

mod seed;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Client, Url};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::http::{bearer_authorization, build_client, endpoint_url, exchange, post_json};
use crate::ingest::classify_event_status;
use crate::progress::{LiveCounters, ProgressPrinter};
use crate::provision::DatabaseArgs;
use crate::report::{
    PrintableReport, describe_errors, describe_latency, describe_window, push_row, round_to,
};
use crate::runner::{self, LoadPlan, Outcome, RunResult, StopSignal, Timeline, Workload};
use crate::schedule::ScheduleReport;
use crate::stats::{ErrorCounts, ErrorKind, LatencyRecorder, LatencySummary, per_second};
use eventflow_domain::parse_duration;

/// Most live-ingest requests in flight.
const INGEST_IN_FLIGHT: usize = 64;

/// Options of `eventflow-bench query`.
#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Base URL of the query API.
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    pub query_url: Url,

    /// Events the project must hold; seeded once, topped up when it holds fewer.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub seed: u64,

    /// Concurrent closed-loop readers.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub readers: u32,

    /// Length of the measured window (after the warm-up), e.g. 30s, 2m.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Time spent reading (and ingesting) before measuring.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// Base URL of the ingest gateway; events are posted during the run when given.
    #[arg(long)]
    pub ingest_url: Option<Url>,

    /// Events per second posted to --ingest-url (single-event requests, open loop).
    #[arg(long, default_value_t = 1000.0)]
    pub ingest_rate: f64,

    /// Give up on a request after this long (counted as a timeout error).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Print the report as one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The kinds of reads, each with its own latency target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadKind {
    List,
    Search,
    Detail,
    Stats,
}

impl ReadKind {
    const ALL: [Self; 4] = [Self::List, Self::Search, Self::Detail, Self::Stats];

    fn name(self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Search => "search",
            Self::Detail => "detail",
            Self::Stats => "stats",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::List => 0,
            Self::Search => 1,
            Self::Detail => 2,
            Self::Stats => 3,
        }
    }

    /// The p99 the target asks for, in milliseconds.
    fn target_p99_ms(self) -> f64 {
        match self {
            Self::List | Self::Search => 50.0,
            Self::Detail => 10.0,
            Self::Stats => 100.0,
        }
    }
}

/// The order each reader cycles through; readers start at different places in it.
const MIX: [ReadKind; 5] = [
    ReadKind::List,
    ReadKind::Detail,
    ReadKind::Search,
    ReadKind::Detail,
    ReadKind::Stats,
];

/// Runs the query benchmark and returns its report.
pub async fn run(args: QueryArgs) -> anyhow::Result<QueryReport> {
    if !(args.ingest_rate.is_finite() && args.ingest_rate > 0.0) {
        anyhow::bail!("--ingest-rate must be a number of events per second above zero");
    }
    if args.duration.is_zero() {
        anyhow::bail!("--duration must be longer than zero");
    }
    let project = seed::seed(&args.database.database_url, args.seed).await?;
    if project.event_ids.is_empty() {
        anyhow::bail!("the project holds no event to read");
    }
    let readers = Readers::new(&args, &project)?;
    let ingest = match &args.ingest_url {
        Some(url) => Some(LiveIngest::new(url, &project.ingest_key, args.timeout)?),
        None => None,
    };
    // Answers the first requests of a fresh process (auth cache, connections) before the
    // clock starts.
    readers.check_each_kind().await?;

    let plan = LoadPlan {
        concurrency: INGEST_IN_FLIGHT,
        warmup: args.warmup,
        duration: args.duration,
        rate: Some(args.ingest_rate),
    };
    let timeline = Timeline::starting_now(&plan);
    let stop = StopSignal::raised_by_ctrl_c();
    let reads_live = Arc::new(LiveCounters::default());
    let ingest_live = Arc::new(LiveCounters::default());
    let progress = start_progress(timeline, Arc::clone(&reads_live), Arc::clone(&ingest_live));
    let ingesting = async {
        match ingest {
            Some(workload) => Some(
                runner::drive(
                    workload,
                    plan,
                    timeline,
                    stop.clone(),
                    Arc::clone(&ingest_live),
                )
                .await,
            ),
            None => None,
        }
    };
    let reading = run_readers(
        Arc::new(readers),
        args.readers as usize,
        timeline,
        stop.clone(),
        Arc::clone(&reads_live),
    );
    let (ingested, tallies) = tokio::join!(ingesting, reading);
    progress.stop().await;
    let tallies = tallies?;
    let ingested = ingested.transpose()?;
    let measured = if stop.is_raised() {
        Instant::now()
            .min(timeline.end)
            .saturating_duration_since(timeline.measure_from)
    } else {
        args.duration
    };
    Ok(QueryReport::new(
        &args,
        &project,
        tallies,
        ingested,
        measured,
        stop.is_raised(),
    ))
}

/// Prints reads/s and ingested events/s once a second.
fn start_progress(
    timeline: Timeline,
    reads: Arc<LiveCounters>,
    ingest: Arc<LiveCounters>,
) -> ProgressPrinter {
    let (mut previous_reads, mut previous_ingest) = (reads.snapshot(), ingest.snapshot());
    ProgressPrinter::start_with(timeline.start, move |tick| {
        let (now_reads, now_ingest) = (reads.snapshot(), ingest.snapshot());
        let reads_per_sec = per_second(
            now_reads.accepted.saturating_sub(previous_reads.accepted),
            tick.interval(),
        );
        let ingest_per_sec = per_second(
            now_ingest.accepted.saturating_sub(previous_ingest.accepted),
            tick.interval(),
        );
        (previous_reads, previous_ingest) = (now_reads, now_ingest);
        format!(
            "{:>6.1}s  {:<9}  {reads_per_sec:>7.0} reads/s  {ingest_per_sec:>6.0} events/s  \
             read errors {}  ingest errors {}",
            tick.now
                .saturating_duration_since(timeline.start)
                .as_secs_f64(),
            timeline.phase_at(tick.previous_at),
            now_reads.errors,
            now_ingest.errors,
        )
    })
}

/// What the readers send, prepared once.
struct Readers {
    client: Client,
    authorization: HeaderValue,
    list_url: Url,
    search_url: Url,
    stats_url: Url,
    events_base: Url,
    event_ids: Vec<String>,
}

impl Readers {
    fn new(args: &QueryArgs, project: &seed::SeededProject) -> anyhow::Result<Self> {
        let search_since = search_since()?;
        Ok(Self {
            client: build_client(args.readers as usize, args.timeout)?,
            authorization: bearer_authorization(&project.read_key)?,
            list_url: endpoint_url(&args.query_url, "v1/events?limit=50")?,
            search_url: endpoint_url(
                &args.query_url,
                &format!("v1/events?type=order.*&since={search_since}"),
            )?,
            stats_url: endpoint_url(&args.query_url, "v1/stats?bucket=hour")?,
            events_base: endpoint_url(&args.query_url, "v1/events/")?,
            event_ids: project.event_ids.clone(),
        })
    }

    /// Sends one read of each kind and fails unless each answers 200.
    async fn check_each_kind(&self) -> anyhow::Result<()> {
        for kind in ReadKind::ALL {
            let url = self.url(kind, 0)?;
            let response = self
                .client
                .get(url.clone())
                .header(AUTHORIZATION, self.authorization.clone())
                .send()
                .await
                .with_context(|| format!("reading {url}"))?;
            let status = response.status();
            if !status.is_success() {
                let body = response.text().await.unwrap_or_default();
                anyhow::bail!("{url} answered {status}: {body}");
            }
        }
        Ok(())
    }

    /// Returns the URL of a read of `kind`; `pick` chooses the event of a detail read.
    fn url(&self, kind: ReadKind, pick: u64) -> anyhow::Result<Url> {
        Ok(match kind {
            ReadKind::List => self.list_url.clone(),
            ReadKind::Search => self.search_url.clone(),
            ReadKind::Stats => self.stats_url.clone(),
            ReadKind::Detail => {
                let index = usize::try_from(pick % self.event_ids.len() as u64).unwrap_or(0);
                let id = self.event_ids.get(index).context("no event id to read")?;
                self.events_base.join(id).context("building an event URL")?
            }
        })
    }

    /// Sends one read and returns what became of it.
    async fn read(&self, kind: ReadKind, pick: u64) -> Outcome {
        let Ok(url) = self.url(kind, pick) else {
            return Outcome::failed(ErrorKind::InvalidResponse, 1);
        };
        let request = self
            .client
            .get(url)
            .header(AUTHORIZATION, self.authorization.clone());
        exchange(request, 1, |status, _, _| match status {
            200 => Outcome::accepted(1),
            _ => Outcome::failed(ErrorKind::Status(status), 1),
        })
        .await
    }
}

/// `since` of the search reads: one hour before now, RFC 3339 in UTC.
fn search_since() -> anyhow::Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the clock is before 1970")?;
    Ok(rfc3339_utc(now.as_secs().saturating_sub(3600)))
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (the civil-from-days algorithm).
fn rfc3339_utc(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let seconds_of_day = unix_seconds % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60
    )
}

/// What one kind of read measured.
#[derive(Debug, Default)]
struct KindTally {
    /// Latencies of the successful reads.
    latencies: Vec<Duration>,
    requests: u64,
    failed: u64,
    errors: ErrorCounts,
}

impl KindTally {
    fn add(&mut self, outcome: Outcome, latency: Duration) {
        self.requests += 1;
        if outcome.succeeded {
            self.latencies.push(latency);
        } else {
            self.failed += 1;
        }
        for (kind, count) in outcome.errors {
            self.errors.add(kind, count);
        }
    }

    fn merge(&mut self, other: KindTally) {
        self.requests += other.requests;
        self.failed += other.failed;
        self.errors.merge(&other.errors);
        self.latencies.extend(other.latencies);
    }

    /// Percentiles of the successful reads; `None` when there was none.
    fn summarize(&self) -> Option<LatencySummary> {
        let mut recorder = LatencyRecorder::default();
        for latency in &self.latencies {
            recorder.record(*latency);
        }
        recorder.summarize()
    }
}

/// One tally per [`ReadKind`], in [`ReadKind::ALL`] order.
type Tallies = [KindTally; 4];

/// Runs `count` readers until the end of `timeline` (or a stop) and merges their tallies.
async fn run_readers(
    readers: Arc<Readers>,
    count: usize,
    timeline: Timeline,
    stop: StopSignal,
    live: Arc<LiveCounters>,
) -> anyhow::Result<Tallies> {
    let picks = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for reader in 0..count {
        tasks.spawn(read_until_end(
            Arc::clone(&readers),
            reader,
            timeline,
            stop.clone(),
            Arc::clone(&live),
            Arc::clone(&picks),
        ));
    }
    let mut total: Tallies = Default::default();
    while let Some(joined) = tasks.join_next().await {
        let tallies = joined.context("a reader failed")?;
        for (sum, tally) in total.iter_mut().zip(tallies) {
            sum.merge(tally);
        }
    }
    Ok(total)
}

/// Sends reads back to back, cycling through [`MIX`], until the run ends.
async fn read_until_end(
    readers: Arc<Readers>,
    reader: usize,
    timeline: Timeline,
    stop: StopSignal,
    live: Arc<LiveCounters>,
    picks: Arc<AtomicU64>,
) -> Tallies {
    let mut tallies: Tallies = Default::default();
    for step in reader.. {
        let started = Instant::now();
        if started >= timeline.end || stop.is_raised() {
            break;
        }
        let kind = MIX[step % MIX.len()];
        // Spreads detail reads over the sampled ids without a random generator.
        let pick = scramble(picks.fetch_add(1, Ordering::Relaxed));
        let outcome = readers.read(kind, pick).await;
        let latency = started.elapsed();
        live.add(outcome.accepted, outcome.error_count());
        if timeline.is_measured(started) {
            tallies[kind.index()].add(outcome, latency);
        }
    }
    tallies
}

/// SplitMix64's finalizer: consecutive inputs map to well-spread outputs.
fn scramble(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Posts single `order.*` events to the gateway.
struct LiveIngest {
    client: Client,
    url: Url,
    authorization: HeaderValue,
    next: AtomicU64,
}

impl LiveIngest {
    fn new(base: &Url, key: &str, timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            client: build_client(INGEST_IN_FLIGHT, timeout)?,
            url: endpoint_url(base, "v1/events")?,
            authorization: bearer_authorization(key)?,
            next: AtomicU64::new(0),
        })
    }
}

impl Workload for LiveIngest {
    async fn execute(&self, _measured: bool) -> Outcome {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let event_type = ["order.created", "order.paid", "order.shipped"][(n % 3) as usize];
        let body = format!(
            r#"{{"type":"{event_type}","payload":{{"order_id":{n},"amount_cents":{},"currency":"EUR","note":"posted by eventflow-bench query"}}}}"#,
            n * 7919 % 100_000
        );
        let request = post_json(&self.client, &self.url, &self.authorization, body);
        exchange(request, 1, |status, _, _| classify_event_status(status)).await
    }
}

/// What one kind of read measured, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct KindReport {
    pub kind: &'static str,
    pub requests: u64,
    pub requests_per_sec: f64,
    pub failed_requests: u64,
    pub errors: ErrorCounts,
    /// Latency of the successful reads; `None` when there was none.
    pub latency_ms: Option<LatencySummary>,
    pub target_p99_ms: f64,
    /// Whether the p99 is within the target (false without successful reads).
    pub meets_target: bool,
}

/// What the live ingest measured, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub target_rate: f64,
    pub events_per_sec: f64,
    pub accepted: u64,
    pub errors: ErrorCounts,
    pub latency_ms: Option<LatencySummary>,
    pub open_loop: Option<ScheduleReport>,
}

/// The report of a `query` run.
#[derive(Debug, Clone, Serialize)]
pub struct QueryReport {
    pub workload: &'static str,
    pub readers: u32,
    pub seed: u64,
    /// The seeded project (`prj_…`), named `bench-query`.
    pub project_id: String,
    /// Events in the project when the run started.
    pub project_events: i64,
    /// Events this run seeded (0 when the project was already seeded).
    pub seeded_events: u64,
    pub seeding_s: f64,
    /// Successful reads of every kind per measured second.
    pub reads_per_sec: f64,
    pub reads: Vec<KindReport>,
    /// `None` without --ingest-url.
    pub ingest: Option<IngestReport>,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub interrupted: bool,
}

impl QueryReport {
    fn new(
        args: &QueryArgs,
        project: &seed::SeededProject,
        tallies: Tallies,
        ingested: Option<RunResult>,
        measured: Duration,
        interrupted: bool,
    ) -> Self {
        let mut successes = 0;
        let reads = ReadKind::ALL
            .into_iter()
            .zip(tallies)
            .map(|(kind, tally)| {
                successes += tally.requests - tally.failed;
                let latency_ms = tally.summarize();
                KindReport {
                    kind: kind.name(),
                    requests: tally.requests,
                    requests_per_sec: round_to(per_second(tally.requests, measured), 2),
                    failed_requests: tally.failed,
                    errors: tally.errors,
                    latency_ms,
                    target_p99_ms: kind.target_p99_ms(),
                    meets_target: latency_ms.is_some_and(|l| l.p99 <= kind.target_p99_ms()),
                }
            })
            .collect();
        let ingest = ingested.map(|result| IngestReport {
            target_rate: args.ingest_rate,
            events_per_sec: round_to(per_second(result.measurement.accepted, result.measured), 2),
            accepted: result.measurement.accepted,
            errors: result.measurement.errors,
            latency_ms: result.measurement.latencies.summarize(),
            open_loop: result.schedule,
        });
        Self {
            workload: "query",
            readers: args.readers,
            seed: args.seed,
            project_id: project.project_id.to_string(),
            project_events: project.events,
            seeded_events: project.seeded,
            seeding_s: round_to(project.seeding_took.as_secs_f64(), 1),
            reads_per_sec: round_to(per_second(successes, measured), 2),
            reads,
            ingest,
            duration_s: round_to(measured.as_secs_f64(), 3),
            warmup_s: round_to(args.warmup.as_secs_f64(), 3),
            interrupted,
        }
    }

    /// Tells whether any read succeeded.
    pub fn any_read_succeeded(&self) -> bool {
        self.reads.iter().any(|kind| kind.latency_ms.is_some())
    }
}

impl PrintableReport for QueryReport {
    fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }

    fn to_text(&self) -> String {
        let seeding = if self.seeded_events > 0 {
            format!(
                "{} events seeded now in {:.1} s",
                self.seeded_events, self.seeding_s
            )
        } else {
            "already seeded".to_owned()
        };
        let ingest = match &self.ingest {
            Some(ingest) => format!("ingest at {} events/s", ingest.target_rate),
            None => "no ingest".to_owned(),
        };
        let mut text = format!(
            "query: {} closed-loop readers, project {} of {} events ({seeding}), {ingest}\n",
            self.readers, self.project_id, self.project_events
        );
        text.push_str(&describe_window(
            self.duration_s,
            self.warmup_s,
            self.interrupted,
        ));
        push_row(&mut text, "reads/s", format!("{:.2}", self.reads_per_sec));
        for kind in &self.reads {
            let verdict = if kind.meets_target { "met" } else { "MISSED" };
            push_row(
                &mut text,
                kind.kind,
                format!(
                    "{} requests ({:.1}/s)  latency ms {}  p99 target {} ms: {verdict}  errors {}",
                    kind.requests,
                    kind.requests_per_sec,
                    describe_latency(kind.latency_ms),
                    kind.target_p99_ms,
                    describe_errors(&kind.errors)
                ),
            );
        }
        if let Some(ingest) = &self.ingest {
            let mut line = format!(
                "{} events ({:.1}/s)  latency ms {}  errors {}",
                ingest.accepted,
                ingest.events_per_sec,
                describe_latency(ingest.latency_ms),
                describe_errors(&ingest.errors)
            );
            if let Some(schedule) = &ingest.open_loop
                && schedule.fell_behind()
            {
                let _ = write!(
                    line,
                    "  (generator fell behind: {} missed sends)",
                    schedule.missed_sends
                );
            }
            push_row(&mut text, "ingest", line);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_unix_seconds_in_utc() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_795_876_245), "2026-11-28T14:30:45Z");
    }

    #[test]
    fn the_mix_reads_details_twice_as_often_as_the_rest() {
        let count = |kind| MIX.iter().filter(|k| **k == kind).count();
        assert_eq!(count(ReadKind::Detail), 2);
        for kind in [ReadKind::List, ReadKind::Search, ReadKind::Stats] {
            assert_eq!(count(kind), 1);
        }
        for (index, kind) in ReadKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), index);
        }
    }

    #[test]
    fn scrambled_picks_spread_over_the_ids() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..1000 {
            seen.insert(scramble(n) % 100);
        }
        assert!(seen.len() > 90, "{}", seen.len());
    }
}
